"""Learned loop benchmark: does the generator earn its place? Equal budgets, several seeds.

Every job is one (row, method, seed) at the same wall-clock budget on one core (one process, one
torch thread); ``--jobs`` jobs run side by side (2 on a 2-core machine). Methods:

  local   (a) local search alone: :func:`extremo.discover.discover`, one worker;
  open    (b) open loop: :func:`extremo.boost.boost`, ``mode="open"`` (retrain on elites);
  rwr     (c) closed loop, reward-weighted regression with a trust region;
  policy  (c') closed loop, GRPO policy step over the sampler noise (:mod:`extremo.boost.policy`);
  transfer(d) closed loop with the better fine-tuning option (policy: it beat rwr on circles n=32,
          3 seeds) pre-trained on the stored bests of sizes n-R..n+R (``--radius``);
          those come from a preparation slice of local-search runs on the neighbours
          (``--prep`` seconds each, seed 100, recorded in the same run store, not in d's budget).

Per row and method: median and min-max over the seeds of the value at the budget, of the gap to
the record, and of the evaluations after which the best came within a relative ``1e-4`` of the
record (``-``: never; the median counts "never" as infinite). Results are kept in a SQLite file
(``--results``), so the benchmark runs in slices across sessions and a rerun only runs the jobs
still missing; the table is printed from everything stored for the chosen rows, methods and budget.
The default results file, ``benchmarks/results/boost.sqlite``, is committed after each slice.

    python benchmarks/boost.py --rows circles-sum-radii_n32 --methods local rwr --seeds 5 --budget 300
    python benchmarks/boost.py --report                     # the table of what is stored
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROWS = [
    ("circles-sum-radii", {"n": 32}),
    ("circles-sum-radii", {"n": 50}),
    ("circles-sum-radii", {"n": 80}),
    ("heilbronn", {"n": 15, "region": "square"}),
    ("points-min-distance", {"n": 55, "d": 3}),
]
METHODS = ("local", "open", "rwr", "policy", "transfer")
WITHIN = 1e-4
#: committed with the repository, so that slices run in different sessions add up
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "boost.sqlite"

SCHEMA = """CREATE TABLE IF NOT EXISTS results (
    slug TEXT, method TEXT, seed INTEGER, budget REAL, value REAL, evals_to_target INTEGER,
    evaluations INTEGER, seconds REAL, finished TEXT, commit_id TEXT, load TEXT,
    PRIMARY KEY (slug, method, seed, budget))"""


def slug_of(name: str, inst: dict) -> str:
    return "_".join([name] + [f"{k}{v}" for k, v in inst.items()])


def first_within(problem, history) -> int | None:
    for evaluations, value in history:
        gap = problem.gap(value)
        if gap is not None and gap <= WITHIN:
            return evaluations
    return None


def run_job(job: tuple) -> tuple:
    """One (row, method, seed) at ``budget`` seconds on one core; returns the result row."""
    name, inst, method, seed, budget, store_path, radius = job
    import torch

    from extremo.boost import BoostSettings, boost
    from extremo.discover import discover
    from extremo.problems import make
    from extremo.store import Store

    torch.set_num_threads(1)
    problem = make(name, **inst)
    with tempfile.TemporaryDirectory() as out, Store(store_path) as store:
        if method == "local":
            r = discover(problem, seconds=budget, workers=1, seed=seed, out=out, store=store)
        else:
            mode = "open" if method == "open" else "closed"
            settings = BoostSettings(finetune="rwr" if method in ("open", "rwr") else "policy",
                                     transfer=radius if method == "transfer" else 0)
            r = boost(problem, seconds=budget, mode=mode, seed=seed, out=out, store=store, settings=settings)
    return (slug_of(name, inst), method, seed, budget, r.value, first_within(problem, r.history),
            r.evaluations, r.seconds, time.strftime("%Y-%m-%d %H:%M"), commit_id(), load())


def commit_id() -> str:
    """The extremo commit the job ran (``+dirty`` with uncommitted changes), from the imported package."""
    import extremo

    where = Path(extremo.__file__).resolve().parent
    git = ["git", "-C", str(where)]
    try:
        head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run([*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True).stdout.strip()
    except OSError:
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def prep_jobs(name: str, inst: dict, radius: int, seconds: float, store_path: str) -> list[tuple]:
    """Local-search jobs on the neighbouring instances that have no stored best yet."""
    from extremo.problems import make
    from extremo.store import Store

    jobs = []
    with Store(store_path) as store:
        for other in make(name, **inst).neighbours(radius):
            if store.best_run(other.label, other.sense) is None:
                jobs.append((name, other.instance, "local", 100, seconds, store_path, 0))
    return jobs


def summarise(values: list[float], fmt: str) -> str:
    finite = [v for v in values if math.isfinite(v)]
    med = statistics.median(values) if values else math.nan
    if not finite:
        return "-"
    med_s = "-" if not math.isfinite(med) else format(med, fmt)
    return f"{med_s} ({format(min(finite), fmt)} .. {format(max(finite), fmt)})"


def report(db: sqlite3.Connection, rows, methods, budget: float) -> None:
    from rich.console import Console
    from rich.table import Table

    from extremo.problems import make

    table = Table(title=f"extremo boost benchmark: {budget:g} s per run, one core each; median (min .. max) "
                        f"over seeds; evaluations to within {WITHIN:g} of the record")
    for col in ("instance", "record", "method", "seeds", "value", "gap", "evals to target", "median ratio to (a)",
                "commits"):
        table.add_column(col)
    for name, inst in rows:
        problem = make(name, **inst)
        rec = problem.record()
        slug = slug_of(name, inst)
        base = None
        for method in methods:
            got = db.execute("SELECT value, evals_to_target, commit_id FROM results WHERE slug=? AND method=? "
                             "AND budget=?", (slug, method, budget)).fetchall()
            if not got:
                continue
            values = [v for v, _, _ in got]
            gaps = [problem.gap(v) if problem.gap(v) is not None else math.nan for v in values]
            evals = [float(e) if e is not None else math.inf for _, e, _ in got]
            commits = ", ".join(sorted({c or "unrecorded" for _, _, c in got}))
            med = statistics.median(values)
            if method == "local":
                base = med
            ratio = "-" if base is None or method == "local" else f"{med / base:.6f}"
            table.add_row(problem.label, "-" if rec is None else f"{rec.value:.10g}", method, str(len(got)),
                          summarise(values, ".8g"), summarise(gaps, "+.2e"), summarise(evals, ".0f"), ratio, commits)
    Console(width=220).print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=300.0, help="seconds per run")
    ap.add_argument("--rows", nargs="*", default=None, help="keep rows whose slug contains one of these")
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side (one core each)")
    ap.add_argument("--radius", type=int, default=2, help="neighbour radius of the transfer method")
    ap.add_argument("--prep", type=float, default=60.0, help="seconds per neighbour in the preparation slice")
    ap.add_argument("--store", default=str(Path(tempfile.gettempdir()) / "extremo-bench-boost-runs.sqlite"),
                    help="run store (the neighbours' bests for the transfer method live here)")
    ap.add_argument("--results", default=str(DEFAULT_RESULTS), help="SQLite file of the benchmark's results")
    ap.add_argument("--report", action="store_true", help="only print the table of stored results")
    args = ap.parse_args()
    if not args.budget > 0 or args.seeds < 1 or args.jobs < 1:
        ap.error("--budget must be positive, --seeds and --jobs at least 1")
    rows = [(n, i) for n, i in ROWS if not args.rows or any(r in slug_of(n, i) for r in args.rows)]
    if not rows:
        ap.error(f"no row matches {args.rows}; rows: {', '.join(slug_of(n, i) for n, i in ROWS)}")
    Path(args.results).expanduser().parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(Path(args.results).expanduser())
    db.execute(SCHEMA)
    have = {r[1] for r in db.execute("PRAGMA table_info(results)")}
    for col in ("commit_id", "load"):
        if col not in have:
            db.execute(f"ALTER TABLE results ADD COLUMN {col} TEXT")
    if not args.report:
        done = {tuple(r) for r in db.execute("SELECT slug, method, seed FROM results WHERE budget=?", (args.budget,))}
        jobs = [(n, i, m, s, args.budget, args.store, args.radius) for n, i in rows for m in args.methods
                for s in range(args.seeds) if (slug_of(n, i), m, s) not in done]
        prep = [j for n, i in rows if "transfer" in args.methods for j in prep_jobs(n, i, args.radius, args.prep,
                                                                                   args.store)]
        ctx = mp.get_context("spawn")
        with ctx.Pool(args.jobs, maxtasksperchild=1) as pool:
            list(pool.imap_unordered(run_job, prep))
            for row in pool.imap_unordered(run_job, jobs):
                db.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)", row)
                db.commit()
                print(f"  {row[0]} {row[1]} seed {row[2]}: {row[4]:.10g} (evals to target: {row[5] or '-'})",
                      flush=True)
    report(db, rows, args.methods, args.budget)


if __name__ == "__main__":
    main()
