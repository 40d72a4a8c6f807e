"""The learned closed loop: equivariant flow-matching generator, feasible sampling, reward-guided
fine-tuning and the outer loop (``extremo boost``; FlowBoost, arXiv 2601.18005)."""

from extremo.boost.loop import MODES, BoostProgress, BoostSettings, boost, find_checkpoint
from extremo.boost.network import NetworkConfig, VelocityNet
from extremo.boost.sampling import Samples, sample
from extremo.boost.views import ObjectView, view_of

__all__ = [
    "MODES",
    "BoostProgress",
    "BoostSettings",
    "NetworkConfig",
    "ObjectView",
    "Samples",
    "VelocityNet",
    "boost",
    "find_checkpoint",
    "sample",
    "view_of",
]
