"""Layers for SPD matrix features (SPDNet: Huang and Van Gool, "A Riemannian Network for SPD
Matrix Learning", AAAI 2017).

* `BiMap` ``X -> W^T X W`` with ``W`` on the Stiefel manifold ``St(n, m)``: maps SPD(n)
  to SPD(m) (``m <= n``; full column rank keeps the output positive definite);
* `ReEig` ``X = U diag(w) U^T -> U diag(max(w, eps)) U^T``: the ReLU of SPD nets, keeps
  eigenvalues away from zero;
* `LogEig` ``X -> log X``, the log-Euclidean map to the flat space of symmetric matrices,
  optionally vectorised by `sym_to_vec` so that a Euclidean head can follow.

Backward passes of ``ReEig`` and ``LogEig`` use the Daleckii-Krein divided differences of
`extremo.linalg` (stable for equal eigenvalues); ``W`` is a
`ManifoldParameter`, so `RiemannianAdam` or
`RiemannianSGD` keep it orthonormal.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from extremo.linalg import sym, sym_funcm, sym_logm
from extremo.manifolds import ManifoldParameter, Stiefel

__all__ = ["BiMap", "ReEig", "LogEig", "sym_to_vec"]


def _check_square(x: Tensor, n: int | None, layer: str) -> None:
    if x.dim() < 2 or x.shape[-1] != x.shape[-2] or (n is not None and x.shape[-1] != n):
        want = "(..., n, n)" if n is None else f"(..., {n}, {n})"
        raise ValueError(f"{layer} expects symmetric matrices of shape {want}, got shape {tuple(x.shape)}")


def sym_to_vec(s: Tensor) -> Tensor:
    """Upper triangle of symmetric ``(..., n, n)`` matrices as ``(..., n (n + 1) / 2)`` vectors,
    off-diagonal entries times ``sqrt 2``, so that ``|vec S| = |S|_F`` (an isometry)."""
    _check_square(s, None, "sym_to_vec")
    n = s.shape[-1]
    i, j = torch.triu_indices(n, n, device=s.device)
    scale = torch.where(i == j, 1.0, math.sqrt(2.0)).to(s.dtype)
    return s[..., i, j] * scale


class BiMap(nn.Module):
    """``X -> W^T X W``, ``W`` ``(n, m)`` with orthonormal columns (a point of ``St(n, m)``).

    Shapes ``(..., n, n) -> (..., m, m)``. ``W`` starts Haar-random (``generator`` for a fixed draw).
    """

    def __init__(self, n: int, m: int, generator: torch.Generator | None = None, dtype=None, device=None):
        super().__init__()
        if not 1 <= m <= n:
            raise ValueError(f"BiMap(n, m) maps SPD(n) to SPD(m) and needs 1 <= m <= n, got n={n}, m={m}")
        self.n, self.m = n, m
        manifold = Stiefel(n, m)
        self.weight = ManifoldParameter(manifold.random(generator=generator, dtype=dtype, device=device), manifold)

    def extra_repr(self) -> str:
        return f"{self.n} -> {self.m}"

    def forward(self, x: Tensor) -> Tensor:
        _check_square(x, self.n, "BiMap")
        w = self.weight.to(x.dtype)
        return sym(w.mT @ x @ w)


class ReEig(nn.Module):
    """Eigenvalue rectification ``U diag(max(w, eps)) U^T`` (SPDNet's nonlinearity)."""

    def __init__(self, eps: float = 1e-4):
        super().__init__()
        if not eps > 0:
            raise ValueError(f"ReEig needs a positive threshold eps, got {eps}")
        self.eps = float(eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"

    def forward(self, x: Tensor) -> Tensor:
        _check_square(x, None, "ReEig")
        eps = self.eps
        return sym_funcm(x, lambda w: w.clamp_min(eps), lambda w: (w > eps).to(w.dtype))


class LogEig(nn.Module):
    """``X -> log X`` (principal logarithm of SPD matrices); ``vectorize=True`` returns
    `sym_to_vec` of it, ``(..., n (n + 1) / 2)``."""

    def __init__(self, vectorize: bool = False):
        super().__init__()
        self.vectorize = vectorize

    def extra_repr(self) -> str:
        return f"vectorize={self.vectorize}"

    def forward(self, x: Tensor) -> Tensor:
        _check_square(x, None, "LogEig")
        y = sym_logm(x)
        return sym_to_vec(y) if self.vectorize else y
