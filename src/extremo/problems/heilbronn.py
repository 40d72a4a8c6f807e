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
after every step. It costs O(n^3) per candidate, all triples as one matrix product. Starts are uniform
or, for a part of them, symmetric under a mirror of the region (many records are), and kicks
move a vertex of the smallest triangle. The polish solves ``max u`` s.t.
``s_ijk A_ijk / t_0 >= u`` with the orientations ``s_ijk`` of the start fixed (a triple cannot
change orientation without its area passing through 0 < t) and the points in ``R`` (linear
constraints), by SLSQP, then `Heilbronn.repair`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from extremo.problems.base import Configuration, Layout, Problem, ProblemError, Verdict
from extremo.problems.exact import amount
from extremo.problems.heilbronn_common import NAME, PARAMETERS, TITLE, polish_smallest_triangle, triangle_areas, triples
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
    def _uniform(self, shape: tuple[int, ...], generator: torch.Generator, dtype) -> torch.Tensor:
        """Uniform points ``shape + (2,)`` in the region (triangle: reflected barycentrics)."""
        r = torch.rand(shape + (2,), generator=generator, dtype=dtype)
        v = torch.as_tensor(self.vertices, dtype=dtype)
        if self.region == "square":
            return r
        flip = r.sum(-1, keepdim=True) > 1
        r = torch.where(flip, 1 - r, r)
        return v[0] + r[..., :1] * (v[1] - v[0]) + r[..., 1:] * (v[2] - v[0])

    def _mirrored(self, p: torch.Tensor, mirror: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
        """Points ``(batch, n, 2)`` made symmetric under the mirror ``p -> p M + b``: the first
        ``n // 2`` are folded onto one side and reflected, an odd last one goes onto the axis
        (midpoint of a point and its image; a second axis point would risk three collinear)."""
        m, b = (torch.as_tensor(a, dtype=p.dtype) for a in mirror)
        image = p @ m + b
        normal = (torch.eye(2, dtype=p.dtype) - m)[0]  # M = I - 2 u u^T: a multiple of u
        half = torch.where(((p - image) @ normal > 0)[..., None], image, p)[:, : self.n // 2]
        parts = [half, half @ m + b]
        if self.n % 2:
            parts.append((p[:, -1:] + p[:, -1:] @ m + b) / 2)
        return torch.cat(parts, 1)

    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
        """Uniform points; a random half of the candidates made symmetric under a random mirror
        of the region (`_mirrored`)."""
        p = self._uniform((batch, self.n), generator, dtype)
        mirrors = MIRRORS[self.region]
        kind = torch.randint(0, 2 * len(mirrors), (batch,), generator=generator)
        for k, mirror in enumerate(mirrors):
            p = torch.where((kind == k)[:, None, None], self._mirrored(p, mirror), p)
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

    def kick(self, x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        """Jiggle each point with probability 0.3 by ``N(0, strength^2)``; in half the candidates
        move one vertex of the smallest triangle to a uniform random spot of the region."""
        batch = x.shape[0]
        p = x.to(torch.float64)[:, :-1].unflatten(-1, (self.n, 2))
        moved = torch.rand(p.shape[:-1] + (1,), generator=generator, dtype=p.dtype) < 0.3
        p = p + moved * strength * torch.randn(p.shape, generator=generator, dtype=p.dtype)
        worst = self._areas(p).abs().argmin(-1)
        who = self._tri[worst, torch.randint(0, 3, (batch,), generator=generator)]
        move = torch.rand(batch, generator=generator) < 0.5
        spot = self._uniform((batch,), generator, p.dtype)
        rows = torch.arange(batch)
        p[rows, who] = torch.where(move[:, None], spot, p[rows, who])
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
        """SLSQP on ``max u`` s.t. ``s_ijk A_ijk / (area t_0) >= u`` over all triples, with the
        orientations ``s_ijk`` of the start fixed, and ``normal_e . p_i >= offset_e`` (region; the
        square: bounds) (`polish_smallest_triangle`),
        then `repair`; kept only if it beats the repaired start."""
        z0 = self.repair(x)
        lo, hi = self.vertices.min(0), self.vertices.max(0)
        bounds = [(float(lo[k % 2]), float(hi[k % 2])) for k in range(2 * self.n)]
        # the square is its bounding box: the bounds state it
        halfplanes = None if self.region == "square" else (self._normal, self._offset)
        q = polish_smallest_triangle(z0[:-1].reshape(self.n, 2), self.triples, bounds, 100 * effort,
                                     area=self.area, halfplanes=halfplanes, floor=1e-3 * self.h)
        z = self.repair(np.concatenate([q.ravel(), [0.0]]))
        return z if z[-1] > z0[-1] else z0

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
