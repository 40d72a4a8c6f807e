"""Unit sphere ``S^{n-1} = {x in R^n : ||x|| = 1}`` with the round metric."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Manifold, _allclose_reason

__all__ = ["Sphere"]


def _sinc(t: Tensor) -> Tensor:
    """``sin(t) / t`` (``torch.sinc`` is normalised by pi)."""
    return torch.sinc(t / math.pi)


class Sphere(Manifold):
    """Unit sphere in ``R^n`` (points ``(..., n)``), intrinsic dimension ``n - 1``.

    ``exp_x(u) = cos(|u|) x + sin(|u|) u / |u|``;
    ``d(x, y) = 2 atan2(|x - y|, |x + y|)`` (the angle, accurate near 0 and pi);
    parallel transport ``v - <y, v> / (1 + <x, y>) (x + y)``.
    """

    name = "Sphere"
    parallel_transport = True

    def __init__(self, n: int):
        if n < 1:
            raise ValueError(f"Sphere(n) needs n >= 1 ambient coordinates, got {n}")
        super().__init__((n,), n - 1)

    def projx(self, x):
        return x / x.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(x.dtype).tiny)

    def proju(self, x, u):
        return u - (x * u).sum(-1, keepdim=True) * x

    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        return (u * v).sum(-1, keepdim=keepdim)

    def norm(self, x, u, keepdim=False):
        return u.norm(dim=-1, keepdim=keepdim)

    def expmap(self, x, u):
        t = u.norm(dim=-1, keepdim=True)
        return self.projx(torch.cos(t) * x + _sinc(t) * u)

    def retr(self, x, u):
        return self.projx(x + u)

    def _angle(self, x, y, keepdim=False):
        return 2.0 * torch.atan2((x - y).norm(dim=-1, keepdim=keepdim), (x + y).norm(dim=-1, keepdim=keepdim))

    def logmap(self, x, y):
        # |y - <x,y> x| = sin(theta) on the sphere, so w / sinc(theta) has length theta.
        w = self.proju(x, y)
        return w / _sinc(self._angle(x, y, keepdim=True))

    def dist(self, x, y, keepdim=False):
        return self._angle(x, y, keepdim)

    def transp(self, x, y, v):
        coef = (y * v).sum(-1, keepdim=True) / (1.0 + (x * y).sum(-1, keepdim=True))
        return v - coef * (x + y)

    def random(self, *batch, dtype=None, device=None, generator=None):
        return self.projx(self._randn(batch, dtype, device, generator))

    def origin(self, *batch, dtype=None, device=None):
        x = torch.zeros(self._full_shape(batch), dtype=dtype, device=device)
        x[..., 0] = 1.0
        return x

    def _check_point(self, x, atol, rtol):
        n = x.norm(dim=-1)
        return _allclose_reason(n, torch.ones_like(n), atol, rtol, "`||x|| != 1`")

    def _check_vector(self, x, u, atol, rtol):
        d = (x * u).sum(-1)
        return _allclose_reason(d, torch.zeros_like(d), atol, rtol, "`<x, u> != 0`")
