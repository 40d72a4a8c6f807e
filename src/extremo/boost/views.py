"""Object views: a problem's flat search vector seen as a set of ``n`` objects with ``f`` features.

The generator works on sets, ``(batch, n, f)``: circles as rows ``(x, y, r)``, points in the unit
cube as rows ``(p_1, ..., p_d)``, points on the sphere as unit rows ``(x, y, z)``. A view maps
vectors to sets and back (recomputing derived entries such as the epigraph variable of max-min
problems), knows the feasible box or sphere of each feature, and which features are coordinates
in the unit square, on which the 8 symmetries of the square act.

Views exist for ``circles-sum-radii`` and ``points-min-distance``, and generically for any problem
whose configuration is one field ``points`` of shape ``(n, k)``: points in the unit box, or on the
unit sphere when projected random vectors have unit rows (heilbronn, star-discrepancy, tammes,
thomson). Other problems raise a :class:`ProblemError` naming what is supported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from extremo.manifolds import Manifold, Sphere
from extremo.problems import Problem, ProblemError


#: point problems in the unit square whose objective is invariant under the 8 symmetries of the square
_D4_INVARIANT = ("heilbronn",)


@dataclass
class ObjectView:
    """Set view of ``problem``: ``n`` objects with ``features`` numbers each.

    ``low``/``high``: box of the features (ignored on the sphere); ``square``: the first two
    features are coordinates in the unit square (D4 acts on them); ``fast``: vectors and sets
    convert by reshaping, so the problem's own projection can run after every sampler step.
    """

    problem: Problem
    n: int
    features: int
    low: Tensor
    high: Tensor
    sphere: bool = False
    square: bool = False
    fast: bool = False

    @property
    def manifold(self) -> Manifold | None:
        """The manifold of one object for Riemannian flow matching (``None``: Euclidean)."""
        return Sphere(self.features) if self.sphere else None

    # ---------------------------------------------------------------- conversions
    def objects(self, x: Tensor) -> Tensor:
        """``(batch, dim)`` vectors to ``(batch, n, features)`` sets."""
        name = self.problem.name
        if name == "circles-sum-radii":
            return x.reshape(x.shape[0], self.n, 3)
        if name == "points-min-distance":
            return x[:, :-1].reshape(x.shape[0], self.n, self.features)
        rows = [self.problem.to_config(v)["points"] for v in x.detach().cpu().numpy()]
        return torch.as_tensor(np.stack(rows), dtype=x.dtype, device=x.device)

    def vectors(self, objs: Tensor) -> Tensor:
        """``(batch, n, features)`` sets to ``(batch, dim)`` vectors (derived entries recomputed)."""
        name = self.problem.name
        if name == "circles-sum-radii":
            return objs.reshape(objs.shape[0], -1)
        if name == "points-min-distance":
            d = torch.cdist(objs, objs) + torch.eye(self.n, dtype=objs.dtype, device=objs.device) * 1e9
            return torch.cat([objs.flatten(1), d.flatten(1).min(-1).values[:, None]], -1)
        rows = [self.problem.from_config({"points": p}) for p in objs.detach().cpu().double().numpy()]
        return torch.as_tensor(np.stack(rows), dtype=objs.dtype, device=objs.device)

    # ---------------------------------------------------------------- geometry
    def clamp(self, objs: Tensor) -> Tensor:
        """Onto the feature box (or each row onto the unit sphere)."""
        if self.sphere:
            return objs / objs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return torch.maximum(torch.minimum(objs, self.high.to(objs)), self.low.to(objs))

    def source(self, batch: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
        """``(batch, n, features)`` samples of the source distribution: the problem's own random
        starts, projected (uniform in the box / on the sphere for the problems at hand)."""
        x = self.problem.project(self.problem.random(batch, generator, dtype=torch.float64))
        return self.clamp(self.objects(x)).to(dtype)


def view_of(problem: Problem) -> ObjectView:
    """The object view of ``problem``; a one-line :class:`ProblemError` if there is none."""
    fields = problem.fields()
    f64 = torch.float64
    if problem.name == "circles-sum-radii":
        n = problem.instance["n"]
        return ObjectView(problem, n, 3, torch.zeros(3, dtype=f64), torch.tensor([1.0, 1.0, 0.5], dtype=f64),
                          square=True, fast=True)
    if problem.name == "points-min-distance":
        n, d = problem.instance["n"], problem.instance["d"]
        return ObjectView(problem, n, d, torch.zeros(d, dtype=f64), torch.ones(d, dtype=f64),
                          square=d == 2, fast=True)
    if set(fields) == {"points"} and len(fields["points"]) == 2:
        n, k = fields["points"]
        x = problem.project(problem.random(8, torch.Generator().manual_seed(0)))
        pts = np.stack([problem.to_config(v)["points"] for v in x.numpy()])
        if np.allclose(np.linalg.norm(pts, axis=-1), 1.0, atol=1e-9):
            return ObjectView(problem, n, k, torch.full((k,), -1.0, dtype=f64), torch.ones(k, dtype=f64),
                              sphere=True)
        lo, hi = pts.min(), pts.max()
        if lo >= 0.0 and hi <= 1.0:
            # D4 is a symmetry of the problem only where the objective says so (not for the star
            # discrepancy, whose boxes are anchored at the origin)
            square = k == 2 and problem.name in _D4_INVARIANT and problem.instance.get("region", "square") == "square"
            return ObjectView(problem, n, k, torch.zeros(k, dtype=f64), torch.ones(k, dtype=f64), square=square)
    raise ProblemError(
        f"boost does not support {problem.name} yet: it needs circles-sum-radii, points-min-distance, "
        "or a problem whose configuration is one field 'points' in the unit box or on the unit sphere"
    )
