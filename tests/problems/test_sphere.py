import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.problems import ProblemError, make
from extremo.problems.sphere import NORM_TOLERANCE, tangent_bases
from extremo.search.local import LocalSearch

PHI = (1 + math.sqrt(5)) / 2
TETRAHEDRON = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / math.sqrt(3)
OCTAHEDRON = np.concatenate([np.eye(3), -np.eye(3)])
ICOSAHEDRON = np.array([p for a, b in itertools.product([-1, 1], repeat=2)
                        for p in ([0, a, b * PHI], [a, b * PHI, 0], [b * PHI, 0, a])]) / math.hypot(1, PHI)
#: classical optima: points, minimum angle (degrees), Coulomb energy (closed forms)
OPTIMA = {
    2: ([[0, 0, 1], [0, 0, -1]], 180.0, 0.5),
    3: ([[1, 0, 0], [-0.5, math.sqrt(3) / 2, 0], [-0.5, -math.sqrt(3) / 2, 0]], 120.0, math.sqrt(3)),
    4: (TETRAHEDRON, math.degrees(math.acos(-1 / 3)), 6 / math.sqrt(8 / 3)),
    6: (OCTAHEDRON, 90.0, 12 / math.sqrt(2) + 3 / 2),
    12: (ICOSAHEDRON, math.degrees(math.atan(2)), None),
}


def brute_force(points):
    """Minimum angle (degrees, by arccos) and Coulomb energy by plain loops over pairs."""
    u = [np.asarray(p) / np.linalg.norm(p) for p in points]
    angle = min(math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b))))) for a, b in itertools.combinations(u, 2))
    energy = sum(1 / math.dist(a, b) for a, b in itertools.combinations(u, 2))
    return angle, energy


@pytest.mark.parametrize("n", sorted(OPTIMA))
def test_the_regular_configurations_are_accepted_with_their_exact_values(n):
    pts, angle, energy = OPTIMA[n]
    tammes, thomson = make("tammes", n=n), make("thomson", n=n)
    v = tammes.verify(tammes.check_shapes({"points": pts}))
    assert v.feasible, v.reason
    assert v.value == pytest.approx(angle, rel=1e-14)
    assert tammes.record().proven_optimal and tammes.record().value == pytest.approx(angle, rel=1e-8)
    e = thomson.verify(thomson.check_shapes({"points": pts}))
    assert e.feasible, e.reason
    assert thomson.record().proven_optimal
    assert e.value == pytest.approx(energy if energy else thomson.record().value, rel=1e-14 if energy else 1e-10)
    assert thomson.record().value == pytest.approx(e.value, rel=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 40))
def test_objectives_equal_a_brute_force_loop(seed, n):
    pts = np.random.default_rng(seed).normal(size=(n, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    angle, energy = brute_force(pts)
    for name, oracle in (("tammes", angle), ("thomson", energy)):
        p = make(name, n=n)
        v = p.verify({"points": pts})
        assert v.feasible, v.reason
        assert v.value == pytest.approx(oracle, rel=1e-9)
        x = torch.as_tensor(p.from_config({"points": pts}))[None]
        assert float(p.value(x)[0]) == pytest.approx(v.value, rel=1e-14)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 30), name=st.sampled_from(["tammes", "thomson"]),
       log_eps=st.floats(min_value=math.log10(NORM_TOLERANCE) + 0.01, max_value=1.0), outward=st.booleans())
def test_a_point_off_the_sphere_by_more_than_the_tolerance_is_rejected(seed, n, name, log_eps, outward):
    rng = np.random.default_rng(seed)
    pts = rng.normal(size=(n, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    k = int(rng.integers(n))
    eps = 10.0**log_eps
    pts[k] *= 1 + eps if outward else max(1 - eps, 0.0)
    v = make(name, n=n).verify({"points": pts})
    assert not v.feasible
    assert f"point {k} is not on the unit sphere" in v.reason


def test_coincident_charges_are_rejected_and_coincident_points_have_angle_zero():
    pts = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    v = make("thomson", n=3).verify({"points": pts})
    assert not v.feasible and "coincide" in v.reason
    assert make("tammes", n=3).verify({"points": pts}).value == 0.0


def test_bad_instances_and_shapes_are_clear_errors():
    with pytest.raises(ProblemError, match="out of range"):
        make("tammes", n=501)
    with pytest.raises(ProblemError, match=r"shape \(4, 2\), expected \(4, 3\)"):
        make("thomson", n=4).check_shapes({"points": np.zeros((4, 2))})


@pytest.mark.parametrize("a", [1e-7, math.pi - 1e-7])
def test_angles_near_0_and_180_degrees_are_computed_accurately(a):
    """arccos of the dot product loses half the digits near 0, the chord formula near 180."""
    pts = np.array([[1.0, 0.0, 0.0], [math.cos(a), math.sin(a), 0.0]])
    p = make("tammes", n=2)
    assert p.verify({"points": pts}).value == pytest.approx(math.degrees(a), rel=1e-12)
    assert float(p.value(torch.as_tensor(p.from_config({"points": pts}))[None])[0]) == pytest.approx(
        math.degrees(a), rel=1e-12)


def test_tangent_bases_are_orthonormal_and_tangent():
    u = np.random.default_rng(0).normal(size=(50, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    b = tangent_bases(u)
    assert np.allclose(np.einsum("nk,nkj->nj", u, b), 0, atol=1e-14)
    assert np.allclose(np.einsum("nki,nkj->nij", b, b), np.eye(2), atol=1e-14)


@pytest.mark.parametrize("name", ["tammes", "thomson"])
def test_kicks_and_projections_stay_on_the_sphere(name):
    p = make(name, n=17)
    g = torch.Generator().manual_seed(0)
    x = p.kick(p.random(8, g), 0.3, g)
    u = x[:, : 3 * 17].reshape(8, 17, 3)
    assert torch.allclose(u.norm(dim=-1), torch.ones(8, 17, dtype=u.dtype), atol=1e-14)
    for z in x.numpy():
        assert p.verify(p.to_config(p.repair(z))).feasible


def test_tammes_polish_never_loses_and_reaches_the_octahedron():
    p = make("tammes", n=6)
    start = OCTAHEDRON + 0.05 * np.random.default_rng(1).normal(size=(6, 3))
    x0 = p.from_config({"points": start / np.linalg.norm(start, axis=1, keepdims=True)})
    before = p.verify(p.to_config(x0)).value
    after = p.verify(p.to_config(p.polish(x0))).value
    assert after >= before
    assert after == pytest.approx(90.0, rel=1e-9)


def test_thomson_polish_reaches_the_triangular_bipyramid_from_a_random_start():
    p = make("thomson", n=5)
    x = p.random(1, torch.Generator().manual_seed(3))[0].numpy()
    v = p.verify(p.to_config(p.polish(x)))
    assert v.value == pytest.approx(p.record().value, rel=1e-9)


@pytest.mark.parametrize(("name", "n"), [("tammes", 13), ("thomson", 24)])
def test_local_search_reaches_the_record(name, n):
    p = make(name, n=n)
    search = LocalSearch(p, seed=0)
    for _ in range(10):  # rounds, not seconds
        search.step()
        if abs(p.gap(search.state.best.value)) < 1e-6:
            break
    assert abs(p.gap(search.state.best.value)) < 1e-6
