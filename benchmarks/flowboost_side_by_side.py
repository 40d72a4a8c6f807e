"""Side by side with the FlowBoost authors' code: circles-sum-radii n = 26 and 32, same budget, same cores.

Methods, each run alone on the machine (both cores) for the same wall-clock budget ``--budget``:

  flowboost  the authors' pipeline ``flow_boost/circles_in_square/pipeline_sumradii.py`` (github
             berczig/FlowBoost), run from the checkout at ``$FLOWBOOST_PATH`` with its own
             ``config.cfg``; only ``num_circles`` is set to n, in memory, before the pipeline
             starts. The pipeline has no time limit of its own, so it is stopped (its process
             group killed) ``--budget`` seconds after its imports are done (numba's compile cache
             is warmed once beforehand, so compilation is not charged). Its best output so far:
             every configuration the pipeline finishes passes through its radius projection
             ``hard_project_max_sum_radii`` (an LP after SRP + L-BFGS-B); a wrapper around that
             function keeps the best one in float64 (the pipeline itself stores float32 tensors,
             whose rounding can break strict feasibility, and only at the end of a stage).
             The tensors it did store before the stop are read too (best 5 rows of each).
  boost      ``extremo boost circles-sum-radii --n N --time T --seed S`` (the closed loop; it is one
             process with one torch thread: ``--workers 2`` is passed only if ``extremo boost``
             has that option).
  local      ``extremo discover circles-sum-radii --n N --time T --seed S --workers 2``.

Every configuration is checked with ``extremo verify`` (float64, zero tolerance). A FlowBoost
configuration that fails it by a rounding-size margin is shrunk: every radius minus the largest
violation, re-verified; the shrink is stored and shown. Per n and method: median (min .. max) over
the seeds, gap to the record of ``extremo records circles-sum-radii``, and boost - flowboost.
Results go to a SQLite file (``--results``), so runs made in slices add up and a rerun only
runs the missing jobs; ``--report`` prints the table of what is stored.

    export FLOWBOOST_PATH=/tmp/FlowBoost FLOWBOOST_PYTHON=/tmp/fbenv/bin/python
    flock /tmp/extremo-heavy.lock python benchmarks/flowboost_side_by_side.py --n 26 --budget 120 --seeds 1
    python benchmarks/flowboost_side_by_side.py --report

``$FLOWBOOST_PYTHON`` (default: this interpreter) must import FlowBoost's dependencies for this
pipeline: numpy, scipy, torch, numba, flow_matching, x_transformers, matplotlib, tqdm, rich.
``--extremo-src`` runs extremo from another source tree (e.g. a clean worktree of a commit).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROBLEM = "circles-sum-radii"
SIZES = (26, 32)
METHODS = ("flowboost", "boost", "local")
PIPELINE = Path("flow_boost") / "circles_in_square" / "pipeline_sumradii.py"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_RESULTS = REPO / "benchmarks" / "results" / "flowboost.sqlite"
FLOWBOOST_DEPS = "numpy, scipy, torch, numba, flow_matching, x_transformers, matplotlib, tqdm, rich"

SCHEMA = """CREATE TABLE IF NOT EXISTS results (
    n INTEGER, method TEXT, seed INTEGER, budget REAL, value REAL, verified INTEGER, shrink REAL,
    seconds REAL, cores TEXT, note TEXT, extremo_commit TEXT, flowboost_commit TEXT, load TEXT,
    finished TEXT, PRIMARY KEY (n, method, seed, budget))"""

#: runs inside FlowBoost's interpreter: argv = checkout, n, seed, run dir; the pipeline's cfg is
#: changed in memory only (num_circles), the projection is wrapped to keep the best configuration
DRIVER = r"""
import json, os, runpy, sys, time
root, n, seed, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sys.path.insert(0, root)
import numpy as np, numba, torch
from flow_boost import cfg
from flow_boost.circles_in_square import sample_generation as sg
for section in ("circle_packing_SRP", "flow_matching_sumradii_centers_only"):
    cfg.set(section, "num_circles", str(n))
np.random.seed(seed)
torch.manual_seed(seed)
@numba.njit
def seed_numba(s):
    np.random.seed(s)
seed_numba(seed)
project, best, t0 = sg.hard_project_max_sum_radii, [-np.inf], [time.monotonic()]
log = open(os.path.join(run, "projections.txt"), "a", buffering=1)
def keep_best(centers, radii, *args, **kwargs):
    r, info = project(centers, radii, *args, **kwargs)
    value, t = float(np.sum(r)), time.monotonic() - t0[0]
    log.write(f"{t:.3f} {value:.12f}\n")
    if value > best[0]:
        best[0] = value
        doc = {"problem": "circles-sum-radii", "instance": {"n": n}, "value": value, "seconds": t,
               "centers": np.asarray(centers, dtype=np.float64).tolist(),
               "radii": np.asarray(r, dtype=np.float64).tolist()}
        tmp = os.path.join(run, "best.json.tmp")
        with open(tmp, "w") as f:
            json.dump(doc, f)
        os.replace(tmp, os.path.join(run, "best.json"))
    return r, info
sg.hard_project_max_sum_radii = keep_best
pipeline = os.path.join(root, "flow_boost", "circles_in_square", "pipeline_sumradii.py")
sys.argv = [pipeline]
t0[0] = time.monotonic()
with open(os.path.join(run, "ready"), "w") as f:
    f.write("ready")
runpy.run_path(pipeline, run_name="__main__")
"""


def fail(message: str) -> None:
    print(message, file=sys.stderr)
    raise SystemExit(2)


def flowboost_checkout() -> Path:
    """``$FLOWBOOST_PATH``, checked to hold the circles pipeline and its config."""
    raw = os.environ.get("FLOWBOOST_PATH")
    if not raw:
        fail("FLOWBOOST_PATH is not set: export FLOWBOOST_PATH=<checkout of github berczig/FlowBoost>")
    root = Path(raw).expanduser().resolve()
    if not (root / PIPELINE).is_file() or not (root / "config.cfg").is_file():
        fail(f"FLOWBOOST_PATH={raw} is not a FlowBoost checkout: no {PIPELINE} and config.cfg there")
    return root


def flowboost_python() -> str:
    """``$FLOWBOOST_PYTHON`` (default: this interpreter), checked to import the pipeline's dependencies."""
    python = os.environ.get("FLOWBOOST_PYTHON", sys.executable)
    mods = FLOWBOOST_DEPS.replace(" ", "")
    try:
        ok = subprocess.run([python, "-c", f"import {mods}"], capture_output=True).returncode == 0
    except OSError:
        ok = False
    if not ok:
        fail(f"FLOWBOOST_PYTHON={python} cannot import {FLOWBOOST_DEPS}: install them there, "
             "or point FLOWBOOST_PYTHON at an interpreter that has them")
    return python


def git_commit(path: Path) -> str:
    """Short commit of the git tree at ``path``, ``+dirty`` if tracked files there differ from it."""
    try:
        sha = subprocess.run(["git", "-C", str(path), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no", "."],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def load() -> str:
    return Path("/proc/loadavg").read_text().split(" ")[0] if Path("/proc/loadavg").exists() else "?"


class Extremo:
    """The ``extremo`` CLI of one source tree, as subprocesses."""

    def __init__(self, src: Path) -> None:
        self.src = src
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}

    def run(self, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "extremo", *args], capture_output=True, text=True,
                              env=self.env, timeout=timeout)

    def has_option(self, command: str, option: str) -> bool:
        return option in self.run(command, "--help").stdout

    def verify(self, path: Path) -> tuple[float | None, str]:
        """(value, message) from ``extremo verify``; value None when it is not feasible."""
        got = self.run("verify", str(path))
        text = " ".join((got.stdout + got.stderr).split())
        m = re.search(r"feasible, sum of radii = ([-+0-9.eE]+)", text)
        if got.returncode == 0 and m:
            return float(m.group(1)), text
        return None, text


def violation(centers: np.ndarray, radii: np.ndarray) -> float:
    """Largest overlap or wall excess (float64, O(n^2) dense; 0 when feasible)."""
    walls = np.max(np.concatenate([radii - centers[:, 0], radii - centers[:, 1],
                                   centers[:, 0] + radii - 1, centers[:, 1] + radii - 1]))
    d = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    over = radii[:, None] + radii[None] - d
    np.fill_diagonal(over, -np.inf)
    return max(0.0, float(walls), float(over.max()))


def verify_flowboost(ex: Extremo, doc: dict, path: Path) -> tuple[float | None, float, str]:
    """Strict verdict of a FlowBoost configuration: (value, shrink, message); a configuration
    failing by a rounding-size margin (< 1e-6) gets every radius reduced by the largest violation."""
    centers = np.asarray(doc["centers"], dtype=np.float64)
    radii = np.asarray(doc["radii"], dtype=np.float64)
    shrink = 0.0
    for _ in range(4):
        path.write_text(json.dumps({"problem": PROBLEM, "instance": {"n": len(radii)},
                                    "centers": centers.tolist(), "radii": np.maximum(radii - shrink, 0).tolist()}))
        value, message = ex.verify(path)
        if value is not None:
            return value, shrink, message
        v = violation(centers, np.maximum(radii - shrink, 0))
        if v > 1e-6:
            break
        shrink += max(v, 1e-15) * 2
    return None, shrink, message


def stored_rows(run: Path, n: int) -> list[dict]:
    """The best 5 rows (by sum of radii) of every (M, 3, n) tensor the pipeline saved."""
    import torch

    docs = []
    for f in run.rglob("*.pt"):
        try:
            t = torch.load(f, map_location="cpu", weights_only=True)
        except Exception:  # a tensor half written when the pipeline was stopped
            continue
        if not isinstance(t, torch.Tensor) or t.ndim != 3 or t.shape[1] != 3 or t.shape[2] != n:
            continue
        a = t.double().numpy()
        for k in np.argsort(-a[:, 2].sum(axis=1))[:5]:
            docs.append({"centers": a[k, :2].T.tolist(), "radii": a[k, 2].tolist(), "source": f.name})
    return docs


def warm_flowboost(python: str, root: Path) -> None:
    """Compile FlowBoost's numba kernels into its on-disk cache (untimed): run the pipeline until
    it has finished one configuration."""
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([python, "-c", DRIVER, str(root), "26", "0", tmp], cwd=tmp,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 300
        while proc.poll() is None and not (Path(tmp) / "best.json").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """End the process group of ``proc`` (SIGTERM, then SIGKILL)."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=5)
            return
        except subprocess.TimeoutExpired:
            continue


def run_flowboost(ex: Extremo, python: str, root: Path, n: int, seed: int, budget: float, tmp: Path) -> tuple:
    """The pipeline for ``budget`` seconds after its imports; (value, verified, shrink, seconds, note)."""
    with open(tmp / "pipeline.log", "w") as log:
        proc = subprocess.Popen([python, "-c", DRIVER, str(root), str(n), str(seed), str(tmp)], cwd=tmp,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while proc.poll() is None and not (tmp / "ready").exists():
            time.sleep(0.05)
        started = time.monotonic()
        while proc.poll() is None and time.monotonic() - started < budget:
            time.sleep(0.1)
        finished_itself = proc.poll() is not None
        stop(proc)
        seconds = time.monotonic() - started
    text = (tmp / "pipeline.log").read_text(errors="replace")
    steps = re.findall(r"\[Pipeline\][^\n\r]*", text)
    projections = (tmp / "projections.txt").read_text().split("\n") if (tmp / "projections.txt").exists() else []
    note = (f"{'finished' if finished_itself else 'stopped'} in: {steps[-1] if steps else 'start-up'}; "
            f"{sum(1 for p in projections if p)} configurations finished")
    if finished_itself and proc.returncode:
        note += f"; exit {proc.returncode}: " + " ".join(text.strip().splitlines()[-1:])
    candidates = []
    if (tmp / "best.json").exists():
        candidates.append({**json.loads((tmp / "best.json").read_text()), "source": "projection"})
    candidates += stored_rows(tmp, n)
    best = (None, 0, 0.0, "")
    for k, doc in enumerate(candidates):
        value, shrink, _ = verify_flowboost(ex, doc, tmp / f"candidate{k}.json")
        if value is not None and (best[0] is None or value > best[0]):
            best = (value, 1, shrink, doc["source"])
    if best[0] is not None:
        note += f"; best from {best[3]}" + (f", radii shrunk by {best[2]:.1e} to verify" if best[2] else "")
    elif candidates:
        note += "; no configuration passed extremo verify"
    return best[0], best[1], best[2], seconds, note


def run_extremo(ex: Extremo, method: str, n: int, seed: int, budget: float, tmp: Path) -> tuple:
    command = "boost" if method == "boost" else "discover"
    args = [command, PROBLEM, "--n", str(n), "--time", f"{budget:g}", "--seed", str(seed),
            "--out", str(tmp), "--store", str(tmp / "runs.sqlite")]
    cores = "1 process"
    if ex.has_option(command, "--workers"):
        args += ["--workers", "2"]
        cores = "--workers 2"
    started = time.monotonic()
    got = ex.run(*args, timeout=budget * 3 + 300)
    seconds = time.monotonic() - started
    files = sorted(tmp.glob(f"{PROBLEM}_n{n}*.json"))
    if got.returncode != 0 or not files:
        last = (got.stderr.strip() or got.stdout.strip()).splitlines()[-1:] or ["no output"]
        return None, 0, 0.0, seconds, f"{cores}; extremo {command} exit {got.returncode}: {last[0]}"
    value, message = ex.verify(files[0])
    return value, int(value is not None), 0.0, seconds, cores if value is not None else f"{cores}; {message}"


def summarise(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    med = format(statistics.median(values), fmt)
    return med if len(values) == 1 else f"{med} ({format(min(values), fmt)} .. {format(max(values), fmt)})"


def report(db: sqlite3.Connection, sizes, budgets) -> None:
    from rich.console import Console
    from rich.table import Table

    from extremo.problems import make

    console = Console(width=240)
    for budget in budgets:
        table = Table(title=f"{PROBLEM}: FlowBoost's pipeline vs extremo, {budget:g} s each, one run at a time on "
                            "the 2-core machine; median (min .. max) over seeds, values verified by extremo verify")
        for col in ("n", "record", "seeds", "FlowBoost", "extremo boost", "extremo local", "gap FlowBoost",
                    "gap boost", "gap local", "boost - FlowBoost", "boost / FlowBoost"):
            table.add_column(col)
        for n in sizes:
            problem = make(PROBLEM, n=n)
            rec = problem.record()
            values, seeds = {}, {}
            for method in METHODS:
                got = db.execute("SELECT seed, value FROM results WHERE n=? AND method=? AND budget=?",
                                 (n, method, budget)).fetchall()
                seeds[method] = len(got)
                values[method] = {s: (v if v is not None else -math.inf) for s, v in got}
            if not any(seeds.values()):
                continue
            med = {m: statistics.median(v.values()) if v else None for m, v in values.items()}
            gap = {m: summarise([problem.gap(x) for x in v.values() if math.isfinite(x)], "+.2e")
                   for m, v in values.items()}
            paired = sorted(set(values["boost"]) & set(values["flowboost"]))
            diffs = [values["boost"][s] - values["flowboost"][s] for s in paired]
            ratio = (f"{med['boost'] / med['flowboost']:.7f}" if med["boost"] and med["flowboost"]
                     and math.isfinite(med["boost"]) and math.isfinite(med["flowboost"]) else "-")
            table.add_row(str(n), f"{rec.value:.10g}" if rec else "-",
                          "/".join(str(seeds[m]) for m in METHODS),
                          *(summarise(list(values[m].values()), ".8f") for m in METHODS),
                          *(gap[m] for m in METHODS), summarise(diffs, "+.2e"), ratio)
        console.print(table)
        notes = db.execute("SELECT n, seed, note FROM results WHERE method='flowboost' AND budget=? ORDER BY n, seed",
                           (budget,)).fetchall()
        for n, seed, note in notes:
            console.print(f"  FlowBoost n={n} seed {seed}: {note}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="*", default=list(SIZES), choices=SIZES)
    ap.add_argument("--budget", type=float, default=120.0, help="wall-clock seconds per run")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--methods", nargs="*", default=list(METHODS), choices=METHODS)
    ap.add_argument("--results", default=str(DEFAULT_RESULTS), help="SQLite file of the results")
    ap.add_argument("--extremo-src", default=str(REPO / "src"), help="source tree extremo runs from")
    ap.add_argument("--report", action="store_true", help="only print the table of stored results")
    args = ap.parse_args()
    if not args.budget > 0 or args.seeds < 1:
        ap.error("--budget must be positive and --seeds at least 1")
    src = Path(args.extremo_src).expanduser().resolve()
    if not (src / "extremo" / "__init__.py").is_file():
        ap.error(f"--extremo-src {args.extremo_src} has no extremo package")
    sys.path.insert(0, str(src))
    Path(args.results).expanduser().parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(Path(args.results).expanduser())
    db.execute(SCHEMA)
    if not args.report:
        done = {(n, m, s) for n, m, s in db.execute("SELECT n, method, seed FROM results WHERE budget=?",
                                                   (args.budget,))}
        jobs = [(n, m, s) for s in range(args.seeds) for n in args.n for m in args.methods if (n, m, s) not in done]
        ex = Extremo(src)
        root = python = fb_commit = None
        if any(m == "flowboost" for _, m, _ in jobs):
            root, python = flowboost_checkout(), flowboost_python()
            fb_commit = git_commit(root)
            warm_flowboost(python, root)
        commit = git_commit(src)
        for n, method, seed in jobs:
            before = load()
            with tempfile.TemporaryDirectory(prefix="extremo-fb-") as tmp:
                if method == "flowboost":
                    row = run_flowboost(ex, python, root, n, seed, args.budget, Path(tmp))
                else:
                    row = run_extremo(ex, method, n, seed, args.budget, Path(tmp))
            value, verified, shrink, seconds, note = row
            db.execute("INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                       (n, method, seed, args.budget, value, verified, shrink, seconds,
                        "2 cores, one run at a time", note, commit, fb_commit if method == "flowboost" else None,
                        f"{before} / {load()}", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())))
            db.commit()
            shown = "-" if value is None else f"{value:.10f}"
            print(f"  n={n} {method} seed {seed}: {shown} ({seconds:.0f} s; load {before}) {note}", flush=True)
    report(db, args.n, [args.budget] if not args.report else
           [b for (b,) in db.execute("SELECT DISTINCT budget FROM results ORDER BY budget")])


if __name__ == "__main__":
    main()
