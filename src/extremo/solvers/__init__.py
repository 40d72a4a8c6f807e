"""Numerical solvers below problems and search: constrained polishing (dense SLSQP with autograd
derivatives; trust-region SLP on sparse Jacobians for the near contacts of large instances)."""

from extremo.solvers.slp import slp
from extremo.solvers.slsqp import PolishResult, slsqp

__all__ = ["PolishResult", "slp", "slsqp"]
