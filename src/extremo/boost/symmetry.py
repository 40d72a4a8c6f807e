"""The 8 symmetries of the square (dihedral group D4) and distances between configurations modulo
symmetry.

D4 acts on coordinates centred at ``(1/2, 1/2)`` by the signed permutation matrices
``g in {[[±1, 0], [0, ±1]], [[0, ±1], [±1, 0]]}``: ``x -> g (x - c) + c``. Two configurations are
the same structure when they differ by a symmetry of the domain and a relabelling of their
objects, so the distance used for diversity is

    dist(A, B) = min_{g in G} min_{sigma in S_n} sqrt( sum_i |g a_i - b_sigma(i)|^2 / n ),

the inner minimum an assignment problem (Hungarian algorithm, ``O(n^3)``).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def d4_matrices(dtype=torch.float64, device=None) -> Tensor:
    """``(8, 2, 2)`` orthogonal matrices of D4; the identity first."""
    mats = []
    for swap, sx, sy in itertools.product((False, True), (1.0, -1.0), (1.0, -1.0)):
        m = torch.tensor([[0.0, sx], [sy, 0.0]] if swap else [[sx, 0.0], [0.0, sy]], dtype=dtype, device=device)
        mats.append(m)
    return torch.stack(mats)


#: symmetry groups of domains by the name a `extremo.problems.Layout` gives them
GROUPS = {"D4": d4_matrices}


def act(objs: Tensor, g: Tensor) -> Tensor:
    """Apply each ``g`` of ``(G, 2, 2)`` to the first two features of ``(batch, n, f)`` sets:
    ``(G, batch, n, f)``, positions about the centre ``(1/2, 1/2)``."""
    xy = (objs[..., :2] - 0.5) @ g.to(objs).transpose(-1, -2)[:, None]
    rest = objs[..., 2:].expand((g.shape[0],) + objs.shape[:-1] + (objs.shape[-1] - 2,))
    return torch.cat([xy + 0.5, rest], -1)


def distance(a: Tensor, b: Tensor, square: bool) -> np.ndarray:
    """``(B,)`` distances ``dist(a_k, b_k)`` modulo symmetry of two batches of sets ``(B, n, f)``."""
    a, b = a.double(), b.double()
    images = act(a, d4_matrices()) if square else a[None]
    cost = torch.cdist(images, b[None].expand_as(images)).square().cpu().numpy()  # (G, B, n, n)
    best = np.full(a.shape[0], np.inf)
    for gk in range(cost.shape[0]):  # assignment problems: one per pair and symmetry
        for p in range(a.shape[0]):
            r, c = linear_sum_assignment(cost[gk, p])
            best[p] = min(best[p], cost[gk, p][r, c].sum())
    return np.sqrt(best / a.shape[1])


def mean_pairwise_distance(objs: Tensor, square: bool, limit: int = 12) -> float:
    """Mean of ``dist(A, B)`` over pairs of the first ``limit`` sets of ``(batch, n, f)`` (0 if < 2)."""
    objs = objs[:limit]
    if objs.shape[0] < 2:
        return 0.0
    i, j = np.triu_indices(objs.shape[0], 1)
    return float(distance(objs[i], objs[j], square).mean())
