"""Sweep campaigns on Ray: instances are tasks on a local cluster, results stream into the driver's store.

Each test starts its own Ray in a subprocess (a local cluster lives as long as its driver).
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest

from extremo.problems import make
from extremo.recorder import best_in_file
from extremo.store import Store
from extremo.sweep import plan


def sweep_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "extremo", "sweep", "circles-sum-radii", *args]


def test_backend_ray_without_ray_is_a_one_line_error(tmp_path):
    """With Ray not importable, ``--backend ray`` says how to install it (exit 2)."""
    code = ("import sys; sys.modules['ray'] = None; from extremo.cli import main; "
            f"sys.argv = ['extremo', 'sweep', 'circles-sum-radii', '--n', '2', '--time', '1', '--backend', 'ray', "
            f"'--out', {str(tmp_path / 'out')!r}, '--store', {str(tmp_path / 's.sqlite')!r}]; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert 'pip install "extremo[ray]"' in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_ray_sweep_streams_every_instance_into_the_driver_store_and_a_rerun_skips(tmp_path):
    pytest.importorskip("ray", reason='the Ray backend needs Ray: pip install "extremo[ray]"')
    out, db = tmp_path / "out", tmp_path / "runs.sqlite"
    args = ["--n", "1-3", "--time", "1", "--workers", "2", "--backend", "ray", "--out", str(out), "--store", str(db)]
    r = subprocess.run(sweep_cli(*args), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    with Store(db) as store:
        runs = store.runs(limit=10)
        assert sorted(run.label for run in runs) == [f"circles-sum-radii n={n}" for n in (1, 2, 3)]
        assert all(run.status == "finished" and run.settings["backend"] == "ray" for run in runs)
        for run in runs:  # what the store holds is what the file holds, verified on the driver
            prob = make("circles-sum-radii", **run.instance)
            assert run.value == best_in_file(prob, out / f"{prob.slug}.json")[1] > 0
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [row["verdict"] for row in rows] == ["tie"] * 3  # n = 1..3 are easy
    again = subprocess.run(sweep_cli(*args), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    with Store(db) as store:
        assert len(store.runs(limit=10)) == 3  # every instance finished with this budget: skipped


def test_ray_sweep_stops_each_task_at_its_record(tmp_path):
    pytest.importorskip("ray", reason='the Ray backend needs Ray: pip install "extremo[ray]"')
    out, db = tmp_path / "out", tmp_path / "runs.sqlite"
    args = ["--n", "1-2", "--time", "300", "--workers", "2", "--backend", "ray", "--stop-at-record",
            "--out", str(out), "--store", str(db)]
    r = subprocess.run(sweep_cli(*args), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    with Store(db) as store:
        runs = store.runs(limit=10)
        assert len(runs) == 2 and {run.status for run in runs} == {"target reached"}
        # the tasks stopped themselves: the optima of n = 1, 2 come in the first round
        assert all(run.seconds < 150 for run in runs)
        assert plan(make("circles-sum-radii", n=2), store, 0, 300.0)[0] == "skip"
    assert "--stop-at-record: each instance with a record stopped" in (out / "summary.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_interrupted_ray_sweep_loses_nothing_and_resumes(tmp_path, how):
    """SIGTERM ends the driver's runs ``interrupted`` (exit 143); SIGKILL of the driver and its
    cluster leaves them ``running`` with a dead pid, read as interrupted. Either way the store
    and the JSON hold the best that reached the driver, and a rerun resumes from it."""
    pytest.importorskip("ray", reason='the Ray backend needs Ray: pip install "extremo[ray]"')
    out, db = tmp_path / "out", tmp_path / "runs.sqlite"
    common = ["--workers", "1", "--backend", "ray", "--out", str(out), "--store", str(db)]
    proc = subprocess.Popen(sweep_cli("--n", "5,6", "--time", "60", *common), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    json_path = out / "circles-sum-radii_n5.json"
    deadline = time.monotonic() + 300
    while not json_path.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(1.0)
    if how == "SIGTERM":
        os.kill(proc.pid, signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=120) == (143 if how == "SIGTERM" else -signal.SIGKILL)
    prob = make("circles-sum-radii", n=5)
    kept = best_in_file(prob, json_path)[1]
    with Store(db) as store:
        action, budget, prior = plan(prob, store, 0, 60.0)
        assert action == "resume" and 0 < budget < 60 and prior.value == kept
        assert prior.status == "interrupted"
        assert plan(make("circles-sum-radii", n=6), store, 0, 60.0)[0] == "run"  # never started: no row
    # the rerun (a 2 s campaign: the 0.2 s left for n=5, 2 s for n=6) resumes n=5 from the stored best
    r = subprocess.run(sweep_cli("--n", "5,6", "--time", "2", *common), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    with Store(db) as store:
        newest = store.runs(label=prob.label, limit=1)[0]
        assert newest.resumed_from == prior.id and newest.status == "finished" and newest.value >= kept
        assert store.runs(label="circles-sum-radii n=6", limit=1)[0].status == "finished"
    assert best_in_file(prob, json_path)[1] >= kept
