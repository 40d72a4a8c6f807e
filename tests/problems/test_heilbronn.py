import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import extremo.problems.heilbronn  # noqa: F401  (registers heilbronn)
from extremo.cli import app
from extremo.problems import ProblemError, make
from extremo.search.local import LocalSearch

CORNERS = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]
#: a valid 5-point configuration in the square (hand-checked smallest area 1/6)
FIVE = [[0.0, 0.0], [1.0, 0.0], [1.0, 0.5], [0.5, 1.0], [0.0, 2.0 / 3.0]]


def problem(n, region="square"):
    return make("heilbronn", n=n, region=region)


def verdict(n, points, region="square"):
    p = problem(n, region)
    return p.verify(p.check_shapes({"points": points}))


def brute_force(points):
    p = np.asarray(points, dtype=float)
    n = len(p)
    return min(
        abs((p[j, 0] - p[i, 0]) * (p[k, 1] - p[i, 1]) - (p[j, 1] - p[i, 1]) * (p[k, 0] - p[i, 0])) / 2
        for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n)
    )


def test_square_corners_are_optimal_for_four_points():
    v = verdict(4, CORNERS)
    assert v.feasible and v.value == 0.5 and "smallest triangle (" in v.detail
    assert problem(4).record().value == 0.5


def test_triangle_vertices_give_the_whole_area():
    p = problem(3, "triangle")
    v = verdict(3, p.vertices.tolist(), "triangle")
    assert v.feasible and v.value == pytest.approx(1.0, abs=1e-15)
    assert p.area == pytest.approx(1.0, abs=1e-15)


def test_objective_matches_hand_computation():
    # triangles of FIVE: (0,1,2) = 1/4, (1,2,3) = 1/8, (0,3,4) = 1/6, ...; the brute force decides
    v = verdict(5, FIVE)
    assert v.feasible and v.value == pytest.approx(brute_force(FIVE), rel=1e-15)
    assert v.value == pytest.approx(0.125, rel=1e-15)


def test_value_and_relaxation_agree_with_the_brute_force():
    rng = np.random.default_rng(1)
    p = problem(9)
    pts = rng.random((9, 2))
    import torch

    x = torch.as_tensor(p.from_config({"points": pts}))[None]
    assert float(p.value(x)[0]) == pytest.approx(brute_force(pts), rel=1e-14)
    areas = np.array([abs(np.linalg.det(np.array([pts[j] - pts[i], pts[k] - pts[i]]))) / 2
                      for i, j, k in p.triples]) / p.h
    mu = 10.0
    assert float(p.relaxed(x, mu)[0]) == pytest.approx(np.log(np.exp(-mu * areas).sum()) / mu, rel=1e-12)
    # the soft minimum lies within log(C(n, 3)) / mu above -min and reaches it as mu grows
    assert -brute_force(pts) / p.h <= float(p.relaxed(x, 1e7)[0]) <= -brute_force(pts) / p.h + np.log(84) / 1e7


@pytest.mark.parametrize("region", ["square", "triangle"])
def test_random_starts_lie_in_the_region_and_about_half_are_mirror_symmetric(region):
    import torch

    from extremo.problems.heilbronn import MIRRORS

    p = problem(13, region)  # 13 points: no rotation fits the square; the triangle's third of a turn does
    x = p.random(64, torch.Generator().manual_seed(0))
    pts = x[:, :-1].unflatten(-1, (13, 2)).numpy()
    assert all(p.verify(p.check_shapes({"points": q.tolist()})).feasible for q in pts)
    symmetric = 0
    for q in pts:
        for m, b in MIRRORS[region]:
            image = q @ m + b  # a point set mapped onto itself
            symmetric += np.abs(image[:, None] - q[None]).max(-1).min(1).max() < 1e-12
    expect = 32 * len(MIRRORS[region]) / (len(MIRRORS[region]) + len(p._rotations()))
    assert expect / 2 <= symmetric <= 1.5 * expect


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 4), axis=st.integers(0, 1), side=st.booleans(),
       eps=st.floats(1e-300, 1.0, allow_nan=False))
def test_a_point_pushed_out_of_the_square_is_rejected(k, axis, side, eps):
    pts = np.array(FIVE)
    # at least one float step beyond the side: 1 + eps rounds to 1 for eps below 1.1e-16
    pts[k, axis] = max(1.0 + eps, np.nextafter(1.0, 2.0)) if side else -eps
    v = verdict(5, pts.tolist())
    assert not v.feasible and f"point {k} lies outside" in v.reason


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 2), eps=st.floats(1e-15, 1e-3, allow_nan=False))
def test_a_vertex_pushed_out_of_the_triangle_is_rejected(k, eps):
    p = problem(3, "triangle")
    pts = p.vertices.copy()
    c = pts.mean(0)
    pts[k] = pts[k] + eps * (pts[k] - c) + eps * np.array([0.0, -1.0 if k < 2 else 1.0])
    assert (pts[k] != p.vertices[k]).any()  # eps >= 1e-15 moves the vertex by a float step or more
    v = p.verify(p.check_shapes({"points": pts.tolist()}))
    assert not v.feasible and "outside the triangle" in v.reason


def test_the_triangle_boundary_is_decided_exactly():
    p = problem(3, "triangle")
    v = p.vertices
    mid = (v[1] + v[2]) / 2  # rounded midpoint: exactly on, inside or outside the edge line
    pts = np.array([v[0], v[1], mid])
    got = p.verify(p.check_shapes({"points": pts.tolist()}))
    from fractions import Fraction as F

    det = (F(v[2, 0]) - F(v[1, 0])) * (F(mid[1]) - F(v[1, 1])) - (F(v[2, 1]) - F(v[1, 1])) * (F(mid[0]) - F(v[1, 0]))
    assert got.feasible == (det >= 0)
    assert p.repair(p.from_config({"points": pts}))[-1] > 0
    assert p.verify(p.to_config(p.repair(p.from_config({"points": pts})))).feasible


@settings(max_examples=40, deadline=None)
@given(i=st.integers(0, 4), s=st.floats(0.0, 1.0))
def test_three_collinear_points_give_value_zero(i, s):
    pts = np.array(FIVE)
    a, b = pts[(i + 1) % 5], pts[(i + 2) % 5]
    pts[i] = a + s * (b - a) if s not in (0.0, 1.0) else a  # on the segment, or coincident
    v = verdict(5, pts.tolist())
    assert v.feasible and v.value <= 1e-16


@pytest.mark.parametrize("kw, message", [
    ({"n": 2}, "out of range"), ({"n": 17}, "out of range"), ({"n": 5, "region": "disk"}, "not one of"),
])
def test_bad_instances_give_one_line_errors(kw, message):
    with pytest.raises(ProblemError, match=message) as e:
        make("heilbronn", **kw)
    assert "\n" not in str(e.value) and "heilbronn" in str(e.value)


def test_repair_and_polish_end_feasible_in_the_triangle():
    p = problem(6, "triangle")
    x = np.concatenate([np.random.default_rng(0).normal(0.7, 0.6, 12), [0.0]])
    z = p.polish(x)
    v = p.verify(p.to_config(z))
    assert v.feasible and v.value == pytest.approx(z[-1]) and v.value > 0


@pytest.mark.parametrize("region, sane", [("square", 0.19), ("triangle", 0.10)])
def test_short_local_search_reaches_a_sane_value(region, sane):
    p = problem(5, region)
    search = LocalSearch(p, seed=0)
    for _ in range(2):  # rounds, not seconds: the machine's load must not decide
        search.step()
    best = search.state.best
    assert best is not None and best.value >= sane
    assert p.verify(p.to_config(best.x)).feasible


def test_cli_verify_a_file(tmp_path):
    runner = CliRunner()
    good = tmp_path / "h.json"
    good.write_text(json.dumps({"problem": "heilbronn", "instance": {"n": 4, "region": "square"},
                                "points": CORNERS}))
    result = runner.invoke(app, ["verify", str(good)])
    assert result.exit_code == 0 and "0.5" in result.output
    bad = tmp_path / "b.json"
    bad.write_text(json.dumps({"problem": "heilbronn", "instance": {"n": 4},
                               "points": [[0, 0], [1, 0], [1, 1.5], [0, 1]]}))
    result = runner.invoke(app, ["verify", str(bad)])
    assert result.exit_code == 1 and "point 2 lies outside" in result.output


def test_records_are_sourced():
    assert problem(13).record().value == 0.0270199166691111  # Karpov, tightened 2026
    assert problem(15).record().value == 0.0212105410054906  # Sudermann-Merx 2026
    assert problem(11, "triangle").record().value == pytest.approx(0.036529889880030156, rel=1e-15)
    assert problem(5).record().value == pytest.approx(math.sqrt(3) / 9)
    assert problem(7, "triangle").record().exact == "7/72"  # Zeng and Chen 2019
    assert problem(4, "triangle").record() is None


# ---------------------------------------------------------------- region convex
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(3, 16))
def test_hull_indices_are_scipys_hull_counterclockwise(seed, n):
    from scipy.spatial import ConvexHull

    from extremo.problems.heilbronn_common import hull_indices, polygon_area

    pts = np.random.default_rng(seed).random((n, 2))
    ring = hull_indices(pts)
    assert set(ring.tolist()) == set(ConvexHull(pts).vertices.tolist())
    assert polygon_area(pts, ring) == pytest.approx(ConvexHull(pts).volume, rel=1e-12)  # > 0: counterclockwise


def test_convex_polish_turns_a_perturbed_hexagon_into_the_regular_one():
    """Six points: the affine-regular hexagon, ratio 1/6, is optimal (Dress, Yang and Zeng); the
    polish of a perturbed one reaches it and no further."""
    p = problem(6, "convex")
    t = np.arange(6) * np.pi / 3
    hexagon = np.stack([np.cos(t), np.sin(t)], 1)
    rng = np.random.default_rng(0)
    start = hexagon + 0.05 * rng.standard_normal((6, 2))
    z0, z = p.repair(start.ravel()), p.polish(start.ravel())
    before, after = (p.verify(p.to_config(v)).value for v in (z0, z))
    assert before < 1 / 6 - 1e-3
    assert after == pytest.approx(1 / 6, abs=1e-9)


def test_convex_starts_fill_the_unit_square_with_many_points_on_the_hull():
    import torch

    from extremo.problems.heilbronn_common import hull_indices

    p = problem(13, "convex")
    pts = p.random(64, torch.Generator().manual_seed(0)).unflatten(-1, (13, 2)).numpy()
    np.testing.assert_array_equal(pts.min(1), 0.0)
    np.testing.assert_array_equal(pts.max(1), 1.0)
    on_hull = [len(hull_indices(q)) for q in pts]
    assert np.median(on_hull) >= 6.5  # most points near the ellipse, not the 5 or so of uniform points
    kicked = p.kick(torch.as_tensor(pts.reshape(64, -1)), 0.05, torch.Generator().manual_seed(1))
    assert kicked.shape == (64, 26) and float(kicked.min()) == 0.0 and float(kicked.max()) == 1.0
