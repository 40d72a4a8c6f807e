"""Neighbour lists agree with the brute force, stay complete within half the skin, and
lifted pair terms give the same values and gradients on all pairs and on the list."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from extremo.spatial import Pairs, build
from extremo.spatial.neighbors import dense_candidates


def listed(nl):
    """Set of (row, i, j) of a neighbour list."""
    b, p = torch.nonzero(nl.valid, as_tuple=True)
    return set(zip(b.tolist(), nl.i[b, p].tolist(), nl.j[b, p].tolist()))


def brute(positions, reach, skin):
    rows, i, j = dense_candidates(positions, torch.as_tensor(reach).expand(positions.shape[:-1]), skin)
    return set(zip(rows.tolist(), i.tolist(), j.tolist()))


@settings(max_examples=60, deadline=None)
@given(
    batch=st.integers(1, 3),
    n=st.integers(2, 60),
    d=st.sampled_from([1, 2, 3, 4, 6]),
    scale=st.floats(0.01, 0.4),
    skin=st.floats(1e-3, 0.2),
    seed=st.integers(0, 2**31 - 1),
)
def test_cell_list_matches_brute_force(batch, n, d, scale, skin, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(batch, n, d, generator=g, dtype=torch.float64) * 3 - 1
    reach = torch.rand(batch, n, generator=g, dtype=torch.float64) * scale
    nl = build(x, reach, skin)
    assert not nl.overflow
    assert listed(nl) == brute(x, reach, skin)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 40),
    d=st.sampled_from([2, 3]),
    spacing=st.sampled_from([0.125, 0.25, 0.1]),
    jitter=st.sampled_from([0.0, 1e-12, -1e-12, 1e-6]),
    seed=st.integers(0, 2**31 - 1),
)
def test_points_on_and_near_cell_borders(n, d, spacing, jitter, seed):
    """Lattice points whose coordinates are multiples of the cell side (on the cell borders)
    and pairs at exactly the listing distance."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.randint(0, 5, (2, n, d), generator=g).to(torch.float64) * spacing
    x = grid + jitter * torch.randn(grid.shape, generator=g, dtype=torch.float64)
    skin = spacing / 4
    reach = (spacing - skin) / 2  # cell side exactly the lattice spacing
    nl = build(x, reach, skin)
    assert listed(nl) == brute(x, torch.full((2, n), reach, dtype=torch.float64), skin)


def test_list_stays_complete_within_half_the_skin():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(4, 300, 2, generator=g, dtype=torch.float64)
    r = torch.rand(4, 300, generator=g, dtype=torch.float64) * 0.02
    skin = 0.02
    nl = build(x, r, skin)
    # every object moves (plus grows) by just under skin / 2
    step = torch.randn(x.shape, generator=g, dtype=torch.float64)
    step = 0.3 * skin * step / step.norm(dim=-1, keepdim=True)
    y, s = x + step, r + 0.19 * skin
    assert not nl.stale(y, s)
    now = brute(y, s, 0.0)  # the pairs that interact now
    assert now <= listed(nl)
    assert nl.stale(x + 2 * step, r)
    assert nl.update(x + 2 * step, r) is not nl


def test_overflow_is_flagged_and_update_reallocates():
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 200, 2, generator=g, dtype=torch.float64)
    full = build(x, 0.05, 0.01)
    small = build(x, 0.05, 0.01, capacity=3)
    assert small.overflow and not full.overflow and small.capacity == 3
    moved = x + 0.1
    assert not small.update(moved, torch.full((2, 200), 0.05, dtype=torch.float64)).overflow


def test_bad_input_is_refused():
    x = torch.rand(1, 5, 2)
    with pytest.raises(ValueError, match="skin"):
        build(x, 0.1, 0.0)
    with pytest.raises(ValueError, match="positions"):
        build(torch.rand(5, 2), 0.1, 0.1)
    with pytest.raises(ValueError, match="skin"):
        Pairs(10, skin=-1.0)


def overlap(ci, ri, cj, rj):
    return torch.relu(ri + rj - (ci - cj).norm(dim=-1)).square()


@pytest.mark.parametrize("n,d", [(150, 2), (200, 3)])
def test_lifted_pair_terms_are_the_same_on_all_pairs_and_on_the_list(n, d):
    g = torch.Generator().manual_seed(3)
    sparse, dense = Pairs(n, skin=0.02), Pairs(n, skin=None)
    assert sparse.sparse and not dense.sparse
    x = torch.rand(3, n, d, generator=g, dtype=torch.float64)
    r = torch.rand(3, n, generator=g, dtype=torch.float64) * 0.6 / math.sqrt(n)
    for _ in range(5):  # a few moves: the list is reused or rebuilt as needed
        x.requires_grad_(True)
        values = []
        for pairs in (sparse, dense):
            e = pairs.index(x, r).map(overlap, x, r).sum(-1)
            (grad,) = torch.autograd.grad(e.sum(), x)
            values.append((e.detach(), grad))
        assert torch.allclose(values[0][0], values[1][0], rtol=1e-12, atol=1e-15)
        assert torch.allclose(values[0][1], values[1][1], rtol=1e-12, atol=1e-15)
        x = (x.detach() + 0.004 * torch.randn(x.shape, generator=g, dtype=torch.float64))
    assert 1 <= sparse.builds <= 5


def test_one_list_per_batch_shape():
    g = torch.Generator().manual_seed(4)
    pairs = Pairs(120, skin=0.05)
    a = torch.rand(4, 120, 2, generator=g, dtype=torch.float64)
    b = torch.rand(2, 120, 2, generator=g, dtype=torch.float64)
    for _ in range(3):
        pairs.index(a, 0.01)
        pairs.index(b, 0.01)
    assert pairs.builds == 2
    assert np.isfinite(pairs.index(a, 0.01).map(overlap, a, torch.full((4, 120), 0.01, dtype=torch.float64)).sum().item())


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 80), d=st.sampled_from([1, 2, 3, 5]), cutoff=st.floats(1e-3, 0.6),
       seed=st.integers(0, 2**31 - 1))
def test_pairs_within_and_closest_pair_match_brute_force(n, d, cutoff, seed):
    from extremo.spatial import closest_pair, pairs_within

    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, d, generator=g, dtype=torch.float64)
    i, j = pairs_within(x, cutoff)
    assert set(zip(i.tolist(), j.tolist())) == {(a, b) for _, a, b in brute(x[None], 0.0, cutoff)}
    d2, a, b = closest_pair(x, cutoff)
    full = torch.cdist(x, x).square() + torch.eye(n, dtype=torch.float64) * 1e9
    assert d2 == pytest.approx(float(full.min()), rel=1e-12)
    assert a < b and float((x[a] - x[b]).square().sum()) == d2
