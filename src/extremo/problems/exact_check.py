"""Exact rational checks of a configuration, the ground of a certificate.

Every float64 number is a rational, so a configuration's constraints and value can be
evaluated without rounding in `fractions.Fraction`. A problem's ``exact_check(config)``
returns an `ExactCheck`: the minimal slack of every constraint family (all ``>= 0``,
resp. ``> 0`` for strict ones, means feasible) and the exact value, or its square when the
value is a distance (then ``squared`` is set and the value is ``sqrt(exact)``).

Pair constraints are evaluated exactly on the pairs whose float slack lies within
`MARGIN` of the smallest float slack. That keeps the exact minimum: a float slack of
terms of size at most ``s`` is off by less than ``8 s 2^-52``, far below ``MARGIN`` for the
unit-sized quantities here, so no pair outside that band can have a smaller exact slack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

#: pairs (boxes) with a float slack this far above the smallest are not re-evaluated exactly
MARGIN = 1e-9


@dataclass(frozen=True)
class ExactCheck:
    """Minimal exact slacks and the exact value of one configuration."""

    value: Fraction
    slacks: dict[str, Fraction] = field(default_factory=dict)
    #: constraint families that must hold strictly (``> 0``), e.g. disjoint open discs
    strict: frozenset[str] = frozenset()
    #: the objective is ``sqrt(value)`` (a distance), not ``value``
    squared: bool = False

    @property
    def feasible(self) -> bool:
        return all(s > 0 if k in self.strict else s >= 0 for k, s in self.slacks.items())

    @property
    def rounded(self) -> float:
        """The objective rounded once to float64 (``sqrt`` correctly rounded for distances)."""
        return sqrt_rounded(self.value) if self.squared else float(self.value)


def sqrt_rounded(q: Fraction) -> float:
    """``sqrt(q)`` correctly rounded to float64: the float whose rounding interval (between
    the midpoints to its neighbours, squared exactly) holds ``q``."""
    if q < 0:
        raise ValueError("square root of a negative number")
    f = math.sqrt(float(q))
    for _ in range(8):
        down, up = math.nextafter(f, 0.0), math.nextafter(f, math.inf)
        if q < ((Fraction(f) + Fraction(down)) / 2) ** 2:
            f = down
        elif q > ((Fraction(f) + Fraction(up)) / 2) ** 2:
            f = up
        else:
            return f
    return f


def near_minimal(slack: np.ndarray, margin: float = MARGIN) -> np.ndarray:
    """Indices of the entries within ``margin`` of the smallest (the candidates for the exact minimum)."""
    if slack.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(slack <= slack.min() + margin)


def exact_min(values) -> Fraction:
    """Smallest of an iterable of Fractions (``inf`` as a large Fraction when empty)."""
    out = None
    for v in values:
        out = v if out is None or v < out else out
    return out if out is not None else Fraction(10**18)


def exact_pair_separation(centers: np.ndarray, radii: np.ndarray | None) -> Fraction:
    """Exact ``min_{i<j} |c_i - c_j|^2 - (r_i + r_j)^2`` (``radii=None``: the squared distance)."""
    n = len(centers)
    if n < 2:
        return Fraction(10**18)
    i, j = np.triu_indices(n, 1)
    d2 = np.sum((centers[i] - centers[j]) ** 2, axis=1)
    slack = d2 - ((radii[i] + radii[j]) ** 2 if radii is not None else 0.0)
    fc = [[Fraction(float(v)) for v in row] for row in centers]
    fr = [Fraction(float(v)) for v in radii] if radii is not None else None

    def exact(k: int) -> Fraction:
        a, b = int(i[k]), int(j[k])
        s = sum((x - y) ** 2 for x, y in zip(fc[a], fc[b]))
        return s - (fr[a] + fr[b]) ** 2 if fr is not None else s

    return exact_min(exact(int(k)) for k in near_minimal(slack))


def exact_box_slack(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> Fraction:
    """Exact ``min(values - low, high - values)`` over all entries (floats, broadcast)."""
    lo = np.broadcast_to(np.asarray(low, dtype=np.float64), values.shape)
    hi = np.broadcast_to(np.asarray(high, dtype=np.float64), values.shape)
    flat_v, flat_lo, flat_hi = values.ravel(), lo.ravel(), hi.ravel()
    s_lo, s_hi = flat_v - flat_lo, flat_hi - flat_v
    cands = [Fraction(float(flat_v[k])) - Fraction(float(flat_lo[k])) for k in near_minimal(s_lo)]
    cands += [Fraction(float(flat_hi[k])) - Fraction(float(flat_v[k])) for k in near_minimal(s_hi)]
    return exact_min(cands)
