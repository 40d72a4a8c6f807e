"""extremo vs the strongest public classical solver for circles-sum-radii, same budget, same cores.

The peer is ``solver/pack.py`` of github jasonzliang/circle-packing-sota (multistart joint SLSQP
over (x, y, r), the exact radius LP for fixed centres, greedy subset hopping). It is not a
dependency: its checkout is read from the environment variable ``CIRCLE_PACKING_SOTA`` (a
directory holding ``solver/pack.py``, ``solver/container.py`` and ``solver/shape.py``).

One job is one (n, seed): first ``extremo.discover.discover`` with ``--time`` seconds on
``--workers`` processes (one torch thread each), then the peer on the same number of cores:
``--workers`` processes of ``OMP_NUM_THREADS=1 python pack.py -n N --time T --seed s`` side by
side, with the seeds ``s = seed * workers + k`` (k = 0 .. workers-1), of which the best counts.
The two solvers never run at the same time. Both outputs are checked by ``extremo verify`` (strict
feasibility in float64, no tolerance); the value reported is the verified one.

Times are from each solver's start (extremo: the ``discover`` call, worker start-up included; the
peer: the launch of its processes, interpreter start-up included), read from the improvements as
they are reported: extremo's ``on_progress`` callback (at the end of each search round), the peer's
``new best`` lines (9 decimals, timestamped as they arrive; the best over its processes).
``to best``: when the best so far first came within ``TIE`` (relative to the record) of the final
value. ``to record``: when the
best first came within ``TIE`` (relative) of the Packomania record (``-``: never). ``extremo -
peer`` within ``TIE`` of the record counts as a tie. Per n, over the seeds: the median value
(min .. max with more than one seed), the median of the paired differences, and the median times
(a "never" counts as infinite).

Results go to a SQLite file (``--results``), one row per (n, seed, budget, workers, solver), so the
benchmark runs in slices and a rerun only runs what is missing; ``--slice-minutes`` stops starting
jobs that would not end in time. Each row keeps the extremo commit and the load (``uptime``).

    CIRCLE_PACKING_SOTA=/tmp/circle-packing-sota \\
        flock /tmp/extremo-heavy.lock python benchmarks/circles_sota.py --n 26 32 --time 120
    python benchmarks/circles_sota.py --report
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ENV = "CIRCLE_PACKING_SOTA"
PEER_FILES = ("pack.py", "container.py", "shape.py")
SIZES = (26, 28, 32, 37, 40, 45, 50, 60)
#: relative distance to the record (and between the solvers) that counts as the same value
TIE = 1e-9
REPO = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = Path(__file__).resolve().parent / "results" / "circles_sota.sqlite"
#: seconds a job may take beyond the two budgets (start-up, the peer's last refine, verification)
JOB_SLACK = 40.0

SCHEMA = """CREATE TABLE IF NOT EXISTS results (
    n INTEGER, seed INTEGER, budget REAL, workers INTEGER, solver TEXT,
    value REAL, to_best REAL, to_record REAL, wall REAL, detail TEXT,
    commit_id TEXT, load TEXT, finished TEXT, timeline TEXT,
    PRIMARY KEY (n, seed, budget, workers, solver))"""


def peer_solver_dir() -> Path:
    """``$CIRCLE_PACKING_SOTA/solver``; one line and exit 2 if unset or not a checkout."""
    root = os.environ.get(ENV)
    if not root:
        _fail(f"{ENV} is not set; set it to a checkout of github jasonzliang/circle-packing-sota "
              "(the directory holding solver/pack.py)")
    solver = Path(root).expanduser() / "solver"
    missing = [f for f in PEER_FILES if not (solver / f).is_file()]
    if missing:
        _fail(f"{ENV}={root} is not a circle-packing-sota checkout: no {', '.join('solver/' + f for f in missing)}; "
              "point it at the directory holding solver/pack.py")
    return solver


def _fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def load_average() -> str:
    """The machine's load, as ``uptime`` prints it."""
    return "load average: " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def extremo_commit() -> str:
    """Short commit of the tree; with uncommitted changes in ``src/``, ``+dirty`` and the first
    8 hex digits of the SHA-1 of ``git diff HEAD -- src`` (tells apart runs on different edits)."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True).stdout.strip()
    diff = git("diff", "HEAD", "--", "src")
    return git("rev-parse", "--short", "HEAD") + (f"+dirty:{hashlib.sha1(diff.encode()).hexdigest()[:8]}" if diff else "")


def first_reaching(timeline: list[tuple[float, float]], target: float) -> float | None:
    """Earliest time in ``(seconds, value)`` whose value is at least ``target``."""
    return next((t for t, v in timeline if v >= target), None)


def verify_file(config_path: Path) -> tuple[float | None, str]:
    """``extremo verify``: the verified sum of radii, or ``None`` and the reason."""
    proc = subprocess.run([sys.executable, "-m", "extremo", "verify", str(config_path)], capture_output=True,
                          text=True, env={**os.environ, "COLUMNS": "300"})
    text = " ".join((proc.stdout + proc.stderr).split())
    found = re.search(r"feasible, sum of radii = ([0-9.eE+-]+)", text)
    if proc.returncode != 0 or not found:
        return None, text or f"extremo verify exited {proc.returncode}"
    return float(found.group(1)), "verified"


def run_extremo(n: int, seed: int, budget: float, workers: int, work: Path) -> dict:
    import torch

    from extremo.discover import discover
    from extremo.problems import make
    from extremo.store import Store

    torch.set_num_threads(1)
    problem = make("circles-sum-radii", n=n)
    timeline: list[tuple[float, float]] = []

    def progress(_progress, best: float, elapsed: float) -> None:
        if not math.isnan(best) and (not timeline or best > timeline[-1][1]):
            timeline.append((elapsed, best))

    start = time.monotonic()
    with Store(work / "store.sqlite") as store:
        r = discover(problem, seconds=budget, workers=workers, seed=seed, out=work / "extremo", store=store,
                     on_progress=progress)
    wall = time.monotonic() - start
    if r.json_path is None:
        return {"value": math.nan, "timeline": timeline, "wall": wall, "detail": f"no result: {r.status} {r.reason}"}
    value, detail = verify_file(r.json_path)
    return {"value": math.nan if value is None else value, "timeline": timeline, "wall": wall,
            "detail": f"{detail}; {r.evaluations} evaluations"}


NEW_BEST = re.compile(r"new best ([0-9.]+)")


def run_peer(solver: Path, n: int, seed: int, budget: float, workers: int, work: Path) -> dict:
    """``workers`` processes of pack.py (seeds ``seed * workers + k``), their best verified."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONUNBUFFERED": "1"}
    seeds = [seed * workers + k for k in range(workers)]
    outs = [work / f"peer_seed{s}.json" for s in seeds]
    timelines: list[list[tuple[float, float]]] = [[] for _ in seeds]
    logs: list[list[str]] = [[] for _ in seeds]
    start = time.monotonic()
    procs = [subprocess.Popen([sys.executable, "pack.py", "-n", str(n), "--time", str(budget), "--seed", str(s),
                               "-o", str(out)], cwd=solver, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for s, out in zip(seeds, outs)]

    def read(k: int) -> None:
        for line in procs[k].stdout:
            logs[k].append(line.rstrip())
            found = NEW_BEST.search(line)
            if found:
                timelines[k].append((time.monotonic() - start, float(found.group(1))))

    readers = [threading.Thread(target=read, args=(k,)) for k in range(workers)]
    for t in readers:
        t.start()
    for t in readers:
        t.join()
    codes = [p.wait() for p in procs]
    wall = time.monotonic() - start
    best, notes = None, []
    for k, (s, out) in enumerate(zip(seeds, outs)):
        if codes[k] != 0 or not out.exists():
            notes.append(f"seed {s}: exit {codes[k]}: {logs[k][-1] if logs[k] else ''}")
            continue
        found = json.loads(out.read_text())
        circles = found["circles"]
        doc = {"problem": "circles-sum-radii", "instance": {"n": n},
               "centers": [[c[0], c[1]] for c in circles], "radii": [c[2] for c in circles]}
        converted = work / f"peer_seed{s}.extremo.json"
        converted.write_text(json.dumps(doc))
        value, detail = verify_file(converted)
        if value is None:
            notes.append(f"seed {s}: {detail}")
        elif best is None or value > best[0]:
            best = (value, k, s)
    if best is None:
        return {"value": math.nan, "timeline": [], "wall": wall, "detail": "; ".join(notes) or "no output"}
    value, _, s = best
    running, timeline = -math.inf, []
    for t, v in sorted(p for tl in timelines for p in tl):
        if v > running:
            running = v
            timeline.append((t, v))
    return {"value": value, "timeline": timeline, "wall": wall,
            "detail": "; ".join([f"verified; best of seeds {seeds} is seed {s}"] + notes)}


def time_to_best(result: dict, tie: float, slack: float) -> float | None:
    """When the solver's best so far first came within ``tie`` (absolute) of its final value."""
    tl = result["timeline"]
    return None if not tl or math.isnan(result["value"]) else first_reaching(tl, result["value"] - tie - slack)


def run_job(solver: Path, n: int, seed: int, budget: float, workers: int, db: sqlite3.Connection) -> None:
    from extremo.problems import make

    record = make("circles-sum-radii", n=n).record().value
    target = record - TIE * record
    commit, load = extremo_commit(), load_average()
    rows = []
    with tempfile.TemporaryDirectory(prefix="extremo-circles-sota-") as tmp:
        work = Path(tmp)
        for name, run in (("extremo", lambda: run_extremo(n, seed, budget, workers, work)),
                          ("peer", lambda: run_peer(solver, n, seed, budget, workers, work))):
            r = run()
            # the peer prints 9 decimals: allow their rounding when reading its time to the record
            slack = 5e-10 if name == "peer" else 0.0
            to_record = first_reaching(r["timeline"], target - slack) if r["value"] >= target else None
            rows.append((n, seed, budget, workers, name, r["value"], time_to_best(r, TIE * record, slack), to_record,
                         r["wall"], r["detail"], commit, load, time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                         json.dumps([[round(t, 2), v] for t, v in r["timeline"]])))
            print(f"  n={n} seed {seed} {name}: {r['value']:.12f} (gap {(record - r['value']) / record:+.2e}, "
                  f"to best {_seconds(rows[-1][6])}, to record {_seconds(to_record)}, wall {r['wall']:.0f} s) "
                  f"{r['detail']}", flush=True)
    db.executemany("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()


def _seconds(t: float | None) -> str:
    return "-" if t is None or not math.isfinite(t) else f"{t:.1f}"


def _median_time(values: list[float | None]) -> float:
    return statistics.median([math.inf if v is None else v for v in values])


def _ratio(a: float, b: float) -> str:
    if math.isinf(a) and math.isinf(b):
        return "-"
    if math.isinf(a):
        return "inf"
    return f"{a / b:.2f}" if b > 0 and math.isfinite(b) else "0"


def _spread(values: list[float], fmt: str) -> str:
    med = format(statistics.median(values), fmt)
    return med if len(values) == 1 else f"{med} ({format(min(values), fmt)} .. {format(max(values), fmt)})"


COLUMNS = ("n", "record", "seeds", "extremo", "peer", "gap extremo (rel.)", "gap peer (rel.)", "extremo - peer", "ahead",
           "to best: ext / peer (s)", "ratio", "to record: ext / peer (s)", "ratio", "commit")


def report(db: sqlite3.Connection, sizes, budget: float, workers: int, markdown: bool = False) -> None:
    from rich.console import Console
    from rich.table import Table

    from extremo.problems import make

    title = (f"circles-sum-radii: extremo vs circle-packing-sota pack.py, {budget:g} s on {workers} cores each; "
             f"median over seeds; tie = within {TIE:g} of the record (relative)")
    rows = []
    for n in sizes:
        got = db.execute("SELECT seed, solver, value, to_best, to_record, commit_id FROM results "
                         "WHERE n=? AND budget=? AND workers=?", (n, budget, workers)).fetchall()
        by_seed: dict[int, dict] = {}
        for seed, solver, value, to_best, to_record, commit in got:
            by_seed.setdefault(seed, {})[solver] = (value, to_best, to_record, commit)
        pairs = [v for v in by_seed.values() if "extremo" in v and "peer" in v]
        if not pairs:
            continue
        record = make("circles-sum-radii", n=n).record().value
        ext = [p["extremo"][0] for p in pairs]
        peer = [p["peer"][0] for p in pairs]
        diff = statistics.median(e - q for e, q in zip(ext, peer))
        ahead = "tied" if abs(diff) <= TIE * record else ("extremo" if diff > 0 else "peer")
        tb = [_median_time([p[s][1] for p in pairs]) for s in ("extremo", "peer")]
        tr = [_median_time([p[s][2] for p in pairs]) for s in ("extremo", "peer")]
        commits = sorted({p["extremo"][3] for p in pairs})
        rows.append((str(n), f"{record:.12f}", str(len(pairs)), _spread(ext, ".12f"), _spread(peer, ".12f"),
                     _spread([(record - v) / record for v in ext], "+.2e"),
                     _spread([(record - v) / record for v in peer], "+.2e"), f"{diff:+.2e}", ahead,
                     f"{_seconds(tb[0])} / {_seconds(tb[1])}", _ratio(*tb),
                     f"{_seconds(tr[0])} / {_seconds(tr[1])}", _ratio(*tr), ", ".join(commits)))
    if markdown:
        print(f"{title}\n\n| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    table = Table(title=title)
    for col in COLUMNS:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    Console(width=260).print(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="*", default=list(SIZES), help="numbers of circles")
    ap.add_argument("--time", type=float, default=120.0, help="seconds per solver per (n, seed)")
    ap.add_argument("--workers", type=int, default=2, help="cores per solver (processes)")
    ap.add_argument("--seeds", type=int, nargs="*", default=[0], help="seeds (one job per n and seed)")
    ap.add_argument("--slice-minutes", type=float, default=14.0,
                    help="start no job that would end later than this after the start")
    ap.add_argument("--results", default=str(DEFAULT_RESULTS), help="SQLite file of the benchmark's results")
    ap.add_argument("--report", action="store_true", help="only print the table of stored results")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args()
    if not args.time > 0 or args.workers < 1 or any(s < 0 for s in args.seeds) or any(n < 2 for n in args.n):
        ap.error("--time must be positive, --workers at least 1, --seeds non-negative, --n at least 2")
    solver = None if args.report else peer_solver_dir()
    Path(args.results).expanduser().parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(Path(args.results).expanduser())
    db.execute(SCHEMA)
    if solver is not None:
        began = time.monotonic()
        done = {(n, s) for n, s in db.execute(
            "SELECT n, seed FROM results WHERE budget=? AND workers=? GROUP BY n, seed HAVING COUNT(*) = 2",
            (args.time, args.workers))}
        jobs = [(n, s) for s in args.seeds for n in args.n if (n, s) not in done]
        for n, seed in jobs:
            if time.monotonic() - began + 2 * args.time + JOB_SLACK > 60 * args.slice_minutes:
                print(f"  slice limit: left {len(jobs) - jobs.index((n, seed))} job(s) for the next slice", flush=True)
                break
            run_job(solver, n, seed, args.time, args.workers, db)
    report(db, sorted(set(args.n)) if not args.report else sorted({r[0] for r in db.execute("SELECT n FROM results")}),
           args.time, args.workers, args.markdown)


if __name__ == "__main__":
    main()
