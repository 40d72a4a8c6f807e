"""Product ``M_1 x ... x M_k`` of manifolds, points flattened to ``(..., sum_i numel(M_i))``."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .base import Manifold

__all__ = ["Product"]


class Product(Manifold):
    """Product manifold with the sum metric ``<u, v> = sum_i <u_i, v_i>_{M_i}``.

    A point is the concatenation of the flattened factor points, shape
    ``(..., D)``; ``split`` / ``combine`` convert.  Every operation acts factor
    by factor; ``d(x, y)^2 = sum_i d_i(x_i, y_i)^2``.  ``component_inner``
    gives each factor its own value, which makes Riemannian Adam adaptive per
    factor (Becigneul and Ganea, ICLR 2019, Sec. 3).
    """

    name = "Product"

    def __init__(self, *manifolds: Manifold):
        if not manifolds:
            raise ValueError("Product needs at least one manifold")
        for i, m in enumerate(manifolds):
            if not isinstance(m, Manifold):
                raise ValueError(f"Product factor {i} must be a Manifold instance, got {type(m).__name__}")
        self.manifolds = tuple(manifolds)
        self._sizes = [math.prod(m.point_shape) for m in manifolds]
        super().__init__((sum(self._sizes),), sum(m.dim for m in manifolds))
        self.parallel_transport = all(m.parallel_transport for m in manifolds)

    def extra_repr(self):
        return ", ".join(repr(m) for m in self.manifolds)

    def __reduce__(self):
        return (type(self), self.manifolds)

    def split(self, x: Tensor) -> list[Tensor]:
        """``(..., D)`` -> list of ``(..., *point_shape_i)`` (views)."""
        batch = x.shape[:-1]
        parts = torch.split(x, self._sizes, dim=-1)
        return [p.reshape(tuple(batch) + m.point_shape) for p, m in zip(parts, self.manifolds)]

    def combine(self, parts) -> Tensor:
        """Inverse of ``split``; factor batch shapes broadcast."""
        flat = [p.reshape(tuple(p.shape[: p.dim() - m.ndim]) + (-1,)) for p, m in zip(parts, self.manifolds)]
        batch = torch.broadcast_shapes(*[f.shape[:-1] for f in flat])
        return torch.cat([f.expand(*batch, f.shape[-1]) for f in flat], -1)

    def take(self, x: Tensor, i: int) -> Tensor:
        """Factor ``i`` of ``x``, shape ``(..., *point_shape_i)``."""
        return self.split(x)[i]

    def _map(self, method: str, *tensors: Tensor) -> Tensor:
        split = [self.split(t) for t in tensors]
        return self.combine([getattr(m, method)(*args) for m, *args in zip(self.manifolds, *split)])

    def projx(self, x):
        return self._map("projx", x)

    def proju(self, x, u):
        return self._map("proju", x, u)

    def egrad2rgrad(self, x, g):
        return self._map("egrad2rgrad", x, g)

    def retr(self, x, u):
        return self._map("retr", x, u)

    def expmap(self, x, u):
        return self._map("expmap", x, u)

    def logmap(self, x, y):
        return self._map("logmap", x, y)

    def transp(self, x, y, v):
        return self._map("transp", x, y, v)

    def retr_transp(self, x, u, v):
        ys, vs = [], []
        for m, xi, ui, vi in zip(self.manifolds, self.split(x), self.split(u), self.split(v)):
            y, w = m.retr_transp(xi, ui, vi)
            ys.append(y)
            vs.append(w)
        return self.combine(ys), self.combine(vs)

    def _reduce_factors(self, values: list[Tensor], keepdim: bool) -> Tensor:
        total = torch.stack(torch.broadcast_tensors(*values), 0).sum(0)
        return total[..., None] if keepdim else total

    def inner(self, x, u, v=None, keepdim=False):
        vs = self.split(u) if v is None else self.split(v)
        values = [m.inner(xi, ui, vi) for m, xi, ui, vi in zip(self.manifolds, self.split(x), self.split(u), vs)]
        return self._reduce_factors(values, keepdim)

    def component_inner(self, x, u, v=None):
        vs = self.split(u) if v is None else self.split(v)
        parts = []
        for m, xi, ui, vi in zip(self.manifolds, self.split(x), self.split(u), vs):
            val = m.component_inner(xi, ui, vi)
            parts.append(val.expand(*val.shape[: val.dim() - m.ndim], *m.point_shape) if m.ndim else val)
        return self.combine(parts)

    def dist(self, x, y, keepdim=False):
        values = [m.dist(xi, yi) ** 2 for m, xi, yi in zip(self.manifolds, self.split(x), self.split(y))]
        return self._reduce_factors(values, keepdim).sqrt()

    def random(self, *batch, dtype=None, device=None, generator=None):
        return self.combine([m.random(*batch, dtype=dtype, device=device, generator=generator) for m in self.manifolds])

    def origin(self, *batch, dtype=None, device=None):
        return self.combine([m.origin(*batch, dtype=dtype, device=device) for m in self.manifolds])

    def _check_point(self, x, atol, rtol):
        for i, (m, xi) in enumerate(zip(self.manifolds, self.split(x))):
            ok, reason = m.check_point(xi, atol, rtol)
            if not ok:
                return False, f"factor {i} ({m!r}): {reason}"
        return True, None

    def _check_vector(self, x, u, atol, rtol):
        for i, (m, xi, ui) in enumerate(zip(self.manifolds, self.split(x), self.split(u))):
            ok, reason = m.check_vector(xi, ui, atol, rtol)
            if not ok:
                return False, f"factor {i} ({m!r}): {reason}"
        return True, None
