"""hexagons: the lattice-patch starts, the separating lines and the polish (the verifier's tests
are in test_declarative.py)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.problems.hexagons import Hexagons, _separating_lines, vertices


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), gap=st.floats(0.01, 0.5), turn=st.floats(0, math.pi / 3))
def test_separating_lines_put_each_hexagon_of_a_disjoint_pair_on_its_own_side(seed, gap, turn):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 2 * math.pi)
    direction = np.array([math.cos(a), math.sin(a)])
    # circumradius 1 each: centres 2 + gap apart are disjoint whatever the angles
    centers = np.stack([np.zeros(2), (2 + gap) * direction])
    vert = vertices(centers, np.array([rng.uniform(0, 1), turn]), 1.0)
    psi, d = _separating_lines(vert, np.array([0]), np.array([1]))
    u = np.array([math.cos(psi[0]), math.sin(psi[0])])
    assert (vert[0] @ u <= d[0]).all() and (vert[1] @ u >= d[0]).all()


def test_lattice_starts_are_patches_of_touching_hexagons_inside_the_domains():
    p = Hexagons(n=12)
    x = p.random(64, torch.Generator().manual_seed(0))
    v = p.split(x)
    assert x.shape == (64, p.dim) and bool((v["centers"].abs() <= 1).all())
    r = v["side"][:, 0]
    assert bool(((r > 0) & (r < 1)).all())
    # in a patch the nearest neighbour is about sqrt(3) r away (0.1 r jitter); a quarter of
    # the rows are uniform
    d = torch.cdist(v["centers"], v["centers"]) + torch.eye(12) * 10
    ratio = (d.amin(-1) / r[:, None]).median(-1).values
    patches = ((ratio > 1.3) & (ratio < 1.9)).double().mean()
    assert 0.55 <= float(patches) <= 0.95


def test_polish_of_a_lattice_start_is_exactly_feasible_and_beats_the_repaired_start():
    p = Hexagons(n=4)
    xi = p.random(4, torch.Generator().manual_seed(1)).numpy()[0]
    z0, z = p.repair(xi), p.polish(xi)
    start, end = p.verify(p.to_config(z0)), p.verify(p.to_config(z))
    assert end.feasible and p.exact_reject(p.to_config(z)) is None
    assert end.value < start.value
    assert end.value >= 2 * (1 - 1e-12)  # area bound: 4 r^2 <= 1


def test_polish_packs_seven_hexagons_as_the_flower_or_better():
    """The flower (a centre hexagon and six around it, edge to edge, aligned with the container)
    fits in side 3; its polish from a loose start (side 0.3 of the container's) reaches 3 within
    the repair's margin."""
    p = Hexagons(n=7)
    s = math.sqrt(3) * 0.3
    ring = [[0, 0]] + [[s * math.cos(k * math.pi / 3 + math.pi / 6), s * math.sin(k * math.pi / 3 + math.pi / 6)]
                       for k in range(6)]
    config = {"centers": np.array(ring), "angles": np.zeros(7), "side": np.array([0.3])}
    z = p.polish(p.from_config(config))
    assert p.verify(p.to_config(z)).value == pytest.approx(3.0, abs=1e-6)
