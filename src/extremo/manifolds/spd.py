"""Symmetric positive definite matrices ``SPD(n)`` under four Riemannian metrics.

``SPD(n, metric=...)`` returns the subclass for the metric:

* ``"affine"`` (affine-invariant; Pennec, Fillard and Ayache, IJCV 2006),
* ``"log_euclidean"`` (Arsigny, Fillard, Pennec and Ayache, SIAM J. Matrix Anal.
  Appl. 2007),
* ``"bures_wasserstein"`` (Bhatia, Jain and Lim, Expo. Math. 2019; Malago,
  Montrucchio and Pistone, Inf. Geom. 2018),
* ``"generalized_bw"`` with SPD parameter ``M`` (Han, Mishra, Jawanpuria and
  Gao, "Generalized Bures-Wasserstein geometry for positive definite
  matrices", 2021).

Points and tangent vectors are ``(..., n, n)`` symmetric matrices; the tangent
space is ``Sym(n)`` at every point.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..linalg.parallel import eigh, eigvalsh, per_matrix
from ..linalg.sym import divided_differences, sym, sym_expm, sym_logm, sym_sqrtm, sym_sqrtm_invsqrtm
from .base import Manifold, _allclose_reason

__all__ = [
    "SPD",
    "SPDAffineInvariant",
    "SPDLogEuclidean",
    "SPDBuresWasserstein",
    "SPDGeneralizedBuresWasserstein",
]


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-1, -2)


def _congruence(a: Tensor, x: Tensor) -> Tensor:
    """``A X A^T``."""
    return a @ x @ _mT(a)


def _tri_inv(chol: Tensor) -> Tensor:
    """``L^{-1}`` of lower-triangular ``L``."""
    eye = torch.eye(chol.shape[-1], dtype=chol.dtype, device=chol.device)
    return torch.linalg.solve_triangular(chol, eye, upper=False)


def _tri_congruence_inv(chol: Tensor, x: Tensor) -> Tensor:
    """``L^{-1} X L^{-T}``; batched small triangular solves with a matrix right-hand
    side are slow on CPU, so form ``L^{-1}`` once and multiply."""
    return _congruence(_tri_inv(chol), x)


def _frob(a: Tensor, b: Tensor, keepdim: bool) -> Tensor:
    return (a * b).sum((-2, -1), keepdim=keepdim)


class SPD(Manifold):
    """SPD matrices ``(..., n, n)``, dimension ``n (n + 1) / 2``.

    ``SPD(n, metric)`` dispatches to the subclass for ``metric`` (see module
    docstring).  Shared: ``projx`` symmetrises and clamps eigenvalues to
    ``>= 100 n eps max|eig|``; ``proju`` symmetrises; ``origin`` is ``I``; ``random``
    is ``expm(S)`` with ``S`` a symmetric Gaussian of entry scale ``std / sqrt(n)``.
    """

    name = "SPD"
    metric = "affine"

    def __new__(cls, *args, **kwargs):
        if cls is SPD:
            metric = kwargs.get("metric", args[1] if len(args) > 1 else "affine")
            if metric not in _REGISTRY:
                raise ValueError(f"unknown SPD metric {metric!r}; choose from {sorted(_REGISTRY)}")
            cls = _REGISTRY[metric]
        return super().__new__(cls)

    def __init__(self, n: int, metric: str | None = None, M: Tensor | None = None):
        if metric is not None and metric != self.metric:
            raise ValueError(f"{type(self).__name__} has metric {self.metric!r}, got {metric!r}")
        super().__init__((n, n), n * (n + 1) // 2)

    def extra_repr(self):
        return f"{self.point_shape[0]}, metric={self.metric!r}"

    def __reduce__(self):
        return (type(self), (self.point_shape[0],))

    @per_matrix
    def projx(self, x):
        w, u = eigh(sym(x))
        # the floor exceeds the O(n eps |w|) error of rebuilding U diag(w) U^T
        floor = 100 * x.shape[-1] * torch.finfo(x.dtype).eps * w.abs().amax(-1, keepdim=True)
        w = torch.maximum(w, floor)
        return (u * w[..., None, :]) @ _mT(u)

    def proju(self, x, u):
        return sym(u)

    def random(self, *batch, dtype=None, device=None, generator=None, std: float = 1.0):
        g = self._randn(batch, dtype, device, generator)
        return sym_expm(sym(g) * (std / self.point_shape[0] ** 0.5))

    def origin(self, *batch, dtype=None, device=None):
        n = self.point_shape[0]
        return torch.eye(n, dtype=dtype, device=device).expand(self._full_shape(batch)).clone()

    def _check_point(self, x, atol, rtol):
        ok, reason = _allclose_reason(x, _mT(x), atol, rtol, "`X != X^T`")
        if not ok:
            return ok, reason
        wmin = eigvalsh(sym(x))[..., 0]
        if bool((wmin <= 0).any()):
            return False, f"`X` is not positive definite (smallest eigenvalue {float(wmin.min()):.3g})"
        return True, None

    def _check_vector(self, x, u, atol, rtol):
        return _allclose_reason(u, _mT(u), atol, rtol, "`u != u^T`")


class SPDAffineInvariant(SPD):
    """Affine-invariant metric ``<u, v>_X = tr(X^{-1} u X^{-1} v)``.

    With ``X = L L^T`` (Cholesky; any square root works by affine invariance):
    ``exp_X(u) = L expm(L^{-1} u L^{-T}) L^T``, ``log_X(Y) = L logm(L^{-1} Y L^{-T}) L^T``,
    ``d(X, Y)^2 = sum_i log^2 lambda_i(X^{-1} Y)``, Riemannian gradient ``X sym(G) X``,
    retraction ``X + u + u X^{-1} u / 2`` (second order, always SPD), parallel
    transport ``E v E^T`` with ``E = (Y X^{-1})^{1/2} = L C^{1/2} L^{-1}``,
    ``C = L^{-1} Y L^{-T}``.
    """

    metric = "affine"
    parallel_transport = True

    def egrad2rgrad(self, x, g):
        return x @ sym(g) @ x

    def inner(self, x, u, v=None, keepdim=False):
        chol_inv = _tri_inv(torch.linalg.cholesky(x))
        a = _congruence(chol_inv, u)
        b = a if v is None else _congruence(chol_inv, v)
        return _frob(a, b, keepdim)

    def retr(self, x, u):
        return sym(x + u + 0.5 * u @ torch.cholesky_solve(u, torch.linalg.cholesky(x)))

    @per_matrix
    def expmap(self, x, u):
        chol = torch.linalg.cholesky(x)
        return sym(_congruence(chol, sym_expm(sym(_tri_congruence_inv(chol, u)))))

    @per_matrix
    def logmap(self, x, y):
        chol = torch.linalg.cholesky(x)
        return sym(_congruence(chol, sym_logm(sym(_tri_congruence_inv(chol, y)))))

    @per_matrix
    def dist(self, x, y, keepdim=False):
        chol = torch.linalg.cholesky(x)
        w = eigvalsh(sym(_tri_congruence_inv(chol, y)))
        d = torch.log(w).square().sum(-1).sqrt()
        return d[..., None, None] if keepdim else d

    @per_matrix
    def transp(self, x, y, v):
        chol = torch.linalg.cholesky(x)
        chol_inv = _tri_inv(chol)
        e = chol @ sym_sqrtm(sym(_congruence(chol_inv, y))) @ chol_inv
        return sym(_congruence(e, v))


class SPDLogEuclidean(SPD):
    """Log-Euclidean metric: the pull-back of the flat metric by ``log``.

    ``<u, v>_X = <Dlog_X(u), Dlog_X(v)>_F``; ``exp_X(u) = expm(log X + Dlog_X(u))``;
    ``log_X(Y) = Dexp_{log X}(log Y - log X)``; ``d(X, Y) = ||log X - log Y||_F``;
    parallel transport ``Dexp_{log Y}(Dlog_X(v))``.  With ``X = Q diag(w) Q^T``,
    ``Dlog_X(u) = Q ((Q^T u Q) o F) Q^T``, ``F_ij = log[w_i, w_j]`` (Daleckii-Krein), so
    one eigendecomposition of ``X`` serves ``log X`` and ``Dlog_X`` together, and
    ``exp_X(u) = Q expm(diag(log w) + (Q^T u Q) o F) Q^T``.
    """

    metric = "log_euclidean"
    parallel_transport = True

    @staticmethod
    def _eig(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(log w, Q, F)`` for ``X = Q diag(w) Q^T`` and ``F_ij = log[w_i, w_j]``."""
        w, q = eigh(x)
        log_w = torch.log(w)
        return log_w, q, divided_differences(w, "log", log_w)

    @staticmethod
    def _dlog(x: Tensor, u: Tensor, power: int = 1) -> Tensor:
        """``Dlog_X^power [u]`` for power in {1, -1, -2} (``-1`` is ``Dexp_{log X}``)."""
        _, q, dd = SPDLogEuclidean._eig(x)
        return q @ ((_mT(q) @ u @ q) * dd**power) @ _mT(q)

    @per_matrix
    def egrad2rgrad(self, x, g):
        return sym(self._dlog(x, sym(g), power=-2))

    @per_matrix
    def inner(self, x, u, v=None, keepdim=False):
        _, q, dd = self._eig(x)
        du = (_mT(q) @ u @ q) * dd  # Dlog_X(u) in the eigenbasis; the Frobenius product is invariant
        dv = du if v is None else (_mT(q) @ v @ q) * dd
        return _frob(du, dv, keepdim)

    @per_matrix
    def expmap(self, x, u):
        log_w, q, dd = self._eig(x)
        inner = (_mT(q) @ u @ q) * dd + torch.diag_embed(log_w)
        return sym(q @ sym_expm(sym(inner)) @ _mT(q))

    @per_matrix
    def logmap(self, x, y):
        log_w, q, dd = self._eig(x)
        diff = _mT(q) @ sym_logm(y) @ q - torch.diag_embed(log_w)
        return sym(q @ (diff / dd) @ _mT(q))

    @per_matrix
    def dist(self, x, y, keepdim=False):
        d = sym_logm(x) - sym_logm(y)
        return _frob(d, d, keepdim).sqrt()

    @per_matrix
    def transp(self, x, y, v):
        return sym(self._dlog(y, self._dlog(x, v), power=-1))


class SPDBuresWasserstein(SPD):
    """Bures-Wasserstein metric ``<u, v>_X = tr(L_X[u] v) / 2``, ``X L + L X = u`` (Lyapunov).

    ``exp_X(u) = X + u + L_X[u] X L_X[u] = (I + L) X (I + L)`` (SPD while
    ``I + L_X[u]`` is nonsingular); ``log_X(Y) = (XY)^{1/2} + (YX)^{1/2} - 2X``;
    ``d(X, Y)^2 = tr X + tr Y - 2 tr (X^{1/2} Y X^{1/2})^{1/2}``;
    Riemannian gradient ``2 (X G + G X)``.  ``transp`` is the identity on
    ``Sym(n)`` (a vector transport, not parallel).
    """

    metric = "bures_wasserstein"

    @staticmethod
    def _lyap(x: Tensor, u: Tensor) -> Tensor:
        """Solution ``L`` of ``X L + L X = u`` in the eigenbasis of ``X``."""
        w, q = eigh(x)
        return q @ ((_mT(q) @ u @ q) / (w[..., :, None] + w[..., None, :])) @ _mT(q)

    def egrad2rgrad(self, x, g):
        g = sym(g)
        xg = x @ g
        return 2.0 * (xg + _mT(xg))

    @per_matrix
    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        return 0.5 * _frob(self._lyap(x, u), v, keepdim)

    @per_matrix
    def expmap(self, x, u):
        lx = self._lyap(x, u)
        return sym(x + u + lx @ x @ lx)

    @per_matrix
    def logmap(self, x, y):
        # (XY)^{1/2} = L (L^T Y L)^{1/2} L^{-1} for X = L L^T: its square is L L^T Y = XY and it is
        # similar to an SPD matrix, so it is the principal root; one Cholesky instead of a sqrtm.
        chol = torch.linalg.cholesky(x)
        xy = chol @ sym_sqrtm(sym(_mT(chol) @ y @ chol)) @ _tri_inv(chol)
        return sym(xy + _mT(xy)) - 2.0 * x

    @per_matrix
    def dist(self, x, y, keepdim=False):
        # eig(X^{1/2} Y X^{1/2}) = eig(L^T Y L) for X = L L^T: a Cholesky instead of a sqrtm.
        chol = torch.linalg.cholesky(x)
        w = eigvalsh(sym(_mT(chol) @ y @ chol)).clamp_min(0)
        tr = torch.diagonal(x, dim1=-2, dim2=-1).sum(-1) + torch.diagonal(y, dim1=-2, dim2=-1).sum(-1)
        d = (tr - 2.0 * w.sqrt().sum(-1)).clamp_min(0).sqrt()
        return d[..., None, None] if keepdim else d

    def transp(self, x, y, v):
        return v

    def retr_transp(self, x, u, v):
        return self.retr(x, u), v


class SPDGeneralizedBuresWasserstein(SPDBuresWasserstein):
    """Generalized Bures-Wasserstein metric with SPD parameter ``M`` (Han et al. 2021).

    ``<u, v>_X = tr(L v) / 2`` with ``X L M + M L X = u``;
    ``d(X, Y)^2 = tr(M^{-1} X) + tr(M^{-1} Y) - 2 tr (X^{1/2} M^{-1} Y M^{-1} X^{1/2})^{1/2}``.
    The congruence ``phi(X) = M^{-1/2} X M^{-1/2}`` is an isometry onto the
    Bures-Wasserstein metric, so every operation is the BW one conjugated by
    ``phi``.  ``M = I`` recovers Bures-Wasserstein.
    """

    metric = "generalized_bw"

    def __init__(self, n: int, metric: str | None = None, M: Tensor | None = None):
        super().__init__(n, metric)
        if M is None:
            M = torch.eye(n, dtype=torch.float64)
        if not isinstance(M, Tensor) or tuple(M.shape) != (n, n):
            raise ValueError(f"M must be a ({n}, {n}) tensor, got {getattr(M, 'shape', type(M).__name__)}")
        ok, reason = SPDAffineInvariant(n).check_point(M.detach().to(torch.float64))
        if not ok:
            raise ValueError(f"M must be symmetric positive definite: {reason}")
        self.M = M
        self._m_half, self._m_inv_half = sym_sqrtm_invsqrtm(sym(M.detach().to(torch.float64)))
        self._cache: dict = {}

    def __reduce__(self):
        return (type(self), (self.point_shape[0], self.metric, self.M))

    def extra_repr(self):
        return f"{self.point_shape[0]}, metric={self.metric!r}, M={tuple(self.M.shape)}"

    def __eq__(self, other):
        return type(self) is type(other) and torch.equal(self.M, other.M)

    __hash__ = SPD.__hash__

    def _mats(self, x: Tensor) -> tuple[Tensor, Tensor]:
        key = (x.dtype, x.device)
        if key not in self._cache:
            self._cache[key] = (self._m_half.to(x.device, x.dtype), self._m_inv_half.to(x.device, x.dtype))
        return self._cache[key]

    def _phi(self, a: Tensor) -> Tensor:
        return _congruence(self._mats(a)[1], a)

    def _psi(self, a: Tensor) -> Tensor:
        return _congruence(self._mats(a)[0], a)

    @per_matrix
    def egrad2rgrad(self, x, g):
        return self._psi(super().egrad2rgrad(self._phi(x), self._psi(g)))

    @per_matrix
    def inner(self, x, u, v=None, keepdim=False):
        return super().inner(self._phi(x), self._phi(u), None if v is None else self._phi(v), keepdim)

    @per_matrix
    def expmap(self, x, u):
        return sym(self._psi(super().expmap(self._phi(x), self._phi(u))))

    @per_matrix
    def logmap(self, x, y):
        return sym(self._psi(super().logmap(self._phi(x), self._phi(y))))

    @per_matrix
    def dist(self, x, y, keepdim=False):
        return super().dist(self._phi(x), self._phi(y), keepdim)


_REGISTRY = {
    "affine": SPDAffineInvariant,
    "log_euclidean": SPDLogEuclidean,
    "bures_wasserstein": SPDBuresWasserstein,
    "generalized_bw": SPDGeneralizedBuresWasserstein,
}
