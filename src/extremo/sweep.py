"""Campaigns over a record table: one :func:`extremo.discover.discover` per instance and seed.

``sweep(problem, sizes, ...)`` runs every ``n`` in ``sizes`` (the other instance parameters
fixed) for ``seeds`` seeds and returns one :class:`InstanceOutcome` per instance: the best
value over the seeds, the record, the relative gap, the seconds to that best and the verdict
(``win`` / ``tie`` / ``below`` the record, see :func:`verdict`).

Everything lands in the run store, so a campaign is resumable: an instance and seed whose run
finished with at least this budget is skipped (its stored best is reported); one that was
interrupted is resumed from its best stored configuration with the time it had left. The
seconds to the best of each run live in the store's ``sweep_runs`` table (kept by this module).

Backends: ``processes`` runs the instances one after another, each on ``workers`` processes;
``ray`` submits every instance and seed as a Ray task (each runs ``discover`` with one worker
on a cluster node) and writes each result into the driver's store as soon as it returns.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extremo.problems import Problem, make
from extremo.problems.base import Record
from extremo.store import Store

#: verdicts of an instance against its record
VERDICTS = ("win", "tie", "below")

_SCHEMA = """CREATE TABLE IF NOT EXISTS sweep_runs (
    run_id INTEGER PRIMARY KEY, seconds_to_best REAL, budget REAL)"""


def parse_sizes(text: str) -> list[int]:
    """``"2-100"``, ``"5,12,24"`` or ``"2-10,20"`` to the sorted sizes; ``ValueError`` naming ``--n``."""
    sizes: set[int] = set()
    for part in str(text).split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if m is None:
            raise ValueError(f"--n must be a range like 2-100 or a list like 5,12,24, got {text!r}")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"--n range {part.strip()} is empty: write the smaller size first ({hi}-{lo})")
        sizes.update(range(lo, hi + 1))
    return sorted(sizes)


def verdict(problem: Problem, value: float, record: Record | None) -> str | None:
    """``win`` if ``value`` beats the record by more than the record's printed resolution,
    ``tie`` within it, ``below`` otherwise; ``None`` without a record or a value.

    A ``win`` here is numerical; :mod:`extremo.certificate` decides it exactly."""
    if record is None or value is None or math.isnan(value):
        return None
    tol = record.tolerance
    if abs(value - record.value) <= tol:
        return "tie"
    return "win" if problem.better(value, record.value) else "below"


@dataclass
class InstanceOutcome:
    """The best of a campaign's runs of one instance."""

    problem: Problem
    value: float
    seconds_to_best: float | None
    seed: int | None
    run_ids: list[int]
    json_path: Path | None
    png_path: Path | None

    @property
    def record(self) -> Record | None:
        return self.problem.record()

    @property
    def gap(self) -> float | None:
        return self.problem.gap(self.value)

    @property
    def verdict(self) -> str | None:
        return verdict(self.problem, self.value, self.record)


@dataclass
class CampaignProgress:
    """Where a campaign stands: instance ``index`` of ``total`` (1-based), and within it."""

    index: int
    total: int
    label: str
    seed: int
    best: float
    elapsed: float
    budget: float
    skipped: bool = False


def _table(store: Store) -> None:
    store.db.execute(_SCHEMA)


def _stored_runs(store: Store, problem: Problem, seed: int) -> list:
    return [r for r in store.runs(label=problem.label, limit=1000) if r.seed == seed and r.command == "discover"]


def _seconds_to_best(store: Store, run_id: int) -> float | None:
    row = store.db.execute("SELECT seconds_to_best FROM sweep_runs WHERE run_id=?", (run_id,)).fetchone()
    return None if row is None else row[0]


def _budget(store: Store, run) -> float:
    """The campaign budget a run belonged to (its own budget if no campaign noted it)."""
    row = store.db.execute("SELECT budget FROM sweep_runs WHERE run_id=?", (run.id,)).fetchone()
    return float(row[0]) if row is not None else float(run.settings.get("seconds", 0.0))


def _note_run(store: Store, run_id: int, seconds_to_best: float | None, budget: float) -> None:
    store.db.execute("INSERT INTO sweep_runs (run_id, seconds_to_best, budget) VALUES (?,?,?) "
                     "ON CONFLICT(run_id) DO UPDATE SET seconds_to_best=excluded.seconds_to_best,"
                     " budget=excluded.budget", (run_id, seconds_to_best, budget))


def plan(problem: Problem, store: Store, seed: int, seconds: float) -> tuple[str, float, Any]:
    """What a rerun does with one instance and seed: ``("skip", 0, run)`` when a run finished
    with at least ``seconds``; ``("resume", left, run)`` after an interrupted one (``left``
    the budget it had left, at least a tenth); ``("run", seconds, None)`` otherwise."""
    runs = _stored_runs(store, problem, seed)
    done = [r for r in runs if r.status in ("finished", "target reached") and _budget(store, r) >= seconds]
    if done:
        return "skip", 0.0, max(done, key=lambda r: (r.value is not None, r.id))
    cut = [r for r in runs if r.status == "interrupted" and r.config]
    if cut:
        last = max(cut, key=lambda r: r.id)
        used = sum(r.seconds for r in cut)
        return "resume", max(seconds - used, 0.1 * seconds), last
    return "run", seconds, None


def sweep(
    problem: str,
    sizes: Iterable[int],
    seconds: float,
    *,
    fixed: dict[str, Any] | None = None,
    seeds: int = 1,
    workers: int | None = None,
    out: str | Path = "sweep",
    store: Store,
    backend: str = "processes",
    on_progress: Callable[[CampaignProgress], None] | None = None,
) -> list[InstanceOutcome]:
    """Run the campaign (see the module docstring); returns the outcomes in size order.

    Every instance is built (and so checked against the problem's limits) before any run.
    """
    if not seconds > 0:
        raise ValueError(f"--time must be a positive number of seconds, got {seconds:g}")
    if seeds < 1:
        raise ValueError(f"--seeds must be at least 1, got {seeds}")
    if backend not in ("processes", "ray"):
        raise ValueError(f"--backend must be processes or ray, got {backend!r}")
    fixed = {k: v for k, v in (fixed or {}).items() if v is not None}
    problems = [make(problem, n=n, **fixed) for n in sizes]
    if not problems:
        raise ValueError("--n selects no sizes")
    out = Path(out)
    _table(store)
    jobs = [(k, p, s) for k, p in enumerate(problems, 1) for s in range(seeds)]
    if backend == "ray":
        _run_on_ray(jobs, len(problems), seconds, out, store, on_progress)
    else:
        for k, p, s in jobs:
            _run_here(k, len(problems), p, s, seconds, workers, out, store, on_progress)
    return [outcome(p, store, out, seeds) for p in problems]


def _run_here(index: int, total: int, problem: Problem, seed: int, seconds: float, workers: int | None,
              out: Path, store: Store, on_progress) -> None:
    from extremo.discover import discover

    action, budget, prior = plan(problem, store, seed, seconds)
    if action == "skip":
        if on_progress:
            on_progress(CampaignProgress(index, total, problem.label, seed, prior.value or math.nan,
                                         prior.seconds, seconds, skipped=True))
        return
    best = {"value": math.nan, "at": None}

    def update(progress, value, elapsed):
        if problem.better(value, best["value"]):
            best.update(value=value, at=elapsed)
        if on_progress:
            on_progress(CampaignProgress(index, total, problem.label, seed, value, elapsed, budget))

    result = discover(problem, seconds=budget, workers=workers, seed=seed, out=out, store=store,
                      resume=action == "resume", on_progress=update)
    if result.run_id is not None:
        offset = prior.seconds if action == "resume" else 0.0
        _note_run(store, result.run_id, None if best["at"] is None else offset + best["at"], seconds)
    if result.status == "interrupted":
        raise KeyboardInterrupt


def _ray_instance(name: str, instance: dict, seed: int, seconds: float):
    """One instance on a Ray worker: discover with one process, no store; the driver records."""
    from extremo.discover import discover

    problem = make(name, **instance)
    best = {"at": None, "value": math.nan}

    def update(progress, value, elapsed):
        if problem.better(value, best["value"]):
            best.update(value=value, at=elapsed)

    with tempfile.TemporaryDirectory() as tmp:
        result = discover(problem, seconds=seconds, workers=1, seed=seed, out=tmp, on_progress=update)
    config = None if result.config is None else {k: v.tolist() for k, v in result.config.items()}
    return {"value": result.value, "config": config, "seconds": result.seconds, "at": best["at"],
            "evaluations": result.evaluations, "status": result.status}


def _run_on_ray(jobs, total, seconds, out: Path, store: Store, on_progress) -> None:
    import ray

    from extremo.io import config_document, write_json
    from extremo.plot import save_picture
    from extremo.recorder import best_in_file, output_paths

    if not ray.is_initialized():
        ray.init(address="auto" if _ray_address() else None, include_dashboard=False,
                 log_to_driver=False)
    remote = ray.remote(num_cpus=1)(_ray_instance)
    pending = {}
    for k, p, s in jobs:
        action, budget, _ = plan(p, store, s, seconds)
        if action == "skip":
            continue
        pending[remote.remote(p.name, p.instance, s, budget)] = (k, p, s)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        k, p, s = pending.pop(ready[0])
        res = ray.get(ready[0])
        run_id = store.start_run(p.name, p.instance, p.label, s, {"seconds": seconds, "backend": "ray"})
        if res["config"] is not None:
            config = p.check_shapes(res["config"])
            verdict_ = p.verify(config)
            if verdict_.feasible:
                store.update_best(run_id, verdict_.value, res["config"], res["seconds"], res["evaluations"])
                json_path, png_path = output_paths(p, out)
                on_disk = best_in_file(p, json_path)
                if on_disk is None or p.better(verdict_.value, on_disk[1]):
                    out.mkdir(parents=True, exist_ok=True)
                    write_json(json_path, config_document(p, config, verdict_.value, seed=s, run_id=run_id))
                    save_picture(p, config, png_path, verdict_.value)
        store.finish(run_id, res["status"], res["seconds"], res["evaluations"])
        _note_run(store, run_id, res["at"], seconds)
        if on_progress:
            on_progress(CampaignProgress(k, total, p.label, s, res["value"], res["seconds"], seconds))


def _ray_address() -> bool:
    import os

    return bool(os.environ.get("RAY_ADDRESS"))


def outcome(problem: Problem, store: Store, out: str | Path, seeds: int) -> InstanceOutcome:
    """The best stored run of ``problem`` over seeds ``0..seeds-1``, and its files in ``out``."""
    from extremo.recorder import output_paths

    runs = [r for s in range(seeds) for r in _stored_runs(store, problem, s) if r.value is not None]
    json_path, png_path = output_paths(problem, out)
    if not runs:
        return InstanceOutcome(problem, math.nan, None, None, [], None, None)
    best = runs[0]
    for r in runs[1:]:
        if problem.better(r.value, best.value):
            best = r
    # a resumed run continues its predecessor: its time to the best counts from the first start
    at = _seconds_to_best(store, best.id)
    return InstanceOutcome(problem, best.value, at, best.seed, [r.id for r in runs],
                           json_path if json_path.exists() else None, png_path if png_path.exists() else None)
