"""Newton-Schulz iterations: matrix-multiply-only, batched, differentiable by unrolling.

References: Higham, *Functions of Matrices* (2008), Sec. 5.3 (sign), 6.7 (square
root), 8.3 (polar); Lin and Maji, "Improved bilinear pooling with CNNs" (2017)
for the coupled square-root iteration used on batches.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["polar_newton_schulz", "sign_newton_schulz", "sqrtm_newton_schulz"]


def _eye_like(x: Tensor, n: int) -> Tensor:
    return torch.eye(n, dtype=x.dtype, device=x.device)


def _default_tol(x: Tensor, n: int) -> float:
    return 10.0 * torch.finfo(x.dtype).eps * n


def _fro(x: Tensor) -> Tensor:
    return torch.linalg.matrix_norm(x, keepdim=True)


def _converged(residual: Tensor, tol: float) -> bool:
    return bool(_fro(residual).amax() <= tol)


def polar_newton_schulz(a: Tensor, num_iters: int = 60, tol: float | None = None) -> Tensor:
    """Orthogonal polar factor ``Q = A (A^T A)^{-1/2}`` of full-rank ``(..., n, p)``.

    Iterates ``X <- X (3 I - X^T X) / 2`` from ``X_0 = A / ||A||_F``; singular
    values converge to 1 quadratically once they are near it, the smallest
    grows by 1.5x per step before that, so about ``log_1.5(sqrt(p) cond(A)) + 5``
    iterations are needed.  Stops early when ``||X^T X - I||_F <= tol`` for every
    matrix in the batch.  Cost O(n p^2) per iteration.
    """
    if a.shape[-2] < a.shape[-1]:
        return polar_newton_schulz(a.transpose(-1, -2), num_iters, tol).transpose(-1, -2)
    p = a.shape[-1]
    eye = _eye_like(a, p)
    tol = _default_tol(a, p) if tol is None else tol
    x = a / _fro(a)
    for _ in range(num_iters):
        gram = x.transpose(-1, -2) @ x
        if _converged(gram - eye, tol):
            break
        x = x @ (1.5 * eye - 0.5 * gram)
    return x


def sign_newton_schulz(a: Tensor, num_iters: int = 60, tol: float | None = None) -> Tensor:
    """Matrix sign ``sign(A) = A (A^2)^{-1/2}`` of ``(..., n, n)`` with real nonzero spectrum.

    Iterates ``X <- X (3 I - X^2) / 2`` from ``X_0 = A / ||A||_F``, until
    ``||X^2 - I||_F <= tol``.  Cost O(n^3) per iteration.
    """
    n = a.shape[-1]
    eye = _eye_like(a, n)
    tol = _default_tol(a, n) if tol is None else tol
    x = a / _fro(a)
    for _ in range(num_iters):
        sq = x @ x
        if _converged(sq - eye, tol):
            break
        x = 0.5 * x @ (3.0 * eye - sq)
    return x


def sqrtm_newton_schulz(
    a: Tensor, num_iters: int = 60, tol: float | None = None
) -> tuple[Tensor, Tensor]:
    """``(A^{1/2}, A^{-1/2})`` of SPD ``(..., n, n)`` by the coupled Newton-Schulz iteration.

    With ``c = ||A||_F``, ``Y_0 = A / c``, ``Z_0 = I`` and ``T = (3 I - Z Y) / 2``:
    ``Y <- Y T -> (A/c)^{1/2}``, ``Z <- T Z -> (A/c)^{-1/2}``; stops when
    ``||Z Y - I||_F <= tol``.  Cost O(n^3) per iteration.
    """
    n = a.shape[-1]
    eye = _eye_like(a, n)
    tol = _default_tol(a, n) if tol is None else tol
    c = _fro(a)
    y = a / c
    z = eye.expand_as(a)
    for _ in range(num_iters):
        zy = z @ y
        if _converged(zy - eye, tol):
            break
        t = 1.5 * eye - 0.5 * zy
        y, z = y @ t, t @ z
    root_c = torch.sqrt(c)
    return y * root_c, z / root_c
