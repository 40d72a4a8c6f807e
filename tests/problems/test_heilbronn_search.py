"""The square/triangle Heilbronn search moves: symmetric starts, relocation kicks, active-set polish."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import extremo.problems.heilbronn  # noqa: F401  (registers heilbronn)
from extremo.problems import make
from extremo.problems.heilbronn_common import emptiest_spot, triangle_areas

#: the stored n=13 square best (value 0.0270199166691), rounded to 6 digits
SQUARE13 = [[1.0, 0.344712], [0.0, 0.251464], [0.149246, 0.49987], [0.0, 0.912049], [0.461351, 0.0],
            [0.099262, 1.0], [0.901516, 0.654923], [0.902531, 0.103008], [0.633307, 0.671477],
            [0.441984, 0.238639], [0.614435, 0.912049], [1.0, 1.0], [0.087631, 0.035232]]
#: AlphaEvolve's n=11 triangle construction (value 0.0365298898800), rounded to 6 digits
TRIANGLE11 = [[0.210819, 0.365149], [0.549017, 0.950925], [0.449293, 0.0], [0.17426, 0.085801],
              [0.657776, 0.497616], [0.984482, 0.926975], [1.026949, 0.443569], [1.300792, 0.0],
              [1.410232, 0.189555], [0.77266, 1.122259], [0.889168, 0.204926]]


def problem(n, region="square"):
    return make("heilbronn", n=n, region=region)


@pytest.mark.parametrize(("n", "region", "k"), [(12, "square", 2), (12, "square", 4), (14, "square", 2),
                                                (12, "triangle", 3), (13, "triangle", 3)])
def test_rotation_symmetric_greedy_starts_are_orbits_inside_the_region(n, region, k):
    p = problem(n, region)
    assert k in p._rotations()
    pts = p._greedy(4, torch.Generator().manual_seed(0), k, torch.float64).numpy()
    c = p.vertices.mean(0)
    a = 2 * np.pi / k
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    for q in pts:
        v = p.verify(p.check_shapes({"points": q.tolist()}))
        assert v.feasible and v.value > 0.1 * p.h  # greedy: no near-collinear triple
        image = (q - c) @ rot.T + c
        # the image of every point is a point of the set
        assert np.abs(image[:, None] - q[None]).max(-1).min(1).max() < 1e-12


def test_greedy_starts_are_far_better_than_uniform_points():
    p = problem(12)
    g = torch.Generator().manual_seed(0)
    greedy = p._greedy(16, g, None, torch.float64)
    uniform = p._uniform((16, 12), g, torch.float64)
    assert p.value(torch.cat([greedy.flatten(1), torch.zeros(16, 1)], -1)).min() > \
        10 * p.value(torch.cat([uniform.flatten(1), torch.zeros(16, 1)], -1)).median()


def test_rotations_leave_out_orbits_with_three_on_a_line():
    # a half turn with an odd n would put the odd point at the centre, on a line with each pair
    assert problem(13)._rotations() == [] and problem(14)._rotations() == [2]
    assert problem(16)._rotations() == [2, 4] and problem(11, "triangle")._rotations() == []


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(5, 16), region=st.sampled_from(["square", "triangle"]),
       strength=st.floats(0.0, 0.2))
def test_kicks_keep_the_points_in_the_region(seed, n, region, strength):
    p = problem(n, region)
    g = torch.Generator().manual_seed(seed)
    kicked = p.kick(p.random(6, g), strength, g)
    # on an edge of the triangle up to rounding (the projection's), which the repair takes back
    assert float(p._outside(kicked[:, :-1].unflatten(-1, (n, 2))).max()) <= 1e-15
    for z in kicked.numpy():
        assert p.verify(p.to_config(p.repair(z))).feasible


def test_the_emptiest_spot_is_the_brute_force_best():
    rng = np.random.default_rng(3)
    n, k = 7, 40
    pts, spots = rng.random((2, n, 2)), rng.random((2, k, 2))
    who = np.array([2, 5])
    pairs = np.array(np.triu_indices(n, 1)).T
    got = emptiest_spot(torch.as_tensor(pts), torch.as_tensor(who), torch.as_tensor(spots), torch.as_tensor(pairs))
    for b in range(2):
        def smallest(s, b=b):
            q = pts[b].copy()
            q[who[b]] = s
            tri = np.array([t for t in p.triples if who[b] in t])
            return np.abs(triangle_areas(q, tri)).min()

        p = problem(n)
        best = max(range(k), key=lambda j: smallest(spots[b, j]))
        np.testing.assert_array_equal(got[b].numpy(), spots[b, best])


def test_a_kick_moves_the_crowded_point_to_where_it_makes_no_small_triangle():
    p = problem(9)
    g = torch.Generator().manual_seed(0)
    x = torch.cat([p._uniform((32, 9), g, torch.float64).flatten(1), torch.zeros(32, 1)], -1)
    kicked = p.kick(x, 0.0, g)  # strength 0: only the one relocation
    pts, new = x[:, :-1].unflatten(-1, (9, 2)), kicked[:, :-1].unflatten(-1, (9, 2))
    assert ((pts != new).any(-1).sum(-1) <= 1).all()
    # uniform points: a point of the smallest triangle, or the most crowded one, leaves it
    assert (p.value(kicked) >= p.value(x)).float().mean() > 0.8


@pytest.mark.parametrize(("points", "region"), [(SQUARE13, "square"), (TRIANGLE11, "triangle")])
@pytest.mark.parametrize("sigma", [0.0, 1e-3, 1e-2])
def test_the_polish_takes_a_perturbed_best_configuration_back_to_it(points, region, sigma):
    pts = np.array(points)
    n = len(pts)
    p = problem(n, region)
    best = {"square": 0.0270199166691111, "triangle": 0.036529889880030156}[region]
    start = pts + sigma * np.random.default_rng(0).standard_normal(pts.shape)
    z = p.polish(np.concatenate([start.ravel(), [0.0]]))
    v = p.verify(p.to_config(z))
    assert v.feasible and v.value == pytest.approx(best, rel=1e-10)
    assert p.repair(np.concatenate([start.ravel(), [0.0]]))[-1] < best * (1 - 1e-7)  # it had to move
