"""Layers on the Poincare ball (Ganea, Becigneul and Hofmann, "Hyperbolic Neural Networks",
NeurIPS 2018).

* `ToPoincare` / `FromPoincare`: ``exp_0`` and ``log_0``, between Euclidean
  features and the ball;
* `MobiusLinear` ``x -> (M (x)_c x) (+)_c b``, with the Mobius matrix-vector product
  ``M (x)_c x = tanh(|Mx| / |x| artanh(sqrt(c) |x|)) Mx / (sqrt(c) |Mx|)``
  ( ``= exp_0(M log_0 x)`` ) and a bias ``b`` on the ball;
* `HyperbolicMLR`: multinomial logistic regression by signed distances to gyroplanes,
  ``logit_k(x) = lambda_{p_k} |a_k| / sqrt(c) asinh(2 sqrt(c) <z, a_k> / ((1 - c |z|^2) |a_k|))``,
  ``z = (-p_k) (+)_c x``, with offsets ``p_k`` on the ball and normals ``a_k = (1 - c |p_k|^2) a'_k``
  (``a'_k`` Euclidean, moved from the origin's tangent space by parallel transport).

Points on the ball (bias, offsets) are `ManifoldParameter`, for the
Riemannian optimizers of `extremo.optim`; all layers are batched over leading dimensions.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from extremo.manifolds import ManifoldParameter, PoincareBall

__all__ = ["ToPoincare", "FromPoincare", "MobiusLinear", "HyperbolicMLR", "mobius_matvec"]


def _check_features(x: Tensor, n: int, layer: str) -> None:
    if x.dim() < 1 or x.shape[-1] != n:
        raise ValueError(f"{layer} expects features of shape (..., {n}), got shape {tuple(x.shape)}")


def _ball(n: int, c: float) -> PoincareBall:
    if not c > 0:
        raise ValueError(f"the curvature parameter c must be positive (the ball has curvature -c), got {c}")
    return PoincareBall(n, c)


def mobius_matvec(ball: PoincareBall, m: Tensor, x: Tensor) -> Tensor:
    """``M (x)_c x`` for ``m`` ``(out, in)`` and points ``x`` ``(..., in)`` of the ball (0 where ``Mx = 0``)."""
    sc, tiny = math.sqrt(ball.c), torch.finfo(x.dtype).tiny
    mx = x @ m.mT
    xn = x.norm(dim=-1, keepdim=True).clamp_min(tiny)
    mxn = mx.norm(dim=-1, keepdim=True)
    artanh = torch.atanh((sc * xn).clamp(max=1.0 - torch.finfo(x.dtype).eps))
    y = torch.tanh(mxn / xn * artanh) * mx / (sc * mxn.clamp_min(tiny))
    return ball.projx(torch.where(mxn > 0, y, torch.zeros_like(y)))


class _OriginMap(nn.Module):
    """Shared part of `ToPoincare` and `FromPoincare`: the ball of dimension ``n``."""

    def __init__(self, n: int, c: float = 1.0):
        super().__init__()
        self.ball = _ball(n, c)

    def extra_repr(self) -> str:
        return self.ball.extra_repr()


class ToPoincare(_OriginMap):
    """``x -> exp_0(x)``: Euclidean features ``(..., n)`` to points of the ball."""

    def forward(self, x: Tensor) -> Tensor:
        _check_features(x, self.ball.point_shape[0], "ToPoincare")
        return self.ball.expmap0(x)


class FromPoincare(_OriginMap):
    """``y -> log_0(y)``: points of the ball to Euclidean features."""

    def forward(self, y: Tensor) -> Tensor:
        _check_features(y, self.ball.point_shape[0], "FromPoincare")
        return self.ball.logmap0(y)


class MobiusLinear(nn.Module):
    """Hyperbolic linear layer ``x -> (M (x)_c x) (+)_c b`` on the ball of curvature ``-c``."""

    def __init__(self, in_features: int, out_features: int, c: float = 1.0, bias: bool = True,
                 dtype=None, device=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.ball = _ball(out_features, c)
        self.weight = nn.Parameter(torch.empty(out_features, in_features, dtype=dtype, device=device))
        nn.init.xavier_uniform_(self.weight)
        if bias:
            self.bias = ManifoldParameter(self.ball.origin(dtype=dtype, device=device), self.ball)
        else:
            self.register_parameter("bias", None)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, c={self.ball.c:g}, bias={self.bias is not None}"

    def forward(self, x: Tensor) -> Tensor:
        _check_features(x, self.in_features, "MobiusLinear")
        y = mobius_matvec(self.ball, self.weight.to(x.dtype), x)
        if self.bias is not None:
            y = self.ball.projx(self.ball.mobius_add(y, self.bias.to(x.dtype)))
        return y


class HyperbolicMLR(nn.Module):
    """Logits of ``classes`` gyroplanes for points ``(..., n)`` of the ball: ``(..., classes)``."""

    def __init__(self, n: int, classes: int, c: float = 1.0, dtype=None, device=None):
        super().__init__()
        if classes < 1:
            raise ValueError(f"HyperbolicMLR needs at least one class, got {classes}")
        self.n, self.classes = n, classes
        self.ball = _ball(n, c)
        self.offset = ManifoldParameter(self.ball.origin(classes, dtype=dtype, device=device), self.ball)
        self.normal = nn.Parameter(torch.empty(classes, n, dtype=dtype, device=device))
        nn.init.xavier_uniform_(self.normal)

    def extra_repr(self) -> str:
        return f"{self.n} -> {self.classes} classes, c={self.ball.c:g}"

    def forward(self, x: Tensor) -> Tensor:
        _check_features(x, self.n, "HyperbolicMLR")
        c, sc = self.ball.c, math.sqrt(self.ball.c)
        p = self.offset.to(x.dtype)
        shrink = 1.0 - c * (p * p).sum(-1)  # 1 - c |p_k|^2 = 2 / lambda_{p_k}
        a = self.normal.to(x.dtype) * shrink[:, None]  # transported from 0 to p
        z = self.ball.mobius_add(-p, x.unsqueeze(-2))  # (..., classes, n)
        a_norm = a.norm(dim=-1).clamp_min(torch.finfo(x.dtype).tiny)
        lam = 2.0 / shrink
        arg = 2.0 * sc * (z * a).sum(-1) / ((1.0 - c * (z * z).sum(-1)) * a_norm)
        return lam * a_norm / sc * torch.asinh(arg)
