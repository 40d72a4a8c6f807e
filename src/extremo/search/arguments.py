"""Arguments of a run (budget, seed, workers, target), checked once, with errors naming the parameter.

`ParameterError` carries the name of the offending parameter, so that the command line
can print its own flag for it (``seconds`` is ``--time`` there) while the library names the
Python argument.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable

from extremo.problems.base import ProblemError

#: seeds are stored as SQLite integers: 0 <= seed < 2^63
SEED_LIMIT = 2**63


class ParameterError(ProblemError):
    """A bad argument: ``parameter`` names it, ``detail`` says what is wrong with it.

    ``detail`` may name other parameters as ``{name}`` placeholders; `message` writes
    every name the caller's way (the library: ```name```; the command line: its flag).
    """

    def __init__(self, parameter: str, detail: str) -> None:
        self.parameter, self.detail = parameter, detail
        super().__init__(self.message(lambda name: f"`{name}`", first=parameter))

    def message(self, spell: Callable[[str], str], first: str | None = None) -> str:
        detail = re.sub(r"\{([a-z_]+)\}", lambda m: spell(m.group(1)), self.detail)
        return f"{first or spell(self.parameter)} {detail}"


def check_seconds(seconds: float, parameter: str = "seconds") -> float:
    """A budget is a finite positive number of seconds (run until a target with ``stop_at``)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ParameterError(parameter, f"must be a number of seconds, got {seconds!r}")
    if not (math.isfinite(seconds) and seconds > 0):
        raise ParameterError(parameter, f"must be a positive, finite number of seconds, got {seconds:g}")
    return float(seconds)


def check_seed(seed: int) -> int:
    """Seeds are integers in ``0 <= seed < 2^63`` (what the run store and ``torch`` hold)."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ParameterError("seed", f"must be an integer, got {seed!r}")
    if not 0 <= seed < SEED_LIMIT:
        raise ParameterError("seed", f"must be in 0..2^63-1, got {seed}")
    return seed


def worker_seed(seed: int, worker: int) -> int:
    """Seed of worker ``worker`` of a run: ``(1000 seed + worker) mod 2^64``.

    The same seeds as ever for ``seed < 2^54``; never outside the range ``torch.manual_seed`` takes.
    """
    return (1000 * seed + worker) % 2**64


def cores() -> int:
    """Cores this process may run on."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def check_workers(workers: int | None, backend: str = "processes") -> tuple[int, str]:
    """The number of workers to start, and a note when it differs from the one asked for.

    ``None`` means one per core. Local processes are capped at the number of cores: each worker
    is a single-threaded restart stream, so more than one per core only slows them all down
    (and a thousand processes would exhaust memory). Ray workers are not capped (the cluster
    schedules them).
    """
    if workers is None:
        return cores(), ""
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ParameterError("workers", f"must be an integer, got {workers!r}")
    if workers < 1:
        raise ParameterError("workers", f"must be at least 1, got {workers}")
    if backend == "processes" and workers > cores():
        return cores(), f"{workers} workers asked for, {cores()} started (one per core of this machine)"
    return workers, ""


def check_target(stop_at: float | None) -> float | None:
    """A target value is a finite number (or ``None``: no target)."""
    if stop_at is None:
        return None
    if isinstance(stop_at, bool) or not isinstance(stop_at, (int, float)) or not math.isfinite(stop_at):
        raise ParameterError("stop_at", f"must be a finite number, got {stop_at!r}")
    return float(stop_at)


def check_choice(parameter: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ParameterError(parameter, f"must be one of {', '.join(choices)}, got {value!r}")
    return value
