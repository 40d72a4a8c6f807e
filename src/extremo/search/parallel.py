"""Parallel restarts: independent local-search workers, one process per core.

Each worker runs `LocalSearch` with its own seed and reports
every improvement through a queue; the caller sees one stream of improvements and can stop
all workers at any moment (Ctrl-C) without losing what was reported. ``workers=1`` runs in
the calling process.

The budget is wall-clock time from the call, worker start-up included. Workers stop at the
deadline: the round in progress is cut short there and ends with at most one polish (see
`LocalSearch.run`), so a run normally ends within a polish of its budget (or of the
workers' start-up, if that outlasts the budget). A worker still busy `GRACE` seconds
after the later of the deadline and the moment all workers were up is terminated (after
`SHUTDOWN` more seconds to report), unless it has not finished its first round yet: that
one gets up to `STARTUP` seconds more, so that no run ends empty-handed for being slow
to start.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import queue as queue_mod
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from extremo.search.arguments import ParameterError, check_choice, check_seconds, check_seed, worker_seed
from extremo.search.local import Candidate, LocalSearch, SearchSettings, SearchState

#: seconds after the deadline that the workers get to deliver their last (cut-short) round
GRACE = 10.0
#: seconds a stopped worker gets to say it is done before it is terminated
SHUTDOWN = 1.0
#: seconds past the deadline that slow worker start-ups (imports on a loaded machine) may take
STARTUP = 60.0


@dataclass
class Progress:
    """Aggregate progress across workers."""

    rounds: int = 0
    evaluations: int = 0


ImprovementFn = Callable[[Candidate, Progress], None]


#: thread-count variables of the BLAS/OpenMP runtimes under numpy, scipy and torch
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def single_threaded_children():
    """Processes started inside inherit one BLAS/OpenMP thread each.

    Every worker is one restart stream on one core; a worker whose scipy/LAPACK calls spawn
    their own thread pools oversubscribes the cores and (busy-waiting pools) runs several times
    slower. The runtimes read these variables when the spawned child loads them.
    """
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    os.environ.update({k: "1" for k in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def worker_messages(wid: int, out: Any, stop: Any, parent: int):
    """The frame of a process worker's messages (see `run_processes`): ``("ready", ...)`` on entry,
    ``("done", ...)`` on exit, also after Ctrl-C, which ends the worker quietly. Yields its
    ``should_stop``: the parent asked to stop, or died (an orphaned worker, whose parent process
    ``parent`` is gone, stops at the end of its round)."""
    out.put(("ready", wid, 0, 0, None))
    try:
        yield lambda: stop.is_set() or os.getppid() != parent
    except KeyboardInterrupt:
        pass
    finally:
        out.put(("done", wid, 0, 0, None))


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

    with worker_messages(wid, out, stop, parent) as should_stop:
        search.run(0.0, on_improvement=improved, on_round=report, deadline=deadline, should_stop=should_stop)


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
    backend: str = "processes",
) -> Progress:
    """Run ``workers`` local searches for ``seconds``; improvements go to ``on_improvement``.

    ``backend``: ``"processes"`` (local processes; ``workers=1`` runs in this process) or
    ``"ray"`` (Ray tasks on the cluster at ``$RAY_ADDRESS``, else a local Ray instance; needs
    ``pip install "extremo[ray]"``). Stops early once ``should_stop()`` (asked after every
    message) is true. Worker ``w`` uses seed `worker_seed` ``(seed, w)``.
    A ``KeyboardInterrupt`` stops all workers and propagates after they are gone; everything
    reported before it was delivered. Bad arguments raise `ParameterError`.
    """
    from extremo.problems import make

    check_choice("backend", backend, BACKENDS)
    check_seconds(seconds)
    check_seed(seed)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ParameterError("workers", f"must be a positive integer, got {workers!r}")
    if settings is None:
        settings = SearchSettings(**make(name, **instance).search_defaults)
    initial = list(initial or [])
    progress = Progress()
    if backend == "ray":
        return _run_ray(name, instance, on_improvement, workers, seed, settings, initial, seconds,
                        progress, on_progress, should_stop)
    deadline = time.time() + seconds
    if workers <= 1:
        problem = make(name, **instance)
        search = LocalSearch(problem, settings, seed=worker_seed(seed, 0), initial=initial)

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

    args = [(name, instance, settings, worker_seed(seed, w), deadline, initial) for w in range(workers)]
    return run_processes(_worker, args, deadline, on_improvement, on_progress, should_stop)


BACKENDS = ("processes", "ray")


def _collect(get: Callable[..., tuple], empty: type[Exception], alive: Callable[[], bool], running: set[int],
             on_improvement: ImprovementFn, on_progress: Callable[[Progress], None] | None,
             should_stop: Callable[[], bool] | None, progress: Progress, deadline: float, grace: float,
             startup: float) -> None:
    """Deliver the workers' messages until all in ``running`` are done (removed from it), none
    is alive or ``should_stop()``, or ``grace`` seconds after the later of ``deadline`` and the
    moment the last worker was up. A worker that has not finished a round yet (slow start-up on
    a loaded machine) is waited for up to ``startup`` seconds more, so that every worker
    delivers its first (cut-short) round."""
    up: list[float] = []
    reported: set[int] = set()
    workers = len(running)
    while running:
        now = time.time()
        started = max(up) if len(up) >= workers else now
        late = now >= max(deadline, started) + grace
        if (late and running <= reported) or now >= deadline + startup + grace:
            return
        try:
            kind, wid, a, b, _ = get(timeout=0.25)
        except empty:
            if not alive():
                return
            continue
        if kind == "ready":
            up.append(time.time())
        elif kind == "progress":
            reported.add(wid)
            progress.rounds += a
            progress.evaluations += b
            if on_progress:
                on_progress(progress)
        elif kind == "improve":
            on_improvement(Candidate(np.array(b, dtype=np.float64), float(a)), progress)
        else:
            running.discard(wid)
        if should_stop and should_stop():
            return


class _Flag:
    """A stop flag shared by Ray tasks (held by a Ray actor)."""

    def __init__(self) -> None:
        self.value = False

    def set(self) -> None:
        self.value = True

    def is_set(self) -> bool:
        return self.value


class _RemoteFlag:
    """``is_set()`` of a `_Flag` actor, as the workers call it."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def is_set(self) -> bool:
        import ray

        return ray.get(self.actor.is_set.remote())


def _run_ray(name, instance, on_improvement, workers, seed, settings, initial, seconds, progress,
             on_progress, should_stop) -> Progress:
    """Ray backend of `run_search`: one task per worker, messages through a Ray queue.

    The clock starts once Ray is up; the deadline is an absolute ``time.time()`` instant, so the
    cluster's clocks must agree (NTP). Every node needs extremo installed (or a Ray ``runtime_env`` that provides it).
    """
    try:
        import ray
        from ray.util.queue import Empty, Queue
    except ImportError:
        raise ValueError('the ray backend needs Ray: pip install "extremo[ray]"') from None
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    deadline = time.time() + seconds
    out = Queue()
    flag = ray.remote(_Flag).remote()
    task = ray.remote(num_cpus=1)(_worker)
    refs = [task.remote(w, name, instance, settings, worker_seed(seed, w), deadline, initial, out,
                        _RemoteFlag(flag))
            for w in range(workers)]
    running = set(range(workers))

    def alive() -> bool:
        return len(ray.wait(refs, num_returns=len(refs), timeout=0)[0]) < len(refs)

    try:
        _collect(out.get, Empty, alive, running, on_improvement, on_progress, should_stop, progress,
                 deadline, GRACE, STARTUP)
    finally:
        flag.set.remote()
        _collect(out.get, Empty, alive, running, on_improvement, None, None, progress,
                 time.time(), SHUTDOWN, 0.0)
        for ref in refs:
            ray.cancel(ref, force=True)
        ray.kill(flag)
    return progress


# ---------------------------------------------------------------- process workers (also extremo.boost's)


def run_processes(
    target: Callable[..., None],
    args: list[tuple],
    deadline: float,
    on_improvement: ImprovementFn,
    on_progress: Callable[[Progress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_payload: Callable[[int, Any], None] | None = None,
) -> Progress:
    """Run ``target(w, *args[w], out, stop)`` in one spawned process per entry of ``args``: the
    process workers of `run_search` (``target=_worker``) and of `extremo.boost`. Messages are
    delivered until the deadline plus `GRACE` (see `_collect`); on leaving, also by Ctrl-C, the
    workers are told to stop, their last messages delivered, and stragglers terminated after
    `SHUTDOWN` seconds; a worker killed while writing could leave half a message in the queue, so
    the queue is not read after terminating them.

    ``target`` (a module-level function) speaks `_worker`'s messages on ``out``:
    ``("ready", w, 0, 0, None)`` once set up, ``("progress", w, rounds, evaluations, payload)``
    (increments since its last one), ``("improve", w, value, x, None)`` and
    ``("done", w, 0, 0, None)`` at the end; it stops at ``deadline`` or once ``stop.is_set()``.
    ``on_payload(w, payload)`` receives every progress payload that is not ``None``.
    """
    ctx = mp.get_context("spawn")
    out, stop = ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=target, args=(w, *a, out, stop), daemon=True) for w, a in enumerate(args)]
    with single_threaded_children():
        for p in procs:
            p.start()
    running, progress = set(range(len(procs))), Progress()

    def alive() -> bool:
        return any(p.is_alive() for p in procs)

    def get(timeout: float) -> tuple:
        message = out.get(timeout=timeout)
        if on_payload is not None and message[0] == "progress" and message[4] is not None:
            on_payload(message[1], message[4])
        return message

    try:
        _collect(get, queue_mod.Empty, alive, running, on_improvement, on_progress, should_stop, progress,
                 deadline, GRACE, STARTUP)
    finally:
        stop.set()
        _collect(get, queue_mod.Empty, alive, running, on_improvement, None, None, progress,
                 time.time(), SHUTDOWN, 0.0)
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=SHUTDOWN)
    return progress
