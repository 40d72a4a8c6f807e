"""Points with the smallest ratio of largest to smallest pairwise distance.

``distance-ratio``: place ``n`` points in ``R^d`` so as to minimise

    R = (max_{i<j} |p_i - p_j| / min_{i<j} |p_i - p_j|)^2.

``R`` is invariant under similarities, so the points are normalised into the unit cube.
Written with `extremo.problems.declarative`: the polish minimises ``w / u`` subject to
``u <= |p_i - p_j|^2 <= w``. Records: AlphaEvolve (Novikov et al. 2025), results B.8.
O(n^2 d) per candidate.
"""

from __future__ import annotations

from extremo.problems.base import Parameter
from extremo.problems.declarative import DeclarativeProblem, Variable, pairwise_sq
from extremo.problems.registry import register


@register
class DistanceRatio(DeclarativeProblem):
    name = "distance-ratio"
    title = "n points in R^d minimising (max / min pairwise distance)^2"
    sense = "min"
    value_name = "(max/min distance)^2"
    parameters = (Parameter("n", "number of points", 3, 60, default=16),
                  Parameter("d", "dimension", 2, 3, default=2))
    headline = ({"n": 16, "d": 2}, {"n": 14, "d": 3})

    @property
    def scale(self) -> float:  # (max/min)^2 grows like n^(2/d)
        return self.instance["n"] ** (2 / self.instance["d"])

    def variables(self):
        return {"points": Variable((self.instance["n"], self.instance["d"]))}

    def objective(self, v, ops):
        d2 = pairwise_sq(v["points"])
        return ops.max(d2) / ops.min(d2)
