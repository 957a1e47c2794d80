"""Inbox -> detect -> parse -> validate -> persist -> archive | quarantine.

Each file ends in ``archive/YYYY/MM/`` or in ``quarantine/`` beside a ``.reason.txt``. Its lines
and its record are written in one transaction, committed *before* the file moves: after a crash
between the two, the file is found again, recognised by its sha256, and the move is completed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import structlog

from . import fsutil
from .contracts import BankFormat
from .errors import StatementError
from .models import StatementLine, StatementSummary, normalise_account
from .runtime import Runtime
from .statements import Checked, StatementChecker, detect, unrecognised
from .store import utcnow

log = structlog.get_logger(__name__)

IGNORED_SUFFIXES = (".done", ".part", ".tmp", ".crdownload", ".partial", ".reason.txt")


def is_candidate(path: Path) -> bool:
    """Files the inbox should pick up: not hidden, not a marker or an unfinished download."""
    name = path.name
    return not name.startswith((".", "~$")) and not name.lower().endswith(IGNORED_SUFFIXES)


@dataclass(frozen=True)
class Outcome:
    status: str  # archived | duplicate | quarantined
    path: Path
    lines: int = 0
    reason: str = ""
    format: str = ""


class Intake:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.settings = runtime.settings

    def process(self, path: Path) -> Outcome:
        """Take one file out of the inbox. Never raises for a bad file: it quarantines it."""
        log_ = log.bind(file=path.name)
        size = path.stat().st_size
        limit = self.settings.intake.max_file_mb * 1024 * 1024
        if size > limit:
            return self._quarantine(path, size, "", f"The file is {size / 2**20:.0f} MB, over the limit of "
                                    f"intake.max_file_mb = {self.settings.intake.max_file_mb}. Split it, or raise the limit.")
        sha = fsutil.sha256_file(path)
        known = self.db.conn.execute(
            "SELECT id, stored_path FROM files WHERE sha256 = ? AND status = 'archived'", (sha,)).fetchone()
        if known is not None:
            return self._already_known(path, size, sha, known["id"], Path(known["stored_path"]))

        fmt, _scores = detect(path, self.rt.formats)
        if fmt is None:
            reason = unrecognised(path, self.rt.formats)
            return self._quarantine(path, size, sha, f"{reason[0].upper()}{reason[1:]}. Check that it is a bank "
                                    "statement, or install the plugin for its format.")
        target = fsutil.free_name(self._archive_folder(), path.name)
        try:
            with self.db.transaction() as conn:
                file_id, new_lines, summaries = self._store(conn, path, size, sha, fmt, target)
        except StatementError as exc:
            return self._quarantine(path, size, sha, f"{fmt.name}: {exc}", fmt=fmt.name)
        except Exception as exc:  # a plugin bug must cost one file, not the daemon
            log_.exception("parser_failed", format=fmt.name)
            return self._quarantine(path, size, sha, f"The bank format plugin {fmt.name} failed while reading "
                                    f"the file ({exc!r}). Report it to the plugin's vendor with this file.", fmt=fmt.name)
        fsutil.move(path, target)
        _drop_marker(path)
        log_.info("file_archived", format=fmt.name, new_lines=new_lines, archived_to=str(target))
        self.rt.host.notify("conciliador_statement_parsed", filename=path.name, fmt=fmt.name, lines=new_lines,
                            summaries=summaries, archived_to=str(target))
        return Outcome("archived", target, new_lines, format=fmt.name)

    # -- steps -----------------------------------------------------------------------------
    def _store(self, conn, path: Path, size: int, sha: str, fmt: BankFormat, target: Path):
        file_id = conn.execute(
            "INSERT INTO files(sha256, original_name, size, received_at, status, format, stored_path) "
            "VALUES (?, ?, ?, ?, 'archived', ?, ?)", (sha, path.name, size, utcnow(), fmt.name, str(target))
        ).lastrowid
        checker = StatementChecker(strict_balances=self.settings.intake.strict_balances)
        summaries: list[StatementSummary] = []
        new_lines = seen_lines = 0
        with open(path, "rb") as fh:
            for item in fmt.parse(fh, path.name):
                if isinstance(item, StatementLine):
                    checker.add(item)
                    if self._store_line(conn, file_id, item):
                        new_lines += 1
                    else:
                        seen_lines += 1
                elif isinstance(item, StatementSummary):
                    summaries.append(item)
                    self._store_summary(conn, file_id, checker.close(item))
                else:
                    raise StatementError(f"the parser yielded {type(item).__name__}, not a statement line or summary")
        if new_lines + seen_lines == 0 and not summaries:
            raise StatementError("the file holds no statement and no transactions")
        conn.execute("UPDATE files SET line_count = ? WHERE id = ?", (new_lines, file_id))
        self.db.audit(conn, "file_accepted", file_id=file_id, name=path.name, format=fmt.name,
                      new_lines=new_lines, already_seen=seen_lines, sha256=sha)
        return file_id, new_lines, summaries

    def _store_line(self, conn, file_id: int, line: StatementLine) -> bool:
        """Insert the line; False if the same transaction was already stored from an earlier file."""
        company = self.settings.company_for_account(line.account)
        cur = conn.execute(
            "INSERT INTO statement_lines(identity, file_id, company, account, currency, booking_date, amount, status, data) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(identity) DO NOTHING",
            (line.identity, file_id, company, normalise_account(line.account), line.currency,
             line.booking_date.isoformat(), str(line.amount), "new" if company else "no_company",
             line.model_dump_json()),
        )
        if cur.rowcount == 0:
            conn.execute("UPDATE statement_lines SET seen = seen + 1 WHERE identity = ?", (line.identity,))
            return False
        return True

    def _store_summary(self, conn, file_id: int, checked: Checked) -> None:
        s = checked.summary
        if checked.balance_break is not None:
            log.warning("balance_break", account=s.account, statement=s.statement_id, gap=str(checked.balance_break))
        conn.execute(
            "INSERT INTO statements(file_id, statement_id, account, currency, period_from, period_to, "
            "opening_balance, closing_balance, lines_total, line_count, balance_break) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (file_id, s.statement_id, normalise_account(s.account), s.currency, _iso(s.period_from), _iso(s.period_to),
             _str(s.opening_balance), _str(s.closing_balance), str(checked.lines_total), checked.line_count,
             _str(checked.balance_break)),
        )

    def _already_known(self, path: Path, size: int, sha: str, file_id: int, stored: Path) -> Outcome:
        if not stored.exists():
            # Committed, then the agent stopped before the move: finish the move.
            fsutil.move(path, stored)
            _drop_marker(path)
            log.info("file_archived", file=path.name, archived_to=str(stored), resumed=True)
            return Outcome("archived", stored)
        target = fsutil.free_name(self._archive_folder(), path.name)
        with self.db.transaction() as conn:
            dup_id = conn.execute(
                "INSERT INTO files(sha256, original_name, size, received_at, status, stored_path, reason, duplicate_of) "
                "VALUES (?, ?, ?, ?, 'duplicate', ?, ?, ?)",
                (sha, path.name, size, utcnow(), str(target), f"same bytes as {stored.name}", file_id),
            ).lastrowid
            self.db.audit(conn, "file_duplicate", file_id=dup_id, name=path.name, duplicate_of=file_id)
        fsutil.move(path, target)
        _drop_marker(path)
        log.info("file_duplicate", file=path.name, same_as=stored.name, archived_to=str(target))
        return Outcome("duplicate", target, reason=f"same bytes as {stored.name}")

    def _quarantine(self, path: Path, size: int, sha: str, reason: str, fmt: str = "") -> Outcome:
        folder = self.rt.folders["quarantine"]
        target = fsutil.free_name(folder, path.name)
        text = (f"File: {path.name}\nReceived: {utcnow()}\nsha256: {sha or '-'}\nFormat: {fmt or '-'}\n\n"
                f"Problem: {reason}\n\nWhat to do: fix or replace the file and drop it into the inbox again; "
                f"nothing from this file was recorded.\n")
        # The row first, as for archived files: whoever sees the file in quarantine finds its
        # record, and a crash before the move leaves the file in the inbox to be judged again
        # (a second record of the same refusal, never a quarantined file without one).
        with self.db.transaction() as conn:
            file_id = conn.execute(
                "INSERT INTO files(sha256, original_name, size, received_at, status, format, stored_path, reason) "
                "VALUES (?, ?, ?, ?, 'quarantined', ?, ?, ?)", (sha, path.name, size, utcnow(), fmt, str(target), reason),
            ).lastrowid
            self.db.audit(conn, "file_quarantined", file_id=file_id, name=path.name, reason=reason)
        fsutil.write_atomic(target.with_name(target.name + ".reason.txt"), text.encode("utf-8"))
        fsutil.move(path, target)
        _drop_marker(path)
        log.warning("file_quarantined", file=path.name, reason=reason, quarantined_to=str(target))
        return Outcome("quarantined", target, reason=reason, format=fmt)

    def _archive_folder(self) -> Path:
        today = dt.date.today()
        return self.rt.folders["archive"] / f"{today:%Y}" / f"{today:%m}"


def _drop_marker(path: Path) -> None:
    path.with_name(path.name + ".done").unlink(missing_ok=True)


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


__all__ = ["Intake", "Outcome", "is_candidate"]
