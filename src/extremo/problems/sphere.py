"""Points on the unit 2-sphere: the Tammes and Thomson problems.

``tammes``: place ``n`` points on ``S^2`` so as to maximise the smallest angular distance

    theta = min_{i<j} arccos(u_i . u_j)          (degrees, as in Sloane's tables),

the packing of ``n`` equal spherical caps of angular radius ``theta / 2`` (Tammes 1930).

``thomson``: place ``n`` unit charges on ``S^2`` so as to minimise the Coulomb energy

    E = sum_{i<j} 1 / |u_i - u_j|                (Thomson 1904).

A configuration is ``points`` ``(n, 3)``. No float64 vector other than a few has norm exactly
one, so a configuration stands for the radial projections ``u_i = p_i / |p_i|`` of its rows,
which must lie within ``1e-9`` of the sphere (a row farther away is rejected, it is not on the
sphere); the value is that of the ``u_i``. Distances are computed from coordinate differences,
and angles as ``2 asin(|u_i - u_j| / 2)``, accurate for small angles where ``arccos`` is not.

Search vectors are the stacked rows ``(p_1, ..., p_n)``; every relaxation evaluates on the
normalised rows, so its gradient is tangent to the sphere.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from extremo.problems.base import Configuration, Layout, Parameter, Problem, Verdict
from extremo.problems.registry import register
from extremo.solvers.maximin import maximin_slp
from extremo.solvers.slsqp import slsqp
from extremo.spatial import DENSE_BELOW, Pairs, pairs_within, squared_distance

#: largest accepted deviation of a row's norm from one
NORM_TOLERANCE = 1e-9
#: above this many variables the Tammes polish is sparse SLP (SLSQP's subproblems are dense)
_SLSQP_MAX_VARIABLES = 200
#: a pair enters the Tammes polish when ``|u_i - u_j|^2 <= _ACTIVE * t``
_ACTIVE = 1.5


def unit_rows(p: np.ndarray) -> np.ndarray:
    """Rows of ``p`` divided by their Euclidean norms."""
    return p / np.linalg.norm(p, axis=-1, keepdims=True)


def pair_chords(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chord lengths ``|u_i - u_j|`` of all pairs ``i < j`` (from differences) and the pairs."""
    i, j = np.triu_indices(len(u), 1)
    return np.sqrt(np.sum((u[i] - u[j]) ** 2, axis=1)), i, j


def chord_to_degrees(chord: float) -> float:
    """Angular distance ``2 asin(c / 2)`` in degrees of two unit vectors ``c`` apart."""
    return math.degrees(2.0 * math.asin(min(1.0, chord / 2.0)))


def angle_degrees(u: np.ndarray, v: np.ndarray) -> float:
    """Angle between unit vectors as ``atan2(|u x v|, u . v)`` in degrees: accurate at every
    angle, where ``arccos(u . v)`` loses digits near 0 and ``2 asin(|u - v| / 2)`` near 180."""
    return math.degrees(math.atan2(float(np.linalg.norm(np.cross(u, v))), float(u @ v)))


def tangent_bases(u: np.ndarray) -> np.ndarray:
    """``(n, 3, 2)`` orthonormal bases of the tangent planes at the unit rows ``u``.

    The first vector is ``u x a`` normalised, ``a`` the coordinate axis least aligned with ``u``;
    the second is ``u x`` the first.
    """
    axis = np.eye(3)[np.argmin(np.abs(u), axis=1)]
    e1 = np.cross(u, axis)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(u, e1)
    return np.stack([e1, e2], -1)


class SpherePoints(Problem):
    """Common part of the problems on ``n`` points of the unit 2-sphere."""

    projection = "3d"
    parameters = (Parameter("n", "number of points", 2, 500, default=24),)

    def __init__(self, **instance: Any) -> None:
        super().__init__(**instance)
        self.n = self.instance["n"]
        #: typical nearest-neighbour chord, ``sqrt(8 pi / (sqrt 3 n))`` (hexagonal caps), at most 2
        self.h = min(2.0, math.sqrt(8.0 * math.pi / (math.sqrt(3.0) * self.n)))
        self._mask = torch.triu(torch.ones(self.n, self.n, dtype=torch.bool), 1)

    def fields(self) -> dict[str, tuple[int, ...]]:
        return {"points": (self.n, 3)}

    @property
    def dim(self) -> int:
        return 3 * self.n

    def to_config(self, x: np.ndarray) -> Configuration:
        return {"points": unit_rows(np.asarray(x, dtype=np.float64).reshape(self.n, 3))}

    def from_config(self, config: Configuration) -> np.ndarray:
        return unit_rows(np.asarray(config["points"], dtype=np.float64)).ravel()

    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
        return self._random_points((batch, self.n), generator, dtype).flatten(1)

    def layout(self) -> Layout:
        """Unit rows ``(x, y, z)`` on the sphere."""
        return Layout(self.n, 3, sphere=True)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return self._points(x).flatten(-2)

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Normalise the rows (always feasible for Tammes; Thomson rejects coincident points)."""
        return self.from_config({"points": np.asarray(x, dtype=np.float64).reshape(self.n, 3)})

    def kick(self, x: torch.Tensor, strength: float, generator: torch.Generator) -> torch.Tensor:
        """Jitter every point by ``N(0, strength^2)``, renormalise, and move up to two points of
        the closest pairs to empty spots (`_relocate`)."""
        u = self._points(x.to(torch.float64))
        u = u + strength * torch.randn(u.shape, generator=generator, dtype=u.dtype)
        u = u / u.norm(dim=-1, keepdim=True)
        return self._relocate(u, self._gram_chords(u), generator).flatten(1).to(x.dtype)

    def _points(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., n, 3)`` unit rows of the points of search vectors."""
        p = x.reshape(x.shape[:-1] + (self.n, 3))
        return p / p.norm(dim=-1, keepdim=True).clamp_min(1e-300)

    def _gram_chords(self, u: torch.Tensor) -> torch.Tensor:
        """``(..., n, n)`` chords ``sqrt(2 - 2 u_i . u_j)`` of unit rows (one batched matmul),
        floored at ``1e-6 h`` so the gradient stays finite; for relaxations only."""
        g = u @ u.transpose(-1, -2)
        return (2.0 - 2.0 * g).clamp_min(1e-12 * self.h**2).sqrt()

    def _random_points(self, shape: tuple[int, ...], generator: torch.Generator, dtype) -> torch.Tensor:
        """Uniform points on the sphere: normalised Gaussian vectors."""
        g = torch.randn(shape + (3,), generator=generator, dtype=dtype)
        return g / g.norm(dim=-1, keepdim=True)

    def _relocate(self, u: torch.Tensor, chords: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Move 0, 1 or 2 points of the closest pairs (one end at random) to the best of 16
        uniform spots, the one farthest from all points; ``u`` ``(batch, n, 3)`` unit rows."""
        batch, n = u.shape[0], self.n
        k = min(2, n // 2)
        moves = torch.randint(0, k + 1, (batch,), generator=generator)
        close = chords.masked_fill(~self._mask, math.inf).flatten(1).topk(k, largest=False).indices
        end = torch.randint(0, 2, (batch, k), generator=generator)
        who = torch.where(end == 0, close // n, close % n)
        spots = self._random_points((batch, k * 16), generator, u.dtype)
        gap = (spots @ u.transpose(-1, -2)).max(-1).values.reshape(batch, k, 16)
        best = spots.reshape(batch, k, 16, 3)[torch.arange(batch)[:, None], torch.arange(k)[None, :], gap.argmin(-1)]
        u = u.clone()
        for m in range(k):  # at most two moves per candidate, all candidates at once
            rows = torch.nonzero(moves > m).flatten()
            u[rows, who[rows, m]] = best[rows, m]
        return u

    def _check_on_sphere(self, p: np.ndarray) -> Verdict | None:
        """A rejection if a row is not within `NORM_TOLERANCE` of the unit sphere."""
        off = np.abs(np.linalg.norm(p, axis=1) - 1.0)
        k = int(np.argmax(off))
        if off[k] > NORM_TOLERANCE:
            return Verdict(
                False,
                reason=f"point {k} is not on the unit sphere: |p| - 1 = {off[k]:.3e} "
                f"(allowed {NORM_TOLERANCE:g}); normalise the rows",
            )
        return None

    def draw(self, ax, config: Configuration) -> None:  # pragma: no cover - drawn in plots tests
        """A wire sphere, the points, and the closest pairs (Tammes) or nearest neighbours
        (Thomson) as edges."""
        u = unit_rows(np.asarray(config["points"], dtype=np.float64))
        a, b = np.meshgrid(np.linspace(0, 2 * np.pi, 37), np.linspace(0, np.pi, 19))
        ax.plot_wireframe(np.cos(a) * np.sin(b), np.sin(a) * np.sin(b), np.cos(b),
                          color="0.85", linewidth=0.4)
        c, i, j = pair_chords(u)
        near = np.full(self.n, np.inf)
        np.minimum.at(near, i, c)
        np.minimum.at(near, j, c)
        edge = c <= self._edge_length(c, near)
        for s, t in zip(i[edge], j[edge]):
            ax.plot(*u[[s, t]].T, color="crimson", linewidth=0.8)
        ax.scatter(*u.T, s=18, color="black", depthshade=True)
        ax.set_box_aspect((1, 1, 1))
        ax.set_axis_off()

    def _edge_length(self, chords: np.ndarray, nearest: np.ndarray) -> float:
        """Pairs drawn as edges are those at most this long."""
        return float(chords.min()) * (1 + 1e-6)


@register
class Tammes(SpherePoints):
    name = "tammes"
    title = "n points on the unit sphere maximising the minimum angular distance (Tammes)"
    sense = "max"
    value_name = "minimum angle (degrees)"
    headline = ({"n": 13}, {"n": 24}, {"n": 30}, {"n": 60})

    @property
    def search_defaults(self) -> dict[str, Any]:
        return {
            "batch": int(min(32, max(4, 2.5e6 // (self.n * self.n * 3)))),
            "steps": 300,
            "mu": (6.0, 12.0, 24.0, 48.0, 96.0),
            "lr": 0.02 * self.h,
            # fresh relaxed starts often land in the best basin: polish many, keep half fresh
            "polish_top": 8,
            "fresh": 0.5,
            "kick": 0.05 * self.h,
            "kick_range": (0.002 * self.h, 0.5 * self.h),
            "kick_mu": 4.0,
        }

    def relaxed(self, x: torch.Tensor, mu: float) -> torch.Tensor:
        """Riesz-type soft minimum of the chords, ``mu`` playing the exponent ``s``:

            (1 / s) log sum_{i<j} (h / |u_i - u_j|)^s  ->  log(h / min chord)  as  s -> inf,

        a log-sum-exp, stable for any ``s``. Rising ``s`` (6 to 96) spreads the points as a
        Riesz energy would, then sharpens towards the packing (cf. the energy approach to
        best packing, Borodachov, Hardin and Saff, "Discrete Energy on Rectifiable Sets", 2019).

        From `extremo.spatial.DENSE_BELOW` points on, the sum is truncated smoothly: each
        summand is multiplied by ``1 - smoothstep`` from ``2 h`` to ``2.5 h`` (``h`` the typical
        nearest chord), so that it runs over a Verlet list (`extremo.spatial.Pairs`,
        O(batch n) per step). The cut summands weigh at most ``(min chord / 2 h)^s``, below
        2 % of the largest at ``s = 6`` and 1e-28 at ``s = 96``; the soft minimum and its
        limit ``log(h / min chord)`` are unchanged.
        """
        u = self._points(x)
        terms = self._pairs.index(u, 0.5 * self._cutoff).map(lambda a, b: self._log_term(a, b, mu), u,
                                                             fill=-math.inf)
        return torch.logsumexp(terms, -1) / mu

    def _log_term(self, ui: torch.Tensor, uj: torch.Tensor, mu: float) -> torch.Tensor:
        """``s log(h / |u_i - u_j|)`` plus the log of the smooth cutoff (``-inf`` beyond it)."""
        chord = squared_distance(ui, uj).clamp_min(1e-12 * self.h**2).sqrt()
        term = mu * torch.log(self.h / chord)
        if math.isinf(self._cutoff):
            return term
        inside = chord < self._cutoff
        t = ((chord - 0.8 * self._cutoff) / (0.2 * self._cutoff)).clamp(0.0, 1.0)
        switch = torch.where(inside, 1.0 - t * t * (3.0 - 2.0 * t), torch.ones_like(t))
        return torch.where(inside, term + torch.log(switch), torch.full_like(term, -math.inf))

    @property
    def _cutoff(self) -> float:
        """Range of the soft-min summands: all pairs for few points, ``2.5 h`` from
        `extremo.spatial.DENSE_BELOW` points on."""
        return math.inf if self.n < DENSE_BELOW else 2.5 * self.h

    @property
    def _pairs(self) -> Pairs:
        if "_pair_cache" not in self.__dict__:
            self._pair_cache = Pairs(self.n, skin=None if math.isinf(self._cutoff) else 0.3 * self.h)
        return self._pair_cache

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """Float64 minimum angle in degrees: the closest pair by chords from coordinate
        differences, its angle by `angle_degrees`."""
        u = self._points(x.to(torch.float64))
        i, j = torch.triu_indices(self.n, self.n, 1)
        k = (u[..., i, :] - u[..., j, :]).norm(dim=-1).argmin(-1)
        a = torch.take_along_dim(u, i[k][..., None, None], dim=-2).squeeze(-2)
        b = torch.take_along_dim(u, j[k][..., None, None], dim=-2).squeeze(-2)
        return torch.rad2deg(torch.atan2(torch.linalg.cross(a, b).norm(dim=-1), (a * b).sum(-1)))

    def _slsqp_step(self, u: np.ndarray, maxiter: int) -> np.ndarray:
        """One trust-region SLSQP solve in tangent coordinates.

        Points ``u_i(e) = (u_i + B_i e_i) / |u_i + B_i e_i|`` with ``B_i`` a tangent basis;
        maximise ``w`` s.t. ``angle(u_i(e), u_j(e)) / theta_0 >= w`` (angles by
        ``atan2(|u x v|, u . v)``, well conditioned up to 180 degrees, where chords are flat) over
        the pairs with ``|u_i - u_j|^2 <= 1.5 t_0`` and ``|e|_inf <= 0.07 sqrt(t_0)``: a point moves by less
        than ``0.1 sqrt(t_0)``, so no pair outside the set (chord ``>= 1.22 sqrt(t_0)``) can
        become the closest.
        """
        c, i, j = pair_chords(u)
        t0 = float(c.min()) ** 2
        keep = c**2 <= _ACTIVE * t0
        ii, jj = torch.as_tensor(i[keep]), torch.as_tensor(j[keep])
        base, frame = torch.as_tensor(u), torch.as_tensor(tangent_bases(u))

        def points(w: torch.Tensor) -> torch.Tensor:
            q = base + (frame @ w[:-1].reshape(self.n, 2, 1))[..., 0]
            return q / q.norm(dim=-1, keepdim=True)

        theta0 = 2.0 * math.asin(min(1.0, math.sqrt(t0) / 2.0))

        def cons(w: torch.Tensor) -> torch.Tensor:
            q = points(w)
            a, b = q[ii], q[jj]
            angle = torch.atan2(torch.linalg.cross(a, b).norm(dim=-1), (a * b).sum(-1))
            return angle / theta0 - w[-1]

        delta = 0.07 * math.sqrt(t0)
        bounds = [(-delta, delta)] * (2 * self.n) + [(0.0, math.pi / theta0)]
        z0 = np.concatenate([np.zeros(2 * self.n), [1.0]])
        res = slsqp(lambda w: -w[-1], cons, z0, bounds=bounds, maxiter=maxiter)
        w = torch.as_tensor(np.clip(res.z, [b[0] for b in bounds], [b[1] for b in bounds]))
        return points(w).numpy()

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """Repeated trust-region SLSQP solves (`_slsqp_step`) while they increase the
        true smallest angle; ends on normalised rows (always feasible)."""
        u = self.to_config(x)["points"]
        if 2 * self.n + 1 > _SLSQP_MAX_VARIABLES:
            return self.from_config({"points": self._slp_polish(u, effort)})
        best = self._min_angle(u)
        for _ in range(8 * effort):
            q = unit_rows(self._slsqp_step(u, maxiter=100 * effort))
            a = self._min_angle(q)
            if not a > best * (1 + 1e-15):
                break
            u, best = q, a
        return self.from_config({"points": u})

    def _slp_polish(self, u: np.ndarray, effort: int) -> np.ndarray:
        """Trust-region SLP on the near-minimal pairs (`extremo.solvers.maximin.maximin_slp`)
        for many points, where SLSQP's dense O(n^3) subproblems are too slow.

        Variables: the unnormalised rows ``p``; pair value ``angle(p_i / |p_i|, p_j / |p_j|)``
        (by ``atan2``). A step ``|e|_inf <= rho`` changes a chord by less than ``2 sqrt 3 rho``,
        so only the pairs whose chord is within ``4 sqrt 3 rho`` of the smallest can become the
        closest (found with a Verlet list, O(n)); the Jacobian has 7 entries a pair, by
        autograd at both ends. A step is kept when the true smallest angle grows.
        """

        def angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            a, b = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
            return torch.atan2(torch.linalg.cross(a, b).norm(dim=-1), (a * b).sum(-1))

        def near_pairs(p: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
            q = unit_rows(p)
            i, j = (t.numpy() for t in pairs_within(torch.as_tensor(q), 2.5 * self.h))
            chord = np.linalg.norm(q[i] - q[j], axis=1)
            near = chord <= chord.min() + 4 * math.sqrt(3) * rho
            return i[near], j[near]

        def minimum(p: np.ndarray) -> float:
            return math.radians(self._min_angle(unit_rows(p)))

        theta = minimum(u)
        # linearised angles over-estimate: a gain of at most rho per step keeps slack in the
        # LP's constraints, and steps shrunk after a rejection gain little before they grow
        # again, so only a gain at rounding level ends the search
        res = maximin_slp(angles, near_pairs, minimum, u, -2.0, 2.0, rho=0.02 * theta, rho_max=0.05 * theta,
                          maxiter=100 * effort, rtol=1e-15, gain_trust=1.0)
        return unit_rows(res.z)

    @staticmethod
    def _min_angle(u: np.ndarray) -> float:
        """Smallest angle (degrees) of unit rows: the closest pair by chord, by `angle_degrees`."""
        c, i, j = pair_chords(u)
        k = int(np.argmin(c))
        return angle_degrees(u[i[k]], u[j[k]])

    def verify(self, config: Configuration) -> Verdict:
        p = config["points"]
        bad = self._check_on_sphere(p)
        if bad is not None:
            return bad
        u = unit_rows(p)
        c, i, j = pair_chords(u)
        k = int(np.argmin(c))
        theta = self._min_angle(u)
        return Verdict(
            True,
            value=theta,
            detail=f"minimum angular distance {theta:.12g} degrees (points {i[k]} and {j[k]}, "
            f"chord {c[k]:.12g}): {self.n} caps of angular radius {theta / 2:.10g} degrees",
        )


@register
class Thomson(SpherePoints):
    name = "thomson"
    title = "n unit charges on the unit sphere minimising the Coulomb energy (Thomson)"
    sense = "min"
    value_name = "Coulomb energy"
    headline = ({"n": 30}, {"n": 100}, {"n": 200})

    @property
    def search_defaults(self) -> dict[str, Any]:
        return {
            "batch": int(min(32, max(4, 2.5e6 // (self.n * self.n * 3)))),
            "steps": 200,
            "mu": (1.0,),
            "lr": 0.05 * self.h,
            "polish_top": 3,
            "kick": 0.1 * self.h,
            "kick_range": (0.01 * self.h, 0.5 * self.h),
            "kick_mu": 1.0,
        }

    def _energy(self, u: torch.Tensor) -> torch.Tensor:
        """``sum_{i<j} 1 / |u_i - u_j|`` by the Gram chords (smooth; for the search)."""
        return (self._mask / self._gram_chords(u)).sum((-1, -2))

    def relaxed(self, x: torch.Tensor, mu: float) -> torch.Tensor:
        """The energy of the normalised rows (no constraint beyond the sphere: ``mu`` unused)."""
        return self._energy(self._points(x))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        """Exact float64 energy, distances from coordinate differences."""
        u = self._points(x.to(torch.float64))
        i, j = torch.triu_indices(self.n, self.n, 1)
        return (u[..., i, :] - u[..., j, :]).norm(dim=-1).reciprocal().sum(-1)

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """L-BFGS (scipy) on ``E(p / |p|)`` over unconstrained ``p`` in float64 to a gradient
        norm near rounding; the energy is invariant to the scale of each row, so its gradient
        is tangent and the iterates stay near the sphere."""
        from scipy.optimize import minimize

        i, j = torch.triu_indices(self.n, self.n, 1)

        def energy(z: np.ndarray) -> tuple[float, np.ndarray]:
            p = torch.tensor(z, dtype=torch.float64, requires_grad=True)
            u = self._points(p)
            e = (u[i] - u[j]).norm(dim=-1).reciprocal().sum()
            (g,) = torch.autograd.grad(e, p)
            return float(e.detach()), g.numpy()

        res = minimize(energy, self.repair(x), jac=True, method="L-BFGS-B",
                       options={"maxiter": 2000 * effort, "gtol": 1e-12, "ftol": 1e-16})
        return self.repair(res.x if np.all(np.isfinite(res.x)) else x)

    def verify(self, config: Configuration) -> Verdict:
        p = config["points"]
        bad = self._check_on_sphere(p)
        if bad is not None:
            return bad
        c, i, j = pair_chords(unit_rows(p))
        k = int(np.argmin(c))
        if c[k] == 0.0:
            return Verdict(False, reason=f"points {i[k]} and {j[k]} coincide: the energy is infinite")
        energy = float(np.sum(1.0 / c))
        return Verdict(
            True,
            value=energy,
            detail=f"Coulomb energy {energy:.12g}; closest charges {i[k]} and {j[k]} at "
            f"{chord_to_degrees(float(c[k])):.6g} degrees",
        )

    def _edge_length(self, chords: np.ndarray, nearest: np.ndarray) -> float:
        return float(nearest.max()) * 1.15
