"""Neural-network layers on manifolds: SPD matrices (SPDNet) and the Poincare ball (HNN).

Constrained weights are `ManifoldParameter`; train them with
`RiemannianAdam` or `RiemannianSGD`, which treat the
plain parameters exactly as ``torch.optim.Adam`` / ``SGD`` do.
"""

from .adapters import BOFTLinear, HRALinear, OFTLinear
from .hyperbolic import FromPoincare, HyperbolicMLR, MobiusLinear, ToPoincare, mobius_matvec
from .orthogonal import Butterfly, Cayley, Givens, Householder
from .spd import BiMap, LogEig, ReEig, sym_to_vec
from .spd_batchnorm import SPDBatchNorm

__all__ = [
    "BOFTLinear",
    "BiMap",
    "Butterfly",
    "Cayley",
    "Givens",
    "HRALinear",
    "Householder",
    "OFTLinear",
    "FromPoincare",
    "HyperbolicMLR",
    "LogEig",
    "MobiusLinear",
    "ReEig",
    "SPDBatchNorm",
    "ToPoincare",
    "mobius_matvec",
    "sym_to_vec",
]
