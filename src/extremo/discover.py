"""The main job: search an instance for a while, keep and record the best configuration.

``discover`` runs parallel local search, and at every improvement re-verifies the candidate,
writes ``<out>/<slug>.json`` atomically and updates the run in the store, so a Ctrl-C or a kill
at any moment keeps the best configuration found so far. The JSON file in ``out`` is only
ever replaced by a better configuration of the same instance. ``resume=True`` starts from the
best configuration of the instance in the store (or in ``out``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from extremo.io import config_document, read_configuration, write_json
from extremo.plot import save_picture
from extremo.problems import Problem, ProblemError
from extremo.problems.base import Configuration, Record
from extremo.search.local import Candidate, SearchSettings
from extremo.search.parallel import BACKENDS, Progress, default_workers, run_search
from extremo.store import Store

#: at most one picture per this many seconds while running (always one at the end)
_PICTURE_EVERY = 15.0


@dataclass
class DiscoveryResult:
    """Outcome of :func:`discover`, read like scipy's ``OptimizeResult``."""

    problem: Problem
    x: np.ndarray | None
    config: Configuration | None
    value: float
    record: Record | None
    gap: float | None
    seconds: float
    rounds: int
    evaluations: int
    status: str
    run_id: int | None
    json_path: Path | None
    png_path: Path | None

    @property
    def success(self) -> bool:
        return self.config is not None


def best_in_file(problem: Problem, path: Path) -> tuple[np.ndarray, float] | None:
    """The verified configuration of ``problem`` in ``path``, if the file holds a feasible one."""
    if not path.exists():
        return None
    try:
        prob, config = read_configuration(path)
    except ProblemError:
        return None
    if prob.label != problem.label:
        return None
    verdict = problem.verify(config)
    return (problem.from_config(config), verdict.value) if verdict.feasible else None


def output_paths(problem: Problem, out: str | Path) -> tuple[Path, Path]:
    """Where a run of ``problem`` keeps its best configuration and its picture."""
    return Path(out) / f"{problem.slug}.json", Path(out) / f"{problem.slug}.png"


def resume_points(problem: Problem, store: Store | None, out: str | Path) -> tuple[list[np.ndarray], int | None]:
    """Starting points of a resumed run: the best stored run of the instance and the file in ``out``.

    Returns the points and the id of the stored run; raises :class:`ProblemError` if there is none.
    """
    json_path = output_paths(problem, out)[0]
    initial, resumed_from = [], None
    prior = store.best_run(problem.label, problem.sense) if store else None
    if prior is not None and prior.config:
        initial.append(problem.from_config(problem.check_shapes(prior.config)))
        resumed_from = prior.id
    on_disk = best_in_file(problem, json_path)
    if on_disk is not None:
        initial.append(on_disk[0])
    if not initial:
        where = f"the store {store.path}" if store else "no store"
        raise ProblemError(f"nothing to resume for {problem.label}: {where} and {json_path} hold no run of it")
    return initial, resumed_from


def discover(
    problem: Problem,
    seconds: float = 60.0,
    workers: int | None = None,
    seed: int = 0,
    out: str | Path = ".",
    store: Store | None = None,
    resume: bool = False,
    settings: SearchSettings | None = None,
    on_progress: Callable[[Progress, float, float], None] | None = None,
    stop_at: float | None = None,
    backend: str = "processes",
) -> DiscoveryResult:
    """Search ``problem`` for ``seconds`` on ``workers`` processes; see the module docstring.

    ``stop_at``: stop as soon as the best value is at least as good as this (status
    ``"target reached"``). ``backend``: ``"processes"`` or ``"ray"`` (see
    :func:`extremo.search.parallel.run_search`).

    ``on_progress(progress, best_value, elapsed)`` is called as rounds complete.
    """
    if not seconds > 0:
        raise ProblemError(f"--time must be positive, got {seconds}")
    workers = workers or default_workers()
    if workers < 1:
        raise ProblemError(f"--workers must be at least 1, got {workers}")
    if backend not in BACKENDS:
        raise ProblemError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    json_path, png_path = output_paths(problem, out)
    settings = settings or SearchSettings(**problem.search_defaults)
    on_disk = best_in_file(problem, json_path)

    initial, resumed_from = resume_points(problem, store, out) if resume else ([], None)

    run_id = None
    if store is not None:
        run_id = store.start_run(problem.name, problem.instance, problem.label, seed,
                                 {**settings.as_dict(), "seconds": seconds, "workers": workers},
                                 resumed_from=resumed_from)
    start = time.monotonic()
    best: dict = {"x": None, "value": math.nan, "picture": 0.0}
    file_value = on_disk[1] if on_disk else math.nan

    last = {"progress": Progress()}

    def keep(cand: Candidate, progress: Progress) -> None:
        nonlocal file_value
        last["progress"] = progress
        if not problem.better(cand.value, best["value"]):
            return
        config = problem.to_config(cand.x)
        verdict = problem.verify(config)
        if not verdict.feasible or not problem.better(verdict.value, best["value"]):
            return
        best.update(x=cand.x, value=verdict.value)
        elapsed = time.monotonic() - start
        if store is not None:
            store.update_best(run_id, verdict.value, {k: v.tolist() for k, v in config.items()},
                              elapsed, progress.evaluations)
        if problem.better(verdict.value, file_value):
            write_json(json_path, config_document(problem, config, verdict.value, seed=seed, run_id=run_id))
            file_value = verdict.value
            if elapsed - best["picture"] >= _PICTURE_EVERY:
                save_picture(problem, config, png_path, verdict.value)
                best["picture"] = elapsed
        if on_progress:
            on_progress(progress, best["value"], elapsed)

    def tick(progress: Progress) -> None:
        last["progress"] = progress
        if on_progress:
            on_progress(progress, best["value"], time.monotonic() - start)

    def reached() -> bool:
        return stop_at is not None and not math.isnan(best["value"]) and not problem.better(stop_at, best["value"])

    status = "finished"
    try:
        run_search(problem.name, problem.instance, seconds, keep, workers=workers, seed=seed,
                   settings=settings, initial=initial, on_progress=tick, should_stop=reached,
                   backend=backend)
        if reached():
            status = "target reached"
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        elapsed = time.monotonic() - start
        progress = last["progress"]
        if store is not None:
            store.finish(run_id, status, elapsed, progress.evaluations)
    if best["x"] is not None and (file_value == best["value"]):
        save_picture(problem, problem.to_config(best["x"]), png_path, best["value"])
    elif on_disk is not None and not png_path.exists():
        save_picture(problem, problem.to_config(on_disk[0]), png_path, on_disk[1])
    x = best["x"]
    return DiscoveryResult(
        problem=problem,
        x=x,
        config=problem.to_config(x) if x is not None else None,
        value=best["value"],
        record=problem.record(),
        gap=problem.gap(best["value"]),
        seconds=elapsed,
        rounds=progress.rounds,
        evaluations=progress.evaluations,
        status=status,
        run_id=run_id,
        json_path=json_path if json_path.exists() else None,
        png_path=png_path if png_path.exists() else None,
    )
