"""Spectral geometry of sampled manifolds: learned eigenbases (no mesh, operator or eigensolver)."""

from extremo.spectral.learned import PROBES, EigenNetwork, LearnedEigenbasis, kernel_density

__all__ = ["PROBES", "EigenNetwork", "LearnedEigenbasis", "kernel_density"]
