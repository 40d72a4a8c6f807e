"""Training the generator: flow matching on elites, reward-weighted fine-tuning with a trust region.

Pre-training and the open loop (PatternBoost-style) regress the field on the elites with equal
weights. The closed loop (FlowBoost, section 3.3) fine-tunes on the model's own polished samples
with *reward weights* from ranks, best first,

    w_i proportional to exp(-rank_i / (tau B)),

and a trust region to a frozen copy ``v_ref`` of the model taken at the start of the round,
``+ beta E |v_theta(x_t, t) - v_ref(x_t, t)|^2``, so the generator moves toward high reward
without collapsing onto one configuration. Every batch pairs source and target sets by minibatch
OT and matches the objects inside each pair (`extremo.flows.coupling`).
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np
import torch
from torch import Tensor

from extremo.boost.network import VelocityNet
from extremo.boost.views import ObjectView
from extremo.flows import cfm_loss, match_objects, ot_pairing


def rank_weights(values: np.ndarray, sense: str, temperature: float = 0.25) -> Tensor:
    """``(B,)`` weights ``exp(-rank / (temperature B))`` of objective values, rank 0 the best."""
    order = np.argsort(-values if sense == "max" else values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    return torch.as_tensor(np.exp(-ranks / (temperature * max(1, len(values)))), dtype=torch.float32)


def frozen_copy(net: VelocityNet) -> VelocityNet:
    """A frozen copy of ``net`` (the trust-region reference ``v_ref``)."""
    frozen = copy.deepcopy(net).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


def _step(net: VelocityNet, view: ObjectView, targets: Tensor, optimizer: torch.optim.Optimizer,
          generator: torch.Generator, batch: int, weights: Tensor | None, reference: VelocityNet | None,
          trust: float) -> float:
    """One optimizer step of (weighted) OT-coupled flow matching towards a minibatch of ``targets``."""
    pid = net.problem_index(view.problem.name)
    ref = None if reference is None else (lambda x, t: reference(x, t, pid))
    idx = torch.randint(0, len(targets), (batch,), generator=generator)
    x1 = targets[idx]
    x0 = view.source(batch, generator)
    x0 = x0[ot_pairing(x1, x0)]
    x1 = match_objects(x0, x1)
    loss = cfm_loss(lambda x, t: net(x, t, pid), x0, x1, weights=None if weights is None else weights[idx],
                    manifold=view.manifold, generator=generator, reference=ref, trust=trust)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def fit(
    net: VelocityNet,
    view: ObjectView,
    targets: Tensor,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    steps: int,
    batch: int = 64,
    weights: Tensor | None = None,
    trust: float = 0.0,
    deadline: float = math.inf,
) -> float:
    """``steps`` optimizer steps of (weighted) flow matching towards ``targets`` ``(N, n, f)``,
    fewer if ``time.time()`` passes ``deadline``; returns the last loss."""
    return fit_across(net, [(view, targets, weights)], optimizer, generator, steps, batch, trust, deadline)


def fit_across(
    net: VelocityNet,
    groups: list[tuple[ObjectView, Tensor, Tensor | None]],
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    steps: int,
    batch: int = 64,
    trust: float = 0.0,
    deadline: float = math.inf,
) -> float:
    """Flow matching on several instances at once: ``groups`` of ``(view, targets (N_g, n_g, f),
    weights or None)``; every step trains on one group, drawn with probability ``N_g / sum N``, so
    the instance-conditioned field learns what the instances share (one model across ``n``)."""
    groups = [g for g in groups if len(g[1]) > 0]
    if not groups or steps <= 0:
        return float("nan")
    sizes = torch.tensor([len(g[1]) for g in groups], dtype=torch.float64)
    reference = frozen_copy(net) if trust > 0 else None
    net.train()
    loss_value = float("nan")
    for _ in range(steps):
        if time.time() >= deadline:
            break
        k = int(torch.multinomial(sizes, 1, generator=generator)) if len(groups) > 1 else 0
        view, targets, weights = groups[k]
        loss_value = _step(net, view, targets, optimizer, generator, batch, weights, reference, trust)
    return loss_value
