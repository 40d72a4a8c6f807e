"""The declarative problem module: derived projection, relaxation, repair, polish and verifier,
on a small problem written in the test, and on the three problems written with it."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.spatial import ConvexHull

from extremo.problems import make
from extremo.problems.base import Parameter
from extremo.problems.declarative import DeclarativeProblem, Ops, Variable, pairwise_sq
from extremo.problems.heilbronn_convex import hull_area
from extremo.problems.hexagons import CONTAINER, Hexagons, vertices


class Spread(DeclarativeProblem):
    """Test problem: n discs of equal radius ``r`` on a segment [0, 1] (centres ``x``), maximise
    ``r`` subject to ``|x_i - x_j| >= 2r`` and ``r <= x_i <= 1 - r``: optimum ``1 / (2n)``; plus
    a weight row on the simplex that does not enter."""

    name = "spread-test"
    title = "test"
    sense = "max"
    parameters = (Parameter("n", "discs", 2, 9, default=3),)

    def variables(self):
        n = self.instance["n"]
        return {"x": Variable((n,)), "r": Variable((1,), high=0.5, shrink=1.0),
                "w": Variable((1, 3), domain="simplex")}

    def objective(self, v, ops):
        return v["r"][..., 0]

    def constraints(self, v, ops):
        x, r = v["x"], v["r"]
        i, j = torch.triu_indices(x.shape[-1], x.shape[-1], 1)
        return torch.cat([(x[:, i] - x[:, j]).abs() - 2 * r, x - r, 1 - r - x], -1)


def test_soft_extrema_lie_between_the_extremum_and_the_mean_and_sharpen():
    t = torch.tensor([[0.3, 1.0, 2.0, 0.31]], dtype=torch.float64)
    lo = [float(Ops("soft", mu).min(t)) for mu in (1.0, 10.0, 1e3)]
    hi = [float(Ops("soft", mu).max(t)) for mu in (1.0, 10.0, 1e3)]
    assert 0.3 < lo[2] < lo[1] < lo[0] < float(t.mean())
    assert float(t.mean()) < hi[0] < hi[1] < hi[2] < 2.0
    assert abs(lo[2] - 0.3) < 0.01 and abs(hi[2] - 2.0) < 0.01


def test_active_ops_pick_the_extreme_term_with_its_gradient():
    t = torch.tensor([[0.3, 1.0, 2.0]], dtype=torch.float64, requires_grad=True)
    Ops("active").max(t).sum().backward()
    assert t.grad.tolist() == [[0.0, 0.0, 1.0]]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 10.0))
def test_simplex_projection_is_the_euclidean_one(seed, scale):
    p = Spread(n=3)
    x = p.random(1, torch.Generator().manual_seed(seed)) * scale
    w = p.split(p.project(x))["w"][0, 0].numpy()
    assert abs(w.sum() - 1) < 1e-12 and w.min() >= 0
    # optimality: y - w is constant on the support and smaller off it
    y = p.split(x)["w"][0, 0].numpy()
    g = y - w
    on = w > 0
    assert np.ptp(g[on]) < 1e-12 and (g[~on] <= g[on].max() + 1e-12).all()


def test_repair_shrinks_just_enough_and_polish_reaches_the_optimum():
    p = Spread(n=3)
    x = p.from_config({"x": np.array([0.2, 0.5, 0.8]), "r": np.array([0.2]), "w": np.array([[1.0, 0, 0]])})
    z = p.repair(x)
    r = p.to_config(z)["r"][0]
    assert p.verify(p.to_config(z)).feasible
    assert 0.15 * (1 - 1e-8) < r < 0.15  # the least shrink that clears the border
    best = p.polish(x)
    assert p.verify(p.to_config(best)).value == pytest.approx(1 / 6, abs=2e-9)


def test_verifier_rejects_domains_and_violations_with_reasons():
    p = Spread(n=2)
    ok = {"x": np.array([0.25, 0.75]), "r": np.array([0.25]), "w": np.array([[0.5, 0.5, 0.0]])}
    assert p.verify(ok).value == 0.25
    cases = [({"x": np.array([0.25, 1.5])}, "outside"), ({"w": np.array([[0.5, 0.6, 0.0]])}, "simplex"),
             ({"r": np.array([0.3])}, "violated")]
    for change, word in cases:
        v = p.verify({**ok, **change})
        assert not v.feasible and word in v.reason


def test_epigraph_form_records_and_constrains_each_extremum():
    t = torch.tensor([[1.0, 3.0, 2.0]], dtype=torch.float64)
    record = Ops("epigraph")
    assert float(record.max(t) / record.min(t)) == 3.0
    ops = Ops("epigraph", epigraph=torch.tensor([3.5, 0.5], dtype=torch.float64))
    assert float(ops.max(t) / ops.min(t)) == 7.0
    assert ops.found[0].tolist() == [2.5, 0.5, 1.5] and ops.found[1].tolist() == [0.5, 2.5, 1.5]


# ---------------------------------------------------------------- distance-ratio
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 20), d=st.integers(2, 3))
def test_distance_ratio_is_the_brute_force_ratio(seed, n, d):
    p = make("distance-ratio", n=n, d=d)
    pts = np.random.default_rng(seed).random((n, d))
    dist = [np.linalg.norm(a - b) for a, b in itertools.combinations(pts, 2)]
    assert p.verify({"points": pts}).value == pytest.approx((max(dist) / min(dist)) ** 2, rel=1e-12)


def test_distance_ratio_of_the_square_and_coincident_points():
    p = make("distance-ratio", n=4, d=2)
    sq = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=float)
    assert p.verify({"points": sq}).value == 2.0
    v = p.verify({"points": np.array([[0, 0], [0, 0], [1, 1], [0, 1]], dtype=float)})
    assert not v.feasible and "inf" in v.reason


def test_pairwise_squared_distances_are_accurate_for_close_points():
    p = torch.tensor([[[0.5, 0.5], [0.5 + 1e-9, 0.5]]], dtype=torch.float64)
    assert float(pairwise_sq(p)[0, 0]) == pytest.approx(1e-18, rel=1e-6)


# ---------------------------------------------------------------- heilbronn convex
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 12))
def test_hull_area_and_value_match_scipy_and_the_brute_force(seed, n):
    pts = np.random.default_rng(seed).random((n, 2))
    hull = ConvexHull(pts).volume
    assert float(hull_area(torch.as_tensor(pts)[None])[0]) == pytest.approx(hull, rel=1e-12)
    small = min(abs(np.cross(b - a, c - a)) / 2 for a, b, c in itertools.combinations(pts, 3))
    p = make("heilbronn", n=n, region="convex")
    assert p.verify({"points": pts}).value == pytest.approx(small / hull, rel=1e-12)


def test_convex_heilbronn_is_affine_invariant_and_the_hull_gradient_is_the_shoelace_one():
    p = make("heilbronn", n=6, region="convex")
    pts = np.random.default_rng(1).random((6, 2))
    m = np.array([[0.5, 0.1], [-0.05, 0.3]])
    assert p.verify({"points": pts @ m.T + 0.2}).value == pytest.approx(p.verify({"points": pts}).value, rel=1e-10)
    sq = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]]], dtype=torch.float64,
                      requires_grad=True)
    hull_area(sq).sum().backward()
    # d area / d p_i = (y_{i+1} - y_{i-1}, x_{i-1} - x_{i+1}) / 2 around the hull; 0 inside
    assert sq.grad[0].tolist() == [[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5], [0.0, 0.0]]


# ---------------------------------------------------------------- hexagons
def one(n, centers, angles, side):
    return {"centers": np.asarray(centers, dtype=float).reshape(n, 2), "angles": np.asarray(angles, dtype=float),
            "side": np.array([side])}


def test_one_hexagon_fills_the_container_and_a_turn_sticks_out():
    p = Hexagons(n=1)
    assert p.verify(one(1, [0, 0], [0.0], 1.0)).value == 1.0
    v = p.verify(one(1, [0, 0], [1e-9], 1.0))
    assert not v.feasible and "sticks out" in v.reason


@settings(max_examples=25, deadline=None)
@given(theta=st.floats(0, math.pi / 3), gap=st.floats(-1e-3, 1e-3))
def test_two_hexagons_side_by_side_are_disjoint_exactly_when_the_gap_is_not_negative(theta, gap):
    """Two hexagons of side 1/4 with a common edge normal at angle theta + pi/6: centres
    sqrt(3)/4 + gap apart along it; touching (gap 0) is allowed."""
    assume(abs(gap) > 1e-12)
    p = Hexagons(n=2)
    r = 0.25
    a = theta + math.pi / 6
    step = (math.sqrt(3) * r + gap) / 2 * np.array([math.cos(a), math.sin(a)])
    v = p.verify(one(2, [-step, step], [theta, theta], r))
    assert v.feasible == (gap > 0), v.reason
    if not v.feasible:
        assert "overlap" in v.reason


def test_the_rational_test_decides_a_float_borderline_contact():
    p = Hexagons(n=2)
    r = 0.25
    config = one(2, [[-math.sqrt(3) * r / 2, 0.0], [math.sqrt(3) * r / 2, 0.0]], [math.pi / 6, math.pi / 6], r)
    c = p.constraints(p.split(torch.as_tensor(p.from_config(config))[None]), Ops())[0]
    assert abs(float(c.min())) < p.border  # borderline: decided in rationals
    verts = vertices(config["centers"], config["angles"], r)
    right = max(Fraction(x) for x in verts[0, :, 0])
    left = min(Fraction(x) for x in verts[1, :, 0])
    assert p.verify(config).feasible == (right <= left)


def test_container_is_the_unit_regular_hexagon():
    sides = np.linalg.norm(np.roll(CONTAINER, -1, 0) - CONTAINER, axis=1)
    np.testing.assert_allclose(sides, 1.0, rtol=1e-15)


@pytest.mark.slow
def test_a_short_search_packs_seven_hexagons_between_the_area_bound_and_the_flower():
    """Seven unit hexagons need side >= sqrt(7) (area); a polish of two relaxed starts finds a
    packing in side < 3.2 that both the float64 and the rational tests accept."""
    from extremo.search.local import LocalSearch, SearchSettings

    p = Hexagons(n=7)
    s = LocalSearch(p, SearchSettings(**{**p.search_defaults, "batch": 8, "steps": 150}), seed=0)
    x, nf = s.starts()[:2]
    relaxed = s.relax(x, nf)
    configs = [p.to_config(p.polish(r.numpy())) for r in relaxed[:2]]
    best = min(configs, key=lambda c: p.verify(c).value)
    assert math.sqrt(7) <= p.verify(best).value < 3.2
    assert p.exact_reject(best) is None
