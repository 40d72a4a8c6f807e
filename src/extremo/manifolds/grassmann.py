"""Grassmann manifold ``Gr(n, p)`` of p-dimensional subspaces of ``R^n``.

A subspace is represented by an orthonormal basis ``X`` (``(..., n, p)``,
``X^T X = I``), defined up to ``X -> X Q`` with ``Q`` in ``O(p)``.  Tangent
(horizontal) vectors satisfy ``X^T u = 0``.

References: Edelman, Arias and Smith, SIAM J. Matrix Anal. Appl. 1998, Thm 2.3
and eq. (2.68); Absil, Mahony and Sepulchre, "Riemannian geometry of Grassmann
manifolds", Acta Appl. Math. 2004 (logarithm); Bendokat, Zimmermann and
Absil, "A Grassmann manifold handbook", Adv. Comput. Math. 2024.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import Manifold, _allclose_reason
from .stiefel import _mT, cholesky_qr, qr_positive

__all__ = ["Grassmann"]


class Grassmann(Manifold):
    """Subspaces as orthonormal ``(..., n, p)`` bases; dimension ``p (n - p)``.

    Metric ``<u, v> = tr(u^T v)``; ``exp_X(U S V^T) = X V cos(S) V^T + U sin(S) V^T``;
    ``log_X(Y) = U atan(S) V^T`` with ``U S V^T = (I - XX^T) Y (X^T Y)^{-1}``;
    ``d(X, Y) = ||theta||`` (principal angles).  ``transp`` is parallel
    transport (Edelman eq. 2.68), returned in the basis ``Y`` given.
    """

    name = "Grassmann"
    parallel_transport = True

    def __init__(self, n: int, p: int):
        if p > n:
            raise ValueError(f"Grassmann(n, p) needs p <= n, got n={n}, p={p}")
        super().__init__((n, p), p * (n - p))

    def projx(self, x):
        return qr_positive(x)

    def proju(self, x, u):
        return u - x @ (_mT(x) @ u)

    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        return (u * v).sum((-2, -1), keepdim=keepdim)

    def retr(self, x, u):
        return cholesky_qr(x + u)

    def expmap(self, x, u):
        uu, s, vh = torch.linalg.svd(u, full_matrices=False)
        v = _mT(vh)
        y = (x @ v) * torch.cos(s)[..., None, :] @ vh + uu * torch.sin(s)[..., None, :] @ vh
        # re-orthonormalise: the closed form drifts by O(eps) per call in long runs
        return cholesky_qr(y)

    def logmap(self, x, y):
        xty = _mT(x) @ y
        t = torch.linalg.solve(_mT(xty), _mT(y - x @ xty)).transpose(-1, -2)
        uu, s, vh = torch.linalg.svd(t, full_matrices=False)
        return uu * torch.atan(s)[..., None, :] @ vh

    def dist(self, x, y, keepdim=False):
        return self.norm(x, self.logmap(x, y), keepdim=keepdim)

    def transp(self, x, y, v):
        h = self.logmap(x, y)
        uu, s, vh = torch.linalg.svd(h, full_matrices=False)
        xv = x @ _mT(vh)
        ut_v = _mT(uu) @ v
        moved = (-xv * torch.sin(s)[..., None, :] + uu * torch.cos(s)[..., None, :]) @ ut_v
        tv = moved + v - uu @ ut_v
        # tv is horizontal at the geodesic's endpoint basis Y_g; the caller's
        # basis is Y = Y_g Q with Q = Y_g^T Y, and horizontal vectors follow as v Q.
        y_g = xv * torch.cos(s)[..., None, :] @ vh + uu * torch.sin(s)[..., None, :] @ vh
        return tv @ (_mT(y_g) @ y)

    def random(self, *batch, dtype=None, device=None, generator=None):
        return qr_positive(self._randn(batch, dtype, device, generator))

    def origin(self, *batch, dtype=None, device=None):
        n, p = self.point_shape
        return torch.eye(n, p, dtype=dtype, device=device).expand(self._full_shape(batch)).clone()

    def _check_point(self, x, atol, rtol):
        gram = _mT(x) @ x
        eye = torch.eye(x.shape[-1], dtype=x.dtype, device=x.device).expand_as(gram)
        return _allclose_reason(gram, eye, atol, rtol, "`X^T X != I`")

    def _check_vector(self, x, u, atol, rtol):
        xu = _mT(x) @ u
        return _allclose_reason(xu, torch.zeros_like(xu), atol, rtol, "`X^T u != 0` (not horizontal)")
