"""Cross-checks against independent implementations: geoopt, SciPy and textbook formulas."""

import numpy as np
import pytest
import scipy.linalg as sla
import torch

from extremo.manifolds import SO3, SPD, Grassmann, Lorentz, PoincareBall, Sphere, Stiefel, so3_exp, so3_log

D = torch.float64


def gen(seed):
    return torch.Generator().manual_seed(seed)


def close(a, b, atol=1e-9, rtol=1e-7):
    torch.testing.assert_close(torch.as_tensor(a), torch.as_tensor(b), atol=atol, rtol=rtol)


# --- SciPy / textbook formulas for the SPD distances -------------------------------------

def _spd_batch(seed, n=4, b=3):
    return SPD(n).random(b, dtype=D, generator=gen(seed))


def _np(t):
    return [m.numpy() for m in t]


def _sqrtm(a):
    return np.real(sla.sqrtm(a))


@pytest.mark.parametrize("seed", [0, 1])
def test_spd_distances_against_textbook_formulas(seed):
    x, y = _spd_batch(seed), _spd_batch(seed + 100)
    m = _spd_batch(seed + 200)[0]
    ai, le, bw, gbw = [], [], [], []
    mi = np.linalg.inv(m.numpy())
    for a, b in zip(_np(x), _np(y)):
        ra = np.linalg.inv(_sqrtm(a))
        ai.append(np.linalg.norm(np.real(sla.logm(ra @ b @ ra)), "fro"))
        le.append(np.linalg.norm(np.real(sla.logm(a)) - np.real(sla.logm(b)), "fro"))
        bw.append(np.sqrt(np.trace(a) + np.trace(b) - 2 * np.trace(_sqrtm(_sqrtm(a) @ b @ _sqrtm(a)))))
        sa = _sqrtm(a)
        gbw.append(np.sqrt(np.trace(mi @ a) + np.trace(mi @ b) - 2 * np.trace(_sqrtm(sa @ mi @ b @ mi @ sa))))
    close(SPD(4).dist(x, y), torch.tensor(ai, dtype=D))
    close(SPD(4, "log_euclidean").dist(x, y), torch.tensor(le, dtype=D))
    close(SPD(4, "bures_wasserstein").dist(x, y), torch.tensor(bw, dtype=D))
    close(SPD(4, "generalized_bw", M=m).dist(x, y), torch.tensor(gbw, dtype=D))


def test_spd_affine_exp_log_against_scipy():
    x, y = _spd_batch(3), _spd_batch(4)
    man = SPD(4)
    for a, b, lg in zip(_np(x), _np(y), man.logmap(x, y)):
        s = _sqrtm(a)
        si = np.linalg.inv(s)
        close(lg, s @ np.real(sla.logm(si @ b @ si)) @ s)
        close(man.expmap(torch.as_tensor(a), lg), b)


def test_spd_log_euclidean_exp_against_scipy():
    x, u = _spd_batch(5), SPD(4).random_tangent(_spd_batch(5), generator=gen(6))
    man = SPD(4, "log_euclidean")
    h = 1e-6
    for a, v, e in zip(_np(x), _np(u), man.expmap(x, u)):
        # exp_X(u) = expm(logm X + Dlog_X(u)), Dlog by central differences of scipy logm
        dlog = (np.real(sla.logm(a + h * v)) - np.real(sla.logm(a - h * v))) / (2 * h)
        close(e, sla.expm(np.real(sla.logm(a)) + dlog), atol=1e-7, rtol=1e-6)


def test_spd_bures_wasserstein_exp_against_formula():
    x = _spd_batch(7)
    u = 0.2 * SPD(4).random_tangent(x, generator=gen(8))
    for a, v, e in zip(_np(x), _np(u), SPD(4, "bures_wasserstein").expmap(x, u)):
        lyap = sla.solve_continuous_lyapunov(a, v)  # a L + L a = v
        close(e, a + v + lyap @ a @ lyap)


def test_generalized_bw_with_identity_is_bures_wasserstein():
    x, y = _spd_batch(9), _spd_batch(10)
    u = SPD(4).random_tangent(x, generator=gen(11))
    g, b = SPD(4, "generalized_bw"), SPD(4, "bures_wasserstein")
    close(g.dist(x, y), b.dist(x, y))
    close(g.logmap(x, y), b.logmap(x, y))
    close(g.inner(x, u), b.inner(x, u))
    close(g.egrad2rgrad(x, u), b.egrad2rgrad(x, u))


def test_lorentz_and_poincare_are_isometric():
    lor, ball = Lorentz(4, c=0.6), PoincareBall(3, c=0.6)
    x, y = lor.random(5, dtype=D, generator=gen(1)), lor.random(5, dtype=D, generator=gen(2))
    close(ball.dist(lor.to_poincare(x), lor.to_poincare(y)), lor.dist(x, y))
    close(lor.from_poincare(lor.to_poincare(x)), x)


def test_so3_against_stiefel_and_scipy():
    r = SO3().random(6, dtype=D, generator=gen(3))
    w = torch.randn(6, 3, dtype=D, generator=gen(4))
    close(so3_exp(w), torch.stack([torch.as_tensor(sla.expm(m.numpy())) for m in SO3().proju(torch.eye(3, dtype=D), _hat(w))]))
    close(so3_exp(so3_log(r)), r)
    s = SO3().random(6, dtype=D, generator=gen(5))
    st = Stiefel(3, 3)
    # SO(3) is a component of St(3, 3), with the same embedded metric
    near = SO3().expmap(r, 0.3 * SO3().logmap(r, s))
    close(SO3().logmap(r, near), st.logmap(r, near))
    close(SO3().dist(r, near), st.dist(r, near))


def _hat(w):
    from extremo.manifolds import hat

    return hat(w)


def test_so3_log_near_pi_and_zero():
    axis = torch.nn.functional.normalize(torch.randn(4, 3, dtype=D, generator=gen(6)), dim=-1)
    for angle in [0.0, 1e-9, 1e-3, np.pi - 1e-3, np.pi - 1e-9, np.pi]:
        w = angle * axis
        got = so3_log(so3_exp(w))
        if angle >= np.pi - 1e-6:
            # at pi, w and -w are the same rotation
            close(so3_exp(got), so3_exp(w), atol=1e-7, rtol=0)
            close(got.norm(dim=-1), torch.full((4,), angle, dtype=D), atol=1e-6, rtol=0)
        else:
            close(got, w, atol=1e-8, rtol=0)


def test_grassmann_distance_is_principal_angles():
    gr = Grassmann(7, 3)
    x, y = gr.random(4, dtype=D, generator=gen(1)), gr.random(4, dtype=D, generator=gen(2))
    for a, b, d in zip(x.numpy(), y.numpy(), gr.dist(x, y)):
        close(d, np.linalg.norm(sla.subspace_angles(a, b)))


# --- geoopt ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def geoopt():
    """geoopt (a test oracle of the ``test`` extra); only the tests that compare with it skip without it."""
    return pytest.importorskip("geoopt")


def test_sphere_against_geoopt(geoopt):
    ours, ref = Sphere(5), geoopt.Sphere()
    x, y = ours.random(6, dtype=D, generator=gen(1)), ours.random(6, dtype=D, generator=gen(2))
    u, g = ours.random_tangent(x, gen(3)), torch.randn(6, 5, dtype=D, generator=gen(4))
    close(ours.expmap(x, u), ref.expmap(x, u))
    close(ours.logmap(x, y), ref.logmap(x, y))
    close(ours.dist(x, y), ref.dist(x, y))
    close(ours.egrad2rgrad(x, g), ref.egrad2rgrad(x, g))
    close(ours.retr(x, u), ref.retr(x, u))
    # geoopt transports by projection; ours is parallel: both are tangent, ours is the isometry
    assert ours.check_vector(y, ref.transp(x, y, u))[0]


def test_stiefel_against_geoopt(geoopt):
    ours, ref = Stiefel(8, 3), geoopt.EuclideanStiefel()
    x = ours.random(5, dtype=D, generator=gen(1))
    u, g = ours.random_tangent(x, gen(2)), torch.randn(5, 8, 3, dtype=D, generator=gen(3))
    close(ours.proju(x, g), ref.proju(x, g))
    close(ours.egrad2rgrad(x, g), ref.egrad2rgrad(x, g))
    close(ours.inner(x, u, g), ref.inner(x, u, g))
    close(ours.retr(x, u), ref.retr(x, u))
    close(ours.expmap(x, u), ref.expmap(x, u))
    y = ours.retr(x, u)
    close(ours.transp(x, y, g), ref.transp(x, y, g))
    can, cref = Stiefel(8, 3, metric="canonical"), geoopt.CanonicalStiefel()
    close(can.inner(x, u, g), cref.inner(x, u, g))
    close(can.egrad2rgrad(x, g), cref.egrad2rgrad(x, g))


@pytest.mark.parametrize("c", [1.0, 0.3])
def test_poincare_against_geoopt(c, geoopt):
    ours, ref = PoincareBall(4, c=c), geoopt.PoincareBall(c=torch.tensor(c, dtype=D))
    # geoopt clamps artanh at 1 - 1e-7, so stay away from the boundary
    x, y = (ours.random(6, dtype=D, generator=gen(i), std=0.5) for i in (1, 2))
    u, g = torch.randn(6, 4, dtype=D, generator=gen(3)), torch.randn(6, 4, dtype=D, generator=gen(4))
    close(ours.mobius_add(x, y), ref.mobius_add(x, y))
    close(ours.expmap(x, u), ref.expmap(x, u))
    close(ours.logmap(x, y), ref.logmap(x, y))
    close(ours.dist(x, y), ref.dist(x, y))
    close(ours.inner(x, u, g, keepdim=True), ref.inner(x, u, g, keepdim=True))
    close(ours.egrad2rgrad(x, g), ref.egrad2rgrad(x, g))
    close(ours.transp(x, y, u), ref.transp(x, y, u))
    close(ours.retr(x, 0.1 * u), ref.retr(x, 0.1 * u))


def test_poincare_gyration_against_nested_mobius_additions():
    b = PoincareBall(3, c=0.8)
    a_, c_, v = (b.random(5, dtype=D, generator=gen(i)) for i in (1, 2, 3))
    nested = b.mobius_add(-b.mobius_add(a_, c_), b.mobius_add(a_, b.mobius_add(c_, v)))
    close(b.gyration(a_, c_, v), nested)


@pytest.mark.parametrize("c", [1.0, 2.5])
def test_lorentz_against_geoopt(c, geoopt):
    ours, ref = Lorentz(5, c=c), geoopt.Lorentz(k=torch.tensor(1.0 / c, dtype=D))
    x, y = (ours.random(6, dtype=D, generator=gen(i), std=0.5) for i in (1, 2))
    u, g = 0.5 * ours.random_tangent(x, gen(3)), torch.randn(6, 5, dtype=D, generator=gen(4))
    close(ours.expmap(x, u), ref.expmap(x, u))
    close(ours.logmap(x, y), ref.logmap(x, y), atol=1e-7, rtol=1e-6)
    close(ours.dist(x, y), ref.dist(x, y), atol=1e-7, rtol=1e-6)
    close(ours.egrad2rgrad(x, g), ref.egrad2rgrad(x, g))
    close(ours.transp(x, y, u), ref.transp(x, y, u))
    close(ours.inner(x, u, g), ref.inner(x, u, g))


def test_spd_affine_against_geoopt(geoopt):
    ours, ref = SPD(4), geoopt.SymmetricPositiveDefinite()
    x, y = _spd_batch(1), _spd_batch(2)
    u = ours.random_tangent(x, gen(3))
    close(ours.dist(x, y), ref.dist(x, y))
    close(ours.expmap(x, u), ref.expmap(x, u))
    close(ours.logmap(x, y), ref.logmap(x, y))
    close(ours.inner(x, u), ref.inner(x, u))
    close(ours.egrad2rgrad(x, u), ref.egrad2rgrad(x, u))
    close(ours.transp(x, y, u), ref.transp(x, y, u))
    close(ours.retr(x, u), ref.retr(x, u))
    close(SPD(4, "log_euclidean").dist(x, y), geoopt.SymmetricPositiveDefinite("LEM").dist(x, y))
