import math

import pytest
import torch
from torch import nn

from extremo.flows import cfm_loss, geodesic_path, integrate, linear_path, match_objects, ot_pairing
from extremo.manifolds import Sphere


class Field(nn.Module):
    """A small MLP velocity field on R^k for the toy problems."""

    def __init__(self, k: int, width: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(k + 1, width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(),
                                 nn.Linear(width, k))

    def forward(self, x, t):
        return self.net(torch.cat([x, t[:, None]], -1))


def two_blobs(batch, g):
    centers = torch.tensor([[2.0, 0.0], [-2.0, 1.0]])
    return centers[torch.randint(0, 2, (batch,), generator=g)] + 0.1 * torch.randn(batch, 2, generator=g)


def test_linear_path_endpoints_and_velocity():
    x0, x1 = torch.randn(5, 3), torch.randn(5, 3)
    xt, ut = linear_path(x0, x1, torch.zeros(5))
    assert torch.equal(xt, x0) and torch.allclose(ut, x1 - x0)
    assert torch.allclose(linear_path(x0, x1, torch.ones(5))[0], x1)


def test_cfm_loss_decreases_on_a_toy_2d_target():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    field = Field(2)
    opt = torch.optim.Adam(field.parameters(), lr=3e-3)
    losses = []
    for _ in range(400):
        x1 = two_blobs(128, g)
        x0 = torch.randn(128, 2, generator=g)
        x0 = x0[ot_pairing(x1, x0)]
        loss = cfm_loss(field, x0, x1, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-50:]) / 50 < 0.5 * sum(losses[:20]) / 20
    out = integrate(field, torch.randn(512, 2, generator=g), steps=30, method="heun")
    near = torch.cdist(out, torch.tensor([[2.0, 0.0], [-2.0, 1.0]])).min(-1).values
    assert (near < 0.5).float().mean() > 0.8


def test_ot_pairing_never_costs_more_than_the_identity():
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(32, 6, generator=g), torch.randn(32, 6, generator=g)
    sigma = ot_pairing(x0, x1)
    assert sorted(sigma.tolist()) == list(range(32))
    assert (x0 - x1[sigma]).square().sum() <= (x0 - x1).square().sum()


def test_match_objects_permutes_each_set_to_the_closest_order():
    g = torch.Generator().manual_seed(2)
    x0 = torch.randn(4, 7, 3, generator=g)
    perm = torch.stack([torch.randperm(7, generator=g) for _ in range(4)])
    x1 = torch.gather(x0 + 1e-3, 1, perm[..., None].expand(-1, -1, 3))
    assert torch.allclose(match_objects(x0, x1), x0 + 1e-3)


def test_weights_and_trust_region_enter_the_loss():
    g = torch.Generator().manual_seed(3)
    field, ref = Field(2), Field(2)
    x0, x1, t = torch.randn(8, 2, generator=g), torch.randn(8, 2, generator=g), torch.rand(8, generator=g)
    base = cfm_loss(field, x0, x1, t=t)
    assert torch.allclose(cfm_loss(field, x0, x1, t=t, weights=torch.full((8,), 3.0)), base)
    assert cfm_loss(field, x0, x1, t=t, reference=ref, trust=1.0) > base
    with pytest.raises(ValueError, match="differ in shape"):
        cfm_loss(field, x0, x1[:4])


def test_samplers_integrate_known_fields():
    x0 = torch.zeros(3, 2)
    const = integrate(lambda x, t: torch.ones_like(x), x0, steps=4)
    assert torch.allclose(const, torch.ones(3, 2))
    # dx/dt = t: x(1) = 1/2; Heun is exact for it, Euler with 4 steps gives 3/8
    heun = integrate(lambda x, t: t[:, None].expand_as(x), x0, steps=4, method="heun")
    euler = integrate(lambda x, t: t[:, None].expand_as(x), x0, steps=4, method="euler")
    assert torch.allclose(heun, torch.full((3, 2), 0.5)) and torch.allclose(euler, torch.full((3, 2), 0.375))
    with pytest.raises(ValueError, match="unknown ODE method"):
        integrate(lambda x, t: x, x0, method="rk4")


def test_geodesic_path_on_the_sphere():
    s = Sphere(3)
    g = torch.Generator().manual_seed(4)
    x0, x1 = s.random(6, 5, generator=g, dtype=torch.float64), s.random(6, 5, generator=g, dtype=torch.float64)
    t = torch.rand(6, generator=g, dtype=torch.float64) * 0.9
    xt, ut = geodesic_path(s, x0, x1, t)
    assert torch.allclose(xt.norm(dim=-1), torch.ones(6, 5, dtype=torch.float64))
    assert torch.allclose((xt * ut).sum(-1), torch.zeros(6, 5, dtype=torch.float64), atol=1e-12)
    # u_t is the time derivative of x_t (central difference)
    h = 1e-6
    fd = (geodesic_path(s, x0, x1, t + h)[0] - geodesic_path(s, x0, x1, t - h)[0]) / (2 * h)
    assert torch.allclose(fd, ut, atol=1e-6)
    # constant speed: |u_t| = d(x0, x1)
    assert torch.allclose(ut.norm(dim=-1), s.dist(x0, x1), atol=1e-9)


def test_riemannian_cfm_on_the_sphere_keeps_samples_on_the_sphere():
    torch.manual_seed(5)
    s = Sphere(3)
    g = torch.Generator().manual_seed(5)
    pole = torch.tensor([0.0, 0.0, 1.0])
    field = Field(3, 32)
    opt = torch.optim.Adam(field.parameters(), lr=3e-3)
    for _ in range(150):
        x1 = s.projx(pole + 0.2 * torch.randn(64, 3, generator=g))
        x0 = s.random(64, generator=g)
        loss = cfm_loss(field, x0, x1, manifold=s, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    out = integrate(field, s.random(256, generator=g), steps=20, manifold=s, noise=0.05, generator=g)
    assert torch.allclose(out.norm(dim=-1), torch.ones(256), atol=1e-5)
    assert (out @ pole).mean() > math.cos(1.0)
