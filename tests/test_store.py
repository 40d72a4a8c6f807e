import sqlite3
import subprocess
import sys

import pytest

from extremo.store import Store, StoreError, default_store_path


def test_default_path_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("EXTREMO_STORE", str(tmp_path / "x.sqlite"))
    assert default_store_path() == tmp_path / "x.sqlite"
    monkeypatch.delenv("EXTREMO_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_store_path() == tmp_path / "data" / "extremo" / "runs.sqlite"


def test_run_lifecycle(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        rid = s.start_run("circles-sum-radii", {"n": 3}, "circles-sum-radii n=3", 7, {"batch": 4})
        assert s.run(rid).status == "running"
        s.update_best(rid, 0.7, {"radii": [0.1]}, 1.5, 100)
        s.update_best(rid, 0.8, {"radii": [0.2]}, 2.5, 200)
        s.finish(rid, "finished", 3.0, 300)
        row = s.run(rid)
        assert (row.status, row.value, row.config, row.evaluations, row.seed) == (
            "finished", 0.8, {"radii": [0.2]}, 300, 7)
        assert row.settings == {"batch": 4}


def test_best_run_respects_the_sense(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        for v in (0.3, 0.9, 0.5):
            rid = s.start_run("p", {}, "p", 0, {})
            s.update_best(rid, v, {}, 1.0)
        assert s.best_run("p", "max").value == 0.9
        assert s.best_run("p", "min").value == 0.3
        assert s.best_run("other", "max") is None


def test_a_run_whose_process_died_reads_as_interrupted(tmp_path):
    path = tmp_path / "s.sqlite"
    code = (f"from extremo.store import Store; s = Store({str(path)!r}); "
            "s.update_best(s.start_run('p', {}, 'p', 0, {}), 1.0, {'a': 1}, 0.1)")
    subprocess.run([sys.executable, "-c", code], check=True)
    with Store(path) as s:
        (row,) = s.runs()
        assert row.status == "interrupted" and row.value == 1.0


def test_checkpoints_round_trip(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        rid = s.start_run("p", {}, "p", 0, {})
        s.save_checkpoint(rid, "model", b"abc")
        s.save_checkpoint(rid, "model", b"xyz")
        assert s.load_checkpoint(rid, "model") == b"xyz"
        assert s.load_checkpoint(rid, "missing") is None


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_text("this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot use"):
        Store(bad)


def test_a_failed_write_leaves_the_store_unchanged(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        rid = s.start_run("p", {}, "p", 0, {})
        s.update_best(rid, 1.0, {"a": 1}, 1.0)
        with pytest.raises(TypeError):
            s.update_best(rid, 2.0, {"a": object()}, 2.0)
        assert s.run(rid).value == 1.0
        assert s.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert not s.db.in_transaction
        assert isinstance(s.db, sqlite3.Connection)
