import math

import numpy as np
import torch
import pytest

from extremo.problems import make
from extremo.search.local import LocalSearch, SearchSettings
from extremo.search.parallel import run_search

SMALL = SearchSettings(batch=8, steps=120, polish_top=2)


def test_rounds_are_reproducible_for_a_seed():
    p = make("circles-sum-radii", n=5)
    a, b = LocalSearch(p, SMALL, seed=3), LocalSearch(p, SMALL, seed=3)
    for _ in range(2):
        a.step()
        b.step()
    assert [e.value for e in a.state.elites] == [e.value for e in b.state.elites]


def test_elites_are_verified_distinct_and_sorted():
    p = make("circles-sum-radii", n=6)
    s = LocalSearch(p, SMALL, seed=0)
    for _ in range(3):
        s.step()
    values = [e.value for e in s.state.elites]
    assert values == sorted(values, reverse=True)
    assert len(set(np.round(values, 12))) == len(values)
    for e in s.state.elites:
        assert p.verify(p.to_config(e.x)).value == e.value
    assert s.state.evaluations > 0 and s.state.rounds == 3


def test_initial_configurations_seed_the_elites():
    p = make("circles-sum-radii", n=4)
    grid = p.from_config({"centers": np.array([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]),
                          "radii": np.full(4, 0.25)})
    s = LocalSearch(p, SMALL, seed=0, initial=[grid])
    assert s.state.best.value == 1.0


def test_kick_strength_stays_in_its_range():
    p = make("circles-sum-radii", n=5)
    s = LocalSearch(p, SearchSettings(batch=4, steps=40, polish_top=1, kick_range=(0.01, 0.02)), seed=1)
    for _ in range(4):
        s.step()
        assert 0.01 <= s.state.kick <= 0.02


@pytest.mark.parametrize("workers", [1, 2])
def test_run_search_streams_improving_verified_candidates(workers):
    p = make("circles-sum-radii", n=5)
    seen = []
    progress = run_search(p.name, p.instance, 3.0, lambda c, prog: seen.append(c.value), workers=workers,
                          settings=SMALL)
    assert seen and progress.rounds >= workers
    if workers == 1:
        assert seen == sorted(seen)
    assert all(math.isfinite(v) and 0 < v < 5 * 0.5 for v in seen)


@pytest.mark.parametrize("reserved", [0, 1, 2])
def test_polish_reserves_slots_for_the_best_fresh_starts(reserved):
    """Rows before n_fresh are fresh starts: ``polish_fresh`` of the polished rows are the
    fresh rows of lowest loss even when every kicked row has a lower loss."""
    import torch

    p = make("points-min-distance", n=4, d=2)
    search = LocalSearch(p, SearchSettings(polish_top=3, polish_fresh=reserved), seed=0)
    x = p.project(p.random(8, torch.Generator().manual_seed(1)))
    x[:, -1] = torch.linspace(0.1, 0.8, 8, dtype=x.dtype)
    p.relaxed = lambda z, mu: -z[..., -1]  # the loss falls with the row index
    polished = []
    p.polish = lambda z, effort=1: polished.append(z[-1]) or p.repair(z)
    search.polish(x, n_fresh=4)
    fresh = [s for s in polished if s <= float(x[3, -1]) + 1e-12]
    assert len(polished) == 3 and len(fresh) == reserved
    if reserved:
        assert max(fresh) == pytest.approx(float(x[3, -1]))  # the best fresh row first


class _Screened:
    """A problem whose screen prefers the last rows of every batch; records what it polishes."""

    def __init__(self, problem):
        self.problem, self.polished = problem, []

    def __getattr__(self, name):
        return getattr(self.problem, name)

    def screen(self, x):
        return torch.arange(x.shape[0], dtype=torch.float64)

    def polish(self, x, effort=1):
        self.polished.append(x.copy())
        return self.problem.polish(x, effort)


@pytest.mark.parametrize("use", [True, False])
def test_polish_takes_the_rows_the_screen_ranks_best_unless_switched_off(use):
    p = _Screened(make("circles-sum-radii", n=4))
    s = LocalSearch(p, SearchSettings(batch=6, steps=20, polish_top=2, screen=use), seed=0)
    x = s.relax(p.random(6, s.generator))
    s.polish(x)
    rows = [int(np.argmin(np.abs(x.numpy() - z).sum(1))) for z in p.polished]
    with torch.no_grad():
        by_loss = torch.argsort(s._loss(x, s.settings.mu[-1], 6))[:2].tolist()
    assert rows == ([5, 4] if use else by_loss)
