"""Pair terms written once, evaluated on all pairs or on a neighbour list.

A pair term ``phi(f_i, f_j)`` (an overlap, a short distance, a soft-min summand) is written
as a function of per-object fields gathered at both ends of each pair. `Pairs` decides
which pairs it runs over, as jax-md's ``smap.pair`` / ``smap.pair_neighbor_list`` do:

* all ``n(n-1)/2`` pairs ``i < j`` (dense): O(B n^2) per evaluation, for small ``n`` and the
  test oracle;
* a Verlet list (`extremo.spatial.neighbors`), kept between calls and rebuilt when some
  object moved more than half the skin: O(B n) per evaluation, O(B n log n) per rebuild.
  When the objects move so fast that a list would not last three calls, the skin drops to an
  eighth until they slow down (a list rebuilt every call should be thin).

The term must vanish for ``|x_i - x_j| >= a_i + a_j`` (the reaches given to
`Pairs.index`); then both give the same values, and the problem code does not know
which one ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from extremo.spatial.neighbors import NeighborList, all_pairs, build

#: below this many objects, all pairs (a Verlet list does not pay)
DENSE_BELOW = 96


def squared_distance(xi: torch.Tensor, xj: torch.Tensor) -> torch.Tensor:
    """``|x_i - x_j|^2`` over the last axis, summed axis by axis: a reduction over a short
    last axis (``d = 2, 3``) is several times slower on the CPU, forward and backward."""
    v = xi - xj
    return sum(v[..., a].square() for a in range(v.shape[-1]))


@dataclass(frozen=True)
class PairIndex:
    """The pairs a term runs over: ``i, j`` ``(P,)`` shared by the batch (dense) or
    ``(B, P)`` per candidate with a ``valid`` mask (neighbour list, `of_list`)."""

    i: torch.Tensor
    j: torch.Tensor
    valid: torch.Tensor | None = None
    #: per candidate: row-major flat indices ``b n + i``, ``b n + j`` ``(B P,)`` and ``~valid``
    flat: tuple[torch.Tensor, torch.Tensor] | None = None
    padding: torch.Tensor | None = None

    @classmethod
    def of_list(cls, nl: NeighborList) -> PairIndex:
        """The pairs of a neighbour list, with its flat indices computed once."""
        b, n = nl.reference.shape[:2]
        base = n * torch.arange(b, device=nl.i.device)[:, None]
        return cls(nl.i, nl.j, nl.valid, ((nl.i + base).flatten(), (nl.j + base).flatten()), ~nl.valid)

    def gather(self, field: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``field`` ``(B, n, ...)`` at both ends: two ``(B, P, ...)`` tensors, by 1-d
        ``index_select`` (its gradient is an ``index_add``; several times faster on the CPU
        than advanced indexing)."""
        if self.flat is None:
            return field.index_select(1, self.i), field.index_select(1, self.j)
        b, n = field.shape[:2]
        rows = field.reshape((b * n,) + field.shape[2:])
        shape = self.i.shape + field.shape[2:]
        return tuple(rows.index_select(0, k).view(shape) for k in self.flat)

    def map(self, phi: Callable[..., torch.Tensor], *fields: torch.Tensor,
            fill: float = 0.0) -> torch.Tensor:
        """``(B, P)`` values ``phi(*fields_i, *fields_j)``, ``fill`` where no pair is listed."""
        ends = [self.gather(f) for f in fields]
        terms = phi(*(e[0] for e in ends), *(e[1] for e in ends))
        if self.padding is None:
            return terms
        return terms.masked_fill(self.padding, fill)


class Pairs:
    """Selects the pairs of ``n`` objects for pair terms: dense below `DENSE_BELOW`
    objects (or with ``skin=None``), else a Verlet list with the given ``skin`` that lives
    across calls (one per batch shape, so that interleaved batches do not evict each other).
    """

    def __init__(self, n: int, skin: float | None, dense_below: int = DENSE_BELOW) -> None:
        if skin is not None and not skin > 0:
            raise ValueError(f"skin must be positive (or None for all pairs), got {skin}")
        self.n = n
        self.skin = skin
        self.sparse = skin is not None and n >= max(2, dense_below)
        self._dense = all_pairs(n)
        #: per batch shape: the list, the number of calls it has served and its pairs
        self._lists: dict[tuple, tuple[NeighborList, int, PairIndex]] = {}
        #: rebuilds so far (a diagnostic for the skin)
        self.builds = 0

    def index(self, positions: torch.Tensor, reach: torch.Tensor | float) -> PairIndex:
        """Pairs covering every ``|x_i - x_j| < a_i + a_j`` of ``positions`` ``(B, n, d)``."""
        if not self.sparse:
            i, j = self._dense
            if i.device != positions.device:
                self._dense = i, j = i.to(positions.device), j.to(positions.device)
            return PairIndex(i, j)
        key = (tuple(positions.shape), positions.device)
        reach = torch.as_tensor(reach, dtype=positions.dtype, device=positions.device)
        reach = reach.expand(positions.shape[:-1]).detach().clamp_min(0.0)
        old, age, pairs = self._lists.get(key, (None, 0, None))
        if old is None:
            nl = build(positions, reach, self.skin)
        else:
            nl = old.update(positions, reach, self._next_skin(old, positions, reach, age + 1))
        if nl is not old:
            self.builds += 1
            age, pairs = 0, PairIndex.of_list(nl)
        self._lists = {k: v for k, v in self._lists.items() if k != key} | {key: (nl, age + 1, pairs)}
        return pairs

    def _next_skin(self, old: NeighborList, positions: torch.Tensor, reach: torch.Tensor, age: int) -> float:
        """Skin of the next list: the given one if it would last three calls at the motion
        seen, ``moved / age`` per call, else an eighth of it (the list is rebuilt every call
        anyway, and a thinner one holds fewer pairs)."""
        per_call = old.displacement(positions, reach) / age
        return self.skin if 6.0 * per_call <= self.skin else self.skin / 8

    def __getstate__(self) -> dict:
        # cached lists are derived data: do not ship them to worker processes
        return {**self.__dict__, "_lists": {}}
