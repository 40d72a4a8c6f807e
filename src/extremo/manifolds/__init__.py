"""Riemannian manifolds with one batched, autograd-safe API.

Every manifold implements ``projx``, ``proju``, ``egrad2rgrad``, ``inner``,
``norm``, ``retr``, ``expmap``, ``logmap``, ``transp``, ``retr_transp``,
``dist``, ``random``, ``origin``, ``check_point`` and ``check_vector``.
"""

from .base import Manifold, default_tolerance
from .euclidean import Euclidean
from .grassmann import Grassmann
from .lorentz import Lorentz
from .parameter import ManifoldParameter
from .poincare import PoincareBall
from .product import Product
from .so3 import SO3, hat, so3_exp, so3_log, vee
from .spd import SPD, SPDAffineInvariant, SPDBuresWasserstein, SPDGeneralizedBuresWasserstein, SPDLogEuclidean
from .sphere import Sphere
from .stiefel import Stiefel

__all__ = [
    "Euclidean",
    "Grassmann",
    "Lorentz",
    "Manifold",
    "ManifoldParameter",
    "PoincareBall",
    "Product",
    "SO3",
    "SPD",
    "SPDAffineInvariant",
    "SPDBuresWasserstein",
    "SPDGeneralizedBuresWasserstein",
    "SPDLogEuclidean",
    "Sphere",
    "Stiefel",
    "default_tolerance",
    "hat",
    "so3_exp",
    "so3_log",
    "vee",
]
