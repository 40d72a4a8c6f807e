"""A run written once: the improvement step (verify, store, JSON, picture) and the run's outcome.

``discover``, ``boost`` and the sweeps record a run through one `RunRecorder`:

* `RunRecorder.offer` re-verifies a candidate; an improvement on the run's best is
  written to the store, and to ``<out>/<slug>.json`` only if it is better than what the file
  holds *at that moment*: under an ``fcntl`` lock the file is re-read, re-verified and then
  atomically replaced, so concurrent runs of one instance into one folder leave the best of
  them in the file, whatever the order of their writes;
* `RunRecorder.reached` tells whether the target value is reached;
* `RunRecorder.running` wraps the search: it ends the run as ``finished`` or ``target
  reached``, as ``interrupted`` on Ctrl-C (swallowed, so the caller returns a result), or as
  ``failed`` with a one-line reason on any other exception (re-raised);
* `RunRecorder.result` is the outcome, one `RunResult` for every kind of run.

The picture ``<out>/<slug>.png`` always shows the file's configuration; it is redrawn at most
every `PICTURE_EVERY` seconds while running and at the end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extremo.io import check_writable, config_document, locked, read_configuration, write_json
from extremo.plot import PictureError, load_matplotlib, save_picture
from extremo.problems import Problem, ProblemError
from extremo.problems.base import Configuration, Record
from extremo.search.arguments import check_target
from extremo.store import Store

#: at most one picture per this many seconds while running (always one at the end)
PICTURE_EVERY = 15.0


@dataclass
class RunResult:
    """Outcome of a run (``discover``, ``boost``), read like scipy's ``OptimizeResult``."""

    problem: Problem
    x: np.ndarray | None
    config: Configuration | None
    value: float
    record: Record | None
    gap: float | None
    seconds: float
    rounds: int
    evaluations: int
    #: ``finished``, ``target reached``, ``interrupted`` or ``failed``
    status: str
    run_id: int | None
    json_path: Path | None
    png_path: Path | None
    #: why a ``failed`` run failed (one line)
    reason: str = ""
    #: things the caller should hear about (workers capped, a picture that could not be drawn...)
    notes: list[str] = field(default_factory=list)
    #: ``(evaluations, value)`` at every improvement
    history: list[tuple[int, float]] = field(default_factory=list)
    #: the loop's mode (``boost`` runs)
    mode: str | None = None
    #: mean pairwise distance of the last generated batch (``boost`` runs)
    diversity: float = math.nan

    @property
    def success(self) -> bool:
        return self.config is not None


def output_paths(problem: Problem, out: str | Path) -> tuple[Path, Path]:
    """Where a run of ``problem`` keeps its best configuration and its picture."""
    return Path(out) / f"{problem.slug}.json", Path(out) / f"{problem.slug}.png"


def best_in_file(problem: Problem, path: Path) -> tuple[np.ndarray, float] | None:
    """The configuration of ``problem`` in ``path`` and its verified value; ``None`` without a file.

    A file that is not a feasible configuration of this very instance raises
    `ProblemError`: a run must not replace what it cannot compare with.
    """
    if not path.exists():
        return None
    try:
        prob, config = read_configuration(path)
    except ProblemError as e:
        raise ProblemError(f"{e}; {path} is where this run writes: fix or move that file") from None
    if prob.label != problem.label:
        raise ProblemError(f"{path} holds a configuration of {prob.label}, not {problem.label}: move that file")
    verdict = problem.verify(config)
    if not verdict.feasible:
        raise ProblemError(f"{path} holds an infeasible configuration of {problem.label} ({verdict.reason}): "
                           "fix or move that file")
    return problem.from_config(config), verdict.value


def check_output(problem: Problem, out: str | Path) -> tuple[Path, Path]:
    """Before a run: ``out`` takes the run's files (`ParameterError` naming ``out``) and a
    file already at ``<out>/<slug>.json`` is a feasible configuration of the instance
    (`ProblemError`). Returns the JSON and picture paths."""
    json_path, png_path = output_paths(problem, out)
    check_writable(out, json_path, png_path)
    best_in_file(problem, json_path)
    return json_path, png_path


def resume_points(problem: Problem, store: Store | None, out: str | Path) -> tuple[list[np.ndarray], int | None]:
    """Starting points of a resumed run: the best stored run of the instance and the file in ``out``.

    Returns the points and the id of the stored run; raises `ProblemError` if there is none
    or the best stored run cannot be read.
    """
    json_path = output_paths(problem, out)[0]
    initial, resumed_from = [], None
    prior = store.best_run(problem.label, problem.sense) if store else None
    if prior is not None and prior.damage:
        raise ProblemError(f"cannot resume {problem.label} from run {prior.id} in {store.path}: {prior.damage}")
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


def one_line(error: BaseException) -> str:
    """``Type: first line of the message`` of an exception."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class RunRecorder:
    """Records one run of ``problem`` into ``out`` and ``store`` (see the module docstring).

    Checks before any search that ``out`` takes the run's files (`ParameterError` naming
    ``out``) and that a file already at ``<out>/<slug>.json`` is a feasible configuration of
    the instance (`ProblemError`), then starts the run's row in the store.
    ``settings`` and ``resumed_from`` go to the store; ``document`` are extra fields of the JSON.
    """

    def __init__(self, problem: Problem, out: str | Path = ".", store: Store | None = None, *, seed: int = 0,
                 settings: dict[str, Any] | None = None, command: str = "discover",
                 resumed_from: int | None = None, stop_at: float | None = None,
                 document: dict[str, Any] | None = None) -> None:
        self.problem, self.store, self.seed, self.command = problem, store, seed, command
        self.stop_at = check_target(stop_at)
        self.json_path, self.png_path = check_output(problem, out)
        load_matplotlib()
        self._file_key: tuple | None = None
        self._file_value = math.nan
        self.x: np.ndarray | None = None
        self.value = math.nan
        self.rounds = self.evaluations = 0
        self.history: list[tuple[int, float]] = []
        self.notes: list[str] = []
        self.status, self.reason = "running", ""
        self.run_id = None
        if store is not None:
            self.run_id = store.start_run(problem.name, problem.instance, problem.label, seed, settings or {},
                                          command=command, resumed_from=resumed_from)
        self.document = {"seed": seed, "run_id": self.run_id, **({"command": command} if command != "discover" else {}),
                         **(document or {})}
        self.start = time.monotonic()
        self._picture_at = 0.0
        self.seconds = 0.0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def progress(self, rounds: int | None = None, evaluations: int | None = None) -> None:
        """Count the search's rounds and evaluations (stored with the next improvement and at the end)."""
        if rounds is not None:
            self.rounds = rounds
        if evaluations is not None:
            self.evaluations = evaluations

    def reached(self) -> bool:
        """The best value is at least as good as the target ``stop_at``."""
        return (self.stop_at is not None and not math.isnan(self.value)
                and not self.problem.better(self.stop_at, self.value))

    def offer(self, x: np.ndarray, value: float | None = None) -> bool:
        """Verify ``x`` and record it if it improves on the run's best; True if it did.

        ``value``, the candidate's claimed value, spares the verification of candidates that
        would not improve anyway (the verified value decides).
        """
        p = self.problem
        if value is not None and not p.better(value, self.value):
            return False
        x = np.asarray(x, dtype=np.float64)
        config = p.to_config(x)
        verdict = p.verify(config)
        if not verdict.feasible or not p.better(verdict.value, self.value):
            return False
        self.x, self.value = x, verdict.value
        self.history.append((self.evaluations, self.value))
        if self.store is not None:
            self.store.update_best(self.run_id, self.value, {k: np.asarray(v).tolist() for k, v in config.items()},
                                   self.elapsed, self.evaluations)
        self._write(config, self.value)
        return True

    def _on_disk(self) -> float | None:
        """Verified value of the file now (NaN without a file; ``None`` if it is not a feasible
        configuration of the instance any more: then it is left alone). Call under the lock."""
        try:
            st = self.json_path.stat()
        except FileNotFoundError:
            return math.nan
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._file_key:
            try:
                found = best_in_file(self.problem, self.json_path)
            except ProblemError as e:
                self._note(f"left {self.json_path} alone: {e}")
                return None
            self._file_key, self._file_value = key, found[1] if found else math.nan
        return self._file_value

    def _write(self, config: Configuration, value: float) -> None:
        """Compare-and-replace the JSON file under its lock; redraw the picture now and then."""
        with locked(self.json_path):
            on_disk = self._on_disk()
            if on_disk is None or not self.problem.better(value, on_disk):
                return
            write_json(self.json_path, config_document(self.problem, config, value, **self.document))
            st = self.json_path.stat()
            self._file_key, self._file_value = (st.st_ino, st.st_mtime_ns, st.st_size), value
            if self.elapsed - self._picture_at >= PICTURE_EVERY:
                self._picture_at = self.elapsed
                self._draw(config, value)

    def _draw(self, config: Configuration, value: float) -> None:
        try:
            save_picture(self.problem, config, self.png_path, value)
        except PictureError as e:
            self._note(str(e))

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _final_picture(self) -> None:
        """Draw the file's configuration unless the picture is already newer than the file."""
        with locked(self.json_path):
            if not self.json_path.exists():
                return
            if self.png_path.exists() and self.png_path.stat().st_mtime_ns >= self.json_path.stat().st_mtime_ns:
                return
            try:
                found = best_in_file(self.problem, self.json_path)
            except ProblemError as e:
                self._note(f"no picture of {self.json_path}: {e}")
                return
            self._draw(self.problem.to_config(found[0]), found[1])

    def finish(self, status: str, reason: str = "") -> None:
        """End the run: its status (and reason) in the store, the final picture."""
        self.status, self.reason, self.seconds = status, reason, self.elapsed
        if self.store is not None:
            self.store.finish(self.run_id, status, self.seconds, self.evaluations, reason=reason)
        self._final_picture()

    @contextmanager
    def running(self) -> Iterator[RunRecorder]:
        """Wrap the search; ends the run with its status (see the module docstring)."""
        try:
            yield self
        except KeyboardInterrupt:
            self.finish("interrupted")
        except Exception as e:
            self.finish("failed", one_line(e))
            raise
        except BaseException:
            self.finish("interrupted")
            raise
        else:
            self.finish("target reached" if self.reached() else "finished")

    def result(self, **extra: Any) -> RunResult:
        """The run's outcome; ``extra`` fills the fields of particular runs (``mode``, ``diversity``)."""
        x, p = self.x, self.problem
        return RunResult(
            problem=p, x=x, config=p.to_config(x) if x is not None else None, value=self.value,
            record=p.record(), gap=p.gap(self.value), seconds=self.seconds or self.elapsed, rounds=self.rounds,
            evaluations=self.evaluations, status=self.status, run_id=self.run_id,
            json_path=self.json_path if self.json_path.exists() else None,
            png_path=self.png_path if self.png_path.exists() else None,
            reason=self.reason, notes=list(self.notes), history=list(self.history), **extra,
        )
