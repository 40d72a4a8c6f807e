"""Circle packings maximising the sum of radii.

``circles-sum-radii``: n discs with disjoint interiors inside the unit square, maximise
``sum_i r_i``. ``circles-rect``: the same inside a ``w x h`` rectangle of perimeter 4
(``w + h = 2``) whose aspect ratio is free (AlphaEvolve, 2025, appendix B.13).

Constraints: ``r_i + r_j <= |c_i - c_j|`` for all pairs, ``r_i <= c_i <= side - r_i`` on each
axis, ``r_i >= 0``. Search vector: ``[w,] (x_1, y_1, r_1, ..., x_n, y_n, r_n)``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import torch
import scipy.sparse as sp
from scipy.optimize import linprog

from extremo.problems.base import Configuration, Layout, Parameter, Problem, Verdict
from extremo.problems.exact import amount, first_overlap, first_outside_box
from extremo.problems.exact_check import ExactCheck, exact_min, exact_pair_separation, near_minimal
from extremo.problems.packomania import count_circles, exact_violation, fixed, format_pck, order, parse_pck, round_packing
from extremo.problems.registry import register
from extremo.solvers.slp import slp
from extremo.solvers.slsqp import slsqp
from extremo.spatial import Pairs, build, squared_distance

#: largest n polished by the dense SLSQP (its Jacobian holds 3n^2(n-1)/2 floats and each
#: iteration costs O(n^3)); above it, the sparse SLP on the near contacts (same optima in tests)
DENSE_POLISH_MAX_N = 40


def pair_index(n: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Upper-triangle pair indices ``(i, j)``, ``i < j``, as two ``(n(n-1)/2,)`` tensors."""
    idx = torch.triu_indices(n, n, 1, device=device)
    return idx[0], idx[1]


class _CirclesBase(Problem):
    sense = "max"
    value_name = "sum of radii"
    free_aspect = False
    #: small kicks (at most 0.04) relaxed like fresh starts: on n=32 this reaches 2.9395 where
    #: the generic settings stall near 2.934 (benchmarks/discovery.py). The rate is 0.01 up to
    #: 225 circles and ``0.15 / sqrt(n)`` (0.15 spacings) beyond: Adam moves a coordinate by up
    #: to the rate per step, and at n = 1000 a rate of 0.01 (a third of a spacing) let the discs
    #: jump over each other, rebuilt the neighbour list nearly every step and ended lower
    #: (polished, 3 seeds: median 16.574 against 16.735; n = 200 is better at 0.01; docs/scaling.md)
    @property
    def search_defaults(self) -> dict[str, Any]:
        return {"kick_range": (0.002, 0.04), "kick_mu": 1.0, "lr": min(0.01, 0.15 / math.sqrt(self.n))}

    def __init__(self, **instance) -> None:
        super().__init__(**instance)
        self.n = self.instance["n"]
        self._i, self._j = pair_index(self.n)
        #: overlap terms: all pairs for small n, else a Verlet list (skin: 0.3 typical spacings)
        self._pairs = Pairs(self.n, skin=0.3 / math.sqrt(self.n))

    @property
    def dim(self) -> int:
        return 3 * self.n + (1 if self.free_aspect else 0)

    # ---------------------------------------------------------------- layout
    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Flat ``(..., dim)`` to sides ``(..., 2)``, centers ``(..., n, 2)``, radii ``(..., n)``."""
        if self.free_aspect:
            w = x[..., :1]
            sides = torch.cat([w, 2.0 - w], dim=-1)
            body = x[..., 1:]
        else:
            sides = torch.ones(x.shape[:-1] + (2,), dtype=x.dtype, device=x.device)
            body = x
        body = body.reshape(x.shape[:-1] + (self.n, 3))
        return sides, body[..., :2], body[..., 2]

    def to_config(self, x: np.ndarray) -> Configuration:
        sides, c, r = self._split(torch.as_tensor(np.asarray(x, dtype=np.float64)))
        out = {"centers": c.numpy().copy(), "radii": r.numpy().copy()}
        if self.free_aspect:
            out["width"] = np.asarray(float(sides[0]))
            out["height"] = np.asarray(_height(float(sides[0])))
        return out

    def from_config(self, config: Configuration) -> np.ndarray:
        body = np.concatenate([config["centers"], config["radii"][:, None]], axis=1).ravel()
        if self.free_aspect:
            return np.concatenate([[float(config["width"])], body])
        return body

    def fields(self) -> dict[str, tuple[int, ...]]:
        f: dict[str, tuple[int, ...]] = {"centers": (self.n, 2), "radii": (self.n,)}
        if self.free_aspect:
            f.update(width=(), height=())
        return f

    # ---------------------------------------------------------------- search
    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
        c = torch.rand(batch, self.n, 2, generator=generator, dtype=dtype)
        r = torch.rand(batch, self.n, 1, generator=generator, dtype=dtype) * (0.6 / math.sqrt(self.n))
        body = torch.cat([c, r], dim=-1).reshape(batch, -1)
        if self.free_aspect:
            w = 0.6 + 0.8 * torch.rand(batch, 1, generator=generator, dtype=dtype)
            body = torch.cat([w, body * torch.cat([w, 2 - w, w.new_ones(batch, 1)], -1).repeat(1, self.n)], -1)
        return body

    def penalty(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` sum of squared violations of all constraints; the overlaps run over
        the pairs of `extremo.spatial.Pairs` (reach ``r``): O(batch n) with a Verlet list."""
        sides, c, r = self._split(x)
        overlap = self._pairs.index(c, r).map(_overlap, c, r).sum(-1)
        low = torch.relu(r[..., None] - c).square().sum((-1, -2))
        high = torch.relu(c + r[..., None] - sides[..., None, :]).square().sum((-1, -2))
        neg = torch.relu(-r).square().sum(-1)
        return overlap + low + high + neg

    def relaxed(self, x: torch.Tensor, mu: float) -> torch.Tensor:
        return -self._split(x)[2].sum(-1) + mu * self.penalty(x)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        sides, c, r = self._split(x)
        c = torch.minimum(torch.maximum(c, torch.zeros_like(c)), sides[..., None, :])
        r = r.clamp_min(0.0)
        half = 0.5 * sides.min(-1, keepdim=True).values
        r = torch.minimum(r, half)
        body = torch.cat([c, r[..., None]], -1).flatten(-2)
        if self.free_aspect:
            return torch.cat([sides[..., :1].clamp(1e-3, 2 - 1e-3), body], -1)
        return body

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self._split(x)[2].sum(-1)

    def kick(self, x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        """Jiggle all centers and re-seed a few circles (small ones more likely) in holes: each goes,
        with radius 0, to the roomiest of `HOLE_CANDIDATES` random spots (`_roomiest`)."""
        batch = x.shape[0]
        sides, c, r = self._split(x)
        c = c + strength * torch.randn(c.shape, generator=generator, dtype=x.dtype)
        k = min(3, self.n)
        moves = 1 + torch.randint(0, k, (batch,), generator=generator)
        weights = torch.softmax(-r / (r.mean(-1, keepdim=True) * 0.3 + 1e-12), -1)
        pick = torch.multinomial(weights, k, replacement=False, generator=generator)
        keep = torch.arange(k)[None, :] < moves[:, None]
        rows = torch.arange(batch)[:, None].expand(-1, k)
        c = c.clone()
        r = r.clone()
        r[rows[keep], pick[keep]] = 0.0
        absent = torch.zeros(batch, self.n, dtype=torch.bool, device=x.device)
        absent[rows[keep], pick[keep]] = True
        ar = torch.arange(batch, device=x.device)
        for slot in range(k):
            spot = _roomiest(c, r, absent, sides, generator)
            moved = keep[:, slot]
            c[ar[moved], pick[moved, slot]] = spot[moved]
            absent[ar[moved], pick[moved, slot]] = False
        # half of the rows also swap the places of two circles (sizes exchange places)
        if self.n >= 2:
            swap = torch.rand(batch, generator=generator) < 0.5
            a = torch.randint(0, self.n, (batch,), generator=generator)
            b = (a + torch.randint(1, self.n, (batch,), generator=generator)) % self.n
            ca, cb = c[ar, a].clone(), c[ar, b].clone()
            c[ar[swap], a[swap]] = cb[swap]
            c[ar[swap], b[swap]] = ca[swap]
        body = torch.cat([c, r[..., None]], -1).flatten(-2)
        if self.free_aspect:
            body = torch.cat([sides[:, :1], body], -1)
        return self.project(body)

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """SLSQP on ``max sum r`` with squared separation ``|c_i-c_j|^2 - (r_i+r_j)^2 >= 0``.

        Dense: an ``(n^2/2) x 3n`` Jacobian, O(n^3) memory; above `DENSE_POLISH_MAX_N`
        circles the sparse polish on the near contacts runs instead (`sparse_polish`)."""
        z0 = self.project(torch.as_tensor(x, dtype=torch.float64)).numpy()
        if self.n > DENSE_POLISH_MAX_N:
            return self.sparse_polish(z0, effort)
        i, j = self._i, self._j

        def fun(z: torch.Tensor) -> torch.Tensor:
            return -self._split(z)[2].sum()

        def cons(z: torch.Tensor) -> torch.Tensor:
            sides, c, r = self._split(z)
            sep = (c[i] - c[j]).square().sum(-1) - (r[i] + r[j]).square()
            return torch.cat([sep, (c - r[:, None]).flatten(), (sides - c - r[:, None]).flatten()])

        bounds = [(0.0, 1.0), (0.0, 1.0), (0.0, 0.5)] * self.n
        if self.free_aspect:
            bounds = [(1e-3, 2 - 1e-3)] + [(0.0, 2.0), (0.0, 2.0), (0.0, 1.0)] * self.n
        res = slsqp(fun, cons, z0, bounds=bounds, maxiter=200 * effort)
        return self.repair(res.z)

    def sparse_polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """Trust-region SLP on the near contacts (`extremo.solvers.slp.slp`), then the
        exact LP radius repair (`repair`).

        Constraints ``|c_i - c_j| - r_i - r_j >= 0`` (convex: their linearisation is a lower
        bound, so every step stays feasible) over the pairs with slack below
        ``2 (1 + sqrt 2) rho``, the most a step ``|e|_inf <= rho`` can use up (found with a
        Verlet list: O(n)), and the ``4n`` walls; sparse Jacobian of 6 entries a pair.
        """
        k = 1 if self.free_aspect else 0
        n = self.n
        z = self._shrink(np.asarray(x, dtype=np.float64))
        objective = np.zeros(self.dim)
        objective[k + 2::3] = 1.0
        lower = np.zeros(self.dim)
        upper = np.tile([1.0, 1.0, 0.5], n) if k == 0 else np.concatenate([[2 - 1e-3], np.tile([2.0, 2.0, 1.0], n)])
        if k:
            lower[0] = 1e-3

        def pairs(c: np.ndarray, r: np.ndarray, slack: float) -> tuple[np.ndarray, np.ndarray]:
            nl = build(torch.as_tensor(c)[None], torch.as_tensor(r)[None], slack)
            keep = nl.valid[0]
            return nl.i[0][keep].numpy(), nl.j[0][keep].numpy()

        def linearize(z: np.ndarray, rho: float):
            sides, c, r = (t.numpy() for t in self._split(torch.as_tensor(z)))
            i, j = pairs(c, r, 2.0 * (1.0 + math.sqrt(2.0)) * rho * (1 + 1e-6) + 1e-300)
            diff = c[i] - c[j]
            dist = np.linalg.norm(diff, axis=1)
            u = diff / dist[:, None]
            m = len(i)
            pair_rows = np.repeat(np.arange(m), 6)
            pair_cols = np.stack([3 * i, 3 * i + 1, 3 * j, 3 * j + 1, 3 * i + 2, 3 * j + 2], 1).ravel() + k
            pair_vals = np.concatenate([u, -u, -np.ones((m, 2))], 1).ravel()
            # walls, rows m + 4a + (0: x - r, 1: y - r, 2: W - x - r, 3: H - y - r); W = w, H = 2 - w
            a = np.arange(n)
            wall_rows = m + np.repeat(4 * a[:, None] + np.arange(4), 2, axis=1).ravel()
            wall_cols = (np.stack([3 * a, 3 * a + 2, 3 * a + 1, 3 * a + 2,
                                   3 * a, 3 * a + 2, 3 * a + 1, 3 * a + 2], 1) + k).ravel()
            wall_vals = np.tile([1.0, -1, 1, -1, -1, -1, -1, -1], n)
            rows, cols, vals = [pair_rows, wall_rows], [pair_cols, wall_cols], [pair_vals, wall_vals]
            if k:
                rows += [m + 4 * a + 2, m + 4 * a + 3]
                cols += [np.zeros(n, dtype=np.int64)] * 2
                vals += [np.ones(n), -np.ones(n)]
            jac = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(m + 4 * n, self.dim))
            walls = np.stack([c[:, 0] - r, c[:, 1] - r, sides[0] - c[:, 0] - r, sides[1] - c[:, 1] - r], 1)
            return jac, np.concatenate([dist - r[i] - r[j], walls.ravel()])

        def score(z: np.ndarray) -> float:
            sides, c, r = (t.numpy() for t in self._split(torch.as_tensor(z)))
            i, j = pairs(c, r, 1e-12)
            worst = min(np.min(np.linalg.norm(c[i] - c[j], axis=1) - r[i] - r[j], initial=0.0),
                        float(np.min(c - r[:, None])), float(np.min(sides - c - r[:, None])), float(r.min()))
            return float(r.sum()) if worst >= -1e-13 else -math.inf

        r_mean = float(z[k + 2::3].mean())
        res = slp(objective, linearize, score, z, lower, upper, rho=0.05 * r_mean, rho_max=0.25 * r_mean,
                  maxiter=100 * effort)
        return self.repair(res.z)

    def screen(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch,)`` the largest sum of radii that fits each row's centres, an LP per row:
        ``max sum r`` s.t. ``r_i + r_j <= |c_i - c_j|``, ``0 <= r_i <= min(wall_i, 2 max_k r0_k)``
        (``r0``: the relaxed radii; the pairs that can bind come from a neighbour list).

        It ranks relaxed rows by what they polish to better than their relaxed loss: over every
        relaxed row of 11 sampled rounds at n = 28 and 33, Spearman 0.68-0.74 against 0.50-0.59,
        and the top three held the round's best polish in 9 rounds against 5 (docs/search.md)."""
        sides, c, r0 = (t.detach().to(torch.float64) for t in self._split(x))
        wall = torch.minimum(c, sides[:, None, :] - c).amin(-1).clamp_min(0.0)
        upper = torch.minimum(wall, 2.0 * r0.amax(-1, keepdim=True).clamp_min(0.0))
        if c.shape[1] < 2:
            return upper.sum(-1)
        nl = build(c, upper, 1e-12)
        out = torch.empty(x.shape[0], dtype=torch.float64)
        for b in range(x.shape[0]):
            keep = nl.valid[b]
            i, j = nl.i[b][keep].numpy(), nl.j[b][keep].numpy()
            cb = c[b].numpy()
            d = np.sqrt(((cb[i] - cb[j]) ** 2).sum(-1))
            out[b] = float(largest_radii(i, j, d, upper[b].numpy()).sum())
        return out

    def resize(self, x: np.ndarray, source: Problem) -> np.ndarray | None:
        """The packing ``x`` of ``source`` (same region, another ``n``) with its smallest circles
        dropped while there are too many and, while too few, a circle added in the largest hole
        (`largest_hole`); then `repair`. Records of consecutive ``n`` often differ by about one
        circle, so the polish of this start lands near the ``n - 1`` / ``n + 1`` record's basin."""
        if type(source) is not type(self):
            return None
        cfg = source.to_config(np.asarray(x, dtype=np.float64))
        sides = np.array([cfg["width"], cfg["height"]], dtype=np.float64) if self.free_aspect else np.ones(2)
        keep = np.sort(np.argsort(-cfg["radii"], kind="stable")[: self.n])
        c, r = cfg["centers"][keep], cfg["radii"][keep]
        while len(r) < self.n:
            at, room = largest_hole(c, r, sides)
            c, r = np.vstack([c, at]), np.append(r, room)
        return self.repair(self.from_config({**cfg, "centers": c, "radii": r}))

    def _shrink(self, x: np.ndarray) -> np.ndarray:
        """Centers clipped into the box, radii shrunk in proportion where they overlap,
        ``r_i <- min(r_i, wall_i, min_j r_i d_ij / (r_i + r_j))``: feasible (up to rounding) and
        close to ``x``, unlike the LP repair, whose vertex may empty some circles. O(n) with a
        Verlet list."""
        z = self.project(torch.as_tensor(x)).numpy()
        sides, c, r = (t.numpy().copy() for t in self._split(torch.as_tensor(z)))
        r = np.clip(np.minimum(r, np.minimum(c, sides - c).min(-1)), 0.0, None)
        nl = build(torch.as_tensor(c)[None], torch.as_tensor(r)[None], 1e-12)
        i, j = nl.i[0][nl.valid[0]].numpy(), nl.j[0][nl.valid[0]].numpy()
        d = np.linalg.norm(c[i] - c[j], axis=1)
        share = d / np.maximum(r[i] + r[j], 1e-300)
        cap = r.copy()
        np.minimum.at(cap, i, r[i] * share)
        np.minimum.at(cap, j, r[j] * share)
        return self.from_config({**self.to_config(z), "centers": c, "radii": cap * (1 - 1e-15)})

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Clip centers into the box, then the largest radii ``r <= r_0`` that fit (an LP).

        ``max sum r`` s.t. ``r_i + r_j <= d_ij``, ``r_i <= wall_i``, ``0 <= r_i <= r0_i``; the
        distances are shrunk by a few ulps so the exact verifier accepts the rounded result.
        """
        x = np.asarray(x, dtype=np.float64)
        if self.verify(self.to_config(x)).feasible:
            return x
        z = self.project(torch.as_tensor(x)).numpy()
        cfg = self.to_config(z)
        # the verifier's sides: the height is rounded down so that w + h <= 2 exactly
        sides = np.array([cfg["width"], cfg["height"]], dtype=np.float64) if self.free_aspect else np.ones(2)
        c, r0 = np.clip(cfg["centers"], 0.0, sides), cfg["radii"]
        z = self.from_config({**cfg, "centers": c})
        wall = np.minimum(c, sides - c).min(-1) * (1 - 4e-16)
        upper = np.clip(np.minimum(r0, wall), 0.0, None)
        i, j = self._i.numpy(), self._j.numpy()
        d = np.sqrt(((c[i] - c[j]) ** 2).sum(-1)) * (1 - 4e-16)
        r = largest_radii(i, j, d, upper)
        # the LP solver is feasible to ~1e-7 only: take back half of each remaining excess
        excess = np.clip(r[i] + r[j] - d, 0.0, None) / 2
        cut = np.zeros(self.n)
        np.maximum.at(cut, i, excess)
        np.maximum.at(cut, j, excess)
        r = np.clip(np.minimum(r - cut, upper), 0.0, None)
        for k in range(60):
            out = self.from_config({**self.to_config(z), "radii": r})
            if self.verify(self.to_config(out)).feasible:
                return out
            r = r * (1 - 2.0 ** (k - 52))
        raise RuntimeError("radii repair did not reach an exactly feasible packing")

    def exact_check(self, config: Configuration) -> ExactCheck:
        """Exact ``sum r``; slacks: pair separation ``|c_i - c_j|^2 - (r_i + r_j)^2``, walls
        ``c - r`` and ``side - c - r``, radii ``r``, and for the rectangle ``2 - (w + h)``."""
        c, r = config["centers"], config["radii"]
        sides = np.array([float(config["width"]), float(config["height"])]) if self.free_aspect else np.ones(2)
        slack = np.minimum(c - r[:, None], sides - c - r[:, None]).ravel()
        walls = exact_min(
            min(Fraction(float(c[k, a])) - Fraction(float(r[k])),
                Fraction(float(sides[a])) - Fraction(float(c[k, a])) - Fraction(float(r[k])))
            for k, a in (divmod(int(f), 2) for f in near_minimal(slack)))
        slacks = {"separation": exact_pair_separation(c, r), "walls": walls,
                  "radii": exact_min(Fraction(float(v)) for v in r)}
        if self.free_aspect:
            slacks["perimeter"] = 2 - Fraction(float(config["width"])) - Fraction(float(config["height"]))
        return ExactCheck(sum((Fraction(float(v)) for v in r), Fraction(0)), slacks)

    # ---------------------------------------------------------------- verify
    def verify(self, config: Configuration) -> Verdict:
        c, r = config["centers"], config["radii"]
        if self.free_aspect:
            w, h = float(config["width"]), float(config["height"])
            if w <= 0 or h <= 0:
                return Verdict(False, reason=f"the rectangle {w} x {h} is degenerate")
            if Fraction(w) + Fraction(h) > 2:
                return Verdict(False, reason=f"the rectangle's perimeter 2*({w}+{h}) exceeds 4")
            sides = np.array([w, h])
        else:
            sides = np.ones(2)
        if np.any(r < 0):
            k = int(np.argmin(r))
            return Verdict(False, reason=f"circle {k} has negative radius {r[k]}")
        out = first_outside_box(c, r, np.zeros(2), sides)
        if out is not None:
            k, a, excess = out
            return Verdict(False, reason=f"circle {k} sticks out of the {'xy'[a]}-range by {amount(excess, sides[a])}")
        hit = first_overlap(c, r)
        if hit is not None:
            a, b, ov = hit
            return Verdict(False, reason=f"circles {a} and {b} overlap by {amount(ov, r[a] + r[b])}")
        return Verdict(True, value=float(r.sum()))

    def draw(self, ax, config: Configuration) -> None:
        from matplotlib.patches import Circle, Rectangle

        w = float(config.get("width", 1.0))
        h = float(config.get("height", 1.0))
        ax.add_patch(Rectangle((0, 0), w, h, fill=False, lw=1.5, color="black"))
        for (x, y), r in zip(config["centers"], config["radii"]):
            ax.add_patch(Circle((x, y), r, alpha=0.55, ec="navy", fc="tab:blue", lw=0.8))
        ax.set_xlim(-0.02, w + 0.02)
        ax.set_ylim(-0.02, h + 0.02)
        ax.set_aspect("equal")


@register
class CirclesSumRadii(_CirclesBase):
    name = "circles-sum-radii"
    title = "n disjoint circles in the unit square, maximise the sum of radii"
    parameters = (Parameter("n", "number of circles", 1, 1000, default=26),)
    headline = ({"n": 26}, {"n": 30}, {"n": 32})
    file_formats = ("pck",)

    @classmethod
    def instance_of_text(cls, fmt: str, text: str) -> dict[str, Any]:
        """``n``: the number of coordinate lines of a ``.pck`` file."""
        return {"n": count_circles(text)} if fmt == "pck" else {}

    def read_text(self, fmt: str, text: str, where: str = "file") -> Configuration:
        """Packomania csqv coordinates (square ``[-1/2, 1/2]^2``, ``x y r`` per circle) shifted
        to the unit square ``[0, 1]^2`` (nearest floats)."""
        if fmt != "pck":
            return super().read_text(fmt, text, where)
        f = parse_pck(text, self.n, equal=False, where=where)
        return self.check_shapes({"centers": f.centers + 0.5, "radii": f.radii})

    def verify_text(self, fmt: str, text: str, where: str = "file") -> tuple[Verdict, Configuration]:
        """The file's decimals decide, exactly: no circle crosses the square and no two overlap;
        the value is their exact sum of radii rounded once."""
        if fmt != "pck":
            return super().verify_text(fmt, text, where)
        f = parse_pck(text, self.n, equal=False, where=where)
        config = self.check_shapes({"centers": f.centers + 0.5, "radii": f.radii})
        bad = exact_violation(f)
        if bad is not None:
            return Verdict(False, reason=f"{bad} (exact check of the file's decimals)"), config
        return Verdict(True, value=float(sum(f.exact_radii(), Fraction(0))),
                       detail="exactly feasible as written (decimals checked in rational arithmetic)"), config

    def write_text(self, fmt: str, config: Configuration, author: str = "") -> tuple[str, str]:
        """The csqv submission: 12 decimals, largest circle first, radii shrunk where rounding
        the centres would overlap (`extremo.problems.packomania.round_packing`)."""
        if fmt != "pck":
            return super().write_text(fmt, config, author)
        rd = round_packing(config["centers"] - 0.5, config["radii"])
        ks = order(rd.r, rd.x, rd.y)
        lines = [" ".join(fixed(v, rd.decimals) for v in (rd.x[k], rd.y[k], rd.r[k])) for k in ks]
        total = fixed(sum(rd.r), rd.decimals)
        note = (f"sum of radii {total} after rounding to {rd.decimals} decimals; "
                + (f"shrank {rd.shrunk} radii by {rd.shrink_total:.3e} in total (largest {rd.shrink_max:.3e}) "
                   "so no rounded pair overlaps" if rd.shrunk else "no radius had to shrink"))
        return format_pck(fixed(max(rd.r), rd.decimals), author, lines), note

    def layout(self) -> Layout:
        """Rows ``(x, y, r)`` in ``[0, 1]^2 x [0, 1/2]``; D4 moves the centres."""
        return Layout(self.n, 3, (0.0, 0.0, 0.0), (1.0, 1.0, 0.5), symmetry="D4", fast=True)

    def objects(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], self.n, 3)

    def vectors(self, objs: torch.Tensor) -> torch.Tensor:
        return objs.reshape(objs.shape[0], -1)


@register
class CirclesInRectangle(_CirclesBase):
    name = "circles-rect"
    title = "n disjoint circles in a rectangle of perimeter 4, maximise the sum of radii"
    parameters = (Parameter("n", "number of circles", 1, 1000, default=21),)
    headline = ({"n": 21},)
    free_aspect = True



def largest_radii(i: np.ndarray, j: np.ndarray, d: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """The LP ``max sum r`` s.t. ``r_a + r_b <= d_ab`` over the pairs ``(i, j)``, ``0 <= r <= upper``
    (HiGHS on a sparse matrix of two entries a pair; the pairs with ``upper_a + upper_b <= d_ab``
    cannot bind and are dropped). Zero radii if the solver fails."""
    need = upper[i] + upper[j] > d
    if not need.any():
        return upper.copy()
    i, j, d = i[need], j[need], d[need]
    m, n = len(i), len(upper)
    a = sp.csr_matrix((np.ones(2 * m), (np.repeat(np.arange(m), 2), np.stack([i, j], 1).ravel())), shape=(m, n))
    lp = linprog(-np.ones(n), A_ub=a, b_ub=d, bounds=np.stack([np.zeros(n), upper], 1), method="highs")
    return np.minimum(lp.x, upper) if lp.success else np.zeros_like(upper)


def largest_hole(c: np.ndarray, r: np.ndarray, sides: np.ndarray, grid: int = 64) -> tuple[np.ndarray, float]:
    """The centre ``p`` and radius of the largest circle that fits between the circles ``(c, r)``
    and the walls of the box ``[0, w] x [0, h]``: ``max_p min(min_i |p - c_i| - r_i, p, sides - p)``,
    searched on a ``grid x grid`` lattice, then on a finer one around its best point. O(n grid^2)."""

    def room(p: np.ndarray) -> np.ndarray:
        return _room(*(torch.as_tensor(a) for a in (p, c, r, sides))).numpy()

    t = (np.arange(grid) + 0.5) / grid
    p = np.stack(np.meshgrid(t * sides[0], t * sides[1], indexing="ij"), -1).reshape(-1, 2)
    best = p[np.argmax(room(p))]
    fine = best + np.stack(np.meshgrid(t - 0.5, t - 0.5, indexing="ij"), -1).reshape(-1, 2) * (2 * sides / grid)
    fine = np.clip(fine, 0.0, sides)
    free = room(fine)
    k = int(np.argmax(free))
    return fine[k], max(float(free[k]), 0.0)


#: random spots a kick compares when it re-seeds a circle (`_roomiest`)
HOLE_CANDIDATES = 64


def _room(p: torch.Tensor, c: torch.Tensor, r: torch.Tensor, sides: torch.Tensor,
          absent: torch.Tensor | None = None) -> torch.Tensor:
    """``(..., m)`` room ``min(p, sides - p, min_i |p - c_i| - r_i)`` at the points ``p (..., m, 2)``
    among the circles ``c (..., n, 2)``, ``r (..., n)`` that are not ``absent (..., n)``, in the box
    ``[0, w] x [0, h]``: the radius of the largest circle centred at ``p`` that fits. O(m n)."""
    wall = torch.minimum(p, sides[..., None, :] - p).amin(-1)
    if not c.shape[-2]:
        return wall
    gap = squared_distance(p[..., :, None, :], c[..., None, :, :]).sqrt() - r[..., None, :]
    if absent is not None:
        gap = gap.masked_fill(absent[..., None, :], math.inf)
    return torch.minimum(wall, gap.amin(-1))


def _roomiest(c: torch.Tensor, r: torch.Tensor, absent: torch.Tensor, sides: torch.Tensor,
              generator: torch.Generator) -> torch.Tensor:
    """Per row, the one of `HOLE_CANDIDATES` uniform spots in the box with the most `_room` among
    the circles not ``absent``: ``(batch, 2)``. A random spot re-seeds a circle where the others
    leave a hole. O(batch m n) for m candidates."""
    p = torch.rand(c.shape[0], HOLE_CANDIDATES, 2, generator=generator, dtype=c.dtype) * sides[:, None, :]
    return p[torch.arange(c.shape[0]), _room(p, c, r, sides, absent).argmax(-1)]


def _overlap(ci: torch.Tensor, ri: torch.Tensor, cj: torch.Tensor, rj: torch.Tensor) -> torch.Tensor:
    """Squared overlap ``relu(r_i + r_j - |c_i - c_j|)^2`` of two discs (zero once apart)."""
    d = squared_distance(ci, cj).add(1e-18).sqrt()
    return torch.relu(ri + rj - d).square()


def _height(width: float) -> float:
    """The largest float64 ``h`` with ``width + h <= 2`` exactly."""
    h = 2.0 - width
    while Fraction(width) + Fraction(h) > 2:
        h = float(np.nextafter(h, 0.0))
    return h
