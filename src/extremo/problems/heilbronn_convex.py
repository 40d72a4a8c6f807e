"""Heilbronn's problem for convex regions: ``heilbronn --region convex``.

Place ``n`` points so as to maximise the smallest triangle area over the area of their convex
hull (the best convex region of unit area for them is their hull),

    H = min_{i<j<k} |det(p_j - p_i, p_k - p_i)| / 2  /  area(conv{p_1, ..., p_n}).

``H`` is affine invariant, so the points are normalised into the unit square. Written with
:mod:`extremo.problems.declarative`; the hull area is the shoelace sum over the hull edges
``i -> j``, the ordered pairs with no point to their right (a detached O(n^3) test, so the area
is differentiable in the points). Records: AlphaEvolve (Novikov et al. 2025), results B.10.
"""

from __future__ import annotations

import dataclasses
from itertools import combinations

import torch

from extremo.problems.declarative import DeclarativeProblem, Variable
from extremo.problems.heilbronn_common import NAME, PARAMETERS, TITLE


def hull_area(p: torch.Tensor) -> torch.Tensor:
    """``(batch,)`` area of the convex hull of ``(batch, n, 2)`` points in general position."""
    d = p[:, None, :, :] - p[:, :, None, :]  # d[b, i, j] = p_j - p_i
    cross = d[:, :, :, None, 0] * d[:, :, None, :, 1] - d[:, :, :, None, 1] * d[:, :, None, :, 0]
    eye = torch.eye(p.shape[1], dtype=torch.bool, device=p.device)
    edge = ((cross >= 0).all(-1) & ~eye).detach()  # no point to the right of i -> j
    x, y = p[..., 0], p[..., 1]
    return 0.5 * (edge * (x[:, :, None] * y[:, None, :] - x[:, None, :] * y[:, :, None])).sum((1, 2))


class HeilbronnConvex(DeclarativeProblem):
    """Made by :class:`~extremo.problems.heilbronn.Heilbronn` for ``region="convex"``."""

    name = NAME
    title = TITLE
    sense = "max"
    value_name = "smallest triangle / hull area"
    parameters = PARAMETERS
    scale = 0.03

    def __init__(self, **instance) -> None:
        super().__init__(**instance)
        self._tri = torch.tensor(list(combinations(range(self.instance["n"]), 3))).reshape(-1, 3)

    @property
    def search_defaults(self):
        return {"batch": 64, "steps": 400, "polish_top": 4, "polish_fresh": 2}

    def variables(self):
        return {"points": Variable((self.instance["n"], 2))}

    def objective(self, v, ops):
        p = v["points"]
        a, b, c = (p[:, self._tri[:, k]] for k in range(3))
        u, w = b - a, c - a
        return ops.min((u[..., 0] * w[..., 1] - u[..., 1] * w[..., 0]).abs() / 2) / hull_area(p)

    def layout(self):
        return dataclasses.replace(super().layout(), symmetry="D4")
