"""Poincare ball of curvature ``-c``: ``{x in R^n : c |x|^2 < 1}``.

Reference: Ganea, Becigneul and Hofmann, "Hyperbolic neural networks",
NeurIPS 2018 (gyrovector formulas); Ungar, *A Gyrovector Space Approach to
Hyperbolic Geometry*, 2008 (gyration).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Manifold

__all__ = ["PoincareBall"]


def _dot(a: Tensor, b: Tensor) -> Tensor:
    return (a * b).sum(-1, keepdim=True)


def _artanh(z: Tensor) -> Tensor:
    z = z.clamp(max=1.0 - torch.finfo(z.dtype).eps)
    return torch.atanh(z)


class PoincareBall(Manifold):
    """Poincare ball, points ``(..., n)``, curvature ``-c`` (``c > 0``).

    Conformal factor ``lambda_x = 2 / (1 - c |x|^2)``, metric ``lambda_x^2 <u, v>``,
    Riemannian gradient ``g / lambda_x^2``;
    ``exp_x(u) = x (+) tanh(sqrt(c) lambda_x |u| / 2) u / (sqrt(c) |u|)``;
    ``log_x(y) = 2 / (sqrt(c) lambda_x) artanh(sqrt(c) |w|) w / |w|``, ``w = (-x) (+) y``;
    ``d(x, y) = 2 / sqrt(c) artanh(sqrt(c) |(-x) (+) y|)``;
    parallel transport ``lambda_x / lambda_y gyr[y, -x] v``; ``retr(x, u) = projx(x + u)``.
    ``projx`` keeps points ``eps`` inside the boundary (4e-3 in float32, 1e-5 in float64).
    """

    name = "PoincareBall"
    parallel_transport = True

    def __init__(self, n: int, c: float = 1.0):
        if c <= 0:
            raise ValueError(f"curvature parameter c must be positive, got {c}")
        super().__init__((n,), n)
        self.c = float(c)
        self._sqrt_c = math.sqrt(self.c)

    def extra_repr(self):
        return f"{self.point_shape[0]}, c={self.c:g}"

    def __reduce__(self):
        return (type(self), (self.point_shape[0], self.c))

    @staticmethod
    def _boundary_eps(dtype: torch.dtype) -> float:
        return 1e-5 if dtype == torch.float64 else 4e-3

    def lambda_x(self, x: Tensor, keepdim: bool = False) -> Tensor:
        """Conformal factor ``2 / (1 - c |x|^2)``."""
        return 2.0 / (1.0 - self.c * (x * x).sum(-1, keepdim=keepdim)).clamp_min(torch.finfo(x.dtype).tiny)

    def mobius_add(self, x: Tensor, y: Tensor) -> Tensor:
        """``x (+) y = ((1 + 2c<x,y> + c|y|^2) x + (1 - c|x|^2) y) / (1 + 2c<x,y> + c^2|x|^2|y|^2)``."""
        c = self.c
        xy, x2, y2 = _dot(x, y), _dot(x, x), _dot(y, y)
        num = (1.0 + 2.0 * c * xy + c * y2) * x + (1.0 - c * x2) * y
        den = 1.0 + 2.0 * c * xy + c * c * x2 * y2
        return num / den.clamp_min(torch.finfo(x.dtype).tiny)

    def gyration(self, a: Tensor, b: Tensor, v: Tensor) -> Tensor:
        """``gyr[a, b] v = -(a (+) b) (+) (a (+) (b (+) v))``, in Ungar's closed form."""
        c = self.c
        ab, av, bv = _dot(a, b), _dot(a, v), _dot(b, v)
        a2, b2 = _dot(a, a), _dot(b, b)
        k_a = -c * c * av * b2 + c * bv + 2.0 * c * c * ab * bv
        k_b = -c * c * bv * a2 - c * av
        den = 1.0 + 2.0 * c * ab + c * c * a2 * b2
        return v + 2.0 * (k_a * a + k_b * b) / den.clamp_min(torch.finfo(v.dtype).tiny)

    def _shrink(self, x: Tensor, sq_norm: Tensor) -> Tensor:
        """Factor ``min(1, r_max / |x|)`` that pulls points outside radius ``r_max`` back onto it."""
        max_norm = (1.0 - self._boundary_eps(x.dtype)) / self._sqrt_c
        return (max_norm * sq_norm.clamp_min(torch.finfo(x.dtype).tiny).rsqrt()).clamp_max(1.0)

    def projx(self, x):
        return x * self._shrink(x, _dot(x, x))

    def proju(self, x, u):
        return u

    def egrad2rgrad(self, x, g):
        return g * (0.5 - (0.5 * self.c) * _dot(x, x)).square()

    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        return self.lambda_x(x, keepdim) ** 2 * (u * v).sum(-1, keepdim=keepdim)

    def norm(self, x, u, keepdim=False):
        return self.lambda_x(x, keepdim) * u.norm(dim=-1, keepdim=keepdim)

    def retr(self, x, u):
        return self.projx(x + u)

    def retr_transp(self, x, u, v):
        """``y = projx(x + u)`` and ``transp(x, y, v)``, sharing the inner products.

        With ``a = y``, ``b = -x`` in the gyration formula:
        ``P v = s (v + 2 (k_y y + k_x x) / D)``, ``s = (1 - c|y|^2) / (1 - c|x|^2)``,
        ``k_y = c (2c <x,y> <x,v> - c |x|^2 <y,v> - <x,v>)``,
        ``k_x = c (<y,v> - c |y|^2 <x,v>)``, ``D = 1 - 2c <x,y> + c^2 |x|^2 |y|^2``.
        """
        c = self.c
        y = x + u
        y2 = _dot(y, y)
        f = self._shrink(y, y2)
        y, y2 = y * f, y2 * f * f
        x2, xy, xv, yv = _dot(x, x), _dot(x, y), _dot(x, v), _dot(y, v)
        tiny = torch.finfo(x.dtype).tiny
        den = (1.0 - 2.0 * c * xy + c * c * x2 * y2).clamp_min(tiny)
        scale = (1.0 - c * y2) / (1.0 - c * x2).clamp_min(tiny)
        k_y = c * (2.0 * c * xy * xv - c * x2 * yv - xv)
        k_x = c * (yv - c * y2 * xv)
        w = 2.0 * scale / den
        out = torch.addcmul(torch.addcmul(v * scale, y, k_y * w), x, k_x * w)
        return y, out

    def expmap(self, x, u):
        sc = self._sqrt_c
        un = u.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(u.dtype).tiny)
        step = torch.tanh(sc * self.lambda_x(x, keepdim=True) * un / 2.0) * u / (sc * un)
        return self.projx(self.mobius_add(x, step))

    def logmap(self, x, y):
        sc = self._sqrt_c
        w = self.mobius_add(-x, y)
        wn = w.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(w.dtype).tiny)
        return (2.0 / (sc * self.lambda_x(x, keepdim=True))) * _artanh(sc * wn) * w / wn

    def dist(self, x, y, keepdim=False):
        w = self.mobius_add(-x, y)
        return 2.0 / self._sqrt_c * _artanh(self._sqrt_c * w.norm(dim=-1, keepdim=keepdim))

    def transp(self, x, y, v):
        scale = self.lambda_x(x, keepdim=True) / self.lambda_x(y, keepdim=True)
        return self.gyration(y, -x, v) * scale

    def expmap0(self, u: Tensor) -> Tensor:
        """``exp_0(u) = tanh(sqrt(c) |u|) u / (sqrt(c) |u|)``."""
        sc = self._sqrt_c
        un = u.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(u.dtype).tiny)
        return self.projx(torch.tanh(sc * un) * u / (sc * un))

    def logmap0(self, y: Tensor) -> Tensor:
        """``log_0(y) = artanh(sqrt(c) |y|) y / (sqrt(c) |y|)``."""
        sc = self._sqrt_c
        yn = y.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(y.dtype).tiny)
        return _artanh(sc * yn) * y / (sc * yn)

    def random(self, *batch, dtype=None, device=None, generator=None, std: float = 1.0):
        """Wrapped normal at the origin: ``exp_0(std * N(0, I) / 2)`` (``lambda_0 = 2``)."""
        return self.expmap0(0.5 * std * self._randn(batch, dtype, device, generator))

    def origin(self, *batch, dtype=None, device=None):
        return torch.zeros(self._full_shape(batch), dtype=dtype, device=device)

    def _check_point(self, x, atol, rtol):
        r2 = self.c * (x * x).sum(-1)
        if bool((r2 >= 1.0).any()):
            return False, f"`c |x|^2 >= 1`: point outside the ball (max c|x|^2 = {float(r2.max()):.6g})"
        return True, None
