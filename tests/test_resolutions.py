"""Finance's round trip, end to end through real files: the agent writes the exception workbook,
finance fills it with openpyxl, drops it into resolutions/, the agent runs once, and the flat-file
ERP's postings.csv holds exactly the valid rows; the result workbook gives every row's reason."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shutil
import sqlite3
import zipfile
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from conftest import ACCOUNT, Workspace, cli, make_workspace
from twostep_erp import TwoStepErp

from conciliador import PermanentError
from conciliador.contracts import ErpConnector
from conciliador.daemon import load_agent
from conciliador.plugins.flatfile import FlatFileErp
from conciliador.keys import posting_key
from conciliador.keys import reapplication_key, reversal_key

# invoices in make_workspace: FE-n = document 18000000nn, customer C{(n % 10) + 1:03d}, 100000 + 1000 n
LINES = {
    # payer: (amount, remittance)
    "PAGADOR UNO": ("105000.00", "PAGO PROVEEDOR"),  # the amount of FE-5 only: suggested
    "PAGADOR DOS": ("214000.00", "PAGO PROVEEDOR"),  # FE-2 + FE-12 (C003): unmatched
    "PAGADOR TRES": ("50000.00", "PAGO PROVEEDOR"),
    "PAGADOR CUATRO": ("60000.00", "PAGO PROVEEDOR"),
    "PAGADOR CINCO": ("200000.00", "PAGO PROVEEDOR"),
    "PAGADOR SEIS": ("104000.00", "PAGO PROVEEDOR"),  # the amount of FE-4 (C005) only: suggested
    "PAGADOR SIETE": ("70000.00", "PAGO PROVEEDOR"),
    "PAGADOR OCHO": ("80000.00", "PAGO PROVEEDOR"),
    "PAGADOR NUEVE": ("90000.00", "PAGO PROVEEDOR"),
    "PAGADOR DIEZ": ("95000.00", "PAGO PROVEEDOR"),
    "PAGADOR ONCE": ("96000.00", "PAGO PROVEEDOR"),
    "PAGADOR DOCE": ("106000.00", "PAGO PROVEEDOR"),  # FE-6 (C007)
    "PAGADOR TRECE": ("57000.00", "PAGO PROVEEDOR"),
}
PAYER_ACCOUNTS = {payer: f"0550-{n:06d}-78" for n, payer in enumerate(LINES, start=1)}


def statement(rows: dict[str, tuple[str, str]], day: str = "2026-11-20", prefix: str = "R") -> bytes:
    out = ["account,booking_date,amount,currency,bank_reference,payer_name,payer_account,remittance"]
    for n, (payer, (amount, text)) in enumerate(rows.items(), start=1):
        out.append(f"{ACCOUNT},{day},{amount},COP,{prefix}{n:04d},{payer},{PAYER_ACCOUNTS.get(payer, '')},{text}")
    return ("\n".join(out) + "\n").encode()


def run_agent(ws: Workspace, connector_class=None):
    agent = load_agent(ws.config)
    if connector_class is not None:  # the flat-file ERP replaced by a variant that behaves like another ERP
        agent.rt.connectors["acme"] = connector_class(agent.rt.connectors["acme"].settings, company="acme")
    try:
        return agent.run_once()
    finally:
        agent.close()


def todays_workbook(ws: Workspace) -> Path:
    [path] = [p for p in (ws.root / "exceptions").glob("excepciones-*-acme.xlsx") if "resultado" not in p.name]
    return path


def fill(source: Path, target: Path, decisions: dict[str, dict[str, object]], *, sheet: str = "Pendientes",
         duplicate: dict[str, dict[str, object]] | None = None, tamper: dict[str, dict[str, object]] | None = None) -> Path:
    """Fill the decision columns as finance would (by payer), save as ``target``. ``duplicate``
    appends a second copy of a payer's row with other decisions; ``tamper`` overwrites hidden cells."""
    wb = openpyxl.load_workbook(source)
    ws = wb[sheet]
    header = {c.value: c.column for c in ws[1]}
    rows = {ws.cell(r, header["Pagador"]).value: r for r in range(2, ws.max_row + 1)}
    for payer, values in [*decisions.items(), *(tamper or {}).items()]:
        for column, value in values.items():
            ws.cell(rows[payer], header[column]).value = value
    for payer, values in (duplicate or {}).items():
        new = ws.max_row + 1
        for col in range(1, ws.max_column + 1):
            ws.cell(new, col).value = ws.cell(rows[payer], col).value
        for column, value in values.items():
            ws.cell(new, header[column]).value = value
    target.parent.mkdir(parents=True, exist_ok=True)
    wb.save(target)
    return target


def results(path: Path) -> dict[str, tuple[str, str]]:
    """payer -> (result, detail) from a -resultado workbook, every sheet with results."""
    wb = openpyxl.load_workbook(path)
    out = {}
    for ws in wb.worksheets:
        header = {c.value: c.column for c in ws[1]}
        if "Resultado" not in header:
            continue
        for r in range(2, ws.max_row + 1):
            key = f"{ws.cell(r, header['Pagador']).value}#{ws.title}!{r}"
            out[key] = (ws.cell(r, header["Resultado"]).value, ws.cell(r, header["Detalle del resultado"]).value)
    return out


def by_payer(found: dict[str, tuple[str, str]], payer: str) -> list[tuple[str, str]]:
    return [v for k, v in found.items() if k.rsplit("#", 1)[0] == payer]


def invoice(ws: Workspace, n: int) -> tuple[str, str, str, Decimal]:
    return ws.invoices[n - 1]


def open_amounts(ws: Workspace) -> dict[str, Decimal]:
    from conciliador.plugins.flatfile import FlatFileErp, FlatFileSettings

    erp = FlatFileErp(FlatFileSettings(folder=ws.root / "erp"), company="acme")
    return {i.document: i.open_amount for i in erp.open_items()}


@pytest.fixture
def pending(tmp_path) -> tuple[Workspace, Path]:
    ws = make_workspace(tmp_path / "ws")
    (ws.inbox / "dia1.csv").write_bytes(statement(LINES))
    summary = run_agent(ws)
    assert summary.posted == 0 and ws.postings() == []
    return ws, todays_workbook(ws)


ROUND_TRIP = {
    "PAGADOR UNO": {"Acción": "aplicar candidato 1"},
    "PAGADOR DOS": {"Acción": "aplicar a facturas", "Facturas": "FE-2, FE-12", "Nota": "confirmado por teléfono"},
    "PAGADOR TRES": {"Acción": "anticipo", "Cliente": "C007"},
    "PAGADOR CUATRO": {"Acción": "aplicar a facturas", "Facturas": "FE-9999"},
    "PAGADOR CINCO": {"Acción": "aplicar a facturas", "Facturas": "FE-3"},
    "PAGADOR SEIS": {"Acción": "aplicar a facturas", "Facturas": "FE-4", "Cliente": "C009"},
    "PAGADOR SIETE": {"Acción": "no es pago de cliente"},
    "PAGADOR OCHO": {"Acción": "ignorar"},
    "PAGADOR DIEZ": {"Acción": "borrar todo"},
    "PAGADOR ONCE": {"Acción": "devolver"},
    "PAGADOR DOCE": {"Acción": "aplicar candidato 2"},
    "PAGADOR TRECE": {"Acción": "Aplicar a Facturas", "Facturas": "1800000007"},  # a partial payment
}


def test_round_trip_applies_exactly_the_valid_rows(pending):
    ws, workbook = pending
    keys = dict(ws.query("SELECT json_extract(data, '$.payer_name'), identity FROM statement_lines"))
    dropped = fill(workbook, ws.root / "resolutions" / workbook.name, ROUND_TRIP,
                   duplicate={"PAGADOR OCHO": {"Acción": "devolver"}},
                   tamper={"PAGADOR ONCE": {"identidad": "0" * 64}})
    original_bytes = dropped.read_bytes()
    summary = run_agent(ws)
    [outcome] = summary.resolutions
    assert outcome.status == "processed" and outcome.applied == 5 and outcome.refused == 8, results(outcome.result)

    # The ERP holds exactly the valid applying rows, each under its line's own key.
    postings = ws.postings()
    by_key: dict[str, list[dict]] = {}
    for p in postings:
        by_key.setdefault(p["key"], []).append(p)
    assert set(by_key) == {posting_key(keys[p]) for p in ("PAGADOR UNO", "PAGADOR DOS", "PAGADOR TRES", "PAGADOR TRECE")}
    uno = by_key[posting_key(keys["PAGADOR UNO"])]
    assert [(p["customer_id"], p["applied_document"], p["applied_amount"]) for p in uno] == [("C006", "1800000005", "105000")]
    dos = by_key[posting_key(keys["PAGADOR DOS"])]
    assert sorted((p["applied_document"], p["applied_amount"]) for p in dos) == [("1800000002", "102000"), ("1800000012", "112000")]
    assert {p["customer_id"] for p in dos} == {"C003"}
    [tres] = by_key[posting_key(keys["PAGADOR TRES"])]
    assert (tres["kind"], tres["customer_id"], tres["applied_document"], tres["applied_amount"]) == ("on_account", "C007", "", "50000.00")
    [trece] = by_key[posting_key(keys["PAGADOR TRECE"])]
    assert (trece["customer_id"], trece["applied_document"], trece["applied_amount"]) == ("C008", "1800000007", "57000.00")
    assert open_amounts(ws)["1800000007"] == Decimal("50000")

    # The dropped file is archived, the result sits beside the workbook, one reason per row.
    assert not list((ws.root / "resolutions").iterdir())
    assert [p.name for p in (ws.root / "archive" / "resolutions").rglob("*.xlsx")] == [workbook.name]
    result = workbook.with_name(workbook.stem + "-resultado.xlsx")
    assert outcome.result == result
    found = results(result)
    assert len(found) == len(ROUND_TRIP) + 1  # the duplicated row too
    expect = {
        "PAGADOR UNO": ("aplicado", "Aplicado a FE-5"),
        "PAGADOR DOS": ("aplicado", "Aplicado a FE-2, FE-12 del cliente C003"),
        "PAGADOR TRES": ("aplicado", "quedan como anticipo del cliente C007"),
        "PAGADOR CUATRO": ("rechazado", "La factura «FE-9999» no está abierta"),
        "PAGADOR CINCO": ("rechazado", "supera el saldo de las facturas (103.000,00) en 97.000,00"),
        "PAGADOR SEIS": ("rechazado", "La factura FE-4 es del cliente C005 Cliente 5 S.A.S., no de C009"),
        "PAGADOR SIETE": ("aplicado", "Registrado (no es pago de cliente)"),
        "PAGADOR DIEZ": ("rechazado", "La acción «borrar todo» no existe"),
        "PAGADOR ONCE": ("rechazado", "Las columnas ocultas de esta fila"),
        "PAGADOR DOCE": ("rechazado", "no tiene candidato 2"),
        "PAGADOR TRECE": ("aplicado", "Abono parcial: la factura FE-7 queda con saldo 50.000,00"),
    }
    for payer, (status, text) in expect.items():
        [(got_status, detail)] = by_payer(found, payer)
        assert got_status == status and text in detail, (payer, got_status, detail)
    assert [s for s, d in by_payer(found, "PAGADOR OCHO")] == ["rechazado", "rechazado"]
    assert all("con decisiones distintas" in d for _, d in by_payer(found, "PAGADOR OCHO"))

    # Decisions: finance's supersede the engine's, with the file and row as evidence; one current per line.
    [(data,)] = ws.query("SELECT d.data FROM decisions d JOIN statement_lines l ON l.id = d.line_id "
                         "WHERE l.identity = ? AND d.superseded_by IS NULL", keys["PAGADOR DOS"])
    evidence = json.loads(data)["evidence"]
    assert evidence[0]["code"] == "resolved_by_finance" and evidence[0]["detail"]["file"] == workbook.name
    assert evidence[0]["detail"]["sheet"] == "Pendientes" and evidence[1]["detail"]["note"] == "confirmado por teléfono"
    [(kind, reason)] = ws.query("SELECT d.kind, d.reason FROM decisions d JOIN statement_lines l ON l.id = d.line_id "
                                "WHERE l.identity = ? AND d.superseded_by IS NULL", keys["PAGADOR SIETE"])
    assert (kind, reason) == ("ignore", "finance_not_payment")
    assert ws.query("SELECT count(*) FROM decisions WHERE superseded_by IS NOT NULL")[0][0] == 5
    assert ws.query("SELECT count(*) FROM audit WHERE event = 'resolved_by_finance'")[0][0] == 5
    assert ws.query("SELECT count(*) FROM audit WHERE event = 'resolution_refused'")[0][0] == 8

    # The workbook was rewritten: the resolved lines left Pendientes, the applied ones are in Aplicados hoy.
    wb = openpyxl.load_workbook(workbook)
    left = {c.value for c in wb["Pendientes"]["F"][1:]}
    assert left == {"PAGADOR CUATRO", "PAGADOR CINCO", "PAGADOR SEIS", "PAGADOR OCHO", "PAGADOR NUEVE", "PAGADOR DIEZ",
                    "PAGADOR ONCE", "PAGADOR DOCE"}
    assert {c.value for c in wb["Aplicados hoy"]["F"][1:]} == {"PAGADOR UNO", "PAGADOR DOS", "PAGADOR TRES", "PAGADOR TRECE"}

    # The same file dropped again applies nothing twice; each row says why.
    (ws.root / "resolutions" / workbook.name).write_bytes(original_bytes)
    summary = run_agent(ws)
    [again] = summary.resolutions
    assert again.status == "duplicate" and again.applied == 0
    assert ws.postings() == postings
    second = results(again.result)
    assert again.result.name == workbook.stem + "-resultado.2.xlsx"
    [(status, detail)] = by_payer(second, "PAGADOR DOS")
    assert status == "sin cambios" and f"Ya resuelta con la misma decisión en {workbook.name}" in detail

    # Finance corrects a refused row in the result file and drops that file.
    fill(result, ws.root / "resolutions" / result.name, {"PAGADOR CINCO": {"Acción": "anticipo"}})
    [third] = run_agent(ws).resolutions
    assert third.applied == 1 and third.result.name == workbook.stem + "-resultado.3.xlsx"
    [(status, detail)] = by_payer(results(third.result), "PAGADOR CINCO")
    assert status == "aplicado" and "Aplicado a FE-3" in detail and "97.000,00 quedan como anticipo" in detail
    cinco = [p for p in ws.postings() if p["key"] == posting_key(keys["PAGADOR CINCO"])]
    assert sorted((p["applied_document"], Decimal(p["applied_amount"])) for p in cinco) == [
        ("", Decimal(97000)), ("1800000003", Decimal(103000))]


def test_two_people_deciding_the_same_line(pending):
    ws, workbook = pending
    first = fill(workbook, ws.root / "ana" / "ana.xlsx", {"PAGADOR NUEVE": {"Acción": "devolver"},
                                                         "PAGADOR DOS": {"Acción": "aplicar a facturas",
                                                                         "Facturas": "FE-2;FE-12"}})
    second = fill(workbook, ws.root / "luis" / "luis.xlsx", {"PAGADOR NUEVE": {"Acción": "ignorar"},
                                                            "PAGADOR DOS": {"Acción": "aplicar a facturas",
                                                                            "Facturas": "fe 12, FE-2"},
                                                            "PAGADOR SIETE": {"Acción": "devolver"}})
    shutil.move(first, ws.root / "resolutions" / "a-ana.xlsx")
    shutil.move(second, ws.root / "resolutions" / "b-luis.xlsx")
    summary = run_agent(ws)
    assert [(o.status, o.applied) for o in summary.resolutions] == [("processed", 2), ("processed", 1)]
    found = results(summary.resolutions[1].result)
    [(status, detail)] = by_payer(found, "PAGADOR NUEVE")
    assert status == "rechazado" and "ya fue decidida distinto en a-ana.xlsx" in detail and "«devolver»" in detail
    [(status, detail)] = by_payer(found, "PAGADOR DOS")  # the same invoices, written otherwise: no conflict
    assert status == "sin cambios" and "a-ana.xlsx" in detail
    assert by_payer(found, "PAGADOR SIETE")[0][0] == "aplicado"
    assert len({p["key"] for p in ws.postings()}) == 1


def test_stale_row_and_invoice_used_by_earlier_row(pending):
    ws, workbook = pending
    older = shutil.copy(workbook, ws.root / "copia-de-ayer.xlsx")
    # Two lines for the same invoice in one file: the first takes it, the second finds nothing left.
    dropped = fill(workbook, ws.root / "resolutions" / "r.xlsx",
                   {"PAGADOR SEIS": {"Acción": "aplicar candidato 1"},
                    "PAGADOR DOCE": {"Acción": "aplicar a facturas", "Facturas": "FE-4"}})
    [outcome] = run_agent(ws).resolutions
    found = results(outcome.result)
    assert by_payer(found, "PAGADOR SEIS")[0][0] == "aplicado"
    status, detail = by_payer(found, "PAGADOR DOCE")[0]
    assert status == "rechazado" and "FE-4" in detail and "no tiene saldo" in detail
    assert not dropped.exists()
    # A row from an older workbook whose line was decided since: stale.
    old = fill(older, ws.root / "old.xlsx", {"PAGADOR SEIS": {"Acción": "ignorar"}})
    shutil.move(old, ws.root / "resolutions" / "old.xlsx")
    [outcome] = run_agent(ws).resolutions
    status, detail = by_payer(results(outcome.result), "PAGADOR SEIS")[0]
    assert status == "rechazado" and "ya fue decidida distinto en r.xlsx" in detail


def test_resolution_teaches_the_next_payment(pending):
    """Finance confirms an unknown payer once; the agent applies that payer's next payment by itself."""
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    run_agent(ws)
    assert ws.query("SELECT kind, value, customer_id FROM aliases ORDER BY kind") == [
        ("payer_account", "55000000178", "C006"), ("payer_name", "PAGADOR UNO", "C006")]
    # The next payment from that payer pays C006's other invoice (FE-15, 115000) without quoting it.
    (ws.inbox / "dia2.csv").write_bytes(statement({"PAGADOR UNO": ("115000.00", "PAGO PROVEEDOR")}, "2026-11-21", "S"))
    run_agent(ws)
    applied = [p for p in ws.postings() if p["applied_document"] == "1800000015"]
    assert len(applied) == 1 and applied[0]["customer_id"] == "C006"
    [(data,)] = ws.query("SELECT d.data FROM decisions d JOIN statement_lines l ON l.id = d.line_id "
                         "WHERE l.booking_date = '2026-11-21'")
    decision = json.loads(data)
    assert decision["kind"] == "apply"
    assert "customer_by_alias_account" in {e["code"] for e in decision["evidence"]}


def test_reversal_and_reapplication(pending):
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR DOS": {"Acción": "aplicar a facturas",
                                                                         "Facturas": "FE-2, FE-12"}})
    run_agent(ws)
    [(identity,)] = ws.query("SELECT identity FROM statement_lines WHERE json_extract(data, '$.payer_name') = ?",
                             "PAGADOR DOS")
    first = posting_key(identity)
    assert {p["key"] for p in ws.postings()} == {first}
    assert "1800000002" not in open_amounts(ws)
    document = ws.postings()[0]["document"]

    # Finance reverses it from "Aplicados hoy".
    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR DOS": {"Acción": "reversar"}},
         sheet="Aplicados hoy")
    [outcome] = run_agent(ws).resolutions
    assert outcome.applied == 1
    reversal = [p for p in ws.postings() if p["key"] == reversal_key(first)]
    assert len(reversal) == 2 and {p["reverses"] for p in reversal} == {document}
    assert {p["kind"] for p in reversal} == {"reversal"} and {p["amount"] for p in reversal} == {"-214000.00"}
    opened = open_amounts(ws)
    assert opened["1800000002"] == Decimal("102000") and opened["1800000012"] == Decimal("112000")
    detail = by_payer(results(outcome.result), "PAGADOR DOS")[0][1]
    assert document in detail and "vuelve a Pendientes" in detail

    # The line is pending again, marked reversed; finance applies it to other invoices.
    wb = openpyxl.load_workbook(todays_workbook(ws))
    sheet = wb["Pendientes"]
    header = {c.value: c.column for c in sheet[1]}
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, header["Pagador"]).value == "PAGADOR DOS")
    assert sheet.cell(row, header["Estado"]).value == "reversado"
    assert document in sheet.cell(row, header["Motivo"]).value
    assert "PAGADOR DOS" not in {c.value for c in wb["Aplicados hoy"]["F"][1:]}
    # 214000 = FE-13 (113000, C004) + FE-3 (103000, C004) is 216000: short, so a partial payment of FE-3 then FE-13.
    fill(todays_workbook(ws), ws.root / "resolutions" / "r3.xlsx",
         {"PAGADOR DOS": {"Acción": "aplicar a facturas", "Facturas": "FE-3, FE-13"}})
    [outcome] = run_agent(ws).resolutions
    assert outcome.applied == 1, results(outcome.result)
    again = [p for p in ws.postings() if p["key"] == reapplication_key(identity, 2)]
    assert reapplication_key(identity, 2) == posting_key(f"{identity}#2")
    assert sorted((p["applied_document"], Decimal(p["applied_amount"])) for p in again) == [
        ("1800000003", Decimal(103000)), ("1800000013", Decimal(111000))]
    assert open_amounts(ws)["1800000013"] == Decimal(2000)


def test_erp_that_cannot_reverse(pending):
    """A connector without reverse(): the refusal reaches finance, and the line cannot be applied
    again while the ERP still holds the first application."""
    from conciliador.contracts import ErpConnector
    from conciliador.plugins.flatfile import FlatFileErp

    class NoReversal(FlatFileErp):
        reverse = ErpConnector.reverse

    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    run_agent(ws, NoReversal)
    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR UNO": {"Acción": "reversar"}},
         sheet="Aplicados hoy")
    run_agent(ws, NoReversal)
    assert [p["kind"] for p in ws.postings()] == ["apply"]
    sheet = openpyxl.load_workbook(todays_workbook(ws))["Pendientes"]
    header = {c.value: c.column for c in sheet[1]}
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, header["Pagador"]).value == "PAGADOR UNO")
    assert sheet.cell(row, header["Estado"]).value == "rechazado por el ERP"
    assert "El ERP rechazó la reversión" in sheet.cell(row, header["Motivo"]).value
    assert "cannot reverse documents" in sheet.cell(row, header["Motivo"]).value
    fill(todays_workbook(ws), ws.root / "resolutions" / "r3.xlsx",
         {"PAGADOR UNO": {"Acción": "aplicar a facturas", "Facturas": "FE-15"}})
    [outcome] = run_agent(ws, NoReversal).resolutions
    status, detail = by_payer(results(outcome.result), "PAGADOR UNO")[0]
    assert status == "rechazado" and "rechazó la reversión" in detail
    assert [p["kind"] for p in ws.postings()] == ["apply"]


def test_reversal_waits_for_the_erp_document(pending):
    """A reversal needs the ERP document: an application still on its way is not reversed."""
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    # The agent dies as it is about to post the application ...
    crashed = cli("run", "--once", "--config", str(ws.config), env={"CONCILIADOR_CRASH_AT": "poster.before_post"})
    assert crashed.returncode != 0 and ws.query("SELECT state FROM outbox") == [("in_flight",)]
    # ... and on the next run the ERP refuses work for a while (customers.csv is being replaced).
    customers = ws.root / "erp" / "customers.csv"
    customers.rename(customers.with_suffix(".bak"))
    summary = run_agent(ws)
    customers.with_suffix(".bak").rename(customers)
    assert summary.posted == 0 and summary.pending == 1
    sheet = openpyxl.load_workbook(todays_workbook(ws))["Aplicados hoy"]
    header = {c.value: c.column for c in sheet[1]}
    assert sheet.cell(2, header["Pagador"]).value == "PAGADOR UNO"
    assert sheet.cell(2, header["Estado"]).value == "en camino al ERP" and sheet.cell(2, header["Documento ERP"]).value is None

    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR UNO": {"Acción": "reversar"}},
         sheet="Aplicados hoy")
    summary = run_agent(ws)
    status, detail = by_payer(results(summary.resolutions[0].result), "PAGADOR UNO")[0]
    assert status == "rechazado" and "aún no tiene documento en el ERP" in detail
    assert ws.query("SELECT json_extract(payload, '$.kind') FROM outbox") == [("apply",)]  # nothing to reverse queued


@pytest.mark.parametrize("name, data, reason", [
    ("decisiones.csv", b"accion,facturas\naplicar,FE-1\n", "no es un libro de Excel .xlsx"),
    ("otro.xlsx", None, "no es un libro de excepciones de conciliador"),
    ("bomba.xlsx", "bomb", "parece una bomba zip"),
    ("roto.xlsx", "truncated", "no es un libro de Excel .xlsx"),
])
def test_unreadable_files_are_quarantined_with_a_reason(pending, name, data, reason):
    ws, workbook = pending
    target = ws.root / "resolutions" / name
    if data is None:
        wb = openpyxl.Workbook()
        wb.active.title = "Hoja1"
        wb.active["A1"] = "hola"
        wb.save(target)
    elif data == "bomb":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            with zipfile.ZipFile(workbook) as source:
                for member in source.namelist():
                    archive.writestr(member, source.read(member))
            archive.writestr("xl/media/padding.bin", b"\0" * (50 << 20))
        target.write_bytes(buffer.getvalue())
    elif data == "truncated":
        target.write_bytes(workbook.read_bytes()[:4000])
    else:
        target.write_bytes(data)
    [outcome] = run_agent(ws).resolutions
    assert outcome.status == "quarantined"
    assert (ws.root / "quarantine" / name).exists()
    text = (ws.root / "quarantine" / f"{name}.reason.txt").read_text(encoding="utf-8")
    assert name in text and reason in text and "no se aplicó nada" in text
    assert ws.postings() == []
    assert ws.query("SELECT status FROM resolution_files") == [("quarantined",)]


def test_waits_while_the_erp_cannot_be_read(pending):
    ws, workbook = pending
    dropped = fill(workbook, ws.root / "resolutions" / "r.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    items = ws.root / "erp" / "open_items.csv"
    items.rename(items.with_suffix(".away"))
    [outcome] = run_agent(ws).resolutions
    assert outcome.status == "waiting" and dropped.exists()
    assert ws.query("SELECT count(*) FROM resolution_files")[0][0] == 0
    items.with_suffix(".away").rename(items)
    [outcome] = run_agent(ws).resolutions
    assert outcome.status == "processed" and outcome.applied == 1 and len(ws.postings()) == 1


def test_csv_twin_lists_only_pending_lines(pending):
    """The twin's id_linea is the workbook's id_linea (the store's line id; it held the identity's
    first 16 characters under that name); the full identity is the last column."""
    ws, workbook = pending
    [twin] = (ws.root / "exceptions").glob("excepciones-*-acme.csv")
    rows = list(csv.reader(twin.read_text(encoding="utf-8-sig").splitlines()))
    assert rows[0][:4] == ["id_linea", "fecha", "cuenta", "valor"] and len(rows) == 1 + len(LINES)
    assert rows[0][-1] == "identidad"
    sheet = openpyxl.load_workbook(workbook)["Pendientes"]
    header = {c.value: c.column for c in sheet[1]}
    in_workbook = {sheet.cell(r, header["identidad"]).value: sheet.cell(r, header["id_linea"]).value
                   for r in range(2, sheet.max_row + 1)}
    assert {row[-1]: int(row[0]) for row in rows[1:]} == in_workbook


@pytest.mark.slow
def test_running_service_takes_a_dropped_workbook(tmp_path, daemon_factory):
    """The service watches resolutions/ like the inbox: a workbook saved there is applied and archived."""
    from conftest import wait_for

    ws = make_workspace(tmp_path / "ws")
    (ws.inbox / "dia1.csv").write_bytes(statement({"PAGADOR DOS": LINES["PAGADOR DOS"]}))
    d = daemon_factory(ws)
    wait_for(lambda: list((ws.root / "exceptions").glob("excepciones-*-acme.xlsx")), 30, "the exception workbook")
    workbook = todays_workbook(ws)
    staged = fill(workbook, ws.root / "staging" / "resuelto.xlsx",
                  {"PAGADOR DOS": {"Acción": "aplicar a facturas", "Facturas": "FE-2, FE-12"}})
    shutil.move(staged, ws.root / "resolutions" / "resuelto.xlsx")
    wait_for(lambda: len(ws.postings()) == 2, 30, "the resolved payment in the ERP")
    wait_for(lambda: (ws.root / "exceptions" / "resuelto-resultado.xlsx").exists(), 10, "the result workbook")
    wait_for(lambda: not list((ws.root / "resolutions").iterdir()), 10, "the dropped file archived")
    assert [p.name for p in (ws.root / "archive" / "resolutions").rglob("*.xlsx")] == ["resuelto.xlsx"]
    assert d.stop() == 0
    assert '"resolution_processed"' in d.output()


def test_line_of_an_unknown_account_cannot_be_applied(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    (ws.inbox / "otra.csv").write_bytes(statement({"PAGADOR DOS": LINES["PAGADOR DOS"]}).replace(
        ACCOUNT.encode(), b"999-000-1"))
    run_agent(ws)
    [workbook] = (ws.root / "exceptions").glob("excepciones-*-sin-empresa.xlsx")
    fill(workbook, ws.root / "resolutions" / "r.xlsx", {"PAGADOR DOS": {"Acción": "aplicar a facturas",
                                                                        "Facturas": "FE-2, FE-12"}})
    [outcome] = run_agent(ws).resolutions
    status, detail = by_payer(results(outcome.result), "PAGADOR DOS")[0]
    assert status == "rechazado" and "999-000-1 no pertenece a ninguna empresa" in detail
    assert ws.postings() == []


# -- a refused posting, then what finance does about it ------------------------------------------
def pending_rows(ws: Workspace) -> dict[str, tuple[str, str]]:
    """payer -> (Estado, Motivo) in today's Pendientes sheet."""
    sheet = openpyxl.load_workbook(todays_workbook(ws))["Pendientes"]
    header = {c.value: c.column for c in sheet[1]}
    return {sheet.cell(r, header["Pagador"]).value: (sheet.cell(r, header["Estado"]).value,
                                                     sheet.cell(r, header["Motivo"]).value)
            for r in range(2, sheet.max_row + 1)}


class RefusesOnce(FlatFileErp):
    """The ERP refuses one posting (a closed period), then accepts again."""

    def post(self, posting):
        flag = self.folder / "refuse"
        if flag.exists():
            flag.unlink()
            raise PermanentError("period closed")
        return super().post(posting)


class ClearingRefusedOnce(TwoStepErp):
    """A two-step ERP whose clearing is refused once (someone else cleared the invoice meanwhile),
    after the journal entry of the first step was recorded."""

    def post_step(self, posting, step, done):
        flag = self.folder / "refuse_clear"
        if step == "clear" and flag.exists():
            flag.unlink()
            raise PermanentError("invoice locked by another user")
        return super().post_step(posting, step, done)


class NoReversal(FlatFileErp):
    reverse = ErpConnector.reverse


def test_partly_posted_line_is_not_applied_again(pending):
    """The ERP recorded the first step (the receipt) and refused the clearing: applying the line
    again would post a second receipt for the same cash under a new key, so it is refused with what
    to do; «ignorar» after finishing by hand is accepted and the line leaves Pendientes."""
    ws, workbook = pending
    (ws.root / "erp" / "refuse_clear").write_text("x")
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    summary = run_agent(ws, ClearingRefusedOnce)
    assert summary.failed == 1 and ws.query("SELECT state FROM outbox") == [("failed",)]
    assert ws.query("SELECT step, document FROM outbox_steps") == [("receipt", "RCPT-000001")]
    status, reason = pending_rows(ws)["PAGADOR UNO"]
    assert status == "rechazado por el ERP"
    assert "después de registrar RCPT-000001: invoice locked by another user. No la aplique de nuevo" in reason

    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    [outcome] = run_agent(ws, ClearingRefusedOnce).resolutions
    [(status, detail)] = by_payer(results(outcome.result), "PAGADOR UNO")
    assert status == "rechazado"
    assert "ya registró parte de la aplicación anterior (RCPT-000001, llave" in detail and "«ignorar»" in detail
    assert len(ws.query("SELECT key FROM outbox")) == 1
    receipts = (ws.root / "erp" / "receipts.csv").read_text()
    assert receipts.count("RCPT-") == 1 and ws.postings() == []
    assert ws.query("SELECT json_extract(detail, '$.code') FROM audit WHERE event = 'resolution_refused'") == [
        ("row_partially_posted",)]

    fill(todays_workbook(ws), ws.root / "resolutions" / "r3.xlsx", {"PAGADOR UNO": {"Acción": "ignorar"}})
    [outcome] = run_agent(ws, ClearingRefusedOnce).resolutions
    assert outcome.applied == 1
    assert "PAGADOR UNO" not in pending_rows(ws)


def test_ignoring_a_refused_posting_takes_the_line_out_of_pending(pending):
    """The ERP refused finance's application; finance books it by hand and marks it «ignorar»:
    the line must leave Pendientes (it used to stay, and a second «ignorar» was refused as stale)."""
    ws, workbook = pending
    (ws.root / "erp" / "refuse").write_text("x")
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    run_agent(ws, RefusesOnce)
    assert pending_rows(ws)["PAGADOR UNO"] == ("rechazado por el ERP", "El ERP rechazó la aplicación: period closed")
    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR UNO": {"Acción": "ignorar"}})
    [outcome] = run_agent(ws, RefusesOnce).resolutions
    assert by_payer(results(outcome.result), "PAGADOR UNO") == [
        ("aplicado", "Registrado (ignorar); no se envía nada al ERP.")]
    assert "PAGADOR UNO" not in pending_rows(ws)
    assert len(pending_rows(ws)) == len(LINES) - 1


def test_ignoring_after_a_refused_reversal_takes_the_line_out_of_pending(pending):
    """The ERP cannot reverse; finance does it by hand and marks the line «ignorar», as the refusal
    says: the failed reversal belongs to the superseded decision and no longer holds the line."""
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    run_agent(ws, NoReversal)
    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR UNO": {"Acción": "reversar"}},
         sheet="Aplicados hoy")
    run_agent(ws, NoReversal)
    assert pending_rows(ws)["PAGADOR UNO"][0] == "rechazado por el ERP"
    fill(todays_workbook(ws), ws.root / "resolutions" / "r3.xlsx", {"PAGADOR UNO": {"Acción": "ignorar"}})
    [outcome] = run_agent(ws, NoReversal).resolutions
    assert outcome.applied == 1
    assert "PAGADOR UNO" not in pending_rows(ws)


def test_reversal_withdraws_the_aliases_the_resolution_taught(pending):
    """Finance confirms the wrong customer, then reverses it: the payer's next payment must not be
    applied by itself to that customer on the strength of the withdrawn confirmation."""
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    run_agent(ws)
    taught = [("payer_account", "55000000178", "C006"), ("payer_name", "PAGADOR UNO", "C006")]
    assert ws.query("SELECT kind, value, customer_id FROM aliases ORDER BY kind") == taught
    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR UNO": {"Acción": "reversar"}},
         sheet="Aplicados hoy")
    [outcome] = run_agent(ws).resolutions
    assert outcome.applied == 1
    assert ws.query("SELECT count(*) FROM aliases") == [(0,)]
    forgotten = ws.query("SELECT json_extract(detail, '$.kind'), json_extract(detail, '$.value'), "
                         "json_extract(detail, '$.customer'), json_extract(detail, '$.source') FROM audit "
                         "WHERE event = 'alias_forgotten' ORDER BY id")
    assert [f[:3] for f in forgotten] == sorted(taught) and {f[3] for f in forgotten} == {"r2.xlsx Aplicados hoy 2"}
    # The same payer pays C006's invoice amount again: a suggestion now, not a posting.
    (ws.inbox / "dia2.csv").write_bytes(statement({"PAGADOR UNO": ("105000.00", "PAGO")}, day="2026-11-21", prefix="S"))
    summary = run_agent(ws)
    assert summary.posted == 0
    assert [p["kind"] for p in ws.postings()] == ["apply", "reversal"]  # one row per invoice


def test_reversing_what_the_engine_applied_on_a_learned_alias_withdraws_the_alias(pending):
    """The engine applies the payer's next payment on the alias finance taught; finance reverses
    it (the alias was wrong): the alias goes, so the third payment is not applied by itself."""
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r1.xlsx", {"PAGADOR UNO": {"Acción": "aplicar candidato 1"}})
    run_agent(ws)
    (ws.inbox / "dia2.csv").write_bytes(statement({"PAGADOR UNO": ("115000.00", "PAGO")}, day="2026-11-21", prefix="S"))
    assert run_agent(ws).posted == 1  # C006's FE-15, found through the alias
    fill(todays_workbook(ws), ws.root / "resolutions" / "r2.xlsx", {"PAGADOR UNO": {"Acción": "reversar"}},
         sheet="Aplicados hoy")
    [outcome] = run_agent(ws).resolutions
    assert outcome.applied == 1
    assert [p["kind"] for p in ws.postings()] == ["apply", "apply", "reversal"]
    assert ws.query("SELECT count(*) FROM aliases") == [(0,)]
    (ws.inbox / "dia3.csv").write_bytes(statement({"PAGADOR UNO": ("115000.00", "PAGO")}, day="2026-11-22", prefix="T"))
    assert run_agent(ws).posted == 0


# -- files refused before they are read ----------------------------------------------------------
def _with_members(workbook: Path, target: Path, extra: dict[str, bytes], *, shared_strings: bytes | None = None,
                  method: int = zipfile.ZIP_DEFLATED) -> Path:
    """A copy of ``workbook`` with ``extra`` parts (and, if given, a sharedStrings part wired in as
    Excel writes it)."""
    with zipfile.ZipFile(target, "w", method) as archive, zipfile.ZipFile(workbook) as source:
        for member in source.namelist():
            data = source.read(member)
            if shared_strings is not None and member == "[Content_Types].xml":
                data = data.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                                    b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            if shared_strings is not None and member == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", b'<Relationship Id="rIdS" Type="http://schemas.openxmlformats.'
                                    b'org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
                                    b'</Relationships>')
            archive.writestr(member, data)
        if shared_strings is not None:
            archive.writestr("xl/sharedStrings.xml", shared_strings)
        for name, data in extra.items():
            archive.writestr(name, data)
    return target


def _quarantined(ws: Workspace, name: str) -> str:
    [outcome] = run_agent(ws).resolutions
    assert outcome.status == "quarantined" and (ws.root / "quarantine" / name).exists()
    assert ws.postings() == [] and ws.query("SELECT status FROM resolution_files") == [("quarantined",)]
    return (ws.root / "quarantine" / f"{name}.reason.txt").read_text(encoding="utf-8")


def test_workbook_cap_is_its_own_not_the_statements(pending, monkeypatch):
    """openpyxl holds the shared strings whole: a workbook's expanded size has its own small cap
    (32 MiB), not intake.max_file_mb (512, for bank statements). Shown here with the cap at 1 MiB
    so the file stays small: 60,000 tiny shared strings (a 1.6 MiB part, 4x compressed)."""
    from conciliador import resolution_reader

    ws, workbook = pending
    assert resolution_reader.MAX_EXPANDED == 32 << 20
    monkeypatch.setattr(resolution_reader, "MAX_EXPANDED", 1 << 20)
    strings = b"".join(b"<si><t>%x</t></si>" % (i * 2654435761 % (1 << 40)) for i in range(60_000))
    sst = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' + strings + b"</sst>"
    _with_members(workbook, ws.root / "resolutions" / "cadenas.xlsx", {}, shared_strings=sst)
    text = _quarantined(ws, "cadenas.xlsx")
    assert "El archivo cadenas.xlsx ocupa 2 MB al descomprimirlo, más que el límite de 1 MB" in text


def test_workbook_over_the_cap_on_disk(pending, monkeypatch):
    from conciliador import resolution_reader

    ws, workbook = pending
    monkeypatch.setattr(resolution_reader, "MAX_EXPANDED", 1 << 20)
    _with_members(workbook, ws.root / "resolutions" / "grande.xlsx", {"xl/media/foto.bin": bytes(range(256)) * 6000},
                  method=zipfile.ZIP_STORED)
    text = _quarantined(ws, "grande.xlsx")
    assert "El archivo grande.xlsx ocupa 2 MB, más que el límite de 1 MB para un libro de excepciones" in text


def test_too_many_parts_is_said_as_parts(pending):
    ws, workbook = pending
    _with_members(workbook, ws.root / "resolutions" / "partes.xlsx", {f"xl/media/p{n}.bin": b"x" for n in range(500)})
    text = _quarantined(ws, "partes.xlsx")
    parts = len(zipfile.ZipFile(ws.root / "quarantine" / "partes.xlsx").namelist())
    assert f"El archivo partes.xlsx tiene {parts} partes internas" in text and "más que las 500" in text
    assert " MB" not in text


def test_too_many_rows_is_said_as_rows(pending, monkeypatch):
    from conciliador import resolution_reader

    ws, workbook = pending
    monkeypatch.setattr(resolution_reader, "MAX_ROWS", 5)  # the cap, lowered so 13 rows are over it
    shutil.copy(workbook, ws.root / "resolutions" / "filas.xlsx")
    text = _quarantined(ws, "filas.xlsx")
    assert "La hoja Pendientes de filas.xlsx tiene más de 5 filas" in text
    assert "?" not in text and " MB" not in text


def test_new_refusals_read_in_english():
    from conciliador.messages import CATALOG, render

    codes = ("row_partially_posted", "posting_failed_partly", "file_too_large_on_disk", "file_too_many_parts",
             "file_too_many_rows")
    assert all(set(CATALOG[c]) == {"es", "en"} for c in codes)
    assert render("file_too_many_rows", {"file": "r.xlsx", "sheet": "Pending", "limit": "200000"}, "en").startswith(
        "Sheet Pending of r.xlsx has more than 200000 rows")
    assert "{" not in render("row_partially_posted", {"documents": "RCPT-1", "key": "K"}, "en")


# -- read errors, bugs and the files after them (review of the round trip) -------------------------
def _rewrite(source: Path, target: Path, member: str, change) -> Path:
    """A copy of ``source`` with one part's bytes changed, as another tool (or a cut copy) leaves it."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for name in zin.namelist():
            data = zin.read(name)
            zout.writestr(name, change(data) if name == member else data)
    return target


@pytest.mark.parametrize("damage, reason", [
    ("cut", "no se puede leer desde la fila"),  # the sheet's XML cut short
    ("text_in_number", "desde la fila 2 (ValueError: could not convert string to float: '1.234.567,89')"),
])
def test_a_damaged_sheet_is_refused_and_the_next_file_goes_on(pending, damage, reason):
    """openpyxl (read-only) parses a sheet only when its rows are read, after the file opened: a
    damaged sheet raised out of Resolver.process, failed every run --once and held up the files
    after it. It is a refusal like any unreadable file, naming the sheet and the row."""
    ws, workbook = pending
    filled = fill(workbook, ws.root / "tmp.xlsx", {"PAGADOR SIETE": {"Acción": "ignorar"}})
    fill(workbook, ws.root / "resolutions" / "z-bueno.xlsx", {"PAGADOR TRECE": {"Acción": "ignorar"}})
    if damage == "cut":
        def change(data):
            return data[: len(data) - 200]
    else:
        def change(data):  # a number cell holding es-CO text: Excel never writes it, other tools may
            return re.sub(rb'(<c r="D2"[^>]*>)<v>[^<]*</v>', rb"\1<v>1.234.567,89</v>", data)
    _rewrite(filled, ws.root / "resolutions" / "a-danado.xlsx", "xl/worksheets/sheet1.xml", change)
    summary = run_agent(ws)
    assert [(o.path.name, o.status) for o in summary.resolutions] == [
        ("a-danado.xlsx", "quarantined"), ("z-bueno.xlsx", "processed")]
    text = (ws.root / "quarantine" / "a-danado.xlsx.reason.txt").read_text(encoding="utf-8")
    assert "La hoja Pendientes de a-danado.xlsx no se puede leer" in text and reason in text, text
    assert "no se aplicó nada" in text
    assert ws.query("SELECT original_name, status FROM resolution_files ORDER BY id") == [
        ("a-danado.xlsx", "quarantined"), ("z-bueno.xlsx", "processed")]
    assert not list((ws.root / "resolutions").iterdir())


def test_a_bug_with_one_file_sets_it_aside_and_the_others_go_on(pending, monkeypatch):
    """A bug after some rows were applied: the file goes to quarantine with what happened (it would
    otherwise fail at every rescan), the next file is processed, and dropping the file again
    resumes it, the rows applied before reported as applied."""
    from conciliador.resolutions import Resolver

    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "a.xlsx", {"PAGADOR SIETE": {"Acción": "ignorar"}})
    fill(workbook, ws.root / "resolutions" / "b.xlsx", {"PAGADOR TRECE": {"Acción": "ignorar"}})
    original = Resolver._write_result

    def broken(self, path, *args):
        if path.name == "a.xlsx":
            raise RuntimeError("a bug")
        return original(self, path, *args)

    monkeypatch.setattr(Resolver, "_write_result", broken)
    summary = run_agent(ws)
    assert [(o.path.name, o.status) for o in summary.resolutions] == [("a.xlsx", "quarantined"), ("b.xlsx", "processed")]
    text = (ws.root / "quarantine" / "a.xlsx.reason.txt").read_text(encoding="utf-8")
    assert "Error interno al procesar a.xlsx (RuntimeError('a bug'))" in text
    assert "ya se habían aplicado filas de este archivo (1)" in text and "no se aplicó nada" not in text

    monkeypatch.undo()
    shutil.move(ws.root / "quarantine" / "a.xlsx", ws.root / "resolutions" / "a.xlsx")
    [again] = run_agent(ws).resolutions
    assert again.status == "processed"
    [(status, detail)] = by_payer(results(again.result), "PAGADOR SIETE")
    assert status == "aplicado" and "a.xlsx, hoja Pendientes, fila" in detail
    assert ws.query("SELECT count(*) FROM resolutions") == [(2,)]


def test_a_store_error_leaves_the_file_for_the_next_round(pending, monkeypatch):
    """The store locked (or the disk full) is worth trying again: the file stays in resolutions/,
    run --once does not fail, and the files after it are processed."""
    from conciliador.resolutions import Resolver

    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "a.xlsx", {"PAGADOR SIETE": {"Acción": "ignorar"}})
    fill(workbook, ws.root / "resolutions" / "b.xlsx", {"PAGADOR TRECE": {"Acción": "ignorar"}})
    original = Resolver.process

    def locked(self, path):
        if path.name == "a.xlsx":
            raise sqlite3.OperationalError("database is locked")
        return original(self, path)

    monkeypatch.setattr(Resolver, "process", locked)
    summary = run_agent(ws)
    assert [(o.path.name, o.status) for o in summary.resolutions] == [("b.xlsx", "processed")]
    assert [p.name for p in (ws.root / "resolutions").iterdir()] == ["a.xlsx"]
    monkeypatch.undo()
    [outcome] = run_agent(ws).resolutions
    assert (outcome.status, outcome.applied) == ("processed", 1)


def test_a_stale_copy_above_the_valid_row_does_not_hold_it_up(pending):
    """Finance pasted an older (or tampered) copy of a row above the agent's own: the copy is
    refused for what it is, the valid row applies (it used to be reported as a copy of the stale one)."""
    ws, workbook = pending
    wb = openpyxl.load_workbook(workbook)
    sheet = wb["Pendientes"]
    header = {c.value: c.column for c in sheet[1]}
    row = next(r for r in range(2, sheet.max_row + 1) if sheet.cell(r, header["Pagador"]).value == "PAGADOR SIETE")
    sheet.insert_rows(2, amount=2)
    row += 2
    for copy, hidden in ((2, "version"), (3, "identidad")):
        for col in range(1, sheet.max_column + 1):
            sheet.cell(copy, col).value = sheet.cell(row, col).value
        sheet.cell(copy, header["Acción"]).value = "devolver"  # another decision: not a conflict with the valid row
    sheet.cell(2, header["version"]).value = 999_999
    sheet.cell(3, header["identidad"]).value = "0" * 64
    sheet.cell(row, header["Acción"]).value = "ignorar"
    wb.save(ws.root / "resolutions" / "copias.xlsx")
    [outcome] = run_agent(ws).resolutions
    assert (outcome.applied, outcome.refused) == (1, 2)
    found = by_payer(results(outcome.result), "PAGADOR SIETE")
    assert found[0][0] == "rechazado" and "La línea cambió desde que se generó este libro" in found[0][1]
    assert found[1][0] == "rechazado" and "Las columnas ocultas de esta fila" in found[1][1]
    assert found[2] == ("aplicado", "Registrado (ignorar); no se envía nada al ERP.")
    assert ws.query("SELECT d.reason FROM decisions d JOIN statement_lines l ON l.id = d.line_id WHERE "
                    "json_extract(l.data, '$.payer_name') = 'PAGADOR SIETE' AND d.superseded_by IS NULL") == [
        ("finance_ignore",)]


def test_a_valid_copy_with_the_same_decision_is_reported_as_resolved_by_the_first(pending):
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r.xlsx", {"PAGADOR SIETE": {"Acción": "ignorar"}},
         duplicate={"PAGADOR SIETE": {"Acción": "Ignorar"}})
    [outcome] = run_agent(ws).resolutions
    assert (outcome.applied, outcome.refused) == (1, 0)
    [first, second] = by_payer(results(outcome.result), "PAGADOR SIETE")
    assert first[0] == "aplicado"
    assert second[0] == "sin cambios" and "Ya resuelta con la misma decisión en r.xlsx, hoja Pendientes, fila" in second[1]


def test_invoices_and_customers_excel_stored_as_numbers_or_dates(pending):
    """An es-CO Excel turns "5,7" (invoices 5 and 7) into the number 5.7, "180000000,5" into a
    decimal, "5/7" into a date, and rounds numbers past 15 digits: the text finance typed is lost,
    and read back without the dot it matched another invoice (FE-5). Refused with what to do; a
    whole number of up to 15 digits is a document number and is used."""
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "n.xlsx", {
        "PAGADOR UNO": {"Acción": "aplicar a facturas", "Facturas": 180000000.5},
        "PAGADOR DOS": {"Acción": "aplicar a facturas", "Facturas": 5.7},
        "PAGADOR TRES": {"Acción": "anticipo", "Cliente": 1234567890123456789},
        "PAGADOR CUATRO": {"Acción": "aplicar a facturas", "Facturas": dt.datetime(2026, 7, 5)},
        "PAGADOR CINCO": {"Acción": "aplicar candidato 1", "Cliente": 7.5},
        "PAGADOR SEIS": {"Acción": "aplicar a facturas", "Facturas": 1.800000004e9},  # FE-4's document, whole
        "PAGADOR TRECE": {"Acción": "ignorar", "Facturas": 5.7},  # a cell the action does not read
    })
    [outcome] = run_agent(ws).resolutions
    found = results(outcome.result)
    expect = {
        "PAGADOR UNO": "La celda Facturas quedó guardada como el número 180000000,5",
        "PAGADOR DOS": "La celda Facturas quedó guardada como el número 5,7",
        # stored as a double, as Excel does: the last digits are already gone
        "PAGADOR TRES": "La celda Cliente quedó guardada como el número 1234567890123457000, de más de 15 dígitos",
        "PAGADOR CUATRO": "La celda Facturas quedó guardada como la fecha 05/07/2026",
        "PAGADOR CINCO": "La celda Cliente quedó guardada como el número 7,5",
    }
    for payer, text in expect.items():
        [(status, detail)] = by_payer(found, payer)
        assert status == "rechazado" and text in detail, (payer, detail)
    assert "separadas por espacios o «;»" in by_payer(found, "PAGADOR DOS")[0][1]
    assert by_payer(found, "PAGADOR SEIS")[0][0] == "aplicado"
    assert by_payer(found, "PAGADOR TRECE")[0][0] == "aplicado"
    assert [(p["customer_id"], p["applied_document"]) for p in ws.postings()] == [("C005", "1800000004")]


def test_invoices_typed_as_a_number_in_english():
    from conciliador.messages import render

    text = render("row_number_cell", {"column": "Invoices", "value": "5.7"}, "en")
    assert text.startswith("The Invoices cell was stored as the number 5.7") and '";"' in text
    assert "{" not in render("row_number_too_long", {"column": "Customer", "value": "1"}, "en")
    assert "{" not in render("row_no_action", {"columns": "Invoices"}, "en")


def test_two_sheets_of_one_kind_each_row_its_own_result(pending):
    """Pendientes and Pending (a language switch), and an Excel copy «Pendientes (2)»: every sheet's
    rows are processed, results and claims are kept by sheet title and row (row 2 of the second
    sheet used to be skipped and shown with the first sheet's result)."""
    ws, workbook = pending
    wb = openpyxl.load_workbook(workbook)
    sheet = wb["Pendientes"]
    header = {c.value: c.column for c in sheet[1]}
    rows = {sheet.cell(r, header["Pagador"]).value: r for r in range(2, sheet.max_row + 1)}
    first = next(p for p, r in rows.items() if r == 2)
    english = wb.create_sheet("Pending")
    for col in range(1, sheet.max_column + 1):
        english.cell(1, col).value = sheet.cell(1, col).value
        english.cell(2, col).value = sheet.cell(rows["PAGADOR TRECE"], col).value
    english.cell(2, header["Acción"]).value = "ignorar"
    copy = wb.copy_worksheet(sheet)
    copy.title = "Pendientes (2)"
    copy.cell(rows["PAGADOR SIETE"], header["Acción"]).value = "no es pago de cliente"
    copy.cell(2, header["Acción"]).value = "devolver"  # the same line and decision as on Pendientes
    sheet.cell(2, header["Acción"]).value = "devolver"
    wb.save(ws.root / "resolutions" / "hojas.xlsx")

    [outcome] = run_agent(ws).resolutions
    assert (outcome.applied, outcome.refused) == (3, 0)
    result = openpyxl.load_workbook(outcome.result)
    assert result.sheetnames == ["Pendientes", "Pending", "Pendientes (2)", "Aplicados hoy", "Resumen", "Instrucciones"]
    found = results(outcome.result)
    assert found[f"{first}#Pendientes!2"] == ("aplicado", "Registrado (devolver); no se envía nada al ERP.")
    assert found["PAGADOR TRECE#Pending!2"] == ("aplicado", "Registrado (ignorar); no se envía nada al ERP.")
    assert found["PAGADOR SIETE#Pendientes (2)!3"][0] == "aplicado"
    status, detail = found[f"{first}#Pendientes (2)!2"]
    assert status == "sin cambios" and "hojas.xlsx, hoja Pendientes, fila 2" in detail
    assert sorted(ws.query("SELECT sheet, row FROM resolutions")) == [
        ("Pendientes", 2), ("Pendientes (2)", rows["PAGADOR SIETE"]), ("Pending", 2)]


def test_a_sheet_with_decisions_but_no_hidden_columns_is_named(pending):
    """A renamed copy whose hidden columns were deleted cannot be matched back: the file is refused
    naming the sheet, rather than its decisions being skipped without a word."""
    ws, workbook = pending
    wb = openpyxl.load_workbook(workbook)
    notes = wb.create_sheet("Mis decisiones")
    notes.append(["Pagador", "Acción", "Facturas"])
    notes.append(["PAGADOR DOS", "aplicar a facturas", "FE-2, FE-12"])
    wb.save(ws.root / "resolutions" / "renombrada.xlsx")
    text = _quarantined(ws, "renombrada.xlsx")
    assert "La hoja Mis decisiones de renombrada.xlsx no tiene las columnas line_id, identity, version" in text


def test_rows_past_a_wrong_dimension_are_read(pending):
    """read-only openpyxl trusts a sheet's <dimension>; a tool that writes it short lost rows silently."""
    ws, workbook = pending
    filled = fill(workbook, ws.root / "tmp.xlsx", {"PAGADOR SIETE": {"Acción": "ignorar"},
                                                   "PAGADOR TRECE": {"Acción": "ignorar"}})
    _rewrite(filled, ws.root / "resolutions" / "dim.xlsx", "xl/worksheets/sheet1.xml",
             lambda data: re.sub(rb'<dimension ref="[^"]+"', b'<dimension ref="A1:C3"', data))
    [outcome] = run_agent(ws).resolutions
    assert (outcome.status, outcome.applied, outcome.refused) == ("processed", 2, 0)


def test_invoices_or_customer_without_an_action_are_reported(pending):
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r.xlsx", {
        "PAGADOR DOS": {"Facturas": "FE-2, FE-12"},
        "PAGADOR TRES": {"Cliente": "C007", "Facturas": "FE-6"},
        "PAGADOR CUATRO": {"Nota": "llamar al cliente"},
    })
    [outcome] = run_agent(ws).resolutions
    assert (outcome.applied, outcome.refused) == (0, 2)
    found = results(outcome.result)
    assert by_payer(found, "PAGADOR DOS") == [
        ("rechazado", "La fila tiene Facturas pero no una Acción; no se aplicó. Elija la acción en la lista desplegable.")]
    assert "La fila tiene Facturas y Cliente pero no una Acción" in by_payer(found, "PAGADOR TRES")[0][1]
    assert by_payer(found, "PAGADOR CUATRO") == []
    assert ws.postings() == []


def test_run_once_takes_only_settled_workbooks(tmp_path):
    """run --once uses the service's stable-file rule: a file still being written is left for the
    next run (it would be read half-written and quarantined), one with a NAME.done marker is taken."""
    import threading

    from conciliador.resolutions import settled

    marked, quiet, busy = (tmp_path / n for n in ("marcado.xlsx", "quieto.xlsx", "escribiendo.xlsx"))
    for path in (marked, quiet, busy):
        path.write_bytes(b"PK")
    (tmp_path / "marcado.xlsx.done").write_text("")
    writer = threading.Timer(0.2, lambda: busy.write_bytes(b"PK and more"))
    writer.start()
    try:
        assert settled([busy, marked, quiet], 1.0) == [marked, quiet]
    finally:
        writer.join()
    assert settled([busy, marked, quiet], 0) == [busy, marked, quiet]


def test_the_done_marker_goes_with_the_file(pending):
    ws, workbook = pending
    fill(workbook, ws.root / "resolutions" / "r.xlsx", {"PAGADOR SIETE": {"Acción": "ignorar"}})
    (ws.root / "resolutions" / "r.xlsx.done").write_text("")
    [outcome] = run_agent(ws).resolutions
    assert outcome.applied == 1 and not list((ws.root / "resolutions").iterdir())
