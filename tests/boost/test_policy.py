"""The policy step: the score-function gradient, the trust region and a known optimum."""

import math

import numpy as np
import pytest
import torch

from extremo.boost.policy import advantages, policy_loss, rollout
from extremo.manifolds import Sphere


class Constant(torch.nn.Module):
    """A constant velocity field ``v(x, t) = theta``: the chain ends at ``N(theta, sigma^2)``."""

    def __init__(self, theta: float) -> None:
        super().__init__()
        self.theta = torch.nn.Parameter(torch.tensor([theta], dtype=torch.float64))

    def forward(self, x, t):
        return self.theta.expand_as(x)


def test_score_function_gradient_matches_the_analytic_one():
    # r = -(x1 - 2)^2, x1 ~ N(theta, sigma^2): d E[r] / d theta = -2 (theta - 2)
    theta, sigma = 0.5, 0.5
    field = Constant(theta)
    gen = torch.Generator().manual_seed(0)
    traj = rollout(field, torch.zeros(200_000, 1, dtype=torch.float64), steps=4, noise=sigma, generator=gen)
    r = -(traj.end[:, 0] - 2.0) ** 2
    loss = policy_loss(field, traj, r - r.mean())
    (grad,) = torch.autograd.grad(loss, field.theta)
    assert grad.item() == pytest.approx(2 * (theta - 2), rel=0.03)


def test_trust_region_is_the_gaussian_kl():
    sigma, steps = 0.3, 5
    field, ref = Constant(1.0), Constant(0.4)
    traj = rollout(field, torch.zeros(7, 2, dtype=torch.float64), steps=steps, noise=sigma,
                   generator=torch.Generator().manual_seed(1))
    loss = policy_loss(field, traj, torch.zeros(7, dtype=torch.float64), reference=ref, kl=2.0)
    # per step KL(N(h a, s^2 h) || N(h b, s^2 h)) = h |a - b|^2 / (2 s^2), two coordinates, K steps
    expected = 2.0 * steps * (1 / steps) * 2 * (1.0 - 0.4) ** 2 / (2 * sigma**2)
    assert loss.item() == pytest.approx(expected, rel=1e-12)


def test_policy_optimisation_finds_the_known_optimum():
    field = Constant(-1.0)
    opt = torch.optim.Adam(field.parameters(), lr=0.05)
    gen = torch.Generator().manual_seed(2)
    for _ in range(300):
        traj = rollout(field, torch.zeros(64, 1, dtype=torch.float64), steps=4, noise=0.3, generator=gen)
        r = -(traj.end[:, 0] - 2.0).abs().numpy()
        loss = policy_loss(field, traj, advantages(r, "max"))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert field.theta.item() == pytest.approx(2.0, abs=0.1)


def test_advantages_normalise_and_follow_the_sense():
    a = advantages(np.array([1.0, 2.0, 3.0]), "max")
    assert a.mean().item() == pytest.approx(0.0, abs=1e-12)
    assert a.std(unbiased=False).item() == pytest.approx(1.0)
    assert torch.equal(advantages(np.array([1.0, 2.0, 3.0]), "min"), -a)
    assert torch.count_nonzero(advantages(np.array([5.0, 5.0]))) == 0


def test_rollout_on_a_manifold_stays_on_it_and_rejects_bad_arguments():
    sphere = Sphere(3)
    x0 = sphere.projx(torch.randn(16, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)))
    traj = rollout(lambda x, t: torch.ones_like(x), x0, steps=6, noise=0.2, manifold=sphere,
                   generator=torch.Generator().manual_seed(4))
    assert torch.allclose(traj.end.norm(dim=-1), torch.ones(16, dtype=torch.float64), atol=1e-12)
    # actions are tangent at their states
    assert (traj.actions * traj.states).sum(-1).abs().max() < 1e-12
    with pytest.raises(ValueError, match="noise"):
        rollout(lambda x, t: x, x0, steps=3, noise=0.0)
    with pytest.raises(ValueError, match="advantage"):
        policy_loss(lambda x, t: x, traj, torch.zeros(3))
    assert math.isfinite(policy_loss(lambda x, t: torch.ones_like(x), traj, torch.ones(16), manifold=sphere).item())
