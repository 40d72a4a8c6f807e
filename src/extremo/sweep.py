"""Campaigns over a record table: one `extremo.discover.discover` per instance and seed.

``sweep(problem, sizes, ...)`` runs every ``n`` in ``sizes`` (the other instance parameters
fixed) for ``seeds`` seeds and returns one `InstanceOutcome` per instance: the best
value over the seeds, the record, the relative gap, the seconds to that best and the verdict
(``win`` / ``tie`` / ``below`` the record, see `verdict`).

Everything lands in the run store, so a campaign is resumable: an instance and seed whose run
finished (or reached its target) with at least this budget is skipped (its stored best is
reported); one that was interrupted is resumed from its best stored configuration with the time
it had left. ``stop_at_record=True`` stops each run as soon as it ties or beats the instance's
record (`record_target`; ``discover``'s ``stop_at``, status ``target reached``); instances
without a record run their full budget. The
seconds to the best of each run live in the store's ``sweep_runs`` table (kept by this module).

Backends: ``processes`` runs the instances one after another, each on ``workers`` processes;
``ray`` runs every instance and seed as a Ray task (one CPU: the one-worker search of
``discover --workers 1``) on the cluster at ``$RAY_ADDRESS`` or on a local Ray with ``workers``
CPUs, at most one task per CPU at a time. The tasks stream their improvements to the driver,
which verifies them and records them in its one store (and the JSON files) as they arrive, so
a campaign interrupted on Ray (Ctrl-C, SIGTERM, even SIGKILL of the driver) keeps everything
that reached the driver, and resumes like a local one.
"""

from __future__ import annotations

import math
import os
import re
import signal
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

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

    A ``win`` here is numerical; `extremo.certificate` decides it exactly."""
    if record is None or value is None or math.isnan(value):
        return None
    tol = record.tolerance
    if abs(value - record.value) <= tol:
        return "tie"
    return "win" if problem.better(value, record.value) else "below"


def record_target(problem: Problem) -> float | None:
    """The value at which ``problem`` ties its record by `verdict`: the record less its tolerance
    (maximising) or plus it (minimising); ``None`` without a record."""
    record = problem.record()
    if record is None:
        return None
    return record.value - record.tolerance if problem.sense == "max" else record.value + record.tolerance


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
    or reached its target (``stop_at_record``) with at least ``seconds``; ``("resume", left, run)`` after an interrupted one (``left``
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
    stop_at_record: bool = False,
) -> list[InstanceOutcome]:
    """Run the campaign (see the module docstring); returns the outcomes in size order.

    ``stop_at_record``: each run stops once its best ties or beats the record (`record_target`).

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
        _run_on_ray(jobs, len(problems), seconds, workers, out, store, on_progress, stop_at_record)
    else:
        for k, p, s in jobs:
            _run_here(k, len(problems), p, s, seconds, workers, out, store, on_progress, stop_at_record)
    return [outcome(p, store, out, seeds) for p in problems]


def _skipped(on_progress, index: int, total: int, problem: Problem, seed: int, prior, seconds: float) -> None:
    if on_progress:
        on_progress(CampaignProgress(index, total, problem.label, seed, prior.value or math.nan, prior.seconds,
                                     seconds, skipped=True))


def _run_here(index: int, total: int, problem: Problem, seed: int, seconds: float, workers: int | None,
              out: Path, store: Store, on_progress, stop_at_record: bool = False) -> None:
    from extremo.discover import discover

    action, budget, prior = plan(problem, store, seed, seconds)
    if action == "skip":
        _skipped(on_progress, index, total, problem, seed, prior, seconds)
        return
    best = {"value": math.nan, "at": None}

    def update(progress, value, elapsed):
        if problem.better(value, best["value"]):
            best.update(value=value, at=elapsed)
        if on_progress:
            on_progress(CampaignProgress(index, total, problem.label, seed, value, elapsed, budget))

    result = discover(problem, seconds=budget, workers=workers, seed=seed, out=out, store=store,
                      resume=action == "resume", on_progress=update,
                      stop_at=record_target(problem) if stop_at_record else None)
    if result.run_id is not None:
        offset = prior.seconds if action == "resume" else 0.0
        _note_run(store, result.run_id, None if best["at"] is None else offset + best["at"], seconds)
    if result.status == "interrupted":
        raise KeyboardInterrupt


def _ray_instance(job: int, name: str, instance: dict, seed: int, seconds: float, initial: list, queue,
                  stop_at: float | None = None) -> None:
    """One instance and seed as a Ray task: a one-process search (the seed's stream of
    `run_search`, as ``discover --workers 1``) whose progress
    and improvements go to the driver through ``queue`` as they happen; the driver verifies
    and records them. Every ``put`` returns once the queue holds the message, so when the task
    has ended all its messages are in the queue. It stops early once its best is at least as
    good as ``stop_at``."""
    from extremo.search.parallel import run_search

    problem = make(name, **instance)
    best = [math.nan]
    queue.put(("ready", job, None))

    def tick(progress) -> None:
        queue.put(("progress", job, (progress.rounds, progress.evaluations)))

    def improved(cand, progress) -> None:
        if problem.better(cand.value, best[0]):
            best[0] = cand.value
        queue.put(("improve", job, (cand.x, cand.value, progress.rounds, progress.evaluations)))

    def reached() -> bool:
        return stop_at is not None and not math.isnan(best[0]) and not problem.better(stop_at, best[0])

    run_search(name, instance, seconds, improved, workers=1, seed=seed, initial=initial, on_progress=tick,
               should_stop=reached)


@dataclass
class _RayJob:
    """An instance and seed submitted to Ray, and its run on the driver once the task started."""

    index: int
    problem: Problem
    seed: int
    budget: float
    offset: float
    resumed_from: int | None
    ref: Any = None
    recorder: Any = None
    at: float | None = None


def _run_on_ray(jobs, total: int, seconds: float, workers: int | None, out: Path, store: Store,
                on_progress, stop_at_record: bool = False) -> None:
    """Every instance and seed a Ray task (one CPU each) on the cluster at ``$RAY_ADDRESS``, else
    on a local Ray with ``workers`` CPUs (default: all cores). The driver streams the tasks'
    messages from one Ray queue into one `RunRecorder` per task (the
    store, the JSON, the picture), so an interrupted campaign keeps every improvement that
    reached the driver and resumes from it; on Ctrl-C or SIGTERM the tasks are cancelled and
    their runs end ``interrupted``. A task that fails ends its run ``failed`` and stops the
    campaign (the other runs end ``interrupted``). With ``stop_at_record`` a task stops once its
    best ties the record, and its run ends ``target reached``."""
    import ray
    from ray.util.queue import Empty, Queue

    from extremo.recorder import RunRecorder, one_line, resume_points
    from extremo.search.local import SearchSettings
    from extremo.search.neighbours import neighbour_starts

    waiting = []
    for job, (k, p, s) in enumerate(jobs):
        action, _, prior = plan(p, store, s, seconds)
        if action == "skip":
            _skipped(on_progress, k, total, p, s, prior, seconds)
        else:
            waiting.append((job, (k, p, s)))
    if not waiting:
        return  # nothing to run: no cluster needed
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        on_sigterm = signal.getsignal(signal.SIGTERM)
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, configure_logging=False)
        if on_sigterm is not None and threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, on_sigterm)  # Ray's own handler would abort the driver
    queue = Queue()
    task = ray.remote(num_cpus=1, max_retries=0)(_ray_instance)
    # at most one task per cluster CPU in flight: a task blocked in a queue put lends its CPU to
    # Ray, which would otherwise start a waiting task on it and oversubscribe the cores
    capacity = max(1, int(ray.cluster_resources().get("CPU", 1)))
    running: dict[int, _RayJob] = {}

    def submit() -> None:
        while waiting and len(running) < capacity:
            job, (k, p, s) = waiting.pop(0)
            action, budget, prior = plan(p, store, s, seconds)  # planned when it starts: the budget left
            initial, resumed_from = resume_points(p, store, out) if action == "resume" else ([], None)
            initial += neighbour_starts(p, store, SearchSettings(**p.search_defaults).neighbours)
            j = running[job] = _RayJob(k, p, s, budget, prior.seconds if action == "resume" else 0.0, resumed_from)
            j.ref = task.remote(job, p.name, p.instance, s, budget, initial, queue,
                                record_target(p) if stop_at_record else None)

    def started(j: _RayJob) -> RunRecorder:
        if j.recorder is None:
            settings = {**SearchSettings(**j.problem.search_defaults).as_dict(), "seconds": j.budget,
                        "workers": 1, "backend": "ray"}
            j.recorder = RunRecorder(j.problem, out, store, seed=j.seed, settings=settings,
                                     resumed_from=j.resumed_from,
                                     stop_at=record_target(j.problem) if stop_at_record else None)
        return j.recorder

    def deliver(message) -> None:
        kind, job, data = message
        j = running.get(job)
        if j is None:
            return
        rec = started(j)
        if kind == "progress":
            rec.progress(*data)
        elif kind == "improve":
            x, value, rounds, evaluations = data
            rec.progress(rounds, evaluations)
            if rec.offer(np.array(x, dtype=np.float64), value):  # a copy: Ray's arrays are read-only
                j.at = j.offset + rec.elapsed
        if on_progress:
            on_progress(CampaignProgress(j.index, total, j.problem.label, j.seed, rec.value, rec.elapsed, j.budget))

    def drain(timeout: float | None) -> None:
        try:
            deliver(queue.get(timeout=timeout) if timeout else queue.get_nowait())
        except Empty:
            return
        while True:
            try:
                deliver(queue.get_nowait())
            except Empty:
                return

    def end(job: int, status: str, reason: str = "") -> None:
        j = running.pop(job)
        rec = started(j)
        rec.finish(status, reason)
        _note_run(store, rec.run_id, j.at, seconds)

    try:
        submit()
        while running:
            drain(0.5)
            refs = {j.ref: job for job, j in running.items()}
            done, _ = ray.wait(list(refs), num_returns=len(refs), timeout=0)
            if done:
                drain(None)  # everything the ended tasks sent
            for ref in done:
                try:
                    ray.get(ref)
                except Exception as e:  # the task failed: its run says why, the campaign stops
                    end(refs[ref], "failed", one_line(getattr(e, "cause", None) or e))
                    raise
                end(refs[ref], "target reached" if started(running[refs[ref]]).reached() else "finished")
            submit()
    finally:
        for j in running.values():
            ray.cancel(j.ref, force=True)
        if running:
            drain(None)
            for job in list(running):
                end(job, "interrupted")
        queue.shutdown(force=True)


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
