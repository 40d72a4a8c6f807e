"""Matrix functions for symmetric matrices with stable backward passes, and Newton-Schulz iterations."""

from .parallel import eigh, eigvalsh, map_batch, per_matrix
from .newton_schulz import polar_newton_schulz, sign_newton_schulz, sqrtm_newton_schulz
from .orthogonalize import MUON_COEFFICIENTS, aol_rescale, orthogonality_error, quintic_newton_schulz
from .meta_factorization import (
    MetaFactorization,
    cur,
    generalized_nystrom,
    meta_factorize,
    numerical_rank,
    pinv_cr,
    qr_meta,
    svd_meta,
    utv_meta,
)
from .sym import (
    divided_differences,
    skew,
    sym,
    sym_expm,
    sym_frechet,
    sym_funcm,
    sym_invsqrtm,
    sym_logm,
    sym_powm,
    sym_sqrtm,
    sym_sqrtm_invsqrtm,
)

__all__ = [
    "MUON_COEFFICIENTS",
    "aol_rescale",
    "orthogonality_error",
    "quintic_newton_schulz",
    "MetaFactorization",
    "cur",
    "generalized_nystrom",
    "meta_factorize",
    "numerical_rank",
    "pinv_cr",
    "qr_meta",
    "svd_meta",
    "utv_meta",
    "divided_differences",
    "eigh",
    "eigvalsh",
    "map_batch",
    "per_matrix",
    "polar_newton_schulz",
    "sign_newton_schulz",
    "skew",
    "sqrtm_newton_schulz",
    "sym",
    "sym_expm",
    "sym_frechet",
    "sym_funcm",
    "sym_invsqrtm",
    "sym_logm",
    "sym_powm",
    "sym_sqrtm",
    "sym_sqrtm_invsqrtm",
]
