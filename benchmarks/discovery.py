"""Discovery benchmark: extremo's value on the headline instances after a fixed wall-clock budget.

One table: instance | best known | extremo | gap | budget | seconds to target | target.
Fixed seeds, default search settings, all local cores. The targets are those of the discovery
issue; a row with a target stops as soon as it is reached (its budget is the limit). ``--scale``
multiplies every budget (``--scale 0.1`` for a quick look), ``--rows`` keeps the rows whose label
contains one of the given strings, ``--out`` keeps the best configurations (JSON + PNG).

    python benchmarks/discovery.py                       # full budgets (at most about an hour)
    python benchmarks/discovery.py --rows circles-sum-radii --scale 0.5 --out docs/examples
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from extremo.discover import discover
from extremo.problems import ProblemError, make


@dataclass
class Row:
    problem: str
    instance: dict
    seconds: float
    target: float | None = None
    note: str = ""


#: (instance, budget in seconds, target value or None: "reach the record" where the note says so)
ROWS = [
    Row("circles-sum-radii", {"n": 26}, 600, 2.6358, ">= 2.6358 in 10 min"),
    Row("circles-sum-radii", {"n": 30}, 300),
    Row("circles-sum-radii", {"n": 32}, 1200, 2.9390, ">= 2.9390 in 20 min"),
    Row("circles-rect", {"n": 21}, 120),
    Row("points-min-distance", {"n": 26, "d": 2}, 60, None, "record to 1e-9"),
    Row("points-min-distance", {"n": 30, "d": 2}, 60, None, "record to 1e-9"),
    Row("points-min-distance", {"n": 55, "d": 3}, 120),
    Row("heilbronn", {"n": 13, "region": "square"}, 300, 0.0259, ">= 0.0259"),
    Row("heilbronn", {"n": 15, "region": "square"}, 120),
    Row("heilbronn", {"n": 11, "region": "triangle"}, 120),
    Row("star-discrepancy", {"n": 20, "d": 2}, 300, None, "proven optimum, 4 digits"),
    Row("star-discrepancy", {"n": 60, "d": 2}, 300),
    Row("tammes", {"n": 24}, 60, None, "record to 1e-6"),
    Row("tammes", {"n": 30}, 60, None, "record to 1e-6"),
    Row("tammes", {"n": 60}, 120, None, "record to 1e-6"),
    Row("thomson", {"n": 30}, 60, None, "record to 1e-6"),
    Row("thomson", {"n": 100}, 120, None, "record to 1e-6"),
    Row("thomson", {"n": 200}, 180, None, "record to 1e-6"),
]


def target_of(row: Row, problem) -> float | None:
    """The value to reach: the row's own, or the record within the note's tolerance."""
    if row.target is not None:
        return row.target
    rec = problem.record()
    if rec is None or not row.note:
        return None
    if "1e-9" in row.note:
        tol = 1e-9
    elif "1e-6" in row.note:
        tol = 1e-6
    else:  # "4 digits": rounds to the record's 4 digits
        return rec.value + (5e-5 if problem.sense == "min" else -5e-5)
    return rec.value * (1 - tol if problem.sense == "max" else 1 + tol)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every budget")
    ap.add_argument("--rows", nargs="*", default=None, help="keep rows whose instance contains one of these")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", default=None, help="directory for the best configurations (default: discarded)")
    args = ap.parse_args()

    console = Console(width=120)
    table = Table(title=f"extremo discovery benchmark (budget scale {args.scale:g}, seed {args.seed})")
    for col in ("instance", "best known", "extremo", "gap", "budget s", "s to target", "target"):
        table.add_column(col)
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or scratch
        for row in ROWS:
            label = " ".join([row.problem] + [f"{k}={v}" for k, v in row.instance.items()])
            if args.rows and not any(r in label for r in args.rows):
                continue
            try:
                problem = make(row.problem, **row.instance)
            except ProblemError as e:
                console.print(f"skipping {label}: {e}")
                continue
            budget = row.seconds * args.scale
            target = target_of(row, problem)
            reached: list[float] = []

            def watch(progress, best, elapsed, problem=problem, target=target, reached=reached):
                if target is not None and not reached and not math.isnan(best) and not problem.better(target, best):
                    reached.append(elapsed)

            start = time.monotonic()
            result = discover(problem, seconds=budget, workers=args.workers, seed=args.seed, out=out,
                              store=None, on_progress=watch, stop_at=target)
            rec = problem.record()
            met = "-" if target is None else ("met" if reached else "missed")
            table.add_row(
                problem.label,
                f"{rec.value:.10g}" if rec else "-",
                f"{result.value:.10g}",
                "-" if result.gap is None else f"{result.gap:+.2e}",
                f"{budget:.0f}",
                f"{reached[0]:.1f}" if reached else "-",
                f"{row.note or '-'}: {met}" if target is not None else (row.note or "-"),
            )
            console.print(f"{problem.label}: {result.value:.10g} after {time.monotonic() - start:.0f} s")
    console.print(table)


if __name__ == "__main__":
    main()
