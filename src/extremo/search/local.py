"""Stochastic local search: batched penalty relaxation, polishing and perturbation.

In the spirit of "stochastic relaxation with perturbations" (monotonic basin hopping, Leary
2000; Addis, Locatelli and Schoen 2008 for circle packings): a round

1. builds a batch of starts: fresh random vectors and *kicks* of the elites found so far;
2. relaxes all of them at once, minimising ``problem.relaxed(x, mu)`` with Adam while the
   penalty weight ``mu`` grows, projecting onto the simple constraints after every step;
3. polishes the most promising relaxed vectors with the problem's constrained local solver,
   which ends strictly feasible, and verifies them exactly;
4. keeps the best distinct results as elites; the kick strength shrinks while rounds improve
   on the elites and grows on stagnation.

Extra *sources* of fresh starts (e.g. a generator's samples, `extremo.boost`) compete with
the random starts for the fresh share of every batch; a bandit on each source's rate of starts
that enter the elites decides the split (`extremo.search.bandit.StartBandit`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from extremo.problems.base import Problem
from extremo.search.bandit import StartBandit

#: a source of fresh starts: ``(count, generator) -> (count, dim)`` vectors
Source = Callable[[int, torch.Generator], torch.Tensor]


@dataclass
class SearchSettings:
    """Knobs of one local-search worker (defaults suit instances of tens of objects)."""

    batch: int = 32
    steps: int = 300
    mu: tuple[float, ...] = (10.0, 100.0, 1e3, 1e4)
    lr: float = 0.01
    polish_top: int = 3
    #: of the ``polish_top`` slots, this many go to the best fresh starts (not kicked elites), so
    #: that new basins keep being explored once the elites' kicks relax to lower losses
    polish_fresh: int = 0
    elites: int = 8
    fresh: float = 0.25
    kick: float = 0.03
    kick_range: tuple[float, float] = (0.002, 0.2)
    #: kicked elites start their relaxation at ``kick_mu`` times the penalty weight of fresh starts
    kick_mu: float = 100.0
    #: rank the relaxed rows by the problem's `screen` estimate of their polished value (where it
    #: has one) instead of by their relaxed loss
    screen: bool = True
    #: `extremo.discover` adds polished starts made from the stored bests of the instances up to
    #: this many sizes away (`extremo.search.neighbours`; 0: none). Off by default: on circles
    #: n = 34, 38, 39, 40 at 300 s, seeds 0 and 1, it was better in 3 pairs and worse in 5 (docs/search.md)
    neighbours: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Candidate:
    x: np.ndarray
    value: float
    #: where the start came from: ``"random"``, ``"kick"`` or the name of an extra source
    origin: str = ""


@dataclass
class SearchState:
    """What a worker has found: elites (best first), the number of rounds and evaluations."""

    elites: list[Candidate] = field(default_factory=list)
    rounds: int = 0
    evaluations: int = 0
    kick: float = 0.03

    @property
    def best(self) -> Candidate | None:
        return self.elites[0] if self.elites else None


class LocalSearch:
    """One worker's stochastic local search on ``problem`` (see the module docstring)."""

    def __init__(
        self,
        problem: Problem,
        settings: SearchSettings | None = None,
        seed: int = 0,
        initial: list[np.ndarray] | None = None,
        sources: dict[str, Source] | None = None,
    ) -> None:
        self.problem = problem
        #: extra sources of fresh starts; add or remove entries between rounds (see the module docstring)
        self.sources: dict[str, Source] = dict(sources or {})
        self.bandits: dict[tuple[str, ...], StartBandit] = {}
        self.settings = settings or SearchSettings(**problem.search_defaults)
        self.generator = torch.Generator().manual_seed(seed)
        self.state = SearchState(kick=self.settings.kick)
        self.deadline = math.inf
        for x in initial or []:
            self.offer(x)

    # ------------------------------------------------------------------ steps
    @property
    def bandit(self) -> StartBandit | None:
        """The bandit over ``random`` and the current extra sources (one per set of sources)."""
        if not self.sources:
            return None
        names = ("random", *sorted(self.sources))
        if names not in self.bandits:
            self.bandits[names] = StartBandit(names)
        return self.bandits[names]

    def starts(self) -> tuple[torch.Tensor, int, list[str]]:
        """``(batch, dim)`` starts, the number ``n_fresh`` of random ones (first rows), and each row's
        origin. Order: random starts, extra sources' starts, kicks of the elites."""
        s, p = self.settings, self.problem
        n_new = s.batch if not self.state.elites else max(1, round(s.fresh * s.batch))
        bandit = self.bandit
        counts = bandit.allocate(n_new, self.generator) if bandit else {"random": n_new}
        n_fresh = counts.pop("random")
        parts = [p.random(n_fresh, self.generator)]
        origins = ["random"] * n_fresh
        for name, k in counts.items():
            if k > 0:
                parts.append(self.sources[name](k, self.generator).to(parts[0]))
                origins += [name] * k
        n_kick = s.batch - n_new
        if n_kick > 0:
            elites = torch.as_tensor(np.stack([e.x for e in self.state.elites]))
            # better elites are kicked more often (weights 1, 1/2, 1/3, ...)
            w = 1.0 / torch.arange(1, len(elites) + 1, dtype=torch.float64)
            pick = torch.multinomial(w, n_kick, replacement=True, generator=self.generator)
            # half the kicks at the current strength, half three times stronger
            strong = n_kick // 2
            parts.append(p.kick(elites[pick[strong:]], self.state.kick, self.generator))
            if strong:
                parts.append(p.kick(elites[pick[:strong]], 3 * self.state.kick, self.generator))
            origins += ["kick"] * n_kick
        return torch.cat(parts), n_fresh, origins

    def _loss(self, x: torch.Tensor, mu: float, n_fresh: int) -> torch.Tensor:
        """``(batch,)`` relaxed loss; rows from ``n_fresh`` on (extra sources' starts and kicked elites,
        both already structured) weigh the penalty ``kick_mu`` x more."""
        p = self.problem
        if n_fresh >= x.shape[0]:
            return p.relaxed(x, mu)
        return torch.cat([p.relaxed(x[:n_fresh], mu), p.relaxed(x[n_fresh:], mu * self.settings.kick_mu)])

    def relax(self, x: torch.Tensor, n_fresh: int | None = None) -> torch.Tensor:
        """Minimise the penalty relaxation from ``x`` (batched), ``mu`` increasing by stages."""
        n_fresh = x.shape[0] if n_fresh is None else n_fresh
        s, p = self.settings, self.problem
        x = p.project(x.detach().clone()).requires_grad_(True)
        opt = torch.optim.Adam([x], lr=s.lr)
        per_stage = max(1, s.steps // len(s.mu))
        for stage, mu in enumerate(s.mu):
            for g in opt.param_groups:
                g["lr"] = s.lr * (0.5**stage)
            for _ in range(per_stage):
                opt.zero_grad(set_to_none=True)
                self._loss(x, mu, n_fresh).sum().backward()
                opt.step()
                with torch.no_grad():
                    x.copy_(p.project(x))
                self.state.evaluations += x.shape[0]
                if self._late():
                    return x.detach()
        return x.detach()

    def _late(self) -> bool:
        """Past the deadline: the round is cut short (relaxation stops, polishing ends once
        there is something to show)."""
        return time.time() >= self.deadline

    def polish(self, x: torch.Tensor, n_fresh: int | None = None, origins: list[str] | None = None) -> list[Candidate]:
        """Polish the ``polish_top`` most promising relaxed vectors (``polish_fresh`` of them among
        the fresh starts, rows before ``n_fresh``); return them verified.

        Promising: best by the problem's `screen` estimate if it has one (and ``settings.screen``),
        else by relaxed loss."""
        s, p = self.settings, self.problem
        n_fresh = x.shape[0] if n_fresh is None else n_fresh
        with torch.no_grad():
            estimate = p.screen(x) if s.screen else None
            if estimate is None:
                rank = self._loss(x, s.mu[-1], n_fresh)
            else:
                rank = -estimate if p.sense == "max" else estimate
        reserved = min(s.polish_fresh, n_fresh, s.polish_top) if n_fresh < x.shape[0] else 0
        fresh = torch.argsort(rank[:n_fresh])[:reserved]
        rest = rank.clone()
        rest[fresh] = math.inf
        order = torch.cat([fresh, torch.argsort(rest)[: s.polish_top - reserved]])
        out = []
        for k in order.tolist():
            if self._late() and (out or self.state.best is not None):
                break
            z = p.polish(x[k].numpy().astype(np.float64))
            verdict = p.verify(p.to_config(z))
            self.state.evaluations += 1
            if verdict.feasible:
                out.append(Candidate(z, verdict.value, origins[k] if origins else ""))
        return out

    def offer(self, x: np.ndarray) -> Candidate | None:
        """Repair, verify and add ``x`` to the elites (e.g. a generated sample); the candidate,
        or None if it is infeasible even after repair."""
        z = self.problem.repair(np.asarray(x, dtype=np.float64))
        verdict = self.problem.verify(self.problem.to_config(z))
        if not verdict.feasible:
            return None
        cand = Candidate(z, verdict.value)
        self._insert(cand)
        return cand

    def _insert(self, cand: Candidate) -> bool:
        """Add to the elites unless a near-equal value is there already; True if it is the best."""
        p, elites = self.problem, self.state.elites
        scale = max(1.0, abs(cand.value))
        if any(abs(e.value - cand.value) <= 1e-10 * scale for e in elites):
            return False
        elites.append(cand)
        elites.sort(key=lambda e: -e.value if p.sense == "max" else e.value)
        del elites[self.settings.elites :]
        return elites[0] is cand

    def step(self) -> list[Candidate]:
        """One round; returns the polished candidates that improved on the worker's best."""
        s = self.settings
        before = self.state.best.value if self.state.best else math.nan
        starts, n_fresh, origins = self.starts()
        found = self.polish(self.relax(starts, n_fresh), n_fresh, origins)
        improved = []
        for cand in sorted(found, key=lambda c: c.value, reverse=self.problem.sense == "max"):
            if self._insert(cand) and self.problem.better(cand.value, before):
                improved.append(cand)
                before = cand.value
        bandit = self.bandit
        if bandit is not None:
            for name in bandit.sources:
                entered = sum(c.origin == name and any(c is e for e in self.state.elites) for c in found)
                bandit.update(name, origins.count(name), entered)
            bandit.decay()
        lo, hi = s.kick_range
        self.state.kick = float(np.clip(self.state.kick * (0.7 if improved else 1.15), lo, hi))
        self.state.rounds += 1
        return improved

    def run(
        self,
        seconds: float,
        on_improvement: Callable[[Candidate, SearchState], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_round: Callable[[SearchState], None] | None = None,
        deadline: float | None = None,
    ) -> SearchState:
        """Rounds until ``seconds`` have passed or ``should_stop()``; at least one round.

        ``deadline`` (a ``time.time()`` instant) overrides ``seconds``, so that workers that
        start late still stop together. At the deadline the round in progress stops relaxing
        and polishes only until it has a feasible candidate (if the worker has none yet), so a
        run overshoots its budget by at most one relaxation step and one polish.
        """
        self.deadline = deadline if deadline is not None else time.time() + seconds
        if self.state.best is not None and on_improvement:
            on_improvement(self.state.best, self.state)
        while True:
            for cand in self.step():
                if on_improvement:
                    on_improvement(cand, self.state)
            if on_round:
                on_round(self.state)
            if time.time() >= self.deadline or (should_stop and should_stop()):
                return self.state
