"""Probability paths of conditional flow matching and their target velocities.

Linear (Euclidean) path, Lipman et al. 2023 / Tong et al. 2024 ("I-CFM"):

    x_t = (1 - t) x_0 + t x_1,        u_t = x_1 - x_0.

Geodesic path on a manifold (Chen and Lipman 2024, "Flow Matching on General Geometries", eq. 11):

    x_t = exp_{x_0}(t log_{x_0}(x_1)),    u_t = log_{x_t}(x_1) / (1 - t),

the velocity of the constant-speed geodesic from ``x_0`` to ``x_1``, a tangent vector at ``x_t``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from extremo.manifolds import Manifold


def _expand(t: Tensor, x: Tensor) -> Tensor:
    """``t`` of shape ``(batch,)`` broadcast against ``x`` of shape ``(batch, ...)``."""
    return t.reshape(t.shape + (1,) * (x.dim() - t.dim()))


def linear_path(x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """``(x_t, u_t)`` of the straight line from ``x0`` to ``x1`` at times ``t`` ``(batch,)``."""
    tt = _expand(t, x0)
    return (1 - tt) * x0 + tt * x1, x1 - x0


def geodesic_path(manifold: Manifold, x0: Tensor, x1: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
    """``(x_t, u_t)`` along the geodesic of ``manifold`` (points ``(batch, ..., *point_shape)``).

    ``u_t = log_{x_t}(x_1) / (1 - t)``; ``t`` is kept below 1 so the division is safe.
    """
    tt = _expand(t, x0).clamp(max=1 - 1e-4)
    xt = manifold.expmap(x0, tt * manifold.logmap(x0, x1))
    return xt, manifold.logmap(xt, x1) / (1 - tt)
