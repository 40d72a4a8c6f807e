"""ODE samplers for a learned velocity field ``dx/dt = v(x, t)``, ``t`` from 0 to 1.

Euler: ``x <- x + h v(x, t)``. Heun (explicit trapezoid, second order):
``x~ = x + h v(x, t)``, ``x <- x + h/2 (v(x, t) + v(x~, t + h))``. On a manifold every step is
``x <- exp_x(h proj_x(v))`` (Chen and Lipman 2024, section 3.3). Optional *exploration noise*
``sigma sqrt(h) xi``, ``xi ~ N(0, I)`` (projected on the tangent space on a manifold), turns the
ODE into an Euler-Maruyama SDE step (action exploration, FlowBoost section 3). After every step an
optional ``project(x)`` maps back onto the feasible set (geometry-aware sampling).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from extremo.manifolds import Manifold

Velocity = Callable[[Tensor, Tensor], Tensor]

METHODS = ("euler", "heun")


def integrate(
    velocity: Velocity,
    x0: Tensor,
    steps: int = 20,
    method: str = "euler",
    manifold: Manifold | None = None,
    project: Callable[[Tensor], Tensor] | None = None,
    noise: float = 0.0,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Integrate ``velocity(x, t)`` (``t`` of shape ``(batch,)``) from ``x0`` at ``t = 0`` to ``t = 1``."""
    if method not in METHODS:
        raise ValueError(f"unknown ODE method {method!r}; use one of {', '.join(METHODS)}")
    if steps < 1:
        raise ValueError(f"the sampler needs at least one step, got {steps}")
    h = 1.0 / steps
    x = x0
    batch = x0.shape[0]

    def move(x: Tensor, v: Tensor) -> Tensor:
        if manifold is None:
            return x + v
        return manifold.expmap(x, manifold.proju(x, v))

    with torch.no_grad():
        for k in range(steps):
            t = torch.full((batch,), k * h, dtype=x.dtype, device=x.device)
            v = velocity(x, t)
            if method == "heun":
                x_euler = move(x, h * v)
                v = 0.5 * (v + velocity(x_euler, t + h))
            step = h * v
            if noise > 0:
                xi = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
                step = step + noise * h**0.5 * xi
            x = move(x, step)
            if project is not None:
                x = project(x)
    return x
