"""Muon: momentum orthogonalized by Newton-Schulz, unconstrained, on the Frobenius sphere or on Stiefel.

For a matrix parameter ``W`` ``(m, n)`` with gradient ``G``: ``B <- mu B + (1 - mu) G`` (the buffer is
an exponential average, as in ``torch.optim.Muon``), ``U = G + mu (B - G)`` with Nesterov or ``B``,
``O = orth(U)``, then

* ``constraint=None``: ``W <- (1 - lr lambda) W - lr_adj O`` (decoupled weight decay), bitwise the
  trajectory of ``torch.optim.Muon`` for the same settings with the default orthogonalizer;
* ``constraint="sphere"``: ``|W|_F = rho`` (``rho`` = the initial norm, or ``radius``).
  ``O_t = O - <O, W> W / rho^2`` (tangent projection), ``W <- rho normalize((1 - lr lambda) W - lr_adj O_t)``.
  Weight decay is radial, so the retraction removes it to first order: it only rescales the step
  by ``1 / (1 - lr lambda)``, an O(lr^2 lambda) change (HyperP: Microsoft, "Rethinking language model
  scaling under transferable hypersphere optimization", 2025);
* ``constraint="stiefel"``: ``W^T W = I`` (tall, ``m >= n``; wide uses ``W W^T = I``).
  ``O_t = O - W sym(W^T O)``, ``W <- polar((1 - lr lambda) W - lr_adj O_t)`` with
  `polar_newton_schulz` (converged, in ``W``'s dtype); weight decay is again
  removed by the polar retraction to first order.

``orthogonalizer`` is ``"newton_schulz"`` (Jordan's quintic, ``ns_steps`` steps in ``ns_dtype``),
``"turbo"`` (Turbo-Muon: AOL-preconditioned quintic, default 4 steps) or ``"polar"`` (the exact polar
factor by `polar_newton_schulz`). ``lr_adj = lr * sqrt(max(1, m / n))``
(``adjust_lr_fn="original"``) or ``0.2 lr sqrt(max(m, n))`` (``"match_rms_adamw"``), as in torch.
Cost per step: O(steps * min(m, n)^2 max(m, n)).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.optim import Optimizer

from ..linalg.newton_schulz import polar_newton_schulz
from ..linalg.orthogonalize import MUON_COEFFICIENTS, quintic_newton_schulz
from ..linalg.sym import sym

__all__ = ["Muon"]

_ORTHOGONALIZERS = ("newton_schulz", "turbo", "polar")
_CONSTRAINTS = (None, "sphere", "stiefel")


def _adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: torch.Size) -> float:
    a, b = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        return lr * math.sqrt(max(1.0, a / b))
    return lr * 0.2 * math.sqrt(max(a, b))


class Muon(Optimizer):
    """Muon for 2-D parameters (see module docstring); ``torch.optim.Muon``'s arguments plus
    ``orthogonalizer``, ``constraint``, ``radius`` and ``ns_dtype``. ``ns_steps=None`` means 5 (4 for
    ``"turbo"``)."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        weight_decay: float = 0.1,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_coefficients: tuple[float, float, float] = MUON_COEFFICIENTS,
        eps: float = 1e-7,
        ns_steps: int | None = None,
        adjust_lr_fn: str | None = None,
        orthogonalizer: str = "newton_schulz",
        constraint: str | None = None,
        radius: float | None = None,
        ns_dtype: torch.dtype | None = torch.bfloat16,
    ):
        if not lr >= 0:
            raise ValueError(f"lr must be >= 0, got {lr}")
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        if orthogonalizer not in _ORTHOGONALIZERS:
            raise ValueError(f"orthogonalizer must be one of {_ORTHOGONALIZERS}, got {orthogonalizer!r}")
        if constraint not in _CONSTRAINTS:
            raise ValueError(f"constraint must be one of {_CONSTRAINTS}, got {constraint!r}")
        if adjust_lr_fn not in (None, "original", "match_rms_adamw"):
            raise ValueError(f"adjust_lr_fn must be None, 'original' or 'match_rms_adamw', got {adjust_lr_fn!r}")
        if radius is not None and not radius > 0:
            raise ValueError(f"radius must be positive, got {radius}")
        if ns_steps is None:
            ns_steps = 4 if orthogonalizer == "turbo" else 5
        defaults = dict(
            lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
            ns_coefficients=tuple(ns_coefficients), eps=eps, ns_steps=ns_steps, adjust_lr_fn=adjust_lr_fn,
            orthogonalizer=orthogonalizer, constraint=constraint, radius=radius, ns_dtype=ns_dtype,
        )  # fmt: skip
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(f"Muon takes 2-D parameters only, got one of shape {tuple(p.shape)}; use AdamW for the rest")

    def _orthogonalize(self, u: Tensor, group: dict) -> Tensor:
        kind = group["orthogonalizer"]
        if kind == "polar":
            return polar_newton_schulz(u)
        return quintic_newton_schulz(
            u, group["ns_steps"], group["ns_coefficients"], group["eps"], group["ns_dtype"], precondition=kind == "turbo"
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd, mu, constraint = group["lr"], group["weight_decay"], group["momentum"], group["constraint"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
                    if constraint == "sphere":
                        state["radius"] = group["radius"] or float(torch.linalg.matrix_norm(p))
                buf = state["momentum_buffer"]
                buf.lerp_(grad, 1 - mu)
                update = grad.lerp(buf, mu) if group["nesterov"] else buf
                o = self._orthogonalize(update, group)
                step = _adjusted_lr(lr, group["adjust_lr_fn"], p.shape)
                if constraint is None:
                    p.mul_(1 - lr * wd)
                    p.add_(o, alpha=-step)
                elif constraint == "sphere":
                    rho = state["radius"]
                    o = o.to(p.dtype)
                    o = o - (o * p).sum() / (rho * rho) * p
                    w = p * (1 - lr * wd) - step * o
                    p.copy_(w * (rho / torch.linalg.matrix_norm(w)))
                else:
                    o = o.to(p.dtype)
                    tall = p.shape[0] >= p.shape[1]
                    w, ot = (p, o) if tall else (p.mT, o.mT)
                    ot = ot - w @ sym(w.mT @ ot)
                    new = polar_newton_schulz(w * (1 - lr * wd) - step * ot)
                    p.copy_(new if tall else new.mT)
        return loss
