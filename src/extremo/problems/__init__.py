"""Extremal problems: exact verifiers, objectives, relaxations and best known values.

The built-in problems and the entry-point plugins are loaded by `extremo.problems.registry`
on first use (``make``, ``problem_names``, ``problem_class``).
"""

from extremo.problems.base import Configuration, Layout, Parameter, Problem, ProblemError, Record, Verdict
from extremo.problems.registry import make, plugin_errors, problem_class, problem_classes, problem_names, register

__all__ = [
    "Configuration",
    "Layout",
    "Parameter",
    "Problem",
    "ProblemError",
    "Record",
    "Verdict",
    "make",
    "plugin_errors",
    "problem_class",
    "problem_classes",
    "problem_names",
    "register",
]
