"""Scaling benchmark: cost of one relaxation step, of one polish and peak memory against n.

Per problem and n (25, 50, 100, 200, 500, 1000, up to the problem's limit), in a fresh child
process on one torch thread (``torch.set_num_threads(1)``, BLAS single-threaded):

* ``step``: milliseconds per relaxation step of a batch of 8 fresh starts, through
  :meth:`extremo.search.local.LocalSearch.relax` (Adam, projection, neighbour-list rebuilds
  included), averaged over ``--steps`` steps; wall clock and the process's CPU time (one
  thread, so the CPU time is the cost on one core, less sensitive to a loaded machine);
* ``dense``: the same step with every pair term on all ``n(n-1)/2`` pairs (the reference, the
  code path before neighbour lists), and the ratio ``dense / step``;
* ``polish``: seconds to polish the first relaxed candidate (sparse SLP above 40 circles);
* ``peak``: the child's peak resident memory (MB, ``ru_maxrss``; a bare child with torch
  imported is about 0.3 GB of it).

The last row of each problem gives the exponents of ``step`` and ``polish`` fitted by least
squares on ``log t = a log n + b`` over ``n >= 100``.

    python benchmarks/scaling.py                                  # every problem, every n
    python benchmarks/scaling.py --problems circles-sum-radii --sizes 200 1000 --steps 60
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

#: (problem, fixed instance parameters, largest n)
PROBLEMS = [
    ("circles-sum-radii", {}, 1000),
    ("circles-rect", {}, 1000),
    ("points-min-distance", {"d": 2}, 1000),
    ("points-min-distance", {"d": 3}, 500),
    ("tammes", {}, 500),
    ("thomson", {}, 500),
]
SIZES = (25, 50, 100, 200, 500, 1000)
BATCH = 8


def child(name: str, instance: dict, steps: int, dense_steps: int) -> dict:
    """Measure one instance in this process (called in a fresh child)."""
    import resource

    import torch

    from extremo.problems import make
    from extremo.search.local import LocalSearch, SearchSettings

    torch.set_num_threads(1)

    def relax_time(problem, n_steps: int) -> tuple[float, torch.Tensor]:
        base = SearchSettings(**problem.search_defaults)
        per_stage = max(1, n_steps // len(base.mu))
        settings = SearchSettings(**{**base.as_dict(), "batch": BATCH, "steps": per_stage * len(base.mu)})
        search = LocalSearch(problem, settings, seed=0)
        starts = problem.random(BATCH, torch.Generator().manual_seed(0))
        LocalSearch(problem, SearchSettings(**{**settings.as_dict(), "steps": len(base.mu)})).relax(starts)  # warm-up
        t, c = time.perf_counter(), time.process_time()
        x = search.relax(starts)
        return (time.perf_counter() - t) / settings.steps, (time.process_time() - c) / settings.steps, x

    problem = make(name, **instance)
    step, cpu, x = relax_time(problem, steps)
    dense_problem = make(name, **instance)
    pairs = getattr(dense_problem, "_pairs", None)  # the problem's pair selector, if it has one
    if pairs is not None:
        pairs.sparse = False
    dense, _, _ = relax_time(dense_problem, dense_steps)
    t = time.perf_counter()
    z = problem.polish(x[0].numpy().astype(np.float64))
    polish = time.perf_counter() - t
    verdict = problem.verify(problem.to_config(z))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    return {"step": step, "cpu": cpu, "dense": dense, "polish": polish, "peak": peak,
            "feasible": bool(verdict.feasible), "value": verdict.value,
            "sparse": bool(pairs.sparse) if pairs is not None else False}


def fit(ns: list[int], ts: list[float]) -> float:
    """Least-squares slope of ``log t`` on ``log n`` over ``n >= 100`` (nan with < 2 points)."""
    pts = [(math.log(n), math.log(t)) for n, t in zip(ns, ts) if n >= 100 and t > 0]
    if len(pts) < 2:
        return math.nan
    a, _ = np.polyfit(*zip(*pts), 1)
    return float(a)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problems", nargs="*", default=None, help="problem names (default: all rows)")
    ap.add_argument("--sizes", nargs="*", type=int, default=list(SIZES))
    ap.add_argument("--steps", type=int, default=100, help="relaxation steps timed per instance")
    ap.add_argument("--dense-steps", type=int, default=10, help="steps timed for the dense reference")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, instance = json.loads(args.child)
        print(json.dumps(child(name, instance, args.steps, args.dense_steps)))
        return

    from rich.console import Console
    from rich.table import Table

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    table = Table(title=f"scaling: batch {BATCH}, one thread; load at start {os.getloadavg()[0]:.2f}")
    for col in ("problem", "n", "step ms", "step cpu ms", "dense ms", "dense/step", "polish s", "peak MB", "feasible"):
        table.add_column(col, justify="left" if col == "problem" else "right")
    for name, fixed, largest in PROBLEMS:
        if args.problems and name not in args.problems:
            continue
        label = " ".join([name] + [f"{k}={v}" for k, v in fixed.items()])
        rows = []
        for n in [s for s in args.sizes if s <= largest]:
            spec = json.dumps([name, {"n": n, **fixed}])
            out = subprocess.run([sys.executable, __file__, "--child", spec, "--steps", str(args.steps),
                                  "--dense-steps", str(args.dense_steps)],
                                 capture_output=True, text=True, env=env)
            if out.returncode != 0:
                table.add_row(label, str(n), "failed: " + out.stderr.strip().splitlines()[-1][:60], *[""] * 6)
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append((n, r))
            table.add_row(label, str(n), f"{1e3 * r['step']:.2f}", f"{1e3 * r['cpu']:.2f}", f"{1e3 * r['dense']:.2f}",
                          f"{r['dense'] / r['step']:.2f}", f"{r['polish']:.2f}", f"{r['peak']:.0f}",
                          "yes" if r["feasible"] else "NO")
        if rows:
            ns = [n for n, _ in rows]
            a = fit(ns, [r["step"] for _, r in rows])
            b = fit(ns, [r["polish"] for _, r in rows])
            table.add_row(label, "fit n>=100", f"n^{a:.2f}", f"n^{fit(ns, [r['cpu'] for _, r in rows]):.2f}",
                          f"n^{fit(ns, [r['dense'] for _, r in rows]):.2f}",
                          "", f"n^{b:.2f}", "", "", end_section=True)
    Console(width=150).print(table)
    print(f"load at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
