"""Object views: a problem's flat search vector seen as a set of ``n`` objects with ``f`` features.

The generator works on sets, ``(batch, n, f)``. What the objects are is the problem's business:
`extremo.problems.Problem.layout` gives their number, features, domain (a box per feature
or the unit sphere) and symmetry group, and `objects` /
`vectors` convert. A view adds what the sampler does with them:
clamping onto the domain, source samples, and the manifold of one object.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from extremo.boost.symmetry import GROUPS
from extremo.manifolds import Manifold, Sphere
from extremo.problems import Layout, Problem, ProblemError


@dataclass
class ObjectView:
    """Set view of ``problem`` after its `Layout`.

    ``low``/``high``: box of the features (ignored on the sphere); ``square``: the domain's
    symmetry is D4 acting on the first two features; ``fast``: conversions are cheap tensor
    maps, so the problem's own projection can run after every sampler step.
    """

    problem: Problem
    layout: Layout

    def __post_init__(self) -> None:
        lay = self.layout
        self.n, self.features, self.sphere, self.fast = lay.n, lay.features, lay.sphere, lay.fast
        self.square = lay.symmetry == "D4"
        box = (-1.0,) * lay.features, (1.0,) * lay.features
        low, high = box if lay.sphere else (lay.low, lay.high)
        self.low, self.high = (torch.tensor(b, dtype=torch.float64) for b in (low, high))

    @property
    def manifold(self) -> Manifold | None:
        """The manifold of one object for Riemannian flow matching (``None``: Euclidean)."""
        return Sphere(self.features) if self.sphere else None

    def objects(self, x: Tensor) -> Tensor:
        """``(batch, dim)`` vectors to ``(batch, n, features)`` sets."""
        return self.problem.objects(x)

    def vectors(self, objs: Tensor) -> Tensor:
        """``(batch, n, features)`` sets to ``(batch, dim)`` vectors (derived entries recomputed)."""
        return self.problem.vectors(objs)

    def clamp(self, objs: Tensor) -> Tensor:
        """Onto the feature box (or each row onto the unit sphere)."""
        if self.sphere:
            return objs / objs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        return torch.maximum(torch.minimum(objs, self.high.to(objs)), self.low.to(objs))

    def source(self, batch: int, generator: torch.Generator, dtype=torch.float32) -> Tensor:
        """``(batch, n, features)`` samples of the source distribution: the problem's own random
        starts, projected, clamped onto the domain."""
        x = self.problem.project(self.problem.random(batch, generator, dtype=torch.float64))
        return self.clamp(self.objects(x)).to(dtype)


def view_of(problem: Problem) -> ObjectView:
    """The object view of ``problem``; a one-line `ProblemError` if it has no layout."""
    lay = problem.layout()
    if lay is None:
        raise ProblemError(f"boost does not support {problem.label}: the problem gives no object layout "
                           "(Problem.layout)")
    if lay.symmetry is not None and lay.symmetry not in GROUPS:
        raise ProblemError(f"boost does not know the symmetry group {lay.symmetry!r} of {problem.label}; "
                           f"it knows {', '.join(GROUPS)}")
    return ObjectView(problem, lay)
