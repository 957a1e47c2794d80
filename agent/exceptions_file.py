"""The exception workbook's CSV twin, for tools: the pending lines of one day and company.

``excepciones-2026-11-22-acme.csv`` beside ``excepciones-2026-11-22-acme.xlsx`` (see
:mod:`conciliador.workbook`), rewritten whole (temporary file and rename) whenever its bytes
change. UTF-8 with a BOM, so Excel opens accents correctly. No cell can be read as a formula.
Finance resolves lines in the workbook; the CSV is read-only output.

``id_linea`` (``line_id``) is the line's id in the store, as in the workbook's hidden column of
the same name; ``identidad`` (``identity``), last, is the line's full identity.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from . import fsutil
from .exception_items import STATUS, PendingItem
from .runtime import Runtime

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\x00")

HEADERS = {
    "es": ["id_linea", "fecha", "cuenta", "valor", "moneda", "pagador", "cuenta_pagador", "referencia_banco",
           "texto_pago", "estado", "motivo", "candidato_1", "candidato_2", "candidato_3", "identidad"],
    "en": ["line_id", "date", "account", "amount", "currency", "payer", "payer_account", "bank_reference",
           "payment_text", "status", "reason", "candidate_1", "candidate_2", "candidate_3", "identity"],
}
FILE_PREFIX = {"es": "excepciones", "en": "exceptions"}


def safe_text(value: str) -> str:
    """Prefix text that a spreadsheet would run as a formula with an apostrophe (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def write_twin(runtime: Runtime, day: str, company: str, items: Sequence[PendingItem]) -> Path | None:
    """Rewrite the day's CSV if its bytes changed; returns its path when written."""
    language = runtime.settings.language
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS[language])
    for item in items:
        line = item.line
        candidates = [f"{c.customer}: {c.invoices}" for c in item.candidates] + [""] * 3
        row = [str(line.line_id), line.date.isoformat(), line.account, str(line.amount), line.currency, line.payer,
               line.payer_account, line.bank_reference, line.remittance, STATUS[language][item.status], item.reason,
               *candidates[:3], line.identity]
        writer.writerow([safe_text(cell) for cell in row])
    data = ("\ufeff" + buffer.getvalue()).encode("utf-8")
    path = exceptions_path(runtime, day, company)
    if path.exists() and path.read_bytes() == data:
        return None
    fsutil.write_atomic(path, data)
    return path


def exceptions_path(runtime: Runtime, day: str, company: str) -> Path:
    return runtime.folders["exceptions"] / f"{FILE_PREFIX[runtime.settings.language]}-{day}-{company}.csv"
