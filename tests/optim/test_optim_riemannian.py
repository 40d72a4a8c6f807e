"""Riemannian optimizers: torch parity on plain parameters, geoopt trajectories, state_dict, Frechet mean."""

import copy
import pickle

import pytest
import torch

from extremo.manifolds import (
    SPD,
    Euclidean,
    Grassmann,
    Lorentz,
    ManifoldParameter,
    PoincareBall,
    Product,
    Sphere,
    Stiefel,
)
from extremo.optim import RiemannianAdam, RiemannianSGD, frechet_mean

D = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def run(opt_cls, params, loss_fn, steps, **kw):
    opt = opt_cls(params, **kw)
    for _ in range(steps):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    return opt


# --- plain parameters behave exactly like torch.optim --------------------------------------

@pytest.mark.parametrize("kw", [dict(lr=0.05), dict(lr=0.05, momentum=0.9), dict(lr=0.05, momentum=0.9, nesterov=True),
                                dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.1)])
def test_sgd_matches_torch_on_plain_parameters(kw):
    target = torch.randn(5, 3, dtype=D, generator=gen(0))
    p0 = torch.randn(5, 3, dtype=D, generator=gen(1))
    a, b = torch.nn.Parameter(p0.clone()), torch.nn.Parameter(p0.clone())
    run(RiemannianSGD, [a], lambda: ((a - target) ** 4).sum(), 20, **kw)
    run(torch.optim.SGD, [b], lambda: ((b - target) ** 4).sum(), 20, **kw)
    torch.testing.assert_close(a, b, atol=1e-14, rtol=0)


@pytest.mark.parametrize("kw", [dict(lr=0.05), dict(lr=0.05, amsgrad=True), dict(lr=0.05, weight_decay=0.1, betas=(0.8, 0.99))])
def test_adam_matches_torch_on_plain_and_euclidean_parameters(kw):
    target = torch.randn(5, 3, dtype=D, generator=gen(0))
    p0 = torch.randn(5, 3, dtype=D, generator=gen(1))
    a, b = torch.nn.Parameter(p0.clone()), torch.nn.Parameter(p0.clone())
    c = ManifoldParameter(p0.clone(), Euclidean())
    loss = lambda p: ((p - target) ** 4).sum()  # noqa: E731
    run(RiemannianAdam, [a], lambda: loss(a), 25, **kw)
    run(torch.optim.Adam, [b], lambda: loss(b), 25, foreach=False, **kw)
    run(RiemannianAdam, [c], lambda: loss(c), 25, **kw)
    torch.testing.assert_close(a, b, atol=1e-14, rtol=0)
    torch.testing.assert_close(c.data, b.data, atol=1e-12, rtol=0)


# --- manifold parameters: trajectories against geoopt -------------------------------------

def _stiefel_problem():
    a = torch.randn(6, 10, 10, dtype=D, generator=gen(2))
    a = a + a.mT
    x0 = Stiefel(10, 3).random(6, dtype=D, generator=gen(3))
    return Stiefel(10, 3), x0, lambda x: -(x.mT @ a @ x).diagonal(dim1=-2, dim2=-1).sum()


def _poincare_problem():
    ball = PoincareBall(2, c=1.0)
    targets = ball.random(40, dtype=D, generator=gen(4), std=0.6)
    x0 = ball.random(40, dtype=D, generator=gen(5), std=0.6)
    return ball, x0, lambda x: ball.dist(x, targets.flip(0)).pow(2).sum()


def _spd_problem():
    man = SPD(3)
    y = man.random(4, dtype=D, generator=gen(6))
    x0 = man.random(4, dtype=D, generator=gen(7))
    return man, x0, lambda x: (x - y).pow(2).sum() + torch.logdet(x).pow(2).sum()


def _sphere_problem():
    a = torch.randn(5, 8, 8, dtype=D, generator=gen(8))
    a = a + a.mT
    x0 = Sphere(8).random(5, dtype=D, generator=gen(9))
    return Sphere(8), x0, lambda x: (x[..., None, :] @ a @ x[..., :, None]).sum()


class _LorentzExpRetraction(Lorentz):
    """geoopt's Lorentz retracts by the exponential map; ours by projection (a test-only twin)."""

    def retr(self, x, u):
        return self.expmap(x, u)


def _lorentz_problem():
    man = _LorentzExpRetraction(4, c=1.5)
    targets = man.random(30, dtype=D, generator=gen(10), std=0.7)
    x0 = man.random(30, dtype=D, generator=gen(11), std=0.7)
    return man, x0, lambda x: man.dist(x, targets).pow(2).sum()


def _geoopt_twin(man):
    geoopt = pytest.importorskip("geoopt")
    if isinstance(man, Stiefel):
        return geoopt.EuclideanStiefel()
    if isinstance(man, PoincareBall):
        return geoopt.PoincareBall(c=torch.tensor(man.c, dtype=D))
    if isinstance(man, SPD):
        return geoopt.SymmetricPositiveDefinite()
    if isinstance(man, Lorentz):
        return geoopt.Lorentz(k=torch.tensor(1.0 / man.c, dtype=D))
    return geoopt.Sphere()


@pytest.mark.parametrize("problem", [_stiefel_problem, _poincare_problem, _spd_problem, _lorentz_problem],
                         ids=["stiefel", "poincare", "spd", "lorentz"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_trajectory_matches_geoopt(problem, amsgrad):
    geoopt = pytest.importorskip("geoopt")
    man, x0, loss = problem()
    ours = ManifoldParameter(x0.clone(), man)
    ref = geoopt.ManifoldParameter(x0.clone(), manifold=_geoopt_twin(man))
    kw = dict(lr=0.02, amsgrad=amsgrad, weight_decay=0.01)
    run(RiemannianAdam, [ours], lambda: loss(ours), 30, **kw)
    run(geoopt.optim.RiemannianAdam, [ref], lambda: loss(ref), 30, **kw)
    torch.testing.assert_close(ours.data, ref.data, atol=1e-9, rtol=1e-8)
    assert man.check_point(ours.data)[0]


@pytest.mark.parametrize("problem", [_stiefel_problem, _poincare_problem, _spd_problem, _sphere_problem, _lorentz_problem],
                         ids=["stiefel", "poincare", "spd", "sphere", "lorentz"])
def test_sgd_trajectory_matches_geoopt(problem):
    geoopt = pytest.importorskip("geoopt")
    man, x0, loss = problem()
    ours = ManifoldParameter(x0.clone(), man)
    ref = geoopt.ManifoldParameter(x0.clone(), manifold=_geoopt_twin(man))
    kw = dict(lr=0.01, weight_decay=0.01)
    run(RiemannianSGD, [ours], lambda: loss(ours), 30, **kw)
    run(geoopt.optim.RiemannianSGD, [ref], lambda: loss(ref), 30, **kw)
    torch.testing.assert_close(ours.data, ref.data, atol=1e-10, rtol=1e-9)


def test_sgd_momentum_follows_torch_convention_and_transports():
    """First step puts the Riemannian gradient in the buffer (torch.optim.SGD convention),
    then the buffer is transported: it stays tangent at the new point."""
    man, x0, loss = _stiefel_problem()
    p = ManifoldParameter(x0.clone(), man)
    opt = RiemannianSGD([p], lr=0.01, momentum=0.9)
    opt.zero_grad()
    loss(p).backward()
    rgrad = man.egrad2rgrad(p.data, p.grad)
    opt.step()
    buf = opt.state[p]["momentum_buffer"]
    torch.testing.assert_close(p.data, man.retr(x0, -0.01 * rgrad))
    torch.testing.assert_close(buf, man.transp(x0, p.data, rgrad))
    assert man.check_vector(p.data, buf)[0]


@pytest.mark.parametrize("opt_cls,kw", [(RiemannianSGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
                                        (RiemannianAdam, dict(lr=0.1, amsgrad=True))])
def test_optimizers_find_the_leading_eigenspace(opt_cls, kw):
    a = torch.randn(12, 12, dtype=D, generator=gen(11))
    a = a @ a.mT / 12
    w, v = torch.linalg.eigh(a)
    for man in (Stiefel(12, 3), Grassmann(12, 3), Stiefel(12, 3, metric="canonical", retraction="cayley")):
        x = ManifoldParameter(man.random(dtype=D, generator=gen(12)), man)
        run(opt_cls, [x], lambda: -(x.mT @ a @ x).trace(), 600, **kw)
        assert man.check_point(x.data)[0]
        proj = x.data @ x.data.mT
        torch.testing.assert_close(proj, v[:, -3:] @ v[:, -3:].mT, atol=1e-4, rtol=0)


def test_state_dict_round_trip_resumes_identically():
    man, x0, loss = _poincare_problem()
    plain0 = torch.randn(3, dtype=D, generator=gen(1))

    def make():
        p = ManifoldParameter(x0.clone(), man)
        q = torch.nn.Parameter(plain0.clone())
        return p, q, RiemannianAdam([{"params": [p]}, {"params": [q], "lr": 0.05}], lr=0.02, amsgrad=True)

    def steps(p, q, opt, n):
        for _ in range(n):
            opt.zero_grad()
            (loss(p) + (q**2).sum()).backward()
            opt.step()

    p, q, opt = make()
    steps(p, q, opt, 10)
    p2, q2, opt2 = make()
    steps(p2, q2, opt2, 5)
    state = pickle.loads(pickle.dumps(opt2.state_dict()))
    p3, q3, opt3 = make()
    p3.data.copy_(p2.data)
    q3.data.copy_(q2.data)
    opt3.load_state_dict(state)
    assert opt3.param_groups[1]["lr"] == 0.05
    steps(p3, q3, opt3, 5)
    torch.testing.assert_close(p3.data, p.data, atol=0, rtol=0)
    torch.testing.assert_close(q3.data, q.data, atol=0, rtol=0)


def test_adam_is_adaptive_per_product_factor():
    man = Product(Sphere(3), PoincareBall(2), Euclidean())
    x = ManifoldParameter(man.origin(4, dtype=D), man)
    opt = RiemannianAdam([x], lr=0.01)
    x.grad = torch.randn(4, 6, dtype=D, generator=gen(0))
    opt.step()
    v = opt.state[x]["exp_avg_sq"]
    assert v.shape == (4, 6)
    sphere_v, ball_v, eucl_v = man.split(v)
    assert torch.all(sphere_v == sphere_v[..., :1]) and torch.all(ball_v == ball_v[..., :1])
    assert not torch.allclose(sphere_v[..., 0], ball_v[..., 0])
    assert man.check_point(x.data)[0]


def test_stabilize_reprojects():
    man, x0, loss = _stiefel_problem()
    x = ManifoldParameter(x0.clone(), man)
    run(RiemannianAdam, [x], lambda: loss(x), 4, lr=0.01, stabilize=2)
    assert man.check_point(x.data, atol=1e-13, rtol=0)[0]


def test_bad_hyperparameters_are_rejected():
    p = torch.nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match="Nesterov"):
        RiemannianSGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="learning rate"):
        RiemannianAdam([p], lr=-1.0)


# --- ManifoldParameter ----------------------------------------------------------------------

def test_manifold_parameter_checks_its_data_and_explains():
    with pytest.raises(ValueError, match=r"X\^T X != I"):
        ManifoldParameter(torch.randn(5, 2), Stiefel(5, 2))
    with pytest.raises(ValueError, match="shape"):
        ManifoldParameter(torch.eye(3), Stiefel(5, 2))
    with pytest.raises(ValueError, match="positive definite"):
        ManifoldParameter(-torch.eye(3), SPD(3))
    p = ManifoldParameter(manifold=Sphere(4))
    assert isinstance(p, torch.nn.Parameter) and p.requires_grad and p.shape == (4,)


def test_manifold_parameter_survives_copy_pickle_and_module_state_dict():
    man = SPD(3, metric="generalized_bw", M=2 * torch.eye(3))
    p = ManifoldParameter(man.random(2), man)
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert isinstance(q, ManifoldParameter) and q.manifold == man
        torch.testing.assert_close(q.data, p.data)
    module = torch.nn.Module()
    module.w = ManifoldParameter(Stiefel(4, 2).random(), Stiefel(4, 2))
    other = torch.nn.Module()
    other.w = ManifoldParameter(Stiefel(4, 2).origin(), Stiefel(4, 2))
    other.load_state_dict(module.state_dict())
    torch.testing.assert_close(other.w.data, module.w.data)
    assert isinstance(other.w, ManifoldParameter)
    assert isinstance(copy.deepcopy(module).w, ManifoldParameter)


# --- Frechet mean ---------------------------------------------------------------------------

def test_frechet_mean_euclidean_and_weights():
    x = torch.randn(3, 7, 2, dtype=D, generator=gen(0))
    w = torch.rand(3, 7, dtype=D, generator=gen(1))
    torch.testing.assert_close(frechet_mean(Euclidean(2), x), x.mean(-2))
    torch.testing.assert_close(frechet_mean(Euclidean(2), x, w), (w[..., None] * x).sum(-2) / w.sum(-1)[..., None])


def test_frechet_mean_of_symmetric_configuration_is_the_center():
    sph = Sphere(3)
    center = sph.random(4, dtype=D, generator=gen(2))
    u = sph.random_tangent(center, gen(3))
    pts = torch.stack([sph.expmap(center, 0.7 * u), sph.expmap(center, -0.7 * u)], -2)
    torch.testing.assert_close(frechet_mean(sph, pts), center, atol=1e-8, rtol=0)


def test_frechet_mean_spd_commuting_matrices_is_log_mean():
    d = torch.rand(5, 3, dtype=D, generator=gen(4)) + 0.2
    pts = torch.diag_embed(d)
    expected = torch.diag_embed(torch.log(d).mean(0).exp())
    torch.testing.assert_close(frechet_mean(SPD(3), pts), expected)
    torch.testing.assert_close(frechet_mean(SPD(3, "log_euclidean"), pts), expected)


@pytest.mark.parametrize("man", [PoincareBall(3), Grassmann(5, 2), SPD(3, "bures_wasserstein"), Product(Sphere(3), SPD(2))],
                         ids=["poincare", "grassmann", "spd-bw", "product"])
def test_frechet_mean_satisfies_first_order_condition(man):
    center = man.random(2, dtype=D, generator=gen(5))
    pts = torch.stack([man.expmap(center, 0.2 * man.random_tangent(center, gen(6 + i))) for i in range(6)], -man.ndim - 1)
    res = frechet_mean(man, pts, tol=1e-10, return_info=True)
    assert res.converged and res.mean.shape == center.shape
    grad = man.logmap(res.mean.unsqueeze(-man.ndim - 1), pts).mean(-man.ndim - 1)
    assert float(man.norm(res.mean, grad).max()) < 1e-9
