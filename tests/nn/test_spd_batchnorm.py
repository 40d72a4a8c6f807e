"""SPD batch normalization: the normalised batch has the bias as Frechet mean and the target dispersion;
equal to spd-learn's SPDBatchNormMeanVar and SPDBatchNormLie for the same parameters."""

import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extremo.manifolds import SPD
from extremo.nn import SPDBatchNorm
from extremo.optim import RiemannianAdam

D = torch.float64
prop = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
CASES = [
    ("affine", {}),
    ("affine", {"lie": True}),
    ("affine", {"power": 0.5}),
    ("log_euclidean", {}),
    ("log_euclidean", {"power": 2.0}),
    ("bures_wasserstein", {}),
    ("bures_wasserstein", {"power": 0.5}),
    ("generalized_bw", {}),
]


def batch(seed, n=4, N=24, cond=None):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(N, n, n, dtype=D, generator=g)
    x = a @ a.mT / n + 0.3 * torch.eye(n, dtype=D)
    if cond is not None:  # a common ill-conditioned scale: condition numbers up to about `cond`
        q, _ = torch.linalg.qr(torch.randn(n, n, dtype=D, generator=g))
        s = torch.logspace(0, -0.5 * torch.log10(torch.tensor(cond)).item(), n, dtype=D)
        x = (q * s) @ x @ (q * s).mT
    return x


def layer(metric, kw, seed, n=4, std=0.7):
    g = torch.Generator().manual_seed(seed + 1)
    if metric == "generalized_bw":
        kw = dict(kw, M=SPD(n).random(dtype=D, generator=g, std=0.5))
    bn = SPDBatchNorm(n, metric, eps=0.0, std=std, tol=1e-13, max_iter=300, dtype=D, **kw)
    with torch.no_grad():
        bn.bias.copy_(SPD(n).random(dtype=D, generator=g, std=0.5))
    return bn


@prop
@given(seed=st.integers(0, 10_000))
@pytest.mark.parametrize("metric,kw", CASES)
def test_normalised_batch_has_bias_mean_and_target_dispersion(metric, kw, seed):
    bn = layer(metric, kw, seed)
    z = bn(batch(seed))
    with torch.no_grad():
        mean, var = bn.batch_statistics(bn.deform(z))
        target = bn.deform(bn.bias[None])[0]
    torch.testing.assert_close(mean, target, atol=1e-8, rtol=0)
    assert abs(float(var) - 0.49) < 1e-8


@pytest.mark.parametrize("metric", ["affine", "bures_wasserstein", "log_euclidean"])
def test_ill_conditioned_batches(metric):
    x = batch(7, n=5, N=32, cond=1e4)
    assert float(torch.linalg.cond(x).max()) > 1e3
    bn = layer(metric, {}, 7, n=5, std=0.5)
    z = bn(x)
    with torch.no_grad():
        mean, var = bn.batch_statistics(bn.deform(z))
    torch.testing.assert_close(mean, bn.bias.detach(), atol=1e-8, rtol=0)
    assert abs(float(var) - 0.25) < 1e-8


def test_eval_uses_running_statistics_and_momentum_one_gives_the_batch_ones():
    x = batch(3)
    bn = layer("bures_wasserstein", {}, 3)
    bn.momentum = 1.0
    train_out = bn(x)
    bn.eval()
    torch.testing.assert_close(bn(x), train_out, atol=1e-10, rtol=0)
    bn.train()
    bn.momentum = 0.1
    before = bn.running_mean.clone()
    bn(batch(4))
    assert not torch.allclose(before, bn.running_mean)


def test_gradients_reach_bias_std_and_metric_parameter():
    bn = layer("generalized_bw", {"power": 0.5}, 2)
    x = batch(2)
    out = bn(x)
    (out.diagonal(dim1=-2, dim2=-1).sum() + out.square().sum()).backward()
    for p in (bn.bias, bn.log_std, bn.metric_matrix):
        assert p.grad is not None and bool(p.grad.abs().sum() > 0)
    opt = RiemannianAdam(bn.parameters(), lr=1e-2)
    opt.step()
    for p in (bn.bias, bn.metric_matrix):
        assert bool((torch.linalg.eigvalsh(p.detach()) > 0).all())


def _spd_learn_pair(kind, metric=None):
    modules = pytest.importorskip("spd_learn.modules")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "meanvar":
            return modules.SPDBatchNormMeanVar(4, n_iter=60, dtype=D)
        return modules.SPDBatchNormLie(4, metric=metric, n_iter=60, dtype=D)


@pytest.mark.parametrize(
    "kind,ref_metric,ours",
    [
        ("meanvar", None, {"metric": "affine"}),
        ("lie", "AIM", {"metric": "affine", "lie": True}),
        ("lie", "LEM", {"metric": "log_euclidean"}),
    ],
)
def test_equals_spd_learn(kind, ref_metric, ours):
    ref = _spd_learn_pair(kind, ref_metric)
    bias = SPD(4).random(dtype=D, generator=torch.Generator().manual_seed(0), std=0.5)
    with torch.no_grad():
        ref.bias = bias[None].clone()
        if kind == "meanvar":
            ref.weight = torch.tensor(0.7, dtype=D)
        else:
            ref.shift = torch.tensor(0.7, dtype=D)
    bn = SPDBatchNorm(4, eps=ref.eps, std=0.7, tol=1e-13, max_iter=300, dtype=D, **ours)
    with torch.no_grad():
        bn.bias.copy_(bias)
    for seed in (0, 1):  # second call uses the updated running statistics in eval below
        x = batch(seed)
        torch.testing.assert_close(bn(x), ref(x[:, None])[:, 0], atol=1e-10, rtol=0)
    bn.eval(), ref.eval()
    x = batch(5)
    torch.testing.assert_close(bn(x), ref(x[:, None])[:, 0], atol=1e-8, rtol=0)


@pytest.mark.parametrize("metric", ["affine", "bures_wasserstein", "generalized_bw"])
def test_gradient_through_the_mean_converges_with_grad_steps(metric):
    # directional derivative of the converged layer by central differences vs autograd with k differentiable
    # Karcher steps: the error is the truncated Neumann series of the implicit gradient, O(|J|^k)
    g = torch.Generator().manual_seed(0)
    x = batch(0, n=3, N=6)
    w, d = torch.randn(2, 6, 3, 3, dtype=D, generator=g)
    d = d + d.mT
    kw = {"M": SPD(3).random(dtype=D, generator=g, std=0.5)} if metric == "generalized_bw" else {}
    errors = []
    for k in (0, 1, 2, 4, 8):
        bn = SPDBatchNorm(3, metric, eps=0.0, max_iter=400, tol=1e-14, grad_steps=k, dtype=D, **kw)
        with torch.no_grad():
            fd = float(((bn(x + 1e-5 * d) - bn(x - 1e-5 * d)) * w).sum()) / 2e-5
        xx = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad((bn(xx) * w).sum(), xx)
        errors.append(abs(float((grad * d).sum()) - fd) / abs(fd))
    assert errors[0] > 0.1  # a constant mean (spd-learn's choice) gives a wrong gradient
    assert errors[1] > errors[2] > errors[3] > errors[4]
    assert errors[4] < 1e-6


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="metric must be one of"):
        SPDBatchNorm(3, "euclid")
    with pytest.raises(ValueError, match="symmetric positive definite"):
        SPDBatchNorm(3, "generalized_bw", M=-torch.eye(3))
    with pytest.raises(ValueError, match=r"M must be a \(3, 3\)"):
        SPDBatchNorm(3, "generalized_bw", M=torch.eye(2))
    with pytest.raises(ValueError, match="lie=True"):
        SPDBatchNorm(3, "bures_wasserstein", lie=True)
    with pytest.raises(ValueError, match="power"):
        SPDBatchNorm(3, power=0.0)
    with pytest.raises(ValueError, match="grad_steps"):
        SPDBatchNorm(3, max_iter=5, grad_steps=6)
    with pytest.raises(ValueError, match=r"\(\.\.\., N, 3, 3\)"):
        SPDBatchNorm(3)(torch.randn(5, 3, 4))


@pytest.mark.parametrize("metric", ["bures_wasserstein", "generalized_bw"])
def test_gradients_are_finite_at_the_identity_bias(metric):
    # B = M = I have repeated eigenvalues, where eigh's backward would divide by zero
    bn = SPDBatchNorm(4, metric, max_iter=5, dtype=D)
    out = bn(batch(1))
    out.square().sum().backward()
    for p in bn.parameters():
        assert bool(torch.isfinite(p.grad).all())
