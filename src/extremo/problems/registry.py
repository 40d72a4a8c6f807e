"""Problem registry: names to classes, so that a new problem is one file and one decorator.

Problems come from two places, loaded once on first use:

* the built-in modules listed in `BUILTINS` (importing a module registers its classes);
* the ``extremo.problems`` entry-point group of any installed distribution, so that a package
  of one's own adds problems that every command accepts without editing extremo::

      [project.entry-points."extremo.problems"]
      my-problem = "my_package.my_problem:MyProblem"   # a Problem subclass, or a module

A plugin that fails to load is skipped and reported in one line (`plugin_errors`, and in
the error of an unknown name), never with a traceback.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from importlib.metadata import entry_points
from typing import Any

from extremo.problems.base import Problem, ProblemError

#: modules of the built-in problems
BUILTINS = (
    "extremo.problems.circles",
    "extremo.problems.distance_ratio",
    "extremo.problems.heilbronn",
    "extremo.problems.hexagons",
    "extremo.problems.min_distance",
    "extremo.problems.sphere",
    "extremo.problems.star_discrepancy",
)
#: entry-point group of problem plugins
GROUP = "extremo.problems"

_REGISTRY: dict[str, type[Problem]] = {}
_ERRORS: list[str] = []
_loaded = False


def register(cls: type[Problem]) -> type[Problem]:
    """Class decorator adding a problem under its ``name``."""
    if not (isinstance(cls, type) and issubclass(cls, Problem)):
        raise ValueError(f"register: {cls!r} is not a Problem subclass")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"problem name {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _load() -> None:
    """Import the built-ins, then the entry-point plugins (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    for module in BUILTINS:
        importlib.import_module(module)
    for ep in entry_points(group=GROUP):
        try:
            obj = ep.load()
            if inspect.isclass(obj):
                register(obj)
            elif not inspect.ismodule(obj):
                raise ValueError(f"{ep.value} is neither a Problem subclass nor a module")
        except Exception as e:  # a broken plugin must not break the built-ins
            _ERRORS.append(f"problem plugin {ep.name!r} ({ep.value}) was not loaded: "
                           f"{type(e).__name__}: {e}".replace("\n", " "))


def plugin_errors() -> list[str]:
    """One line per entry-point plugin that failed to load."""
    _load()
    return list(_ERRORS)


def problem_names() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def problem_classes() -> list[type[Problem]]:
    """The registered problem classes, by name."""
    return [_REGISTRY[k] for k in problem_names()]


def problem_class(name: str) -> type[Problem]:
    """The class registered under ``name``, or a `ProblemError` suggesting close names."""
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        broken = f" ({'; '.join(_ERRORS)})" if _ERRORS else ""
        raise ProblemError(
            f"unknown problem {name!r}{hint} Known problems: {', '.join(problem_names())}{broken}"
        ) from None


def make(name: str, **instance: Any) -> Problem:
    """Instantiate a problem by name, dropping unset (``None``) instance parameters."""
    cls = problem_class(name)
    return cls(**{k: v for k, v in instance.items() if v is not None})
