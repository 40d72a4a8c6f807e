"""Riemannian stochastic gradient descent (Bonnabel, IEEE TAC 2013) with momentum."""

from __future__ import annotations

import torch
from torch.optim import Optimizer

from ._common import manifold_of

__all__ = ["RiemannianSGD"]


class RiemannianSGD(Optimizer):
    """SGD on manifolds: ``x <- R_x(-lr * m)``, momentum ``m`` transported along the step.

    For a ``ManifoldParameter`` on ``M``: ``g = egrad2rgrad(x, egrad + wd * x)``;
    ``m <- mu m + (1 - dampening) g`` (``m = g`` on the first step, as in
    ``torch.optim.SGD``); the direction is ``g + mu m`` (Nesterov) or ``m``;
    then ``(x, m) <- retr_transp(x, -lr * d, m)``.  Plain parameters follow
    ``torch.optim.SGD`` exactly.  ``stabilize=k`` re-projects manifold
    parameters (and momenta) onto the manifold every ``k`` steps.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, stabilize: int | None = None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, stabilize=stabilize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, mu, damp = group["lr"], group["momentum"], group["dampening"]
            wd, nesterov = group["weight_decay"], group["nesterov"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("RiemannianSGD does not support sparse gradients")
                state = self.state[p]
                state["step"] = state.get("step", 0) + 1
                manifold = manifold_of(p)
                grad = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                if manifold is not None:
                    grad = manifold.egrad2rgrad(p, grad)
                if mu != 0:
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        buf = state["momentum_buffer"] = grad.clone()
                    else:
                        buf.mul_(mu).add_(grad, alpha=1 - damp)
                    direction = grad.add(buf, alpha=mu) if nesterov else buf
                else:
                    direction = grad
                if manifold is None:
                    p.add_(direction, alpha=-lr)
                elif mu != 0:
                    new_p, new_buf = manifold.retr_transp(p, -lr * direction, buf)
                    p.copy_(new_p)
                    buf.copy_(new_buf)
                else:
                    p.copy_(manifold.retr(p, -lr * direction))
                k = group["stabilize"]
                if manifold is not None and k and state["step"] % k == 0:
                    p.copy_(manifold.projx(p))
                    if "momentum_buffer" in state:
                        state["momentum_buffer"].copy_(manifold.proju(p, state["momentum_buffer"]))
        return loss
