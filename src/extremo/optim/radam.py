"""Riemannian Adam / AMSGrad (Becigneul and Ganea, "Riemannian adaptive optimization methods", ICLR 2019)."""

from __future__ import annotations

import math

import torch
from torch.optim import Optimizer

from ._common import manifold_of

__all__ = ["RiemannianAdam"]


class RiemannianAdam(Optimizer):
    """Adam on manifolds (Becigneul and Ganea 2019, Alg. 1; AMSGrad with ``amsgrad=True``).

    For a ``ManifoldParameter`` on ``M`` with ``g = egrad2rgrad(x, egrad + wd * x)``:
    ``m <- b1 m + (1 - b1) g``; ``v <- b2 v + (1 - b2) <g, g>_x`` with one ``v``
    per point and per product factor (``component_inner``), so adaptivity is
    across factors, not coordinates, and intrinsic;
    ``d = (m / (1 - b1^t)) / (sqrt(v_hat / (1 - b2^t)) + eps)`` with
    ``v_hat = v`` or ``max`` of all ``v`` (AMSGrad); ``(x, m) <- retr_transp(x, -lr d, m)``
    (momentum transported along the step).  Plain parameters follow
    ``torch.optim.Adam`` (L2 weight decay) exactly.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, stabilize: int | None = None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"Invalid betas: {betas}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, stabilize=stabilize)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, (b1, b2), eps = group["lr"], group["betas"], group["eps"]
            wd, amsgrad = group["weight_decay"], group["amsgrad"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("RiemannianAdam does not support sparse gradients")
                manifold = manifold_of(p)
                grad = p.grad if wd == 0 else p.grad.add(p, alpha=wd)
                if manifold is not None:
                    grad = manifold.egrad2rgrad(p, grad)
                    sq = manifold.component_inner(p, grad)
                else:
                    sq = p
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    state["exp_avg_sq"] = torch.zeros_like(sq)
                    if amsgrad:
                        state["max_exp_avg_sq"] = torch.zeros_like(sq)
                state["step"] += 1
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - b1)
                if manifold is None:
                    exp_avg_sq.mul_(b2).addcmul_(grad, grad, value=1 - b2)
                else:
                    exp_avg_sq.mul_(b2).add_(sq, alpha=1 - b2)
                if amsgrad:
                    torch.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    second = state["max_exp_avg_sq"]
                else:
                    second = exp_avg_sq
                bc1 = 1 - b1**t
                bc2_sqrt = math.sqrt(1 - b2**t)
                denom = (second.sqrt() / bc2_sqrt).add_(eps)
                step_size = lr / bc1
                if manifold is None:
                    p.addcdiv_(exp_avg, denom, value=-step_size)
                    continue
                new_p, new_m = manifold.retr_transp(p, (exp_avg / denom).mul_(-step_size), exp_avg)
                p.copy_(new_p)
                exp_avg.copy_(new_m)
                k = group["stabilize"]
                if k and t % k == 0:
                    p.copy_(manifold.projx(p))
                    exp_avg.copy_(manifold.proju(p, exp_avg))
        return loss
