"""Riemannian optimizers (``torch.optim.Optimizer`` subclasses) and the Frechet mean."""

from .frechet import FrechetMeanResult, frechet_mean
from .muon import Muon
from .radam import RiemannianAdam
from .rsgd import RiemannianSGD

__all__ = ["FrechetMeanResult", "Muon", "RiemannianAdam", "RiemannianSGD", "frechet_mean"]
