"""Euclidean space ``R^{shape}`` with the flat metric."""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Manifold

__all__ = ["Euclidean"]


class Euclidean(Manifold):
    """``R^{shape}``: ``exp_x(u) = x + u``, ``log_x(y) = y - x``, ``d(x, y) = ||x - y||_F``.

    ``Euclidean()`` treats every entry as its own point (``ndim = 0``), which is
    what element-wise optimizers such as Adam expect; ``Euclidean(n, d)`` makes
    each trailing ``(n, d)`` block one point.
    """

    name = "Euclidean"
    parallel_transport = True

    def __init__(self, *shape: int):
        dim = 1
        for s in shape:
            dim *= int(s)
        super().__init__(shape, dim)

    def projx(self, x: Tensor) -> Tensor:
        return x

    def proju(self, x: Tensor, u: Tensor) -> Tensor:
        return u

    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        return self._sum(u * v, keepdim)

    def expmap(self, x, u):
        return x + u

    def retr(self, x, u):
        return x + u

    def logmap(self, x, y):
        return y - x

    def transp(self, x, y, v):
        return v

    def retr_transp(self, x, u, v):
        return x + u, v

    def dist(self, x, y, keepdim=False):
        d = y - x
        return self._sum(d * d, keepdim).sqrt() if self.ndim else d.abs()

    def random(self, *batch, dtype=None, device=None, generator=None):
        return self._randn(batch, dtype, device, generator)

    def origin(self, *batch, dtype=None, device=None):
        return torch.zeros(self._full_shape(batch), dtype=dtype, device=device)
