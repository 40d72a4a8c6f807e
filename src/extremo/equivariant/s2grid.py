r"""Product quadrature on the sphere, exact for band-limited integrands.

Gauss-Legendre nodes in $\cos\theta$ (polar axis e3nn's ``y``) times equispaced
$\varphi$: with ``n_theta = deg // 2 + 1`` and ``n_phi = deg + 1`` nodes,

$$
\int_{S^2} f \, d\Omega = \sum_{a,b} w_a \tfrac{2\pi}{n_\varphi} f(\theta_a, \varphi_b)
$$

holds exactly for every polynomial ``f`` of degree ``<= deg`` in ``(x, y, z)`` (Gauss-Legendre is
exact to degree ``2 n_theta - 1`` in $\cos\theta$, the trapezoid rule on the circle to
frequency ``n_phi - 1``). This is the grid of Xie et al., "The Price of Freedom" (ICML 2025).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import torch

__all__ = ["S2Quadrature", "s2_quadrature"]


class S2Quadrature(NamedTuple):
    """Nodes and weights (float64, CPU) of `s2_quadrature`.

    ``theta`` ``(n_theta,)``, ``phi`` ``(n_phi,)``, ``points`` ``(n_theta, n_phi, 3)`` unit vectors in
    e3nn's ``(x, y, z)``, ``weights`` ``(n_theta, n_phi)`` summing to ``4 pi``.
    """

    theta: torch.Tensor
    phi: torch.Tensor
    points: torch.Tensor
    weights: torch.Tensor


@lru_cache(maxsize=None)
def s2_quadrature(deg: int) -> S2Quadrature:
    """Quadrature exact for polynomials of degree ``<= deg`` on the sphere (see module doc)."""
    if deg < 0:
        raise ValueError(f"quadrature degree must be >= 0, got {deg}")
    n_theta, n_phi = deg // 2 + 1, deg + 1
    z, w = np.polynomial.legendre.leggauss(n_theta)
    theta = torch.from_numpy(np.arccos(z))
    phi = torch.arange(n_phi, dtype=torch.float64) * (2 * math.pi / n_phi)
    st, ct = torch.sin(theta)[:, None], torch.cos(theta)[:, None]
    # (x', y', z') = (sin t cos p, sin t sin p, cos t) is e3nn's (z, x, y).
    points = torch.stack(
        [st * torch.sin(phi), ct.expand(-1, n_phi), st * torch.cos(phi)], dim=-1
    )
    weights = torch.from_numpy(w)[:, None].expand(-1, n_phi) * (2 * math.pi / n_phi)
    return S2Quadrature(theta, phi, points, weights.contiguous())
