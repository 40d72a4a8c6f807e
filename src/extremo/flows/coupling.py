"""Couplings of source and target samples for flow matching.

*Minibatch optimal transport* (Tong et al. 2024, "Improving and generalizing flow-based generative
models with minibatch optimal transport"; Pooladian et al. 2023): pair the ``B`` source samples
with the ``B`` targets by the permutation ``sigma`` minimising ``sum_i |x0_i - x1_sigma(i)|^2``,
which straightens the learned flow. For *sets* of objects the same assignment problem, solved
inside each pair, also matches the objects of ``x1`` to those of ``x0`` (equivariant OT flow
matching, Klein, Kroemer and Noe 2023), so that the regression target does not depend on the
arbitrary order in which a configuration lists its objects.

Assignments are exact (Hungarian algorithm, `scipy.optimize.linear_sum_assignment`),
``O(B^3)`` per batch and ``O(n^3)`` per pair of sets; costs are one batched ``cdist``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def ot_pairing(x0: Tensor, x1: Tensor) -> Tensor:
    """Permutation ``sigma`` ``(B,)`` such that ``(x0[i], x1[sigma[i]])`` is a minibatch OT plan."""
    cost = torch.cdist(x0.flatten(1).double(), x1.flatten(1).double()).square()
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    sigma = np.empty(len(rows), dtype=np.int64)
    sigma[rows] = cols
    return torch.as_tensor(sigma, device=x0.device)


def match_objects(x0: Tensor, x1: Tensor) -> Tensor:
    """Reorder the objects of each set ``x1`` ``(B, n, f)`` to best match ``x0`` (squared distance)."""
    cost = torch.cdist(x0.double(), x1.double()).square().cpu().numpy()
    order = np.stack([linear_sum_assignment(c)[1] for c in cost])
    idx = torch.as_tensor(order, device=x1.device)
    return torch.gather(x1, 1, idx[..., None].expand_as(x1))
