"""Stiefel manifold ``St(n, p) = {X in R^{n x p} : X^T X = I_p}``.

References: Edelman, Arias and Smith, "The geometry of algorithms with
orthogonality constraints", SIAM J. Matrix Anal. Appl. 1998 (metrics, geodesics);
Wen and Yin, "A feasible method for optimization with orthogonality
constraints", Math. Program. 2013 (Cayley retraction); Zimmermann and Hueper,
"Computing the Riemannian logarithm on the Stiefel manifold", SIAM J. Matrix
Anal. Appl. 2022 (shooting for the logarithm).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..linalg.parallel import eigh
from ..linalg.sym import sym
from .base import Manifold, _allclose_reason

__all__ = ["Stiefel"]

_METRICS = ("euclidean", "canonical")
_RETRACTIONS = ("qr", "polar", "cayley")


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-1, -2)


def qr_positive(a: Tensor) -> Tensor:
    """Q factor of ``A = QR`` with ``diag(R) > 0`` (unique for full rank ``(..., n, p)``), Householder."""
    q, r = torch.linalg.qr(a)
    sign = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return q * sign[..., None, :]


def cholesky_qr(a: Tensor) -> Tensor:
    """Q factor of ``A = QR``, ``diag(R) > 0``, as ``A R^{-1}`` with ``R^T R = A^T A`` (Cholesky).

    Equal to ``qr_positive`` in exact arithmetic; loses orthogonality like
    ``eps cond(A)^2``, harmless for retractions where ``A^T A = I + u^T u``.
    O(n p^2) and far faster than batched Householder QR.
    """
    chol = torch.linalg.cholesky(_mT(a) @ a)
    # inverting the small p x p factor and multiplying is much faster on CPU than a
    # batched triangular solve against the tall n x p right-hand side
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    return a @ _mT(torch.linalg.solve_triangular(chol, eye, upper=False))


def polar(a: Tensor) -> Tensor:
    """Orthogonal polar factor ``A (A^T A)^{-1/2}`` of full-rank ``(..., n, p)``, via the p x p Gram."""
    w, v = eigh(_mT(a) @ a)
    return a @ ((v * w.rsqrt()[..., None, :]) @ _mT(v))


class Stiefel(Manifold):
    """Orthonormal ``n x p`` frames, points ``(..., n, p)``, dimension ``np - p(p+1)/2``.

    ``metric="euclidean"``: ``<u, v>_X = tr(u^T v)``; ``metric="canonical"``:
    ``<u, v>_X = tr(u^T (I - X X^T / 2) v)``.  Tangent space
    ``{u : X^T u + u^T X = 0}``, projection ``u - X sym(X^T u)``.
    Riemannian gradient: ``P_X(G)`` (euclidean), ``G - X G^T X`` (canonical).
    Retractions: ``"qr"`` (Q factor of ``X + u``, via Cholesky-QR), ``"polar"``
    (``(X + u)(I + u^T u)^{-1/2}``) and ``"cayley"`` (Wen-Yin, Woodbury form,
    O(np^2)).  ``transp`` is vector transport by projection; ``logmap`` has no
    closed form and is computed by shooting.
    """

    name = "Stiefel"

    def __init__(self, n: int, p: int, metric: str = "euclidean", retraction: str = "qr"):
        if p > n:
            raise ValueError(f"Stiefel(n, p) needs p <= n, got n={n}, p={p}")
        if metric not in _METRICS:
            raise ValueError(f"metric must be one of {_METRICS}, got {metric!r}")
        if retraction not in _RETRACTIONS:
            raise ValueError(f"retraction must be one of {_RETRACTIONS}, got {retraction!r}")
        super().__init__((n, p), n * p - p * (p + 1) // 2)
        self.metric = metric
        self.retraction = retraction

    def extra_repr(self):
        n, p = self.point_shape
        return f"{n}, {p}, metric={self.metric!r}, retraction={self.retraction!r}"

    def projx(self, x):
        u, _, vh = torch.linalg.svd(x, full_matrices=False)
        return u @ vh

    def proju(self, x, u):
        return u - x @ sym(_mT(x) @ u)

    def egrad2rgrad(self, x, g):
        if self.metric == "canonical":
            return g - x @ (_mT(g) @ x)
        return self.proju(x, g)

    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        out = (u * v).sum((-2, -1), keepdim=keepdim)
        if self.metric == "canonical":
            out = out - 0.5 * ((_mT(x) @ u) * (_mT(x) @ v)).sum((-2, -1), keepdim=keepdim)
        return out

    # retractions --------------------------------------------------------------------------

    def retr(self, x, u):
        if self.retraction == "qr":
            return cholesky_qr(x + u)
        if self.retraction == "polar":
            return polar(x + u)
        return self._cayley(x, u)

    def _cayley(self, x: Tensor, u: Tensor) -> Tensor:
        """``Y = (I - W/2)^{-1} (I + W/2) X``, ``W = g X^T - X g^T``, ``g = u - X X^T u / 2``.

        ``W = A B^T`` with ``A = [g, X]``, ``B = [X, -g]`` has rank 2p, so by
        Woodbury ``(I - AB^T/2)^{-1} = I + A (I - B^T A / 2)^{-1} B^T / 2``.
        ``W X = u`` for tangent ``u``, so this is a retraction for both metrics.
        """
        g = u - 0.5 * x @ (_mT(x) @ u)
        a = torch.cat((g, x), dim=-1)
        b = torch.cat((x, -g), dim=-1)
        z = x + 0.5 * a @ (_mT(b) @ x)
        eye = torch.eye(a.shape[-1], dtype=x.dtype, device=x.device)
        small = eye - 0.5 * _mT(b) @ a
        return z + 0.5 * a @ torch.linalg.solve(small, _mT(b) @ z)

    # geodesics ----------------------------------------------------------------------------

    def expmap(self, x, u):
        x, u = torch.broadcast_tensors(x, u)
        if self.metric == "canonical":
            return self._expmap_canonical(x, u)
        return self._expmap_euclidean(x, u)

    def _expmap_euclidean(self, x: Tensor, u: Tensor) -> Tensor:
        """Edelman et al. (2.14): ``[X, u] expm([[A, -S], [I, A]]) [I; 0] expm(-A)``, ``A = X^T u``, ``S = u^T u``."""
        p = x.shape[-1]
        a = _mT(x) @ u
        s = _mT(u) @ u
        eye = torch.eye(p, dtype=x.dtype, device=x.device).expand_as(a)
        block = torch.cat((torch.cat((a, -s), -1), torch.cat((eye, a), -1)), -2)
        e = torch.linalg.matrix_exp(block)[..., :p]
        y = torch.cat((x, u), -1) @ e
        return y @ torch.linalg.matrix_exp(-a)

    def _expmap_canonical(self, x: Tensor, u: Tensor) -> Tensor:
        """Edelman et al. (2.42): ``QR = (I - XX^T) u``, ``[X, Q] expm([[A, -R^T], [R, 0]]) [I; 0]``."""
        p = x.shape[-1]
        a = _mT(x) @ u
        q, r = torch.linalg.qr(u - x @ a)
        zero = torch.zeros_like(a)
        block = torch.cat((torch.cat((a, -_mT(r)), -1), torch.cat((r, zero), -1)), -2)
        e = torch.linalg.matrix_exp(block)[..., :p]
        return torch.cat((x, q), -1) @ e

    def logmap(self, x, y, max_iter: int = 200, tol: float | None = None):
        """``log_X(Y)`` by shooting: ``u <- u + P_X(Y - exp_X(u))`` from ``u_0 = P_X(Y - X)``.

        The update is a Newton step with the differential of ``exp`` replaced by
        the identity, exact to O(|u|^2); it converges linearly for points within
        about 1 of each other.  Iterates until ``max |Y - exp_X(u)| <= tol`` over
        the batch; gradients flow through the unrolled iterations.
        """
        tol = 1e3 * torch.finfo(x.dtype).eps if tol is None else tol
        x, y = torch.broadcast_tensors(x, y)
        u = self.proju(x, y - x)
        for _ in range(max_iter):
            r = y - self.expmap(x, u)
            if bool(r.abs().amax() <= tol):
                break
            u = u + self.proju(x, r)
        return u

    # sampling and checks ------------------------------------------------------------------

    def random(self, *batch, dtype=None, device=None, generator=None):
        """Haar-distributed frames: the Q factor (``diag R > 0``) of a Gaussian matrix."""
        return qr_positive(self._randn(batch, dtype, device, generator))

    def origin(self, *batch, dtype=None, device=None):
        n, p = self.point_shape
        eye = torch.eye(n, p, dtype=dtype, device=device)
        return eye.expand(self._full_shape(batch)).clone()

    def _check_point(self, x, atol, rtol):
        gram = _mT(x) @ x
        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device).expand_as(gram)
        return _allclose_reason(gram, eye, atol, rtol, "`X^T X != I`")

    def _check_vector(self, x, u, atol, rtol):
        xu = _mT(x) @ u
        s = xu + _mT(xu)
        return _allclose_reason(s, torch.zeros_like(s), atol, rtol, "`X^T u + u^T X != 0`")
