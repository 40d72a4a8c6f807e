import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extremo.store import SCHEMA_VERSION, Store, StoreError, default_store_path


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


# ------------------------------------------------------------------ schema versions and damage
FIXTURE_V0 = Path(__file__).parent / "data" / "store_v0.sql"


def store_v0(path):
    """A store as extremo wrote it before schema versions (tests/data/store_v0.sql)."""
    db = sqlite3.connect(path)
    db.executescript(FIXTURE_V0.read_text())
    db.close()
    return path


def test_an_unversioned_store_is_migrated_in_place(tmp_path):
    path = store_v0(tmp_path / "old.sqlite")
    with Store(path) as s:
        assert s.version == SCHEMA_VERSION
        rows = s.runs()
        assert [r.id for r in rows] == [3, 2, 1]
        assert rows[2].value == 1.0 and rows[2].config["radii"] == [0.25] * 4 and rows[2].reason == ""
        assert rows[1].resumed_from == 1 and rows[0].command == "boost"
        assert s.load_checkpoint(3, "boost").startswith(b"\x00\x01")
        rid = s.start_run("circles-sum-radii", {"n": 4}, "circles-sum-radii n=4", 5, {})
        s.finish(rid, "failed", 1.0, reason="RuntimeError: boom")
        assert s.run(rid).reason == "RuntimeError: boom"
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(columns=st.lists(st.tuples(st.from_regex(r"x_[a-z]{1,8}", fullmatch=True),
                                  st.sampled_from(["TEXT", "INTEGER", "REAL", "BLOB", "TEXT DEFAULT 'new'",
                                                   "INTEGER NOT NULL DEFAULT 7"])),
                        min_size=1, max_size=4, unique_by=lambda c: c[0]),
       newer=st.integers(SCHEMA_VERSION + 1, 1000))
def test_a_store_of_a_newer_schema_is_used_as_far_as_it_goes(tmp_path, columns, newer):
    path = Path(tempfile.mkdtemp(dir=tmp_path)) / "s.sqlite"
    with Store(path) as s:
        s.update_best(s.start_run("p", {"n": 1}, "p n=1", 0, {}), 1.5, {"a": [1]}, 1.0)
    db = sqlite3.connect(path)
    for name, decl in columns:
        db.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
    db.execute(f"PRAGMA user_version={newer}")
    db.commit()
    db.close()
    with Store(path) as s:
        assert s.version == newer
        rid = s.start_run("p", {"n": 1}, "p n=1", 1, {})
        s.update_best(rid, 2.5, {"a": [2]}, 1.0)
        s.finish(rid, "finished", 2.0)
        assert [r.value for r in s.runs()] == [2.5, 1.5]
        assert s.best_run("p n=1", "max").config == {"a": [2]}
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == newer


def test_a_newer_store_without_a_column_this_version_needs_is_refused(tmp_path):
    path = tmp_path / "s.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, problem TEXT)")
    db.execute("PRAGMA user_version=9")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer extremo .schema 9. without the column"):
        Store(path)


def damage_a_page(path):
    """Overwrite the middle of the file (after the header page) with garbage."""
    data = bytearray(path.read_bytes())
    assert len(data) >= 3 * 4096
    data[4096:len(data) - 100] = b"\xde\xad\xbe\xef" * ((len(data) - 4196) // 4)
    path.write_bytes(bytes(data[: len(data)]))


def filled_store(path, runs=40):
    with Store(path) as s:
        for k in range(runs):
            rid = s.start_run("circles-sum-radii", {"n": 4}, "circles-sum-radii n=4", k, {"pad": "x" * 500})
            s.update_best(rid, 0.5 + k / 100, {"radii": [0.25] * 4, "pad": "y" * 500}, 1.0)
            s.finish(rid, "finished", 1.0)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


def test_a_damaged_page_is_one_line(tmp_path):
    path = filled_store(tmp_path / "s.sqlite")
    damage_a_page(path)
    with pytest.raises(StoreError) as e:
        with Store(path) as s:
            s.runs()
    assert "damaged" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("column, text", [("config", "{not json"), ("settings", "[1, 2"),
                                          ("instance", '"a string"')])
def test_a_row_whose_json_does_not_parse_says_what_is_damaged(tmp_path, column, text):
    path = filled_store(tmp_path / "s.sqlite", runs=2)
    db = sqlite3.connect(path)
    db.execute(f"UPDATE runs SET {column}=? WHERE id=2", (text,))
    db.commit()
    db.close()
    with Store(path) as s:
        bad, good = s.runs()
        assert column in bad.damage and good.damage == ""
        assert bad.value == pytest.approx(0.51)
