"""Starts from the stored bests of neighbouring instances, and their use by `discover`."""

import numpy as np

from extremo.discover import discover
from extremo.problems import make
from extremo.search.local import SearchSettings
from extremo.search.neighbours import neighbour_starts
from extremo.store import Store


def _store_config(store, problem, x):
    verdict = problem.verify(problem.to_config(x))
    run = store.start_run(problem.name, problem.instance, problem.label, 0, {})
    store.update_best(run, verdict.value, {f: v.tolist() for f, v in problem.to_config(x).items()}, 1.0, 1)
    store.finish(run, "finished", 1.0, 1)
    return verdict.value


def _grid(problem, k):
    t = (np.arange(k) + 0.5) / k
    c = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    return problem.from_config({"centers": c, "radii": np.full(k * k, 0.5 / k)})


def test_the_stored_neighbours_become_polished_feasible_starts(tmp_path):
    four, five = make("circles-sum-radii", n=4), make("circles-sum-radii", n=5)
    with Store(tmp_path / "runs.sqlite") as store:
        assert neighbour_starts(five, store) == []
        _store_config(store, four, _grid(four, 2))
        starts = neighbour_starts(five, store)
        assert len(starts) == 1
        value = five.verify(five.to_config(starts[0])).value
        assert value > 1.0 + (np.sqrt(2) - 1) / 4 - 1e-3  # the polish keeps or improves the resized start
        assert neighbour_starts(five, store, radius=0) == []
        assert neighbour_starts(make("circles-sum-radii", n=7), store) == []  # 4 is not within 1 of 7


def test_discover_starts_from_the_neighbours_only_when_asked(tmp_path):
    """With no polish slots the search finds nothing itself: its only candidate is the neighbour's."""
    assert SearchSettings().neighbours == 0
    four, five = make("circles-sum-radii", n=4), make("circles-sum-radii", n=5)
    with Store(tmp_path / "runs.sqlite") as store:
        _store_config(store, four, _grid(four, 2))
        expected = five.verify(five.to_config(neighbour_starts(five, store)[0])).value
        lazy = dict(polish_top=0, batch=2, steps=2)
        on = discover(five, 1.0, workers=1, out=tmp_path / "on", store=store,
                      settings=SearchSettings(**{**five.search_defaults, **lazy, "neighbours": 1}))
        off = discover(five, 1.0, workers=1, out=tmp_path / "off", store=store,
                       settings=SearchSettings(**{**five.search_defaults, **lazy, "neighbours": 0}))
    assert on.value == expected
    assert off.x is None
