"""A profile of the local search: where its time goes, where its bests come from, why it stalls.

`ProfiledSearch` is a `LocalSearch` that times its public steps (``starts``, ``relax``,
``polish``; the problem's ``verify`` inside the polish separately) and keeps, per round, the
origin and value of every polished candidate and the origin of every new best. On every
``oracle_every``-th round an *oracle* pass also polishes and verifies **all** relaxed rows,
not only the ``polish_top`` that the search picks. It tells the two ways a search stalls apart:

* *reached but not polished*: the relaxation led some row into a better basin than the rows
  the search polished (the oracle's best beats the round's polished best), so the choice of
  what to polish is what fails;
* *never reached*: no relaxed row of the round polishes to anything better, so the starts and
  kicks (or the relaxation) are what fail.

The oracle only observes: its candidates never enter the elites, it draws no random numbers
and its time is kept apart and added to the deadline, so the search runs as it would without
it. ``oracle_budget`` caps the oracle's time at that multiple of the search's own time.
`ProfiledSearch.profile` returns a `SearchProfile`, a result object with a readable `summary`.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch

from extremo.problems.base import Problem
from extremo.search.local import Candidate, LocalSearch, SearchSettings

#: relative margin by which a value must beat another to count as better (polish noise)
MARGIN = 1e-9


@dataclass
class OracleRound:
    """The oracle pass of one round: every relaxed row polished and verified."""

    seconds: float
    #: verified value of each row (NaN: infeasible after polishing), in batch order
    values: list[float]
    #: the rows' origins, in batch order
    origins: list[str]
    #: best verified value over all rows, and its origin ("" when none is feasible)
    best: float = math.nan
    best_origin: str = ""
    #: some row beats the best that the round's own polish found ("reached but not polished")
    beats_round: bool = False
    #: ... and also the worker's best after the round (polishing everything would have improved it)
    beats_best: bool = False


@dataclass
class RoundProfile:
    """Timings (seconds) and outcomes of one round; ``oracle`` on sampled rounds."""

    index: int
    #: search seconds (oracle time excluded) from the first round's start to this round's end
    clock: float
    wall: float
    starts: float
    relax: float
    polish: float
    verify: float
    rows: int
    n_fresh: int
    #: ``(origin, value)`` of every verified feasible polished candidate
    polished: list[tuple[str, float]]
    #: polished rows rejected by the verifier
    rejected: int
    #: origins of the candidates that improved on an existing best in this round
    improved: list[str]
    best: float
    oracle: OracleRound | None = None


@dataclass
class SearchProfile:
    """What `ProfiledSearch.profile` measured (a result object; `summary` prints it).

    Time shares are fractions of the search's wall time (oracle time excluded); ``other`` is
    the rest of a round (elite bookkeeping, the bandit). Improvements count the new bests that
    beat an existing best (the first feasible candidate is not an improvement), by origin.
    """

    label: str
    rounds: list[RoundProfile]
    seconds: float
    shares: dict[str, float]
    oracle_seconds: float
    best: float
    best_origin: str
    gap: float | None
    improvements: dict[str, int]
    polished: dict[str, int]
    #: rounds after the last one that changed the best (the first feasible best counts here)
    rounds_since_improvement: int
    oracle_rounds: int
    #: fraction of oracle rounds where an unpolished row beat the round's polished best
    reached_not_polished: float
    #: fraction of oracle rounds where polishing every row would have improved the worker's best
    missed_improvement: float
    #: ``(search seconds, best value, gap to the record)`` at every new best
    history: list[tuple[float, float, float | None]] = field(default_factory=list)

    @property
    def fresh_share(self) -> float:
        """Fraction of the improvements that came from fresh starts (anything but a kick)."""
        total = sum(self.improvements.values())
        return math.nan if not total else 1 - self.improvements.get("kick", 0) / total

    def summary(self) -> str:
        """A few lines of plain text."""
        pct = lambda v: "-" if v is None or math.isnan(v) else f"{100 * v:.0f}%"  # noqa: E731
        shares = ", ".join(f"{k} {pct(v)}" for k, v in self.shares.items())
        gap = "no record" if self.gap is None else f"gap to record {self.gap:+.2e}"
        imp = ", ".join(f"{k} {v}" for k, v in sorted(self.improvements.items())) or "none"
        lines = [
            f"{self.label}: best {self.best:.10g} ({gap}, from {self.best_origin or '-'}) "
            f"after {len(self.rounds)} rounds in {self.seconds:.1f} s",
            f"  time: {shares}",
            f"  improvements: {imp} (fresh {pct(self.fresh_share)}); "
            f"last one {self.rounds_since_improvement} rounds before the end",
            f"  polished candidates: " + (", ".join(f"{k} {v}" for k, v in sorted(self.polished.items())) or "none"),
        ]
        if self.oracle_rounds:
            lines.append(f"  oracle ({self.oracle_rounds} rounds, {self.oracle_seconds:.1f} s apart): an unpolished "
                         f"row beat the polished best in {pct(self.reached_not_polished)}, the worker's best in "
                         f"{pct(self.missed_improvement)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"SearchProfile({self.summary()})"


class _TimedProblem:
    """The problem with its ``verify`` timed and its ``polish`` calls counted; everything else
    passes through."""

    def __init__(self, problem: Problem) -> None:
        self._problem = problem
        self.verify_seconds = 0.0
        self.polish_calls = 0

    def __getattr__(self, name: str):
        return getattr(self._problem, name)

    def polish(self, *args, **kwargs):
        self.polish_calls += 1
        return self._problem.polish(*args, **kwargs)

    def verify(self, config):
        t = time.perf_counter()
        try:
            return self._problem.verify(config)
        finally:
            self.verify_seconds += time.perf_counter() - t


class ProfiledSearch(LocalSearch):
    """`LocalSearch` that records a `RoundProfile` per round (see the module docstring).

    ``oracle_every``: run the oracle pass on rounds ``0, k, 2k, ...`` (0: never), while its
    time stays under ``oracle_budget`` times the search's time.
    """

    def __init__(
        self,
        problem: Problem,
        settings: SearchSettings | None = None,
        seed: int = 0,
        oracle_every: int = 0,
        oracle_budget: float = 1.0,
        **kwargs,
    ) -> None:
        if isinstance(oracle_every, bool) or not isinstance(oracle_every, int) or oracle_every < 0:
            raise ValueError(f"oracle_every must be a nonnegative integer (0: no oracle), got {oracle_every!r}")
        if not (isinstance(oracle_budget, (int, float)) and oracle_budget >= 0):
            raise ValueError(f"oracle_budget must be a nonnegative number, got {oracle_budget!r}")
        super().__init__(problem, settings, seed, **kwargs)
        self.base_problem = problem
        self.problem = _TimedProblem(problem)
        self.oracle_every, self.oracle_budget = oracle_every, float(oracle_budget)
        self.records: list[RoundProfile] = []
        self._clock = 0.0
        self._oracle_total = 0.0
        self._round: dict = {}

    # ------------------------------------------------- the timed public steps
    def starts(self) -> tuple[torch.Tensor, int, list[str]]:
        t = time.perf_counter()
        x, n_fresh, origins = super().starts()
        self._round.update(starts=time.perf_counter() - t, rows=x.shape[0], n_fresh=n_fresh)
        return x, n_fresh, origins

    def relax(self, x: torch.Tensor, n_fresh: int | None = None) -> torch.Tensor:
        t = time.perf_counter()
        out = super().relax(x, n_fresh)
        self._round["relax"] = time.perf_counter() - t
        return out

    def polish(self, x: torch.Tensor, n_fresh: int | None = None, origins: list[str] | None = None) -> list[Candidate]:
        verify0, calls0, t = self.problem.verify_seconds, self.problem.polish_calls, time.perf_counter()
        found = super().polish(x, n_fresh, origins)
        verify = self.problem.verify_seconds - verify0
        self._round.update(polish=time.perf_counter() - t - verify, verify=verify, found=found,
                           rejected=self.problem.polish_calls - calls0 - len(found))
        if self._oracle_due():
            self._round["oracle"] = self._oracle(x, origins or [""] * x.shape[0])
        return found

    def _oracle_due(self) -> bool:
        k = self.oracle_every
        return (k > 0 and len(self.records) % k == 0 and time.time() < self.deadline
                and self._oracle_total <= self.oracle_budget * self._clock)

    def _oracle(self, x: torch.Tensor, origins: list[str]) -> OracleRound:
        """Polish and verify every row with the problem itself (no evaluations counted, no
        random numbers drawn); the time is added to the deadline."""
        p = self.base_problem
        t = time.perf_counter()
        values = []
        for row in x.numpy().astype(np.float64):
            verdict = p.verify(p.to_config(p.polish(row)))
            values.append(verdict.value if verdict.feasible else math.nan)
        seconds = time.perf_counter() - t
        self.deadline += seconds
        self._oracle_total += seconds
        out = OracleRound(seconds, values, list(origins))
        for v, o in zip(values, origins):
            if not math.isnan(v) and p.better(v, out.best):
                out.best, out.best_origin = v, o
        return out

    def _beats(self, a: float, b: float) -> bool:
        """``a`` better than ``b`` by more than `MARGIN` (relative); anything beats NaN."""
        if math.isnan(a):
            return False
        if math.isnan(b):
            return True
        return self.base_problem.better(a, b) and abs(a - b) > MARGIN * max(1.0, abs(b))

    def step(self) -> list[Candidate]:
        self._round = {}
        had_best = self.state.best is not None
        t = time.perf_counter()
        improved = super().step()
        wall = time.perf_counter() - t
        r = self._round
        oracle = r.get("oracle")
        wall -= oracle.seconds if oracle else 0.0
        self._clock += wall
        found: list[Candidate] = r.get("found", [])
        best = self.state.best.value if self.state.best else math.nan
        if oracle is not None:
            round_best = math.nan
            for c in found:
                if self._beats(c.value, round_best):
                    round_best = c.value
            oracle.beats_round = self._beats(oracle.best, round_best)
            oracle.beats_best = self._beats(oracle.best, best)
        counted = improved if had_best else improved[1:]
        self.records.append(RoundProfile(
            index=len(self.records), clock=self._clock, wall=wall, starts=r.get("starts", 0.0),
            relax=r.get("relax", 0.0), polish=r.get("polish", 0.0), verify=r.get("verify", 0.0),
            rows=r.get("rows", 0), n_fresh=r.get("n_fresh", 0), polished=[(c.origin, c.value) for c in found],
            rejected=r.get("rejected", 0), improved=[c.origin for c in counted], best=best, oracle=oracle))
        return improved

    # ------------------------------------------------------------- the result
    def profile(self) -> SearchProfile:
        """The `SearchProfile` of the rounds so far."""
        p, rounds = self.base_problem, self.records
        total = sum(r.wall for r in rounds)
        parts = {k: sum(getattr(r, k) for r in rounds) for k in ("starts", "relax", "polish", "verify")}
        shares = {k: (v / total if total > 0 else 0.0) for k, v in parts.items()}
        shares["other"] = max(0.0, 1.0 - sum(shares.values()))
        improvements = Counter(o for r in rounds for o in r.improved)
        polished = Counter(o for r in rounds for o, _ in r.polished)
        oracles = [r.oracle for r in rounds if r.oracle is not None]
        history, prev, last = [], math.nan, -1
        for r in rounds:
            if not math.isnan(r.best) and r.best != prev:
                history.append((r.clock, r.best, p.gap(r.best)))
                prev, last = r.best, r.index
        best = self.state.best
        value = best.value if best else math.nan
        rate = lambda k: sum(getattr(o, k) for o in oracles) / len(oracles) if oracles else math.nan  # noqa: E731
        return SearchProfile(
            label=p.label, rounds=list(rounds), seconds=total, shares=shares,
            oracle_seconds=sum(o.seconds for o in oracles), best=value, best_origin=best.origin if best else "",
            gap=p.gap(value), improvements=dict(improvements), polished=dict(polished),
            rounds_since_improvement=len(rounds) - 1 - last,
            oracle_rounds=len(oracles), reached_not_polished=rate("beats_round"),
            missed_improvement=rate("beats_best"), history=history)


def profile_search(problem: Problem, seconds: float, seed: int = 0, oracle_every: int = 5,
                   oracle_budget: float = 1.0, settings: SearchSettings | None = None) -> SearchProfile:
    """Run a `ProfiledSearch` on ``problem`` for ``seconds`` of search (oracle time not counted)."""
    from extremo.search.arguments import check_seconds, check_seed

    search = ProfiledSearch(problem, settings, check_seed(seed), oracle_every, oracle_budget)
    search.run(check_seconds(seconds))
    return search.profile()
