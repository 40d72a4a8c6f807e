"""Conditional flow matching: probability paths, couplings, losses and ODE samplers.

Euclidean (linear path, Lipman et al. 2023; minibatch OT, Tong et al. 2024) and Riemannian
(geodesic path, Chen and Lipman 2024) flow matching over any `extremo.manifolds.Manifold`,
and spectral-distance flow matching on manifolds known only from samples.
"""

from extremo.flows.coupling import match_objects, ot_pairing
from extremo.flows.loss import cfm_loss
from extremo.flows.paths import geodesic_path, linear_path
from extremo.flows.sampler import METHODS, integrate
from extremo.flows.spectral import SpectralDistance, spectral_cfm_loss, spectral_path, spectral_velocity

__all__ = [
    "METHODS",
    "SpectralDistance",
    "cfm_loss",
    "geodesic_path",
    "integrate",
    "linear_path",
    "match_objects",
    "ot_pairing",
    "spectral_cfm_loss",
    "spectral_path",
    "spectral_velocity",
]
