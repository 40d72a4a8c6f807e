"""Muon against torch.optim.Muon (bitwise trajectories), Turbo-Muon orthogonality, sphere and Stiefel."""

import pytest
import torch

from extremo.linalg import polar_newton_schulz
from extremo.linalg.orthogonalize import MUON_COEFFICIENTS, orthogonality_error, quintic_newton_schulz
from extremo.optim import Muon

CONVERGENT = (15 / 8, -10 / 8, 3 / 8)  # Taylor quintic of (1 - s)^(-1/2): converges to the polar factor


def trajectory(opt_cls, steps=8, dtype=torch.float32, **kw):
    g = torch.Generator().manual_seed(1)
    w = torch.nn.Parameter(torch.randn(48, 32, generator=g, dtype=dtype))
    v = torch.nn.Parameter(torch.randn(16, 48, generator=g, dtype=dtype))
    x, y = torch.randn(64, 32, generator=g, dtype=dtype), torch.randn(64, 16, generator=g, dtype=dtype)
    opt = opt_cls([w, v], **kw)
    out = []
    for _ in range(steps):
        opt.zero_grad()
        ((x @ w.T @ v.T - y) ** 2).mean().backward()
        opt.step()
        out.append((w.detach().clone(), v.detach().clone()))
    return out


@pytest.mark.parametrize(
    "kw",
    [
        dict(lr=0.02),
        dict(lr=0.01, nesterov=False, weight_decay=0.0, adjust_lr_fn="match_rms_adamw"),
        dict(lr=0.05, momentum=0.9, ns_steps=3, weight_decay=0.3),
        dict(lr=0.02, ns_coefficients=CONVERGENT, eps=1e-5),
    ],
)
def test_trajectory_is_bitwise_torch_muon(kw):
    for (w1, v1), (w2, v2) in zip(trajectory(torch.optim.Muon, **kw), trajectory(Muon, **kw)):
        assert torch.equal(w1, w2) and torch.equal(v1, v2)


def test_quintic_is_torch_zeropower_batched_too():
    from torch.optim._muon import _zeropower_via_newtonschulz

    g = torch.randn(3, 40, 24, generator=torch.Generator().manual_seed(0))
    ours = quintic_newton_schulz(g)
    for i in range(3):
        ref = _zeropower_via_newtonschulz(g[i], MUON_COEFFICIENTS, 5, 1e-7)
        torch.testing.assert_close(ours[i].float(), ref.float(), atol=2e-2, rtol=0)


@pytest.mark.parametrize("spectrum", ["gaussian", "decaying"])
def test_turbo_four_steps_at_least_as_orthogonal_as_five_plain(spectrum):
    g = torch.Generator().manual_seed(0)
    n = 384
    a = torch.randn(n, n, generator=g)
    if spectrum == "decaying":
        u, _ = torch.linalg.qr(torch.randn(n, n, generator=g))
        v, _ = torch.linalg.qr(torch.randn(n, n, generator=g))
        a = (u * torch.logspace(0, -3, n)) @ v.T
    plain5 = orthogonality_error(quintic_newton_schulz(a, 5, CONVERGENT, dtype=torch.float32))
    turbo4 = orthogonality_error(quintic_newton_schulz(a, 4, CONVERGENT, dtype=torch.float32, precondition=True))
    assert float(turbo4) <= float(plain5)


def test_polar_orthogonalizer_gives_orthonormal_steps():
    w = torch.nn.Parameter(torch.randn(20, 12, dtype=torch.float64))
    opt = Muon([w], lr=0.1, weight_decay=0.0, momentum=0.0, nesterov=False, orthogonalizer="polar")
    w.grad = torch.randn(20, 12, dtype=torch.float64)
    before = w.detach().clone()
    opt.step()
    step = (before - w.detach()) / 0.1 / (20 / 12) ** 0.5
    torch.testing.assert_close(step, polar_newton_schulz(w.grad), atol=1e-10, rtol=0)
    assert float(orthogonality_error(step)) < 1e-10


def sphere_run(lr, wd, steps=1):
    g = torch.Generator().manual_seed(3)
    w = torch.nn.Parameter(torch.randn(24, 16, dtype=torch.float64, generator=g))
    target = torch.randn(24, 16, dtype=torch.float64, generator=g)
    opt = Muon([w], lr=lr, weight_decay=wd, constraint="sphere", orthogonalizer="polar", ns_dtype=None)
    norm0 = float(torch.linalg.matrix_norm(w))
    for _ in range(steps):
        opt.zero_grad()
        ((w - target) ** 2).sum().backward()
        opt.step()
    return w.detach(), norm0


def test_sphere_keeps_the_norm_and_weight_decay_is_a_first_order_no_op():
    w, norm0 = sphere_run(1e-2, 0.5, steps=5)
    assert abs(float(torch.linalg.matrix_norm(w)) - norm0) < 1e-12
    diffs = []
    for lr in (1e-2, 5e-3, 2.5e-3):
        with_wd, _ = sphere_run(lr, 0.5)
        without, _ = sphere_run(lr, 0.0)
        diffs.append(float(torch.linalg.matrix_norm(with_wd - without)))
    # an O(lr^2) difference: halving lr divides it by about 4 (an O(lr) effect would halve it)
    assert 3.5 < diffs[0] / diffs[1] < 4.5 and 3.5 < diffs[1] / diffs[2] < 4.5
    # in the unconstrained case the same weight decay is a first-order change
    g = torch.Generator().manual_seed(3)
    w0 = torch.randn(24, 16, dtype=torch.float64, generator=g)
    assert float(torch.linalg.matrix_norm(1e-2 * 0.5 * w0)) > 100 * diffs[0]


@pytest.mark.parametrize("shape", [(20, 8), (8, 20)])
def test_stiefel_stays_orthonormal_and_decreases_loss(shape):
    g = torch.Generator().manual_seed(4)
    w0 = polar_newton_schulz(torch.randn(*shape, dtype=torch.float64, generator=g))
    w = torch.nn.Parameter(w0.clone())
    target = torch.randn(*shape, dtype=torch.float64, generator=g)
    opt = Muon([w], lr=0.05, weight_decay=0.1, constraint="stiefel", ns_dtype=None)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((w - target) ** 2).sum()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert float(orthogonality_error(w.detach())) < 1e-10
    assert losses[-1] < losses[0]


def test_bad_arguments_are_value_errors():
    w = torch.nn.Parameter(torch.randn(4, 4))
    with pytest.raises(ValueError, match="2-D"):
        Muon([torch.nn.Parameter(torch.randn(4))])
    with pytest.raises(ValueError, match="orthogonalizer"):
        Muon([w], orthogonalizer="svd")
    with pytest.raises(ValueError, match="constraint"):
        Muon([w], constraint="ball")
    with pytest.raises(ValueError, match="momentum"):
        Muon([w], momentum=1.0)
    with pytest.raises(ValueError, match="steps"):
        quintic_newton_schulz(torch.randn(3, 3), steps=100)
