"""Problems in a few dozen lines: variables with a domain, an objective and constraints in torch.

A `DeclarativeProblem` states

* ``variables()``: named `Variable` arrays with their domain (a box, unit rows on the
  sphere, rows on the probability simplex);
* ``objective(v, ops)``: the ``(batch,)`` objective of the batched fields ``v[name]``, written
  with ``ops.min`` / ``ops.max`` (over the last axis) wherever it takes a minimum or maximum;
* optionally ``constraints(v, ops)``: ``(batch, m)`` values, feasible when all are ``>= 0``
  (``ops.max`` expresses a disjunction: "some separating axis");
* optionally ``exact_reject(config)``: an exact predicate (rationals), the reason of an
  infeasibility or ``None``, asked when a float64 constraint value is borderline.

and extremo derives the rest of `Problem` from it, by running the same
two functions with different ``ops``:

* value (exact float64 ``min``/``max``); relaxation ``-/+ f_soft / scale + mu sum relu(-c)^2``
  with the soft extrema ``softmin_mu(t) = -(s/mu) log mean exp(-mu t / s)``, ``s = max |t|``
  (detached), between the minimum and the mean, sharper as ``mu`` grows;
* polish: SLSQP (`extremo.solvers.slsqp.slsqp`, autograd Jacobians) on the epigraph form,
  where each ``ops.min(t)`` of the objective becomes a variable ``u`` with ``t - u >= 0`` and each
  ``ops.max(t)`` a variable ``w`` with ``w - t >= 0`` (valid when the objective improves as its
  minima grow and its maxima shrink), and each ``ops.max`` of a constraint keeps its active
  term; box domains are SLSQP bounds;
* projection onto the domains; uniform random starts; Gaussian kicks;
* repair: project, then the least shrink ``v <- (1 - t)^k v`` of the variables with
  ``shrink = k > 0`` after which every constraint clears ``border`` in float64 (``t`` bracketed
  between ``2^-50`` and ``1 - 2^-50``, then bisected);
* verifier: the domains exactly (float comparisons), the constraints in float64, and the exact
  predicate for those within ``border`` of 0; the objective in float64, finite;
* a default picture: the rows of each two-column variable as points.

Costs are those of the user's functions; the polish builds a dense Jacobian (``m x dim``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from extremo.problems.base import Configuration, Layout, Problem, Verdict
from extremo.solvers.slsqp import slsqp

DOMAINS = ("box", "sphere", "simplex")


@dataclass(frozen=True)
class Variable:
    """An array of unknowns: its shape, domain and bounds, and how repair may shrink it."""

    shape: tuple[int, ...]
    domain: str = "box"
    low: float = 0.0
    high: float = 1.0
    #: repair scales ``v`` towards 0 by ``(1 - t)^shrink``; 0: never shrunk
    shrink: float = 0.0

    def __post_init__(self) -> None:
        if self.domain not in DOMAINS:
            raise ValueError(f"Variable: domain must be one of {', '.join(DOMAINS)}, got {self.domain!r}")
        if self.domain == "box" and not self.low < self.high:
            raise ValueError(f"Variable: low must be below high, got {self.low} and {self.high}")

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Ops:
    """``min``/``max`` over the last axis, in one of the modes of the module docstring."""

    def __init__(self, mode: str = "exact", mu: float = 1.0, epigraph: Tensor | None = None) -> None:
        self.mode, self.mu, self.epigraph = mode, mu, epigraph
        self.found: list[Tensor] = []  # epigraph mode: starting values / constraints t - u, w - t

    def _soft(self, t: Tensor, sign: float) -> Tensor:
        s = t.detach().abs().amax(-1, keepdim=True).clamp_min(1e-300)
        lme = torch.logsumexp(sign * self.mu * t / s, -1) - math.log(t.shape[-1])
        return sign * (s[..., 0] / self.mu) * lme

    def _epigraph(self, t: Tensor, sign: float) -> Tensor:
        k = len(self.found)
        if self.epigraph is None:  # recording the starting values
            self.found.append(t.amax(-1) if sign > 0 else t.amin(-1))
            return self.found[-1]
        u = self.epigraph[k].expand(t.shape[:-1])
        self.found.append((sign * (u[..., None] - t)).flatten())
        return u

    def min(self, t: Tensor) -> Tensor:
        if self.mode == "soft":
            return self._soft(t, -1.0)
        if self.mode == "epigraph":
            return self._epigraph(t, -1.0)
        if self.mode == "active":
            return t.gather(-1, t.detach().argmin(-1, keepdim=True))[..., 0]
        return t.amin(-1)

    def max(self, t: Tensor) -> Tensor:
        if self.mode == "soft":
            return self._soft(t, 1.0)
        if self.mode == "epigraph":
            return self._epigraph(t, 1.0)
        if self.mode == "active":
            return t.gather(-1, t.detach().argmax(-1, keepdim=True))[..., 0]
        return t.amax(-1)


class DeclarativeProblem(Problem):
    """A problem from its variables, objective and constraints (see the module docstring).

    Subclasses set the class attributes of `Problem` and implement
    `variables` and `objective`; `scale` is the typical size of the objective.
    """

    #: typical size of the objective (the relaxation divides by it)
    scale: float = 1.0
    #: margin of a float64 constraint value (in its own unit) within which the exact predicate decides
    border: float = 1e-9

    def __init__(self, **instance: Any) -> None:
        super().__init__(**instance)
        self.vars = self.variables()
        sizes = [v.size for v in self.vars.values()]
        self._slices = dict(zip(self.vars, np.split(np.arange(sum(sizes)), np.cumsum(sizes)[:-1])))

    # ------------------------------------------------------------------ to write
    def variables(self) -> dict[str, Variable]:
        raise NotImplementedError

    def objective(self, v: dict[str, Tensor], ops: Ops) -> Tensor:
        raise NotImplementedError

    def constraints(self, v: dict[str, Tensor], ops: Ops) -> Tensor | None:
        """``(batch, m)``, feasible when ``>= 0``; ``None``: only the domains."""
        return None

    def exact_reject(self, config: Configuration) -> str | None:
        """Exact (rational) decision of the constraints: the reason of a rejection, or ``None``."""
        return None

    # ------------------------------------------------------------------ layout
    @property
    def dim(self) -> int:
        return sum(v.size for v in self.vars.values())

    def fields(self) -> dict[str, tuple[int, ...]]:
        return {k: v.shape for k, v in self.vars.items()}

    def split(self, x: Tensor) -> dict[str, Tensor]:
        """Batched fields ``(batch, *shape)`` of ``(batch, dim)`` vectors (views, differentiable)."""
        out, at = {}, 0
        for k, v in self.vars.items():
            out[k] = x[..., at:at + v.size].reshape(x.shape[:-1] + v.shape)
            at += v.size
        return out

    def to_config(self, x: np.ndarray) -> Configuration:
        x = np.asarray(x, dtype=np.float64)
        return {k: x[idx].reshape(v.shape).copy() for (k, v), idx in zip(self.vars.items(), self._slices.values())}

    def from_config(self, config: Configuration) -> np.ndarray:
        return np.concatenate([np.asarray(config[k], dtype=np.float64).ravel() for k in self.vars])

    def layout(self) -> Layout | None:
        """One two-dimensional variable: its rows are the objects (box or sphere domain)."""
        if len(self.vars) != 1:
            return None
        (v,) = self.vars.values()
        if len(v.shape) != 2 or v.domain == "simplex":
            return None
        n, k = v.shape
        if v.domain == "sphere":
            return Layout(n, k, sphere=True, fast=True)
        return Layout(n, k, (v.low,) * k, (v.high,) * k, fast=True)

    def objects(self, x: Tensor) -> Tensor:
        return x.reshape(x.shape[0], *next(iter(self.vars.values())).shape)

    def vectors(self, objs: Tensor) -> Tensor:
        return objs.reshape(objs.shape[0], -1)

    # ------------------------------------------------------------------ search
    def random(self, batch: int, generator: torch.Generator, dtype=torch.float64) -> Tensor:
        """Uniform in every box; Gaussian rows normalised on the sphere; Dirichlet(1) on the simplex."""
        parts = []
        for v in self.vars.values():
            shape = (batch,) + v.shape
            if v.domain == "box":
                parts.append(v.low + (v.high - v.low) * torch.rand(shape, generator=generator, dtype=dtype))
            elif v.domain == "sphere":
                g = torch.randn(shape, generator=generator, dtype=dtype)
                parts.append(g / g.norm(dim=-1, keepdim=True))
            else:
                e = -torch.rand(shape, generator=generator, dtype=dtype).log()
                parts.append(e / e.sum(-1, keepdim=True))
        return torch.cat([p.flatten(1) for p in parts], -1)

    def project(self, x: Tensor) -> Tensor:
        """Clamp boxes, normalise sphere rows, Euclidean projection of simplex rows (sort-based)."""
        parts = []
        for k, t in self.split(x).items():
            v = self.vars[k]
            if v.domain == "box":
                t = t.clamp(v.low, v.high)
            elif v.domain == "sphere":
                t = t / t.norm(dim=-1, keepdim=True).clamp_min(1e-300)
            else:
                u = t.sort(-1, descending=True).values
                css = u.cumsum(-1) - 1
                idx = torch.arange(1, t.shape[-1] + 1, dtype=t.dtype, device=t.device)
                rho = (u - css / idx > 0).sum(-1, keepdim=True)
                t = (t - css.gather(-1, rho - 1) / rho).clamp_min(0)
            parts.append(t.flatten(x.dim() - 1))
        return torch.cat(parts, -1)

    def _sign(self) -> float:
        return -1.0 if self.sense == "max" else 1.0

    def relaxed(self, x: Tensor, mu: float) -> Tensor:
        v, ops = self.split(x), Ops("soft", mu)
        loss = self._sign() * self.objective(v, ops) / self.scale
        c = self.constraints(v, ops)
        if c is not None:
            loss = loss + mu * torch.relu(-c).square().sum(-1)
        return loss

    def value(self, x: Tensor) -> Tensor:
        return self.objective(self.split(x.to(torch.float64)), Ops())

    # ------------------------------------------------------------------ verify / repair
    def _outside(self, config: Configuration) -> str | None:
        for k, v in self.vars.items():
            a = config[k]
            if v.domain == "box":
                bad = np.flatnonzero((a < v.low) | (a > v.high))
                if len(bad):
                    i = np.unravel_index(bad[0], v.shape)
                    return f"{k}{list(i)} = {a[i]!r} is outside [{v.low}, {v.high}]"
            elif v.domain == "sphere":
                off = np.abs(np.linalg.norm(a, axis=-1) - 1.0)
                if off.max() > 1e-12:
                    return f"row {int(np.argmax(off))} of {k} is off the unit sphere by {off.max():.3e}"
            elif a.min() < 0 or np.abs(a.sum(-1) - 1).max() > 1e-12:
                return f"a row of {k} is not on the probability simplex"
        return None

    def _reject(self, config: Configuration, explain: bool = False, strict: bool = False) -> str | None:
        """The reason ``config`` is infeasible, or ``None``; ``explain``: let the exact predicate
        name clear float64 violations too; ``strict``: borderline values count as infeasible
        (a float64-only test, for repair)."""
        reason = self._outside(config)
        if reason is not None:
            return reason
        with torch.no_grad():
            x = torch.as_tensor(self.from_config(config))[None]
            c = self.constraints(self.split(x), Ops())
        if c is None:
            return None
        c = c[0].numpy()
        worst = int(np.argmin(c)) if c.size else 0
        if c.size == 0 or c[worst] > self.border:
            return None
        if strict:
            return f"constraint {worst} is borderline ({c[worst]:.3e})"
        if c[worst] >= -self.border and type(self).exact_reject is not DeclarativeProblem.exact_reject:
            return self.exact_reject(config)
        if c[worst] >= 0:
            return None
        exact = self.exact_reject(config) if explain else None
        return exact or f"constraint {worst} is violated by {-c[worst]:.3e}"

    def verify(self, config: Configuration) -> Verdict:
        reason = self._reject(config, explain=True)
        if reason is not None:
            return Verdict(False, reason=reason)
        value = float(self.value(torch.as_tensor(self.from_config(config))[None])[0])
        if not math.isfinite(value):
            return Verdict(False, reason=f"the {self.value_name} is {value}")
        return Verdict(True, value=value)

    def repair(self, x: np.ndarray) -> np.ndarray:
        """Project; then the least shrink ``t`` after which every constraint clears ``border`` in
        float64: bracketed among ``2^-50, ..., 1/2, ..., 1 - 2^-50``, narrowed by 40 bisections."""
        with torch.no_grad():
            x = self.project(torch.as_tensor(np.asarray(x, dtype=np.float64))[None])[0].numpy().copy()
        shrinkable = [(k, v) for k, v in self.vars.items() if v.shrink > 0]
        if not shrinkable or self._reject(self.to_config(x), strict=True) is None:
            return x

        def shrunk(t: float) -> np.ndarray:
            config = self.to_config(x)
            for k, v in shrinkable:
                config[k] = (1 - t) ** v.shrink * config[k]
            return self.from_config(config)

        steps = [2.0**-k for k in range(50, 0, -1)] + [1 - 2.0**-k for k in range(2, 51)]
        lo = 0.0
        for hi in steps:
            if self._reject(self.to_config(shrunk(hi)), strict=True) is None:
                break
            lo = hi
        else:
            return shrunk(steps[-1])
        for _ in range(40):
            mid = (lo + hi) / 2
            if self._reject(self.to_config(shrunk(mid)), strict=True) is None:
                hi = mid
            else:
                lo = mid
        return shrunk(hi)

    def polish(self, x: np.ndarray, effort: int = 1) -> np.ndarray:
        """SLSQP on the epigraph form (module docstring), then `repair`; kept if better."""
        z0 = self.repair(x)
        x0 = torch.as_tensor(z0)[None]
        record = Ops("epigraph")
        self.objective(self.split(x0), record)
        e0 = torch.stack([t.reshape(()) for t in record.found]).detach() if record.found else torch.zeros(0)
        dim, sign = self.dim, self._sign()

        def fun(z: Tensor) -> Tensor:
            return sign * self.objective(self.split(z[None, :dim]), Ops("epigraph", epigraph=z[dim:]))[0] / self.scale

        def cons(z: Tensor) -> Tensor:
            v = self.split(z[None, :dim])
            ops = Ops("epigraph", epigraph=z[dim:])
            self.objective(v, ops)
            parts = list(ops.found)
            c = self.constraints(v, Ops("active"))
            if c is not None:
                parts.append(c.flatten())
            return torch.cat(parts) if parts else z[:1] * 0 + 1

        bounds: list[tuple[float | None, float | None]] = []
        for v in self.vars.values():
            bounds += [(v.low, v.high) if v.domain == "box" else (None, None)] * v.size
        bounds += [(None, None)] * len(e0)
        def jacobian(z: np.ndarray) -> np.ndarray:  # forward mode, vectorised by torch.func
            return torch.func.jacfwd(cons)(torch.as_tensor(z)).numpy()

        res = slsqp(fun, cons, np.concatenate([z0, e0.numpy()]), bounds=bounds, maxiter=100 * effort,
                    jacobian=jacobian)
        z = self.repair(res.z[:dim])
        better = self.verify(self.to_config(z))
        start = self.verify(self.to_config(z0))
        if better.feasible and (not start.feasible or not self.better(start.value, better.value)):
            return z
        return z0

    # ------------------------------------------------------------------ draw
    def draw(self, ax, config: Configuration) -> None:  # pragma: no cover - drawn in plots tests
        """The rows of each two-column variable as points."""
        for k, a in config.items():
            if a.ndim == 2 and a.shape[1] >= 2:
                ax.plot(a[:, 0], a[:, 1], "o", ms=4, label=k)
        ax.set_aspect("equal")


def pairwise_sq(p: Tensor) -> Tensor:
    """``(..., n(n-1)/2)`` squared distances ``|p_i - p_j|^2``, ``i < j``, of points ``(..., n, d)``
    (differences, not the Gram identity, so nearly coincident points keep their accuracy); O(n^2 d)."""
    i, j = torch.triu_indices(p.shape[-2], p.shape[-2], 1, device=p.device)
    return (p[..., i, :] - p[..., j, :]).square().sum(-1)
