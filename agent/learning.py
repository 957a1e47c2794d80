"""Storing what finance confirmed, so the engine recognises the same payer next time."""

from __future__ import annotations

import sqlite3

from .matching.learning import aliases_from
from .models import StatementLine
from .store import Database, utcnow


def learn(db: Database, conn: sqlite3.Connection, company: str, line: StatementLine, customer_id: str,
          source: str) -> int:
    """Record the aliases ``line`` teaches (inside the caller's transaction); returns how many are
    new or changed. A later confirmation for another customer replaces the alias: finance's latest
    word wins, and the audit trail keeps the earlier one."""
    changed = 0
    for kind, value, customer in aliases_from(line, customer_id):
        cur = conn.execute(
            "INSERT INTO aliases(company, kind, value, customer_id, learned_at, source) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(company, kind, value) DO UPDATE SET customer_id = excluded.customer_id, "
            "learned_at = excluded.learned_at, source = excluded.source WHERE customer_id != excluded.customer_id",
            (company, kind, value, customer, utcnow(), source))
        if cur.rowcount:
            changed += 1
            db.audit(conn, "alias_learned", company=company, kind=kind, value=value, customer=customer, source=source)
    return changed


def aliases(db: Database, company: str) -> list[tuple[str, str, str]]:
    return [tuple(r) for r in db.conn.execute(
        "SELECT kind, value, customer_id FROM aliases WHERE company = ? ORDER BY id", (company,))]
