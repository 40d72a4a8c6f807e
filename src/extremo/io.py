"""Configuration files: plain JSON with named fields, written atomically.

A file holds the problem, its instance, the value and the fields of the configuration::

    {"problem": "circles-sum-radii", "instance": {"n": 26}, "value": 2.6358...,
     "centers": [[x, y], ...], "radii": [r, ...], ...}

so that a published construction can be checked with ``extremo verify`` by writing its fields
and the problem's name (and instance parameters, or ``--n``/``--d`` on the command line).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from extremo import __version__
from extremo.problems import Problem, ProblemError, make
from extremo.problems.base import Configuration


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


def write_json(path: str | os.PathLike, doc: dict[str, Any]) -> Path:
    """Write atomically (temporary file, fsync, rename), so a kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=1, allow_nan=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_configuration(
    path: str | os.PathLike, problem: str | None = None, **instance: Any
) -> tuple[Problem, Configuration]:
    """Read a configuration file; ``problem``/``instance`` fill in (or override) the file's own.

    Raises :class:`ProblemError` with a one-line reason for anything malformed.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ProblemError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        doc = json.loads(text, parse_constant=lambda c: math.nan)
    except json.JSONDecodeError as e:
        raise ProblemError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(doc, dict):
        raise ProblemError(f"{path}: expected a JSON object with the configuration's fields")
    name = problem or doc.get("problem")
    if not isinstance(name, str):
        raise ProblemError(f"{path}: no problem named; add \"problem\": NAME or pass --problem")
    inst = doc.get("instance") or {}
    if not isinstance(inst, dict):
        raise ProblemError(f"{path}: \"instance\" must be an object such as {{\"n\": 26}}")
    inst = {**inst, **{k: v for k, v in instance.items() if v is not None}}
    prob = make(name, **inst)
    return prob, prob.check_shapes(doc)
