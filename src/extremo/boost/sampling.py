"""Geometry-aware sampling: generator ODE, projection after every step, proximal relaxation, repair.

1. ``X_0`` from the source (the problem's projected random starts);
2. ODE steps of the learned field (`extremo.flows.integrate`, Euler or Heun, exploration
   noise ``sigma``), each followed by the projection onto the feasible box / sphere and, for views
   that convert by reshaping, the problem's own ``project`` (radii clamped to the walls...);
3. optionally ``k`` proximal steps on the penalty relaxation,
   ``x <- argmin_y relaxed(y, mu) + |y - x|^2 / (2 lambda)`` approximated by gradient steps;
4. the problem's ``repair`` on every sample, so the output is verifier-feasible by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from extremo.boost.network import VelocityNet
from extremo.boost.views import ObjectView
from extremo.flows import integrate


@dataclass
class Samples:
    """Feasible samples: sets ``(B, n, f)``, vectors ``(B, dim)`` float64 and verified values ``(B,)``."""

    objects: Tensor
    x: np.ndarray
    values: np.ndarray


def project_objects(view: ObjectView, objs: Tensor) -> Tensor:
    """Feature box / sphere, then the problem's cheap projection when conversion is a reshape."""
    objs = view.clamp(objs)
    if view.fast:
        objs = view.objects(view.problem.project(view.vectors(objs.double()))).to(objs.dtype)
    return objs


def proximal(view: ObjectView, x: Tensor, steps: int, mu: float, lam: float = 0.05, lr: float = 1e-3) -> Tensor:
    """``steps`` gradient steps on ``relaxed(y, mu) + |y - x|^2 / (2 lam)`` from ``y = x``, projected."""
    p = view.problem
    anchor = x.detach()
    y = anchor.clone().requires_grad_(True)
    for _ in range(steps):
        loss = (p.relaxed(y, mu) + (y - anchor).square().sum(-1) / (2 * lam)).sum()
        (grad,) = torch.autograd.grad(loss, y)
        with torch.no_grad():
            y = p.project(y - lr * grad)
        y.requires_grad_(True)
    return y.detach()


def repair_all(view: ObjectView, x: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Repair and verify each vector; ``(x, values)`` float64, all strictly feasible."""
    p = view.problem
    xs, values = [], []
    for v in x.detach().double().cpu().numpy():
        z = p.repair(v)
        verdict = p.verify(p.to_config(z))
        if not verdict.feasible:  # a repair must not fail; refuse rather than pass it on
            raise RuntimeError(f"{p.label}: repair returned an infeasible vector: {verdict.reason}")
        xs.append(z)
        values.append(verdict.value)
    return np.stack(xs), np.asarray(values)


def sample(
    net: VelocityNet,
    view: ObjectView,
    batch: int,
    generator: torch.Generator,
    steps: int = 20,
    method: str = "euler",
    noise: float = 0.0,
    prox_steps: int = 0,
    mu: float = 1e3,
) -> Samples:
    """``batch`` verifier-feasible samples of the generator (see the module docstring)."""
    pid = net.problem_index(view.problem.name)
    x0 = view.source(batch, generator)
    net.eval()
    objs = integrate(lambda x, t: net(x, t, pid), x0, steps=steps, method=method, manifold=view.manifold,
                     project=lambda x: project_objects(view, x), noise=noise, generator=generator)
    vec = view.vectors(objs.double())
    if prox_steps > 0:
        vec = proximal(view, vec, prox_steps, mu)
    xs, values = repair_all(view, vec)
    return Samples(view.objects(torch.as_tensor(xs)).float(), xs, values)
