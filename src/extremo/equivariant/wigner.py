r"""Wigner D matrices of the real spherical harmonics, and random rotations.

``D^l(R)`` is the matrix with $Y_l(R x) = D^l(R) Y_l(x)$ for the harmonics of
`.spherical_harmonics` (so ``D^1(R) = R``). It is computed by projecting the rotated
harmonics back onto the basis with a quadrature that is exact for degree ``2l``:

$$
D^l_{mn}(R) = \int_{S^2} Y_{lm}(R x) Y_{ln}(x)\, d\Omega
= \sum_p w_p Y_{lm}(R x_p) Y_{ln}(x_p),
$$

batched over rotations, differentiable, exact to rounding, cost ``O(l^3)`` per rotation.
`D_from_matrix` extends it to O(3) and to direct sums of irreps (e3nn's
``Irreps.D_from_matrix``; a function here, so that `.irreps` stays a plain data type below
the spherical harmonics and this module).
"""

from __future__ import annotations

from functools import lru_cache

import torch

from .irreps import Irreps, IrrepsLike
from .s2grid import s2_quadrature
from .spherical_harmonics import spherical_harmonics

__all__ = ["wigner_D", "D_from_matrix", "rand_matrix", "rand_orthogonal"]


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


def D_from_matrix(irreps: IrrepsLike, Q: torch.Tensor) -> torch.Tensor:
    """Representation matrix ``(..., dim, dim)`` of irreps (an `.Irrep`, `.Irreps`
    or a string such as ``"2x0e+1o"``) at orthogonal ``Q`` ``(..., 3, 3)``: block diagonal, one
    block per copy of each irrep ``(l, p)``, ``D(Q) = p^{[det Q < 0]} D^l(det(Q) Q)``."""
    irreps = Irreps(irreps)
    if Q.shape[-2:] != (3, 3):
        raise ValueError(f"expected orthogonal matrices of shape (..., 3, 3), got {tuple(Q.shape)}")
    det = torch.det(Q)
    R = Q * det[..., None, None]
    out = Q.new_zeros(Q.shape[:-2] + (irreps.dim, irreps.dim))
    start = 0
    for mul, ir in irreps:
        D = wigner_D(ir.l, R)
        if ir.p == -1:
            D = D * det[..., None, None]
        for _ in range(mul):
            out[..., start : start + ir.dim, start : start + ir.dim] = D
            start += ir.dim
    return out


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
