"""Exact geometric predicates for the verifiers.

Every float64 number is a dyadic rational, so a predicate such as "two discs do not overlap",
``(r_i + r_j)^2 <= |c_i - c_j|^2``, has an exact answer. The predicates first evaluate in
float64 for all pairs at once, then re-decide the borderline ones (those within a relative
margin far larger than the rounding error) in exact rational arithmetic. No tolerance ever
admits an infeasible configuration; touching discs are allowed (interiors disjoint).
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

#: relative margin under which a float64 decision is re-made exactly
_BORDER = 1e-9


def _exact_overlap(ci: np.ndarray, cj: np.ndarray, ri: float, rj: float) -> bool:
    d2 = sum((Fraction(a) - Fraction(b)) ** 2 for a, b in zip(ci.tolist(), cj.tolist()))
    return (Fraction(ri) + Fraction(rj)) ** 2 > d2


def first_overlap(centers: np.ndarray, radii: np.ndarray) -> tuple[int, int, float] | None:
    """First pair of discs/balls whose interiors intersect, with the float overlap; else ``None``.

    ``centers`` (n, d), ``radii`` (n,). Cost O(n^2 d) in float64 plus exact checks of borderline pairs.
    """
    n = len(radii)
    if n < 2:
        return None
    i, j = np.triu_indices(n, 1)
    d2 = np.sum((centers[i] - centers[j]) ** 2, axis=1)
    s2 = (radii[i] + radii[j]) ** 2
    slack = d2 - s2
    scale = np.maximum(s2, 1e-300)
    clear = slack > _BORDER * scale
    bad = slack < -_BORDER * scale
    for k in np.flatnonzero(~clear & ~bad):
        if _exact_overlap(centers[i[k]], centers[j[k]], float(radii[i[k]]), float(radii[j[k]])):
            bad[k] = True
    if not bad.any():
        return None
    k = int(np.flatnonzero(bad)[np.argmin(slack[bad])])
    return int(i[k]), int(j[k]), float(radii[i[k]] + radii[j[k]] - np.sqrt(d2[k]))


def first_outside_box(
    centers: np.ndarray, radii: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[int, int, float] | None:
    """First ball (index, axis, excess) not inside the box ``lower <= c - r, c + r <= upper``.

    The sums ``c +- r`` are decided exactly; points are balls of radius zero.
    """
    r = radii[:, None]
    lo_gap = (centers - r) - lower
    hi_gap = upper - (centers + r)
    worst = np.minimum(lo_gap, hi_gap)
    suspects = np.argwhere(worst <= _BORDER * (np.abs(centers) + r + 1.0))
    for i, a in suspects:
        c, rr = Fraction(float(centers[i, a])), Fraction(float(radii[i]))
        if c - rr < Fraction(float(lower[a])) or c + rr > Fraction(float(upper[a])):
            return int(i), int(a), float(-worst[i, a])
    return None


def amount(excess: float, scale: float = 1.0) -> str:
    """How much a constraint is violated, readable down to the last bit of ``scale`` (the size of
    the compared quantities): ``"3.142e-05"``, ``"2 ulp (2.2e-16)"`` for a few units in the last
    place, and ``"less than 1 ulp (< 1.1e-16)"`` when the float difference rounds to nothing but
    the exact decision is a violation."""
    ulp = float(np.spacing(abs(float(scale)) or 1.0))
    excess = abs(float(excess))
    if not np.isfinite(excess) or excess >= 1000 * ulp:
        return f"{excess:.3e}"
    units = round(excess / ulp)
    if units >= 1:
        return f"{units} ulp ({excess:.1e})"
    return f"{excess:.1e}, less than 1 ulp" if excess > 0 else f"less than 1 ulp (< {ulp:.1e})"
