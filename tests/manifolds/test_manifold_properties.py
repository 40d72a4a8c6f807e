"""Property tests run on every manifold (one generic harness, hypothesis-driven)."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manifold_cases import CASES, IDS, ambient, assert_close, points, tangent

SEEDS = st.integers(0, 2**31 - 1)
FRACTIONS = st.floats(0.05, 1.0)
# the conftest's autouse store fixture is function-scoped and irrelevant here
prop = settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
pytestmark = pytest.mark.parametrize("case", CASES, ids=IDS)


@prop
@given(seed=SEEDS)
def test_random_and_origin_on_manifold(case, seed):
    m = case.make()
    assert m.check_point(points(m, seed)) == (True, None)
    o = m.origin(2, 3, dtype=torch.float64)
    assert o.shape == (2, 3, *m.point_shape)
    assert m.check_point(o) == (True, None)


@prop
@given(seed=SEEDS)
def test_projx_lands_on_manifold_and_is_idempotent(case, seed):
    m = case.make()
    y = m.projx(ambient(m, seed, scale=2.0))
    ok, reason = m.check_point(y)
    assert ok, reason
    assert_close(m.projx(y), y, atol=1e-7)
    x = points(m, seed)
    assert_close(m.projx(x), x, atol=1e-7)


@prop
@given(seed=SEEDS)
def test_proju_gives_tangent_vectors_and_is_idempotent(case, seed):
    m = case.make()
    x = points(m, seed)
    u = m.proju(x, ambient(m, seed))
    ok, reason = m.check_vector(x, u)
    assert ok, reason
    assert_close(m.proju(x, u), u)


@prop
@given(seed=SEEDS, frac=FRACTIONS)
def test_retr_and_expmap_stay_on_manifold(case, seed, frac):
    m = case.make()
    x = points(m, seed)
    u = tangent(m, x, seed, frac * case.radius)
    for y in (m.retr(x, u), m.expmap(x, u), m.retr_transp(x, u, u)[0]):
        ok, reason = m.check_point(y)
        assert ok, reason


@prop
@given(seed=SEEDS, frac=FRACTIONS)
def test_retr_transp_is_retr_then_transp(case, seed, frac):
    """The fused step the optimizers use equals the two separate operations."""
    m = case.make()
    x = points(m, seed)
    u, v = tangent(m, x, seed, frac * case.radius), tangent(m, x, seed + 7, 1.0)
    y, tv = m.retr_transp(x, u, v)
    assert_close(y, m.retr(x, u))
    assert_close(tv, m.transp(x, y, v))


@prop
@given(seed=SEEDS)
def test_retr_and_expmap_agree_to_first_order(case, seed):
    m = case.make()
    x = points(m, seed)
    u = tangent(m, x, seed, 1.0)
    t = 1e-6
    assert_close((m.retr(x, t * u) - x) / t, u, atol=1e-5, rtol=1e-5)
    assert_close((m.expmap(x, t * u) - x) / t, u, atol=1e-5, rtol=1e-5)


@prop
@given(seed=SEEDS, frac=FRACTIONS)
def test_logmap_inverts_expmap(case, seed, frac):
    m = case.make()
    x = points(m, seed)
    u = tangent(m, x, seed, frac * case.radius)
    assert_close(m.logmap(x, m.expmap(x, u)), u, atol=1e-7, rtol=1e-6)


@prop
@given(seed=SEEDS, frac=FRACTIONS)
def test_dist_is_norm_of_logmap_and_symmetric(case, seed, frac):
    m = case.make()
    x = points(m, seed)
    y = m.expmap(x, tangent(m, x, seed, frac * case.radius))
    d = m.dist(x, y)
    assert d.shape == x.shape[: x.dim() - m.ndim]
    assert_close(d, m.norm(x, m.logmap(x, y)))
    assert_close(d, m.dist(y, x))
    assert_close(d, torch.full_like(d, frac * case.radius), atol=1e-7)
    assert m.dist(x, y, keepdim=True).shape == d.shape + (1,) * m.ndim


@prop
@given(seed=SEEDS)
def test_dist_to_self_is_zero(case, seed):
    m = case.make()
    x = points(m, seed)
    assert_close(m.dist(x, x), torch.zeros(x.shape[: x.dim() - m.ndim], dtype=x.dtype), atol=1e-6)


@prop
@given(seed=SEEDS)
def test_egrad2rgrad_represents_the_differential(case, seed):
    """<grad f, v>_x = Df(x)[v] = <egrad, v>_F for every tangent v."""
    m = case.make()
    x = points(m, seed)
    g = ambient(m, seed + 5)
    r = m.egrad2rgrad(x, g)
    ok, reason = m.check_vector(x, r)
    assert ok, reason
    v = tangent(m, x, seed + 9, 1.0)
    lhs = m.inner(x, r, v)
    rhs = (g * v).reshape(*v.shape[: v.dim() - m.ndim], -1).sum(-1)
    assert_close(lhs, rhs)


@prop
@given(seed=SEEDS, frac=FRACTIONS)
def test_transport_lands_in_target_tangent_space(case, seed, frac):
    m = case.make()
    x = points(m, seed)
    y = m.expmap(x, tangent(m, x, seed, frac * case.radius))
    v, w = tangent(m, x, seed + 3, 1.0), tangent(m, x, seed + 4, 0.5)
    tv, tw = m.transp(x, y, v), m.transp(x, y, w)
    ok, reason = m.check_vector(y, tv)
    assert ok, reason
    if m.parallel_transport:
        assert_close(m.inner(y, tv, tw), m.inner(x, v, w))
        assert_close(m.transp(x, y, m.logmap(x, y)), -m.logmap(y, x), atol=1e-7)
        assert_close(m.transp(y, x, tv), v, atol=1e-7)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=SEEDS, frac=st.floats(0.2, 0.9))
def test_dist_gradient_matches_finite_differences(case, seed, frac):
    """Autograd gradient of d(., y) against central differences along geodesics, and
    against the closed form grad_x d(x, y) = -log_x(y) / d(x, y)."""
    m = case.make()
    x = points(m, seed)
    y = m.expmap(x, tangent(m, x, seed, frac * case.radius))
    xg = x.clone().requires_grad_(True)
    egrad = torch.autograd.grad(m.dist(xg, y).sum(), xg)[0]
    u = tangent(m, x, seed + 11, 1.0)
    h = 1e-5
    fd = (m.dist(m.expmap(x, h * u), y) - m.dist(m.expmap(x, -h * u), y)) / (2 * h)
    directional = (egrad * u).reshape(*u.shape[: u.dim() - m.ndim], -1).sum(-1)
    assert_close(directional, fd, atol=1e-6, rtol=1e-5)
    rgrad = m.egrad2rgrad(x, egrad)
    expected = -m.logmap(x, y) / m.dist(x, y, keepdim=True)
    assert_close(rgrad, expected, atol=1e-6, rtol=1e-5)


def test_batched_ops_match_one_by_one(case):
    m = case.make()
    x, y = points(m, 1, batch=(2, 3)), points(m, 2, batch=(2, 3))
    y = m.expmap(x, 0.5 * case.radius * m.logmap(x, y) / m.norm(x, m.logmap(x, y), keepdim=True))
    batched = m.dist(x, y)
    single = torch.stack([torch.stack([m.dist(x[i, j], y[i, j]) for j in range(3)]) for i in range(2)])
    assert_close(batched, single)
    # broadcasting one point against a batch
    assert_close(m.dist(x[0, :1], y[0]), torch.stack([m.dist(x[0, 0], y[0, j]) for j in range(3)]))


def test_dtype_follows_inputs(case):
    m = case.make()
    x = m.random(3, dtype=torch.float32)
    assert x.dtype == torch.float32
    u = m.proju(x, torch.randn_like(x))
    for out in (m.expmap(x, 0.1 * u), m.retr(x, 0.1 * u), m.logmap(x, m.retr(x, 0.1 * u)), m.dist(x, x), m.inner(x, u)):
        assert out.dtype == torch.float32
    assert m.origin(dtype=torch.float64).dtype == torch.float64


def test_check_point_explains_bad_shape_and_nan(case):
    m = case.make()
    x = points(m, 0)
    bad = torch.zeros(*x.shape[:-1], x.shape[-1] + 1, dtype=x.dtype)
    ok, reason = m.check_point(bad)
    assert not ok and "shape" in reason
    x = x.clone()
    x[(0,) * x.dim()] = float("nan")
    ok, reason = m.check_point(x)
    assert not ok and "NaN" in reason
    with pytest.raises(ValueError, match="NaN"):
        m.assert_check_point(x)
