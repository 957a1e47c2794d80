"""Tests for conciliador.store.db: a real SQLite file in tmp_path, its pragmas and its schema.

The store is what keeps the agent from posting a payment twice, so the tests check the
guarantees the schema itself gives (unique claims, append-only audit), not just the Python.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from conciliador.store import DB_FILENAME, SCHEMA_VERSION, Database, StoreError, utcnow


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path)
    yield database
    database.close()


def insert_file(conn: sqlite3.Connection, sha256: str = "a" * 64, status: str = "archived") -> int:
    cur = conn.execute(
        "INSERT INTO files(sha256, original_name, size, received_at, status, stored_path) VALUES (?, ?, ?, ?, ?, ?)",
        (sha256, "statement.csv", 10, utcnow(), status, "archive/statement.csv"),
    )
    return cur.lastrowid


def count(db: Database, table: str) -> int:
    return db.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# -- opening ----------------------------------------------------------------------------------


def test_open_creates_the_file_in_wal_mode_with_full_sync(tmp_path: Path) -> None:
    db = Database.open(tmp_path / "state")  # the folder does not exist yet
    try:
        assert (tmp_path / "state" / DB_FILENAME).is_file()
        assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # FULL (2): a committed "posted" record must survive a power cut.
        assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    finally:
        db.close()


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    first = Database(tmp_path / DB_FILENAME)
    applied = first.migrate()
    assert applied and applied[0].startswith("0001_")
    rows = first.conn.execute("SELECT version, name, applied_at FROM schema_migrations ORDER BY version").fetchall()
    assert [r["version"] for r in rows] == list(range(1, SCHEMA_VERSION + 1))
    assert [r["name"] for r in rows] == applied
    assert all(r["applied_at"] for r in rows)
    first.close()

    # Re-opening (a restart) applies nothing and adds no row.
    again = Database.open(tmp_path)
    try:
        assert again.migrate() == []
        assert again.version() == SCHEMA_VERSION
        assert count(again, "schema_migrations") == SCHEMA_VERSION
    finally:
        again.close()


def test_open_keeps_existing_data(tmp_path: Path) -> None:
    db = Database.open(tmp_path)
    with db.transaction() as conn:
        insert_file(conn)
    db.close()

    db = Database.open(tmp_path)
    try:
        assert count(db, "files") == 1
    finally:
        db.close()


def test_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    # A downgrade of conciliador must not run old code against a schema it does not know.
    db = Database.open(tmp_path)
    with db.transaction() as conn:
        conn.execute("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
                     (SCHEMA_VERSION + 1, "9999_future.sql", utcnow()))
    db.close()

    with pytest.raises(StoreError) as info:
        Database.open(tmp_path)
    message = str(info.value)
    assert str(tmp_path / DB_FILENAME) in message
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert f"({SCHEMA_VERSION})" in message
    assert "upgrade conciliador" in message


def test_a_file_that_is_not_sqlite_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / DB_FILENAME).write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(StoreError, match="Cannot open the state store"):
        Database.open(tmp_path)


# -- audit trail ------------------------------------------------------------------------------


def test_audit_is_append_only(db: Database) -> None:
    with db.transaction() as conn:
        db.audit(conn, "file_archived", posting_key="ABC", amount="1500.00")
    row = db.conn.execute("SELECT event, posting_key, detail FROM audit").fetchone()
    assert (row["event"], row["posting_key"], row["detail"]) == ("file_archived", "ABC", '{"amount": "1500.00"}')

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.conn.execute("UPDATE audit SET event = 'forged'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.conn.execute("DELETE FROM audit")

    assert db.conn.execute("SELECT event FROM audit").fetchall()[0][0] == "file_archived"
    assert count(db, "audit") == 1


# -- transactions -----------------------------------------------------------------------------


def test_transaction_commits(db: Database) -> None:
    with db.transaction() as conn:
        insert_file(conn)
    assert not db.conn.in_transaction
    assert count(db, "files") == 1


def test_transaction_rolls_back_on_exception(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        with db.transaction() as conn:
            insert_file(conn)
            db.audit(conn, "file_archived")
            raise RuntimeError("boom")
    assert not db.conn.in_transaction
    assert count(db, "files") == 0
    assert count(db, "audit") == 0
    # The connection is usable again afterwards.
    with db.transaction() as conn:
        insert_file(conn)
    assert count(db, "files") == 1


def test_transaction_is_immediate(tmp_path: Path, db: Database) -> None:
    # BEGIN IMMEDIATE takes the write lock at once: a second writer waits instead of failing
    # half-way through a step. With no busy timeout it is refused straight away.
    other = sqlite3.connect(tmp_path / DB_FILENAME, isolation_level=None, timeout=0)
    try:
        with db.transaction():
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()


# -- outbox and files -------------------------------------------------------------------------


def outbox_row(conn: sqlite3.Connection, key: str) -> None:
    file_id = conn.execute("SELECT id FROM files").fetchone()[0]
    line_id = conn.execute(
        "INSERT INTO statement_lines(identity, file_id, account, currency, booking_date, amount, data) "
        "VALUES (?, ?, '1', 'COP', '2026-03-02', '1500.00', '{}') "
        "ON CONFLICT(identity) DO UPDATE SET seen = seen + 1 RETURNING id",
        ("identity-1", file_id),
    ).fetchone()[0]
    decision_id = conn.execute(
        "INSERT INTO decisions(line_id, company, kind, score, reason, data, created_at) "
        "VALUES (?, 'acme', 'apply', '1', 'reference+amount', '{}', ?)",
        (line_id, utcnow()),
    ).lastrowid
    conn.execute(
        "INSERT INTO outbox(key, company, line_id, decision_id, state, payload, created_at, updated_at) "
        "VALUES (?, 'acme', ?, ?, 'pending', '{}', ?, ?)",
        (key, line_id, decision_id, utcnow(), utcnow()),
    )


def test_outbox_key_is_claimed_once(db: Database) -> None:
    with db.transaction() as conn:
        insert_file(conn)
        outbox_row(conn, "ABCDEFGHIJKLMNOP")

    # A second posting with the same idempotency key is refused by the primary key, and the
    # failed transaction leaves nothing behind.
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        with db.transaction() as conn:
            outbox_row(conn, "ABCDEFGHIJKLMNOP")
    assert count(db, "outbox") == 1


def test_outbox_key_longer_than_sixteen_is_refused(db: Database) -> None:
    with db.transaction() as conn:
        insert_file(conn)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        with db.transaction() as conn:
            outbox_row(conn, "A" * 17)


def test_outbox_needs_an_existing_line(db: Database) -> None:
    # foreign_keys=ON: a posting cannot point at a line the store does not have.
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO outbox(key, company, line_id, decision_id, state, payload, created_at, updated_at) "
                "VALUES ('K1', 'acme', 999, 999, 'pending', '{}', ?, ?)",
                (utcnow(), utcnow()),
            )


def test_same_bytes_are_archived_once(db: Database) -> None:
    with db.transaction() as conn:
        first = insert_file(conn, sha256="f" * 64, status="archived")

    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        with db.transaction() as conn:
            insert_file(conn, sha256="f" * 64, status="archived")

    # A second copy is recorded as a duplicate (or quarantined), which the partial index allows.
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO files(sha256, original_name, size, received_at, status, stored_path, duplicate_of) "
            "VALUES (?, 'copy.csv', 10, ?, 'duplicate', 'quarantine/copy.csv', ?)",
            ("f" * 64, utcnow(), first),
        )
        insert_file(conn, sha256="f" * 64, status="quarantined")
    assert count(db, "files") == 3


def test_file_status_is_checked(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        with db.transaction() as conn:
            insert_file(conn, status="lost")
