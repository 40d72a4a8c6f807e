r"""Spectral-distance conditional flow matching on a manifold known only from samples
(Chen and Lipman 2024, "Flow Matching on General Geometries", section 3.2 and eq. 13).

Where geodesics have no closed form, a *premetric* $d$ with $d(x, y) = 0 \iff x = y$
defines the conditional flow: with the scheduler $\kappa(t) = 1 - t$,

$$
u_t(x \mid x_1) = \frac{d \log \kappa(t)}{dt}\, d(x, x_1)
\frac{\nabla d(x, x_1)}{\|\nabla d(x, x_1)\|^2}
= -\frac{d(x, x_1)}{1 - t} \frac{\nabla d}{\|\nabla d\|^2},
$$

whose flow satisfies $d(x_t, x_1) = (1 - t)\, d(x_0, x_1)$. The premetric here is the
spectral (biharmonic or diffusion) distance of a learned eigenbasis
$\phi_1, \dots, \phi_{k-1}$ (`extremo.spectral.LearnedEigenbasis`):

$$
d_w(x, y)^2 = \sum_{j \ge 1} w(\lambda_j) (\phi_j(x) - \phi_j(y))^2, \qquad
w(\lambda) = \lambda^{-2} \;\text{(biharmonic)} \;\text{or}\; e^{-2 \tau \lambda}
\;\text{(diffusion)}.
$$

Gradients are taken through the network and projected on the tangent space by ``tangent(x)``
(e.g. `extremo.manifold_learning.PrincipalSubbundle.projector`); ``x_t`` is simulated with
Euler steps and mapped back by ``project`` (e.g. ``PrincipalSubbundle.reconstruct``). The loss is
the usual regression $\mathbb E \|v_\theta(x_t, t) - u_t\|^2$ of `extremo.flows.loss`;
sampling reuses `extremo.flows.integrate` with the same ``project``. Cost per batch:
``O(B steps)`` network gradients.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from extremo.flows.sampler import Velocity

WEIGHTS = ("biharmonic", "diffusion")

Tangent = Callable[[Tensor], Tensor]
Project = Callable[[Tensor], Tensor]


class SpectralDistance(nn.Module):
    """Spectral distance ``d_w(x, y)`` of a fitted `LearnedEigenbasis`."""

    def __init__(self, basis, weights: str = "biharmonic", diffusion_time: float = 0.1):
        super().__init__()
        if weights not in WEIGHTS:
            raise ValueError(f"unknown weights {weights!r}; use one of {', '.join(WEIGHTS)}")
        if not hasattr(basis, "network_"):
            raise ValueError("basis must be a fitted LearnedEigenbasis; call basis.fit(points) first")
        lam = torch.as_tensor(basis.eigenvalues_[1:], dtype=torch.float64).clamp_min(1e-12)
        w = lam.pow(-2) if weights == "biharmonic" else torch.exp(-2 * diffusion_time * lam)
        self.network = basis.network_
        self.register_buffer("weights", w / w.max())

    def embed(self, x: Tensor) -> Tensor:
        """``sqrt(w_j) phi_j(x)`` ``(..., k - 1)``: the distance is Euclidean in this embedding."""
        phi = self.network(x.to(self.network.shift.dtype))[..., 1:]
        return (phi * self.weights.to(phi.dtype).sqrt()).to(x.dtype)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        return (self.embed(x) - self.embed(y)).square().sum(-1).add(1e-12).sqrt()


def _tangent_gradient(distance: SpectralDistance, x: Tensor, x1: Tensor, tangent: Tangent | None) -> tuple[Tensor, Tensor]:
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        d = distance(x, x1)
        (grad,) = torch.autograd.grad(d.sum(), x)
    if tangent is not None:
        grad = (tangent(x.detach()).to(grad) @ grad[..., None])[..., 0]
    return d.detach(), grad


def spectral_velocity(distance: SpectralDistance, x: Tensor, x1: Tensor, t: Tensor, tangent: Tangent | None = None) -> Tensor:
    """``u_t(x | x1) = -d / (1 - t) grad d / |grad d|^2`` (``t`` of shape ``(B,)``)."""
    d, grad = _tangent_gradient(distance, x, x1, tangent)
    scale = d / (1 - t).clamp_min(1e-4) / grad.square().sum(-1).clamp_min(1e-12)
    return -scale[:, None] * grad


def spectral_path(
    distance: SpectralDistance,
    x0: Tensor,
    x1: Tensor,
    steps: int = 20,
    tangent: Tangent | None = None,
    project: Project | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """``(t, x_t, u_t)``: the conditional flow simulated with ``steps`` Euler steps, read at a
    random grid time ``t = i / steps`` per sample."""
    if x0.shape != x1.shape:
        raise ValueError(f"source and target batches differ in shape: {tuple(x0.shape)} vs {tuple(x1.shape)}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    batch = x0.shape[0]
    index = torch.randint(0, steps, (batch,), generator=generator).to(x0.device)
    h = 1.0 / steps
    x, xt = x0.clone(), x0.clone()
    for i in range(int(index.max()) + 1):
        xt = torch.where((index == i)[:, None], x, xt)
        t = torch.full((batch,), i * h, dtype=x.dtype, device=x.device)
        x = x + h * spectral_velocity(distance, x, x1, t, tangent)
        if project is not None:
            x = project(x).to(x)
    t = index.to(x0.dtype) * h
    return t, xt, spectral_velocity(distance, xt, x1, t, tangent)


def spectral_cfm_loss(
    velocity: Velocity,
    distance: SpectralDistance,
    x0: Tensor,
    x1: Tensor,
    steps: int = 20,
    tangent: Tangent | None = None,
    project: Project | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Scalar loss ``E ||P(x_t) v(x_t, t) - u_t(x_t | x1)||^2`` on the spectral path."""
    t, xt, ut = spectral_path(distance, x0, x1, steps, tangent, project, generator)
    v = velocity(xt, t)
    if tangent is not None:
        v = (tangent(xt).to(v) @ v[..., None])[..., 0]
    return (v - ut).square().sum(-1).mean()
