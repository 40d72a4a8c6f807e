"""Maximin polish over pairs: raise the smallest pair value by trust-region SLP on the near pairs.

``maximise  F(x) = min_{i<j} f(x_i, x_j)  subject to  lo <= x <= hi``, ``x_i`` the rows of
``x`` ``(n, m)`` (points, unnormalised directions, ...). In epigraph form, from ``x_k`` one
step of `extremo.solvers.slp.slp` solves

    max t   s.t.   f_ij(x_k) - F(x_k) + grad f_ij(x_k) . (e_i, e_j) - t >= 0,
                   |e|_inf <= rho,   lo <= x_k + e <= hi,

over the pairs the caller lists as able to become minimal within the trust region (``P`` near
pairs, not all ``n(n-1)/2``; a neighbour list finds them in O(n)). ``t`` is measured from the
current minimum, so the LP's optimum is the predicted gain (which the trust region limits
only when asked to, ``gain_trust``). The Jacobian is sparse, ``2m + 1`` entries a row, by autograd at both ends of each
listed pair: O(P m) per LP. A step is kept when the caller's exact ``F`` grows.

When every ``f`` is convex (e.g. ``|x_i - x_j|^2``), its linearisation is a global lower bound
and every step keeps the value the LP predicts on the listed pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from extremo.solvers.slp import slp
from extremo.solvers.slsqp import PolishResult

#: ``(x_i, x_j) -> (P,)``: the pair values, differentiable torch code on ``(P, m)`` rows
PairValue = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: ``(x, rho) -> (i, j)``: every pair that can become minimal after a step ``|e|_inf <= rho``
NearPairs = Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray]]


def maximin_slp(
    pair_value: PairValue,
    near_pairs: NearPairs,
    minimum: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray | float,
    upper: np.ndarray | float,
    rho: float,
    rho_max: float | None = None,
    maxiter: int = 100,
    rtol: float = 1e-12,
    method: str = "highs-ipm",
    gain_trust: float = math.inf,
) -> PolishResult:
    """Raise ``minimum(x) = min_{i<j} pair_value(x_i, x_j)`` from ``x0`` ``(n, m)`` within the
    bounds (module docstring). ``minimum``: the exact smallest value over all pairs (``-inf``
    when ``x`` is not acceptable). Returns the best ``x`` ``(n, m)`` as ``z``, its ``minimum``
    as ``fun`` and the number of LPs as ``nit``.

    The values are divided by ``|minimum(x0)|`` inside, so that ``rtol`` and the LP's
    tolerances mean the same at every scale. ``rtol``: the search stops when the LP predicts
    or a step gains less than this (relative); below about ``1e-12`` the predictions of
    HiGHS are noise. ``method``: the LP solver (`extremo.solvers.slp.slp`).
    ``gain_trust``: the LP may predict a gain of at most ``gain_trust * rho`` (in the units
    of the pair values; unlimited by default). Where the linearisation over-estimates the
    pair values (e.g. angles on the sphere), a finite limit leaves slack in the listed
    constraints, and more steps are kept (Tammes n = 150, 8 relaxed starts: median 17.099
    and best 17.162 degrees with ``gain_trust = 1``, 17.090 and 17.106 without).
    """
    x0 = np.asarray(x0, dtype=np.float64)
    n, m = x0.shape
    size = n * m
    scale = abs(minimum(x0)) or 1.0

    def linearize(z: np.ndarray, rho: float) -> tuple[sp.spmatrix, np.ndarray]:
        x = z[:size].reshape(n, m)
        i, j = near_pairs(x, rho)
        a = torch.tensor(x[i], requires_grad=True)
        b = torch.tensor(x[j], requires_grad=True)
        value = pair_value(a, b) / scale
        ga, gb = torch.autograd.grad(value.sum(), (a, b))
        p = len(i)
        rows = np.repeat(np.arange(p), 2 * m + 1)
        cols = np.concatenate([m * i[:, None] + np.arange(m), m * j[:, None] + np.arange(m),
                               np.full((p, 1), size)], 1).ravel()
        vals = np.concatenate([ga.numpy(), gb.numpy(), -np.ones((p, 1))], 1).ravel()
        value = value.detach().numpy()
        # t counts from the current minimum: the LP's ascent is the predicted gain
        return sp.csr_matrix((vals, (rows, cols)), shape=(p, size + 1)), value - value.min()

    def score(z: np.ndarray) -> float:
        return minimum(z[:size].reshape(n, m)) / scale

    z0 = np.concatenate([x0.ravel(), [0.0]])
    lo = np.concatenate([np.broadcast_to(lower, (n, m)).ravel(), [-np.inf]])
    hi = np.concatenate([np.broadcast_to(upper, (n, m)).ravel(), [np.inf]])
    trust = np.concatenate([np.ones(size), [gain_trust / scale]])
    objective = np.zeros(size + 1)
    objective[-1] = 1.0
    res = slp(objective, linearize, score, z0, lo, hi, rho=rho, rho_max=rho_max, maxiter=maxiter,
              rtol=rtol, trust=trust, method=method)
    return PolishResult(res.z[:size].reshape(n, m), res.fun * scale, res.success, res.message, res.nit)
