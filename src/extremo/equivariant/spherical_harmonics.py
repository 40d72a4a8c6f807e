r"""Real spherical harmonics in e3nn's basis and ordering.

Orthonormal ("integral") real spherical harmonics, no Condon-Shortley phase,

$$
Y_{l0} = \sqrt{\tfrac{2l+1}{4\pi}} P_l(\cos\theta), \quad
Y_{l,\pm m} = \sqrt{2\,\tfrac{2l+1}{4\pi}\tfrac{(l-m)!}{(l+m)!}}\, P_l^m(\cos\theta)
\begin{cases}\cos m\varphi\\ \sin m\varphi\end{cases},
$$

in a frame whose polar axis is e3nn's ``y``: ``(x', y', z') = (z, x, y)``, so that the degree-1
harmonics are proportional to ``(x, y, z)`` and the Wigner matrix of ``l = 1`` is the rotation
itself. Index ``m = -l..l`` within each degree, degrees concatenated (e3nn's ordering).
They are evaluated as solid harmonics ``r^l Y_lm`` by the stable normalised three-term
recurrence in ``z'`` and ``(x' + i y')^m``, so no trigonometric functions are needed.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence, Union

import torch
import torch.nn.functional as F

from .irreps import Irreps

__all__ = ["spherical_harmonics", "sh_index", "LMAX"]

LMAX = 10
_NORMALIZATIONS = ("integral", "component", "norm")


def sh_index(l: int, m: int) -> int:
    """Position of ``Y_lm`` in the concatenation ``l = 0..lmax``: ``l^2 + l + m``."""
    return l * l + l + m


@lru_cache(maxsize=None)
def _recurrence_constants(lmax: int):
    """Start values ``q_mm`` and coefficients ``(a_lm, b_lm)`` of the normalised recurrence.

    ``q_lm = a_lm z q_{l-1,m} - b_lm r^2 q_{l-2,m}`` with ``q_lm = N_lm P_l^m / sin^m``; the factor
    ``sqrt 2`` of the real harmonics with ``m != 0`` is folded into ``q_mm``.
    """
    start, ab = {}, {}
    for m in range(lmax + 1):
        double_factorial = math.prod(range(2 * m - 1, 0, -2)) if m > 0 else 1
        norm = math.sqrt((2 * m + 1) / (4 * math.pi) / math.factorial(2 * m))
        start[m] = norm * double_factorial * (math.sqrt(2.0) if m > 0 else 1.0)
        for l in range(m + 1, lmax + 1):
            a = math.sqrt((2 * l - 1) * (2 * l + 1) / ((l - m) * (l + m)))
            if l >= m + 2:
                b = math.sqrt((2 * l + 1) * (l + m - 1) * (l - m - 1) / ((2 * l - 3) * (l - m) * (l + m)))
            else:
                b = 0.0
            ab[(l, m)] = (a, b)
    return start, ab


def _legendre(lmax: int, z: torch.Tensor, r2) -> dict:
    """``{(l, m): q_lm}`` for ``0 <= m <= l <= lmax``; ``r2`` is ``|r|^2`` (or 1 on the sphere)."""
    start, ab = _recurrence_constants(lmax)
    q = {}
    for m in range(lmax + 1):
        q[(m, m)] = torch.full_like(z, start[m])
        for l in range(m + 1, lmax + 1):
            a, b = ab[(l, m)]
            q[(l, m)] = a * z * q[(l - 1, m)]
            if l >= m + 2:
                q[(l, m)] = q[(l, m)] - b * r2 * q[(l - 2, m)]
    return q


def legendre_table(lmax: int, theta: torch.Tensor) -> torch.Tensor:
    r"""``g[..., l, m] = q_{lm}(\cos\theta) \sin^m\theta`` for ``0 <= m <= l``, zero above.

    So ``Y_{l,\pm m}(\theta, \varphi) = g_{lm}(\theta) (\cos m\varphi, \sin m\varphi)``. Defined for all
    real ``theta`` (a trigonometric polynomial of degree ``l``), which the Fourier method uses.
    Shape ``theta.shape + (lmax+1, lmax+1)``.
    """
    q = _legendre(lmax, torch.cos(theta), 1.0)
    s = torch.sin(theta)
    out = theta.new_zeros(theta.shape + (lmax + 1, lmax + 1))
    for (l, m), v in q.items():
        out[..., l, m] = v * s**m
    return out


def _parse_ls(ls) -> list:
    if isinstance(ls, int):
        return [ls]
    if isinstance(ls, (str, Irreps)):
        irreps = Irreps(ls)
        out = []
        for mul, ir in irreps:
            if ir.p != (-1) ** ir.l:
                raise ValueError(
                    f"spherical harmonics of degree {ir.l} have parity {(-1) ** ir.l:+d}, got {ir} in {irreps}; "
                    f"use '{ir.l}{'e' if ir.l % 2 == 0 else 'o'}' or '{ir.l}y'"
                )
            out.extend([ir.l] * mul)
        return out
    return [int(l) for l in ls]


def spherical_harmonics(
    ls: Union[int, Sequence[int], str, Irreps],
    x: torch.Tensor,
    normalize: bool = True,
    normalization: str = "integral",
) -> torch.Tensor:
    r"""Real spherical harmonics of the vectors ``x`` ``(..., 3)``: ``(..., sum_l (2l+1))``.

    ``ls``: a degree, a list of degrees or irreps like ``"0e+1o+2e"`` (parities must be ``(-1)^l``).
    ``normalize=False`` returns the solid harmonics ``|x|^l Y_lm(x / |x|)`` (homogeneous polynomials).
    ``normalization`` (as e3nn): ``"integral"``: $\int_{S^2} Y_{lm}^2 = 1$;
    ``"component"``: $\|Y_l(x)\|^2 = 2l+1$; ``"norm"``: $\|Y_l(x)\| = 1$ on the sphere.
    Supported up to ``l = 10`` (``LMAX``); equivariance $Y_l(Rx) = D^l(R) Y_l(x)$.
    Zero vectors give ``Y_lm = 0`` for ``l > 0`` when ``normalize=True``.
    """
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {_NORMALIZATIONS}, got {normalization!r}")
    if x.shape[-1] != 3:
        raise ValueError(f"spherical_harmonics expects vectors of shape (..., 3), got {tuple(x.shape)}")
    ls = _parse_ls(ls)
    if not ls:
        return x.new_zeros(x.shape[:-1] + (0,))
    lmax = max(ls)
    if min(ls) < 0 or lmax > LMAX:
        raise ValueError(f"degrees must be in 0..{LMAX}, got {ls}")
    if normalize:
        x = F.normalize(x, dim=-1)
    # e3nn's frame: polar axis y; (x', y', z') = (z, x, y).
    xp, yp, zp = x[..., 2], x[..., 0], x[..., 1]
    r2 = (x * x).sum(-1)  # 1 on the sphere, 0 for a zero vector (so Y_l(0) = 0 for l > 0)
    q = _legendre(lmax, zp, r2)
    cos_m, sin_m = [torch.ones_like(xp)], [torch.zeros_like(xp)]
    for _ in range(lmax):
        c, s = cos_m[-1], sin_m[-1]
        cos_m.append(c * xp - s * yp)
        sin_m.append(s * xp + c * yp)
    blocks = {}
    for l in sorted(set(ls)):
        comps = [q[(l, -m)] * sin_m[-m] for m in range(-l, 0)]
        comps.append(q[(l, 0)])
        comps += [q[(l, m)] * cos_m[m] for m in range(1, l + 1)]
        y = torch.stack(comps, dim=-1)
        if normalization == "component":
            y = y * math.sqrt(4 * math.pi)
        elif normalization == "norm":
            y = y * math.sqrt(4 * math.pi / (2 * l + 1))
        blocks[l] = y
    return torch.cat([blocks[l] for l in ls], dim=-1)
