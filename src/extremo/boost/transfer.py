"""Structure across instances: training data for one generator from neighbouring instances.

Best configurations of consecutive sizes share structure (rows, hexagonal patches, a few big
circles), so a generator conditioned on the instance (``log n`` enters the field, see
`extremo.boost.network`) and trained on the stored bests of ``n - r .. n + r`` can propose
starts for an instance that local search has not solved yet (FlowBoost trains per instance; this
is the cross-instance variant).

The neighbours of an instance are `Problem.neighbours` (sizes ``n - r .. n + r`` of the
parameter that counts the objects of the problem's `layout`).
"""

from __future__ import annotations

import numpy as np
import torch

from extremo.boost.views import ObjectView, view_of
from extremo.problems import Problem, ProblemError
from extremo.store import Store


def stored_elites(problem: Problem, store: Store, per_instance: int = 8) -> np.ndarray:
    """``(k, dim)`` the best distinct stored configurations of ``problem``, re-verified, best first."""
    found: list[tuple[float, np.ndarray]] = []
    for row in store.runs(label=problem.label, limit=500):
        if not row.config:
            continue
        try:
            x = problem.from_config(problem.check_shapes(row.config))
        except ProblemError:
            continue
        verdict = problem.verify(problem.to_config(x))
        if verdict.feasible and all(abs(verdict.value - v) > 1e-10 * max(1.0, abs(v)) for v, _ in found):
            found.append((verdict.value, x))
    found.sort(key=lambda item: -item[0] if problem.sense == "max" else item[0])
    if not found:
        return np.zeros((0, problem.dim))
    return np.stack([x for _, x in found[:per_instance]])


def transfer_groups(
    problem: Problem, store: Store, radius: int = 3, per_instance: int = 8
) -> list[tuple[ObjectView, torch.Tensor, None]]:
    """Training groups ``(view, objects, None)`` of the neighbouring instances with stored bests,
    in the form `extremo.boost.training.fit_across` takes."""
    groups = []
    for other in problem.neighbours(radius):
        xs = stored_elites(other, store, per_instance)
        if len(xs):
            view = view_of(other)
            groups.append((view, view.objects(torch.as_tensor(xs)).float(), None))
    return groups
