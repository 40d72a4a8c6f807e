"""Functions of symmetric matrices through the eigendecomposition.

For a symmetric ``X = U diag(w) U^T`` and a scalar function ``f``,
``f(X) = U diag(f(w)) U^T``.  Its Frechet derivative is given by the
Daleckii-Krein theorem (Daleckii and Krein, 1965; Higham, *Functions of
Matrices*, 2008, Thm. 3.11)::

    Df(X)[E] = U (F o (U^T E U)) U^T,   F_ij = f[w_i, w_j]

where ``f[a, b] = (f(a) - f(b)) / (a - b)`` for ``a != b`` and ``f'(a)`` for
``a == b`` (first divided differences) and ``o`` is the Hadamard product.
``Df(X)`` is self-adjoint for the Frobenius inner product, so the same formula
gives the backward pass.  Unlike differentiating through ``torch.linalg.eigh``
(whose backward divides by ``w_i - w_j``), it is finite and exact for repeated
eigenvalues (e.g. at the identity).

All functions take ``(..., n, n)`` symmetric matrices and are batched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import Tensor

from .parallel import map_batch

__all__ = [
    "sym",
    "skew",
    "sym_funcm",
    "sym_sqrtm",
    "sym_invsqrtm",
    "sym_sqrtm_invsqrtm",
    "sym_logm",
    "sym_expm",
    "sym_powm",
    "sym_frechet",
    "divided_differences",
]


def sym(x: Tensor) -> Tensor:
    """Symmetric part ``(x + x^T) / 2`` of ``(..., n, n)`` matrices."""
    return 0.5 * (x + x.transpose(-1, -2))


def skew(x: Tensor) -> Tensor:
    """Skew-symmetric part ``(x - x^T) / 2`` of ``(..., n, n)`` matrices."""
    return 0.5 * (x - x.transpose(-1, -2))


@dataclass(frozen=True)
class _Spec:
    """A scalar function ``f`` with its derivative and divided differences."""

    f: Callable[[Tensor], Tensor]
    df: Callable[[Tensor], Tensor]
    ddiff: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor] | None = None


def _generic_ddiff(spec: _Spec, a: Tensor, b: Tensor, fa: Tensor, fb: Tensor) -> Tensor:
    # Cancellation in f(a) - f(b) costs eps*|f|/|a-b|; the midpoint derivative
    # errs by |f'''| |a-b|^2 / 24.  They balance at |a-b| ~ eps^(1/3).
    eps = torch.finfo(a.dtype).eps
    scale = torch.maximum(a.abs(), b.abs()).clamp_min(1.0)
    d = a - b
    close = d.abs() <= eps ** (1.0 / 3.0) * scale
    safe_d = torch.where(close, torch.ones_like(d), d)
    return torch.where(close, spec.df(0.5 * (a + b)), (fa - fb) / safe_d)


def _sqrt_ddiff(a, b, fa, fb):
    # (sqrt a - sqrt b) / (a - b) = 1 / (sqrt a + sqrt b): exact, no cancellation.
    return 1.0 / (fa + fb)


def _invsqrt_ddiff(a, b, fa, fb):
    # (a^-1/2 - b^-1/2) / (a - b) = -a^-1/2 b^-1/2 / (a^1/2 + b^1/2)
    return -(fa * fb) / (1.0 / fa + 1.0 / fb)


def _log_ddiff(a, b, fa, fb):
    # log(a/b) / (a - b) written with log1p to stay accurate for a ~ b.
    d = a - b
    close = d == 0
    safe_d = torch.where(close, torch.ones_like(d), d)
    lo = torch.minimum(a, b)
    r = torch.log1p(d.abs() / lo) / safe_d.abs()
    return torch.where(close, 1.0 / a, r)


def _exp_ddiff(a, b, fa, fb):
    # (e^a - e^b) / (a - b) = e^max * -expm1(-|a-b|) / |a-b|
    d = (a - b).abs()
    close = d == 0
    safe_d = torch.where(close, torch.ones_like(d), d)
    hi = torch.maximum(fa, fb)
    return torch.where(close, fa, hi * (-torch.expm1(-safe_d)) / safe_d)


_SQRT = _Spec(torch.sqrt, lambda w: 0.5 / torch.sqrt(w), _sqrt_ddiff)
_INVSQRT = _Spec(torch.rsqrt, lambda w: -0.5 * w ** (-1.5), _invsqrt_ddiff)
_LOG = _Spec(torch.log, torch.reciprocal, _log_ddiff)
_EXP = _Spec(torch.exp, torch.exp, _exp_ddiff)


_NAMED = {"sqrt": _SQRT, "invsqrt": _INVSQRT, "log": _LOG, "exp": _EXP}


def _pow_spec(p: float) -> _Spec:
    return _Spec(lambda w: w**p, lambda w: p * w ** (p - 1.0))


def divided_differences(w: Tensor, func: "str | _Spec", fw: Tensor | None = None) -> Tensor:
    """Matrix ``F_ij = f[w_i, w_j]`` of first divided differences of ``f`` at eigenvalues ``w``.

    ``func`` is ``"sqrt"``, ``"invsqrt"``, ``"log"`` or ``"exp"``; ``w`` is
    ``(..., n)``, the result ``(..., n, n)``.
    """
    spec = _NAMED[func] if isinstance(func, str) else func
    if fw is None:
        fw = spec.f(w)
    a, b = w[..., :, None], w[..., None, :]
    fa, fb = fw[..., :, None], fw[..., None, :]
    if spec.ddiff is not None:
        return spec.ddiff(a, b, fa, fb)
    return _generic_ddiff(spec, a, b, fa, fb)


def _apply(u: Tensor, fw: Tensor) -> Tensor:
    return (u * fw[..., None, :]) @ u.transpose(-1, -2)


def _conj(u: Tensor, e: Tensor) -> Tensor:
    return u.transpose(-1, -2) @ e @ u


class _SymFunctions(torch.autograd.Function):
    """Several spectral functions of one symmetric matrix, one eigendecomposition."""

    @staticmethod
    def forward(ctx, x: Tensor, specs: tuple[_Spec, ...]):
        w, u = torch.linalg.eigh(x)
        fws = [s.f(w) for s in specs]
        ctx.specs = specs
        ctx.save_for_backward(w, u, *fws)
        return tuple(_apply(u, fw) for fw in fws)

    @staticmethod
    def backward(ctx, *grads):
        w, u, *fws = ctx.saved_tensors
        acc = None
        for spec, fw, g in zip(ctx.specs, fws, grads):
            if g is None:
                continue
            term = divided_differences(w, spec, fw) * _conj(u, sym(g))
            acc = term if acc is None else acc + term
        if acc is None:
            return None, None
        return u @ acc @ u.transpose(-1, -2), None


def _sym_functions(x: Tensor, specs: Sequence[_Spec]) -> tuple[Tensor, ...]:
    if x.dim() < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"expected square (..., n, n) matrices, got shape {tuple(x.shape)}")
    specs = tuple(specs)

    def spectral(a: Tensor) -> tuple[Tensor, ...]:
        if torch.is_grad_enabled() and a.requires_grad:
            return _SymFunctions.apply(a, specs)
        w, u = torch.linalg.eigh(a)
        return tuple(_apply(u, s.f(w)) for s in specs)

    return map_batch(spectral, x)


def sym_funcm(x: Tensor, f: Callable[[Tensor], Tensor], df: Callable[[Tensor], Tensor]) -> Tensor:
    """``f(X) = U f(diag w) U^T`` for a scalar function ``f`` with derivative ``df``.

    The backward pass uses Daleckii-Krein divided differences of ``f``,
    switching to ``df`` at the midpoint for (near-)equal eigenvalues.
    Shapes ``(..., n, n) -> (..., n, n)``; cost O(n^3) per matrix.
    """
    return _sym_functions(x, (_Spec(f, df),))[0]


def sym_sqrtm(x: Tensor) -> Tensor:
    """Principal square root ``X^{1/2}`` of SPD ``(..., n, n)`` matrices."""
    return _sym_functions(x, (_SQRT,))[0]


def sym_invsqrtm(x: Tensor) -> Tensor:
    """Inverse square root ``X^{-1/2}`` of SPD ``(..., n, n)`` matrices."""
    return _sym_functions(x, (_INVSQRT,))[0]


def sym_sqrtm_invsqrtm(x: Tensor) -> tuple[Tensor, Tensor]:
    """``(X^{1/2}, X^{-1/2})`` from a single eigendecomposition."""
    return _sym_functions(x, (_SQRT, _INVSQRT))


def sym_logm(x: Tensor) -> Tensor:
    """Principal logarithm ``log X`` of SPD ``(..., n, n)`` matrices."""
    return _sym_functions(x, (_LOG,))[0]


def sym_expm(x: Tensor) -> Tensor:
    """Exponential ``exp X`` of symmetric ``(..., n, n)`` matrices.

    Unless ``x`` requires a gradient (in grad mode) this is ``torch.linalg.matrix_exp``,
    symmetrised: scaling and squaring with a Taylor polynomial of degree at most 18 (Bader,
    Blanes and Casas, Mathematics 7, 1174, 2019), matrix products only, no eigendecomposition.
    Otherwise it goes through the eigendecomposition, with the Daleckii-Krein backward.
    """
    if x.dim() < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"expected square (..., n, n) matrices, got shape {tuple(x.shape)}")
    if torch.is_grad_enabled() and x.requires_grad:
        return _SymFunctions.apply(x, (_EXP,))[0]
    return sym(torch.linalg.matrix_exp(x))


def sym_powm(x: Tensor, p: float) -> Tensor:
    """Real power ``X^p`` of SPD ``(..., n, n)`` matrices."""
    p = float(p)
    if p == 0.5:
        return sym_sqrtm(x)
    if p == -0.5:
        return sym_invsqrtm(x)
    return _sym_functions(x, (_pow_spec(p),))[0]


def sym_frechet(x: Tensor, e: Tensor, func: str = "log", inverse: bool = False) -> Tensor:
    """Frechet derivative ``Df(X)[E] = U (F o U^T E U) U^T`` (Daleckii-Krein).

    ``func`` is one of ``"sqrt"``, ``"invsqrt"``, ``"log"``, ``"exp"``.  With
    ``inverse=True`` returns ``Df(X)^{-1}[E] = U ((U^T E U) / F) U^T``; e.g.
    ``Dexp(log X) = Dlog(X)^{-1}``.  Shapes ``(..., n, n)``.  Gradients flow
    through ``torch.linalg.eigh`` and are undefined at repeated eigenvalues.
    """
    spec = _NAMED[func]

    def frechet(a: Tensor, d: Tensor) -> Tensor:
        w, u = torch.linalg.eigh(a)
        dd = divided_differences(w, spec)
        et = _conj(u, d)
        et = et / dd if inverse else et * dd
        return u @ et @ u.transpose(-1, -2)

    return map_batch(frechet, x, e)

