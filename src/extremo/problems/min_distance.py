"""Points in the unit hypercube maximising the minimum pairwise distance.

``points-min-distance``: place ``n`` points ``p_1, ..., p_n`` in ``[0, 1]^d`` so as to maximise

    D = min_{i < j} |p_i - p_j|.

This is the packing of ``n`` equal spheres in a cube: spheres of radius ``r`` fit in the unit
cube exactly when their centres lie in ``[r, 1 - r]^d`` at distance ``>= 2r``; scaling that
smaller cube to ``[0, 1]^d`` gives ``D = 2r / (1 - 2r)``, i.e.

    r = D / (2 (1 + D)),   sphere diameter 2r = D / (1 + D)

(Packomania "circles in squares" lists both figures; FlowBoost, arXiv 2601.18005, reports
the diameter ``2r`` for its "sphere packing in hypercubes").

Search vector: ``(p_1, ..., p_n, s)`` flattened row by row, ``s`` an epigraph variable that
approximates ``D``. The relaxation (minimised by the local search)

    -s / h + mu * sum_{i<j} relu(s - |p_i - p_j|)^2 / h^2,

with ``h`` the expected size of ``D`` for the instance (so that ``mu`` means the same for all
``n, d``), costs O(n d) per candidate with a neighbour list (O(n^2 d) on all pairs, below
`extremo.spatial.DENSE_BELOW` points). Penalising
distances rather than squared distances keeps the repulsion of nearly coincident points
strong; starting at a small ``mu`` (1) lets the points spread as soft spheres before the
penalty hardens (cf. the billiards and soft-sphere codes of Lubachevsky and Graham, and
Gensane 2004).

Fresh starts (`PointsMinDistance.random`) are uniform, symmetric under a mirror, the
diagonal mirror or the point reflection of the cube (the best known packings of 23 points are
invariant under both diagonal mirrors), or, in the square, points of a rectangular or
triangular lattice stretched over the square with vacancies (27 points: rows of 5 and 4).

The polish works on ``max t`` s.t. ``|p_i - p_j|^2 >= t`` over the *near-minimal* pairs only
(those that can become the closest within the trust region, found by a cell list: O(n)):
sequential linear programming on a sparse Jacobian (`extremo.solvers.maximin.maximin_slp`,
HiGHS, every step provably monotone), then for small instances (< 200 variables) SLSQP
(`extremo.solvers.slsqp.slsqp`), whose dense subproblems are too slow beyond that.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from extremo.problems.base import Configuration, Layout, Parameter, Problem, ProblemError, Verdict
from extremo.problems.exact import amount
from extremo.problems.exact_check import ExactCheck, exact_box_slack, exact_pair_separation
from extremo.problems.packomania import count_circles, exact_violation, fixed, format_pck, order, parse_pck, round_packing
from extremo.problems.registry import register
from extremo.solvers.maximin import maximin_slp
from extremo.solvers.slsqp import slsqp
from extremo.spatial import Pairs, closest_pair, pairs_within, squared_distance

#: a pair enters the SLSQP step's active set when ``|p_i - p_j|^2 <= _ACTIVE * t``
_ACTIVE = 1.5
#: budget of one relaxation step, in multiply-adds (``batch * n^2 * d``): sets the batch size
_STEP_BUDGET = 2.5e6


def radius(value: float) -> float:
    """Radius ``r = D / (2 (1 + D))`` of ``n`` equal spheres in the unit cube of distance ``D``."""
    return value / (2.0 * (1.0 + value))


def min_pair(points: np.ndarray) -> tuple[float, int, int]:
    """Smallest squared distance of a point set ``(n, d)`` and its pair ``(i, j)``, ``i < j``.

    Float64, every pair at once: O(n^2 d) time and O(n^2) memory (one row block at a time
    above 2^22 pair coordinates).
    """
    n, d = points.shape
    i, j = np.triu_indices(n, 1)
    best, arg = math.inf, 0
    step = max(1, (1 << 22) // max(1, d))
    for lo in range(0, len(i), step):
        d2 = np.sum((points[i[lo:lo + step]] - points[j[lo:lo + step]]) ** 2, axis=1)
        k = int(np.argmin(d2))
        if d2[k] < best:
            best, arg = float(d2[k]), lo + k
    return best, int(i[arg]), int(j[arg])


def _max_n(d: int) -> int:
    """Largest supported number of points: 1000 in the square, 500 in dimensions 3..12."""
    return 1000 if d == 2 else 500


@register
class PointsMinDistance(Problem):
    name = "points-min-distance"
    title = "n points in the unit d-cube maximising the minimum distance (equal spheres in a cube)"
    sense = "max"
    value_name = "minimum distance"
    parameters = (
        Parameter("n", "number of points", 2, 1000, default=30),
        Parameter("d", "dimension of the cube", 2, 12, default=2),
    )
    headline = (
        {"n": 26, "d": 2},
        {"n": 30, "d": 2},
        {"n": 50, "d": 2},
        {"n": 55, "d": 3},
        {"n": 83, "d": 3},
        {"n": 191, "d": 3},
    )

    @property
    def file_formats(self) -> tuple[str, ...]:
        """Packomania's csq ``.pck`` (equal circles in a square) in the plane."""
        return ("pck",) if self.d == 2 else ()

    @classmethod
    def instance_of_text(cls, fmt: str, text: str) -> dict[str, Any]:
        """``n``: the number of coordinate lines of a ``.pck`` file."""
        return {"n": count_circles(text)} if fmt == "pck" else {}

    def read_text(self, fmt: str, text: str, where: str = "file") -> Configuration:
        """Packomania csq coordinates: ``n`` circles of the radius on line 1 in ``[-1/2, 1/2]^2``;
        their centres ``c`` fill ``[-1/2 + r, 1/2 - r]^2``, so the points are
        ``p = (c + 1/2 - r) / (1 - 2r)`` (nearest floats) and ``D = 2r / (1 - 2r)``."""
        if fmt != "pck" or self.d != 2:
            return super().read_text(fmt, text, where)
        f = parse_pck(text, self.n, equal=True, where=where)
        r = f.radius
        if not 0 < r < 0.5:
            raise ProblemError(f"{where}: the radius on line 1 must lie in (0, 1/2), got {r}")
        return self.check_shapes({"points": (f.centers + 0.5 - r) / (1 - 2 * r)})

    def verify_text(self, fmt: str, text: str, where: str = "file") -> tuple[Verdict, Configuration]:
        """The file's decimals decide, exactly: circles of the radius on line 1 inside the
        square and pairwise disjoint; the value ``D = 2r / (1 - 2r)`` of that radius."""
        if fmt != "pck" or self.d != 2:
            return super().verify_text(fmt, text, where)
        config = self.read_text(fmt, text, where)
        f = parse_pck(text, self.n, equal=True, where=where)
        bad = exact_violation(f)
        if bad is not None:
            return Verdict(False, reason=f"{bad} (exact check of the file's decimals)"), config
        r = f.exact_radius
        return Verdict(True, value=float(2 * r / (1 - 2 * r)),
                       detail=f"exactly feasible as written: {self.n} circles of radius {f.radius!r}"), config

    def write_text(self, fmt: str, config: Configuration, author: str = "") -> tuple[str, str]:
        """The csq submission: circles of radius ``r = D / (2 (1 + D))`` around the points mapped
        into ``[-1/2, 1/2]^2``, 12 decimals; the common radius is shrunk as far as the rounded
        centres need (`extremo.problems.packomania.round_packing`)."""
        if fmt != "pck" or self.d != 2:
            return super().write_text(fmt, config, author)
        p = config["points"]
        D = math.sqrt(min_pair(p)[0])
        r = radius(D)
        rd = round_packing(p * (1 - 2 * r) + r - 0.5, np.full(self.n, r))
        common = min(rd.r)
        ks = order([common] * self.n, rd.x, rd.y)
        lines = [f"{fixed(rd.x[k], rd.decimals)} {fixed(rd.y[k], rd.decimals)}" for k in ks]
        shrink = r - common * 10.0**-rd.decimals
        note = (f"radius {fixed(common, rd.decimals)} after rounding to {rd.decimals} decimals "
                f"(r = D/(2(1+D)) = {r:.15g}; shrunk by {shrink:.3e} so the rounded centres fit)")
        return format_pck(fixed(common, rd.decimals), author, lines), note

    def __init__(self, **instance: Any) -> None:
        super().__init__(**instance)
        self.n, self.d = self.instance["n"], self.instance["d"]
        if self.n > _max_n(self.d):
            raise ProblemError(f"{self.name}: n={self.n} is out of range for d={self.d}; "
                               f"supported: 2..{_max_n(self.d)}")
        self.h = self._scale()
        self._mask = torch.triu(torch.ones(self.n, self.n, dtype=torch.bool), 1)
        #: shortfall terms: all pairs for small n, else a Verlet list (skin 0.3 h)
        self._pairs = Pairs(self.n, skin=0.3 * self.h)

    def _scale(self) -> float:
        """Rough size of the optimal ``D``: the larger of a cubic-lattice estimate and, for few
        points in high dimension, the distance of ``n`` corners of the cube.

        Only a unit for the relaxation and the search steps; never used as a bound.
        """
        lattice = 1.0 / max(1.0, math.ceil(self.n ** (1.0 / self.d)) - 1.0)
        corners = math.sqrt(max(1.0, self.d - math.log2(self.n))) if self.n <= 2**self.d else 0.0
        return float(max(lattice, corners))

    @staticmethod
    def radius(value: float) -> float:
        """Radius of the equal spheres in the unit cube, ``r = D / (2 (1 + D))``."""
        return radius(value)

    # ------------------------------------------------------------ search settings
    @property
    def search_defaults(self) -> dict[str, Any]:
        """Settings scaled to the instance: steps and kicks in units of ``h``, the batch
        shrinking with the O(n^2 d) cost of a relaxation step."""
        work = self.n * self.n * self.d
        batch = int(min(32, max(4, _STEP_BUDGET // work)))
        return {
            "batch": batch,
            "steps": 300,
            "mu": (1.0, 10.0, 100.0, 1e3, 1e4),
            "lr": 0.05 * self.h,
            "polish_top": 3 if self.n * self.d <= 600 else 1,
            "kick": 0.05 * self.h,
            "kick_range": (0.002 * self.h, 0.5 * self.h),
        }

    # ------------------------------------------------------------------ layout
    @property
    def dim(self) -> int:
        return self.n * self.d + 1

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(..., dim)`` to points ``(..., n, d)`` and the epigraph variable ``s`` ``(...,)``."""
        return x[..., :-1].reshape(x.shape[:-1] + (self.n, self.d)), x[..., -1]

    def fields(self) -> dict[str, tuple[int, ...]]:
        return {"points": (self.n, self.d)}

    def to_config(self, x: np.ndarray) -> Configuration:
        x = np.asarray(x, dtype=np.float64)
        return {"points": x[:-1].reshape(self.n, self.d).copy()}

    def from_config(self, config: Configuration) -> np.ndarray:
        p = np.asarray(config["points"], dtype=np.float64)
        return np.concatenate([p.ravel(), [math.sqrt(min_pair(p)[0])]])

    # ------------------------------------------------------------------ search
    def _symmetric(self, p: torch.Tensor, kind: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Points ``(batch, n, d)`` made invariant under an involution of the cube, by candidate
        ``kind``: 0 the mirror ``x_1 -> 1 - x_1``, 1 the diagonal mirror ``x_1 <-> x_2``, 2 the
        point reflection ``p -> 1 - p``.

        Points ``i < h`` are kept, point ``n - 1 - i`` becomes the image of point ``i``, the
        ``k = n - 2h`` middle ones go onto the fixed set (the midpoint of a point and its image).
        ``k`` has the parity of ``n``; for the mirrors it is random up to ``sqrt(n) + 1`` (rows
        of a packing crossing the mirror each put a point on it), for the point reflection at
        most 1 (the centre). The relaxation and the polish may then break the symmetry.
        """
        batch, n, _ = p.shape
        mirror = p.clone()
        mirror[..., 0] = 1.0 - p[..., 0]
        diagonal = p.clone()
        diagonal[..., [0, 1]] = p[..., [1, 0]]
        image = torch.stack([mirror, diagonal, 1.0 - p])[kind, torch.arange(batch)]
        top = (int(math.isqrt(n)) + 1 - n % 2) // 2
        k = n % 2 + 2 * torch.randint(0, top + 1, (batch,), generator=generator)
        k = torch.where(kind == 2, n % 2, k)
        h = ((n - k) // 2)[:, None]
        i = torch.arange(n)
        paired = image[:, torch.flip(i, [0])]
        q = torch.where((i >= n - h)[..., None], paired, (p + image) / 2)
        return torch.where((i < h)[..., None], p, q)

    def _lattice(self, batch: int, generator: torch.Generator, dtype, jitter: float = 0.02) -> torch.Tensor:
        """``(batch, n, 2)`` points on lattices stretched over the square, with vacancies.

        ``r`` rows at ``y_j = j / (r - 1)``; row ``j`` holds the sites
        ``x = (i + sigma (j mod 2) / 2) / (c - 1) <= 1``, ``0 <= i < c``: a rectangular grid
        (``sigma = 0``) or a triangular one (``sigma = 1``, odd rows shifted by half a step and one
        site shorter). ``r`` is uniform within 2 of ``sqrt(n)``, ``sigma`` uniform, ``c`` the
        least giving ``n`` sites or more; ``n`` of the sites are chosen at random and jittered by
        ``N(0, (jitter h)^2)``. Many best packings are such lattices, stretched (e.g. Packomania's
        N = 27, rows of 5 and 4) or with defects.
        """
        n = self.n
        root = round(math.sqrt(n))
        r = torch.randint(max(2, root - 2), root + 3, (batch,), generator=generator)
        sigma = torch.randint(0, 2, (batch,), generator=generator)
        c = ((n + sigma * (r // 2) + r - 1) // r).clamp_min(2)
        j = torch.arange(int(r.max()), dtype=dtype)[None, :, None]
        i = torch.arange(int(c.max()), dtype=dtype)[None, None, :]
        r, sigma, c = (t[:, None, None].to(dtype) for t in (r, sigma, c))
        x = (i + sigma * (j % 2) / 2) / (c - 1)
        y = (j / (r - 1)).expand_as(x)
        valid = (j < r) & (i < c) & (x <= 1.0)
        score = torch.rand(x.shape, generator=generator, dtype=dtype) + 2.0 * valid
        pick = score.flatten(1).topk(n).indices
        sites = torch.stack([x.flatten(1), y.flatten(1)], -1)
        p = sites[torch.arange(batch)[:, None], pick]
        p = p + jitter * self.h * torch.randn(p.shape, generator=generator, dtype=dtype)
        return p.clamp(0.0, 1.0)

    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
        """Fresh starts: half of them symmetric under an involution of the cube
        (`_symmetric`), in the square a sixth on stretched lattices (`_lattice`),
        the others uniform; many best packings are symmetric or lattice-like."""
        p = torch.rand(batch, self.n, self.d, generator=generator, dtype=dtype)
        kind = torch.randint(0, 6, (batch,), generator=generator)
        p = torch.where((kind < 3)[:, None, None], self._symmetric(p, kind % 3, generator), p)
        if self.d == 2:
            p = torch.where((kind == 3)[:, None, None], self._lattice(batch, generator, dtype), p)
        s = torch.full((batch, 1), 0.8 * self.h, dtype=dtype)
        return torch.cat([p.flatten(1), s], -1)

    def _sq_dists(self, p: torch.Tensor) -> torch.Tensor:
        """``(..., n, n)`` squared distances by the Gram identity (one batched matmul); exact
        enough for the relaxation, not for `value`."""
        sq = p.square().sum(-1)
        return (sq[..., :, None] + sq[..., None, :] - 2.0 * p @ p.transpose(-1, -2)).clamp_min(0.0)

    def relaxed(self, x: torch.Tensor, mu: float) -> torch.Tensor:
        """The penalty relaxation of the module docstring; its pair terms vanish beyond ``s``,
        so they run over `extremo.spatial.Pairs` with reach ``s / 2``: O(batch n d)
        per step with a Verlet list, O(batch n^2 d) dense."""
        p, s = self._split(x)
        reach = 0.5 * s[:, None].expand(-1, self.n)
        short = self._pairs.index(p, reach).map(self._shortfall, p, reach)
        return -s / self.h + mu * short.sum(-1) / self.h**2

    def _shortfall(self, pi: torch.Tensor, ai: torch.Tensor, pj: torch.Tensor, aj: torch.Tensor) -> torch.Tensor:
        """Squared shortfall ``relu(s - |p_i - p_j|)^2`` of a pair, ``s = a_i + a_j`` (zero beyond ``s``)."""
        return torch.relu(ai + aj - (squared_distance(pi, pj) + 1e-12 * self.h**2).sqrt()).square()

    def layout(self) -> Layout:
        """Rows ``p_i`` in the unit cube; in the square D4 acts on them."""
        return Layout(self.n, self.d, (0.0,) * self.d, (1.0,) * self.d,
                      symmetry="D4" if self.d == 2 else None, fast=True)

    def objects(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :-1].reshape(x.shape[0], self.n, self.d)

    def vectors(self, objs: torch.Tensor) -> torch.Tensor:
        """Rows and the epigraph variable ``s = min_{i != j} |p_i - p_j|``."""
        d = torch.cdist(objs, objs) + torch.eye(self.n, dtype=objs.dtype, device=objs.device) * 1e9
        return torch.cat([objs.flatten(1), d.flatten(1).min(-1).values[:, None]], -1)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        p = x[..., :-1].clamp(0.0, 1.0)
        s = x[..., -1:].clamp(0.0, math.sqrt(self.d))
        return torch.cat([p, s], -1)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """Exact float64 minimum distance, pairs as coordinate differences: O(n^2 d)."""
        p = self._split(x.to(torch.float64))[0]
        i, j = torch.triu_indices(self.n, self.n, 1)
        rows = max(1, (1 << 22) // (len(i) * self.d))
        out = [
            (c[..., i, :] - c[..., j, :]).square().sum(-1).min(-1).values.sqrt()
            for c in p.split(rows, 0)
        ]
        return torch.cat(out) if out else p.new_zeros(0)

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Clamp the points into the cube (then always feasible); ``s`` becomes the exact ``D``."""
        x = np.asarray(x, dtype=np.float64)
        p = np.clip(x[:-1], 0.0, 1.0).reshape(self.n, self.d)
        return np.concatenate([p.ravel(), [math.sqrt(min_pair(p)[0])]])

    def kick(self, x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        """Jitter every point by ``N(0, strength^2)``; move 0-2 points of the closest pairs to
        the best of 16 random spots (the one farthest from the other points)."""
        batch, n, d = x.shape[0], self.n, self.d
        p, s = self._split(x.to(torch.float64))
        p = p + strength * torch.randn(p.shape, generator=generator, dtype=p.dtype)
        d2 = self._sq_dists(p).masked_fill(~self._mask, math.inf)
        k = min(2, n // 2)
        moves = torch.randint(0, k + 1, (batch,), generator=generator)
        close = d2.flatten(1).topk(k, largest=False).indices  # (batch, k) flat pair indices
        end = torch.randint(0, 2, (batch, k), generator=generator)
        who = torch.where(end == 0, close // n, close % n)
        spots = torch.rand(batch, k, 16, d, generator=generator, dtype=p.dtype)
        gap = torch.cdist(spots.flatten(1, 2), p).reshape(batch, k, 16, n).min(-1).values
        best = spots[torch.arange(batch)[:, None], torch.arange(k)[None, :], gap.argmax(-1)]
        p = p.clone()
        for m in range(k):  # at most two moves per candidate, all candidates at once
            rows = torch.nonzero(moves > m).flatten()
            p[rows, who[rows, m]] = best[rows, m]
        return self.project(torch.cat([p.flatten(1), s[:, None]], -1).to(x.dtype))

    def _min_sq_distance(self, p: np.ndarray) -> float:
        """Exact smallest squared distance of points ``(n, d)``, by a cell list over the pairs
        closer than ``2 h`` (O(n); all pairs when none is that close)."""
        return closest_pair(torch.as_tensor(p), 2.0 * self.h)[0]

    def _near_pairs(self, p: np.ndarray, cutoff: float) -> tuple[np.ndarray, np.ndarray]:
        """Pairs closer than ``cutoff`` (a cell list: O(n))."""
        i, j = pairs_within(torch.as_tensor(p), cutoff)
        return i.numpy(), j.numpy()

    def _slsqp_step(self, p: np.ndarray, maxiter: int) -> np.ndarray:
        """One trust-region SLSQP solve from ``p``; returns the new points.

        Variables ``(p, u = t / t_0)``; maximise ``u`` s.t. ``|p_i - p_j|^2 / t_0 >= u`` over
        the pairs with ``|p_i - p_j|^2 <= 1.5 t_0`` and ``|p - p^0|_inf <= delta``,
        ``delta = 0.1 sqrt(t_0 / d)``: a point then moves by at most ``0.1 D_0``, so that a pair
        outside the set (distance ``>= 1.22 D_0``) stays farther than the active ones.
        """
        t0 = self._min_sq_distance(p)
        i, j = self._near_pairs(p, math.sqrt(_ACTIVE * t0))
        ii, jj = torch.as_tensor(i), torch.as_tensor(j)
        nd = self.n * self.d

        def cons(w: torch.Tensor) -> torch.Tensor:
            q = w[:-1].reshape(self.n, self.d)
            return (q[ii] - q[jj]).square().sum(-1) / t0 - w[-1]

        delta = 0.1 * math.sqrt(t0 / self.d)
        flat = p.ravel()
        lo, hi = np.clip(flat - delta, 0.0, 1.0), np.clip(flat + delta, 0.0, 1.0)
        bounds = list(zip(lo, hi)) + [(0.0, 4.0)]
        res = slsqp(lambda w: -w[-1], cons, np.concatenate([flat, [1.0]]), bounds=bounds, maxiter=maxiter)
        return np.clip(res.z[:nd], lo, hi).reshape(self.n, self.d)

    def sparse_polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """Trust-region SLP on the near-minimal pairs (`extremo.solvers.maximin.maximin_slp`):
        maximise ``min |p_i - p_j|^2`` in the cube.

        A step ``|e|_inf <= rho`` changes a distance by at most ``2 sqrt(d) rho``, so only the
        pairs closer than ``D + 4 sqrt(d) rho`` can become the closest; a cell list finds them
        (O(n)), and the LP has ``2d + 1`` entries a row. ``|p_i - p_j|^2`` is convex, so its
        linearisation is a lower bound and every LP step is safe. The trust radius is at most
        ``0.1 D / sqrt(d)`` per coordinate (a point moves by at most ``0.1 D``).
        """
        z = self.repair(x)
        p = z[:-1].reshape(self.n, self.d)
        reach = 4.0 * math.sqrt(self.d)

        def near_pairs(q: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
            return self._near_pairs(q, math.sqrt(self._min_sq_distance(q)) + reach * rho * (1 + 1e-9) + 1e-300)

        D = math.sqrt(self._min_sq_distance(p))
        if D <= 0:
            return z
        cap = 0.1 * D / math.sqrt(self.d)
        res = maximin_slp(squared_distance, near_pairs, self._min_sq_distance, p, 0.0, 1.0,
                          rho=cap, rho_max=cap, maxiter=60 * effort)
        return self.repair(np.concatenate([res.z.ravel(), [0.0]]))

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """Sparse SLP to a first-order optimum (`sparse_polish`), then, for up to 200
        variables, a trust-region SLSQP solve (`_slsqp_step`) that takes the curvature
        into account; kept only if it increases the true ``D``."""
        z = self.sparse_polish(x, effort)
        p = z[:-1].reshape(self.n, self.d)
        best = self._min_sq_distance(p)
        if self.n * self.d < 200 and best > 0:
            q = self._slsqp_step(p, maxiter=60 * effort)
            if self._min_sq_distance(q) > best:
                p = q
        return self.repair(np.concatenate([p.ravel(), [0.0]]))

    # ------------------------------------------------------------------ verify
    def verify(self, config: Configuration) -> Verdict:
        """All coordinates in ``[0, 1]`` (float comparisons are exact), then ``D`` in float64."""
        p = config["points"]
        outside = np.maximum(-p, p - 1.0)
        if np.any(outside > 0):
            k, a = np.unravel_index(int(np.argmax(outside)), p.shape)
            return Verdict(
                False,
                reason=f"point {k} lies outside the unit cube by {amount(outside[k, a])} in coordinate {a}",
            )
        d2, i, j = min_pair(p)
        D = math.sqrt(d2)
        return Verdict(
            True,
            value=D,
            detail=f"minimum distance {D:.12g} (points {i} and {j}): {self.n} equal spheres of "
            f"radius r = D/(2(1+D)) = {radius(D):.12g} in the unit cube",
        )

    def exact_check(self, config: Configuration) -> ExactCheck:
        """Exact smallest squared distance (the value is its square root); slack: the points'
        distance to the faces of the cube ``min(p, 1 - p)``."""
        p = config["points"]
        return ExactCheck(exact_pair_separation(p, None), {"cube": exact_box_slack(p, 0.0, 1.0)}, squared=True)

    # -------------------------------------------------------------------- draw
    def draw(self, ax, config: Configuration) -> None:  # pragma: no cover - drawn in plots tests
        """The square with the points, the equal circles of radius ``D/2`` around them (clipped
        to the square) and the closest pairs as edges; for ``d >= 3`` the projection on the
        first two coordinates, with a note."""
        from matplotlib.collections import LineCollection
        from matplotlib.patches import Circle, Rectangle

        p = np.asarray(config["points"], dtype=np.float64)
        d2, _, _ = min_pair(p)
        D = math.sqrt(d2)
        frame = Rectangle((0, 0), 1, 1, fill=False, lw=1.5, color="black")
        ax.add_patch(frame)
        i, j = np.triu_indices(self.n, 1)
        touch = np.sum((p[i] - p[j]) ** 2, axis=1) <= d2 * (1 + 1e-7)
        if self.d == 2:
            for c in p:
                disc = Circle(tuple(c), D / 2, alpha=0.35, ec="navy", fc="tab:blue", lw=0.6)
                ax.add_patch(disc)
                disc.set_clip_path(frame)
        else:
            ax.text(0.0, 1.04, f"projection on (x1, x2) of {self.n} points in [0,1]^{self.d}",
                    fontsize=8, transform=ax.transData)
        segs = np.stack([p[i[touch], :2], p[j[touch], :2]], 1)
        ax.add_collection(LineCollection(segs, colors="crimson", linewidths=0.8))
        ax.plot(p[:, 0], p[:, 1], "o", ms=3, color="black")
        ax.set_xlim(-0.05, 1.05)
        ax.set_ylim(-0.05, 1.1)
        ax.set_aspect("equal")

