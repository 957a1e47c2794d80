"""The report's files on the hand-built store: the HTML page stands alone, the workbook holds the
same figures cell by cell with Excel formats and no formula, both languages, the command line, an
empty or missing store, and when the daily report is due."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl

from conftest import cli
from report_support import ACME, PERIOD, HtmlFigures, assert_workbook_matches_html, bogota_days, build  # noqa: F401 (autouse)

from conciliador.config import load_config
from conciliador.report import daily_due, write_report
from conciliador.store import Database


def workspace(root: Path, *, language: str = "es", store: bool = True, daily_at: str = "06:00") -> Path:
    root.mkdir(parents=True)
    config = root / "config.toml"
    config.write_text(f"""
language = "{language}"
[report]
daily_at = "{daily_at}"
[companies.acme]
erp = "flatfile"
accounts = ["{ACME}"]
[companies.beta]
erp = "flatfile"
accounts = ["999"]
""", encoding="utf-8")
    if store:
        build(root / "state").db.close()
    return config


def test_html_and_workbook_show_the_same_figures(tmp_path):
    settings = load_config(workspace(tmp_path / "ws"))
    html_path, xlsx_path = write_report(settings, period=PERIOD)
    assert (html_path.name, xlsx_path.name) == ("informe-2026-11-30.html", "informe-2026-11-30.xlsx")
    assert html_path.parent == tmp_path / "ws" / "reports"
    page = html_path.read_text(encoding="utf-8")
    figures = assert_workbook_matches_html(xlsx_path, page)

    tiles = {(t["data-kpi"], t.get("data-currency", "")): t["data-value"] for t in figures.tiles}
    assert tiles[("auto_rate", "")] == "50.0" and tiles[("median_hours", "")] == "6.0"
    assert tiles[("unapplied", "COP")] == "3950"
    assert (tiles[("dso", "COP")], tiles[("cei", "COP")], tiles[("overdue_pct", "COP")]) == ("32.8", "45.4", "39.6")
    assert tiles[("dso", "USD")] == "" and "s. d." in page  # not available, said so
    assert "50,0 %" in page and "3.950 COP" in page and "13.400 COP" in page  # es-CO numbers

    wb = openpyxl.load_workbook(xlsx_path)
    assert wb.sheetnames == ["Resumen", "Aplicación diaria", "Tiempo a aplicación", "Sin aplicar", "Pagadores",
                             "Cartera por edades", "DSO-CEI", "Bancos"]
    payers = wb["Pagadores"]
    assert [c.value for c in payers[4]][:3] == ["'=CMD|' /C calc'!A0", "COP", 500]
    assert payers["C2"].number_format == "#,##0" and payers["C2"].alignment.horizontal == "right"
    aging = wb["Cartera por edades"]
    usd = next(row for row in aging.iter_rows(min_row=2) if row[1].value == "USD")
    assert usd[3].value == 50 and usd[3].number_format == "#,##0.00" and usd[10].number_format == "0.0%"
    assert aging.auto_filter.ref == f"A1:K{aging.max_row}"
    as_of = wb["DSO-CEI"]["F2"]
    assert as_of.number_format == "dd/mm/yyyy" and as_of.value == dt.datetime(2026, 11, 29)


def test_the_page_stands_alone_and_draws_every_chart(tmp_path):
    settings = load_config(workspace(tmp_path / "ws"))
    page = write_report(settings, period=PERIOD)[0].read_text(encoding="utf-8")
    for outside in ("<script", "<link", "<img", "<iframe", "url(", "@import", "@font-face"):
        assert outside not in page
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    charts = {m.group(1): m.group(0) for m in re.finditer(r'<svg class="chart" id="([^"]+)".*?</svg>', page, re.S)}
    assert sorted(charts) == ["chart-aging-COP", "chart-aging-USD", "chart-banks", "chart-daily", "chart-payers-COP",
                              "chart-time", "chart-unapplied-COP"]
    bars = {name: svg.count('class="bar"') for name, svg in charts.items()}
    # Days with a rate above zero (02, 05 and 10/11; 03/11 is a measured 0 %), the lag buckets used,
    # the age buckets with money, five payers, each company's bars in six aging buckets, two accounts.
    assert bars == {"chart-daily": 3, "chart-time": 2, "chart-unapplied-COP": 2, "chart-payers-COP": 5,
                    "chart-aging-COP": 8, "chart-aging-USD": 1, "chart-banks": 2}
    assert charts["chart-daily"].count('class="zero"') == 1
    assert "<title>30/11/2026" not in page and "acme · 0123-456789-01 (COP): 40,0 %" in page


def test_english(tmp_path):
    settings = load_config(workspace(tmp_path / "ws", language="en"))
    html_path, xlsx_path = write_report(settings, period=PERIOD)
    assert html_path.name == "report-2026-11-30.html"
    page = html_path.read_text(encoding="utf-8")
    assert '<html lang="en">' in page and "Collections and receivables report" in page
    assert "3,950 COP" in page and "50.0%" in page and "Over 180 days" in page
    assert_workbook_matches_html(xlsx_path, page)
    wb = openpyxl.load_workbook(xlsx_path)
    assert wb.sheetnames[0] == "Summary" and wb["DSO-CEI"]["C2"].number_format == "yyyy-mm-dd"


def test_one_company_has_its_own_file(tmp_path):
    settings = load_config(workspace(tmp_path / "ws"))
    html_path, _ = write_report(settings, period=PERIOD, company="beta")
    assert html_path.name == "informe-2026-11-30-beta.html"
    figures = HtmlFigures(html_path.read_text(encoding="utf-8"))
    assert [row[0] for row in figures.tables["aging"]["rows"]] == ["beta"]


def test_no_store_yet_gives_a_report_that_says_so(tmp_path):
    config = workspace(tmp_path / "ws", store=False)
    html_path, xlsx_path = write_report(load_config(config), period=PERIOD)
    assert "Aún no hay datos" in html_path.read_text(encoding="utf-8")
    wb = openpyxl.load_workbook(xlsx_path)
    assert wb.sheetnames == ["Resumen"] and wb["Resumen"]["A1"].value.startswith("Aún no hay datos")
    assert not (tmp_path / "ws" / "state").exists()  # a report never creates the agent's store


def test_empty_store_gives_a_report_that_says_so(tmp_path):
    config = workspace(tmp_path / "ws", store=False)
    Database.open(tmp_path / "ws" / "state").close()
    html_path, _ = write_report(load_config(config), period=PERIOD)
    page = html_path.read_text(encoding="utf-8")
    assert 'id="no-data"' in page and "<svg" not in page


def test_command_line(tmp_path):
    config = workspace(tmp_path / "ws")
    out = tmp_path / "out"
    result = cli("report", "--config", str(config), "--from", "2026-11-01", "--to", "2026-11-30", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out / "informe-2026-11-30.html"), str(out / "informe-2026-11-30.xlsx")]
    result = cli("report", "--config", str(config), "--to", "2026-11-30", "--company", "beta")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ws" / "reports" / "informe-2026-11-30-beta.xlsx").exists()

    result = cli("report", "--config", str(config), "--company", "gamma")
    assert result.returncode == 1
    assert "Company 'gamma' is not in" in " ".join(result.stderr.split()) and "acme, beta" in result.stderr
    result = cli("report", "--config", str(config), "--from", "2026-12-01", "--to", "2026-11-01")
    assert result.returncode == 1 and "starts on 2026-12-01 after it ends on 2026-11-01" in " ".join(result.stderr.split())
    result = cli("report", "--config", str(config), "--from", "1/11/2026")
    assert result.returncode == 2 and "--from" in result.stderr


def test_daily_report_is_due_once_a_day_after_its_time(tmp_path):
    settings = load_config(workspace(tmp_path / "ws", store=False))
    morning = dt.datetime(2026, 11, 23, 5, 59).astimezone()
    assert not daily_due(settings, morning)
    assert daily_due(settings, morning.replace(hour=6, minute=0))
    (tmp_path / "ws" / "reports").mkdir()
    (tmp_path / "ws" / "reports" / "informe-2026-11-23.html").write_text("")
    assert not daily_due(settings, morning.replace(hour=23))
    assert daily_due(settings, morning.replace(day=24, hour=7))
    off = load_config(workspace(tmp_path / "off", store=False, daily_at=""))
    assert not daily_due(off, morning.replace(hour=23))


def test_control_characters_from_bank_files_do_not_stop_the_report(tmp_path):
    # ESC in a payer name (seen in fixed-width files) is text XML cannot hold: dropped, not fatal.
    settings = load_config(workspace(tmp_path / "ws"))
    db = Database.open(settings.folders.state)
    try:
        with db.transaction() as conn:
            conn.execute("UPDATE statement_lines SET data = json_set(data, '$.payer_name', ?) "
                         "WHERE json_extract(data, '$.payer_name') LIKE '=CMD%'", ("=PAGADOR\x1bRARO",))
    finally:
        db.close()
    _, xlsx_path = write_report(settings, period=PERIOD)
    payers = [c.value for c in openpyxl.load_workbook(xlsx_path)["Pagadores"]["A"]]
    assert "'=PAGADORRARO" in payers
