"""Problem registry: names to classes, so that a new problem is one file and one decorator."""

from __future__ import annotations

import difflib
from typing import Any

from extremo.problems.base import Problem, ProblemError

_REGISTRY: dict[str, type[Problem]] = {}


def register(cls: type[Problem]) -> type[Problem]:
    """Class decorator adding a problem under its ``name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"problem name {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def problem_names() -> list[str]:
    return sorted(_REGISTRY)


def problem_class(name: str) -> type[Problem]:
    """The class registered under ``name``, or a :class:`ProblemError` suggesting close names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ProblemError(
            f"unknown problem {name!r}{hint} Known problems: {', '.join(problem_names())}"
        ) from None


def make(name: str, **instance: Any) -> Problem:
    """Instantiate a problem by name, dropping unset (``None``) instance parameters."""
    cls = problem_class(name)
    return cls(**{k: v for k, v in instance.items() if v is not None})
