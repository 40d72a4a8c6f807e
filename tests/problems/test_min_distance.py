import itertools
import math
import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import extremo.problems.min_distance as md  # noqa: F401  (registers points-min-distance)
from extremo.problems import ProblemError, make
from extremo.search.local import LocalSearch

S3 = 2 - math.sqrt(3)
#: classical optimal configurations of N = 2..5 points in the unit square, with their D
SQUARE_OPTIMA = {
    2: ([[0, 0], [1, 1]], math.sqrt(2)),
    3: ([[0, 0], [1, S3], [S3, 1]], math.sqrt(6) - math.sqrt(2)),
    4: ([[0, 0], [1, 0], [0, 1], [1, 1]], 1.0),
    5: ([[0, 0], [1, 0], [0, 1], [1, 1], [0.5, 0.5]], math.sqrt(2) / 2),
}
CUBE_CORNERS = np.array(list(itertools.product([0.0, 1.0], repeat=3)))


def problem(n, d=2):
    return make("points-min-distance", n=n, d=d)


def brute_force_min_distance(points):
    return min(math.dist(a, b) for a, b in itertools.combinations(points.tolist(), 2))


@pytest.mark.parametrize("n", sorted(SQUARE_OPTIMA))
def test_known_square_optima_are_accepted_with_their_exact_values(n):
    pts, exact = SQUARE_OPTIMA[n]
    p = problem(n)
    v = p.verify(p.check_shapes({"points": pts}))
    assert v.feasible, v.reason
    assert v.value == pytest.approx(exact, rel=1e-15)
    assert p.record().value == pytest.approx(exact, rel=1e-15) and p.record().proven_optimal
    assert "r = " in v.detail


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 20), d=st.integers(2, 12), high=st.booleans(),
       eps=st.floats(min_value=0.0, max_value=10.0, exclude_min=True))
def test_any_point_outside_the_cube_by_any_epsilon_is_rejected(seed, n, d, high, eps):
    rng = np.random.default_rng(seed)
    pts = rng.random((n, d))
    k, a = rng.integers(n), rng.integers(d)
    # 1 + eps rounds to 1 for tiny eps: step at least one ulp above 1
    pts[k, a] = max(1.0 + eps, np.nextafter(1.0, 2.0)) if high else -eps
    v = problem(n, d).verify({"points": pts})
    assert not v.feasible
    assert f"point {k} lies outside" in v.reason


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 25), d=st.integers(2, 12))
def test_objective_equals_a_brute_force_loop(seed, n, d):
    p = problem(n, d)
    pts = np.random.default_rng(seed).random((n, d))
    pts[0] = pts[-1] if seed % 7 == 0 else pts[0]  # coincident points too: D = 0
    oracle = brute_force_min_distance(pts)
    v = p.verify({"points": pts})
    assert v.feasible
    assert v.value == pytest.approx(oracle, rel=1e-14, abs=1e-300)
    x = torch.as_tensor(p.from_config({"points": pts}))[None]
    assert float(p.value(x)[0]) == pytest.approx(oracle, rel=1e-14, abs=1e-300)


def test_the_corners_and_boundary_are_inside():
    v = problem(8, 3).verify({"points": CUBE_CORNERS})
    assert v.feasible and v.value == 1.0


def test_radius_formula_on_eight_spheres_in_the_cube():
    """The 8 corners (D = 1) are the centres of 8 spheres of radius 1/4 filling the cube."""
    p = problem(8, 3)
    v = p.verify({"points": CUBE_CORNERS})
    r = p.radius(v.value)
    assert r == 0.25 == md.radius(1.0)
    # scaled into [r, 1 - r]^3 the centres are 2r apart and r from the walls
    centres = r + (1 - 2 * r) * CUBE_CORNERS
    assert brute_force_min_distance(centres) == pytest.approx(2 * r)
    assert centres.min() == pytest.approx(r) and 1 - centres.max() == pytest.approx(r)
    assert "0.25" in v.detail
    assert p.record().value == 1.0 and p.record().proven_optimal


def test_cube_records_are_converted_from_the_published_cube_side():
    p = problem(55, 3)
    rec = p.record()
    # the published figure is the side L of the cube holding unit spheres: D = 2 / (L - 2)
    assert rec.value == 2 / (7.620882328042 - 2)
    assert 2 * p.radius(rec.value) == pytest.approx(0.262437, abs=1e-6)  # FlowBoost's 6-digit diameter
    assert problem(2, 12).record().value == pytest.approx(math.sqrt(12))
    assert problem(30, 2).record().value == pytest.approx(0.224502964531, abs=1e-12)
    assert problem(150, 7).record() is None


def test_relaxation_of_a_feasible_vector_is_minus_the_scaled_epigraph_variable():
    p = problem(4)
    x = torch.as_tensor(p.from_config({"points": SQUARE_OPTIMA[4][0]}))[None]
    assert float(x[0, -1]) == 1.0
    assert float(p.relaxed(x, 1e4)[0]) == pytest.approx(-1.0 / p.h)
    over = x.clone()
    over[0, -1] = 1.1
    assert float(p.relaxed(over, 1e4)[0]) > float(p.relaxed(x, 1e4)[0])


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 1000), n=st.integers(2, 9), d=st.integers(2, 4))
def test_kick_and_polish_stay_in_the_cube(seed, n, d):
    p = problem(n, d)
    g = torch.Generator().manual_seed(seed)
    x = p.random(4, g)
    k = p.kick(x, 0.3, g)
    assert k.shape == x.shape and k[:, :-1].min() >= 0 and k[:, :-1].max() <= 1
    z = p.polish(k[0].numpy())
    v = p.verify(p.to_config(z))
    assert v.feasible and v.value >= float(p.value(k[:1])[0]) * (1 - 1e-12)


#: the involutions of the cube behind the symmetric starts, as maps of ``(n, d)`` point arrays
INVOLUTIONS = (
    lambda q: np.concatenate([1 - q[:, :1], q[:, 1:]], 1),  # x_1 -> 1 - x_1
    lambda q: np.concatenate([q[:, 1::-1], q[:, 2:]], 1),  # x_1 <-> x_2
    lambda q: 1 - q,  # p -> 1 - p
)


def is_invariant(q, involution):
    """The point set ``q`` equals its image as a set (every image point is a point of ``q``)."""
    image = involution(q)
    return np.abs(image[:, None] - q[None]).max(-1).min(-1).max() <= 1e-12


@pytest.mark.parametrize("n,d", [(23, 2), (28, 2), (9, 3), (2, 2)])
def test_random_starts_are_in_the_cube_and_about_half_symmetric(n, d):
    p = problem(n, d)
    x = p.random(96, torch.Generator().manual_seed(0))
    assert x.shape == (96, p.dim) and x[:, :-1].min() >= 0 and x[:, :-1].max() <= 1
    pts = x[:, :-1].unflatten(-1, (n, d)).numpy()
    symmetric = sum(any(is_invariant(q, f) for f in INVOLUTIONS) for q in pts)
    assert 25 <= symmetric <= 75 if n > 2 else symmetric >= 25  # two random points: rarely


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 40), d=st.integers(2, 5), kind=st.integers(0, 2))
def test_symmetric_starts_are_invariant_with_the_parity_of_n_on_the_fixed_set(seed, n, d, kind):
    p = problem(n, d)
    g = torch.Generator().manual_seed(seed)
    raw = torch.rand(8, n, d, generator=g, dtype=torch.float64)
    q = p._symmetric(raw, torch.full((8,), kind), g).numpy()
    assert q.min() >= 0 and q.max() <= 1
    f = INVOLUTIONS[kind]
    for c in q:
        assert is_invariant(c, f)
        fixed = np.abs(f(c) - c).max(-1) <= 1e-12  # points on the mirror / at the centre
        assert fixed.sum() % 2 == n % 2 and (kind < 2 or fixed.sum() <= 1)


@pytest.mark.parametrize("n", [2, 3, 10, 27, 60])
def test_lattice_starts_are_distinct_sites_of_row_lattices_spanning_the_square(n):
    p = problem(n)
    q = p._lattice(64, torch.Generator().manual_seed(0), torch.float64, jitter=0.0).numpy()
    assert q.shape == (64, n, 2) and q.min() >= 0 and q.max() <= 1
    for c in q:
        on_rows = [np.allclose(c[:, 1] * k, np.round(c[:, 1] * k), atol=1e-12) for k in range(1, 20)]
        assert any(on_rows)  # y = j / (r - 1) for some r
        assert len(np.unique(c.round(12), axis=0)) == n


def test_the_stretched_lattice_record_of_27_points_is_among_the_lattice_starts():
    """Packomania's N = 27: six rows of 5 and 4 points, D = sqrt(1/8^2 + 1/5^2)."""
    p = problem(27)
    q = p._lattice(256, torch.Generator().manual_seed(0), torch.float64, jitter=0.0)
    x = torch.cat([q.flatten(1), torch.zeros(256, 1, dtype=torch.float64)], -1)
    assert float(p.value(x).max()) == pytest.approx(math.sqrt(1 / 64 + 1 / 25), rel=1e-15)
    assert p.gap(float(p.value(x).max())) <= 1e-15


@pytest.mark.parametrize("bad", [{"n": 1}, {"n": 1001}, {"n": 501, "d": 3}, {"d": 1}, {"d": 13}])
def test_out_of_range_instances_are_refused(bad):
    with pytest.raises(ProblemError, match="points-min-distance"):
        make("points-min-distance", **bad)


def test_search_defaults_shrink_the_batch_for_large_instances():
    assert problem(30, 2).search_defaults["batch"] == 32
    assert 4 <= problem(200, 12).search_defaults["batch"] < 8


@pytest.mark.parametrize("n,d", [(2, 2), (3, 2), (4, 2), (5, 2), (7, 2), (2, 3), (9, 3)])
def test_short_search_reaches_the_record(n, d):
    p = problem(n, d)
    search = LocalSearch(p, seed=0)
    for _ in range(10):  # rounds, not seconds: the outcome must not depend on the machine's load
        search.step()
        if p.gap(search.state.best.value) <= 1e-9:
            break
    assert p.gap(search.state.best.value) <= 1e-9


@pytest.mark.slow
@pytest.mark.parametrize("n", range(2, 31))
def test_search_matches_the_best_known_square_packings(n):
    """The target of the issue: every N <= 30 in a minute, to 1e-9 relative (seed 0)."""
    p = problem(n)
    search = LocalSearch(p, seed=0)
    search.run(75.0, should_stop=lambda: p.gap(search.state.best.value) <= 1e-9)
    assert p.gap(search.state.best.value) <= 1e-9


@pytest.mark.slow
def test_a_round_of_the_largest_instance_takes_seconds():
    p = problem(200, 12)
    search = LocalSearch(p, seed=0)
    t0 = time.time()
    search.run(0.0)
    assert time.time() - t0 < 30 and search.state.best.value > 0
