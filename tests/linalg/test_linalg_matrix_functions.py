"""Symmetric matrix functions and Newton-Schulz iterations against SciPy and finite differences."""

import numpy as np
import pytest
import scipy.linalg as sla
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extremo.linalg import (
    divided_differences,
    polar_newton_schulz,
    sign_newton_schulz,
    sqrtm_newton_schulz,
    sym,
    sym_expm,
    sym_frechet,
    sym_funcm,
    sym_invsqrtm,
    sym_logm,
    sym_powm,
    sym_sqrtm,
    sym_sqrtm_invsqrtm,
)

prop = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
D = torch.float64


def spd(seed, n=4, batch=(3,)):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(*batch, n, n, dtype=D, generator=g)
    return a @ a.mT / n + 0.1 * torch.eye(n, dtype=D)


def symmetric(seed, n=4, batch=(3,)):
    g = torch.Generator().manual_seed(seed)
    return sym(torch.randn(*batch, n, n, dtype=D, generator=g))


def per_matrix(fn, x):
    return torch.stack([torch.as_tensor(np.real(fn(m.numpy()))) for m in x.reshape(-1, *x.shape[-2:])]).reshape(x.shape)


@prop
@given(seed=st.integers(0, 10_000))
def test_against_scipy(seed):
    x, s = spd(seed), symmetric(seed)
    torch.testing.assert_close(sym_sqrtm(x), per_matrix(sla.sqrtm, x))
    torch.testing.assert_close(sym_invsqrtm(x), per_matrix(lambda m: np.linalg.inv(sla.sqrtm(m)), x))
    torch.testing.assert_close(sym_logm(x), per_matrix(sla.logm, x))
    torch.testing.assert_close(sym_expm(s), per_matrix(sla.expm, s))
    torch.testing.assert_close(sym_powm(x, 0.3), per_matrix(lambda m: sla.fractional_matrix_power(m, 0.3), x))
    torch.testing.assert_close(sym_powm(x, -0.5), sym_invsqrtm(x))
    r, ir = sym_sqrtm_invsqrtm(x)
    torch.testing.assert_close(r @ r, x)
    torch.testing.assert_close(r @ ir, torch.eye(4, dtype=D).expand_as(x))
    torch.testing.assert_close(sym_funcm(x, torch.log, torch.reciprocal), sym_logm(x))


# points with repeated eigenvalues are where differentiating through eigh breaks
REPEATED = [
    torch.eye(4, dtype=D),
    torch.diag(torch.tensor([1.0, 1.0, 2.0, 3.0], dtype=D)),
    torch.diag(torch.tensor([0.5, 2.0, 2.0, 2.0], dtype=D)),
]


@pytest.mark.parametrize("fn", [sym_sqrtm, sym_invsqrtm, sym_logm, sym_expm, lambda x: sym_powm(x, 0.7),
                                lambda x: sym_funcm(x, torch.sin, torch.cos)],
                         ids=["sqrt", "invsqrt", "log", "exp", "pow", "generic"])
@pytest.mark.parametrize("point", ["random", "identity", "double", "triple"])
def test_backward_is_exact_and_finite_at_repeated_eigenvalues(fn, point):
    x = spd(3, batch=(2,)) if point == "random" else REPEATED[["identity", "double", "triple"].index(point)]
    x = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: fn(sym(a)), (x,))
    # torch's eigh backward is not finite here, which is why the custom backward exists
    if point != "random":
        y = x.detach().clone().requires_grad_(True)
        w, u = torch.linalg.eigh(y)
        (u * torch.sqrt(w)[..., None, :] @ u.mT).sum().backward()
        assert not torch.isfinite(y.grad).all()


def test_sqrt_and_invsqrt_from_one_eigh_have_joint_gradient():
    x = spd(5, batch=(2,)).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: sum(t.sum() for t in sym_sqrtm_invsqrtm(sym(a))), (x,))


def test_divided_differences_match_definition_and_derivative():
    w = torch.tensor([0.5, 0.5, 1.0, 3.0, 3.0 + 1e-12], dtype=D)
    for name, f, df in [("log", torch.log, torch.reciprocal), ("exp", torch.exp, torch.exp),
                        ("sqrt", torch.sqrt, lambda t: 0.5 / torch.sqrt(t)),
                        ("invsqrt", torch.rsqrt, lambda t: -0.5 * t ** -1.5)]:
        dd = divided_differences(w, name)
        torch.testing.assert_close(dd[2, 3], (f(w[2]) - f(w[3])) / (w[2] - w[3]))
        torch.testing.assert_close(dd[0, 1], df(w[0]))
        torch.testing.assert_close(dd[3, 4], df(w[3]), rtol=1e-9, atol=0)
        torch.testing.assert_close(dd, dd.mT)


def test_frechet_derivative_matches_finite_difference_and_inverts():
    x, e = spd(11), symmetric(12)
    h = 1e-6
    for name, f in [("log", sym_logm), ("sqrt", sym_sqrtm), ("exp", sym_expm)]:
        fd = (f(x + h * e) - f(x - h * e)) / (2 * h)
        torch.testing.assert_close(sym_frechet(x, e, name), fd, atol=1e-7, rtol=1e-6)
    # Dexp(log X) is the inverse of Dlog(X)
    d = sym_frechet(x, e, "log")
    torch.testing.assert_close(sym_frechet(x, d, "log", inverse=True), e)
    fd = (sym_expm(sym_logm(x) + h * d) - sym_expm(sym_logm(x) - h * d)) / (2 * h)
    torch.testing.assert_close(fd, e, atol=1e-7, rtol=1e-6)


@prop
@given(seed=st.integers(0, 10_000))
def test_newton_schulz_polar_sign_and_sqrt(seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(3, 7, 4, dtype=D, generator=g)
    u, _, vh = torch.linalg.svd(a, full_matrices=False)
    torch.testing.assert_close(polar_newton_schulz(a), u @ vh)
    torch.testing.assert_close(polar_newton_schulz(a.mT), (u @ vh).mT)
    s = symmetric(seed)
    w, q = torch.linalg.eigh(s)
    torch.testing.assert_close(sign_newton_schulz(s), q * torch.sign(w)[..., None, :] @ q.mT)
    x = spd(seed)
    r, ir = sqrtm_newton_schulz(x)
    torch.testing.assert_close(r, per_matrix(sla.sqrtm, x))
    torch.testing.assert_close(ir, sym_invsqrtm(x))


def test_newton_schulz_is_differentiable_and_float32_friendly():
    x = spd(1, batch=(2,)).requires_grad_(True)
    r, _ = sqrtm_newton_schulz(x)
    (g,) = torch.autograd.grad(r.sum(), x)
    x2 = x.detach().clone().requires_grad_(True)
    (g2,) = torch.autograd.grad(sym_sqrtm(x2).sum(), x2)
    torch.testing.assert_close(g, g2, atol=1e-6, rtol=1e-6)
    a = torch.randn(5, 6, 3)
    q = polar_newton_schulz(a)
    assert q.dtype == torch.float32
    torch.testing.assert_close(q.mT @ q, torch.eye(3).expand(5, 3, 3), atol=1e-5, rtol=0)


def test_non_square_input_is_rejected_with_a_clear_message():
    with pytest.raises(ValueError, match="square"):
        sym_sqrtm(torch.randn(3, 4))
