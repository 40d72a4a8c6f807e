"""The run store: every discovery run in an embedded SQLite file.

One row per run: problem, instance, seed, settings, status, timings, the best value and its
configuration (JSON). The best is written in its own transaction at every improvement, and
SQLite's write-ahead log keeps the file consistent when a process is killed at any moment; a
run whose process died while ``running`` is reported as ``interrupted``.

Default location: ``$EXTREMO_STORE``, else ``$XDG_DATA_HOME/extremo/runs.sqlite`` (by default
``~/.local/share/extremo/runs.sqlite``).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    problem TEXT NOT NULL,
    instance TEXT NOT NULL,
    label TEXT NOT NULL,
    command TEXT NOT NULL DEFAULT 'discover',
    seed INTEGER,
    settings TEXT NOT NULL DEFAULT '{}',
    status TEXT NOT NULL,
    started TEXT NOT NULL,
    updated TEXT NOT NULL,
    seconds REAL NOT NULL DEFAULT 0,
    value REAL,
    config TEXT,
    evaluations INTEGER NOT NULL DEFAULT 0,
    resumed_from INTEGER,
    host TEXT,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS runs_label ON runs(label);
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    data BLOB NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (run_id, name)
);
"""


class StoreError(RuntimeError):
    """The store file cannot be opened or is not an extremo store."""


def default_store_path() -> Path:
    if os.environ.get("EXTREMO_STORE"):
        return Path(os.environ["EXTREMO_STORE"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "extremo" / "runs.sqlite"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _alive(pid: int | None, host: str | None) -> bool:
    if pid is None or host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunRow:
    id: int
    problem: str
    instance: dict[str, Any]
    label: str
    command: str
    seed: int | None
    settings: dict[str, Any]
    status: str
    started: str
    updated: str
    seconds: float
    value: float | None
    config: dict[str, Any] | None
    evaluations: int
    resumed_from: int | None


class Store:
    """A SQLite run store; use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_store_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except (sqlite3.DatabaseError, OSError) as e:
            raise StoreError(f"cannot use {self.path} as a run store: {e}") from None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ writes
    def start_run(
        self,
        problem: str,
        instance: dict[str, Any],
        label: str,
        seed: int | None,
        settings: dict[str, Any],
        command: str = "discover",
        resumed_from: int | None = None,
    ) -> int:
        now = _now()
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (problem, instance, label, command, seed, settings, status, started,"
                " updated, resumed_from, host, pid) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (problem, json.dumps(instance), label, command, seed, json.dumps(settings), "running",
                 now, now, resumed_from, socket.gethostname(), os.getpid()),
            )
            return int(cur.lastrowid)

    def update_best(self, run_id: int, value: float, config: dict[str, Any], seconds: float,
                    evaluations: int = 0) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET value=?, config=?, seconds=?, evaluations=?, updated=? WHERE id=?",
                (value, json.dumps(config), seconds, evaluations, _now(), run_id),
            )

    def finish(self, run_id: int, status: str, seconds: float, evaluations: int = 0) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, seconds=?, evaluations=MAX(evaluations, ?), updated=?,"
                " pid=NULL WHERE id=?",
                (status, seconds, evaluations, _now(), run_id),
            )

    def save_checkpoint(self, run_id: int, name: str, data: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO checkpoints (run_id, name, data, updated) VALUES (?,?,?,?)"
                " ON CONFLICT(run_id, name) DO UPDATE SET data=excluded.data, updated=excluded.updated",
                (run_id, name, data, _now()),
            )

    def load_checkpoint(self, run_id: int, name: str) -> bytes | None:
        row = self.db.execute(
            "SELECT data FROM checkpoints WHERE run_id=? AND name=?", (run_id, name)
        ).fetchone()
        return None if row is None else bytes(row[0])

    # ------------------------------------------------------------------- reads
    def _row(self, r: sqlite3.Row | tuple) -> RunRow:
        (id_, problem, instance, label, command, seed, settings, status, started, updated, seconds,
         value, config, evaluations, resumed_from, host, pid) = r
        if status == "running" and not _alive(pid, host):
            status = "interrupted"
        return RunRow(id_, problem, json.loads(instance), label, command, seed, json.loads(settings),
                      status, started, updated, seconds, value,
                      json.loads(config) if config else None, evaluations, resumed_from)

    def runs(self, label: str | None = None, problem: str | None = None, limit: int = 50) -> list[RunRow]:
        """Most recent runs first, optionally of one instance (``label``) or problem."""
        q, args = "SELECT * FROM runs", []
        conds = []
        if label:
            conds.append("label=?")
            args.append(label)
        if problem:
            conds.append("problem=?")
            args.append(problem)
        if conds:
            q += " WHERE " + " AND ".join(conds)
        q += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [self._row(r) for r in self.db.execute(q, args)]

    def run(self, run_id: int) -> RunRow | None:
        r = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return None if r is None else self._row(r)

    def best_run(self, label: str, sense: str) -> RunRow | None:
        """The stored run of best value for an instance."""
        order = "DESC" if sense == "max" else "ASC"
        r = self.db.execute(
            f"SELECT * FROM runs WHERE label=? AND value IS NOT NULL ORDER BY value {order}, id DESC LIMIT 1",
            (label,),
        ).fetchone()
        return None if r is None else self._row(r)
