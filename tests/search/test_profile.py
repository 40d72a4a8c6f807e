import math

import pytest

from extremo.problems import make
from extremo.search.local import SearchSettings
from extremo.search.profile import ProfiledSearch, profile_search

TINY = SearchSettings(batch=6, steps=60, polish_top=2)


@pytest.fixture(scope="module")
def search():
    s = ProfiledSearch(make("circles-sum-radii", n=5), TINY, seed=1, oracle_every=2, oracle_budget=100.0)
    for _ in range(5):
        s.step()
    return s


def test_time_shares_are_nonnegative_and_sum_to_at_most_one(search):
    prof = search.profile()
    parts = [v for k, v in prof.shares.items() if k != "other"]
    assert all(v >= 0 for v in prof.shares.values())
    assert sum(parts) <= 1 + 1e-12
    assert math.isclose(sum(prof.shares.values()), 1.0)
    for r in prof.rounds:
        assert r.starts + r.relax + r.polish + r.verify <= r.wall + 1e-9


def test_origins_counted_match_the_candidates(search):
    prof = search.profile()
    assert len(prof.rounds) == search.state.rounds == 5
    assert sum(prof.polished.values()) == sum(len(r.polished) for r in prof.rounds)
    for r in prof.rounds:
        # every polish is verified: feasible candidates plus rejections are the polish_top rows
        assert len(r.polished) + r.rejected == min(TINY.polish_top, r.rows)
        assert set(o for o, _ in r.polished) <= {"random", "kick"}
        assert all(o in [c for c, _ in r.polished] for o in r.improved)
    assert prof.rounds[0].improved == []  # the first feasible best is no improvement
    assert prof.best == search.state.best.value
    assert prof.best_origin == search.state.best.origin


def test_oracle_sees_every_row_and_is_never_worse_than_the_polish(search):
    p = search.base_problem
    oracles = [r for r in search.records if r.oracle is not None]
    assert [r.index for r in oracles] == [0, 2, 4]
    for r in oracles:
        o = r.oracle
        assert len(o.values) == len(o.origins) == r.rows
        feasible = [v for _, v in r.polished]
        if feasible:
            round_best = max(feasible)
            assert not p.better(round_best, o.best)
            # the polish is deterministic, so each polished value is among the oracle's values
            assert all(any(math.isclose(v, w, rel_tol=1e-12) for w in o.values) for v in feasible)
        assert o.beats_best <= o.beats_round


def test_oracle_leaves_the_search_unchanged():
    p = make("circles-sum-radii", n=5)
    a = ProfiledSearch(p, TINY, seed=4, oracle_every=1, oracle_budget=100.0)
    b = ProfiledSearch(p, TINY, seed=4)
    for _ in range(3):
        a.step()
        b.step()
    assert [e.value for e in a.state.elites] == [e.value for e in b.state.elites]
    assert a.state.evaluations == b.state.evaluations
    assert b.profile().oracle_rounds == 0 and math.isnan(b.profile().reached_not_polished)


def test_profile_search_runs_and_summarises():
    prof = profile_search(make("circles-sum-radii", n=4), 1.0, seed=0, oracle_every=1, settings=TINY)
    assert prof.history and prof.history[-1][1] == prof.best
    assert prof.rounds_since_improvement <= len(prof.rounds) - 1
    text = prof.summary()
    assert "circles-sum-radii n=4" in text and "time:" in text and repr(prof).startswith("SearchProfile(")


@pytest.mark.parametrize("kwargs", [{"oracle_every": -1}, {"oracle_every": 1.5}, {"oracle_budget": -1}])
def test_bad_oracle_settings_are_refused(kwargs):
    with pytest.raises(ValueError, match="oracle_"):
        ProfiledSearch(make("circles-sum-radii", n=4), TINY, **kwargs)
