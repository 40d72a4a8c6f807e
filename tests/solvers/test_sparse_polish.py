"""The sparse polish (SLP on the near contacts, sparse Jacobians, LP radius repair) reaches the
same optimum as the dense SLSQP polish on small instances, and ends strictly feasible."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from extremo.problems import make
from extremo.problems.base import verify_vector
from extremo.solvers import slp


def test_slp_reaches_the_optimum_of_a_concave_constraint():
    """max x + y s.t. 1 - x^2 - y^2 >= 0: linearisations over-estimate the disc, so some steps
    are rejected by the score and the trust region adapts; optimum sqrt(2)."""

    def linearize(z, rho):
        return sp.csr_matrix(-2 * z[None, :]), np.array([1 - z @ z])

    def score(z):
        return float(z.sum()) if z @ z <= 1 else -math.inf

    res = slp(np.ones(2), linearize, score, np.zeros(2), np.full(2, -2.0), np.full(2, 2.0), rho=0.5)
    assert res.success
    assert res.fun == pytest.approx(math.sqrt(2), abs=1e-9)
    assert res.z @ res.z <= 1


def near_optimum(problem, seed):
    """A dense-polished packing, jiggled: both polishes should return to its optimum."""
    g = torch.Generator().manual_seed(seed)
    x = problem.random(1, g)[0].numpy()
    opt = problem.polish(problem.polish(x))
    rng = np.random.default_rng(seed)
    start = opt.copy()
    k = 1 if problem.free_aspect else 0
    start[k:] += rng.normal(0.0, 1e-4, problem.dim - k)
    return opt, start


@pytest.mark.parametrize("name,n,seed", [("circles-sum-radii", 8, 0), ("circles-sum-radii", 12, 1),
                                         ("circles-rect", 9, 2)])
def test_sparse_and_dense_polish_agree_on_small_instances(name, n, seed):
    p = make(name, n=n)
    opt, start = near_optimum(p, seed)
    dense, sparse = p.polish(start), p.sparse_polish(start)
    vd, vs = verify_vector(p, dense), verify_vector(p, sparse)
    assert vd.feasible and vs.feasible
    assert vs.value == pytest.approx(vd.value, rel=1e-9)
    assert vs.value == pytest.approx(verify_vector(p, opt).value, rel=1e-9)


@pytest.mark.slow
def test_sparse_polish_of_a_large_packing_is_feasible_and_monotone():
    p = make("circles-sum-radii", n=120)
    g = torch.Generator().manual_seed(3)
    x = p.random(1, g)[0].numpy()
    start = verify_vector(p, p._shrink(x))
    z = p.polish(x)  # n > DENSE_POLISH_MAX_N: the sparse polish
    v = verify_vector(p, z)
    assert start.feasible and v.feasible
    assert v.value > start.value


@pytest.mark.slow
def test_tammes_sparse_polish_raises_the_smallest_angle():
    p = make("tammes", n=120)  # 241 variables: above SLSQP's limit, the sparse SLP runs
    g = torch.Generator().manual_seed(5)
    x = p.random(1, g)[0].numpy()
    start = verify_vector(p, x)
    v = verify_vector(p, p.polish(x))
    assert v.feasible and v.value > start.value


def test_tammes_sparse_and_dense_polish_agree_near_an_optimum():
    p = make("tammes", n=12)  # the icosahedron, 63.4349488 degrees
    g = torch.Generator().manual_seed(6)
    opt = p.polish(p.polish(p.random(1, g)[0].numpy()))
    start = opt + np.random.default_rng(6).normal(0.0, 1e-4, opt.shape)
    u = p.to_config(start)["points"]
    sparse = verify_vector(p, p.from_config({"points": p._slp_polish(u, 1)}))
    dense = verify_vector(p, p.polish(start))
    assert sparse.value == pytest.approx(dense.value, abs=1e-7)


def test_maximin_slp_spreads_three_points_in_the_square():
    """max min |p_i - p_j| of 3 points in [0, 1]^2 is sec(15 deg) = sqrt(6) - sqrt(2)."""
    from extremo.solvers.maximin import maximin_slp
    from extremo.spatial import squared_distance

    def near(x, rho):
        return np.array([0, 0, 1]), np.array([1, 2, 2])

    def minimum(x):
        return min(float(np.sum((x[a] - x[b]) ** 2)) for a, b in ((0, 1), (0, 2), (1, 2)))

    x0 = np.array([[0.2, 0.3], [0.6, 0.2], [0.5, 0.7]])
    res = maximin_slp(squared_distance, near, minimum, x0, 0.0, 1.0, rho=0.05, maxiter=200)
    assert math.sqrt(res.fun) == pytest.approx(math.sqrt(6) - math.sqrt(2), abs=1e-9)
    assert res.z.min() >= 0 and res.z.max() <= 1


@pytest.mark.parametrize("n,d,seed", [(8, 2, 0), (13, 2, 1), (9, 3, 2)])
def test_points_sparse_and_dense_polish_agree_on_small_instances(n, d, seed):
    """The sparse SLP on the near pairs alone returns to the optimum that the full polish (SLP,
    then the dense SLSQP step) reaches from a jiggled local optimum."""
    p = make("points-min-distance", n=n, d=d)
    g = torch.Generator().manual_seed(seed)
    opt = p.polish(p.polish(p.random(1, g)[0].numpy()))
    start = opt.copy()
    start[:-1] = np.clip(start[:-1] + np.random.default_rng(seed).normal(0.0, 1e-4, n * d), 0.0, 1.0)
    dense, sparse = verify_vector(p, p.polish(start)), verify_vector(p, p.sparse_polish(start))
    assert dense.feasible and sparse.feasible
    assert sparse.value == pytest.approx(dense.value, rel=1e-9)
    assert sparse.value == pytest.approx(verify_vector(p, opt).value, rel=1e-9)


@pytest.mark.slow
def test_points_sparse_polish_of_many_points_raises_the_minimum_distance():
    p = make("points-min-distance", n=300, d=2)
    x = p.random(1, torch.Generator().manual_seed(7))[0].numpy()
    start, v = verify_vector(p, p.repair(x)), verify_vector(p, p.polish(x))
    assert v.feasible and v.value > start.value
