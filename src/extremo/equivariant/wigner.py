r"""Wigner D matrices of the real spherical harmonics, and random rotations.

``D^l(R)`` is the matrix with :math:`Y_l(R x) = D^l(R) Y_l(x)` for the harmonics of
:mod:`.spherical_harmonics` (so ``D^1(R) = R``). It is computed by projecting the rotated
harmonics back onto the basis with a quadrature that is exact for degree ``2l``:

.. math:: D^l_{mn}(R) = \int_{S^2} Y_{lm}(R x) Y_{ln}(x)\, d\Omega
          = \sum_p w_p Y_{lm}(R x_p) Y_{ln}(x_p),

batched over rotations, differentiable, exact to rounding, cost ``O(l^3)`` per rotation.
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .s2grid import s2_quadrature
from .spherical_harmonics import spherical_harmonics

__all__ = ["wigner_D", "rand_matrix", "rand_orthogonal"]


@lru_cache(maxsize=None)
def _projector(l: int):
    grid = s2_quadrature(2 * l)
    points = grid.points.reshape(-1, 3)
    weighted = spherical_harmonics(l, points) * grid.weights.reshape(-1, 1)
    return points, weighted


def wigner_D(l: int, R: torch.Tensor) -> torch.Tensor:
    """Real Wigner matrix of degree ``l`` for rotations ``R`` ``(..., 3, 3)``: ``(..., 2l+1, 2l+1)``."""
    if R.shape[-2:] != (3, 3):
        raise ValueError(f"expected rotation matrices of shape (..., 3, 3), got {tuple(R.shape)}")
    points, weighted = _projector(l)
    points, weighted = points.to(R), weighted.to(R)
    rotated = torch.einsum("...ij,pj->...pi", R, points)
    return torch.einsum("...pm,pn->...mn", spherical_harmonics(l, rotated), weighted)


def rand_matrix(*shape, dtype=None, device=None, generator=None) -> torch.Tensor:
    """Haar-random rotations ``shape + (3, 3)`` (normalised Gaussian quaternions)."""
    q = torch.randn(*shape, 4, dtype=dtype or torch.get_default_dtype(), device=device, generator=generator)
    q = q / q.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    rows = [
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ]
    return torch.stack(rows, dim=-1).reshape(*shape, 3, 3)


def rand_orthogonal(*shape, dtype=None, device=None, generator=None) -> torch.Tensor:
    """Haar-random elements of O(3): a random rotation times ``+-1`` with equal probability."""
    R = rand_matrix(*shape, dtype=dtype, device=device, generator=generator)
    sign = torch.randint(0, 2, shape, device=device, generator=generator).to(R.dtype) * 2 - 1
    return R * sign[..., None, None]
