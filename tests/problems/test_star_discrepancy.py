import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import extremo.problems.star_discrepancy  # noqa: F401  (registers star-discrepancy)
from extremo.cli import app
from extremo.problems import ProblemError, make
from extremo.problems.discrepancy import star_discrepancy, star_discrepancy_batch
from extremo.search.local import LocalSearch, SearchSettings

GOLDEN = (math.sqrt(5) - 1) / 2  # root of a^2 + a = 1


def problem(n, d=2):
    return make("star-discrepancy", n=n, d=d)


def brute_force(points):
    """max over the critical grid of vol - #{p < q}/N and #{p <= q}/N - vol, in rationals."""
    n, d = points.shape
    grids = [sorted(set(points[:, k].tolist()) | {1.0}) for k in range(d)]
    best = Fraction(0)
    for q in itertools.product(*grids):
        vol = math.prod(Fraction(c) for c in q)
        inside_open = sum(all(p[k] < q[k] for k in range(d)) for p in points.tolist())
        inside_closed = sum(all(p[k] <= q[k] for k in range(d)) for p in points.tolist())
        best = max(best, vol - Fraction(inside_open, n), Fraction(inside_closed, n) - vol)
    return best


def test_one_point_on_the_diagonal_hand_computed():
    """One point (a, a): the worst boxes are [0, (a, 1)) (empty, volume a) and [0, (a, a)]
    (full, volume a^2), so D* = max(a, 1 - a^2), minimal at a^2 + a = 1: D* = (sqrt 5 - 1)/2."""
    for a in (0.3, 0.5, GOLDEN, 0.9):
        v = problem(1).verify({"points": np.array([[a, a]])})
        assert v.feasible
        assert v.value == float(max(Fraction(a), 1 - Fraction(a) ** 2))
    p = problem(1)
    assert p.verify({"points": np.array([[GOLDEN, GOLDEN]])}).value == pytest.approx(GOLDEN, abs=1e-15)
    assert p.record().value == round(GOLDEN, 9) and p.record().proven_optimal


def test_one_point_in_the_cube_solves_a_cubed_plus_a_equals_one():
    a = 0.6823278038280193  # real root of a^3 + a - 1
    v = problem(1, 3).verify({"points": np.array([[a, a, a]])})
    assert v.value == pytest.approx(a, abs=1e-15)


def test_regular_grid_hand_computed():
    """Points (1/4 or 3/4, 1/4 or 3/4): the closed box [0, (3/4, 3/4)] of volume 9/16 holds all
    four points, 1 - 9/16 = 7/16; the open one holds one, 9/16 - 1/4 = 5/16; the others do
    better (e.g. [0, (3/4, 1/4)]: 2/4 - 3/16, [0, (1/4, 1)): 1/4)."""
    pts = np.array([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])
    v = problem(4).verify({"points": pts})
    assert v.value == float(brute_force(pts)) == 7 / 16
    assert "closed box [0, (0.75, 0.75)] holds too many points" in v.detail


def test_points_at_the_origin_make_closed_boxes_of_volume_zero():
    pts = np.zeros((3, 2))
    assert problem(3).verify({"points": pts}).value == 1.0  # [0, 0] holds everything
    sd = star_discrepancy(pts)
    assert sd.closed and sd.exact == 1


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 9), d=st.integers(2, 3), coarse=st.booleans())
def test_exact_algorithm_equals_brute_force(seed, n, d, coarse):
    rng = np.random.default_rng(seed)
    pts = rng.random((n, d))
    if coarse:  # ties, coordinates 0 and 1
        pts = np.round(pts * 3) / 3
    oracle = brute_force(pts)
    sd = star_discrepancy(pts)
    assert sd.exact == oracle
    assert sd.value == float(oracle)
    assert float(star_discrepancy_batch(torch.as_tensor(pts))) == pytest.approx(float(oracle), abs=1e-15)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 30), d=st.integers(2, 3), high=st.booleans(),
       eps=st.floats(min_value=0.0, max_value=10.0, exclude_min=True))
def test_any_point_outside_the_cube_by_any_epsilon_is_rejected(seed, n, d, high, eps):
    rng = np.random.default_rng(seed)
    pts = rng.random((n, d))
    k, a = rng.integers(n), rng.integers(d)
    pts[k, a] = max(1.0 + eps, np.nextafter(1.0, 2.0)) if high else -eps
    v = problem(n, d).verify({"points": pts})
    assert not v.feasible
    assert f"point {k} lies outside" in v.reason


def _generators(x: torch.Tensor, n: int, d: int) -> np.ndarray:
    """``(batch, d - 1)`` the Kronecker generators of random starts: the median step along each axis."""
    pts = x[:, :-1].reshape(len(x), n, d).numpy()
    return np.median(np.remainder(np.diff(pts[:, :, 1:], axis=1), 1.0), axis=1)


def test_random_starts_in_the_cube_draw_each_axis_on_its_own():
    n, batch = 40, 400
    x = problem(n, 3).random(batch, torch.Generator().manual_seed(5))
    a = _generators(x, n, 3)
    # no shared generator: two axes with one generator would step alike (the old starts: half of them)
    apart = np.abs(a[:, 0] - a[:, 1])
    assert np.mean(np.minimum(apart, 1 - apart) < 0.01) < 0.1
    # half of the starts put the golden generator on one axis, either one, never on both
    golden = np.abs(a - GOLDEN) < 0.005
    assert 0.35 < golden.any(axis=1).mean() < 0.65 and golden[:, 0].sum() > 50 and golden[:, 1].sum() > 50
    assert golden.all(axis=1).mean() < 0.05
    assert torch.equal(x, problem(n, 3).random(batch, torch.Generator().manual_seed(5)))  # one seed, one set


def test_batched_value_agrees_with_verify():
    p = problem(12, 3)
    x = p.random(3, torch.Generator().manual_seed(0))
    values = p.value(x)
    for k in range(3):
        assert float(values[k]) == pytest.approx(p.verify(p.to_config(x[k].numpy())).value, abs=1e-15)


@pytest.mark.parametrize("instance, message", [
    ({"n": 0}, "out of range"),
    ({"n": 501}, "out of range"),
    ({"n": 201, "d": 3}, "out of range for d=3"),
    ({"n": 10, "d": 4}, "out of range"),
    ({"n": 10, "k": 1}, "unknown parameter k"),
])
def test_bad_instances_give_one_line_errors(instance, message):
    with pytest.raises(ProblemError, match=message) as err:
        make("star-discrepancy", **instance)
    assert "\n" not in str(err.value)


def test_shapes_are_checked():
    with pytest.raises(ProblemError, match="shape"):
        problem(3).check_shapes({"points": [[0.1, 0.2]] * 4})


def test_polish_keeps_points_in_the_cube_and_never_worsens():
    p = problem(8)
    x = p.random(1, torch.Generator().manual_seed(3))[0].numpy()
    before = p.repair(x)[-1]
    z = p.polish(x)
    v = p.verify(p.to_config(z))
    assert v.feasible and v.value <= before
    assert z[-1] == pytest.approx(v.value, abs=1e-15)


def test_kick_swaps_coordinates_and_stays_in_the_cube():
    p = problem(10)
    g = torch.Generator().manual_seed(0)
    x = p.random(4, g)
    y = p.kick(x, 0.0, g)
    assert y.shape == x.shape and bool(((y >= 0) & (y <= 1)).all())
    px, py = p._points(x).numpy(), p._points(y).numpy()
    # without jitter a kick permutes each axis' coordinates among the points and moves at most
    # one point to a new spot
    for b in range(4):
        for k in range(2):
            assert np.isin(py[b, :, k], px[b, :, k]).sum() >= 9
    assert not np.array_equal(px, py)


def test_relaxation_with_exact_counts_is_finite_and_differentiable():
    for n, d in ((130, 2),):  # exact counts above the soft budget (the contract tests the headline)
        p = problem(n, d)
        x = p.random(2, torch.Generator().manual_seed(0)).requires_grad_(True)
        loss = p.relaxed(x, 10.0)
        loss.sum().backward()
        assert loss.shape == (2,) and torch.isfinite(loss).all() and torch.isfinite(x.grad).all()


def test_short_local_search_reaches_a_sane_value():
    p = problem(6)
    settings = SearchSettings(**{**p.search_defaults, "batch": 4, "polish_top": 2})
    state = LocalSearch(p, settings, seed=0).run(2.0)
    best = state.best
    assert p.verify(p.to_config(best.x)).value == best.value
    # optimal 0.1667 (Clement et al.); a random 6-point set is near 0.4
    assert best.value < 0.2


def test_cli_verify(tmp_path):
    doc = {"problem": "star-discrepancy", "instance": {"n": 1, "d": 2}, "points": [[GOLDEN, GOLDEN]]}
    path = tmp_path / "sd.json"
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(app, ["verify", str(path)])
    assert result.exit_code == 0, result.output
    assert "feasible" in result.output and "0.618" in result.output
    doc["points"] = [[GOLDEN, 1.5]]
    path.write_text(json.dumps(doc))
    result = CliRunner().invoke(app, ["verify", str(path)])
    assert result.exit_code == 1 and "outside the unit cube" in result.output


def test_plane_counts_match_the_points_they_describe():
    """Counts of the permutation equal direct counts of a point set with those x- and y-ranks."""
    from extremo.problems.star_discrepancy import plane_counts

    rng = np.random.default_rng(1)
    n = 7
    sigma = rng.permutation(n)
    x, y = np.sort(rng.random(n)), np.sort(rng.random(n))
    pts = np.stack([x, y[sigma]], 1)
    gx, gy = np.append(x, 1.0), np.append(y, 1.0)
    opened, closed = plane_counts(sigma)
    for i in range(n + 1):
        for j in range(n + 1):
            assert opened[i, j] == np.sum((pts[:, 0] < gx[i]) & (pts[:, 1] < gy[j]))
            assert closed[i, j] == np.sum((pts[:, 0] <= gx[i]) & (pts[:, 1] <= gy[j]))


def test_permutation_nlp_keeps_the_permutation_and_improves():
    from extremo.problems.star_discrepancy import plane_permutation_nlp

    rng = np.random.default_rng(2)
    n = 9
    sigma = rng.permutation(n)
    x, y = np.sort(rng.random(n)), np.sort(rng.random(n))
    before = problem(n).verify({"points": np.stack([x, y[sigma]], 1)}).value
    value, x2, y2 = plane_permutation_nlp(sigma, x, y, maxiter=200)
    pts = np.stack([x2, y2[sigma]], 1)
    exact = problem(n).verify({"points": pts}).value
    assert value == pytest.approx(exact, abs=1e-15) and exact < before
    assert np.all(np.diff(x2) > 0) and np.all(np.diff(y2) > 0)  # same orders, strictly


def test_permutation_nlp_of_the_identity_is_the_diagonal_optimum():
    """Points on the diagonal, sigma = identity: the NLP optimum for N = 1 is the golden
    one-point set, D* = (sqrt 5 - 1)/2."""
    from extremo.problems.star_discrepancy import plane_permutation_nlp

    value, x, y = plane_permutation_nlp(np.array([0]), np.array([0.5]), np.array([0.5]), maxiter=200)
    assert value == pytest.approx(GOLDEN, abs=1e-7)


@pytest.mark.parametrize("n", [4, 5, 6])
def test_permutation_search_reaches_the_proven_optima_of_small_sets(n):
    """From a random set, the descent over permutations finds the optimum of Clement et al."""
    from extremo.problems.star_discrepancy import plane_permutation_search

    rng = np.random.default_rng(0)
    pts, value = plane_permutation_search(rng.random((n, 2)), 40, rng)
    assert value == pytest.approx(problem(n).verify({"points": pts}).value, abs=1e-15)
    rec = problem(n).record()
    assert abs(value - rec.value) <= rec.tolerance


# ------------------------------------------------------------ exact optimum of a permutation
def _sigma(points):
    order = np.argsort(points[:, 0])
    return np.argsort(np.argsort(points[order, 1]))


def test_plane_counts_are_batched():
    from extremo.problems.star_discrepancy import plane_counts

    rng = np.random.default_rng(3)
    sigmas = np.stack([rng.permutation(6) for _ in range(4)])
    opened, closed = plane_counts(sigmas)
    for k in range(4):
        o, c = plane_counts(sigmas[k])
        assert np.array_equal(opened[k], o) and np.array_equal(closed[k], c)


def test_permutation_optimum_of_one_point_is_golden():
    """N = 1: D* = max(x, y, 1 - xy) over the box [0, (x, 1)), [0, (1, y)) and [0, (x, y)]:
    x = y = a with a = 1 - a^2, the golden a = (sqrt 5 - 1)/2."""
    from extremo.problems.star_discrepancy import plane_permutation_optimum

    value, x, y = plane_permutation_optimum(np.array([0]))
    assert value == pytest.approx(GOLDEN, rel=1e-12) and x[0] == pytest.approx(GOLDEN, rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_permutation_optimum_is_exact_keeps_the_permutation_and_beats_slsqp(seed):
    """The returned set has the permutation, strict orders and exactly the returned D*; SLSQP
    (a local solver on the same NLP) never finds a lower value; feasibility switches at it."""
    from extremo.problems.star_discrepancy import (
        plane_permutation_feasible, plane_permutation_nlp, plane_permutation_optimum)

    rng = np.random.default_rng(seed)
    n = 9
    sigma = rng.permutation(n)
    value, x, y = plane_permutation_optimum(sigma)
    pts = np.stack([x, y[sigma]], 1)
    assert problem(n).verify({"points": pts}).value == pytest.approx(value, abs=1e-15)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) > 0) and np.array_equal(_sigma(pts), sigma)
    assert np.all((pts > 0) & (pts < 1))
    x0, y0 = np.sort(rng.random(n)), np.sort(rng.random(n))
    assert value <= plane_permutation_nlp(sigma, x0, y0, maxiter=200)[0] + 1e-12
    levels = np.array([value * (1 + 1e-9), value * (1 - 1e-9)])
    ok = plane_permutation_feasible(np.stack([sigma, sigma]), levels)
    assert ok.tolist() == [True, False]


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_best_of_all_permutations_is_the_proven_optimum(n):
    """Exhaustive search (n! permutations, each solved exactly) gives the optima of Clement et
    al. to the table's 9 decimals: the exact solver is global, not a local NLP solution."""
    from extremo.problems.star_discrepancy import plane_permutation_optimum

    best = min(plane_permutation_optimum(np.array(s))[0] for s in itertools.permutations(range(n)))
    rec = problem(n).record()
    assert rec.proven_optimal and abs(best - rec.value) <= rec.tolerance == 1e-9


def test_permutation_moves_are_swaps_insertions_and_relocations():
    """Every neighbour is a permutation that a swap, or one point removed and reinserted (new
    x-rank, new y-rank or both), makes from sigma; all four kinds occur."""
    from extremo.problems.star_discrepancy import permutation_moves

    rng = np.random.default_rng(0)
    n = 7
    sigma = rng.permutation(n)
    pts = {(k, int(sigma[k])) for k in range(n)}
    kinds = set()
    for s in permutation_moves(sigma, 400, rng):
        assert sorted(s.tolist()) == list(range(n))
        if np.sum(s != sigma) == 2 and sorted(s[s != sigma]) == sorted(sigma[s != sigma]):
            kinds.add("swap")
            continue
        new = {(k, int(s[k])) for k in range(n)}

        def reduced(points, drop):  # relative order of the others without one point
            rest = [p for p in points if p != drop]
            xs, ys = sorted(p[0] for p in rest), sorted(p[1] for p in rest)
            return sorted((xs.index(p[0]), ys.index(p[1])) for p in rest)

        moved = [(p, q) for p in pts for q in new if reduced(pts, p) == reduced(new, q)]
        assert moved, s
        kinds |= {("x" if p[0] != q[0] else "") + ("y" if p[1] != q[1] else "") for p, q in moved}
    assert {"swap", "x", "y", "xy"} <= kinds


def test_neighbourhood_enumerates_relocations_and_swaps():
    """Index ``(a N + b) N + r`` relocates the point of x-rank a to x-rank b, y-rank r (the
    others keep their relative order); indices from N^3 on are the swaps; every row is a
    permutation, sigma itself among them (a point relocated onto its own ranks)."""
    from extremo.problems.star_discrepancy import permutation_neighbourhood

    rng = np.random.default_rng(4)
    n = 6
    sigma = rng.permutation(n)
    every = permutation_neighbourhood(sigma, np.arange(n**3 + n * (n - 1) // 2))
    assert all(sorted(s.tolist()) == list(range(n)) for s in every)
    for a, b, r in [(0, 3, 5), (4, 1, 0), (2, 2, 1)]:
        s = every[(a * n + b) * n + r]
        assert s[b] == r  # the moved point has x-rank b and y-rank r
        others = np.delete(s, b)
        expected = np.delete(sigma, a)
        assert np.array_equal(np.argsort(np.argsort(others)), np.argsort(np.argsort(expected)))
    assert np.array_equal(every[(1 * n + 1) * n + sigma[1]], sigma)  # relocation onto itself
    swaps = every[n**3:]
    assert len(swaps) == 15 and all(np.sum(s != sigma) == 2 for s in swaps)


def test_one_relocation_leaves_the_0_0607_local_optimum_for_the_optimum():
    """The permutation of a 0.060715 set at which the search without relocations stopped
    (N = 20): no swap and no insertion along one axis improves it, but one relocation of a
    point (new x-rank and new y-rank) reaches the optimum 0.060362899; all N^3 + N(N-1)/2
    neighbours tested, one feasibility test each."""
    from extremo.problems.star_discrepancy import (
        permutation_neighbourhood, plane_permutation_feasible, plane_permutation_optimum)

    sigma = np.array([4, 13, 1, 8, 16, 6, 10, 18, 2, 15, 7, 11, 0, 17, 9, 3, 14, 5, 19, 12])
    n = len(sigma)
    value = plane_permutation_optimum(sigma)[0]
    assert round(value, 6) == 0.060715
    index = np.arange(n**3 + n * (n - 1) // 2)
    a, b, r = np.minimum(index // (n * n), n - 1), index // n % n, index % n  # a, b, r: relocations
    single = (index >= n**3) | (a == b) | (r == sigma[a])  # swaps and one-axis insertions
    every = permutation_neighbourhood(sigma, index)
    assert not plane_permutation_feasible(every[single], value * (1 - 1e-9)).any()
    ok = plane_permutation_feasible(every[~single], 0.06045)
    assert ok.any()
    best = min(plane_permutation_optimum(s)[0] for s in every[~single][ok])
    rec = problem(n).record()
    assert abs(best - rec.value) <= rec.tolerance and rec.value == 0.060362899


# ------------------------------------------------------------ the proven optima of 2311.17463
#: objective z of the authors' solver in their optimal-set files (F. Clement, OptiSetsDiscrepancy,
#: "Final sets", 2024-02-22; file OC_k.jl) and the permutation of that set (point of x-rank k
#: has y-rank sigma[k])
AUTHORS = {
    13: ("OC_33", 0.08889646269872079, [0, 7, 10, 3, 4, 5, 9, 1, 11, 6, 12, 2, 8]),
    16: ("OC_36", 0.0738628429223964, [10, 3, 14, 7, 0, 5, 12, 4, 8, 1, 11, 6, 15, 2, 9, 13]),
    20: ("OC_40", 0.06036209739662064, [1, 11, 4, 17, 14, 6, 9, 0, 16, 7, 12, 2, 18, 10, 5, 15, 3, 19, 8, 13]),
    21: ("OC_40_bis", 0.05795401019269972,
         [12, 4, 9, 17, 1, 7, 14, 19, 5, 11, 0, 16, 8, 20, 3, 13, 6, 18, 10, 2, 15]),
}


def test_proven_optima_table_covers_n_1_to_21_with_the_source():
    for n in range(1, 22):
        rec = problem(n).record()
        assert rec.proven_optimal and "2311.17463" in rec.source and rec.date == "2024", n
        assert rec.tolerance == 1e-9  # 9 decimals
    assert problem(1).record().value == round(GOLDEN, 9)  # one point: the golden section
    assert problem(22).record() is None


@pytest.mark.parametrize("n", sorted(AUTHORS))
def test_proven_optimum_is_the_authors_permutation_solved_exactly(n):
    """The table's value is the exact optimum of the authors' optimal permutation: above their
    solver's objective by less than its tolerances (1.2e-6), and the set that attains it has
    exactly that D*. (N = 13 and 16 hit the rounding fallback of the exact solver.)"""
    from extremo.problems.star_discrepancy import plane_permutation_optimum

    _, z, sigma = AUTHORS[n]
    value, x, y = plane_permutation_optimum(np.array(sigma))
    rec = problem(n).record()
    assert abs(value - rec.value) <= rec.tolerance
    assert z <= rec.value < z + 1.2e-6
    pts = np.stack([x, y[sigma]], 1)
    assert problem(n).verify({"points": pts}).value == pytest.approx(value, abs=1e-15)
