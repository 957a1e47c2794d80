"""The KPI report finance reads: HTML with inline charts plus the same figures as XLSX.

``conciliador report`` writes one on demand; the running agent writes one a day at
``[report] daily_at`` into ``[paths] reports``. Figures come from the state store only, so writing
a report never touches the ERP. docs/report.md defines every figure.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import structlog

from .. import fsutil
from ..config import Settings
from ..errors import ConciliadorError
from ..store import DB_FILENAME, Database
from .html import render_html
from .figures import Period, Report
from .kpis import build_report
from .texts import text
from .xlsx import render_xlsx

__all__ = ["Period", "Report", "build_report", "render_html", "render_xlsx", "write_report", "report_paths",
           "daily_due", "write_daily"]

log = structlog.get_logger(__name__)


def report_paths(folder: Path, end: dt.date, company: str | None, language: str) -> tuple[Path, Path]:
    """``informe-2026-11-22.html`` and ``.xlsx`` (``report-`` in English), named so they sort by day."""
    stem = f"{text('file_prefix', language)}-{end.isoformat()}" + (f"-{company}" if company else "")
    return folder / f"{stem}.html", folder / f"{stem}.xlsx"


def write_report(settings: Settings, *, period: Period | None = None, company: str | None = None,
                 out_dir: Path | None = None, conn: sqlite3.Connection | None = None,
                 now: dt.datetime | None = None) -> tuple[Path, Path]:
    """Compute the KPIs and write the HTML and XLSX files; returns their paths.

    ``conn`` is the running agent's store connection; without it the store in ``[paths] state``
    is opened (or, when there is none yet, a report saying there is no data is written).
    """
    now = (now or dt.datetime.now()).astimezone()
    period = period or Period.ending(now.date(), settings.report.days)
    if company is not None and company not in settings.companies:
        raise ConciliadorError(f"Company {company!r} is not in {settings.config_file}; configured companies: "
                               f"{', '.join(sorted(settings.companies)) or 'none'}.")
    report = _report(settings, period, company, conn, now)
    language = settings.language
    html_path, xlsx_path = report_paths(out_dir or settings.folders.reports, period.end, company, language)
    try:
        # The page last: its presence is what marks the day's report as written (daily_due).
        fsutil.write_atomic(xlsx_path, render_xlsx(report, language))
        fsutil.write_atomic(html_path, render_html(report, language).encode("utf-8"))
    except OSError as exc:
        raise ConciliadorError(f"Cannot write the report into {html_path.parent}: {exc.strerror or exc}; check "
                               "that the folder exists and the agent's user may write in it.") from exc
    log.info("report_written", html=str(html_path), xlsx=str(xlsx_path), start=period.start.isoformat(),
             end=period.end.isoformat(), company=company or "", lines=report.lines, payments=report.payments)
    return html_path, xlsx_path


def _report(settings: Settings, period: Period, company: str | None, conn: sqlite3.Connection | None,
            now: dt.datetime) -> Report:
    if conn is not None:
        return build_report(conn, period, company=company, now=now)
    state = settings.folders.state
    if not (state / DB_FILENAME).exists():
        return Report(period, now, company)
    db = Database.open(state)
    try:
        return build_report(db.conn, period, company=company, now=now)
    finally:
        db.close()


def daily_due(settings: Settings, now: dt.datetime) -> bool:
    """True once ``daily_at`` has passed today and today's report is not in the folder yet, so a
    report missed while the agent was stopped is written when it starts again."""
    at = settings.report.daily_at
    if not at:
        return False
    hour, minute = (int(part) for part in at.split(":"))
    if now.time() < dt.time(hour, minute):
        return False
    html_path, _ = report_paths(settings.folders.reports, now.date(), None, settings.language)
    return not html_path.exists()


def write_daily(settings: Settings, conn: sqlite3.Connection, now: dt.datetime | None = None) -> tuple[Path, Path]:
    now = (now or dt.datetime.now()).astimezone()
    return write_report(settings, period=Period.ending(now.date(), settings.report.days), conn=conn, now=now)
