"""Starts from neighbouring instances: the stored bests of sizes ``n - r .. n + r``, resized and
polished.

Best configurations of consecutive sizes share most of their structure (the classical start of
packing searches: remove the smallest circle of the ``n + 1`` best, or add one in the largest hole
of the ``n - 1`` best). A sweep over a table runs the sizes in order, so every instance after the
first finds its ``n - 1`` best in the store. The problem builds the start (`Problem.resize`); here
it is polished and verified. Cost: one polish per neighbour with a stored best.
"""

from __future__ import annotations

import numpy as np

from extremo.problems import Problem, ProblemError
from extremo.store import Store


def neighbour_starts(problem: Problem, store: Store, radius: int = 1) -> list[np.ndarray]:
    """Polished, verified starts for ``problem`` from the best stored run of each of its
    `Problem.neighbours` ``(radius)`` (none where the problem has no `Problem.resize`)."""
    starts = []
    for other in problem.neighbours(radius):
        row = store.best_run(other.label, other.sense)
        if row is None or row.damage or not row.config:
            continue
        try:
            x = other.from_config(other.check_shapes(row.config))
        except ProblemError:
            continue
        z = problem.resize(x, other)
        if z is None:
            continue
        z = problem.polish(z)
        if problem.verify(problem.to_config(z)).feasible:
            starts.append(z)
    return starts
