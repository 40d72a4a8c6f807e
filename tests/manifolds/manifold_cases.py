"""Shared manifold cases and sampling helpers for the property tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from extremo.manifolds import (
    SO3,
    SPD,
    Euclidean,
    Grassmann,
    Lorentz,
    Manifold,
    PoincareBall,
    Product,
    Sphere,
    Stiefel,
)


def _gbw_m() -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    a = torch.randn(3, 3, generator=g, dtype=torch.float64)
    return a @ a.T + 0.5 * torch.eye(3, dtype=torch.float64)


@dataclass
class Case:
    id: str
    make: Callable[[], Manifold]
    #: tangent vectors up to this norm stay inside the injectivity radius / domain of exp
    radius: float


CASES = [
    Case("euclidean", lambda: Euclidean(3, 2), 3.0),
    Case("sphere", lambda: Sphere(5), 2.5),
    Case("stiefel-euclidean-qr", lambda: Stiefel(6, 3), 0.8),
    Case("stiefel-canonical-cayley", lambda: Stiefel(6, 3, metric="canonical", retraction="cayley"), 0.8),
    Case("stiefel-euclidean-polar", lambda: Stiefel(5, 2, retraction="polar"), 0.8),
    Case("grassmann", lambda: Grassmann(6, 2), 1.2),
    Case("spd-affine", lambda: SPD(3, metric="affine"), 2.0),
    Case("spd-log-euclidean", lambda: SPD(3, metric="log_euclidean"), 2.0),
    Case("spd-bures-wasserstein", lambda: SPD(3, metric="bures_wasserstein"), 0.3),
    Case("spd-generalized-bw", lambda: SPD(3, metric="generalized_bw", M=_gbw_m()), 0.3),
    Case("poincare", lambda: PoincareBall(4, c=0.7), 2.0),
    Case("lorentz", lambda: Lorentz(4, c=1.3), 2.0),
    Case("so3", lambda: SO3(), 3.0),
    Case("product", lambda: Product(Sphere(3), PoincareBall(2), SPD(2), Euclidean()), 1.0),
]

IDS = [c.id for c in CASES]


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def points(m: Manifold, seed: int, batch=(4,), dtype=torch.float64) -> torch.Tensor:
    """Random points; SPD points are kept well conditioned for the BW domain."""
    if isinstance(m, SPD):
        return m.random(*batch, dtype=dtype, generator=gen(seed), std=0.5)
    return m.random(*batch, dtype=dtype, generator=gen(seed))


def tangent(m: Manifold, x: torch.Tensor, seed: int, norm: float | torch.Tensor) -> torch.Tensor:
    """Tangent vectors at ``x`` with Riemannian norm ``norm``."""
    u = m.random_tangent(x, generator=gen(seed + 1))
    return u * (norm / m.norm(x, u, keepdim=True))


def ambient(m: Manifold, seed: int, batch=(4,), dtype=torch.float64, scale=1.0) -> torch.Tensor:
    return scale * torch.randn(*batch, *m.point_shape, dtype=dtype, generator=gen(seed + 2))


def assert_close(a, b, atol=1e-8, rtol=1e-6, msg=""):
    torch.testing.assert_close(a, b, atol=atol, rtol=rtol, msg=msg or None)
