"""Parallel restarts: independent local-search workers, one process per core.

Each worker runs :class:`~extremo.search.local.LocalSearch` with its own seed and reports
every improvement through a queue; the caller sees one stream of improvements and can stop
all workers at any moment (Ctrl-C) without losing what was reported. ``workers=1`` runs in
the calling process.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue as queue_mod
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from extremo.search.local import Candidate, LocalSearch, SearchSettings, SearchState


@dataclass
class Progress:
    """Aggregate progress across workers."""

    rounds: int = 0
    evaluations: int = 0


ImprovementFn = Callable[[Candidate, Progress], None]


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _worker(wid: int, name: str, instance: dict, settings: SearchSettings, seed: int, deadline: float,
            initial: list[np.ndarray], out: Any, stop: Any) -> None:
    from extremo.problems import make

    torch.set_num_threads(1)
    parent = os.getppid()
    problem = make(name, **instance)
    search = LocalSearch(problem, settings, seed=seed, initial=initial)
    last = [0, 0]

    def report(state: SearchState) -> None:
        out.put(("progress", wid, state.rounds - last[0], state.evaluations - last[1], None))
        last[:] = [state.rounds, state.evaluations]

    def improved(cand: Candidate, state: SearchState) -> None:
        report(state)
        out.put(("improve", wid, cand.value, cand.x, None))

    try:
        # an orphaned worker (its parent was killed) stops at the end of its round
        search.run(0.0, on_improvement=improved, on_round=report, deadline=deadline,
                   should_stop=lambda: stop.is_set() or os.getppid() != parent)
    except KeyboardInterrupt:
        pass
    finally:
        out.put(("done", wid, 0, 0, None))


def run_search(
    name: str,
    instance: dict[str, Any],
    seconds: float,
    on_improvement: ImprovementFn,
    workers: int = 1,
    seed: int = 0,
    settings: SearchSettings | None = None,
    initial: list[np.ndarray] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Progress:
    """Run ``workers`` local searches for ``seconds``; improvements go to ``on_improvement``.

    Stops early once ``should_stop()`` (asked after every message) is true.
    Worker ``w`` uses seed ``seed * 1000 + w``. A ``KeyboardInterrupt`` stops all workers and
    propagates after they are gone; everything reported before it was delivered.
    """
    from extremo.problems import make

    if settings is None:
        settings = SearchSettings(**make(name, **instance).search_defaults)
    initial = list(initial or [])
    progress = Progress()
    deadline = time.time() + seconds
    if workers <= 1:
        problem = make(name, **instance)
        search = LocalSearch(problem, settings, seed=seed * 1000, initial=initial)

        def tick(state: SearchState) -> None:
            progress.rounds, progress.evaluations = state.rounds, state.evaluations
            if on_progress:
                on_progress(progress)

        def improved(cand: Candidate, state: SearchState) -> None:
            tick(state)
            on_improvement(cand, progress)

        search.run(seconds, on_improvement=improved, on_round=tick, deadline=deadline,
                   should_stop=should_stop)
        return progress

    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(w, name, instance, settings, seed * 1000 + w, deadline,
                                          initial, out, stop), daemon=True)
        for w in range(workers)
    ]
    for p in procs:
        p.start()
    running = set(range(workers))
    try:
        while running:
            try:
                kind, wid, a, b, _ = out.get(timeout=0.25)
            except queue_mod.Empty:
                if not any(p.is_alive() for p in procs):
                    break
                continue
            if kind == "progress":
                progress.rounds += a
                progress.evaluations += b
                if on_progress:
                    on_progress(progress)
            elif kind == "improve":
                on_improvement(Candidate(np.asarray(b), float(a)), progress)
            else:
                running.discard(wid)
            if should_stop and should_stop():
                break
    finally:
        stop.set()
        deadline = time.monotonic() + 5
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.terminate()
        _drain(out, on_improvement, progress)
    return progress


def _drain(out: Any, on_improvement: ImprovementFn, progress: Progress) -> None:
    """Deliver improvements still queued when the workers stopped."""
    while True:
        try:
            kind, _, a, b, _ = out.get_nowait()
        except (queue_mod.Empty, OSError, ValueError, EOFError):
            return
        if kind == "improve":
            on_improvement(Candidate(np.asarray(b), float(a)), progress)
