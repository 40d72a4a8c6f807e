"""Strength profile of the local search per problem: where the time goes, where the bests come from.

Every job is one (row, seed) run of :class:`extremo.search.profile.ProfiledSearch`, one worker on
one core (one torch thread), ``--time`` seconds of search; the oracle pass (every relaxed row
polished, every ``--oracle-every``-th round, at most ``--oracle-budget`` times the search's time)
runs on top of that and is not counted. ``--jobs`` jobs run side by side. Per row, over the seeds:

  gap         gap to the record at the end, per seed (positive: short of it);
  relax, polish, verify, starts   mean share of the search's wall time (starts: fresh draws and kicks);
  rounds      median number of rounds;
  fresh/kick  improvements (new bests beating an existing best) from fresh starts / from kicks, pooled;
  since       rounds since the best last changed, at the end, per seed;
  reached     oracle rounds where an unpolished relaxed row beat the round's polished best, pooled
              (high: the relaxation reaches better basins than the polish is given);
  missed      ... where it beat the worker's best (polishing everything would have improved it).

Results go to a SQLite file (``--results``) keyed by (row, seed, time, oracle settings, commit), with
the load average; a rerun on the same commit only runs what is missing, ``--report`` prints what is
stored, one table row per instance and commit.

    python benchmarks/strength.py --time 60 --seeds 2
    python benchmarks/strength.py --rows thomson tammes --time 60 --seeds 2
    python benchmarks/strength.py --report
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import sqlite3
import statistics
import time
from pathlib import Path

from boost import commit_id, load, slug_of

ROWS = [
    ("circles-sum-radii", {"n": 28}),
    ("circles-sum-radii", {"n": 40}),
    ("points-min-distance", {"n": 30, "d": 2}),
    ("heilbronn", {"n": 12, "region": "square"}),
    ("tammes", {"n": 30}),
    ("thomson", {"n": 50}),
    ("star-discrepancy", {"n": 40, "d": 2}),
]
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "strength.sqlite"

COLUMNS = (
    ("slug", "TEXT"), ("seed", "INTEGER"), ("time", "REAL"), ("label", "TEXT"), ("value", "REAL"),
    ("gap", "REAL"), ("best_origin", "TEXT"), ("rounds", "INTEGER"), ("seconds", "REAL"),
    ("share_starts", "REAL"), ("share_relax", "REAL"), ("share_polish", "REAL"), ("share_verify", "REAL"),
    ("improvements", "TEXT"), ("since", "INTEGER"), ("oracle_rounds", "INTEGER"), ("oracle_reached", "INTEGER"),
    ("oracle_missed", "INTEGER"), ("oracle_seconds", "REAL"), ("history", "TEXT"), ("wall", "REAL"),
    ("oracle_every", "INTEGER"), ("finished", "TEXT"), ("commit_id", "TEXT"), ("load", "TEXT"),
    ("oracle_budget", "REAL"),
)
KEY = ("slug", "seed", "time", "oracle_every", "oracle_budget", "commit_id")
SCHEMA = ("CREATE TABLE IF NOT EXISTS results (" + ", ".join(f"{n} {t}" for n, t in COLUMNS)
          + f", PRIMARY KEY ({', '.join(KEY)}))")


def open_results(path: Path) -> sqlite3.Connection:
    """The results file, its table brought to `COLUMNS` and `KEY` (older files lack ``oracle_budget``,
    then 0.5, the default of the time, and keyed rows without the commit)."""
    db = sqlite3.connect(path)
    info = list(db.execute("PRAGMA table_info(results)"))
    have = [r[1] for r in info]
    key = tuple(r[1] for r in sorted((r for r in info if r[5]), key=lambda r: r[5]))
    if info and key != KEY:
        db.execute("ALTER TABLE results RENAME TO old_results")
        db.execute(SCHEMA)
        cols = [n for n, _ in COLUMNS]
        values = [n if n in have else "0.5" for n in cols]
        db.execute(f"INSERT INTO results ({', '.join(cols)}) SELECT {', '.join(values)} FROM old_results")
        db.execute("DROP TABLE old_results")
        db.commit()
    db.execute(SCHEMA)
    return db


def run_job(job: tuple) -> tuple:
    """One (row, seed) profiled run on one core; returns the result row (in `COLUMNS` order)."""
    name, inst, seed, seconds, every, budget = job
    import torch

    from extremo.problems import make
    from extremo.search.profile import ProfiledSearch

    torch.set_num_threads(1)
    problem = make(name, **inst)
    started, load_at_start = time.time(), load()
    search = ProfiledSearch(problem, seed=seed, oracle_every=every, oracle_budget=budget)
    search.run(seconds)
    prof = search.profile()
    oracles = [r.oracle for r in prof.rounds if r.oracle is not None]
    return (slug_of(name, inst), seed, seconds, prof.label, prof.best, prof.gap, prof.best_origin, len(prof.rounds),
            prof.seconds, prof.shares["starts"], prof.shares["relax"], prof.shares["polish"], prof.shares["verify"],
            json.dumps(prof.improvements, sort_keys=True), prof.rounds_since_improvement, len(oracles),
            sum(o.beats_round for o in oracles), sum(o.beats_best for o in oracles), prof.oracle_seconds,
            json.dumps([(round(t, 3), v) for t, v, _ in prof.history]), time.time() - started, every,
            time.strftime("%Y-%m-%d %H:%M", time.gmtime()), commit_id(), f"{load_at_start} -> {load()}", budget)


def pct(num: float, den: float) -> str:
    return "-" if not den else f"{100 * num / den:.0f}%"


def report(db: sqlite3.Connection, rows, seconds: float, every: int, budget: float) -> None:
    from rich.console import Console
    from rich.table import Table

    from extremo.problems import make

    table = Table(title=f"local-search strength profile, {seconds:g} s per run, one worker on one core; "
                        f"oracle every {every} rounds, at most {budget:g} x the search time")
    for col in ("instance", "seeds", "gap to record", "relax", "polish", "verify", "starts", "rounds",
                "impr. fresh/kick", "since", "reached", "missed", "commit"):
        table.add_column(col, justify="left" if col in ("instance", "commit") else "right")
    db.row_factory = sqlite3.Row
    for name, inst in rows:
        runs = db.execute("SELECT * FROM results WHERE slug=? AND time=? AND oracle_every=? AND oracle_budget=? "
                          "ORDER BY finished", (slug_of(name, inst), seconds, every, budget)).fetchall()
        for commit in dict.fromkeys(r["commit_id"] for r in runs):
            add_row(table, make(name, **inst).label, sorted((r for r in runs if r["commit_id"] == commit),
                                                            key=lambda r: r["seed"]))
    Console(width=200).print(table)


def add_row(table, label: str, got: list) -> None:
    """One table row: the runs of one instance on one commit."""
    mean = lambda k: f"{100 * statistics.fmean(r[k] for r in got):.0f}%"  # noqa: E731
    imp = [json.loads(r["improvements"]) for r in got]
    kick = sum(d.get("kick", 0) for d in imp)
    total = sum(sum(d.values()) for d in imp)
    o_rounds = sum(r["oracle_rounds"] for r in got)
    gaps = " ".join("-" if r["gap"] is None else f"{r['gap']:+.1e}" for r in got)
    table.add_row(
        label, ",".join(str(r["seed"]) for r in got), gaps, mean("share_relax"),
        mean("share_polish"), mean("share_verify"), mean("share_starts"),
        f"{statistics.median(r['rounds'] for r in got):.0f}",
        f"{pct(total - kick, total)}/{pct(kick, total)} of {total}", " ".join(str(r["since"]) for r in got),
        f"{pct(sum(r['oracle_reached'] for r in got), o_rounds)} of {o_rounds}",
        pct(sum(r["oracle_missed"] for r in got), o_rounds),
        got[0]["commit_id"] or "?")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=float, default=60.0, help="seconds of search per run (oracle time not counted)")
    ap.add_argument("--seeds", type=int, default=2, help="seeds 0..SEEDS-1")
    ap.add_argument("--rows", nargs="*", default=None, help="keep rows whose slug contains one of these")
    ap.add_argument("--jobs", type=int, default=2, help="runs side by side (one core each)")
    ap.add_argument("--oracle-every", type=int, default=5, help="oracle pass on every k-th round (0: none)")
    ap.add_argument("--oracle-budget", type=float, default=0.5,
                    help="oracle seconds at most this multiple of the search's seconds")
    ap.add_argument("--results", default=str(DEFAULT_RESULTS), help="SQLite file of the results")
    ap.add_argument("--report", action="store_true", help="only print the table of stored results")
    args = ap.parse_args()
    if not (math.isfinite(args.time) and args.time > 0) or args.seeds < 1 or args.jobs < 1:
        ap.error("--time must be a positive number of seconds, --seeds and --jobs at least 1")
    if args.oracle_every < 0 or not args.oracle_budget >= 0:
        ap.error("--oracle-every and --oracle-budget must be nonnegative")
    rows = [(n, i) for n, i in ROWS if not args.rows or any(r in slug_of(n, i) for r in args.rows)]
    if not rows:
        ap.error(f"no row matches {' '.join(args.rows)}; rows: {', '.join(slug_of(n, i) for n, i in ROWS)}")
    path = Path(args.results).expanduser()
    if args.report and not path.exists():
        ap.error(f"no results file {path}; run the benchmark first")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = open_results(path)
    if not args.report:
        done = {tuple(r) for r in db.execute("SELECT slug, seed FROM results WHERE time=? AND oracle_every=? "
                                             "AND oracle_budget=? AND commit_id=?", (args.time, args.oracle_every,
                                                                                    args.oracle_budget, commit_id()))}
        jobs = [(n, i, s, args.time, args.oracle_every, args.oracle_budget) for n, i in rows
                for s in range(args.seeds) if (slug_of(n, i), s) not in done]
        with mp.get_context("spawn").Pool(args.jobs, maxtasksperchild=1) as pool:
            for row in pool.imap_unordered(run_job, jobs):
                db.execute(f"INSERT OR REPLACE INTO results VALUES ({','.join('?' * len(COLUMNS))})", row)
                db.commit()
                print(f"  {row[3]} seed {row[1]}: {row[4]:.10g} (gap {row[5]}), {row[7]} rounds, "
                      f"wall {row[20]:.0f} s", flush=True)
    report(db, rows, args.time, args.oracle_every, args.oracle_budget)


if __name__ == "__main__":
    main()
