"""E(3)-equivariant operations: irreps, spherical harmonics, Wigner matrices, Clebsch-Gordan and
Gaunt tensor products, and layers built on them (linear, gate, point convolution)."""

from .clebsch_gordan import wigner_3j
from .gate import Gate
from .gaunt import GauntTensorProduct, gaunt_coefficients
from .irreps import Irrep, Irreps, MulIr
from .linear import Linear
from .message_passing import PointConvolution
from .s2grid import S2Quadrature, s2_quadrature
from .spherical_harmonics import spherical_harmonics
from .tensor_product import ClebschGordanTensorProduct, FullyConnectedTensorProduct, all_paths
from .wigner import D_from_matrix, rand_matrix, rand_orthogonal, wigner_D

__all__ = [
    "Irrep", "Irreps", "MulIr", "spherical_harmonics", "wigner_D", "D_from_matrix", "wigner_3j", "rand_matrix",
    "rand_orthogonal", "s2_quadrature", "S2Quadrature", "ClebschGordanTensorProduct",
    "FullyConnectedTensorProduct", "all_paths", "GauntTensorProduct", "gaunt_coefficients", "Linear",
    "Gate", "PointConvolution",
]
