"""Numerical solvers below problems and search: constrained polishing (SLSQP with autograd derivatives)."""

from extremo.solvers.slsqp import PolishResult, slsqp

__all__ = ["PolishResult", "slsqp"]
