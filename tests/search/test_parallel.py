import numpy as np
import pytest

from extremo.problems import make
from extremo.search.parallel import run_search


def _collect(**kw):
    found = []
    progress = run_search("circles-sum-radii", {"n": 5}, 3.0, lambda c, p: found.append(c), seed=0, **kw)
    return found, progress


def _feasible(found):
    problem = make("circles-sum-radii", n=5)
    return all(problem.verify(problem.to_config(c.x)).feasible for c in found)


def test_two_processes_report_feasible_improvements():
    found, progress = _collect(workers=2)
    assert found and _feasible(found) and progress.rounds >= 2
    assert all(isinstance(c.x, np.ndarray) and c.x.flags.writeable for c in found)


def test_should_stop_ends_the_search_early():
    found, progress = _collect(workers=2, should_stop=lambda: True)
    assert progress.rounds <= 2


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend"):
        _collect(backend="dask")


def test_ray_backend_reports_feasible_improvements():
    ray = pytest.importorskip("ray")
    try:
        found, progress = _collect(workers=2, backend="ray")
    finally:
        ray.shutdown()
    assert found and _feasible(found) and progress.rounds >= 2
