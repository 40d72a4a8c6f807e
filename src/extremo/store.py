"""The run store: every discovery run in an embedded SQLite file.

One row per run: problem, instance, seed, settings, status (``running``, ``finished``,
``target reached``, ``interrupted``, ``failed`` with its one-line ``reason``), timings, the best
value and its configuration (JSON). The best is written in its own transaction at every
improvement, and SQLite's write-ahead log keeps the file consistent when a process is killed
at any moment; a run whose process died while ``running`` is reported as ``interrupted``.

The file carries its schema version (``PRAGMA user_version``, `SCHEMA_VERSION`). A store
of an older version is migrated in place when opened; one written by a newer extremo is used
as far as it goes (rows are read by column name, so extra columns are ignored). A damaged file
or row raises `StoreError` with a one-line reason; a row whose JSON does not parse is
read with what it holds and says what is damaged (`RunRow.damage`).

Default location: ``$EXTREMO_STORE``, else ``$XDG_DATA_HOME/extremo/runs.sqlite`` (by default
``~/.local/share/extremo/runs.sqlite``).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

#: version 0: the unversioned schema of extremo 0.1; 1: ``reason`` of failed runs, ``user_version`` set
SCHEMA_VERSION = 1

#: columns of ``runs`` (after the id) and their SQL declarations; a migration adds missing ones
_RUN_COLUMNS = {
    "problem": "TEXT NOT NULL",
    "instance": "TEXT NOT NULL",
    "label": "TEXT NOT NULL",
    "command": "TEXT NOT NULL DEFAULT 'discover'",
    "seed": "INTEGER",
    "settings": "TEXT NOT NULL DEFAULT '{}'",
    "status": "TEXT NOT NULL",
    "started": "TEXT NOT NULL",
    "updated": "TEXT NOT NULL",
    "seconds": "REAL NOT NULL DEFAULT 0",
    "value": "REAL",
    "config": "TEXT",
    "evaluations": "INTEGER NOT NULL DEFAULT 0",
    "resumed_from": "INTEGER",
    "host": "TEXT",
    "pid": "INTEGER",
    "reason": "TEXT",
}
#: columns a migration cannot add (NOT NULL without a default): an older file must have them
_REQUIRED = ("problem", "instance", "label", "status", "started", "updated")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    + ", ".join(f"{name} {decl}" for name, decl in _RUN_COLUMNS.items()) + ")",
    "CREATE INDEX IF NOT EXISTS runs_label ON runs(label)",
    "CREATE TABLE IF NOT EXISTS checkpoints (run_id INTEGER NOT NULL REFERENCES runs(id), name TEXT NOT NULL,"
    " data BLOB NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (run_id, name))",
)


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
    #: why a ``failed`` run failed (one line)
    reason: str = ""
    #: what of the row could not be read (e.g. "config is not valid JSON"), else empty
    damage: str = ""


def _guarded(method):
    """Turn SQLite errors of a store operation into one-line `StoreError`s."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise StoreError(self._explain(e)) from None

    return wrapper


class Store:
    """A SQLite run store; use as a context manager or call `close`."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = Path(path).expanduser() if path else default_store_path()
        #: schema version of the file (newer than `SCHEMA_VERSION` if written by a newer extremo)
        self.version = SCHEMA_VERSION
        self.db: sqlite3.Connection | None = None
        try:
            if self.path.is_dir():
                raise StoreError(f"cannot use {self.path} as a run store: it is a directory")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._open_schema()
        except StoreError:
            self.close()
            raise
        except (sqlite3.Error, OSError) as e:
            self.close()
            raise StoreError(self._explain(e)) from None

    def _explain(self, e: Exception) -> str:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "not a database" in text:
            return f"cannot use {self.path} as a run store: it is not an SQLite database ({text})"
        if "malformed" in text:
            return (f"the run store {self.path} is damaged ({text}); recover it with "
                    f"`sqlite3 {self.path} .recover | sqlite3 NEW.sqlite`, or use another --store")
        return f"cannot use {self.path} as a run store: {text}"

    def _columns(self) -> list[str]:
        return [r["name"] for r in self.db.execute("PRAGMA table_info(runs)")]

    def _open_schema(self) -> None:
        """Create a new store, migrate an older one in place, or accept a newer one as it is."""
        self.version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if self.version > SCHEMA_VERSION:
            missing = [c for c in ("id", *_RUN_COLUMNS) if c not in self._columns()]
            if missing:
                raise StoreError(f"the run store {self.path} was written by a newer extremo (schema "
                                 f"{self.version}) without the column(s) {', '.join(missing)}; upgrade extremo")
            return
        if self.version == SCHEMA_VERSION:
            return
        with self._tx() as db:
            present = self._columns()
            if present and not set(_REQUIRED) <= set(present):
                raise StoreError(f"cannot use {self.path} as a run store: its table runs is not an extremo one")
            for name, decl in _RUN_COLUMNS.items():
                if present and name not in present:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {name} {decl}")
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self.version = SCHEMA_VERSION

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.db is not None:
            self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ writes
    @_guarded
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

    @_guarded
    def update_best(self, run_id: int, value: float, config: dict[str, Any], seconds: float,
                    evaluations: int = 0) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET value=?, config=?, seconds=?, evaluations=?, updated=? WHERE id=?",
                (value, json.dumps(config), seconds, evaluations, _now(), run_id),
            )

    @_guarded
    def finish(self, run_id: int, status: str, seconds: float, evaluations: int = 0, reason: str = "") -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET status=?, seconds=?, evaluations=MAX(evaluations, ?), updated=?,"
                " pid=NULL, reason=? WHERE id=?",
                (status, seconds, evaluations, _now(), reason or None, run_id),
            )

    @_guarded
    def save_checkpoint(self, run_id: int, name: str, data: bytes) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO checkpoints (run_id, name, data, updated) VALUES (?,?,?,?)"
                " ON CONFLICT(run_id, name) DO UPDATE SET data=excluded.data, updated=excluded.updated",
                (run_id, name, data, _now()),
            )

    @_guarded
    def load_checkpoint(self, run_id: int, name: str) -> bytes | None:
        row = self.db.execute(
            "SELECT data FROM checkpoints WHERE run_id=? AND name=?", (run_id, name)
        ).fetchone()
        return None if row is None else bytes(row["data"])

    # ------------------------------------------------------------------- reads
    def _row(self, r: sqlite3.Row) -> RunRow:
        """A row read by column name; JSON that does not parse is named in ``damage``."""
        damage = []

        def parsed(column: str, default: Any) -> Any:
            text = r[column]
            if text is None:
                return default
            try:
                return json.loads(text)
            except (ValueError, TypeError, RecursionError):
                damage.append(f"{column} is not valid JSON")
                return default

        status = r["status"]
        if status == "running" and not _alive(r["pid"], r["host"]):
            status = "interrupted"
        instance, settings = parsed("instance", {}), parsed("settings", {})
        config = parsed("config", None)
        for column, value, kind in (("instance", instance, dict), ("settings", settings, dict),
                                    ("config", config, (dict, type(None)))):
            if not isinstance(value, kind):
                damage.append(f"{column} is not a JSON object")
        if config is not None and not isinstance(config, dict):
            config = None
        return RunRow(
            r["id"], r["problem"], instance if isinstance(instance, dict) else {}, r["label"], r["command"],
            r["seed"], settings if isinstance(settings, dict) else {}, status, r["started"], r["updated"],
            r["seconds"], r["value"], config, r["evaluations"], r["resumed_from"], r["reason"] or "",
            "; ".join(damage),
        )

    @_guarded
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
        return [self._row(r) for r in self.db.execute(q, args).fetchall()]

    @_guarded
    def run(self, run_id: int) -> RunRow | None:
        r = self.db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        return None if r is None else self._row(r)

    @_guarded
    def best_run(self, label: str, sense: str) -> RunRow | None:
        """The stored run of best value for an instance."""
        order = "DESC" if sense == "max" else "ASC"
        r = self.db.execute(
            f"SELECT * FROM runs WHERE label=? AND value IS NOT NULL ORDER BY value {order}, id DESC LIMIT 1",
            (label,),
        ).fetchone()
        return None if r is None else self._row(r)
