"""The run recorder: compare-and-replace of the run's file, statuses, pictures and permissions."""

import json
import multiprocessing as mp
import os
import stat

import numpy as np
import pytest

from extremo.problems import ProblemError, make
from extremo.recorder import RunRecorder
from extremo.store import Store

GRID = np.array([[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]])


def grid_vector(problem, scale):
    """A feasible configuration of 4 circles with sum of radii ``scale``."""
    return problem.from_config({"centers": GRID, "radii": np.full(4, 0.25 * scale)})


def file_value(path):
    return json.loads(path.read_text())["value"]


def _offer_many(out, store_path, scales, barrier):
    problem = make("circles-sum-radii", n=4)
    with Store(store_path) as store:
        rec = RunRecorder(problem, out, store, seed=int(scales[0] * 1e6))
        barrier.wait()
        with rec.running():
            for s in scales:
                # a fresh recorder best each time, so every offer reaches the file's compare step
                rec.value = float("nan")
                rec.offer(grid_vector(problem, s))


def test_concurrent_writers_leave_the_best_value_in_the_file(tmp_path):
    """Four processes offer interleaved values to one file; whatever the order, the best stays."""
    rng = np.random.default_rng(0)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    batches = [rng.uniform(0.5, 1.0, 40) for _ in range(4)]
    procs = [ctx.Process(target=_offer_many, args=(tmp_path, tmp_path / "s.sqlite", b, barrier))
             for b in batches]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    best = max(float(b.max()) for b in batches)
    target = tmp_path / "circles-sum-radii_n4.json"
    assert file_value(target) == pytest.approx(best, rel=1e-15)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".circles-sum-radii_n4.json.") and not f.endswith(".lock")]


def test_a_worse_configuration_never_replaces_the_file(tmp_path):
    p = make("circles-sum-radii", n=4)
    with Store(tmp_path / "s.sqlite") as store:
        first = RunRecorder(p, tmp_path, store)
        with first.running():
            assert first.offer(grid_vector(p, 0.9))
        second = RunRecorder(p, tmp_path, store)
        with second.running():
            assert second.offer(grid_vector(p, 0.8))  # improves its own run ...
        assert store.run(second.run_id).value == pytest.approx(0.8)  # ... recorded in the store
    assert file_value(tmp_path / "circles-sum-radii_n4.json") == pytest.approx(0.9)  # not in the file


def test_an_infeasible_candidate_is_not_recorded(tmp_path):
    p = make("circles-sum-radii", n=4)
    rec = RunRecorder(p, tmp_path)
    with rec.running():
        assert not rec.offer(grid_vector(p, 1.2))  # overlapping circles
    assert rec.result().config is None and not (tmp_path / "circles-sum-radii_n4.json").exists()


@pytest.mark.parametrize("error, status", [(RuntimeError("disk on fire\nsecond line"), "failed"),
                                           (KeyboardInterrupt(), "interrupted")])
def test_a_run_that_dies_is_recorded_with_its_status(tmp_path, error, status):
    p = make("circles-sum-radii", n=4)
    with Store(tmp_path / "s.sqlite") as store:
        rec = RunRecorder(p, tmp_path, store)
        if status == "failed":
            with pytest.raises(RuntimeError), rec.running():
                rec.offer(grid_vector(p, 0.5))
                raise error
        else:
            with rec.running():  # Ctrl-C ends the run; the caller gets a result
                rec.offer(grid_vector(p, 0.5))
                raise error
        row = store.run(rec.run_id)
        assert row.status == status and row.value == pytest.approx(0.5)
        assert row.reason == ("RuntimeError: disk on fire" if status == "failed" else "")
    assert rec.result().status == status
    assert (tmp_path / "circles-sum-radii_n4.png").stat().st_size > 1000


def test_the_target_status(tmp_path):
    p = make("circles-sum-radii", n=4)
    rec = RunRecorder(p, tmp_path, stop_at=0.7)
    with rec.running():
        rec.offer(grid_vector(p, 0.6))
        assert not rec.reached()
        rec.offer(grid_vector(p, 0.7))
        assert rec.reached()
    assert rec.result().status == "target reached"


def test_the_picture_shows_the_file_even_when_another_run_wrote_it(tmp_path):
    p = make("circles-sum-radii", n=4)
    a, b = RunRecorder(p, tmp_path), RunRecorder(p, tmp_path)
    with a.running():
        a.offer(grid_vector(p, 0.9))
    with b.running():
        b.offer(grid_vector(p, 1.0))
    png, js = tmp_path / "circles-sum-radii_n4.png", tmp_path / "circles-sum-radii_n4.json"
    assert png.stat().st_mtime_ns >= js.stat().st_mtime_ns and file_value(js) == 1.0


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_written_files_get_the_usual_permissions(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        p = make("circles-sum-radii", n=4)
        rec = RunRecorder(p, tmp_path)
        with rec.running():
            rec.offer(grid_vector(p, 1.0))
    finally:
        os.umask(old)
    for name in ("circles-sum-radii_n4.json", "circles-sum-radii_n4.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_a_file_the_run_cannot_compare_with_stops_it_before_it_starts(tmp_path):
    p = make("circles-sum-radii", n=4)
    target = tmp_path / "circles-sum-radii_n4.json"
    target.write_text('{"problem": "circles-sum-radii", "instance": {"n": 4}, "centers": "oops"}')
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ProblemError, match="fix or move that file"):
            RunRecorder(p, tmp_path, store)
        assert store.runs() == []
    assert "oops" in target.read_text()
