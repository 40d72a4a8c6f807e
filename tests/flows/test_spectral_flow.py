"""Spectral-distance flow matching on a sphere given only as samples."""

import numpy as np
import pytest
import torch

from extremo.flows import SpectralDistance, integrate, spectral_cfm_loss, spectral_path, spectral_velocity
from extremo.manifold_learning import PrincipalSubbundle
from extremo.spectral import LearnedEigenbasis

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def cloud_geometry():
    g = torch.Generator().manual_seed(0)
    cloud = torch.randn(800, 3, generator=g, dtype=torch.float64)
    cloud = cloud / cloud.norm(dim=1, keepdim=True)
    basis = LearnedEigenbasis(9, steps=400, lr=5e-3).fit(cloud)
    bundle = PrincipalSubbundle(2, n_neighbors=30).fit(cloud)
    return cloud, SpectralDistance(basis), bundle


def test_distance_is_a_premetric(cloud_geometry):
    cloud, distance, _ = cloud_geometry
    d = distance(cloud[:50], cloud[50:100])
    assert torch.all(d > 1e-3)
    assert torch.allclose(d, distance(cloud[50:100], cloud[:50]))
    assert distance(cloud[:5], cloud[:5]).max() < 1e-5


def test_conditional_flow_shrinks_the_distance_linearly_and_stays_on_the_cloud(cloud_geometry):
    cloud, distance, bundle = cloud_geometry
    x0, x1 = cloud[:64], cloud[64:128]
    project = lambda x: bundle.reconstruct(x, iterations=1)
    t, xt, ut = spectral_path(distance, x0, x1, 20, bundle.projector, project, torch.Generator().manual_seed(1))
    ratio = distance(xt, x1) / distance(x0, x1)
    error = (ratio - (1 - t)).abs()
    assert error.median() < 0.03 and error.quantile(0.9) < 0.12  # Euler steps and projections
    assert (xt.norm(dim=1) - 1).abs().median() < 0.02  # on the sphere the cloud samples
    normal = xt / xt.norm(dim=1, keepdim=True)
    assert ((ut * normal).sum(1).abs() / ut.norm(dim=1).clamp_min(1e-12)).median() < 0.1  # tangent


def test_training_reduces_the_loss_and_samples_stay_on_the_manifold(cloud_geometry):
    cloud, distance, bundle = cloud_geometry
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.SiLU(), torch.nn.Linear(64, 3)).double()
    velocity = lambda x, t: model(torch.cat([x, t[:, None]], -1))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    project = lambda x: bundle.reconstruct(x, iterations=1)
    target = cloud[cloud[:, 2] > 0.5]  # a cap
    losses = []
    for _ in range(40):
        x0 = cloud[torch.randint(0, len(cloud), (64,), generator=g)]
        x1 = target[torch.randint(0, len(target), (64,), generator=g)]
        loss = spectral_cfm_loss(velocity, distance, x0, x1, 8, bundle.projector, project, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    tangent = lambda x, t: (bundle.projector(x) @ velocity(x, t)[..., None])[..., 0]
    samples = integrate(tangent, cloud[:200], steps=10, project=project)
    assert (samples.norm(dim=1) - 1).abs().median() < 0.02
    assert samples[:, 2].mean() > cloud[:200, 2].mean() + 0.2  # moved towards the cap


def test_bad_input(cloud_geometry):
    cloud, distance, _ = cloud_geometry
    with pytest.raises(ValueError, match="weights"):
        SpectralDistance(object.__new__(LearnedEigenbasis), weights="heat")
    with pytest.raises(ValueError, match="fitted"):
        SpectralDistance(LearnedEigenbasis(3))
    with pytest.raises(ValueError, match="shape"):
        spectral_path(distance, cloud[:3], cloud[:4])
    assert spectral_velocity(distance, cloud[:3], cloud[3:6], torch.zeros(3)).shape == (3, 3)
