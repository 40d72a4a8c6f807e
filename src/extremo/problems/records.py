"""Best known values of every problem, read from one table format shipped with the package.

Each problem ``name`` has a tab-separated table ``records/<name>.tsv`` (lines starting with
``#`` are comments; the first other line names the columns). The leading columns are instance
parameters (``n``, ``d``, ``region``...); the others are

* ``value``: the best known value in the problem's own unit, a decimal number or an exact
  closed form (``7/341``, ``sqrt(13)/6``, ``root(152, 12, -14, 1; 2)`` = the second smallest
  real root of ``152x^3 + 12x^2 - 14x + 1``, computed to full float64 precision); empty when
  the value is derived from ``source_value`` by ``conversion``;
* ``proven``: ``yes`` when the value is proven optimal;
* ``date`` and ``source``: when and where it was published;
* ``unit``: the quantity the source prints, when it differs from the problem's value;
* ``source_value``: the figure as the source prints it; ``conversion``: the formula in ``x``
  (the source's figure) that gives the value, e.g. ``2/(x-2)`` for a cube side ``L = x``.

Closed forms and conversions are evaluated by a small arithmetic grammar (numbers, ``+ - * /
**``, ``sqrt``, ``cbrt``, ``root``), never by ``eval``.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from typing import Any

import numpy as np

#: differences below this (relative) are ties: published tables come from solvers whose
#: feasibility tolerances are of this order (csqv n = 4 prints 1.006788474668 for a packing
#: that an exact check puts at 1.00678847466902), so a smaller "gain" is the same packing
TIE_RELATIVE = 1e-10

#: columns after the instance parameters, in this order
COLUMNS = ("value", "proven", "date", "source", "unit", "source_value", "conversion")


class RecordTableError(ValueError):
    """A malformed record table (a packaging error, named with file and line)."""


@dataclass(frozen=True)
class Record:
    """The best known value of an instance and where it comes from.

    ``exact`` is the closed form the value was computed from (empty for a decimal);
    ``unit``, ``source_value`` and ``conversion`` say how a value published in another unit
    was converted.
    """

    value: float
    source: str
    date: str = ""
    proven_optimal: bool = False
    exact: str = ""
    unit: str = ""
    source_value: str = ""
    conversion: str = ""
    #: one unit in the last printed digit of a decimal value (0 for exact closed forms)
    resolution: float = 0.0

    @property
    def tolerance(self) -> float:
        """How far a value may lie from this record and still tie with it: the printed
        resolution of a decimal, and at least `TIE_RELATIVE` of the value."""
        return max(self.resolution, TIE_RELATIVE * abs(self.value))


def polynomial_root(coefficients: list[Fraction], k: int) -> float:
    """The ``k``-th smallest real root (1-based) of ``sum c_i x^(m-i)``, correctly bracketed.

    numpy's eigenvalue roots locate it; bisection in exact rationals on a bracket with a sign
    change refines it until the float64 neighbours enclose it (``O(m)`` exact evaluations per
    step, about 60 steps).
    """
    approx = sorted(r.real for r in np.roots([float(c) for c in coefficients]) if abs(r.imag) < 1e-9)
    if not 1 <= k <= len(approx):
        raise ValueError(f"root index {k} out of range: the polynomial has {len(approx)} real roots")

    def p(x: Fraction) -> Fraction:
        acc = Fraction(0)
        for c in coefficients:
            acc = acc * x + c
        return acc

    r = approx[k - 1]
    lo, hi = Fraction(r) - Fraction(1, 10**9), Fraction(r) + Fraction(1, 10**9)
    if p(lo) == 0:
        return float(lo)
    if p(hi) == 0:
        return float(hi)
    if (p(lo) > 0) == (p(hi) > 0):
        raise ValueError(f"no sign change around the root near {r}")
    for _ in range(200):
        if float(lo) == float(hi) or math.nextafter(float(lo), math.inf) >= float(hi):
            break
        mid = (lo + hi) / 2
        if p(mid) == 0:
            return float(mid)
        if (p(mid) > 0) == (p(lo) > 0):
            lo = mid
        else:
            hi = mid
    return float((lo + hi) / 2)


_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.Pow: operator.pow}


def evaluate(text: str, x: float | None = None) -> float:
    """Value of a closed form or conversion (see the module docstring); ``x`` the source figure."""
    text = text.strip()
    if text.startswith("root(") and ";" in text:  # root(c_m, ..., c_0; k)
        coef_text, _, k = text[5:-1].partition(";")
        coefs = [Fraction(c.strip()) for c in coef_text.split(",")]
        return polynomial_root(coefs, int(k))

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id == "x" and x is not None:
            return float(x)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) == 1:
            f = {"sqrt": math.sqrt, "cbrt": lambda v: math.copysign(abs(v) ** (1 / 3), v)}.get(node.func.id)
            if f is not None:
                return f(ev(node.args[0]))
        raise ValueError(f"not an arithmetic expression: {text!r}")

    try:
        return ev(ast.parse(text, mode="eval"))
    except SyntaxError:
        raise ValueError(f"not an arithmetic expression: {text!r}") from None


def _parse_key(name: str, text: str) -> Any:
    return int(text) if text.lstrip("-").isdigit() else text


@functools.lru_cache(maxsize=None)
def record_table(problem: str) -> tuple[tuple[dict[str, Any], Record], ...]:
    """Every ``(instance, record)`` of ``problem``'s table, in file order (empty without a table)."""
    path = resources.files("extremo.problems") / "records" / f"{problem}.tsv"
    if not path.is_file():
        return ()
    rows: list[tuple[dict[str, Any], Record]] = []
    header: list[str] | None = None
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if header is None:
            header = cells
            keys = header[: len(header) - len(COLUMNS)]
            if tuple(header[len(keys):]) != COLUMNS:
                raise RecordTableError(f"{path}:{lineno}: columns must end with {', '.join(COLUMNS)}")
            continue
        if len(cells) != len(header):
            raise RecordTableError(f"{path}:{lineno}: {len(cells)} cells, expected {len(header)}")
        row = dict(zip(header, cells))
        instance = {k: _parse_key(k, row[k]) for k in keys}
        try:
            if row["value"]:
                value = evaluate(row["value"])
            else:
                value = evaluate(row["conversion"], float(row["source_value"]))
        except ValueError as e:
            raise RecordTableError(f"{path}:{lineno}: {e}") from None
        printed = row["value"] or ""
        exact = printed if printed and not _is_decimal(printed) else ""
        resolution = _resolution(printed) if printed and not exact else 0.0
        if not printed:  # derived: the source figure's resolution through the conversion's slope
            x, h = float(row["source_value"]), _resolution(row["source_value"])
            resolution = abs(evaluate(row["conversion"], x + h) - evaluate(row["conversion"], x - h)) / 2
        rows.append((instance, Record(value, row["source"], row["date"], row["proven"] == "yes", exact,
                                      row["unit"], row["source_value"], row["conversion"], resolution)))
    return tuple(rows)


def _resolution(decimal: str) -> float:
    """One unit in the last digit of a printed decimal (``"0.0604"`` -> ``1e-4``): tables round
    or truncate (Packomania's csqv truncates: n = 2 prints 0.585786437626 for
    2 - sqrt(2) = 0.5857864376269...), so the true value lies within one unit either way. An
    integer or a short exact decimal such as ``0.5`` (the trivial values) counts as exact."""
    if "." not in decimal or len(decimal.split(".")[1]) <= 2:
        return 0.0
    return 10.0 ** -len(decimal.split(".")[1].rstrip())


def _is_decimal(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def find_record(problem: str, instance: dict[str, Any]) -> Record | None:
    """The record of one instance: the row whose parameter columns all match ``instance``."""
    for keys, rec in record_table(problem):
        if all(instance.get(k) == v for k, v in keys.items()):
            return rec
    return None
