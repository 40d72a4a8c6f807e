"""Neighbouring instances and resized starts (`Problem.neighbours`, circles' `resize`)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.problems import make
from extremo.problems.circles import largest_hole


def grid(k: int) -> dict:
    """``k x k`` equal circles filling the unit square."""
    t = (np.arange(k) + 0.5) / k
    c = np.stack(np.meshgrid(t, t, indexing="ij"), -1).reshape(-1, 2)
    return {"centers": c, "radii": np.full(k * k, 0.5 / k)}


def test_neighbours_are_the_accepted_sizes_around_n():
    p = make("circles-sum-radii", n=3)
    assert p.size_parameter() == "n"
    assert [q.instance["n"] for q in p.neighbours(3)] == [1, 2, 4, 5, 6]
    assert p.neighbours(0) == []
    assert make("points-min-distance", n=10, d=3).neighbours(1)[0].instance == {"n": 9, "d": 3}


def test_the_largest_hole_of_four_equal_circles_is_the_centre():
    g = grid(2)
    at, room = largest_hole(g["centers"], g["radii"], np.ones(2))
    np.testing.assert_allclose(at, [0.5, 0.5], atol=2e-3)
    assert abs(room - (np.sqrt(2) - 1) / 4) < 1e-3
    assert largest_hole(np.zeros((0, 2)), np.zeros(0), np.ones(2))[1] > 0.49


def test_circles_grow_into_the_hole_and_shrink_by_the_smallest():
    four, five = make("circles-sum-radii", n=4), make("circles-sum-radii", n=5)
    z = five.resize(four.from_config(grid(2)), four)
    cfg = five.to_config(z)
    assert five.verify(cfg).feasible
    np.testing.assert_allclose(np.sort(cfg["radii"])[1:], 0.25, atol=1e-12)
    assert abs(cfg["radii"].min() - (np.sqrt(2) - 1) / 4) < 1e-3
    back = four.to_config(four.resize(z, five))
    np.testing.assert_allclose(back["radii"], 0.25, atol=1e-12)
    assert make("heilbronn", n=6).resize(np.zeros(12), make("heilbronn", n=5)) is None


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 12), step=st.integers(-3, 3), seed=st.integers(0, 10**6), rect=st.booleans())
def test_a_resized_packing_is_feasible_and_keeps_the_largest_circles(m, step, seed, rect):
    name = "circles-rect" if rect else "circles-sum-radii"
    src, dst = make(name, n=m), make(name, n=max(1, m + step))
    x = src.repair(src.project(src.random(1, torch.Generator().manual_seed(seed)))[0].numpy())
    z = dst.resize(x, src)
    assert z.shape == (dst.dim,) and dst.verify(dst.to_config(z)).feasible
    kept = np.sort(src.to_config(x)["radii"])[::-1][: dst.n]
    got = np.sort(dst.to_config(z)["radii"])[::-1][: len(kept)]
    assert np.all(got >= kept * (1 - 1e-9) - 1e-12)
