import math

import pytest
import torch
from e3nn import o3

from extremo.equivariant import Irreps, s2_quadrature, spherical_harmonics
from equivariance_helpers import assert_equivariant

LS = list(range(11))


@pytest.mark.parametrize("normalization", ["integral", "norm", "component"])
@pytest.mark.parametrize("normalize", [True, False])
def test_matches_e3nn_up_to_l10(normalization, normalize):
    x = torch.randn(200, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    if not normalize:
        x = x / x.norm(dim=-1, keepdim=True) * torch.rand(200, 1, dtype=torch.float64).add(0.5)
    ours = spherical_harmonics(LS, x, normalize=normalize, normalization=normalization)
    ref = o3.spherical_harmonics(LS, x, normalize=normalize, normalization=normalization)
    assert ours.shape == (200, 121)
    assert (ours - ref).abs().max() < 1e-6 * max(1.0, ref.abs().max().item())


def test_irreps_argument_and_subsets():
    x = torch.randn(10, 3, dtype=torch.float64)
    assert torch.equal(spherical_harmonics("0e+2e+1o", x), spherical_harmonics([0, 2, 1], x))
    full = spherical_harmonics(3, x)
    assert full.shape == (10, 7)
    with pytest.raises(ValueError, match="parity"):
        spherical_harmonics("1e", x)
    with pytest.raises(ValueError, match="0..10"):
        spherical_harmonics(11, x)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        spherical_harmonics(1, torch.zeros(4, 2))
    with pytest.raises(ValueError, match="normalization"):
        spherical_harmonics(1, x, normalization="unit")


def test_normalisations():
    x = torch.randn(50, 3, dtype=torch.float64)
    for l in (0, 3, 10):
        comp = spherical_harmonics(l, x, normalization="component")
        norm = spherical_harmonics(l, x, normalization="norm")
        assert torch.allclose(comp.pow(2).sum(-1), torch.full((50,), 2.0 * l + 1, dtype=torch.float64))
        assert torch.allclose(norm.norm(dim=-1), torch.ones(50, dtype=torch.float64))


@pytest.mark.parametrize("L", [0, 1, 4, 10])
def test_orthonormal_under_quadrature(L):
    grid = s2_quadrature(2 * L)
    y = spherical_harmonics(list(range(L + 1)), grid.points.reshape(-1, 3))
    gram = y.T @ (y * grid.weights.reshape(-1, 1))
    assert torch.allclose(gram, torch.eye((L + 1) ** 2, dtype=torch.float64), atol=1e-12)
    assert math.isclose(grid.weights.sum().item(), 4 * math.pi, rel_tol=1e-14)


def test_quadrature_is_exact_only_to_its_degree():
    # integral of Y_{L}^2 needs degree 2L; a grid for 2L - 2 must fail on some component
    L = 6
    grid = s2_quadrature(2 * L - 2)
    y = spherical_harmonics(L, grid.points.reshape(-1, 3))
    gram = y.T @ (y * grid.weights.reshape(-1, 1))
    assert (gram - torch.eye(2 * L + 1, dtype=torch.float64)).abs().max() > 1e-3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equivariance(dtype):
    x = torch.randn(64, 3, dtype=dtype, generator=torch.Generator().manual_seed(3))
    irreps = Irreps.spherical_harmonics(10)
    assert_equivariant(lambda v: spherical_harmonics(LS, v, normalization="norm"), [x], ["1o"], irreps)
    assert_equivariant(lambda v: spherical_harmonics(LS, v, normalize=False), [x], ["1o"], irreps)


def test_zero_vector_and_gradients():
    x = torch.zeros(1, 3, dtype=torch.float64)
    y = spherical_harmonics([0, 1, 2], x)
    assert torch.isfinite(y).all() and y[0, 1:].abs().max() == 0
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: spherical_harmonics([1, 3], v), (x,))
