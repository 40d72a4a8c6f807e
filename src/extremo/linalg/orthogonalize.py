"""Approximate orthogonalization for Muon-type updates: the quintic Newton-Schulz iteration and its
AOL-preconditioned (Turbo-Muon) variant.

``G = U S V^T -> U S' V^T`` with ``S'`` near ``I``: five steps of ``X <- a X + (b A + c A^2) X``,
``A = X X^T``, with Jordan's coefficients ``(a, b, c) = (3.4445, -4.7750, 2.0315)`` (K. Jordan,
"Muon: an optimizer for hidden layers", 2024; the iteration of ``torch.optim.Muon``). The start is
``X_0 = G / |G|_F`` (spectral norm <= 1). Turbo-Muon (Boissin, Massena, Mamalet and Serrurier,
arXiv:2512.04632, 2025) starts from the AOL rescaling ``X_0 = D G`` with
``D = diag(sum_j |G G^T|_ij)^{-1/2}`` (Prach and Lampert, "Almost-orthogonal layers", 2022: then
``|D G|_2 <= 1``), which lifts the small singular values far more than ``1 / |G|_F`` does, so four
steps reach the orthogonality of five; the Gram ``A_0 = D (G G^T) D`` is reused, so the
preconditioner costs O(m^2) on top of one Gram matrix. The converged polar factor is
`polar_newton_schulz`. Cost O(m^2 n) per step for ``m <= n``.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["MUON_COEFFICIENTS", "aol_rescale", "orthogonality_error", "quintic_newton_schulz"]

MUON_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def _addmm(bias: Tensor, x: Tensor, y: Tensor, beta: float, alpha: float = 1.0) -> Tensor:
    """``beta * bias + alpha * x @ y`` (``addmm`` for matrices, ``baddbmm`` for batches)."""
    if x.dim() == 2:
        return torch.addmm(bias, x, y, beta=beta, alpha=alpha)
    shape = x.shape[:-2]
    out = torch.baddbmm(
        bias.expand(*shape, *bias.shape[-2:]).reshape(-1, *bias.shape[-2:]),
        x.reshape(-1, *x.shape[-2:]),
        y.reshape(-1, *y.shape[-2:]),
        beta=beta,
        alpha=alpha,
    )
    return out.reshape(*shape, *out.shape[-2:])


def aol_rescale(x: Tensor, eps: float = 1e-7) -> tuple[Tensor, Tensor]:
    """AOL row rescaling ``(D X, D (X X^T) D)`` with ``D = diag(sum_j |X X^T|_ij)^{-1/2}``; ``(..., m, n)``."""
    gram = x @ x.mT
    d = gram.abs().sum(-1).clamp_min(eps).rsqrt()
    return x * d[..., :, None], gram * d[..., :, None] * d[..., None, :]


def quintic_newton_schulz(
    g: Tensor,
    steps: int = 5,
    coefficients: tuple[float, float, float] = MUON_COEFFICIENTS,
    eps: float = 1e-7,
    dtype: torch.dtype | None = torch.bfloat16,
    precondition: bool = False,
) -> Tensor:
    """``U S' V^T`` of ``G = U S V^T`` ``(..., m, n)`` by ``steps`` quintic Newton-Schulz steps.

    Works on the wide orientation (``m <= n``, transposing a tall ``G``), in ``dtype`` (``None``:
    ``G``'s own); ``precondition=True`` starts from `aol_rescale` (Turbo-Muon) instead of
    ``G / max(|G|_F, eps)``. With the defaults and a matrix ``G`` the operations are those of
    ``torch.optim.Muon``, so the result is bitwise the same. Returns ``dtype``.
    """
    if g.dim() < 2:
        raise ValueError(f"quintic_newton_schulz needs (..., m, n) matrices, got shape {tuple(g.shape)}")
    if not 0 <= steps < 100:
        raise ValueError(f"steps must be in [0, 100), got {steps}")
    if len(coefficients) != 3:
        raise ValueError(f"coefficients must be three floats (a, b, c), got {coefficients!r}")
    a, b, c = coefficients
    x = g.to(dtype) if dtype is not None else g.clone()
    tall = g.shape[-2] > g.shape[-1]
    if tall:
        x = x.mT
    if precondition:
        x, gram = aol_rescale(x, eps)
    else:
        x = x.div(torch.linalg.matrix_norm(x, keepdim=True).clamp(min=eps)) if x.dim() > 2 else x.div_(x.norm().clamp(min=eps))
        gram = None
    for _ in range(steps):
        if gram is None:
            gram = x @ x.mT
        update = _addmm(gram, gram, gram, beta=b, alpha=c)
        x = _addmm(x, update, x, beta=a)
        gram = None
    return x.mT if tall else x


def orthogonality_error(x: Tensor) -> Tensor:
    """``|X X^T - I|_F / sqrt(m)`` for wide ``(..., m, n)`` (``X^T X`` for tall), in float64."""
    x = x.double()
    if x.shape[-2] > x.shape[-1]:
        x = x.mT
    eye = torch.eye(x.shape[-2], dtype=x.dtype, device=x.device)
    return torch.linalg.matrix_norm(x @ x.mT - eye) / x.shape[-2] ** 0.5
