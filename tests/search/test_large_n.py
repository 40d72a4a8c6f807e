"""Every registered problem's search ends strictly feasible at its largest supported size.

The instance takes the first integer parameter (the number of objects) at its upper limit, each
other integer parameter at its lower and upper limit and each choice in turn; where the limits
are coupled (fewer points in high dimension) the size is halved until the instance is accepted.
One round of the local search with a tiny budget (two starts, a few relaxation steps per stage,
one polish) must leave a verified elite. Large instances take minutes: the slow suite.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from extremo.problems import ProblemError, make, problem_names
from extremo.problems.base import verify_vector
from extremo.problems.registry import problem_class
from extremo.search.local import LocalSearch, SearchSettings


def largest_instances() -> list[tuple[str, dict]]:
    out = []
    for name in problem_names():
        params = problem_class(name).parameters
        size = next(p for p in params if not p.choices)
        options = [[p.high] if p is size else (list(p.choices) or sorted({p.low, p.high})) for p in params]
        for values in itertools.product(*options):
            inst = dict(zip((p.name for p in params), values))
            while inst[size.name] >= max(1, size.low or 1):
                try:
                    make(name, **inst)
                    break
                except ProblemError:
                    inst[size.name] //= 2
            if (name, inst) not in out:
                out.append((name, inst))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name,instance", largest_instances(),
                         ids=lambda v: v if isinstance(v, str) else "-".join(f"{k}{x}" for k, x in v.items()))
def test_search_ends_strictly_feasible_at_the_largest_size(name, instance):
    problem = make(name, **instance)
    base = SearchSettings(**problem.search_defaults)
    tiny = replace(base, batch=2, steps=5 * len(base.mu), polish_top=1, polish_fresh=0)
    search = LocalSearch(problem, tiny, seed=0)
    search.step()
    best = search.state.best
    assert best is not None, f"{problem.label}: no feasible candidate after one round"
    verdict = verify_vector(problem, best.x)
    assert verdict.feasible, verdict.reason
    assert verdict.value == best.value
