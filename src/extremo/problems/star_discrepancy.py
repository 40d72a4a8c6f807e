"""Point sets of minimal L-infinity star discrepancy in the unit square and cube.

``star-discrepancy``: place ``N`` points in ``[0, 1]^d`` (``d = 2, 3``) so as to minimise

    D*(P) = sup_{q in [0,1]^d} | q_1 ... q_d - #(P in [0, q)) / N |,

computed exactly on the critical grid by `extremo.problems.discrepancy` (open boxes with
too few points, closed boxes with too many; O(N^2) in the plane, O(N^3) in the cube).

Search vector: ``(p_1, ..., p_N, t)`` flattened row by row, ``t`` an epigraph variable for
``D*``. The relaxation, minimised by the local search, is

    t / h + mu * sum_boxes relu(e_box - t)^2 / h^2,

``e_box`` the local discrepancies ``vol - count/N`` and ``count/N - vol`` of the boxes whose
corners are the points' coordinates (and 1), ``h`` the expected size of ``D*``. The counts are
smoothed, ``[p_i < q] ~ sigmoid((q - p_i) / tau)``, so that points feel the boxes they could
enter or leave (``O(N^(d+1))`` per candidate); above ``2^21`` terms the exact counts are used and
only the volumes carry gradients.

The polish is the permutation-fixed formulation of Clement, Doerr, Klamroth and Paquete
("Constructing optimal L-infinity star discrepancy sets", arXiv 2311.17463; Proc. AMS Ser. B
2024): while the order of the points along every axis stays fixed, every box count is a
constant and every local discrepancy a polynomial in the coordinates, so

    min t  s.t.  -t <= vol(box) - count(box) / N <= t,
                 x_(1),k <= x_(2),k <= ... <= 1  (the current orders),

is a smooth NLP. In the plane a point set is a permutation ``sigma`` plus the sorted
coordinates, and the NLP of a permutation is solved exactly and globally: in logarithms every
constraint is a difference constraint, so a level ``t`` is feasible iff a graph on ``2N + 1``
nodes has no negative cycle (Bellman-Ford), and the least feasible level follows from the
roots of the negative cycles' weights; the polish walks the permutations by late acceptance
(swaps, insertions along either axis and relocations of one point, tested in batches by one
feasibility check each): `extremo.problems.star_discrepancy_solver`. In the cube SLSQP
runs on the near-critical boxes in a trust region. The true ``D*`` decides whether a step is
kept. Kicks swap the coordinates of neighbours along an axis, move a point and jitter the
points.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction
from typing import Any

import numpy as np
import torch

from extremo.problems.base import Configuration, Layout, Parameter, Problem, ProblemError, Verdict
from extremo.problems.discrepancy import (
    grid_counts,
    grid_volumes,
    local_discrepancies,
    star_discrepancy,
    star_discrepancy_batch,
)
from extremo.problems.exact import amount
from extremo.problems.exact_check import MARGIN, ExactCheck, exact_box_slack, exact_min
from extremo.problems.registry import register
from extremo.problems.star_discrepancy_solver import (  # noqa: F401  (public names, re-exported)
    ORDER_GAP,
    permutation_moves,
    permutation_neighbourhood,
    plane_constraint_graph,
    plane_counts,
    plane_permutation_feasible,
    plane_permutation_nlp,
    plane_permutation_optimum,
    plane_permutation_search,
)

#: largest dimension-dependent number of points
_MAX_N = {2: 500, 3: 200}
#: soft counts while ``(N + 1)^d N`` stays below this (per candidate), exact counts above
_SOFT_TERMS = 1 << 21
#: a plane polish makes at most this many / N^2 permutation steps (each tests 8 neighbours in
#: O(N^2) per Bellman-Ford pass): all 50 up to N = 140, 4 at N = 500, so that one polish takes
#: seconds, not minutes, at the largest sizes
_STEP_CELLS = 1_000_000
#: at most this many box constraints in one SLSQP solve (the largest local discrepancies), and
#: at most ``_SLSQP_SIZE / dim`` of them: an SLSQP iteration costs O(boxes dim^2), so the cube's
#: polish stays in seconds at N = 200 (600 variables, 500 boxes, 2 solves of 10 iterations)
_MAX_BOXES = 3000
_SLSQP_SIZE = 300_000



@register
class StarDiscrepancy(Problem):
    name = "star-discrepancy"
    title = "N points in the unit d-cube minimising the L-infinity star discrepancy"
    sense = "min"
    value_name = "star discrepancy"
    parameters = (
        Parameter("n", "number of points", 1, 500, default=20),
        Parameter("d", "dimension of the cube", 2, 3, default=2),
    )
    headline = ({"n": 20, "d": 2}, {"n": 60, "d": 2}, {"n": 20, "d": 3})

    def __init__(self, **instance: Any) -> None:
        super().__init__(**instance)
        self.n, self.d = self.instance["n"], self.instance["d"]
        if self.n > _MAX_N[self.d]:
            raise ProblemError(f"{self.name}: n={self.n} is out of range for d={self.d}; "
                               f"supported: 1..{_MAX_N[self.d]}")
        #: rough size of the optimal D* (~1.2/N in the plane): a unit, never a bound
        self.h = min(0.62, (0.6 + 0.3 * self.d) / self.n)
        self.tau = 0.25 / self.n
        self.soft = (self.n + 1) ** self.d * self.n <= _SOFT_TERMS

    # ------------------------------------------------------------ search settings
    @property
    def search_defaults(self) -> dict[str, Any]:
        cells = (self.n + 1) ** self.d * (self.n if self.soft else 4)
        return {
            "batch": int(min(8, max(2, 2e6 // cells))) if self.d == 3 else 4,
            # above 300 variables (cube, N > 100) a relaxation step costs ~1 s and a polish ~10 s
            "steps": (20 if self.dim <= 300 else 4) if self.d == 3 else 8,
            "mu": (1e3,),
            "lr": 0.02 * self.h,
            "polish_top": (4 if self.dim <= 300 else 1) if self.d == 3 else 2,
            "kick": 0.1 * self.h,
            "kick_range": (0.01 * self.h, 0.5 * self.h),
            "kick_mu": 1.0,
        }

    # ------------------------------------------------------------------ layout
    @property
    def dim(self) -> int:
        return self.n * self.d + 1

    def _points(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1].reshape(x.shape[:-1] + (self.n, self.d))

    def fields(self) -> dict[str, tuple[int, ...]]:
        return {"points": (self.n, self.d)}

    def to_config(self, x: np.ndarray) -> Configuration:
        return {"points": np.asarray(x, dtype=np.float64)[:-1].reshape(self.n, self.d).copy()}

    def from_config(self, config: Configuration) -> np.ndarray:
        p = np.asarray(config["points"], dtype=np.float64)
        return np.concatenate([p.ravel(), [star_discrepancy(p).value]])

    # ------------------------------------------------------------------ search
    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
        """Jittered Kronecker sets ``((i + 1/2) / N, {i a_2 + s_2}, ..., {i a_d + s_d})`` with
        random ``s`` and random ``a``, half of them with the golden generator
        ``(sqrt 5 - 1) / 2`` on one axis (in the cube a random one of the two; the other keeps its
        own draw, so no two axes share a generator): their coordinate orders are those of
        low-discrepancy lattices, the orders the polish cannot change (cf. Clement et al.,
        arXiv 2407.11533, on choosing the permutations of good point sets)."""
        n, d = self.n, self.d
        i = torch.arange(n, dtype=dtype)[None, :, None]
        a = torch.rand(batch, 1, d - 1, generator=generator, dtype=dtype)
        # half of them with the golden generator on one axis (Fibonacci-like lattices)
        golden = torch.rand(batch, 1, 1, generator=generator, dtype=dtype) < 0.5
        if d > 2:
            axis = torch.randint(d - 1, (batch, 1, 1), generator=generator)
            golden = golden & (torch.arange(d - 1) == axis)
        a = torch.where(golden, torch.full_like(a, (math.sqrt(5.0) - 1.0) / 2.0), a)
        s = torch.rand(batch, 1, d - 1, generator=generator, dtype=dtype)
        rest = torch.remainder(i * a + s, 1.0)
        p = torch.cat([((i + 0.5) / n).expand(batch, n, 1), rest], -1)
        p = p + (0.1 / n) * torch.randn(p.shape, generator=generator, dtype=dtype)
        t = torch.full((batch, 1), self.h, dtype=dtype)
        return torch.cat([p.clamp(0.0, 1.0).flatten(1), t], -1)

    def _soft_local(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``over``, ``under`` ``(B, m, ..., m)`` on the boxes cornered at the points' coordinates
        (and 1) with counts ``sum_i prod_k sigmoid((q_k - p_ik) / tau)``; a point is on the open
        side of its own coordinate for open boxes and inside for closed ones."""
        b, n, d = p.shape
        q = torch.cat([p, p.new_ones(b, 1, d)], 1)  # (B, m, d)
        s = torch.sigmoid((q[:, :, None, :] - p[:, None, :, :]) / self.tau)  # (B, m, n, d)
        own = torch.eye(n + 1, n, dtype=torch.bool, device=p.device)[None, :, :, None]
        s_open, s_closed = s.masked_fill(own, 0.0), s.masked_fill(own, 1.0)
        subs = "bai,bci" if d == 2 else "bai,bci,bei"
        out = "->bac" if d == 2 else "->bace"
        opened = torch.einsum(subs + out, *s_open.unbind(-1))
        closed = torch.einsum(subs + out, *s_closed.unbind(-1))
        vol = grid_volumes(q)
        return vol - opened / n, closed / n - vol

    def relaxed(self, x: torch.Tensor, mu: float) -> torch.Tensor:
        p, t = self._points(x), x[..., -1]
        over, under = self._soft_local(p) if self.soft else local_discrepancies(p)
        e = torch.cat([over.flatten(1), under.flatten(1)], 1)
        return t / self.h + mu * torch.relu(e - t[:, None]).square().sum(1) / self.h**2

    def layout(self) -> Layout:
        """Points in the unit cube; no symmetry (the boxes are anchored at the origin)."""
        return Layout(self.n, self.d, (0.0,) * self.d, (1.0,) * self.d)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(0.0, 1.0)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """Float64 ``D*`` of every candidate (exact algorithm, no rational recheck)."""
        return star_discrepancy_batch(self._points(x.to(torch.float64)))

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Clamp the points into the cube (every point set is feasible); ``t`` becomes ``D*``."""
        p = np.clip(np.asarray(x, dtype=np.float64)[:-1], 0.0, 1.0).reshape(self.n, self.d)
        return np.concatenate([p.ravel(), [float(star_discrepancy_batch(torch.as_tensor(p)))]])

    def kick(self, x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        """Swap the coordinates of 1-3 pairs of neighbours along an axis (a transposition of
        that axis' order), neighbours at gap ``g`` drawn with weight ``1 / (g + 0.02 / N)``: the
        polish leaves the pairs whose order constraint is active nearly tied, and swapping them
        is the move it could not make. Half of the candidates also get one point moved to a
        uniform random spot; then every point is jittered by ``N(0, strength^2)``."""
        b, n, d = x.shape[0], self.n, self.d
        p = self._points(x.to(torch.float64)).clone()
        if n > 1:
            rows = torch.arange(b)
            swaps = torch.randint(1, 4, (b,), generator=generator)
            for s in range(3):  # at most three swaps per candidate, all candidates at once
                sorted_p, order = p.sort(1)  # (B, n, d)
                gap = (sorted_p[:, 1:] - sorted_p[:, :-1]).flatten(1)  # (B, (n-1) d), rank-major
                pick = torch.multinomial(1.0 / (gap + 0.02 / n), 1, generator=generator)[:, 0]
                j, k = pick // d, pick % d
                a, c = order[rows, j, k], order[rows, j + 1, k]
                pa, pc = p[rows, a, k], p[rows, c, k]
                on = swaps > s
                p[rows[on], a[on], k[on]] = pc[on]
                p[rows[on], c[on], k[on]] = pa[on]
            # half of the candidates also move one random point to a random spot (a long move
            # in every axis' order)
            move = torch.rand(b, generator=generator) < 0.5
            who = torch.randint(0, n, (b,), generator=generator)
            spot = torch.rand(b, d, generator=generator, dtype=p.dtype)
            p[rows[move], who[move]] = spot[move]
        p = p + strength * torch.randn(p.shape, generator=generator, dtype=p.dtype)
        return self.project(torch.cat([p.flatten(1), x[:, -1:].to(p.dtype)], -1).to(x.dtype))

    # ------------------------------------------------------------------ polish
    def _boxes(self, p: np.ndarray, t0: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The near-critical boxes of ``p``: the (at most 3000) largest local discrepancies
        ``>= 0``. Returns, per box, the points whose coordinates are its corner ``(K, d)``
        (``N`` for the coordinate 1), its count ``(K,)``, its sign ``(K,)`` (+1: ``vol - c/N``,
        -1: ``c/N - vol``), and the orders ``(N, d)`` (point of rank ``j`` along axis ``k``)."""
        n, d = self.n, self.d
        grid, opened, closed = grid_counts(torch.as_tensor(p)[None])
        vol = grid_volumes(grid)[0].numpy().ravel()
        counts = np.concatenate([opened[0].numpy().ravel(), closed[0].numpy().ravel()])
        values = np.concatenate([vol - counts[: vol.size] / n, counts[vol.size:] / n - vol])
        top = min(_MAX_BOXES, _SLSQP_SIZE // self.dim, values.size)
        keep = np.argpartition(-values, top - 1)[:top]  # O(cells), not a sort of 2 (N + 1)^d values
        keep = keep[np.argsort(-values[keep], kind="stable")]
        keep = keep[values[keep] >= min(0.0, t0)]
        order = np.argsort(p, axis=0, kind="stable")
        owner = np.vstack([order, np.full((1, d), n)])  # (m, d)
        cell = np.unravel_index(keep % vol.size, (n + 1,) * d)
        corner = np.stack([owner[cell[k], k] for k in range(d)], 1)
        sign = np.where(keep < vol.size, 1.0, -1.0)
        return corner, counts[keep], sign, order

    def _slsqp_step(self, p: np.ndarray, delta: float, maxiter: int) -> np.ndarray:
        """One SLSQP solve of the permutation-fixed NLP (module docstring) from ``p``, in the
        trust region ``|p - p^0|_inf <= delta``; variables ``(p, u = t / h)``.

        The constraints are products of coordinates, so their Jacobian is written out
        (``d vol / d q_k = prod_{l != k} q_l``): SLSQP (Kraft 1988, SciPy) gets it in O(K d)."""
        from scipy.optimize import minimize

        n, d, h = self.n, self.d, self.h
        t0 = float(star_discrepancy_batch(torch.as_tensor(p)))
        corner, count, sign, order = self._boxes(p, t0)
        k_boxes, axes = len(corner), np.arange(d)
        rhs = sign * count / n
        real = corner < n  # corner coordinates that are variables (not the constant 1)
        cols = corner * d + axes
        lo_i, hi_i = order[:-1], order[1:]  # (n - 1, d) neighbours along each axis
        gap_rows = np.arange((n - 1) * d) + k_boxes
        jac = np.zeros((k_boxes + (n - 1) * d, n * d + 1))
        jac[:k_boxes, -1] = 1.0
        jac[gap_rows, (hi_i * d + axes).ravel()] = 1.0 / h
        jac[gap_rows, (lo_i * d + axes).ravel()] = -1.0 / h
        box_rows = np.broadcast_to(np.arange(k_boxes)[:, None], (k_boxes, d))

        def corners(z: np.ndarray) -> np.ndarray:
            q = np.vstack([z[:-1].reshape(n, d), np.ones((1, d))])
            return q[corner, axes], q

        def cons(z: np.ndarray) -> np.ndarray:
            c, q = corners(z)
            gaps = (q[hi_i, axes] - q[lo_i, axes]).ravel() - ORDER_GAP
            return np.concatenate([z[-1] - (sign * c.prod(1) - rhs) / h, gaps / h])

        def cons_jac(z: np.ndarray) -> np.ndarray:
            c, _ = corners(z)
            others = np.stack([np.prod(np.delete(c, k, axis=1), axis=1) for k in range(d)], 1)
            jac[box_rows[real], cols[real]] = (-sign[:, None] * others / h)[real]
            return jac

        flat = p.ravel()
        lo, hi = np.clip(flat - delta, 0.0, 1.0), np.clip(flat + delta, 0.0, 1.0)
        bounds = list(zip(lo, hi)) + [(0.0, 1.0 / h)]
        grad = np.zeros(n * d + 1)
        grad[-1] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = minimize(lambda z: z[-1], np.concatenate([flat, [t0 / h]]), jac=lambda z: grad,
                           method="SLSQP", bounds=bounds,
                           constraints=[{"type": "ineq", "fun": cons, "jac": cons_jac}],
                           options={"maxiter": maxiter, "ftol": 1e-15})
        return np.clip(res.x[:-1], lo, hi).reshape(n, d)

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """In the plane: the exact optimum of the point set's permutation, then late acceptance
        over permutations and a neighbourhood descent (`plane_permutation_search`,
        ``effort * min(25 N, max(50, 10^4 / N), 500, max(2, 10^6 / N^2))`` steps, a few seconds at
        N = 20 and 60 and at N = 500;
        random stream seeded by the point set so runs repeat). In the cube: trust-region SLSQP
        on the near-critical boxes, steps kept only when the exact ``D*`` decreases; the trust
        radius starts at ``D* / (2d)`` (a box's local discrepancy then moves by at most about
        ``D*/2``) and shrinks fourfold after a step that does not improve; above 300 variables
        (N > 100) two solves of 10 iterations on at most ``3 10^5 / dim`` boxes."""
        z = self.repair(x)
        p, best = z[:-1].reshape(self.n, self.d), z[-1]
        if self.d == 2 and self.n > 1:
            rng = np.random.default_rng(int.from_bytes(p.tobytes()[-8:], "little"))
            steps = effort * min(25 * self.n, max(50, 10_000 // self.n), 500, max(2, _STEP_CELLS // self.n**2))
            q, v = plane_permutation_search(p, steps, rng)
            if v < best:
                p, best = q, v
            return self.repair(np.concatenate([p.ravel(), [best]]))
        delta = best / (2 * self.d)
        maxiter = 100 if self.dim <= 150 else 40 if self.dim <= 300 else 10
        for _ in range((6 if self.dim <= 300 else 2) * effort):
            q = self._slsqp_step(p, delta, maxiter)
            v = float(star_discrepancy_batch(torch.as_tensor(q)))
            if v < best * (1 - 1e-13):
                p, best = q, v
            else:
                delta *= 0.25
                if delta < 1e-7 * self.h:
                    break
        return self.repair(np.concatenate([p.ravel(), [best]]))

    # ------------------------------------------------------------------ verify
    def verify(self, config: Configuration) -> Verdict:
        """All coordinates in ``[0, 1]`` (float comparisons are exact), then the exact ``D*``
        (float64 on the critical grid, rational recheck of the worst boxes)."""
        p = config["points"]
        outside = np.maximum(-p, p - 1.0)
        if np.any(outside > 0):
            k, a = np.unravel_index(int(np.argmax(outside)), p.shape)
            return Verdict(False, reason=f"point {k} lies outside the unit cube by "
                                         f"{amount(outside[k, a])} in coordinate {a}")
        sd = star_discrepancy(p)
        box = ", ".join(f"{c:.6g}" for c in sd.corner)
        kind = f"closed box [0, ({box})] holds too many points" if sd.closed else \
            f"open box [0, ({box})) holds too few points"
        return Verdict(True, value=sd.value, detail=f"star discrepancy {sd.value:.12g}: {kind}")

    def exact_check(self, config: Configuration) -> ExactCheck:
        """Exact ``D*`` over the critical boxes: every box whose float local discrepancy is
        within `MARGIN` of the float maximum is recomputed
        in rationals (counts are exact integers, volumes products of dyadic rationals); slack:
        the points' distance to the faces of the cube."""
        p = config["points"]
        grid, opened, closed = grid_counts(torch.as_tensor(p, dtype=torch.float64)[None])
        vol = grid_volumes(grid)[0].numpy()
        grid, opened, closed = grid[0].numpy(), opened[0].numpy(), closed[0].numpy()
        over, under = vol - opened / self.n, closed / self.n - vol
        top = max(float(over.max()), float(under.max()))
        worst = exact_min(
            -(sign * (Fraction(int(counts[j]), self.n) - math.prod(Fraction(float(grid[j[k], k]))
                                                                   for k in range(self.d))))
            for values, counts, sign in ((over, opened, -1), (under, closed, 1))
            for j in zip(*np.nonzero(values >= top - MARGIN)))
        return ExactCheck(-worst, {"cube": exact_box_slack(p, 0.0, 1.0)})

    # -------------------------------------------------------------------- draw
    def draw(self, ax, config: Configuration) -> None:  # pragma: no cover - drawn in plots tests
        """The points and the worst anchored box (red: too many points, blue: too few); for
        ``d = 3`` the projection on the first two coordinates."""
        from matplotlib.patches import Rectangle

        p = np.asarray(config["points"], dtype=np.float64)
        sd = star_discrepancy(p)
        ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, lw=1.5, color="black"))
        ax.add_patch(Rectangle((0, 0), sd.corner[0], sd.corner[1], alpha=0.25,
                               color="crimson" if sd.closed else "tab:blue", lw=0))
        ax.plot(p[:, 0], p[:, 1], "o", ms=4, color="black")
        if self.d == 3:
            ax.text(0.0, 1.03, f"projection on (x1, x2); worst box corner {sd.corner.round(4)}",
                    fontsize=8)
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.03, 1.1)
        ax.set_aspect("equal")
