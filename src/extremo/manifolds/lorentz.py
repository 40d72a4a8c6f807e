"""Lorentz (hyperboloid) model of hyperbolic space with curvature ``-c``.

``H = {x in R^{n} : <x, x>_L = -1/c, x_0 > 0}`` with the Minkowski form
``<u, v>_L = -u_0 v_0 + sum_i u_i v_i``.

Reference: Nickel and Kiela, "Learning continuous hierarchies in the Lorentz
model of hyperbolic geometry", ICML 2018; Law et al., "Lorentzian distance
learning for hyperbolic representations", ICML 2019.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Manifold, _allclose_reason

__all__ = ["Lorentz"]


def minkowski(u: Tensor, v: Tensor, keepdim: bool = False) -> Tensor:
    """``<u, v>_L = -u_0 v_0 + sum_{i>0} u_i v_i`` over the last dimension."""
    uv = u * v
    return uv[..., 1:].sum(-1, keepdim=keepdim) - (uv[..., :1] if keepdim else uv[..., 0])


def _sinhc(t: Tensor) -> Tensor:
    """``sinh(t) / t``, with its series near 0."""
    small = t.abs() < 1e-4
    safe = torch.where(small, torch.ones_like(t), t)
    return torch.where(small, 1.0 + t * t / 6.0, torch.sinh(safe) / safe)


class Lorentz(Manifold):
    """Hyperboloid points ``(..., n)`` (ambient ``R^n``), intrinsic dimension ``n - 1``.

    ``proju(x, u) = u + c <x, u>_L x``; Riemannian gradient ``proju(x, J g)`` with
    ``J = diag(-1, 1, ..., 1)``; ``exp_x(u) = cosh(sqrt(c)|u|) x + sinh(sqrt(c)|u|) u / (sqrt(c)|u|)``;
    ``d(x, y) = arcosh(-c <x, y>_L) / sqrt(c)``, computed as
    ``2 asinh(sqrt(c) |x - y|_L / 2) / sqrt(c)`` to stay accurate for close points;
    ``log_x(y) = d w / |w|_L`` with ``w = y + c <x, y>_L x``;
    parallel transport ``v + c <y, v>_L / (1 - c <x, y>_L) (x + y)``.
    """

    name = "Lorentz"
    parallel_transport = True

    def __init__(self, n: int, c: float = 1.0):
        if c <= 0:
            raise ValueError(f"curvature parameter c must be positive, got {c}")
        if n < 2:
            raise ValueError(f"Lorentz(n) needs n >= 2 ambient coordinates, got {n}")
        super().__init__((n,), n - 1)
        self.c = float(c)
        self._sqrt_c = math.sqrt(self.c)

    def extra_repr(self):
        return f"{self.point_shape[0]}, c={self.c:g}"

    def __reduce__(self):
        return (type(self), (self.point_shape[0], self.c))

    def projx(self, x):
        space = x[..., 1:]
        time = torch.sqrt(1.0 / self.c + (space * space).sum(-1, keepdim=True))
        return torch.cat((time, space), -1)

    def proju(self, x, u):
        return u + self.c * minkowski(x, u, keepdim=True) * x

    def egrad2rgrad(self, x, g):
        g = torch.cat((-g[..., :1], g[..., 1:]), -1)
        return self.proju(x, g)

    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        return minkowski(u, v, keepdim)

    def expmap(self, x, u):
        t = self._sqrt_c * self.norm(x, u, keepdim=True)
        return self.projx(torch.cosh(t) * x + _sinhc(t) * u)

    def retr(self, x, u):
        return self.projx(x + u)

    def dist(self, x, y, keepdim=False):
        d = x - y
        chord = minkowski(d, d, keepdim).clamp_min(0).sqrt()
        return 2.0 / self._sqrt_c * torch.asinh(self._sqrt_c * chord / 2.0)

    def logmap(self, x, y):
        # |w|_L = sinh(sqrt(c) d) / sqrt(c), so w / sinhc(sqrt(c) d) has length d.
        w = y + self.c * minkowski(x, y, keepdim=True) * x
        t = self._sqrt_c * self.dist(x, y, keepdim=True)
        return w / _sinhc(t)

    def transp(self, x, y, v):
        coef = self.c * minkowski(y, v, keepdim=True) / (1.0 - self.c * minkowski(x, y, keepdim=True))
        return v + coef * (x + y)

    def random(self, *batch, dtype=None, device=None, generator=None, std: float = 1.0):
        """Wrapped normal at the origin: ``exp_o(std * (0, N(0, I)))``."""
        g = std * self._randn(batch, dtype, device, generator)
        g = torch.cat((torch.zeros_like(g[..., :1]), g[..., 1:]), -1)
        o = self.origin(*g.shape[:-1], dtype=g.dtype, device=g.device)
        return self.expmap(o, g)

    def origin(self, *batch, dtype=None, device=None):
        x = torch.zeros(self._full_shape(batch), dtype=dtype, device=device)
        x[..., 0] = 1.0 / self._sqrt_c
        return x

    def to_poincare(self, x: Tensor) -> Tensor:
        """Isometry to the Poincare ball of the same curvature: ``x_{1:} / (1 + sqrt(c) x_0)``."""
        return x[..., 1:] / (1.0 + self._sqrt_c * x[..., :1])

    def from_poincare(self, p: Tensor) -> Tensor:
        """Inverse of ``to_poincare``: ``((1 + c|p|^2) / sqrt(c), 2p) / (1 - c|p|^2)``."""
        r2 = self.c * (p * p).sum(-1, keepdim=True)
        return torch.cat(((1.0 + r2) / self._sqrt_c, 2.0 * p), -1) / (1.0 - r2)

    def _check_point(self, x, atol, rtol):
        if bool((x[..., 0] <= 0).any()):
            return False, "`x_0 <= 0`: point on the lower sheet of the hyperboloid"
        # rounding in <x, x>_L grows like x_0^2, so compare relative to it
        q = (minkowski(x, x) + 1.0 / self.c) / (x[..., 0] ** 2 + 1.0 / self.c)
        return _allclose_reason(q, torch.zeros_like(q), atol, rtol, "`<x, x>_L != -1/c` (relative to x_0^2)")

    def _check_vector(self, x, u, atol, rtol):
        q = minkowski(x, u)
        scale = x.abs().amax(-1) * u.abs().amax(-1)
        return _allclose_reason(q / scale.clamp_min(1.0), torch.zeros_like(q), atol, rtol, "`<x, u>_L != 0`")
