"""Runs that must not lose anything or crash (issue 13): concurrent runs, early checks, exit codes,
bad arguments, failed runs and damaged stores, through the command line."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from extremo.cli import app
from extremo.search.arguments import SEED_LIMIT, worker_seed
from extremo.store import Store
from test_store import damage_a_page, filled_store

runner = CliRunner()
SLUG = "circles-sum-radii_n4.json"


def one_line_error(result, code=2):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip() and not ln.startswith("warning: --n of")]
    assert lines and lines[0].startswith("error:"), result.output
    return lines[0]


def discover(*args, n=4, time=600):
    return runner.invoke(app, ["discover", "circles-sum-radii", "--n", str(n), "--time", str(time),
                               "--workers", "1", *args])


def no_runs():
    with Store() as s:
        return s.runs() == []


# ------------------------------------------------------------------------------- concurrent runs
def test_concurrent_discover_processes_leave_the_best_stored_value_in_the_file(tmp_path):
    env = {**os.environ, "EXTREMO_STORE": str(tmp_path / "runs.sqlite")}
    procs = [subprocess.Popen([sys.executable, "-m", "extremo", "discover", "circles-sum-radii", "--n", "9",
                               "--time", "4", "--workers", "1", "--seed", str(seed), "--out", str(tmp_path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
             for seed in range(4)]
    for p in procs:
        out = p.communicate(timeout=180)[0].decode()
        assert p.returncode == 0 and "Traceback" not in out, out
    doc = json.loads((tmp_path / "circles-sum-radii_n9.json").read_text())
    with Store(tmp_path / "runs.sqlite") as s:
        rows = s.runs()
    assert len(rows) == 4 and {r.status for r in rows} == {"finished"}
    assert doc["value"] == max(r.value for r in rows)
    assert doc["run_id"] in [r.id for r in rows if r.value == doc["value"]]
    assert runner.invoke(app, ["verify", str(tmp_path / "circles-sum-radii_n9.json")]).exit_code == 0


# ------------------------------------------------------------------------------ checks before the search
@pytest.mark.parametrize("layout, words", [
    ("file", "is a file, not a directory"),
    ("under-file", "which is a file, not a directory"),
    ("json-is-dir", f"holds a directory {SLUG}"),
])
def test_an_out_that_cannot_take_the_files_is_refused_before_the_search(tmp_path, layout, words):
    target = tmp_path / "out"
    if layout == "file":
        target.write_text("x")
    elif layout == "under-file":
        (tmp_path / "plain").write_text("x")
        target = tmp_path / "plain" / "deeper"
    else:
        (target / SLUG).mkdir(parents=True)
    text = one_line_error(discover("--out", str(target)))  # --time 600: it would hang if checked late
    assert text.startswith("error: --out ") and words in text and no_runs()


def test_an_out_that_is_not_writable_is_refused(tmp_path):
    place = "/proc/extremo-out" if os.geteuid() == 0 else str(tmp_path / "ro" / "out")
    if os.geteuid() != 0:
        (tmp_path / "ro").mkdir(mode=0o500)
    text = one_line_error(discover("--out", place))
    assert "--out" in text and "not writable" in text and no_runs()


@pytest.mark.parametrize("content, words", [
    (b"\xff\xfe not utf-8", "not UTF-8"),
    (b"[" * 100_000, "nested too deeply"),
    (b'{"problem": "circles-sum-radii", "instance": {"n": 4}, "centers": [[0.5, 0.5]], "radii": [0.1]}', "shape"),
    (json.dumps({"problem": "circles-sum-radii", "instance": {"n": 4}, "radii": [0.25, 0.25, 0.25, 0.25],
                 "centers": [[0.25, 0.25], [0.5, 0.25], [0.25, 0.75], [0.75, 0.75]]}).encode(), "infeasible"),
])
def test_a_hostile_file_at_the_target_stops_discover_before_the_search(tmp_path, content, words):
    (tmp_path / SLUG).write_bytes(content)
    text = one_line_error(discover("--out", str(tmp_path)))
    assert words in text and "move" in text and no_runs()
    assert (tmp_path / SLUG).read_bytes() == content


@pytest.mark.parametrize("args, words", [
    (["--time", "inf"], "--time must be a positive, finite number of seconds, got inf"),
    (["--time", "nan"], "--time must be a positive, finite number of seconds, got nan"),
    (["--stop-at", "nan"], "--stop-at must be a finite number"),
    (["--stop-at", "-inf"], "--stop-at must be a finite number"),
    (["--seed", str(2**63)], "--seed must be in 0..2^63-1"),
    (["--seed", str(2**200)], "--seed must be in 0..2^63-1"),
    (["--seed", "-1"], "--seed must be in 0..2^63-1"),
    (["--backend", "dask"], "--backend must be one of processes, ray"),
])
def test_bad_arguments_name_their_flag(tmp_path, args, words):
    text = one_line_error(discover("--out", str(tmp_path), *args))
    assert words in text and no_runs()


@given(seed=st.integers(0, SEED_LIMIT - 1), worker=st.integers(0, 4096))
def test_derived_worker_seeds_never_overflow(seed, worker):
    s = worker_seed(seed, worker)
    assert 0 <= s < 2**64
    assert torch.Generator().manual_seed(s).initial_seed() == s


def test_the_largest_seed_runs_on_several_workers(tmp_path):
    result = runner.invoke(app, ["discover", "circles-sum-radii", "--n", "2", "--time", "1", "--workers", "2",
                                 "--seed", str(SEED_LIMIT - 1), "--out", str(tmp_path)])
    assert result.exit_code == 0 and "Traceback" not in result.output, result.output


def test_workers_far_above_the_cores_are_capped_with_a_note(tmp_path):
    result = discover("--out", str(tmp_path), "--workers", "100000", "--stop-at", "0.5", n=2)
    assert result.exit_code == 0, result.output
    assert "note: 100000 workers asked for" in result.output
    with Store() as s:
        assert s.runs()[0].settings["workers"] == len(os.sched_getaffinity(0))


# ------------------------------------------------------------------------------ a run that fails
def test_a_run_that_raises_is_recorded_failed_and_exits_1(tmp_path):
    """A problem whose verifier raises (a user's own problem may): one line, exit 1, ``failed``."""
    code = textwrap.dedent(f"""
        import sys
        from extremo.cli import main
        from extremo.problems import register, problem_class

        base = problem_class("circles-sum-radii")

        @register
        class Broken(base):
            name = "broken-circles"
            def verify(self, config):
                raise RuntimeError("the verifier fell over\\nsecond line")

        sys.argv = ["extremo", "discover", "broken-circles", "--n", "3", "--time", "60", "--workers", "1",
                    "--out", {str(tmp_path)!r}]
        main()
    """)
    env = {**os.environ, "EXTREMO_STORE": str(tmp_path / "runs.sqlite")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "error: RuntimeError: the verifier fell over"
    with Store(tmp_path / "runs.sqlite") as s:
        (row,) = s.runs()
    assert row.status == "failed" and row.reason == "RuntimeError: the verifier fell over"


# ------------------------------------------------------------------------------ damaged stores
@pytest.fixture
def damaged(tmp_path):
    path = filled_store(tmp_path / "damaged.sqlite")
    damage_a_page(path)
    return path


@pytest.mark.parametrize("command", [
    ["runs"],
    ["discover", "circles-sum-radii", "--n", "4", "--time", "600", "--workers", "1", "--resume"],
    ["boost", "circles-sum-radii", "--n", "4", "--time", "600", "--resume"],
])
def test_a_damaged_store_is_one_line(tmp_path, damaged, command):
    text = one_line_error(runner.invoke(app, [*command, "--store", str(damaged), *(
        ["--out", str(tmp_path)] if command[0] != "runs" else [])]))
    assert "damaged" in text and ".recover" in text


def test_a_row_whose_json_does_not_parse(tmp_path):
    path = filled_store(tmp_path / "s.sqlite", runs=3)
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET config='{broken' WHERE id=3")  # the best run
    db.commit()
    db.close()
    listing = runner.invoke(app, ["runs", "--store", str(path)])
    assert listing.exit_code == 0 and "warning: run 3" in listing.output and "config is not valid JSON" in listing.output
    text = one_line_error(discover("--resume", "--store", str(path), "--out", str(tmp_path)))
    assert "cannot resume circles-sum-radii n=4 from run 3" in text


def test_a_store_of_a_newer_schema_lists_and_resumes(tmp_path):
    path = filled_store(tmp_path / "s.sqlite", runs=2)
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE runs ADD COLUMN tags TEXT")
    db.execute("PRAGMA user_version=7")
    db.commit()
    db.close()
    listing = runner.invoke(app, ["runs", "--store", str(path)])
    assert listing.exit_code == 0 and "newer extremo (schema 7" in listing.output
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET config=? WHERE id=2", (json.dumps(
        {"centers": [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]], "radii": [0.25] * 4}),))
    db.commit()
    db.close()
    result = discover("--resume", "--store", str(path), "--out", str(tmp_path), "--stop-at", "0.9")
    assert result.exit_code == 0 and "target reached" in result.output, result.output
    with Store(path) as s:
        assert s.runs()[0].resumed_from == 2
