"""Durable state: SQLite in WAL mode, versioned migrations, the outbox and the audit trail."""

from .db import DB_FILENAME, SCHEMA_VERSION, Database, StoreError, utcnow

__all__ = ["DB_FILENAME", "SCHEMA_VERSION", "Database", "StoreError", "utcnow"]
