"""Extremal problems: exact verifiers, objectives, relaxations and best known values."""

from extremo.problems import circles  # noqa: F401  (registers)
from extremo.problems import heilbronn  # noqa: F401
from extremo.problems import min_distance  # noqa: F401
from extremo.problems import sphere  # noqa: F401
from extremo.problems import star_discrepancy  # noqa: F401
from extremo.problems.base import Configuration, Parameter, Problem, ProblemError, Record, Verdict
from extremo.problems.registry import make, problem_class, problem_names, register

__all__ = [
    "Configuration",
    "Parameter",
    "Problem",
    "ProblemError",
    "Record",
    "Verdict",
    "make",
    "problem_class",
    "problem_names",
    "register",
]
