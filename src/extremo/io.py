"""Configuration files: plain JSON with named fields, written atomically.

A file holds the problem, its instance, the value and the fields of the configuration::

    {"problem": "circles-sum-radii", "instance": {"n": 26}, "value": 2.6358...,
     "centers": [[x, y], ...], "radii": [r, ...], ...}

so that a published construction can be checked with ``extremo verify`` by writing its fields
and the problem's name (and instance parameters, in ``"instance"`` or at the top level, or on the
command line). Files are replaced atomically, with the usual permissions, and `locked`
lets processes compare and replace one file without interleaving.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from extremo import __version__
from extremo.problems import Problem, ProblemError, make, problem_class
from extremo.problems.base import Configuration
from extremo.search.arguments import ParameterError


def config_document(problem: Problem, config: Configuration, value: float, **extra: Any) -> dict[str, Any]:
    """The JSON document of a configuration (fields as nested lists of floats)."""
    rec = problem.record()
    doc: dict[str, Any] = {
        "problem": problem.name,
        "instance": dict(problem.instance),
        "value": value,
        "value_name": problem.value_name,
        "record": rec.value if rec else None,
        "record_source": rec.source if rec else None,
    }
    doc.update({k: np.asarray(v).tolist() for k, v in config.items()})
    doc.update(extra)
    doc["extremo"] = __version__
    return doc


def file_mode() -> int:
    """Permissions of a new file under the process's umask (0644 under the usual 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def replace_atomically(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Write a file through ``write(binary_file)`` into a temporary file of this process, fsync
    and rename it over ``path``: a kill never leaves half a file, and concurrent writers never
    share a temporary file. The file gets the usual permissions (`file_mode`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, doc: dict[str, Any]) -> Path:
    """Write a JSON document atomically (see `replace_atomically`)."""
    text = json.dumps(doc, indent=1, allow_nan=False).encode()
    return replace_atomically(path, lambda f: f.write(text))


@contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (an ``fcntl`` lock of ``.<name>.lock`` beside it) so that
    processes can read, compare and replace the file without interleaving."""
    path = Path(path)
    fd = os.open(path.parent / f".{path.name}.lock", os.O_RDWR | os.O_CREAT, file_mode())
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def check_writable(directory: str | os.PathLike, *files: str | os.PathLike, parameter: str = "out") -> Path:
    """Make sure ``directory`` exists (creating it) and takes new files, and that none of
    ``files`` is in the way as a directory; `ParameterError` naming ``parameter`` if not."""
    directory = Path(directory)
    ancestor = directory
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        where = "is a file" if ancestor == directory else f"is under {ancestor}, which is a file"
        raise ParameterError(parameter, f"{directory} {where}, not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".extremo-probe.", dir=directory)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ParameterError(parameter, f"{directory} is not writable: {e.strerror or e}") from None
    for f in map(Path, files):
        if f.is_dir():
            raise ParameterError(parameter, f"{directory} holds a directory {f.name}, where the file {f} goes")
    return directory


def read_document(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON object in ``path``; `ProblemError` with a one-line reason for anything else
    (unreadable, not UTF-8, not JSON, nested too deeply, integers too long, not an object)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise ProblemError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ProblemError(f"{path} is not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start})") from None
    try:
        doc = json.loads(text, parse_constant=lambda c: math.nan)
    except json.JSONDecodeError as e:
        raise ProblemError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise ProblemError(f"{path}: the JSON is nested too deeply to be a configuration") from None
    except ValueError as e:  # integers longer than Python's int/str conversion limit
        raise ProblemError(f"{path} is not a configuration: {e}") from None
    if not isinstance(doc, dict):
        raise ProblemError(f"{path}: expected a JSON object with the configuration's fields")
    return doc


def _check_numbers(value: Any, where: str) -> None:
    """Every leaf of a (nested list) field is a JSON number that fits a float64: not a string,
    not a boolean, not ``null``, not an integer beyond 1.8e308."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ProblemError(f"{where} is not an array of numbers: it holds {json.dumps(v)[:40]}")
        elif isinstance(v, int) and not math.isfinite(_as_float(v)):
            raise ProblemError(f"{where} holds an integer of {len(str(abs(v)))} digits, beyond float64")


def _as_float(v: int) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf


def _instance_of(path: Path, doc: dict[str, Any], name: str) -> dict[str, Any]:
    """The instance a file gives, in ``"instance"`` or at the top level (``{"n": 26, ...}``)."""
    inst = doc.get("instance")
    if inst is None:
        inst = {}
    if not isinstance(inst, dict):
        raise ProblemError(f"{path}: \"instance\" must be an object such as {{\"n\": 26}}")
    top = {p.name: doc[p.name] for p in problem_class(name).parameters if p.name in doc}
    for k, v in top.items():
        if k in inst and inst[k] != v:
            raise ProblemError(f"{path}: {k} is {v!r} at the top level but {inst[k]!r} in \"instance\"")
    return {**top, **inst}


def read_configuration(
    path: str | os.PathLike, problem: str | None = None, force: bool = False, **instance: Any
) -> tuple[Problem, Configuration]:
    """Read a configuration file; ``problem``/``instance`` fill in (or override) the file's own.

    A file naming another problem than ``problem`` is refused unless ``force``. Raises
    `ProblemError` with a one-line reason for anything malformed.
    """
    path = Path(path)
    doc = read_document(path)
    named = doc.get("problem")
    if problem is not None and isinstance(named, str) and named != problem and not force:
        raise ParameterError("problem", f"is {problem!r} but {path} names {named!r}; "
                                        f"to read it as {problem!r} anyway, add {{force}}")
    name = problem or named
    if not isinstance(name, str):
        raise ProblemError(f"{path}: no problem named; add \"problem\": NAME or pass --problem")
    inst = {**_instance_of(path, doc, name), **{k: v for k, v in instance.items() if v is not None}}
    prob = make(name, **inst)
    for key in prob.fields():
        if key in doc:
            _check_numbers(doc[key], f"{prob.label}: field {key!r}")
    return prob, prob.check_shapes(doc)
