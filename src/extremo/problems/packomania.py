"""Packomania's ``.pck`` coordinate files (E. Specht, packomania.com, "hints for formatting").

A file is

* line 1: the radius of the circles (equal circles) or of the largest circle (unequal ones);
* line 2: the author name(s) (any text; optional when reading);
* one line per circle: ``x y`` (equal circles) or ``x y r`` (unequal ones), whitespace
  separated; an optional leading running index ``k`` (1, 2, ...) is accepted when reading.

The container is fixed: the square of side 1 centred at the origin, ``[-1/2, 1/2]^2``.
What we assumed where the page is silent (documented in docs/records.md): circles are
written largest first (ties by ``y``, then ``x``), with 12 decimals, radii rounded *down*.

`round_packing` rounds a packing to the decimals of the file and shrinks radii where
the rounded centres would make two circles overlap or a circle cross a wall, so the file is
still exactly feasible: it checks the decimals in exact integer arithmetic (units of
``10^-decimals``) on every pair whose float slack is within `MARGIN`
of touching, and reports the total and largest shrinkage.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np

from extremo.problems.base import ProblemError

#: decimals written per coordinate (Packomania's tables print 12 to 30)
DECIMALS = 12


@dataclass(frozen=True)
class PckFile:
    """The numbers of a ``.pck`` file in Packomania's frame (square ``[-1/2, 1/2]^2``)."""

    radius: float
    author: str
    centers: np.ndarray
    radii: np.ndarray | None  # None for equal circles (then every radius is ``radius``)
    #: the numbers as written, exactly: line 1's radius and ``(x, y[, r])`` per circle
    exact_radius: Fraction = Fraction(0)
    exact_rows: tuple[tuple[Fraction, ...], ...] = ()

    def exact_radii(self) -> list[Fraction]:
        return [row[2] for row in self.exact_rows] if self.radii is not None else [self.exact_radius] * len(self.exact_rows)


def exact_violation(f: PckFile) -> str | None:
    """The first constraint the file's numbers violate *exactly* (as decimals, no rounding):
    a circle crossing the square's sides or two circles whose interiors meet; ``None`` if none.
    Pairs are decided exactly when their float slack is within ``MARGIN`` of touching."""
    from extremo.problems.exact_check import MARGIN

    rs = f.exact_radii()
    half = Fraction(1, 2)
    for k, (row, r) in enumerate(zip(f.exact_rows, rs), 1):
        if r < 0 or abs(row[0]) + r > half or abs(row[1]) + r > half:
            return f"circle {k} crosses the side of the square [-1/2, 1/2]^2"
    n = len(rs)
    fr = f.radii if f.radii is not None else np.full(n, f.radius)
    i, j = np.triu_indices(n, 1)
    c = f.centers
    slack = ((c[i] - c[j]) ** 2).sum(-1) - (fr[i] + fr[j]) ** 2
    for k in np.flatnonzero(slack <= MARGIN):
        a, b = int(i[k]), int(j[k])
        pa, pb = f.exact_rows[a], f.exact_rows[b]
        if (pa[0] - pb[0]) ** 2 + (pa[1] - pb[1]) ** 2 < (rs[a] + rs[b]) ** 2:
            return f"circles {a + 1} and {b + 1} overlap"
    return None


def parse_pck(text: str, n: int, equal: bool, where: str = "file") -> PckFile:
    """Read a ``.pck`` file of ``n`` circles; one-line `ProblemError` on anything malformed
    (wrong line count, non-numbers, a circle outside the square)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise ProblemError(f"{where}: empty .pck file")
    if not text.endswith("\n"):
        raise ProblemError(f"{where}: the last line has no line end: the file looks truncated")
    try:
        radius = float(lines[0].split()[0]) if len(lines[0].split()) == 1 else math.nan
    except ValueError:
        radius = math.nan
    if math.isnan(radius):
        raise ProblemError(f"{where}: line 1 must be the radius (one number), got {lines[0][:40]!r}")
    body = lines[1:]
    author = ""
    if body and not _numeric(body[0]):
        author, body = body[0], body[1:]
    cols = 2 if equal else 3
    if len(body) != n:
        raise ProblemError(f"{where}: {len(body)} coordinate lines, expected {n} (one `x y{'' if equal else ' r'}` "
                           f"per circle)")
    rows, exact = [], []
    for k, line in enumerate(body, 1):
        cells = line.split()
        if len(cells) == cols + 1 and cells[0] == str(k):
            cells = cells[1:]
        if len(cells) != cols or not _numeric(" ".join(cells)):
            lineno = k + len(lines) - len(body)
            raise ProblemError(f"{where}: line {lineno}: expected {cols} numbers (x y{'' if equal else ' r'}), "
                               f"got {line[:60]!r}")
        rows.append([float(c) for c in cells])
        exact.append(tuple(Fraction(Decimal(c)) for c in cells))
    a = np.array(rows, dtype=np.float64)
    if not np.all(np.isfinite(a)) or not math.isfinite(radius):
        raise ProblemError(f"{where}: contains NaN or infinity")
    radii = None if equal else a[:, 2]
    r = np.full(n, radius) if equal else radii
    outside = np.abs(a[:, :2]) + r[:, None] - 0.5
    if np.any(outside > 0):
        k, ax = np.unravel_index(int(np.argmax(outside)), outside.shape)
        raise ProblemError(f"{where}: circle {k + 1} lies outside the square [-1/2, 1/2]^2 by "
                           f"{outside[k, ax]:.3e} in {'xy'[ax]}")
    return PckFile(radius, author, a[:, :2].copy(), radii, Fraction(Decimal(lines[0].split()[0])), tuple(exact))


def count_circles(text: str) -> int:
    """How many coordinate lines a ``.pck`` file has (its ``n``): the numeric lines after line 1."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return sum(1 for ln in lines[1:] if _numeric(ln))


def _numeric(line: str) -> bool:
    try:
        for c in line.split():
            Decimal(c)
        return bool(line.split())
    except InvalidOperation:
        return False


def _units(v: np.ndarray, decimals: int, down: bool = False) -> list[int]:
    """Floats to integers in units of ``10^-decimals`` (nearest, or rounded down)."""
    q = Decimal(1).scaleb(-decimals)
    mode = "ROUND_FLOOR" if down else "ROUND_HALF_EVEN"
    return [int(Decimal(float(x)).quantize(q, rounding=mode).scaleb(decimals)) for x in np.ravel(v)]


@dataclass(frozen=True)
class Rounded:
    """A packing rounded to ``decimals``: integer coordinates in units of ``10^-decimals``."""

    x: list[int]
    y: list[int]
    r: list[int]
    decimals: int
    shrink_total: float
    shrink_max: float
    shrunk: int


def round_packing(centers: np.ndarray, radii: np.ndarray, decimals: int = DECIMALS) -> Rounded:
    """Round centres (nearest) and radii (down) in the Packomania frame, then shrink radii
    until every pair and wall holds exactly (see the module docstring). O(n^2) floats, exact
    integers on the near-touching pairs only."""
    from extremo.problems.exact_check import MARGIN

    n = len(radii)
    x, y = _units(centers[:, 0], decimals), _units(centers[:, 1], decimals)
    r = _units(radii, decimals, down=True)
    start = list(r)
    half = 5 * 10 ** (decimals - 1)  # 1/2 in units
    i, j = np.triu_indices(n, 1)
    scale = 10.0**-decimals
    fx, fy = np.array(x) * scale, np.array(y) * scale
    for _ in range(100):
        changed = False
        for k in range(n):  # walls: |x| + r <= 1/2
            room = half - max(abs(x[k]), abs(y[k]))
            if r[k] > room:
                r[k], changed = max(room, 0), True
        fr = np.array(r) * scale
        slack = (fx[i] - fx[j]) ** 2 + (fy[i] - fy[j]) ** 2 - (fr[i] + fr[j]) ** 2
        for k in np.flatnonzero(slack <= MARGIN):
            a, b = int(i[k]), int(j[k])
            d2 = (x[a] - x[b]) ** 2 + (y[a] - y[b]) ** 2
            s = r[a] + r[b]
            if s * s > d2:  # overlap in exact integers: cut both radii to fit below floor(sqrt(d2))
                excess = s - math.isqrt(d2)
                cut_a = min((excess + 1) // 2, r[a])
                r[a], r[b] = r[a] - cut_a, max(r[b] - (excess - cut_a), 0)
                changed = True
        if not changed:
            break
    else:  # pragma: no cover - each round only shrinks; 100 rounds never happen in practice
        raise ProblemError("could not round the packing to a feasible .pck file")
    cuts = [(s - e) * scale for s, e in zip(start, r)]
    return Rounded(x, y, r, decimals, float(sum(cuts)), float(max(cuts, default=0.0)),
                   sum(1 for c in cuts if c > 0))


def format_pck(radius_line: str, author: str, lines: list[str]) -> str:
    return "\n".join([radius_line, author or "extremo", *lines]) + "\n"


def fixed(units: int, decimals: int) -> str:
    """Integer units to a fixed-point decimal string, e.g. ``-1234`` at 3 -> ``-1.234``."""
    sign = "-" if units < 0 else ""
    q, rem = divmod(abs(units), 10**decimals)
    return f"{sign}{q}.{rem:0{decimals}d}"


def order(r: list[int], x: list[int], y: list[int]) -> list[int]:
    """Largest circle first, ties by ``y`` then ``x`` (our reading of Packomania's order)."""
    return sorted(range(len(r)), key=lambda k: (-r[k], y[k], x[k]))
