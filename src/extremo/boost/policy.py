"""Reward-guided policy optimisation with action exploration (FlowBoost, section 3.3, policy form).

The sampler with exploration noise ``sigma`` is an Euler-Maruyama chain, so each step is a
Gaussian policy over the *action* (the step taken, in the tangent space on a manifold):

    a_k ~ pi_theta(. | s_k) = N(h v_theta(s_k, t_k), sigma^2 h I),   s_{k+1} = P(move(s_k, a_k)),

with ``P`` the feasibility projection (part of the environment, not of the policy). The reward
``r_i`` of a trajectory is the polished objective of its end point. With group-normalised
advantages ``A_i = (r_i - mean r) / std r`` (GRPO, Shao et al. 2024; the group mean is the
baseline of REINFORCE, Williams 1992) the loss is

    L(theta) = - 1/B sum_i A_i sum_k log pi_theta(a_ik | s_ik)
               + beta 1/B sum_i sum_k KL(pi_theta(.|s_ik) || pi_ref(.|s_ik)),

where the KL between Gaussians of equal covariance is ``h |v_theta - v_ref|^2 / (2 sigma^2)``: a
trust region on the velocity to the frozen reference model. The gradient of the first term is an
unbiased estimate of ``-grad E[r]`` (score-function identity).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from extremo.flows.sampler import Velocity
from extremo.manifolds import Manifold


@dataclass
class Trajectory:
    """A batch of sampler rollouts: states ``(K, B, ...)`` before each step, actions ``(K, B, ...)``
    (the steps taken, before the move and the projection), times ``(K,)`` and the end points ``(B, ...)``."""

    states: Tensor
    actions: Tensor
    times: Tensor
    end: Tensor
    noise: float

    @property
    def step(self) -> float:
        return 1.0 / len(self.times)


def rollout(
    velocity: Velocity,
    x0: Tensor,
    steps: int,
    noise: float,
    generator: torch.Generator | None = None,
    manifold: Manifold | None = None,
    project: Callable[[Tensor], Tensor] | None = None,
) -> Trajectory:
    """Sample the Euler-Maruyama chain from ``x0`` and keep what the policy loss needs (no graph)."""
    if not noise > 0:
        raise ValueError(f"a policy needs exploration noise > 0, got noise={noise}")
    if steps < 1:
        raise ValueError(f"a rollout needs at least one step, got steps={steps}")
    h = 1.0 / steps
    x, batch = x0, x0.shape[0]
    states, actions = [], []
    with torch.no_grad():
        for k in range(steps):
            t = torch.full((batch,), k * h, dtype=x.dtype, device=x.device)
            xi = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
            a = h * velocity(x, t) + noise * h**0.5 * xi
            if manifold is not None:
                a = manifold.proju(x, a)
            states.append(x)
            actions.append(a)
            x = x + a if manifold is None else manifold.expmap(x, a)
            if project is not None:
                x = project(x)
    times = torch.arange(steps, dtype=x0.dtype, device=x0.device) * h
    return Trajectory(torch.stack(states), torch.stack(actions), times, x, noise)


def advantages(rewards: np.ndarray | Tensor, sense: str = "max") -> Tensor:
    """``(B,)`` group-normalised advantages ``(r - mean) / std`` (sign flipped for minimisation);
    zero when all rewards are equal (nothing to learn from the group)."""
    r = torch.as_tensor(np.asarray(rewards, dtype=np.float64))
    if sense not in ("max", "min"):
        raise ValueError(f"sense must be 'max' or 'min', got {sense!r}")
    r = r if sense == "max" else -r
    std = r.std(unbiased=False) if len(r) > 1 else r.new_tensor(0.0)
    if not std > 1e-12 * max(1.0, float(r.abs().max())):
        return torch.zeros_like(r)
    return (r - r.mean()) / std


def _mean_step(velocity: Velocity, traj: Trajectory, manifold: Manifold | None) -> Tensor:
    """``(K, B, ...)`` policy means ``h v(s_k, t_k)`` (tangent-projected on a manifold), one batched call."""
    K, B = traj.states.shape[:2]
    s = traj.states.flatten(0, 1)
    t = traj.times.repeat_interleave(B)
    m = traj.step * velocity(s, t)
    if manifold is not None:
        m = manifold.proju(s, m)
    return m.unflatten(0, (K, B))


def policy_loss(
    velocity: Velocity,
    traj: Trajectory,
    adv: Tensor,
    reference: Velocity | None = None,
    kl: float = 0.0,
    manifold: Manifold | None = None,
) -> Tensor:
    """Scalar REINFORCE/GRPO loss with a KL trust region to ``reference`` (module docstring)."""
    if adv.shape != traj.states.shape[1:2]:
        raise ValueError(f"one advantage per trajectory expected: {tuple(adv.shape)} vs batch {traj.states.shape[1]}")
    var = traj.noise**2 * traj.step
    mean = _mean_step(velocity, traj, manifold)
    logp = -(traj.actions - mean).square().flatten(2).sum(-1) / (2 * var)  # (K, B), up to a constant
    loss = -(adv.to(logp) * logp.sum(0)).mean()
    if reference is not None and kl > 0:
        with torch.no_grad():
            mean_ref = _mean_step(reference, traj, manifold)
        loss = loss + kl * ((mean - mean_ref).square().flatten(2).sum(-1) / (2 * var)).sum(0).mean()
    return loss
