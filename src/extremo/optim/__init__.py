"""Riemannian optimizers (``torch.optim.Optimizer`` subclasses) and the Frechet mean."""

from .frechet import FrechetMeanResult, frechet_mean
from .radam import RiemannianAdam
from .rsgd import RiemannianSGD

__all__ = ["FrechetMeanResult", "RiemannianAdam", "RiemannianSGD", "frechet_mean"]
