"""SQLite connection, pragmas, migrations and transactions.

WAL with ``synchronous=FULL``: a committed "posted" record that a power cut rolled back would
make the agent post again, so every commit is synced. Writers start with ``BEGIN IMMEDIATE`` so
a second writer waits (``busy_timeout``) instead of failing half-way through a step.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConciliadorError

DB_FILENAME = "conciliador.db"
BUSY_TIMEOUT_MS = 30_000


class StoreError(ConciliadorError):
    """The state store cannot be opened or migrated."""


def utcnow() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _migrations() -> list[tuple[int, str, str]]:
    folder = resources.files(__package__).joinpath("migrations")
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            number = int(entry.name.split("_", 1)[0])
            found.append((number, entry.name, entry.read_text(encoding="utf-8")))
    return sorted(found)


SCHEMA_VERSION = max(n for n, _, _ in _migrations())


class Database:
    """One connection to the state store. Not shared between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            self.conn.row_factory = sqlite3.Row
            mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"{path}: SQLite refused WAL mode (got {mode}); is it on a network share?")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self.conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the state store {path}: {exc}") from exc

    @classmethod
    def open(cls, folder: Path) -> Database:
        db = cls(folder / DB_FILENAME)
        db.migrate()
        return db

    def close(self) -> None:
        self.conn.close()

    # -- schema ----------------------------------------------------------------------------
    def version(self) -> int:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        row = self.conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
        return row[0] or 0

    def migrate(self) -> list[str]:
        """Apply pending migrations, each in its own transaction. Returns the names applied."""
        current = self.version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"The state store {self.path} is at schema version {current}, newer than this "
                f"conciliador understands ({SCHEMA_VERSION}); upgrade conciliador or restore a backup."
            )
        applied = []
        for number, name, sql in _migrations():
            if number <= current:
                continue
            try:
                with self.transaction() as conn:
                    for statement in _split_sql(sql):
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                        (number, name, utcnow()),
                    )
            except sqlite3.Error as exc:
                raise StoreError(f"Migration {name} failed on {self.path}: {exc}") from exc
            applied.append(name)
        return applied

    # -- transactions ----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolls back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        else:
            self.conn.execute("COMMIT")

    def audit(self, conn: sqlite3.Connection, event: str, *, file_id: int | None = None,
              line_id: int | None = None, posting_key: str | None = None, **detail: Any) -> None:
        conn.execute(
            "INSERT INTO audit(at, event, file_id, line_id, posting_key, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (utcnow(), event, file_id, line_id, posting_key, json.dumps(detail, default=str, sort_keys=True)),
        )


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements, keeping ``CREATE TRIGGER ... END;`` whole."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not buffer:
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
