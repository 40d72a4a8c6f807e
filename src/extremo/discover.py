"""The main job: search an instance for a while, keep and record the best configuration.

``discover`` runs parallel local search and records it with a
`RunRecorder`: at every improvement the candidate is re-verified,
written to the store and, if it beats what ``<out>/<slug>.json`` holds at that moment, to the
file (atomic compare-and-replace under a lock, so concurrent runs of one instance keep the best
of them), so a Ctrl-C or a kill at any moment keeps the best configuration found so far.
``resume=True`` starts from the best configuration of the instance in the store (or in ``out``).
With a store, the search also starts from the stored bests of the neighbouring sizes, resized and
polished (`extremo.search.neighbours`, ``settings.neighbours`` sizes away; their polish counts
against the budget).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from extremo.problems import Problem
from extremo.recorder import RunRecorder, RunResult, resume_points
from extremo.search.arguments import check_choice, check_seconds, check_seed, check_target, check_workers
from extremo.search.local import Candidate, SearchSettings
from extremo.search.neighbours import neighbour_starts
from extremo.search.parallel import BACKENDS, Progress, run_search
from extremo.store import Store


def check_arguments(seconds: float, workers: int | None, seed: int, stop_at: float | None,
                    backend: str) -> tuple[int, str]:
    """Validate the arguments of `discover` (`ParameterError`
    naming the parameter); the number of workers to start and a note if it was capped."""
    check_seconds(seconds)
    check_seed(seed)
    check_target(stop_at)
    check_choice("backend", backend, BACKENDS)
    return check_workers(workers, backend)


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
) -> RunResult:
    """Search ``problem`` for ``seconds`` on ``workers`` processes; see the module docstring.

    ``seconds``: the wall-clock budget, worker start-up included; the search ends at most
    `extremo.search.parallel.GRACE` + `SHUTDOWN` seconds
    after it (plus the final picture). ``workers``: default one per core, capped at the cores
    for local processes (the result's ``notes`` say so). ``seed``: ``0 <= seed < 2^63``.
    ``stop_at``: stop as soon as the best value is at least as good as this (status ``"target
    reached"``). ``backend``: ``"processes"`` or ``"ray"`` (see
    `extremo.search.parallel.run_search`). Bad arguments, an ``out`` that cannot take the
    files, or a file at ``<out>/<slug>.json`` that is not a feasible configuration of the instance
    raise before the search starts.

    ``on_progress(progress, best_value, elapsed)`` is called as rounds complete.
    """
    workers, note = check_arguments(seconds, workers, seed, stop_at, backend)
    settings = settings or SearchSettings(**problem.search_defaults)
    initial, resumed_from = resume_points(problem, store, out) if resume else ([], None)
    rec = RunRecorder(problem, out, store, seed=seed, stop_at=stop_at, resumed_from=resumed_from,
                      settings={**settings.as_dict(), "seconds": seconds, "workers": workers})
    if note:
        rec.notes.append(note)

    def tick(progress: Progress) -> None:
        rec.progress(progress.rounds, progress.evaluations)
        if on_progress:
            on_progress(progress, rec.value, rec.elapsed)

    def keep(cand: Candidate, progress: Progress) -> None:
        rec.progress(progress.rounds, progress.evaluations)
        if rec.offer(cand.x, cand.value) and on_progress:
            on_progress(progress, rec.value, rec.elapsed)

    with rec.running():
        if store is not None:
            initial += neighbour_starts(problem, store, settings.neighbours)
        run_search(problem.name, problem.instance, max(seconds - rec.elapsed, 1e-3), keep, workers=workers,
                   seed=seed, settings=settings, initial=initial, on_progress=tick, should_stop=rec.reached,
                   backend=backend)
    return rec.result()
