"""Manifold learning on point clouds: principal subbundles and their sub-Riemannian geodesics."""

from extremo.manifold_learning.subbundle import PrincipalSubbundle

__all__ = ["PrincipalSubbundle"]
