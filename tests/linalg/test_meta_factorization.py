"""Meta-factorization identities against torch.linalg (svd, qr, pinv) and scipy.linalg.interpolative."""

import numpy as np
import pytest
import scipy.linalg.interpolative as sli
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extremo.linalg import (
    cur,
    generalized_nystrom,
    meta_factorize,
    numerical_rank,
    pinv_cr,
    qr_meta,
    svd_meta,
    utv_meta,
)

D = torch.float64
prop = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def low_rank(seed, m=9, n=7, r=4, batch=(3,)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*batch, m, r, dtype=D, generator=g) @ torch.randn(*batch, r, n, dtype=D, generator=g)


def decaying(seed, m=80, n=60, rate=0.7):
    """``U diag(rate^i) V^T`` with Haar-random U, V: a matrix with a geometrically decaying spectrum."""
    g = torch.Generator().manual_seed(seed)
    u, _ = torch.linalg.qr(torch.randn(m, n, dtype=D, generator=g))
    v, _ = torch.linalg.qr(torch.randn(n, n, dtype=D, generator=g))
    return (u * rate ** torch.arange(n, dtype=D)) @ v.T


@prop
@given(seed=st.integers(0, 10_000), split=st.sampled_from(["sigma", "left", "balanced"]))
def test_svd_meta_reconstructs_and_matches_singular_values(seed, split):
    a = low_rank(seed)
    f = svd_meta(a, split=split)
    assert float(f.reconstruction_residual.max()) < 1e-12
    assert float(f.projector_residual.max()) < 1e-12
    s = torch.linalg.svdvals(a)[..., :4]
    if split == "sigma":
        torch.testing.assert_close(f.Z, torch.diag_embed(s), atol=1e-12, rtol=0)
    else:
        torch.testing.assert_close(f.Z, torch.eye(4, dtype=D).expand_as(f.Z), atol=1e-12, rtol=0)
    assert f.C.shape[-1] == 4 == f.R.shape[-2]


def test_modified_factors_solve_the_same_equations():
    a = low_rank(1)
    f = svd_meta(a)
    g = torch.randn(4, 4, dtype=D) + 4 * torch.eye(4, dtype=D)
    h = torch.randn(4, 4, dtype=D) + 4 * torch.eye(4, dtype=D)
    mod = meta_factorize(a, f.C @ g, h @ f.R)
    torch.testing.assert_close(mod.Z, torch.linalg.inv(g) @ f.Z @ torch.linalg.inv(h), atol=1e-12, rtol=0)
    assert float(mod.reconstruction_residual.max()) < 1e-12


@prop
@given(seed=st.integers(0, 10_000), pivoting=st.booleans())
def test_qr_meta_is_upper_triangular_and_matches_torch(seed, pivoting):
    a = low_rank(seed, r=7)
    f = qr_meta(a, pivoting=pivoting)
    assert float(f.reconstruction_residual.max()) < 1e-12
    assert float(torch.linalg.matrix_norm(f.Z.tril(-1)).max()) < 1e-12
    if not pivoting:
        torch.testing.assert_close(f.Z.abs(), torch.linalg.qr(a)[1].abs(), atol=1e-12, rtol=0)
    else:  # |Z_ii| decreasing: Businger-Golub pivots
        d = f.Z.diagonal(dim1=-2, dim2=-1).abs()
        assert bool((d[..., :-1] >= d[..., 1:] - 1e-12).all())


@prop
@given(seed=st.integers(0, 10_000))
def test_utv_meta_is_lower_triangular_with_orthonormal_factors(seed):
    a = low_rank(seed, r=7)
    f = utv_meta(a)
    assert float(f.reconstruction_residual.max()) < 1e-12
    assert float(torch.linalg.matrix_norm(f.Z.triu(1)).max()) < 1e-12
    eye = torch.eye(7, dtype=D)
    torch.testing.assert_close(f.C.mT @ f.C, eye.expand(3, 7, 7), atol=1e-12, rtol=0)
    torch.testing.assert_close(f.R @ f.R.mT, eye.expand(3, 7, 7), atol=1e-12, rtol=0)


def test_projector_equation_failure_is_a_value_error():
    a = low_rank(2)
    f = svd_meta(a)
    with pytest.raises(ValueError, match="projector equation"):
        meta_factorize(a, f.C[..., :3], f.R)
    with pytest.raises(ValueError, match="left must be"):
        meta_factorize(a, f.C.mT, f.R)
    with pytest.raises(ValueError, match="m >= n"):
        utv_meta(a.mT)


@prop
@given(seed=st.integers(0, 10_000))
def test_pinv_cr_formulas_against_torch_pinv(seed):
    g = torch.Generator().manual_seed(seed)
    c = torch.randn(3, 9, 4, dtype=D, generator=g)
    r = torch.randn(3, 4, 7, dtype=D, generator=g)
    want = torch.linalg.pinv(c @ r)
    for formula in ("reverse_order", "general"):
        torch.testing.assert_close(pinv_cr(c, r, formula), want, atol=1e-12, rtol=0)
    p = torch.randn(3, 9, 5, dtype=D, generator=g)
    q = torch.randn(3, 7, 6, dtype=D, generator=g)
    torch.testing.assert_close(pinv_cr(c, r, "randomized", p, q), want, atol=1e-11, rtol=0)


def test_pinv_cr_differs_when_rank_conditions_fail():
    g = torch.Generator().manual_seed(5)
    # C has dependent columns: rank C = 2 < k = 3, so R^+ C^+ is not (CR)^+ in general
    c = torch.randn(8, 2, dtype=D, generator=g) @ torch.randn(2, 3, dtype=D, generator=g)
    r = torch.randn(3, 6, dtype=D, generator=g)
    want = torch.linalg.pinv(c @ r)
    with pytest.raises(ValueError, match="independent columns"):
        pinv_cr(c, r, "reverse_order")
    wrong = pinv_cr(c, r, "reverse_order", check=False)
    assert float((wrong - want).abs().max()) > 1e-3
    torch.testing.assert_close(pinv_cr(c, r, "general"), want, atol=1e-12, rtol=0)
    # sketches of rank 1 < rank A = 2: the randomized formula fails, and says so
    p = torch.randn(8, 1, dtype=D, generator=g)
    q = torch.randn(6, 4, dtype=D, generator=g)
    with pytest.raises(ValueError, match="rank\\(P\\^T A\\)"):
        pinv_cr(c, r, "randomized", p, q)
    assert float((pinv_cr(c, r, "randomized", p, q, check=False) - want).abs().max()) > 1e-3


def test_pinv_cr_is_differentiable_like_torch_pinv():
    g = torch.Generator().manual_seed(3)
    c = torch.randn(6, 3, dtype=D, generator=g, requires_grad=True)
    r = torch.randn(3, 5, dtype=D, generator=g, requires_grad=True)
    w = torch.randn(5, 6, dtype=D, generator=g)
    ours = torch.autograd.grad((pinv_cr(c, r, "general") * w).sum(), (c, r))
    ref = torch.autograd.grad((torch.linalg.pinv(c @ r) * w).sum(), (c, r))
    for x, y in zip(ours, ref):
        torch.testing.assert_close(x, y, atol=1e-10, rtol=0)
    assert torch.autograd.gradcheck(lambda c, r: pinv_cr(c, r, "reverse_order"), (c, r))


def test_generalized_nystrom_exact_iff_core_rank_is_rank_a():
    a = low_rank(4)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 7, 4, dtype=D, generator=g)
    y = torch.randn(3, 6, 9, dtype=D, generator=g)
    torch.testing.assert_close(generalized_nystrom(a, x, y), a, atol=1e-11, rtol=0)
    short = generalized_nystrom(a, x[..., :3], y)
    assert bool((numerical_rank(y @ a @ x[..., :3]) < numerical_rank(a)).all())
    assert float((short - a).abs().max()) > 1e-3


@pytest.mark.parametrize("rate", [0.5, 0.7, 0.9])
def test_generalized_nystrom_near_best_rank_k(rate):
    a = decaying(0, rate=rate)
    k, ell = 10, 15
    s = torch.linalg.svdvals(a)
    best = float(s[k:].square().sum().sqrt())
    factors = []
    for seed in range(5):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(60, k, dtype=D, generator=g)
        y = torch.randn(ell, 80, dtype=D, generator=g)
        approx = generalized_nystrom(a, x, y, rtol=1e-14)
        factors.append(float(torch.linalg.matrix_norm(a - approx)) / best)
    assert np.median(factors) < 10.0


def test_cur_matches_interpolative_decomposition_columns():
    a = decaying(1, m=50, n=40, rate=0.6)
    k = 8
    c, u, r, rows, cols = cur(a, k)
    err_cur = float(torch.linalg.matrix_norm(a - c @ u @ r))
    idx, proj = sli.interp_decomp(a.numpy(), k, rand=False)
    skel = a.numpy()[:, idx[:k]]
    err_id = np.linalg.norm(a.numpy() - sli.reconstruct_matrix_from_id(skel, idx, proj))
    best = float(torch.linalg.svdvals(a)[k:].square().sum().sqrt())
    assert err_cur <= 10 * max(err_id, best)
    # the column skeleton of the ID and ours span nearly the same space
    pc = c @ torch.linalg.pinv(c)
    torch.testing.assert_close(pc @ torch.as_tensor(skel), torch.as_tensor(skel), atol=1e-2 * np.linalg.norm(skel), rtol=0)


def test_cur_exact_on_low_rank_and_cross_core():
    a = low_rank(6)
    for core in ("optimal", "cross"):
        c, u, r, _, _ = cur(a, 4, core=core)
        torch.testing.assert_close(c @ u @ r, a, atol=1e-10, rtol=0)
    with pytest.raises(ValueError, match="1 <= k"):
        cur(a, 0)
