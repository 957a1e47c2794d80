"""The report of a store the real agent made (two companies, three weeks of statements), rendered in
headless Chromium: every chart draws inside its frame, nothing overflows the page, a screenshot is
kept as a test artifact and is not blank, and the workbook holds the page's figures. And the
running agent writes the day's report on its own."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

from conftest import cli, make_workspace, wait_for
from report_support import (HtmlFigures, agent_workspace, artifacts, assert_workbook_matches_html, decode_png,
                            measure, require_chromium, run_agent, run_chromium)

CHARTS = {"chart-daily", "chart-time", "chart-unapplied-COP", "chart-payers-COP", "chart-aging-COP", "chart-banks"}


@pytest.fixture(scope="module")
def agent_report(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("report") / "ws"
    config, statements = agent_workspace(root, today=dt.date.today())
    run_agent(config, statements)
    result = cli("report", "--config", str(config))
    assert result.returncode == 0, result.stderr
    html_path, xlsx_path = (Path(p) for p in result.stdout.split())
    return root, html_path, xlsx_path


def test_charts_draw_in_headless_chromium(agent_report, tmp_path):
    browser = require_chromium()
    _, html_path, _ = agent_report
    measured = measure(browser, html_path, tmp_path)
    charts = {c["id"]: c for c in measured["charts"]}
    assert set(charts) == CHARTS
    for name, chart in charts.items():
        assert chart["width"] > 300 and chart["height"] > 50, (name, chart)
        assert chart["bars"] > 0 and chart["drawn"] == chart["bars"] and chart["inside"], (name, chart)
    figures = HtmlFigures(html_path.read_text(encoding="utf-8"))
    # One bar per bank day with a rate above zero, one per payer listed, one per account with payments.
    rated_days = [row for row in figures.tables["daily"]["rows"] if row[3] not in ("", "0.0")]
    assert charts["chart-daily"]["drawn"] == len(rated_days) >= 10
    assert charts["chart-payers-COP"]["drawn"] == len(figures.tables["payers"]["rows"]) == 5
    assert charts["chart-banks"]["drawn"] == 2
    # The page fits a 1280-pixel window, carries no image and no script of its own (one: the probe).
    assert measured["overflowing"] == [] and measured["scrollWidth"] <= 1280
    assert (measured["images"], measured["scripts"]) == (0, 1)


def test_screenshot_is_kept_as_an_artifact_and_is_not_blank(agent_report, tmp_path):
    browser = require_chromium()
    _, html_path, xlsx_path = agent_report
    folder = artifacts()
    target = folder / "report-screenshot.png"
    target.unlink(missing_ok=True)
    result = run_chromium(browser, tmp_path / "profile", html_path.as_uri(), f"--screenshot={target}",
                          "--window-size=1280,2000")
    assert target.exists(), f"no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    shutil.copy(html_path, folder / "report.html")
    shutil.copy(xlsx_path, folder / "report.xlsx")

    width, height, bpp, rows = decode_png(target.read_bytes())
    assert (width, height) == (1280, 2000)
    colours = Counter(row[x:x + 3] for row in rows[::4] for x in range(0, len(row), bpp * 4))
    assert len(colours) > 50  # text, tiles, grid lines and bars, not a blank or single-colour page
    assert colours.most_common(1)[0][1] < 0.8 * sum(colours.values())
    # The auto-application bars (#2563eb) and the unapplied-by-age bars (#f59e0b) are painted.
    assert colours[bytes.fromhex("2563eb")] > 100 and colours[bytes.fromhex("f59e0b")] > 20


def test_workbook_holds_the_page_figures(agent_report):
    root, html_path, xlsx_path = agent_report
    assert_workbook_matches_html(xlsx_path, html_path.read_text(encoding="utf-8"))
    conn = sqlite3.connect(root / "state" / "conciliador.db")
    try:
        posted = conn.execute("SELECT count(*) FROM outbox WHERE state = 'posted'").fetchone()[0]
        payments = conn.execute(
            "SELECT count(*) FROM statement_lines l JOIN decisions d ON d.line_id = l.id AND d.superseded_by IS NULL "
            "WHERE CAST(l.amount AS REAL) > 0 AND d.kind != 'ignore'").fetchone()[0]
    finally:
        conn.close()
    summary = {row[0].value: row[1].value for row in openpyxl.load_workbook(xlsx_path)["Resumen"].iter_rows(min_row=2)}
    # Every posting of this store is the engine's own (nobody resolved anything yet).
    assert (summary["Pagos de clientes"], summary["Aplicados automáticamente"]) == (payments, posted)
    payers = [row[0].value for row in openpyxl.load_workbook(xlsx_path)["Pagadores"].iter_rows(min_row=2)]
    assert "'+57 300 555 0101" in payers and "'=HYPERLINK(\"http://example.invalid\",\"clic\")" in payers


@pytest.mark.slow
def test_running_agent_writes_the_daily_report(tmp_path, daemon_factory):
    ws = make_workspace(tmp_path / "ws", extra_config='[report]\ndaily_at = "00:00"\n')
    days = {dt.date.today()}
    d = daemon_factory(ws)
    # The day the agent saw: today's, or tomorrow's if local midnight passed meanwhile.
    found = wait_for(lambda: [ws.root / "reports" / f"informe-{day.isoformat()}.html"
                              for day in days | {dt.date.today()}
                              if (ws.root / "reports" / f"informe-{day.isoformat()}.html").exists()],
                     30, "the daily report")
    report = found[0]
    today = report.stem.removeprefix("informe-")
    assert "Informe de recaudo y cartera" in report.read_text(encoding="utf-8")
    assert (ws.root / "reports" / f"informe-{today}.xlsx").exists()
    assert d.stop() == 0
    written = [json.loads(line) for line in d.output().splitlines() if '"report_written"' in line]
    assert [(e["html"], e["start"], e["end"]) for e in written] == [
        (str(report), (dt.date.fromisoformat(today) - dt.timedelta(days=29)).isoformat(), today)]
