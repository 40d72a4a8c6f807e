import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.problems import ProblemError, make
from extremo.search.local import LocalSearch

GRID4 = {"centers": np.array([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]),
         "radii": np.full(4, 0.25)}


def square(n):
    return make("circles-sum-radii", n=n)


def test_single_inscribed_circle_is_optimal():
    p = square(1)
    v = p.verify({"centers": np.array([[0.5, 0.5]]), "radii": np.array([0.5])})
    assert v.feasible and v.value == 0.5 == p.record().value


def test_four_touching_circles_are_accepted_with_exact_value():
    v = square(4).verify(GRID4)
    assert v.feasible, v.reason
    assert v.value == 1.0


def test_two_circles_on_the_diagonal_reach_two_minus_sqrt2_after_repair():
    p = square(2)
    r = (2 - math.sqrt(2)) / 2
    x = p.from_config({"centers": np.array([[r, r], [1 - r, 1 - r]]), "radii": np.array([r, r])})
    z = p.repair(x)
    v = p.verify(p.to_config(z))
    assert v.feasible
    assert v.value == pytest.approx(2 - math.sqrt(2), abs=1e-14)


@settings(max_examples=60, deadline=None)
@given(k=st.integers(0, 3), eps=st.floats(1e-15, 0.2))
def test_moving_a_circle_into_its_neighbour_is_rejected(k, eps):
    c = GRID4["centers"].copy()
    j = k ^ 1  # horizontal neighbour
    c[k, 0] += eps * np.sign(c[j, 0] - c[k, 0])
    v = square(4).verify({"centers": c, "radii": GRID4["radii"]})
    assert not v.feasible
    assert "overlap" in v.reason or "sticks out" in v.reason


@settings(max_examples=60, deadline=None)
@given(k=st.integers(0, 3), axis=st.integers(0, 1), eps=st.floats(1e-15, 0.2))
def test_pushing_a_circle_out_of_the_square_is_rejected(k, axis, eps):
    c = GRID4["centers"].copy()
    c[k, axis] += eps if c[k, axis] > 0.5 else -eps
    v = square(4).verify({"centers": c, "radii": GRID4["radii"]})
    assert not v.feasible and "sticks out" in v.reason


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 3), eps=st.floats(1e-15, 0.1))
def test_growing_a_radius_is_rejected(k, eps):
    r = GRID4["radii"].copy()
    r[k] += eps
    assert not square(4).verify({"centers": GRID4["centers"], "radii": r}).feasible


def test_negative_radius_is_rejected():
    r = GRID4["radii"].copy()
    r[2] = -1e-3
    v = square(4).verify({"centers": GRID4["centers"], "radii": r})
    assert not v.feasible and "negative" in v.reason


def test_objective_is_the_sum_of_radii():
    p = square(4)
    x = torch.as_tensor(p.from_config(GRID4))[None]
    assert float(p.value(x)[0]) == 1.0
    assert float(p.relaxed(x, 1e3)[0]) == pytest.approx(-1.0)


def test_rectangle_checks_its_perimeter_exactly():
    p = make("circles-rect", n=1)
    ok = {"centers": np.array([[0.5, 0.5]]), "radii": np.array([0.5]), "width": np.array(1.0),
          "height": np.array(1.0)}
    assert p.verify(ok).value == 0.5
    too_big = {**ok, "height": np.array(np.nextafter(1.0, 2.0))}
    v = p.verify(too_big)
    assert not v.feasible and "perimeter" in v.reason


def test_rectangle_config_round_trip_keeps_an_exact_perimeter():
    p = make("circles-rect", n=3)
    x = p.repair(p.random(1, torch.Generator().manual_seed(1))[0].numpy())
    cfg = p.to_config(x)
    assert float(cfg["width"]) + float(cfg["height"]) <= 2.0
    assert np.allclose(p.from_config(cfg), x)


@pytest.mark.parametrize("n", [0, 1001, -3])
def test_out_of_range_instances_are_refused(n):
    with pytest.raises(ProblemError, match="out of range"):
        square(n)


def test_search_finds_the_two_circle_optimum():
    p = square(2)
    search = LocalSearch(p, seed=0)
    search.run(0.0)
    search.run(0.0)
    assert search.state.best.value == pytest.approx(2 - math.sqrt(2), abs=1e-9)


def test_screen_of_the_four_circle_grid_is_its_value():
    p = square(4)
    assert p.screen(torch.as_tensor(p.from_config(GRID4))[None]).item() == pytest.approx(1.0, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 60), seed=st.integers(0, 2**31), rect=st.booleans())
def test_screen_is_the_all_pairs_radius_lp_at_the_rows_centres(n, seed, rect):
    """The neighbour list keeps every pair that can bind: the LP over all pairs agrees."""
    from scipy.optimize import linprog

    p = make("circles-rect", n=n) if rect else square(n)
    x = p.project(p.random(3, torch.Generator().manual_seed(seed)))
    got = p.screen(x)
    for b in range(3):
        cfg = p.to_config(x[b].numpy())
        sides = np.array([float(cfg["width"]), 2 - float(cfg["width"])]) if rect else np.ones(2)
        c = cfg["centers"]
        upper = np.minimum(np.minimum(c, sides - c).min(1), 2 * cfg["radii"].max())
        i, j = np.triu_indices(n, 1)
        a = np.zeros((len(i), n))
        a[np.arange(len(i)), i] = a[np.arange(len(i)), j] = 1
        lp = linprog(-np.ones(n), A_ub=a, b_ub=np.linalg.norm(c[i] - c[j], axis=1),
                     bounds=list(zip(np.zeros(n), upper)), method="highs")
        assert got[b].item() == pytest.approx(-lp.fun, rel=1e-7, abs=1e-9)


def test_screen_of_one_circle_is_its_largest_radius():
    p = square(1)
    x = torch.tensor([[0.3, 0.5, 0.1]], dtype=torch.float64)
    assert p.screen(x).item() == pytest.approx(0.2)


def test_screen_is_at_least_the_value_of_a_feasible_packing():
    p = square(12)
    z = p.repair(p.random(1, torch.Generator().manual_seed(4))[0].numpy())
    assert p.screen(torch.as_tensor(z)[None]).item() >= p.verify(p.to_config(z)).value - 1e-9


def _three_quarters():
    """Three circles of radius 1/4 in three quadrants of the unit square; the fourth is a hole."""
    c = torch.tensor([[[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]], dtype=torch.float64)
    r = torch.tensor([[0.25, 0.25, 0.25, 0.25]], dtype=torch.float64)
    return c.expand(64, -1, -1), r.expand(64, -1)


def _room_at(spot, c, r):
    """The room at each row's spot among the circles ``c, r`` in the unit square, by hand."""
    return torch.minimum(torch.minimum(spot, 1 - spot).amin(-1),
                         (torch.cdist(spot[:, None], c) - r[:, None]).amin(-1)[:, 0])


def test_a_reseeded_circle_goes_to_the_hole_the_others_leave():
    from extremo.problems.circles import _roomiest

    c, r = _three_quarters()
    absent = torch.zeros(64, 4, dtype=torch.bool)
    absent[:, 3] = True
    spot = _roomiest(c, r, absent, torch.ones(64, 2, dtype=torch.float64), torch.Generator().manual_seed(0))
    room = _room_at(spot, c[:, :3], r[:, :3])
    assert float(room.min()) > 0 and float(room.median()) > 0.1
    assert bool(((spot > 0.5).all(-1)).all())


def test_a_present_circle_leaves_no_room_in_its_place():
    from extremo.problems.circles import _roomiest

    c, r = _three_quarters()
    spot = _roomiest(c, r, torch.zeros(64, 4, dtype=torch.bool), torch.ones(64, 2, dtype=torch.float64),
                     torch.Generator().manual_seed(0))
    # the four discs leave only the star between them and the corners' slivers: room < 0.11
    assert float(_room_at(spot, c, r).max()) < 0.11


@given(st.integers(2, 40), st.integers(0, 2**16))
@settings(max_examples=25, deadline=None)
def test_kicks_keep_the_shape_and_the_box(n, seed):
    p = make("circles-sum-radii", n=n)
    g = torch.Generator().manual_seed(seed)
    x = p.kick(p.random(8, g), 0.03, g)
    sides, c, r = p._split(x)
    assert x.shape == (8, 3 * n) and float(c.min()) >= 0 and float(c.max()) <= 1 and float(r.min()) >= 0
