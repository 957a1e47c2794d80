"""The exceptions file finance works from: every line the agent did not apply, and why.

One CSV per processing day and company (``excepciones-2026-11-22-acme.csv``), rewritten whole
(through a temporary file and a rename) whenever its content changes. UTF-8 with a BOM, so Excel
opens accents correctly. No cell can be read as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from pathlib import Path

from . import fsutil
from .messages import render
from .models import Application, Decision, StatementLine
from .runtime import Runtime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")

HEADERS = {
    "es": ["id_linea", "fecha", "cuenta", "valor", "moneda", "pagador", "cuenta_pagador", "referencia_banco",
           "texto_pago", "estado", "motivo", "candidato_1", "candidato_2", "candidato_3"],
    "en": ["line_id", "date", "account", "amount", "currency", "payer", "payer_account", "bank_reference",
           "payment_text", "status", "reason", "candidate_1", "candidate_2", "candidate_3"],
}
STATUS = {
    "es": {"suggest": "sugerencia", "unmatched": "sin coincidencia", "no_company": "cuenta sin empresa",
           "failed": "rechazado por el ERP"},
    "en": {"suggest": "suggestion", "unmatched": "no match", "no_company": "account without company",
           "failed": "refused by the ERP"},
}
FILE_PREFIX = {"es": "excepciones", "en": "exceptions"}


def safe_text(value: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def write_exceptions(runtime: Runtime) -> list[Path]:
    """Rewrite each day's exceptions file that changed; returns the files written."""
    language = runtime.settings.language
    groups: dict[tuple[str, str], list[list[str]]] = defaultdict(list)
    for day, company, row in _rows(runtime, language):
        groups[(day, company)].append(row)
    written = []
    for (day, company), rows in sorted(groups.items()):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(HEADERS[language])
        writer.writerows([[safe_text(cell) for cell in row] for row in rows])
        data = ("\ufeff" + buffer.getvalue()).encode("utf-8")
        path = exceptions_path(runtime, day, company)
        if not path.exists() or path.read_bytes() != data:
            fsutil.write_atomic(path, data)
            written.append(path)
    return written


def exceptions_path(runtime: Runtime, day: str, company: str) -> Path:
    return runtime.folders["exceptions"] / f"{FILE_PREFIX[runtime.settings.language]}-{day}-{company}.csv"


def _rows(runtime: Runtime, language: str):
    conn = runtime.db.conn
    query = """
        SELECT l.data AS line, l.status AS line_status, l.company, d.kind, d.data AS decision, d.created_at,
               o.state AS posting_state, o.last_error, f.received_at
        FROM statement_lines l
        JOIN files f ON f.id = l.file_id
        LEFT JOIN decisions d ON d.line_id = l.id AND d.superseded_by IS NULL
        LEFT JOIN outbox o ON o.line_id = l.id
        WHERE l.status = 'no_company' OR d.kind IN ('suggest', 'unmatched') OR o.state = 'failed'
        ORDER BY l.id
    """
    for r in conn.execute(query):
        line = StatementLine.model_validate_json(r["line"])
        decision = Decision.model_validate_json(r["decision"]) if r["decision"] else None
        stamp = r["created_at"] or r["received_at"]
        day = dt.datetime.fromisoformat(stamp).astimezone().date().isoformat()
        if r["posting_state"] == "failed":
            status, reason = "failed", render("posting_failed", {"error": r["last_error"] or ""}, language)
        elif r["line_status"] == "no_company":
            status, reason = "no_company", render("no_company", {"account": line.account}, language)
        else:
            status = r["kind"]
            reason = " ".join(render(e.code, e.detail, language) for e in decision.evidence) or render(decision.reason, {}, language)
        candidates = [_candidate(c) for c in decision.candidates] if decision and status == "suggest" else []
        candidates += [""] * (3 - len(candidates))
        yield day, r["company"] or "sin-empresa", [
            line.identity[:16], (line.value_date or line.booking_date).isoformat(), line.account, str(line.amount),
            line.currency, line.payer_name, line.payer_account, line.bank_reference, line.remittance,
            STATUS[language][status], reason, *candidates[:3],
        ]


def _candidate(applications: tuple[Application, ...]) -> str:
    return " + ".join(f"{a.reference or a.document} ({a.document}) {a.amount} {a.currency}" for a in applications)
