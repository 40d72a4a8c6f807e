"""Riemannian (Frechet / Karcher) mean of a batch of points."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from ..manifolds.base import Manifold

__all__ = ["frechet_mean", "FrechetMeanResult"]


class FrechetMeanResult(NamedTuple):
    mean: Tensor
    n_iter: int
    converged: bool
    grad_norm: Tensor


def frechet_mean(
    manifold: Manifold,
    x: Tensor,
    weights: Tensor | None = None,
    *,
    max_iter: int = 100,
    tol: float | None = None,
    step: float = 1.0,
    init: Tensor | None = None,
    return_info: bool = False,
):
    """Weighted Frechet mean ``argmin_m sum_i w_i d(m, x_i)^2`` by Riemannian gradient descent.

    Points ``x`` are ``(..., N, *point_shape)``: the mean is taken over the
    ``N`` axis for every leading batch index, giving ``(..., *point_shape)``.
    ``weights`` ``(..., N)`` are normalised to sum to one (uniform by default).
    Iterates ``m <- exp_m(step * sum_i w_i log_m(x_i))`` (Karcher 1977; Pennec,
    JMIV 2006), the gradient step on ``f(m) = sum_i w_i d(m, x_i)^2 / 2`` since
    ``grad f = -sum_i w_i log_m(x_i)``; ``step = 1`` is Newton's step in flat
    space and converges linearly on nonpositively curved manifolds and for
    concentrated data.  Stops when ``max ||grad f||_m <= tol`` (default ``sqrt(eps)``) over the batch.
    Starts at the first point (or ``init``).  Cost per iteration: N logmaps and
    one expmap per batch index, all batched.
    """
    point_axis = x.dim() - manifold.ndim - 1
    if point_axis < 0:
        raise ValueError(f"x must be (..., N, *{manifold.point_shape}), got shape {tuple(x.shape)}")
    n = x.shape[point_axis]
    if weights is None:
        weights = torch.full(x.shape[: point_axis + 1], 1.0 / n, dtype=x.dtype, device=x.device)
    else:
        weights = weights / weights.sum(-1, keepdim=True)
    w = weights.reshape(*weights.shape, *([1] * manifold.ndim))
    tol = torch.finfo(x.dtype).eps ** 0.5 if tol is None else tol
    mean = x.select(point_axis, 0) if init is None else init
    grad_norm = torch.full(x.shape[:point_axis], float("inf"), dtype=x.dtype, device=x.device)
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        g = (w * manifold.logmap(mean.unsqueeze(point_axis), x)).sum(point_axis)
        grad_norm = manifold.norm(mean, g)
        if bool(grad_norm.max() <= tol):
            converged = True
            break
        mean = manifold.expmap(mean, step * g)
    if return_info:
        return FrechetMeanResult(mean, it, converged, grad_norm)
    return mean
