"""Helpers shared by the Riemannian optimizers."""

from __future__ import annotations

from torch import Tensor

from ..manifolds.base import Manifold
from ..manifolds.parameter import ManifoldParameter


def manifold_of(p: Tensor) -> Manifold | None:
    """The manifold a parameter is constrained to, or ``None`` for a plain parameter."""
    return p.manifold if isinstance(p, ManifoldParameter) else None
