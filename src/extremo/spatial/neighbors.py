"""Neighbour lists: a cell list, then a Verlet list with a skin, batched over candidates.

Objects sit at positions ``x_i`` in ``R^d`` with *reaches* ``a_i >= 0``; a pair can interact
when ``|x_i - x_j| < a_i + a_j`` (discs of radii ``a`` that overlap; points closer than a
cutoff ``2a``). A Verlet list (Verlet 1967) stores the pairs ``i < j`` with

    |x_i^0 - x_j^0| < a_i^0 + a_j^0 + skin

at build time. It still holds every interacting pair while each object has moved, counting the
growth of its reach, by at most half the skin:

    max_k |x_k - x_k^0| + max(0, a_k - a_k^0) <= skin / 2        (triangle inequality).

It is built from a cell list: a grid of cells of side ``L >= 2 max a + skin`` over the first
``k = min(d, 3)`` axes, so that a listed pair lies in the same or in adjacent cells. Objects are
sorted by cell and each one scans its own cell and the half of the ``3^k - 1`` cells around it
that follow it lexicographically (the other half scans it), by binary search in the sorted
keys (no table of cells, so a sphere's shell in ``R^3`` costs as little as a filled square).
Cost of a build: ``O(B n 3^k K + B n log(B n))`` time and ``O(B n 3^k K)`` memory, ``K`` the
mean cell occupancy (a constant when the density and the spread of reaches are bounded).

As in jax-md's ``partition.neighbor_list``, the list has a fixed *capacity* (pairs per
candidate) so that shapes stay the same between rebuilds; a build that finds more pairs than
fit sets ``overflow`` and the caller reallocates (:meth:`NeighborList.update` does).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch

#: a fresh list leaves this much room above the largest pair count found
_HEADROOM = 1.25
#: at most this many axes carry cells (``3^k`` neighbouring cells per object)
CELL_AXES = 3


@dataclass(frozen=True)
class NeighborList:
    """Pairs ``i < j`` of each candidate within ``a_i + a_j + skin`` at build time.

    ``i, j``: ``(B, capacity)`` long, padded with the pair ``(0, 1)``; ``valid``: ``(B,
    capacity)`` bool, False on padding; ``reference``/``reach``: positions ``(B, n, d)`` and
    reaches ``(B, n)`` at build time; ``overflow``: some candidate had more pairs than
    ``capacity`` (the list is then incomplete and must be rebuilt larger).
    """

    i: torch.Tensor
    j: torch.Tensor
    valid: torch.Tensor
    reference: torch.Tensor
    reach: torch.Tensor
    skin: float
    overflow: bool

    @property
    def capacity(self) -> int:
        return self.i.shape[-1]

    def displacement(self, positions: torch.Tensor, reach: torch.Tensor) -> float:
        """Largest ``|x_k - x_k^0| + max(0, a_k - a_k^0)`` since the build (``inf`` when the
        batch shape or device changed). O(B n d)."""
        if positions.shape != self.reference.shape or positions.device != self.reference.device:
            return math.inf
        with torch.no_grad():
            moved = (positions - self.reference).norm(dim=-1) + (reach - self.reach).clamp_min(0.0)
            return float(moved.max())

    def stale(self, positions: torch.Tensor, reach: torch.Tensor) -> bool:
        """True when some object moved (plus grew) by more than ``skin / 2`` since the build:
        the list may then miss an interacting pair."""
        return self.displacement(positions, reach) > 0.5 * self.skin

    def update(self, positions: torch.Tensor, reach: torch.Tensor, skin: float | None = None) -> NeighborList:
        """This list while it is fresh, else a rebuild (with ``skin``, by default the same) at
        the same capacity, reallocated larger if that overflows."""
        if not self.stale(positions, reach):
            return self
        skin = self.skin if skin is None else skin
        nl = build(positions, reach, skin, self.capacity)
        return build(positions, reach, skin) if nl.overflow else nl


def _broadcast_reach(positions: torch.Tensor, reach: torch.Tensor | float) -> torch.Tensor:
    reach = torch.as_tensor(reach, dtype=positions.dtype, device=positions.device)
    return reach.expand(positions.shape[:-1]).clamp_min(0.0)


def all_pairs(n: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Every pair ``i < j`` of ``n`` objects: two ``(n(n-1)/2,)`` long tensors."""
    idx = torch.triu_indices(n, n, 1, device=device)
    return idx[0], idx[1]


def cell_candidates(positions: torch.Tensor, reach: torch.Tensor, skin: float):
    """The listed pairs through a cell list: flat ``(T,)`` batch rows, ``i`` and ``j`` of the
    pairs ``i < j`` in the same or adjacent cells (``T = O(B n 3^k K)``, see the module
    docstring) and their membership mask; ``None`` when that is more than the brute force's
    ``B n(n-1)/2`` pairs (cells too coarse to pay)."""
    b, n, d = positions.shape
    dev = positions.device
    k = min(d, CELL_AXES)
    y = positions[..., :k]
    lo = y.amin(1, keepdim=True)
    extent = float((y.amax(1, keepdim=True) - lo).max())
    # cells of at least the interaction range; at most about 2^k n of them (bounded keys)
    side = max(float(2.0 * reach.max()) + skin, extent / (2.0 * n ** (1.0 / k)), 1e-300)
    q = ((y - lo) / side).floor().long() + 1  # cell coordinates >= 1: neighbours stay >= 0
    dims = q.amax((0, 1)) + 2
    strides = torch.cumprod(torch.cat([dims.new_ones(1), dims[:-1]]), 0)
    per_batch = int(dims.prod())
    batch = torch.arange(b, device=dev)[:, None]
    sorted_keys, order = ((q * strides).sum(-1) + batch * per_batch).flatten().sort()
    # half of the stencil: the own cell and the neighbours lexicographically after it, so that
    # each pair of distinct cells is scanned from one side only
    offsets = torch.tensor([o for o in itertools.product((-1, 0, 1), repeat=k) if o >= (0,) * k], device=dev)
    near = (((q[:, :, None, :] + offsets) * strides).sum(-1) + batch[..., None] * per_batch).flatten()
    start = torch.searchsorted(sorted_keys, near)
    count = torch.searchsorted(sorted_keys, near, right=True) - start
    total = int(count.sum())
    if total > b * n * (n - 1):
        return None
    # ragged expansion: one entry per (object, object in a neighbouring cell)
    group = torch.repeat_interleave(torch.arange(near.numel(), device=dev), count, output_size=total)
    first = torch.cumsum(count, 0) - count
    other = order[start[group] + torch.arange(total, device=dev) - first[group]]
    me = group // offsets.shape[0]
    own = group % offsets.shape[0] == 0  # offset (0, ..., 0) sorts first
    scan = ~own | (other > me)  # a pair within one cell once; flat indices of the same batch
    me, other = me[scan], other[scan]
    rows = me // n
    dist = (positions.reshape(-1, d)[me] - positions.reshape(-1, d)[other]).norm(dim=-1)
    flat_reach = reach.reshape(-1)
    keep = dist < flat_reach[me] + flat_reach[other] + skin
    return rows, torch.minimum(me, other) % n, torch.maximum(me, other) % n, keep


def dense_candidates(positions: torch.Tensor, reach: torch.Tensor, skin: float):
    """The listed pairs by brute force, flat like :func:`cell_candidates`. O(B n^2 d); the
    fallback when cells do not pay, and the oracle of the cell list in the tests."""
    b, n, _ = positions.shape
    i, j = all_pairs(n, positions.device)
    keep = (positions[:, i] - positions[:, j]).norm(dim=-1) < reach[:, i] + reach[:, j] + skin
    rows = torch.arange(b, device=positions.device)[:, None].expand_as(keep)
    return rows.flatten(), i.repeat(b), j.repeat(b), keep.flatten()


def build(positions: torch.Tensor, reach: torch.Tensor | float, skin: float,
          capacity: int | None = None) -> NeighborList:
    """Verlet list of ``positions`` ``(B, n, d)`` (``n >= 2``) with reaches ``(B, n)`` (or
    broadcastable) and ``skin > 0``, built from a cell list (brute force when cells do not pay).

    ``capacity``: pairs per candidate; by default 25 % above the largest count found.
    """
    if skin <= 0 or not math.isfinite(skin):
        raise ValueError(f"skin must be a positive finite length, got {skin}")
    if positions.dim() != 3 or positions.shape[1] < 2:
        raise ValueError(f"positions must have shape (batch, n >= 2, d), got {tuple(positions.shape)}")
    with torch.no_grad():
        positions = positions.detach()
        reach = _broadcast_reach(positions, reach).detach()
        found = cell_candidates(positions, reach, skin)
        rows, i, j, keep = found if found is not None else dense_candidates(positions, reach, skin)
        rows, i, j = rows[keep], i[keep], j[keep]  # sorted by batch row
        b = positions.shape[0]
        counts = torch.bincount(rows, minlength=b)
        most = int(counts.max()) if b else 0
        if capacity is None:
            capacity = max(1, math.ceil(_HEADROOM * most))
        slot = torch.arange(len(rows), device=rows.device) - (torch.cumsum(counts, 0) - counts)[rows]
        fits = slot < capacity
        rows, slot = rows[fits], slot[fits]
        out_i = torch.zeros(b, capacity, dtype=torch.long, device=positions.device)
        out_j = torch.ones_like(out_i)
        valid = torch.zeros(b, capacity, dtype=torch.bool, device=positions.device)
        out_i[rows, slot] = i[fits]
        out_j[rows, slot] = j[fits]
        valid[rows, slot] = True
    return NeighborList(out_i, out_j, valid, positions.clone(), reach.clone(), float(skin),
                        overflow=most > capacity)
