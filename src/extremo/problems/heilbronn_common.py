"""What the Heilbronn problems share: their parameters, signed triangle areas, the emptiest spot
for a point, and the epigraph polish of the smallest triangle.

`extremo.problems.heilbronn` (a fixed region) and `extremo.problems.heilbronn_convex`
(the points' hull) both import this module; neither imports the other's internals.

The polish (`polish_smallest_triangle`) solves by SLSQP the epigraph form

    max u  s.t.  s_ijk A_ijk(p) / (D(p) t_0) >= u  for the triples ijk,

``A_ijk = det(p_j - p_i, p_k - p_i) / 2``, the orientations ``s_ijk`` of the start fixed (a triple
cannot change orientation without its area passing through 0 < t), ``t_0`` the start's smallest
ratio, and ``D`` the divisor: the region's area (a constant), or the area of the hull polygon of
the start's hull vertices in their order (shoelace, so ``D`` is smooth; with every orientation
fixed the hull keeps its vertices). The areas are bilinear, so the Jacobian is written out: six
entries a row, ``dA/dp_i = (y_j - y_k, x_k - x_j) / 2`` cyclically, plus ``-A dD/dp / D^2``
(``dD/dp_v = (y_{v+1} - y_{v-1}, x_{v-1} - x_{v+1}) / 2`` around the hull). O(m n) per iterate
for ``m`` triples.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import torch

from extremo.problems.base import Parameter
from extremo.solvers.slsqp import slsqp

NAME = "heilbronn"
TITLE = "n points in a unit-area square/triangle maximising the smallest triangle area"
PARAMETERS = (
    Parameter("n", "number of points", 3, 16, default=13),
    Parameter("region", "region of unit area (convex: the points' hull)", choices=("square", "triangle", "convex"),
              default="square"),
)


def triples(n: int) -> np.ndarray:
    """``(C(n, 3), 3)`` index triples ``i < j < k`` in lexicographic order."""
    return np.array(list(combinations(range(n), 3)), dtype=np.int64).reshape(-1, 3)


def triangle_areas(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Signed areas ``det(p_j - p_i, p_k - p_i) / 2`` of the triples ``tri`` (m, 3), float64."""
    a, b, c = p[tri[:, 0]], p[tri[:, 1]], p[tri[:, 2]]
    u, w = b - a, c - a
    return 0.5 * (u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0])


def emptiest_spot(p: torch.Tensor, who: torch.Tensor, spots: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    """``(batch, 2)``: per row the spot among ``spots`` ``(batch, K, 2)`` where point ``who``
    (``(batch,)``) would make the largest smallest triangle with the pairs ``(P, 2)`` of the
    other points of ``p`` ``(batch, n, 2)``; O(K n^2) per row."""
    a, b = p[:, pairs[:, 0]], p[:, pairs[:, 1]]  # (batch, P, 2)
    u, w = b - a, spots[:, :, None, :] - a[:, None]  # w: (batch, K, P, 2)
    area = (u[:, None, :, 0] * w[..., 1] - u[:, None, :, 1] * w[..., 0]).abs()
    mine = (pairs[None] == who[:, None, None]).any(-1)  # pairs holding the moved point
    best = area.masked_fill(mine[:, None], math.inf).min(-1).values.argmax(-1)
    return spots[torch.arange(len(p)), best]


def hull_indices(p: np.ndarray) -> np.ndarray:
    """Counterclockwise indices of the convex hull vertices of ``(n, 2)`` points (monotone chain,
    collinear points left out); O(n log n)."""
    order = np.lexsort((p[:, 1], p[:, 0]))

    def chain(idx):
        out: list[int] = []
        for i in idx:
            while len(out) >= 2:
                a, b = p[out[-2]], p[out[-1]]
                if (b[0] - a[0]) * (p[i, 1] - a[1]) - (b[1] - a[1]) * (p[i, 0] - a[0]) > 0:
                    break
                out.pop()
            out.append(int(i))
        return out

    lower, upper = chain(order), chain(order[::-1])
    return np.array(lower[:-1] + upper[:-1], dtype=np.int64)


def polygon_area(p: np.ndarray, ring: np.ndarray) -> float:
    """Shoelace area of the polygon ``p[ring]`` (counterclockwise: positive)."""
    x, y = p[ring, 0], p[ring, 1]
    return 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def polish_smallest_triangle(
    p0: np.ndarray,
    tri: np.ndarray,
    bounds: list[tuple[float, float]],
    maxiter: int,
    area: float | None = None,
    halfplanes: tuple[np.ndarray, np.ndarray] | None = None,
    floor: float = 1e-12,
) -> np.ndarray:
    """The points ``(n, 2)`` after SLSQP on the epigraph form of the module docstring, from ``p0``.

    ``tri``: the triples that enter; ``area``: the constant divisor (``None``: the start's hull
    polygon); ``halfplanes = (normal, offset)``: linear constraints ``normal_e . p_i >= offset_e``
    on every point; ``bounds``: per coordinate; ``floor``: the least ``t_0``. The result is not repaired nor compared."""
    n = len(p0)
    sign = np.where(triangle_areas(p0, tri) >= 0, 1.0, -1.0)
    ring = hull_indices(p0) if area is None else None
    d0 = area if area is not None else polygon_area(p0, ring)
    t0 = max(float(np.abs(triangle_areas(p0, tri)).min()) / d0, floor)
    m, rows = len(tri), np.arange(len(tri))[:, None]
    rim = np.zeros((0, 2 * n + 1))
    if halfplanes is not None:
        normal, offset = halfplanes
        edges = len(normal)
        rim = np.zeros((n * edges, 2 * n + 1))
        for i in range(n):
            rim[i * edges:(i + 1) * edges, 2 * i:2 * i + 2] = normal

    def divisor(q: np.ndarray) -> tuple[float, np.ndarray | None]:
        if ring is None:
            return area, None
        x, y = q[ring, 0], q[ring, 1]
        grad = np.zeros((n, 2))
        grad[ring, 0] = 0.5 * (np.roll(y, -1) - np.roll(y, 1))
        grad[ring, 1] = 0.5 * (np.roll(x, 1) - np.roll(x, -1))
        return polygon_area(q, ring), grad.ravel()

    def cons(w) -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        q = w[:-1].reshape(n, 2)
        d, _ = divisor(q)
        parts = [sign * triangle_areas(q, tri) / (d * t0) - w[-1]]
        if halfplanes is not None:
            parts.append((q @ halfplanes[0].T - halfplanes[1]).ravel())
        return np.concatenate(parts)

    def jacobian(w: np.ndarray) -> np.ndarray:
        q = w[:-1].reshape(n, 2)
        d, grad_d = divisor(q)
        a, b, c = q[tri[:, 0]], q[tri[:, 1]], q[tri[:, 2]]
        jac = np.zeros((m, 2 * n + 1))
        for k, (u, v) in enumerate(((b, c), (c, a), (a, b))):
            grad = 0.5 * np.stack([u[:, 1] - v[:, 1], v[:, 0] - u[:, 0]], 1) * (sign / (d * t0))[:, None]
            jac[rows, 2 * tri[:, k:k + 1] + np.arange(2)] += grad
        if grad_d is not None:
            jac[:, :-1] -= (sign * triangle_areas(q, tri) / (d * d * t0))[:, None] * grad_d[None]
        jac[:, -1] = -1.0
        return np.vstack([jac, rim])

    u0 = float(np.abs(triangle_areas(p0, tri)).min()) / d0 / t0
    res = slsqp(lambda w: -w[-1], lambda w: w.new_tensor(cons(w.detach().numpy())),
                np.concatenate([p0.ravel(), [u0]]), bounds=list(bounds) + [(0.0, None)],
                maxiter=maxiter, jacobian=jacobian)
    return res.z[:-1].reshape(n, 2)
