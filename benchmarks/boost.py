"""Learned loop benchmark: local search alone vs the open loop vs the closed loop, equal budgets.

One table, fixed seeds, the same wall-clock budget and the same compute (one process, one torch
thread each) for every method on every row:

  (a) local search alone: :func:`extremo.discover.discover` with one worker;
  (b) open loop: :func:`extremo.boost.boost` with ``mode="open"`` (retrain on elites, PatternBoost-style);
  (c) closed loop: :func:`extremo.boost.boost` with ``mode="closed"`` (reward-weighted fine-tuning).

Columns per method: best value, relative gap to the record (positive: short of it) and the number
of objective evaluations after which the best came within a relative 1e-3 of the record ("-" if
never). Rows whose problem is not registered (yet) are listed as skipped.

    python benchmarks/boost.py                                     # 600 s per method and row
    python benchmarks/boost.py --budget 90 --rows circles-sum-radii_n26 points-min-distance
"""

from __future__ import annotations

import argparse
import math
import tempfile

import torch
from rich.console import Console
from rich.table import Table

from extremo.boost import boost
from extremo.discover import discover
from extremo.problems import ProblemError, make, problem_names

ROWS = [
    ("circles-sum-radii", {"n": 26}),
    ("circles-sum-radii", {"n": 32}),
    ("points-min-distance", {"n": 30, "d": 2}),
    ("heilbronn", {"n": 12, "region": "square"}),
    ("star-discrepancy", {"n": 20, "d": 2}),
]
WITHIN = 1e-3


def _slug(name: str, inst: dict) -> str:
    return "_".join([name] + [f"{k}{v}" for k, v in inst.items()])


def _first_within(problem, history) -> int | None:
    for evaluations, value in history:
        gap = problem.gap(value)
        if gap is not None and gap <= WITHIN:
            return evaluations
    return None


def run_local(problem, budget: float, seed: int, out: str):
    history = []

    def progress(p, best, elapsed):
        if not math.isnan(best) and (not history or best != history[-1][1]):
            history.append((p.evaluations, best))

    r = discover(problem, seconds=budget, workers=1, seed=seed, out=out, on_progress=progress)
    return r.value, _first_within(problem, history)


def run_boost(problem, budget: float, seed: int, out: str, mode: str):
    r = boost(problem, seconds=budget, mode=mode, seed=seed, out=out)
    return r.value, _first_within(problem, r.history)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=600.0, help="seconds per method and row")
    ap.add_argument("--rows", nargs="*", default=None, help="keep rows whose slug contains one of these")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.budget > 0:
        ap.error(f"--budget must be positive, got {args.budget}")
    torch.set_num_threads(1)
    console = Console(width=200)
    table = Table(title=f"extremo boost benchmark: {args.budget:g} s per method, seed {args.seed}, one core each")
    table.add_column("instance")
    table.add_column("record")
    for m in ("local search", "open loop", "closed loop"):
        table.add_column(f"{m}: best")
        table.add_column("gap")
        table.add_column("evals to 1e-3")
    skipped = []
    for name, inst in ROWS:
        slug = _slug(name, inst)
        if args.rows and not any(r in slug for r in args.rows):
            continue
        if name not in problem_names():
            skipped.append(f"{slug}: problem {name!r} is not registered")
            continue
        try:
            problem = make(name, **inst)
        except ProblemError as e:
            skipped.append(f"{slug}: {e}")
            continue
        rec = problem.record()
        cells = []
        for method in ("local", "open", "closed"):
            with tempfile.TemporaryDirectory() as out:
                if method == "local":
                    value, evals = run_local(problem, args.budget, args.seed, out)
                else:
                    value, evals = run_boost(problem, args.budget, args.seed, out, method)
            gap = problem.gap(value)
            cells += [f"{value:.8g}", "-" if gap is None else f"{gap:+.2e}", str(evals) if evals else "-"]
            console.print(f"  {slug} {method}: {' / '.join(cells[-3:])}")
        table.add_row(problem.label, "-" if rec is None else f"{rec.value:.8g}", *cells)
    console.print(table)
    for s in skipped:
        console.print(f"skipped {s}")


if __name__ == "__main__":
    main()
