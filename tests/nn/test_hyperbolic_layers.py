import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.manifolds import ManifoldParameter, PoincareBall
from extremo.nn import FromPoincare, HyperbolicMLR, MobiusLinear, ToPoincare, mobius_matvec
from extremo.optim import RiemannianAdam

F64 = torch.float64


def _points(batch, n, c, seed):
    ball = PoincareBall(n, c)
    return ball, ball.random(batch, dtype=F64, generator=torch.Generator().manual_seed(seed))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5), st.integers(1, 5), st.floats(0.1, 3.0), st.integers(0, 10_000))
def test_mobius_matvec_is_exp0_of_the_linear_map_of_log0(n_in, n_out, c, seed):
    """Ganea et al. 2018: ``M (x)_c x = exp_0(M log_0 x)``; and ``(M M') (x) x = M (x) (M' (x) x)``."""
    ball_in, x = _points(6, n_in, c, seed)
    ball_out = PoincareBall(n_out, c)
    g = torch.Generator().manual_seed(seed + 1)
    v = ball_in.logmap0(x)
    m = torch.randn(n_out, n_in, generator=g, dtype=F64)
    y = mobius_matvec(ball_out, m, x)
    assert torch.allclose(y, ball_out.expmap0(v @ m.T), atol=1e-9)
    # The composition law holds off the ball's clip: keep sqrt(c) |M v| <= 2 and |M2| <= 1.
    m = m * (2.0 / (c**0.5 * torch.linalg.matrix_norm(m, ord=2) * v.norm(dim=-1).max()))
    y = mobius_matvec(ball_out, m, x)
    m2 = torch.randn(n_out, n_out, generator=g, dtype=F64)
    m2 = m2 / torch.linalg.matrix_norm(m2, ord=2)
    assert torch.allclose(mobius_matvec(ball_out, m2, y), mobius_matvec(ball_out, m2 @ m, x), atol=1e-8)


def test_mobius_matvec_of_a_zero_image_is_the_origin():
    ball, x = _points(3, 2, 1.0, 0)
    assert torch.equal(mobius_matvec(ball, torch.zeros(2, 2, dtype=F64), x), torch.zeros(3, 2, dtype=F64))


def test_to_and_from_poincare_invert_each_other():
    v = 0.7 * torch.randn(10, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    y = ToPoincare(3, c=0.5)(v)
    assert (0.5 * (y * y).sum(-1) < 1).all()
    assert torch.allclose(FromPoincare(3, c=0.5)(y), v, atol=1e-10)


def test_mobius_linear_is_the_identity_with_identity_weight_and_zero_bias():
    layer = MobiusLinear(3, 3, c=2.0, dtype=F64)
    assert isinstance(layer.bias, ManifoldParameter)
    with torch.no_grad():
        layer.weight.copy_(torch.eye(3, dtype=F64))
    _, x = _points(5, 3, 2.0, 1)
    assert torch.allclose(layer(x), x, atol=1e-12)


def test_mobius_linear_output_stays_in_the_ball_and_refuses_wrong_widths():
    layer = MobiusLinear(4, 2, c=1.0, dtype=F64)
    with torch.no_grad():
        layer.weight.mul_(50.0)
    _, x = _points(100, 4, 1.0, 2)
    assert ((layer(x) ** 2).sum(-1) < 1).all()
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        layer(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="must be positive"):
        MobiusLinear(2, 2, c=0.0)


def test_mlr_logit_is_the_scaled_signed_distance_to_the_gyroplane():
    """In 2-D the gyroplane ``{p (+) t a_perp}`` is a curve: its distance to ``x`` by a dense scan."""
    c = 0.8
    mlr = HyperbolicMLR(2, 1, c=c, dtype=F64)
    ball = mlr.ball
    with torch.no_grad():
        mlr.offset.copy_(torch.tensor([[0.3, -0.2]], dtype=F64))
        mlr.normal.copy_(torch.tensor([[0.6, 0.8]], dtype=F64))
    p = mlr.offset.detach()[0]
    a = mlr.normal.detach()[0] * (1 - c * p.dot(p))
    perp = torch.tensor([-a[1], a[0]]) / a.norm()
    t = torch.linspace(-1, 1, 400_001, dtype=F64)[1:-1, None] / c**0.5
    curve = ball.mobius_add(p.expand(len(t), 2), t * perp)
    for x in ([0.5, 0.4], [-0.4, -0.5], [0.0, 0.1]):
        x = torch.tensor(x, dtype=F64)
        logit = mlr(x)[0]
        dist = ball.dist(x.expand(len(t), 2), curve).min()
        lam = 2 / (1 - c * p.dot(p))
        assert torch.isclose(logit.abs(), lam * a.norm() * dist, rtol=1e-6)
        side = torch.sign(ball.mobius_add(-p, x).dot(a))
        assert torch.sign(logit) == side


def test_mlr_tends_to_euclidean_logistic_regression_as_curvature_vanishes():
    c = 1e-8
    mlr = HyperbolicMLR(3, 4, c=c, dtype=F64)
    with torch.no_grad():
        mlr.offset.copy_(0.1 * torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=F64))
    x = 0.5 * torch.randn(7, 3, generator=torch.Generator().manual_seed(1), dtype=F64)
    euclid = 4 * ((x[:, None, :] - mlr.offset.detach()) * mlr.normal.detach()).sum(-1)
    assert torch.allclose(mlr(x), euclid, rtol=1e-5, atol=1e-7)
    assert abs(mlr(mlr.offset.detach()[2])[2].item()) < 1e-12  # x = p_k lies on gyroplane k


def test_hyperbolic_network_learns_two_blobs_and_keeps_its_ball_parameters_in_the_ball():
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.randn(64, 2, generator=g) * 0.3 + torch.tensor([1.0, 0.5]),
                   torch.randn(64, 2, generator=g) * 0.3 - torch.tensor([1.0, 0.5])])
    y = torch.cat([torch.zeros(64, dtype=torch.long), torch.ones(64, dtype=torch.long)])
    torch.manual_seed(0)
    model = torch.nn.Sequential(ToPoincare(2), MobiusLinear(2, 4), HyperbolicMLR(4, 2))
    opt = RiemannianAdam(model.parameters(), lr=0.05)
    for _ in range(80):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    assert (model(x).argmax(-1) == y).float().mean() >= 0.95
    for prm in (model[1].bias, model[2].offset):
        assert ((prm.detach() ** 2).sum(-1) < 1).all()
