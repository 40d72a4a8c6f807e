"""LearnedEigenbasis against exact spherical harmonics, torus Fourier modes and robust-laplacian."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.equivariant import spherical_harmonics
from extremo.spectral import LearnedEigenbasis

torch.set_num_threads(1)


def sphere(n, seed):
    x = torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return x / x.norm(dim=1, keepdim=True)


def largest_angle_deg(a, b, w):
    root = torch.as_tensor(w).sqrt()[:, None]
    qa = torch.linalg.qr(root * a)[0]
    qb = torch.linalg.qr(root * b)[0]
    return math.degrees(math.acos(min(1.0, float(torch.linalg.svdvals(qa.T @ qb).min()))))


@pytest.fixture(scope="module")
def fitted_sphere():
    x = sphere(1000, 1)
    return x, LearnedEigenbasis(9, steps=600, lr=5e-3).fit(x)


def test_sphere_span_and_eigenvalue_ratios(fitted_sphere):
    x, basis = fitted_sphere
    phi = torch.as_tensor(basis.transform(x.numpy())).double()
    harmonics = spherical_harmonics([0, 1, 2], x)
    assert largest_angle_deg(phi, harmonics, basis.measure_) < 8.0
    lam = basis.eigenvalues_
    l1, l2 = lam[1:4].mean(), lam[4:9].mean()
    assert abs(lam[0]) < 1e-9
    assert abs(l2 / l1 - 3.0) < 0.1 * 3.0


def test_orthonormal_under_the_empirical_measure(fitted_sphere):
    x, basis = fitted_sphere
    phi = torch.as_tensor(basis.transform(x)).double()
    w = torch.as_tensor(basis.measure_)
    gram = phi.T @ (w[:, None] * phi)
    assert torch.allclose(gram, torch.eye(9, dtype=torch.float64), atol=1e-4)


def test_generalises_to_new_points(fitted_sphere):
    _, basis = fitted_sphere
    new = sphere(1000, 7)
    phi = torch.as_tensor(basis.transform(new)).double()
    harmonics = spherical_harmonics([0, 1, 2], new)
    assert largest_angle_deg(phi, harmonics, np.full(1000, 1e-3)) < 10.0


def test_density_of_a_non_uniform_sampling():
    # rejection sampling of p(x) proportional to 1 + 0.8 z on the sphere
    x = sphere(4000, 3)
    keep = torch.rand(4000, generator=torch.Generator().manual_seed(4), dtype=torch.float64) < (1 + 0.8 * x[:, 2]) / 1.8
    x = x[keep][:1200]
    basis = LearnedEigenbasis(9, steps=400, lr=5e-3).fit(x)
    new = sphere(500, 5)
    true = 1 + 0.8 * new[:, 2]
    got = torch.as_tensor(basis.density(new.numpy()))
    assert np.corrcoef(got.numpy(), true.numpy())[0, 1] >= 0.95


def test_flat_torus_multiplicities():
    g = torch.Generator().manual_seed(2)
    u, v = 2 * math.pi * torch.rand(2, 1200, generator=g, dtype=torch.float64)
    x = torch.stack([u.cos(), u.sin(), v.cos(), v.sin()], 1)  # Clifford torus: flat
    basis = LearnedEigenbasis(9, steps=600, lr=5e-3).fit(x)
    lam = basis.eigenvalues_
    # modes (0,0); (+-1, 0), (0, +-1); (+-1, +-1): multiplicities 1, 4, 4
    assert abs(lam[0]) < 1e-9
    ones, twos = lam[1:5], lam[5:9]
    assert ones.max() / ones.min() < 1.15 and twos.max() / twos.min() < 1.15
    assert twos.min() / ones.max() > 1.5


def test_agrees_with_robust_laplacian_eigenvectors(fitted_sphere):
    robust_laplacian = pytest.importorskip("robust_laplacian")
    from scipy.sparse.linalg import eigsh

    x, basis = fitted_sphere
    L, M = robust_laplacian.point_cloud_laplacian(x.numpy())
    vals, vecs = eigsh(L, k=9, M=M, sigma=-1e-8)
    phi = torch.as_tensor(basis.transform(x)).double()
    assert largest_angle_deg(phi, torch.as_tensor(vecs), basis.measure_) < 10.0
    ratio = (vals[4:9].mean() / vals[1:4].mean()) / (basis.eigenvalues_[4:9].mean() / basis.eigenvalues_[1:4].mean())
    assert abs(ratio - 1) < 0.1


@settings(max_examples=8, deadline=None)
@given(st.sampled_from(["k", "steps", "n_probes"]), st.sampled_from([0, -3, 1.5]))
def test_bad_parameters_name_themselves(name, value):
    with pytest.raises(ValueError, match=name):
        LearnedEigenbasis(**{"k": 3, name: value}).fit(sphere(50, 0))


def test_bad_input():
    with pytest.raises(ValueError, match="not fitted"):
        LearnedEigenbasis(3).transform(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape"):
        LearnedEigenbasis(3).fit(np.zeros(10))
    with pytest.raises(ValueError, match="probes"):
        LearnedEigenbasis(3, probes="wave").fit(sphere(50, 0))


@pytest.mark.slow
def test_issue_targets_on_2000_uniform_points():
    x = sphere(2000, 1)
    basis = LearnedEigenbasis(9).fit(x)
    phi = torch.as_tensor(basis.transform(x)).double()
    assert largest_angle_deg(phi, spherical_harmonics([0, 1, 2], x), basis.measure_) < 5.0
    lam = basis.eigenvalues_
    ratios = lam[1:9] / lam[1:4].mean()
    assert np.all(np.abs(ratios[:3] - 1) < 0.05) and np.all(np.abs(ratios[3:] / 3 - 1) < 0.05)
