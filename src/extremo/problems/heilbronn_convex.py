"""Heilbronn's problem for convex regions: ``heilbronn --region convex``.

Place ``n`` points so as to maximise the smallest triangle area over the area of their convex
hull (the best convex region of unit area for them is their hull),

    H = min_{i<j<k} |det(p_j - p_i, p_k - p_i)| / 2  /  area(conv{p_1, ..., p_n}).

``H`` is affine invariant, so the points are normalised into the unit square. Written with
`extremo.problems.declarative` (relaxation, repair, verifier); the hull area is the shoelace
sum over the hull edges ``i -> j``, the ordered pairs with no point to their right (a detached
O(n^3) test, so the area is differentiable in the points). Starts put most points near an
ellipse and the rest inside (many good configurations have most points on their hull); the
polish is the epigraph SLSQP of `extremo.problems.heilbronn_common` with the hull area as
the divisor. Records: AlphaEvolve (Novikov et al. 2025), results B.10.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from extremo.problems.declarative import DeclarativeProblem, Variable
from extremo.problems.heilbronn_common import NAME, PARAMETERS, TITLE, polish_smallest_triangle, triples


def hull_area(p: torch.Tensor) -> torch.Tensor:
    """``(batch,)`` area of the convex hull of ``(batch, n, 2)`` points in general position."""
    d = p[:, None, :, :] - p[:, :, None, :]  # d[b, i, j] = p_j - p_i
    cross = d[:, :, :, None, 0] * d[:, :, None, :, 1] - d[:, :, :, None, 1] * d[:, :, None, :, 0]
    eye = torch.eye(p.shape[1], dtype=torch.bool, device=p.device)
    edge = ((cross >= 0).all(-1) & ~eye).detach()  # no point to the right of i -> j
    x, y = p[..., 0], p[..., 1]
    return 0.5 * (edge * (x[:, :, None] * y[:, None, :] - x[:, None, :] * y[:, :, None])).sum((1, 2))


def _to_unit_square(p: torch.Tensor) -> torch.Tensor:
    """The affine map ``x -> (x - min) / (max - min)`` per coordinate (``H`` does not change)."""
    lo, hi = p.amin(-2, keepdim=True), p.amax(-2, keepdim=True)
    return (p - lo) / (hi - lo).clamp_min(1e-12)


class HeilbronnConvex(DeclarativeProblem):
    """Made by `Heilbronn` for ``region="convex"``."""

    name = NAME
    title = TITLE
    sense = "max"
    value_name = "smallest triangle / hull area"
    parameters = PARAMETERS
    scale = 0.03

    def __init__(self, **instance) -> None:
        super().__init__(**instance)
        self.n = self.instance["n"]
        self.triples = triples(self.n)
        self._tri = torch.as_tensor(self.triples)
        self.h = 4.5 / self.n**2

    @property
    def search_defaults(self):
        """Those of the square (`Heilbronn`): the relaxation
        is on the same normalised scale."""
        return {"batch": 64, "steps": 400, "mu": (5.0, 20.0, 80.0, 320.0), "lr": 0.01, "polish_top": 4,
                "polish_fresh": 2, "kick": 0.03, "kick_range": (0.005, 0.1), "kick_mu": 4.0}

    def relaxed(self, x, mu):
        """Soft minimum ``(1/mu) log sum exp(-mu |A_ijk| / (hull h))``, ``h = 4.5 / n^2`` the
        rough size of ``H`` (as for the square), minimised; O(n^3) per candidate."""
        p = x.unflatten(-1, (self.n, 2))
        a, b, c = (p[:, self._tri[:, k]] for k in range(3))
        u, w = b - a, c - a
        s = (u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0]).abs() / (2 * hull_area(p)[:, None] * self.h)
        return torch.logsumexp(-mu * s, -1) / mu

    def variables(self):
        return {"points": Variable((self.instance["n"], 2))}

    def objective(self, v, ops):
        p = v["points"]
        a, b, c = (p[:, self._tri[:, k]] for k in range(3))
        u, w = b - a, c - a
        return ops.min((u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0]).abs() / 2) / hull_area(p)

    def random(self, batch, generator, dtype=torch.float64):
        """``k`` points (``n/2 <= k < n``) at jittered, nearly equal angles on a circle of radius
        ``1 +- 0.05``, the other ``n - k`` inside: uniform in a disc of radius ``0.7`` or on a
        jittered inner ring of radius ``0.3`` to ``0.7``; a random half mirror-symmetric in a
        diameter; squeezed by ``0.6`` to ``1`` along ``y`` and mapped to the unit square."""
        n = self.n
        g = lambda *shape: torch.rand(shape, generator=generator, dtype=dtype)  # noqa: E731
        gauss = lambda *shape: torch.randn(shape, generator=generator, dtype=dtype)  # noqa: E731
        k = torch.randint(max(3, n // 2), n, (batch, 1), generator=generator)
        slot = torch.arange(n, dtype=dtype)
        on_hull = slot < k
        ring = torch.where(on_hull, k, n - k).to(dtype)
        pos = torch.where(on_hull, slot, slot - k)
        angle = 2 * math.pi * (pos + g(batch, 1) + 0.15 * gauss(batch, n)) / ring
        inner_ring = (0.3 + 0.4 * g(batch, 1)) * (1 + 0.1 * gauss(batch, n))
        inner = torch.where(g(batch, 1) < 0.5, 0.7 * g(batch, n).sqrt(), inner_ring)
        inner_angle = torch.where(g(batch, 1) < 0.5, 2 * math.pi * g(batch, n), angle)
        radius = torch.where(on_hull, 1 + 0.05 * gauss(batch, n), inner)
        angle = torch.where(on_hull, angle, inner_angle)
        p = torch.stack([radius * angle.cos(), radius * angle.sin()], -1)
        mirror = g(batch) < 0.5  # reflect the upper half-plane's points onto the lower one
        half = p[..., 1] > 0
        flipped = torch.where(half[..., None], p, p * torch.tensor([1.0, -1.0], dtype=dtype))
        order = torch.argsort(torch.where(half, 0, 1) * 1.0 + 1e-3 * torch.arange(n), -1)
        sym = torch.gather(flipped, 1, order[..., None].expand(-1, -1, 2))
        sym[:, n - n // 2:] = sym[:, : n // 2] * torch.tensor([1.0, -1.0], dtype=dtype)
        if n % 2:
            sym[:, n // 2, 1] = 0.0
        p = torch.where(mirror[:, None, None], sym, p)
        p = p * torch.stack([torch.ones(batch, dtype=dtype), 0.6 + 0.4 * g(batch)], -1)[:, None]
        return _to_unit_square(p).flatten(1)

    def kick(self, x, strength, generator):
        """Jiggle each point with probability 0.3 by ``N(0, strength^2)``; in half the rows move a
        vertex of the smallest triangle to the best of `spots` uniform random spots
        (`_best_spot`); back onto the unit square."""
        batch = x.shape[0]
        p = x.to(torch.float64).unflatten(-1, (self.n, 2))
        moved = torch.rand(p.shape[:-1] + (1,), generator=generator, dtype=p.dtype) < 0.3
        p = p + moved * strength * torch.randn(p.shape, generator=generator, dtype=p.dtype)
        a, b, c = (p[:, self._tri[:, k]] for k in range(3))
        u, w = b - a, c - a
        worst = (u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0]).abs().argmin(-1)
        who = self._tri[worst, torch.randint(0, 3, (batch,), generator=generator)]
        move = torch.rand(batch, generator=generator) < 0.5
        rows = torch.arange(batch)
        spot = self._best_spot(p, who, torch.rand((batch, self.spots, 2), generator=generator, dtype=p.dtype))
        p[rows, who] = torch.where(move[:, None], spot, p[rows, who])
        return _to_unit_square(p).flatten(1).to(x.dtype)

    def repair(self, x):
        """The affine map onto the unit square (`_to_unit_square`; ``H`` does not change),
        then the declarative repair (a clamp, for rounding)."""
        p = _to_unit_square(torch.as_tensor(np.asarray(x, dtype=np.float64)).reshape(self.n, 2))
        return super().repair(p.numpy().ravel())

    #: candidate spots per kicked row (`_best_spot`)
    spots = 64

    def _best_spot(self, p, who, spots):
        """Per row the spot among ``spots`` ``(batch, K, 2)`` for point ``who`` that maximises
        ``H`` with the other points where they are; O(K n^3) per row."""
        batch, k = spots.shape[:2]
        q = p[:, None].expand(batch, k, self.n, 2).clone()
        q[torch.arange(batch)[:, None], torch.arange(k), who[:, None]] = spots
        q = q.reshape(batch * k, self.n, 2)
        a, b, c = (q[:, self._tri[:, j]] for j in range(3))
        u, w = b - a, c - a
        h = (u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0]).abs().amin(-1) / hull_area(q)
        best = h.reshape(batch, k).argmax(-1)
        return spots[torch.arange(batch), best]

    def polish(self, x, effort=1):
        """The epigraph SLSQP of `polish_smallest_triangle`
        with the start's hull polygon as the divisor, the points in the unit square; then
        `repair`; kept if better."""
        z0 = self.repair(x)
        n = self.n
        q = polish_smallest_triangle(z0.reshape(n, 2), self.triples, [(0.0, 1.0)] * (2 * n), 100 * effort)
        z = self.repair(q.ravel())
        better, start = self.verify(self.to_config(z)), self.verify(self.to_config(z0))
        if better.feasible and (not start.feasible or better.value > start.value):
            return z
        return z0

    def layout(self):
        return dataclasses.replace(super().layout(), symmetry="D4")
