import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.linalg import sym_logm
from extremo.manifolds import ManifoldParameter, Stiefel
from extremo.nn import BiMap, LogEig, ReEig, sym_to_vec
from extremo.optim import RiemannianAdam


def _spd(batch, n, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, n, n, generator=g, dtype=dtype)
    return a @ a.mT / n + 0.1 * torch.eye(n, dtype=dtype)


def test_bimap_maps_spd_to_spd_with_a_stiefel_weight():
    layer = BiMap(6, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert isinstance(layer.weight, ManifoldParameter) and isinstance(layer.weight.manifold, Stiefel)
    y = layer(_spd(5, 6))
    assert y.shape == (5, 3, 3)
    assert torch.equal(y, y.mT)
    assert torch.linalg.eigvalsh(y).min() > 0
    w = layer.weight.detach()
    assert torch.allclose(y, w.T @ _spd(5, 6) @ w, atol=1e-12)


def test_bimap_weight_stays_orthonormal_under_riemannian_adam():
    layer = BiMap(8, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    opt = RiemannianAdam(layer.parameters(), lr=0.05)
    x = _spd(16, 8)
    for _ in range(10):
        opt.zero_grad()
        torch.diagonal(layer(x), dim1=-2, dim2=-1).sum().backward()  # maximise nothing in particular: move W
        opt.step()
    w = layer.weight.detach()
    assert torch.allclose(w.T @ w, torch.eye(4, dtype=torch.float64), atol=1e-10)


def test_bimap_refuses_bad_sizes_and_shapes():
    with pytest.raises(ValueError, match="1 <= m <= n"):
        BiMap(3, 4)
    with pytest.raises(ValueError, match=r"\(\.\.\., 3, 3\)"):
        BiMap(3, 2)(torch.eye(4))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(0, 10_000), st.floats(0.05, 0.5))
def test_reeig_floors_the_eigenvalues_and_keeps_the_eigenvectors(n, seed, eps):
    x = _spd(3, n, seed) - 0.3 * torch.eye(n, dtype=torch.float64)  # some eigenvalues below eps
    y = ReEig(eps)(x)
    w, u = torch.linalg.eigh(x)
    assert torch.allclose(y, u @ torch.diag_embed(w.clamp_min(eps)) @ u.mT, atol=1e-10)
    assert torch.linalg.eigvalsh(y).min() >= eps - 1e-10


def test_reeig_and_logeig_gradients_match_finite_differences():
    x = _spd(2, 4, seed=3).requires_grad_(True)
    w = torch.linalg.eigvalsh(x.detach()).flatten().sort().values
    eps = float(0.5 * (w[3] + w[4]))  # a threshold between eigenvalues: ReEig is smooth there
    assert torch.autograd.gradcheck(lambda z: ReEig(eps)(0.5 * (z + z.mT)), (x,))
    assert torch.autograd.gradcheck(lambda z: LogEig(vectorize=True)(0.5 * (z + z.mT)), (x,))


def test_logeig_and_its_isometric_vectorisation():
    x = _spd(4, 5, seed=2)
    assert torch.allclose(LogEig()(x), sym_logm(x))
    v = LogEig(vectorize=True)(x)
    assert v.shape == (4, 15)
    assert torch.allclose(v.norm(dim=-1), sym_logm(x).flatten(1).norm(dim=-1), atol=1e-12)
    # the identity maps to zero
    assert torch.allclose(LogEig(vectorize=True)(torch.eye(3)), torch.zeros(6))


def test_sym_to_vec_refuses_non_square_input():
    with pytest.raises(ValueError, match="symmetric matrices"):
        sym_to_vec(torch.zeros(2, 3))


def test_spdnet_learns_to_separate_two_covariance_classes():
    """BiMap -> ReEig -> LogEig -> linear: classes differ only in which directions carry variance."""
    g = torch.Generator().manual_seed(0)
    n, per_class = 8, 64
    scales = [torch.tensor([3.0] * 2 + [1.0] * 6), torch.tensor([1.0] * 6 + [3.0] * 2)]
    xs, ys = [], []
    for label, s in enumerate(scales):
        z = torch.randn(per_class, 40, n, generator=g) * s
        xs.append(z.mT @ z / 40 + 1e-3 * torch.eye(n))
        ys.append(torch.full((per_class,), label))
    x, y = torch.cat(xs), torch.cat(ys)
    torch.manual_seed(0)
    model = torch.nn.Sequential(BiMap(n, 4, generator=g), ReEig(1e-3), LogEig(vectorize=True), torch.nn.Linear(10, 2))
    opt = RiemannianAdam(model.parameters(), lr=0.05)
    for _ in range(60):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    accuracy = (model(x).argmax(-1) == y).float().mean().item()
    assert accuracy >= 0.95 and math.isfinite(loss.item())
    w = model[0].weight.detach()
    assert torch.allclose(w.T @ w, torch.eye(4), atol=1e-4)
