"""Rotation group ``SO(3) = {R in R^{3x3} : R^T R = I, det R = 1}``.

Tangent vectors at ``R`` are ``R Omega`` with ``Omega`` skew-symmetric; the
metric is the embedded (bi-invariant) one ``<u, v>_R = tr(u^T v)``, so
``d(R, S) = sqrt(2) * angle(R^T S)``.  Exp and log use Rodrigues' formula.

Reference: Murray, Li and Sastry, *A Mathematical Introduction to Robotic
Manipulation*, 1994, Ch. 2; Absil, Mahony and Sepulchre, 2008, Sec. 5.3.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ..linalg.sym import skew
from .base import Manifold, _allclose_reason

__all__ = ["SO3", "hat", "vee", "so3_exp", "so3_log"]


def _mT(x: Tensor) -> Tensor:
    return x.transpose(-1, -2)


def hat(w: Tensor) -> Tensor:
    """Skew matrix ``[w]_x`` of axis-angle vectors ``(..., 3) -> (..., 3, 3)``, ``[w]_x v = w x v``."""
    z = torch.zeros_like(w[..., 0])
    w0, w1, w2 = w.unbind(-1)
    return torch.stack(
        (torch.stack((z, -w2, w1), -1), torch.stack((w2, z, -w0), -1), torch.stack((-w1, w0, z), -1)), -2
    )


def vee(m: Tensor) -> Tensor:
    """Inverse of ``hat`` on the skew part: ``(..., 3, 3) -> (..., 3)``."""
    return 0.5 * torch.stack((m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]), -1)


def _sinc(t: Tensor) -> Tensor:
    return torch.sinc(t / math.pi)


def so3_exp(w: Tensor) -> Tensor:
    """Rodrigues: ``exp([w]) = I + sinc(t) [w] + (1 - cos t) / t^2 [w]^2``, ``t = |w|``; ``(..., 3) -> (..., 3, 3)``."""
    t = w.norm(dim=-1)[..., None, None]
    k = hat(w)
    eye = torch.eye(3, dtype=w.dtype, device=w.device)
    # (1 - cos t) / t^2 = sinc(t/2)^2 / 2, smooth at t = 0
    return eye + _sinc(t) * k + 0.5 * _sinc(t / 2) ** 2 * (k @ k)


def so3_log(r: Tensor) -> Tensor:
    """Axis-angle ``w`` with ``exp([w]) = R``, angle in ``[0, pi]``; ``(..., 3, 3) -> (..., 3)``.

    The angle is ``atan2(|vee(R - R^T)| / 2, (tr R - 1) / 2)``.  Away from pi,
    ``w = vee(skew R) / sinc(angle)``; near pi the skew part vanishes and the
    axis is read from ``(R + R^T)/2 - cos(angle) I = (1 - cos(angle)) k k^T``
    (largest column), with its sign taken from the skew part.
    """
    s = vee(r)
    sin_t = s.norm(dim=-1)
    cos_t = 0.5 * (torch.diagonal(r, dim1=-2, dim2=-1).sum(-1) - 1.0)
    angle = torch.atan2(sin_t, cos_t)
    near_pi = angle > math.pi - 1e-2

    safe_angle = torch.where(near_pi, torch.ones_like(angle), angle)
    w_regular = s / _sinc(safe_angle)[..., None]

    eye = torch.eye(3, dtype=r.dtype, device=r.device)
    kk = 0.5 * (r + _mT(r)) - cos_t[..., None, None] * eye
    col = torch.diagonal(kk, dim1=-2, dim2=-1).argmax(-1)
    axis = torch.gather(kk, -1, col[..., None, None].expand(*kk.shape[:-1], 1)).squeeze(-1)
    axis = axis / axis.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(r.dtype).tiny)
    sign = torch.where((axis * s).sum(-1, keepdim=True) < 0, -1.0, 1.0).to(r.dtype)
    w_pi = sign * axis * angle[..., None]
    return torch.where(near_pi[..., None], w_pi, w_regular)


class SO3(Manifold):
    """Rotations ``(..., 3, 3)``, dimension 3, embedded metric ``tr(u^T v)``.

    ``proju(R, u) = R skew(R^T u)``; ``exp_R(u) = R exp(R^T u)``;
    ``log_R(S) = R log(R^T S)``; ``d(R, S) = sqrt(2) angle(R^T S)``; parallel
    transport along ``R exp(t xi)``: ``R Omega -> R exp(xi/2) Omega exp(xi/2)``
    (for the bi-invariant metric ``nabla_X Y = [X, Y] / 2`` on invariant fields).
    """

    name = "SO3"
    parallel_transport = True

    def __init__(self):
        super().__init__((3, 3), 3)

    def extra_repr(self):
        return ""

    def projx(self, x):
        u, _, vh = torch.linalg.svd(x)
        d = torch.det(u @ vh)
        ones = torch.ones_like(d)
        return (u * torch.stack((ones, ones, d), -1)[..., None, :]) @ vh

    def proju(self, x, u):
        return x @ skew(_mT(x) @ u)

    def inner(self, x, u, v=None, keepdim=False):
        v = u if v is None else v
        return (u * v).sum((-2, -1), keepdim=keepdim)

    def expmap(self, x, u):
        return x @ so3_exp(vee(_mT(x) @ u))

    def logmap(self, x, y):
        return x @ hat(so3_log(_mT(x) @ y))

    def angle(self, x: Tensor, y: Tensor) -> Tensor:
        """Rotation angle of ``R^T S`` in ``[0, pi]`` (``= d(R, S) / sqrt(2)``)."""
        r = _mT(x) @ y
        cos_t = 0.5 * (torch.diagonal(r, dim1=-2, dim2=-1).sum(-1) - 1.0)
        return torch.atan2(vee(r).norm(dim=-1), cos_t)

    def dist(self, x, y, keepdim=False):
        d = math.sqrt(2.0) * self.angle(x, y)
        return d[..., None, None] if keepdim else d

    def transp(self, x, y, v):
        half = so3_exp(0.5 * so3_log(_mT(x) @ y))
        return x @ half @ skew(_mT(x) @ v) @ half

    def random(self, *batch, dtype=None, device=None, generator=None):
        """Haar-distributed rotations from uniformly random unit quaternions."""
        q = self._randn(batch, dtype, device, generator, shape=(4,))
        q = q / q.norm(dim=-1, keepdim=True)
        a, b, c, d = q.unbind(-1)
        rows = (
            (a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)),
            (2 * (b * c + a * d), a * a - b * b + c * c - d * d, 2 * (c * d - a * b)),
            (2 * (b * d - a * c), 2 * (c * d + a * b), a * a - b * b - c * c + d * d),
        )
        return torch.stack([torch.stack(r, -1) for r in rows], -2)

    def origin(self, *batch, dtype=None, device=None):
        return torch.eye(3, dtype=dtype, device=device).expand(self._full_shape(batch)).clone()

    def _check_point(self, x, atol, rtol):
        gram = _mT(x) @ x
        ok, reason = _allclose_reason(gram, torch.eye(3, dtype=x.dtype, device=x.device).expand_as(gram), atol, rtol, "`R^T R != I`")
        if not ok:
            return ok, reason
        if bool((torch.det(x) <= 0).any()):
            return False, "`det R != 1`: reflection, not a rotation"
        return True, None

    def _check_vector(self, x, u, atol, rtol):
        xu = _mT(x) @ u
        s = xu + _mT(xu)
        return _allclose_reason(s, torch.zeros_like(s), atol, rtol, "`R^T u` is not skew-symmetric")
