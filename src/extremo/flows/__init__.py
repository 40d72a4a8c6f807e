"""Conditional flow matching: probability paths, couplings, losses and ODE samplers.

Euclidean (linear path, Lipman et al. 2023; minibatch OT, Tong et al. 2024) and Riemannian
(geodesic path, Chen and Lipman 2024) flow matching over any :class:`extremo.manifolds.Manifold`.
"""

from extremo.flows.coupling import match_objects, ot_pairing
from extremo.flows.loss import cfm_loss
from extremo.flows.paths import geodesic_path, linear_path
from extremo.flows.sampler import METHODS, integrate

__all__ = ["METHODS", "cfm_loss", "geodesic_path", "integrate", "linear_path", "match_objects", "ot_pairing"]
