"""Record sweep: for every n in a range, how fast extremo reaches the best known value.

One table: n | best known | extremo | relative gap | seconds | reached. Each instance runs
:func:`extremo.discover.discover` with the default settings and a fixed seed until its value is
within ``--tol`` (relative) of the record or the budget is spent.

    python benchmarks/sweep.py points-min-distance --d 2 --n 2-30 --tol 1e-9 --budget 60
    python benchmarks/sweep.py tammes --n 2-30 --tol 1e-6 --budget 60
"""

from __future__ import annotations

import argparse
import tempfile
import time

from rich.console import Console
from rich.table import Table

from extremo.discover import discover
from extremo.problems import make


def n_range(text: str) -> list[int]:
    """``"2-30"`` or ``"5,12,24"`` to a list of n."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("problem")
    ap.add_argument("--n", type=n_range, required=True, help="e.g. 2-30 or 5,12,24")
    ap.add_argument("--d", type=int, default=None)
    ap.add_argument("--region", default=None)
    ap.add_argument("--tol", type=float, default=1e-9, help="relative distance to the record that counts")
    ap.add_argument("--budget", type=float, default=60.0, help="seconds per instance at most")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()

    console = Console(width=120)
    table = Table(title=f"{args.problem}: reaching the record to {args.tol:g} (budget {args.budget:g} s, "
                        f"seed {args.seed})")
    for col in ("instance", "best known", "extremo", "rel. gap", "seconds", "reached"):
        table.add_column(col)
    hits = total = 0
    with tempfile.TemporaryDirectory() as out:
        for n in args.n:
            problem = make(args.problem, n=n, d=args.d, region=args.region)
            rec = problem.record()
            if rec is None:
                console.print(f"{problem.label}: no best known value, skipped")
                continue
            target = rec.value * (1 - args.tol if problem.sense == "max" else 1 + args.tol)
            start = time.monotonic()
            result = discover(problem, seconds=args.budget, workers=args.workers, seed=args.seed, out=out,
                              stop_at=target)
            seconds = time.monotonic() - start
            ok = result.status == "target reached"
            hits, total = hits + ok, total + 1
            table.add_row(problem.label, f"{rec.value:.12g}", f"{result.value:.12g}",
                          "-" if result.gap is None else f"{result.gap:+.1e}", f"{seconds:.1f}",
                          "yes" if ok else "no")
            console.print(f"{problem.label}: {result.value:.12g} ({'reached' if ok else 'missed'}, {seconds:.1f} s)")
    table.caption = f"{hits} of {total} instances within {args.tol:g} of the record"
    console.print(table)


if __name__ == "__main__":
    main()
