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
fit sets ``overflow`` and the caller reallocates (`NeighborList.update` does).
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
    """The listed pairs through a cell list: flat ``(P,)`` batch rows (ascending), ``i < j``,
    or ``None`` when the cells would scan more candidates than the brute force's
    ``B n(n-1)/2`` pairs (cells too coarse to pay). Cost: see the module docstring.

    Everything runs in the order sorted by cell key, where a cell is a contiguous range found
    in a table of ``O(B n)`` cells (``bincount`` and ``cumsum``): the object at sorted place
    ``s`` scans the rest of its own cell, places ``s + 1`` on, and the whole of each
    neighbouring cell that follows its own lexicographically, so every pair of distinct
    objects is a candidate exactly once.
    """
    b, n, d = positions.shape
    dev = positions.device
    k = min(d, CELL_AXES)
    y = positions[..., :k]
    lo = y.amin(1, keepdim=True)
    extent = float((y.amax(1, keepdim=True) - lo).max())
    # cells of at least the longest listed distance (the two largest reaches and the skin);
    # at most about 2^k n of them per candidate, so the table of cells is O(B n)
    top = reach.reshape(-1).topk(min(2, reach.numel())).values
    side = max(float(top.sum()) * (1 + 1e-12) + skin, extent / (2.0 * n ** (1.0 / k)), 1e-300)
    q = ((y - lo) / side).floor().long() + 1  # cell coordinates >= 1: neighbours stay >= 0
    dims = q.amax((0, 1)) + 2
    strides = torch.cumprod(torch.cat([dims.new_ones(1), dims[:-1]]), 0)
    per_batch = int(dims.prod())
    batch = torch.arange(b, device=dev)[:, None]
    keys, order = ((q * strides).sum(-1) + batch * per_batch).flatten().sort()
    in_cell = torch.bincount(keys, minlength=b * per_batch)
    cell_start = torch.cumsum(in_cell, 0) - in_cell
    # the later half of the stencil, without the own cell: offsets > 0 lexicographically
    offsets = [o for o in itertools.product((-1, 0, 1), repeat=k) if o > (0,) * k]
    shifts = (torch.tensor(offsets, device=dev) * strides).sum(-1)
    cells = torch.cat([keys[:, None], keys[:, None] + shifts], 1).flatten()  # own, then neighbours
    start, end = (t.index_select(0, cells).view(b * n, -1) for t in (cell_start, cell_start + in_cell))
    place = torch.arange(b * n, device=dev)
    begin = torch.cat([place[:, None] + 1, start[:, 1:]], 1)
    count = (end - begin).flatten()
    total = int(count.sum())
    if total > b * n * (n - 1) // 2:
        return None
    # ragged expansion: one entry per (object, later object in its own or a neighbouring cell);
    # 1-d index_select and per-axis sums (row gathers and sums over a short last axis are
    # several times slower on the CPU)
    per_object = count.view(b * n, -1).sum(1)
    me = torch.repeat_interleave(place, per_object, output_size=total)
    first = torch.cumsum(count, 0) - count
    group = torch.repeat_interleave(torch.arange(count.numel(), device=dev), count, output_size=total)
    other = (begin.flatten() - first).index_select(0, group) + torch.arange(total, device=dev)
    x = positions.reshape(-1, d).index_select(0, order).T.contiguous()
    a = reach.reshape(-1).index_select(0, order)
    gap = sum((x[ax].index_select(0, me) - x[ax].index_select(0, other)).square() for ax in range(d))
    keep = torch.nonzero(gap < (a.index_select(0, me) + a.index_select(0, other) + skin).square()).squeeze(1)
    me = order.index_select(0, me.index_select(0, keep))  # flat indices of the same batch row
    other = order.index_select(0, other.index_select(0, keep))
    return me // n, torch.minimum(me, other) % n, torch.maximum(me, other) % n


def dense_candidates(positions: torch.Tensor, reach: torch.Tensor, skin: float):
    """The listed pairs by brute force, flat like `cell_candidates`. O(B n^2 d); the
    fallback when cells do not pay, and the oracle of the cell list in the tests."""
    b, n, _ = positions.shape
    i, j = all_pairs(n, positions.device)
    keep = ((positions[:, i] - positions[:, j]).norm(dim=-1) < reach[:, i] + reach[:, j] + skin).flatten()
    rows = torch.arange(b, device=positions.device)[:, None].expand(b, len(i)).flatten()
    return rows[keep], i.repeat(b)[keep], j.repeat(b)[keep]


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
        rows, i, j = found if found is not None else dense_candidates(positions, reach, skin)
        b = positions.shape[0]
        counts = torch.bincount(rows, minlength=b)
        most = int(counts.max()) if b else 0
        if capacity is None:
            capacity = max(1, math.ceil(_HEADROOM * most))
        # rows ascend: a pair's slot is its rank within its row
        slot = torch.arange(len(rows), device=rows.device) - (torch.cumsum(counts, 0) - counts).index_select(0, rows)
        if most > capacity:
            fits = torch.nonzero(slot < capacity).squeeze(1)
            rows, slot, i, j = (t.index_select(0, fits) for t in (rows, slot, i, j))
        where = rows * capacity + slot
        out_i = torch.zeros(b * capacity, dtype=torch.long, device=positions.device)
        out_j = torch.ones_like(out_i)
        valid = torch.zeros(b * capacity, dtype=torch.bool, device=positions.device)
        out_i[where] = i
        out_j[where] = j
        valid[where] = True
        out_i, out_j, valid = (t.view(b, capacity) for t in (out_i, out_j, valid))
    return NeighborList(out_i, out_j, valid, positions.clone(), reach.clone(), float(skin),
                        overflow=most > capacity)


def pairs_within(points: torch.Tensor, cutoff: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs ``i < j`` of ``points`` ``(n, d)`` closer than ``cutoff > 0``: two ``(P,)`` long
    tensors, by a cell list (O(n) at bounded density)."""
    nl = build(points[None], 0.0, cutoff)
    keep = nl.valid[0]
    return nl.i[0][keep], nl.j[0][keep]


def closest_pair(points: torch.Tensor, cutoff: float) -> tuple[float, int, int]:
    """Smallest squared distance of ``points`` ``(n, d)`` (float64, coordinate differences)
    and its pair ``(i, j)``, ``i < j``: over the pairs closer than ``cutoff`` (a cell list,
    O(n)), or over all pairs (O(n^2)) when no pair is that close."""
    i, j = pairs_within(points, cutoff)
    if len(i) == 0:
        i, j = all_pairs(points.shape[0], points.device)
    d2 = (points[i] - points[j]).square().sum(-1)
    k = int(d2.argmin())
    return float(d2[k]), int(i[k]), int(j[k])
