"""Conditional flow-matching losses (Lipman et al. 2023, eq. 9; Chen and Lipman 2024, eq. 12).

    L(theta) = E_{t, (x0, x1)} w(x1) || v_theta(x_t, t) - u_t(x_t | x0, x1) ||^2

with ``t ~ U[0, 1]``, ``(x_t, u_t)`` from a probability path, optional per-sample weights
``w`` (reward-weighted regression, normalised to mean 1) and on a manifold ``v_theta`` projected on
the tangent space at ``x_t`` (the squared norm is the embedded metric's).
"""

from __future__ import annotations

import torch
from torch import Tensor

from extremo.flows.paths import geodesic_path, linear_path
from extremo.flows.sampler import Velocity
from extremo.manifolds import Manifold


def cfm_loss(
    velocity: Velocity,
    x0: Tensor,
    x1: Tensor,
    t: Tensor | None = None,
    weights: Tensor | None = None,
    manifold: Manifold | None = None,
    generator: torch.Generator | None = None,
    reference: Velocity | None = None,
    trust: float = 0.0,
) -> Tensor:
    """Scalar (weighted) flow-matching loss of ``velocity(x, t)`` on pairs ``x0 -> x1`` ``(B, ...)``.

    ``reference`` and ``trust``: add ``trust * E ||v_theta(x_t, t) - v_ref(x_t, t)||^2``, a trust
    region to a frozen copy of the model (self-distillation; keeps fine-tuning from collapsing).
    """
    if x0.shape != x1.shape:
        raise ValueError(f"source and target batches differ in shape: {tuple(x0.shape)} vs {tuple(x1.shape)}")
    batch = x0.shape[0]
    if t is None:
        t = torch.rand(batch, generator=generator, dtype=x0.dtype).to(x0.device)
    if manifold is None:
        xt, ut = linear_path(x0, x1, t)
    else:
        xt, ut = geodesic_path(manifold, x0, x1, t)
    v = velocity(xt, t)
    if manifold is not None:
        v = manifold.proju(xt, v)
    per = (v - ut).square().flatten(1).sum(-1)
    if weights is not None:
        w = weights.to(per) / weights.to(per).mean().clamp_min(1e-12)
        per = per * w
    loss = per.mean()
    if reference is not None and trust > 0:
        with torch.no_grad():
            v_ref = reference(xt, t)
            if manifold is not None:
                v_ref = manifold.proju(xt, v_ref)
        loss = loss + trust * (v - v_ref).square().flatten(1).sum(-1).mean()
    return loss
