"""Heilbronn's triangle problem: n points in a unit-area region maximising the smallest triangle.

``heilbronn``: place ``p_1, ..., p_n`` in a convex region ``R`` (the unit square, or the
equilateral triangle of unit area) so as to maximise

    H = min_{i<j<k} |det(p_j - p_i, p_k - p_i)| / 2  /  area(R),

the exact minimum over all C(n, 3) triples (never sampled). ``R`` is a float64 polygon; its
area is computed exactly (shoelace formula in rationals), so the normalisation is exact.
Records: Wolfram MathWorld "Heilbronn Triangle Problem" (Comellas and Yebra 2002; Friedman
2006; Cantrell and Beyleveld 2006) for the square, AlphaEvolve (2025) for the triangle.

Search vector: ``(p_1, ..., p_n, t)``, ``t`` the smallest area (set by ``from_config`` and the
polish; the relaxation ignores it). The relaxation is a soft minimum of the normalised areas
``s_ijk = |A_ijk| / (area(R) h)``, with ``h = 4.5 / n^2`` the rough size of ``H`` (so that the
sharpness ``mu`` means the same for all ``n``):

    (1 / mu) log sum_{ijk} exp(-mu s_ijk)  >=  -min_{ijk} s_ijk,

minimised (the soft minimum maximised) while ``mu`` grows; the points are projected onto ``R``
after every step. It costs O(n^3) per candidate, all triples as one matrix product. Starts are
greedy: an orbit at a time at the best of 256 random spots, half of them symmetric under a mirror
or a rotation of the region (many records are). Kicks move the point in most near-smallest
triangles to the emptiest of 256 random spots. The polish solves ``max u`` s.t.
``s_ijk A_ijk / t_0 >= u`` with the orientations ``s_ijk`` of the start fixed (a triple cannot
change orientation without its area passing through 0 < t) and the points in ``R`` (linear
constraints), by SLSQP on an active set of small triples grown until no left-out triple is
smaller, then `Heilbronn.repair`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from extremo.problems.base import Configuration, Layout, Problem, ProblemError, Verdict
from extremo.problems.exact import amount
from extremo.problems.heilbronn_common import (
    NAME, PARAMETERS, TITLE, emptiest_spot, polish_smallest_triangle, triangle_areas, triples)
from extremo.problems.heilbronn_convex import HeilbronnConvex
from extremo.problems.registry import register

#: relative margin under which a float64 orientation test is re-decided in rationals
_BORDER = 1e-9
_SIDE = math.sqrt(4.0 / math.sqrt(3.0))  # side of the equilateral triangle of unit area
#: counterclockwise float64 vertices of the regions
REGIONS = {
    "square": np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]),
    "triangle": np.array([[0.0, 0.0], [_SIDE, 0.0], [_SIDE / 2, _SIDE * math.sqrt(3.0) / 2]]),
}
#: mirrors ``p -> p M + b`` of the regions (M symmetric), used for symmetric starts
MIRRORS = {
    "square": [(np.array([[-1.0, 0.0], [0.0, 1.0]]), np.array([1.0, 0.0])),  # x -> 1 - x
               (np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0.0, 0.0]))],  # (x, y) -> (y, x)
    "triangle": [(np.array([[-1.0, 0.0], [0.0, 1.0]]), np.array([_SIDE, 0.0]))],  # x -> side - x
}
#: orders ``k`` of the rotations about the centre of the regions, used for symmetric starts
ROTATIONS = {"square": (2, 4), "triangle": (3,)}



def _exact_area(v: np.ndarray) -> Fraction:
    """Exact area of a float64 polygon (shoelace formula in rationals)."""
    f = [(Fraction(float(a)), Fraction(float(b))) for a, b in v]
    return abs(sum(f[i][0] * f[i - 1][1] - f[i - 1][0] * f[i][1] for i in range(len(f)))) / 2


@register
class Heilbronn(Problem):
    name = NAME
    title = TITLE
    sense = "max"
    value_name = "smallest triangle area"
    parameters = PARAMETERS
    headline = ({"n": 13, "region": "square"}, {"n": 15, "region": "square"}, {"n": 11, "region": "triangle"},
                {"n": 13, "region": "convex"}, {"n": 14, "region": "convex"})

    def __new__(cls, **instance: Any):
        """``region="convex"`` makes a `HeilbronnConvex`."""
        if cls is Heilbronn and instance.get("region") == "convex":
            return HeilbronnConvex(**instance)
        return super().__new__(cls)

    def __init__(self, **instance: Any) -> None:
        super().__init__(**instance)
        self.n, self.region = self.instance["n"], self.instance["region"]
        self.vertices = REGIONS[self.region]
        self.area = float(_exact_area(self.vertices))
        v, w = self.vertices, np.roll(self.vertices, -1, 0)
        normal = np.stack([-(w - v)[:, 1], (w - v)[:, 0]], 1)  # inward for counterclockwise order
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        self._normal, self._offset = normal, np.sum(normal * v, 1)  # inside: normal . p >= offset
        self.triples = triples(self.n)
        self._tri = torch.as_tensor(self.triples)
        # A_ijk = (C_ij + C_jk + C_ki) / 2 with C_ij = x_i y_j - y_i x_j: column ijk of _cycle
        # holds +1 at the flat pair indices ij, jk, ki, so that A = C.flatten() @ _cycle / 2
        cycle = torch.zeros(self.n * self.n, len(self.triples), dtype=torch.float64)
        cols = torch.arange(len(self.triples))
        for a, b in ((0, 1), (1, 2), (2, 0)):
            cycle[self._tri[:, a] * self.n + self._tri[:, b], cols] = 1.0
        self._cycle = cycle
        self.h = 4.5 / self.n**2
        self._pairs = torch.as_tensor(np.array(np.triu_indices(self.n, 1)).T)

    @property
    def search_defaults(self) -> dict[str, Any]:
        return {
            "batch": 64,
            "steps": 400,
            "mu": (5.0, 20.0, 80.0, 320.0),
            "lr": 0.01,
            "polish_top": 4,
            "polish_fresh": 2,
            "kick": 0.03,
            "kick_range": (0.005, 0.1),
            "kick_mu": 4.0,
        }

    # ------------------------------------------------------------------ layout
    @property
    def dim(self) -> int:
        return 2 * self.n + 1

    def fields(self) -> dict[str, tuple[int, ...]]:
        return {"points": (self.n, 2)}

    def to_config(self, x: np.ndarray) -> Configuration:
        return {"points": np.asarray(x, dtype=np.float64)[:-1].reshape(self.n, 2).copy()}

    def from_config(self, config: Configuration) -> np.ndarray:
        p = np.asarray(config["points"], dtype=np.float64)
        return np.concatenate([p.ravel(), [self._min_area(p)[0]]])

    def _min_area(self, p: np.ndarray) -> tuple[float, int]:
        a = np.abs(triangle_areas(p, self.triples))
        k = int(np.argmin(a))
        return float(a[k]), k

    # ------------------------------------------------------------------ search
    #: candidate spots per greedily placed orbit (`_greedy`) and relocated point (`kick`)
    spots = 256

    def _uniform(self, shape: tuple[int, ...], generator: torch.Generator, dtype) -> torch.Tensor:
        """Uniform points ``shape + (2,)`` in the region (triangle: reflected barycentrics)."""
        r = torch.rand(shape + (2,), generator=generator, dtype=dtype)
        v = torch.as_tensor(self.vertices, dtype=dtype)
        if self.region == "square":
            return r
        flip = r.sum(-1, keepdim=True) > 1
        r = torch.where(flip, 1 - r, r)
        return v[0] + r[..., :1] * (v[1] - v[0]) + r[..., 1:] * (v[2] - v[0])

    def _rotations(self) -> list[int]:
        """Orders ``k`` of the rotations whose orbits can hold the ``n`` points without three on a
        line: ``k | n``, or ``n = 1 mod k`` with a point at the centre when ``k`` is odd (for even
        ``k`` the centre is on a line with every point and its half-turn image)."""
        return [k for k in ROTATIONS[self.region] if self.n % k == 0 or (k % 2 and self.n % k == 1)]

    def _orbit(self, s: torch.Tensor, symmetry) -> torch.Tensor:
        """``(..., size, 2)``: the orbits of the points ``s`` ``(..., 2)`` under ``symmetry``:
        ``None`` (the point), a mirror ``(M, b)`` of `MIRRORS` (the point and ``s M + b``) or the
        order ``k`` of a rotation about the centre (``k`` points, shrunk by ``1 - 1e-9`` about the
        centre so that rounding keeps them inside)."""
        if symmetry is None:
            return s[..., None, :]
        if isinstance(symmetry, tuple):
            m, b = (torch.as_tensor(v, dtype=s.dtype) for v in symmetry)
            return torch.stack([s, s @ m + b], -2)
        c = torch.as_tensor(self.vertices.mean(0), dtype=s.dtype)
        a = 2 * math.pi / symmetry
        rot = torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=s.dtype)
        parts = [(1 - 1e-9) * (s - c)]
        for _ in range(symmetry - 1):
            parts.append(parts[-1] @ rot)
        return torch.stack(parts, -2) + c

    def _fixed(self, s: torch.Tensor, symmetry) -> torch.Tensor:
        """``(..., 1, 2)``: points ``s`` moved to where ``symmetry`` fixes them (a mirror: the
        midpoint of ``s`` and its image, on the axis; a rotation: the centre)."""
        if isinstance(symmetry, tuple):
            return self._orbit(s, symmetry).mean(-2, keepdim=True)
        return torch.as_tensor(self.vertices.mean(0), dtype=s.dtype).expand(*s.shape[:-1], 1, 2)

    @staticmethod
    def _extend(p: torch.Tensor, orbits: torch.Tensor) -> torch.Tensor:
        """``p`` ``(batch, m, 2)`` and per row the one of the candidate orbits ``(batch, K, size, 2)``
        whose smallest new triangle (one with a vertex in the orbit) is largest; O(K (m + size)^2 size)."""
        batch, k, size = orbits.shape[:3]
        m = p.shape[1]
        new = torch.cat([p[:, None].expand(batch, k, m, 2), orbits], 2)
        tri = torch.as_tensor(triples(m + size))
        tri = tri[tri[:, 2] >= m]  # the triples with a new vertex (i < j < k)
        if not len(tri):
            return new[:, 0]
        a, b, c = new[:, :, tri[:, 0]], new[:, :, tri[:, 1]], new[:, :, tri[:, 2]]
        u, w = b - a, c - a
        smallest = (u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0]).abs().min(-1).values
        return new[torch.arange(batch), smallest.argmax(-1)]

    def _greedy(self, batch: int, generator: torch.Generator, symmetry, dtype) -> torch.Tensor:
        """``(batch, n, 2)`` points placed greedily, an orbit of ``symmetry`` (`_orbit`) at a time,
        each at the best of `spots` uniform random candidates (`_extend`); when the orbits do not
        fill ``n``, the first point is a fixed one (`_fixed`)."""
        size = self._orbit(torch.zeros(2, dtype=dtype), symmetry).shape[0]
        p = torch.zeros(batch, 0, 2, dtype=dtype)
        if self.n % size:
            p = self._fixed(self._uniform((batch,), generator, dtype), symmetry)
        while p.shape[1] < self.n:
            spots = self._uniform((batch, self.spots), generator, dtype)
            p = torch.cat([self._extend(p[r], self._orbit(spots[r], symmetry))
                           for r in torch.arange(batch).split(8)])  # bounded memory
        return p

    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
        """Greedy starts (`_greedy`): half of them plain, the other half symmetric under a random
        mirror or rotation of the region (rotations where their orbits fit ``n``, `_rotations`).
        A greedy start relaxes to a much better local optimum than a uniform one (square n=15:
        median 0.66 of the record against 0.35)."""
        symmetries = [*MIRRORS[self.region], *self._rotations()]
        kind = torch.randint(0, 2 * len(symmetries), (batch,), generator=generator)
        p = torch.zeros(batch, self.n, 2, dtype=dtype)
        for k, symmetry in enumerate([None, *symmetries]):
            rows = (kind >= len(symmetries)) if symmetry is None else (kind == k - 1)
            if rows.any():
                p[rows] = self._greedy(int(rows.sum()), generator, symmetry, dtype)
        return torch.cat([p.flatten(1), torch.full((batch, 1), 0.5 * self.h, dtype=dtype)], -1)

    def _areas(self, p: torch.Tensor) -> torch.Tensor:
        """``(..., m)`` signed triangle areas of points ``(..., n, 2)``."""
        a, b, c = p[..., self._tri[:, 0], :], p[..., self._tri[:, 1], :], p[..., self._tri[:, 2], :]
        u, w = b - a, c - a
        return 0.5 * (u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0])

    def _outside(self, p: torch.Tensor) -> torch.Tensor:
        """``(..., n, edges)`` distance of each point beyond each edge line (0 inside)."""
        nrm = torch.as_tensor(self._normal, dtype=p.dtype)
        off = torch.as_tensor(self._offset, dtype=p.dtype)
        return torch.relu(off - p @ nrm.T)

    def _areas_matmul(self, p: torch.Tensor) -> torch.Tensor:
        """``(..., m)`` signed areas as one matrix product (fast forward and backward, but the
        products of coordinates cancel: for the relaxation only, not for values)."""
        x, y = p[..., 0], p[..., 1]
        c = x[..., :, None] * y[..., None, :]
        return 0.5 * (c - c.transpose(-1, -2)).flatten(-2) @ self._cycle.to(p.dtype)

    def relaxed(self, x: torch.Tensor, mu: float) -> torch.Tensor:
        """Soft minimum ``(1/mu) log sum exp(-mu |A_ijk| / (area h))`` (minimised), plus
        ``mu sum_i dist(p_i, R)^2 / h^2`` for points outside ``R``; ``t`` does not enter."""
        p = x[..., :-1].unflatten(-1, (self.n, 2))
        s = self._areas_matmul(p).abs() / (self.area * self.h)
        out = self._outside(p).square().sum((-1, -2))
        return torch.logsumexp(-mu * s, -1) / mu + mu * out / self.h**2

    def _project_points(self, p: torch.Tensor) -> torch.Tensor:
        """Nearest point of the region (square: clamp; polygon: nearest edge segment if outside)."""
        if self.region == "square":
            return p.clamp(0.0, 1.0)
        v = torch.as_tensor(self.vertices, dtype=p.dtype)
        e = torch.roll(v, -1, 0) - v  # (m, 2)
        s = (((p[..., None, :] - v) * e).sum(-1) / e.square().sum(-1)).clamp(0.0, 1.0)
        q = v + s[..., None] * e  # (..., n, m, 2)
        best = (q - p[..., None, :]).square().sum(-1).argmin(-1)
        near = torch.gather(q, -2, best[..., None, None].expand(*best.shape, 1, 2)).squeeze(-2)
        inside = (self._outside(p) == 0).all(-1, keepdim=True)
        return torch.where(inside, p, near)

    def layout(self) -> Layout:
        """Points in the region's bounding box (the projection takes them into the region);
        the objective is invariant under D4 in the square."""
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        return Layout(self.n, 2, tuple(map(float, lo)), tuple(map(float, hi)),
                      symmetry="D4" if self.region == "square" else None, fast=True)

    def objects(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :-1].unflatten(-1, (self.n, 2))

    def vectors(self, objs: torch.Tensor) -> torch.Tensor:
        """Points and ``t``, their smallest normalised triangle area."""
        t = self._areas(objs).abs().min(-1).values / self.area
        return torch.cat([objs.flatten(1), t[:, None]], -1)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        p = self._project_points(x[..., :-1].unflatten(-1, (self.n, 2))).flatten(-2)
        return torch.cat([p, x[..., -1:].clamp(0.0, 1.0)], -1)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """Exact float64 smallest triangle area over all triples, divided by the region's area."""
        p = x.to(torch.float64)[..., :-1].unflatten(-1, (self.n, 2))
        return self._areas(p).abs().min(-1).values / self.area

    def _crowded(self, p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(batch,)`` per row the point in most near-smallest triangles (area within 5 % of
        the smallest), ties broken at random; in a random half of the rows a random vertex of
        the smallest triangle instead."""
        a = self._areas(p).abs()
        near = (a <= 1.05 * a.min(-1, keepdim=True).values).to(p.dtype)
        count = torch.zeros(p.shape[:2], dtype=p.dtype).index_add_(1, self._tri.flatten(),
                                                                   near.repeat_interleave(3, -1))
        crowded = (count + torch.rand(count.shape, generator=generator, dtype=p.dtype)).argmax(-1)
        batch = len(p)
        vertex = self._tri[a.argmin(-1), torch.randint(0, 3, (batch,), generator=generator)]
        return torch.where(torch.rand(batch, generator=generator) < 0.5, crowded, vertex)

    def kick(self, x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        """Move the most crowded point (`_crowded`) to the emptiest of `spots` uniform random
        spots of the region (`emptiest_spot`), a second one so too with probability
        ``strength / 0.1``, and jiggle each other point with probability 0.3 by ``N(0, (strength/3)^2)``."""
        batch = x.shape[0]
        p = x.to(torch.float64)[:, :-1].unflatten(-1, (self.n, 2))
        moved = torch.rand(p.shape[:-1] + (1,), generator=generator, dtype=p.dtype) < 0.3
        p = self._project_points(p + moved * (strength / 3) * torch.randn(p.shape, generator=generator, dtype=p.dtype))
        rows = torch.arange(batch)
        second = torch.rand(batch, generator=generator) < strength / 0.1
        for again in (torch.ones(batch, dtype=torch.bool), second):
            who = self._crowded(p, generator)
            spot = emptiest_spot(p, who, self._uniform((batch, self.spots), generator, p.dtype), self._pairs)
            p[rows, who] = torch.where(again[:, None], spot, p[rows, who])
        return self.project(torch.cat([p.flatten(1), x[:, -1:].to(p.dtype)], -1).to(x.dtype))

    # ------------------------------------------------------------------ repair / polish
    def _first_outside(self, p: np.ndarray) -> tuple[int, float] | None:
        """First point outside the region (index, float distance), decided exactly.

        Square: float comparisons with 0 and 1 are exact. Polygon: the orientation
        ``det(w - v, p - v) >= 0`` of each edge ``v -> w`` in float64, borderline ones in rationals.
        """
        if self.region == "square":
            out = np.maximum(-p, p - 1.0).max(1)
            bad = np.flatnonzero(out > 0)
            return (int(bad[np.argmax(out[bad])]), float(out[bad].max())) if len(bad) else None
        v, w = self.vertices, np.roll(self.vertices, -1, 0)
        e = w - v
        d = p[:, None, :] - v[None]
        det = e[None, :, 0] * d[..., 1] - e[None, :, 1] * d[..., 0]  # (n, m)
        scale = np.abs(e[None, :, 0] * d[..., 1]) + np.abs(e[None, :, 1] * d[..., 0]) + 1e-300
        bad = det < -_BORDER * scale
        for i, j in np.argwhere(~bad & (det <= _BORDER * scale)):
            vx, vy, wx, wy = (Fraction(float(c)) for c in (*v[j], *w[j]))
            px, py = Fraction(float(p[i, 0])), Fraction(float(p[i, 1]))
            if (wx - vx) * (py - vy) - (wy - vy) * (px - vx) < 0:
                bad[i, j] = True
        if not bad.any():
            return None
        dist = np.where(bad, -det / np.linalg.norm(e, axis=1)[None], -np.inf).max(1)
        i = int(np.argmax(dist))
        return i, float(max(dist[i], 0.0))

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Project the points into the region, then pull any point the exact test still finds
        outside towards the centroid by a relative ``2^-50, 2^-49, ...``; ``t`` becomes the value."""
        x = np.asarray(x, dtype=np.float64)
        with torch.no_grad():
            p = self._project_points(torch.as_tensor(x[:-1]).reshape(self.n, 2)).numpy().copy()
        c = self.vertices.mean(0)
        eps = 2.0**-50
        while (bad := self._first_outside(p)) is not None:
            i = bad[0]
            p[i] = c + (1 - eps) * (p[i] - c)
            eps *= 2
        return np.concatenate([p.ravel(), [self._min_area(p)[0] / self.area]])

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """SLSQP on ``max u`` s.t. ``s_ijk A_ijk / (area t_0) >= u``, with the orientations
        ``s_ijk`` of the start fixed, and ``normal_e . p_i >= offset_e`` (region; the square:
        bounds) (`polish_smallest_triangle`), then `repair`; kept only if it beats the repaired
        start. Active set: only the triples of area below ``c t`` (at least the ``3n`` smallest)
        enter, ``c = 2``; should a left-out triple end smaller, it joins and the solve is
        repeated; should a solve not improve (SLSQP fails now and then on one set), ``c`` grows
        to 3, 5, then all triples; at most 4 solves."""
        z0 = self.repair(x)
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        bounds = [(float(lo[k % 2]), float(hi[k % 2])) for k in range(2 * self.n)]
        # the square is its bounding box: the bounds state it
        halfplanes = None if self.region == "square" else (self._normal, self._offset)
        best, joined, cuts = z0, np.zeros(len(self.triples), dtype=bool), [2.0, 3.0, 5.0, math.inf]
        kth = min(3 * self.n, len(self.triples) - 1)
        for _ in range(4):
            p = best[:-1].reshape(self.n, 2)
            a = np.abs(triangle_areas(p, self.triples))
            active = (a <= max(cuts[0] * a.min(), np.partition(a, kth)[kth])) | joined
            q = polish_smallest_triangle(p, self.triples[active], bounds, 100 * effort, area=self.area,
                                         halfplanes=halfplanes, floor=1e-3 * self.h)
            z = self.repair(np.concatenate([q.ravel(), [0.0]]))
            a = np.abs(triangle_areas(z[:-1].reshape(self.n, 2), self.triples))
            inner = a[active].min()
            if a.min() < inner:
                joined |= a < 1.01 * inner  # left-out triples that ended (nearly) smallest
            elif z[-1] > best[-1]:
                return z
            else:
                cuts.pop(0)
            if z[-1] > best[-1]:
                best = z
        return best

    # ------------------------------------------------------------------ verify
    def verify(self, config: Configuration) -> Verdict:
        """Every point inside or on the region (exact), then the smallest of all C(n,3)
        triangle areas in float64 over the exact region area, naming its triple."""
        p = config["points"]
        bad = self._first_outside(p)
        if bad is not None:
            return Verdict(False, reason=f"point {bad[0]} lies outside the {self.region} by {amount(bad[1])}")
        a, k = self._min_area(p)
        i, j, l = (int(v) for v in self.triples[k])
        value = a / self.area
        return Verdict(True, value=value,
                       detail=f"smallest triangle ({i}, {j}, {l}) has area {value:.12g} of the {self.region}")

    # ------------------------------------------------------------------ draw
    def draw(self, ax, config: Configuration) -> None:  # pragma: no cover - drawn in plots tests
        """The region, the points, and the smallest triangle filled in red."""
        from matplotlib.patches import Polygon

        p = np.asarray(config["points"], dtype=np.float64)
        ax.add_patch(Polygon(self.vertices, closed=True, fill=False, lw=1.5, color="black"))
        _, k = self._min_area(p)
        ax.add_patch(Polygon(p[self.triples[k]], closed=True, alpha=0.5, fc="crimson", ec="crimson"))
        ax.plot(p[:, 0], p[:, 1], "o", ms=4, color="black")
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        ax.set_xlim(lo[0] - 0.05, hi[0] + 0.05)
        ax.set_ylim(lo[1] - 0.05, hi[1] + 0.05)
        ax.set_aspect("equal")


__all__ = ["Heilbronn", "ProblemError", "REGIONS", "triangle_areas"]
