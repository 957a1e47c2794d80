"""Writes the Davivienda, Banco de Bogotá and BBVA Colombia samples of this folder (run once; the
files are committed), in the shapes public sources describe (each shipped profile's header comment
cites them and says which parts are evidence):

* ``davivienda_movimientos_2026-11.xlsx``: Davivienda's "Movimientos" workbook. First sheet named
  ``Movimientos<account> - 2`` (the account number in the sheet's name, 31 characters as in the
  one real workbook described), a title "Movimientos" and an empty row above the header on row 3
  (Fecha | Doc. | Tran | Ofi. | Jor. | Hora | Mot. | Desc Mot. | Valor Total | Valor Cheque |
  ID Origen/Destino | Referencia 1 | Referencia 2 | Terminal | Fecha Movto. | Ciudad | Valor Saldo),
  date cells, Valor Total an unsigned number whose direction is in Tran (Notas Credito, Notas
  Debito, Deposito Especial), Valor Saldo the running balance (oldest first: the order is not
  known, the profile infers it), and a second sheet GASTOS as in that workbook.
* ``davivienda_reporte_456600123456_nov01-15.xlsx``: Davivienda's 10-column "Reporte": header on
  row 1, Fecha de Sistema as dd/mm/yyyy text, Valor Total as text "$ 1.807,00", direction in
  Transacción (Nota Débito / Nota Crédito), no balance, no account (hence the file name); a
  download of 1-15 November that brings days outside the range, as the source says it does, and
  one row of "$ 0,00". The column order and the sheet's name ("Reporte") are ours: not reported.
* ``bogota_movimientos_098765432_nov.xlsx``: Banco de Bogotá's workbook: one sheet named after the
  period (``CORP_01112026a3011202608151Movi``), the header on row 1 (Fecha | Transacción | Oficina |
  Documento | Débito | Crédito), date cells, each amount on its side, no balance, no account.
  Transaction texts are from a public table of the bank's transaction codes.
* ``bbva_movimientos_00130456000200123456_nov.xlsx``: BBVA Colombia: 13 rows above the header on
  row 14 (their texts are ours: nobody reported them), FECHA DE OPERACIÓN | FECHA VALOR | CONCEPTO |
  IMPORTE (COP) | OBSERVACIONES, dd-mm-yyyy text dates, IMPORTE signed, as number cells and, on a
  few rows, as text such as "$-2,919.54" (both forms are reported; one file holds both here so that
  one sample exercises both).

Texts live in a shared-string table written after the sheets, as Excel writes them
(:func:`excel_shaped`). Every name, number and amount is invented.
"""

from __future__ import annotations

import datetime as dt
import io
import random
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from excel_shape import excel_shaped as _excel_shaped  # noqa: E402 - a sibling module of this script

HERE = Path(__file__).parent

DAVIVIENDA_ACCOUNT = "0560001234567890"
DAVIVIENDA_SHEET = f"Movimientos{DAVIVIENDA_ACCOUNT} - 2"
DAVIVIENDA_OPENING = Decimal("12500000.00")
DAVIVIENDA_HEADER = ["Fecha", "Doc.", "Tran", "Ofi.", "Jor.", "Hora", "Mot.", "Desc Mot.", "Valor Total",
                     "Valor Cheque", "ID Origen/Destino", "Referencia 1", "Referencia 2", "Terminal", "Fecha Movto.",
                     "Ciudad", "Valor Saldo"]
REPORTE_ACCOUNT = "456600123456"
REPORTE_RANGE = (dt.date(2026, 11, 1), dt.date(2026, 11, 15))
REPORTE_HEADER = ["Fecha de Sistema", "Documento", "Descripción motivo", "Transacción", "Oficina de Recaudo",
                  "ID Origen/Destino", "Valor Total", "Valor Cheque", "Referencia 1", "Referencia 2"]
BOGOTA_ACCOUNT = "098765432"
BOGOTA_SHEET = "CORP_01112026a3011202608151Movi"
BOGOTA_HEADER = ["Fecha", "Transacción", "Oficina", "Documento", "Débito", "Crédito"]
BBVA_ACCOUNT = "00130456000200123456"
BBVA_HEADER = ["FECHA DE OPERACIÓN", "FECHA VALOR", "CONCEPTO", "IMPORTE (COP)", "OBSERVACIONES"]

FILES = {
    "davivienda": "davivienda_movimientos_2026-11.xlsx",
    "reporte": f"davivienda_reporte_{REPORTE_ACCOUNT}_nov01-15.xlsx",
    "bogota": f"bogota_movimientos_{BOGOTA_ACCOUNT}_nov.xlsx",
    "bbva": f"bbva_movimientos_{BBVA_ACCOUNT}_nov.xlsx",
}


@dataclass(frozen=True)
class Movement:
    day: dt.date
    kind: str              # the bank's direction text (Tran, Transacción), or "" where the sign says it
    description: str
    amount: Decimal        # signed: money in positive
    document: str = ""
    payer_id: str = ""
    reference: str = ""
    reference2: str = ""
    office: str = ""
    code: int = 0


def days(first: dt.date, last: dt.date):
    day = first
    while day <= last:
        yield day
        day += dt.timedelta(days=1)


def cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randrange(low * 100, high * 100)) / 100


# -- Davivienda "Movimientos" ---------------------------------------------------------------------

def davivienda_movements() -> list[Movement]:
    rng = random.Random(5601)
    payers = [("000000900123456", "DISTRIBUIDORA EJEMPLO SAS"), ("000000800987654", "COMERCIAL LOS ANDES LTDA"),
              ("000001012345678", "ANA PRUEBA")]
    out: list[Movement] = []
    doc = 4_500_100
    for day in days(dt.date(2026, 11, 1), dt.date(2026, 11, 20)):
        for _ in range(rng.randint(1, 3)):
            doc += rng.randint(1, 40)
            kind = rng.choice(("abono", "abono", "llave", "ach", "transfer", "comision"))
            if kind == "abono":
                nit, _name = rng.choice(payers)
                out.append(Movement(day, "Notas Credito", "Abono Por Pago a proveedores",
                                    cents(rng, 150_000, 4_800_000), str(doc), nit,
                                    f"FV-{rng.randrange(1000, 9999)}", "", "PORTAL-EMPRESARIAL", 1402))
            elif kind == "llave":
                out.append(Movement(day, "Notas Credito", "Pago A Llave De Comercio",
                                    Decimal(rng.choice((12000, 25000, 38500, 60000))), str(doc), "", "", "",
                                    "DAVIPLATA", 2710))
            elif kind == "ach":
                nit, name = rng.choice(payers)
                out.append(Movement(day, "Deposito Especial", f"Abono ACH {name}", cents(rng, 200_000, 3_000_000),
                                    str(doc), nit, f"{rng.randrange(10**9, 10**10)}", "ACH", "ACH", 1107))
            elif kind == "transfer":
                out.append(Movement(day, "Notas Debito", "Dcto por Transferencia de Fondos",
                                    -cents(rng, 300_000, 2_500_000), str(doc), "000000900555111",
                                    f"{rng.randrange(10**7, 10**8)}", "", "PORTAL-EMPRESARIAL", 3301))
            else:
                out.append(Movement(day, "Notas Debito", "Cobro Comision Transferencia Portal", Decimal("-8900.00"),
                                    str(doc), "", "", "", "PORTAL-EMPRESARIAL", 5510))
        if day.day % 4 == 0:
            doc += 1
            out.append(Movement(day, "Notas Debito", "Gravamen Movimientos Financieros", -cents(rng, 800, 16_000),
                                str(doc), "", "", "", "PORTAL-EMPRESARIAL", 9001))
    # Two QR payments of the same amount on one day: two real movements, two documents.
    doc += 1
    out += [Movement(dt.date(2026, 11, 20), "Notas Credito", "Pago A Llave De Comercio", Decimal("25000"),
                     str(doc + i), "", "", "", "DAVIPLATA", 2710) for i in (1, 2)]
    return out


def write_davivienda(path: Path, movements: list[Movement]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = DAVIVIENDA_SHEET
    sheet.append(["Movimientos"])
    sheet.append([])
    sheet.append(DAVIVIENDA_HEADER)
    balance = DAVIVIENDA_OPENING
    rng = random.Random(7)
    for m in movements:
        balance += m.amount
        when = dt.datetime(m.day.year, m.day.month, m.day.day)
        sheet.append([when, int(m.document), m.kind, m.office, "Normal" if rng.random() < 0.8 else "Adicional",
                      dt.time(rng.randrange(7, 20), rng.randrange(60), rng.randrange(60)), m.code, m.description,
                      float(abs(m.amount)), 0.0, m.payer_id or None, m.reference or None, m.reference2 or None,
                      "PORTAL" if m.office == "PORTAL-EMPRESARIAL" else None, when, "BOGOTA", float(balance)])
    gastos = book.create_sheet("GASTOS")
    gastos.append(["Fecha", "Doc.", "Tran", "Ofi.", "Mot.", "Desc Mot.", "Valor Total"])
    for m in movements:
        if m.description.startswith(("Cobro", "Gravamen")):
            gastos.append([dt.datetime(m.day.year, m.day.month, m.day.day), int(m.document), m.kind, m.office, m.code,
                           m.description, float(abs(m.amount))])
    save(book, path)


# -- Davivienda "Reporte" -------------------------------------------------------------------------

def reporte_movements() -> list[Movement]:
    """30 October to 16 November: the download of 1-15 November brings days around the range."""
    rng = random.Random(3456)
    out: list[Movement] = []
    doc = 880_000
    for day in days(dt.date(2026, 10, 30), dt.date(2026, 11, 16)):
        for _ in range(rng.randint(1, 3)):
            doc += rng.randint(1, 9)
            kind = rng.choice(("llave", "llave", "ach", "manejo", "transfer"))
            if kind == "llave":
                out.append(Movement(day, "Nota Crédito", "Pago A Llave De Comercio",
                                    Decimal(rng.choice(("1807", "12000", "400000", "38500.50"))), str(doc), "", "", "",
                                    "DAVIPLATA"))
            elif kind == "ach":
                out.append(Movement(day, "Nota Crédito", "Abono ACH Comercial Los Andes",
                                    cents(rng, 90_000, 1_200_000), str(doc), "800987654",
                                    f"{rng.randrange(10**5, 10**6)}", "FV", "ACH"))
            elif kind == "manejo":
                out.append(Movement(day, "Nota Débito", "Cobro Cuota De Manejo Tarjeta", Decimal("-15990"), str(doc),
                                    "", "", "", "OFICINA CENTRO"))
            else:
                out.append(Movement(day, "Nota Débito", "Transferencia A Cuenta Davivienda",
                                    -cents(rng, 50_000, 600_000), str(doc), "1012345678",
                                    f"{rng.randrange(10**3, 10**4)}", "", "BANCA MOVIL"))
    return out


def money(amount: Decimal) -> str:
    """'$ 1.807,00', as the Reporte writes Valor Total."""
    whole, _, frac = f"{abs(amount):.2f}".partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"$ {groups},{frac}"


def write_reporte(path: Path, movements: list[Movement]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Reporte"
    sheet.append(REPORTE_HEADER)
    for i, m in enumerate(movements):
        sheet.append([m.day.strftime("%d/%m/%Y"), m.document, m.description, m.kind, m.office, m.payer_id or None,
                      money(m.amount), money(Decimal(0)), m.reference or None, m.reference2 or None])
        if i == 7:  # a row the bank lists with no value: the source drops such rows
            sheet.append([m.day.strftime("%d/%m/%Y"), str(int(m.document) + 1), "Consulta De Saldo", "Nota Débito",
                          "BANCA MOVIL", None, money(Decimal(0)), money(Decimal(0)), None, None])
    save(book, path)


# -- Banco de Bogotá ------------------------------------------------------------------------------

BOGOTA_TEXTS = {  # a public table of the bank's transaction codes (code: text)
    "credit": ["Abono dispersion pago a proveedores", "Cr Ach", "Abono transferencia por internet o banca movil",
               "Abono recaudo pago electronico ACH", "Consignacion local en cheque"],
    "debit": ["Cargo Dispersion Pago de Proveedores/Otros", "Cargo transferencia por Internet o Banca Movil o Swift",
              "Comision PSE", "Pago servicio publico por internet o banca movil"],
}


def bogota_movements() -> list[Movement]:
    rng = random.Random(8295)
    out: list[Movement] = []
    for day in days(dt.date(2026, 11, 1), dt.date(2026, 11, 30)):
        if day.weekday() == 6:
            continue
        for _ in range(rng.randint(1, 2)):
            if rng.random() < 0.55:
                text = rng.choice(BOGOTA_TEXTS["credit"])
                amount = cents(rng, 80_000, 5_000_000)
            else:
                text = rng.choice(BOGOTA_TEXTS["debit"])
                amount = -(Decimal("4200") if text == "Comision PSE" else cents(rng, 60_000, 3_500_000))
            number, nit = f"{rng.randrange(10**6, 10**7)}", f"{rng.choice((800, 860, 900))}{rng.randrange(10**6):06d}"
            document = rng.choice((number, nit))  # a document number, or a counterpart's NIT
            office = "BANCA ELECTRONICA" if rng.random() < 0.8 else "OFICINA AV CHILE"
            out.append(Movement(day, "", text, amount, document, office=office))
        if day.day % 7 == 0:
            out.append(Movement(day, "", "Gravamen Movimientos Financieros", -cents(rng, 1_000, 20_000), "0",
                                office="BANCA ELECTRONICA"))
    # The same payment twice on one day: two lines.
    out += [Movement(dt.date(2026, 11, 18), "", "Comision PSE", Decimal("-4200"), "5550001",
                     office="BANCA ELECTRONICA")] * 2
    out.sort(key=lambda m: m.day)
    return out


def write_bogota(path: Path, movements: list[Movement]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = BOGOTA_SHEET
    sheet.append(BOGOTA_HEADER)
    for m in movements:
        debit = float(-m.amount) if m.amount < 0 else None
        credit = float(m.amount) if m.amount > 0 else None
        sheet.append([dt.datetime(m.day.year, m.day.month, m.day.day), m.description, m.office, m.document, debit,
                      credit])
    save(book, path)


# -- BBVA Colombia --------------------------------------------------------------------------------

def bbva_movements() -> list[Movement]:
    rng = random.Random(13)
    out: list[Movement] = []
    for day in days(dt.date(2026, 11, 3), dt.date(2026, 11, 28)):
        if day.weekday() >= 5:
            continue
        for _ in range(rng.randint(1, 2)):
            kind = rng.choice(("in", "in", "pse", "retiro", "comision"))
            if kind == "in":
                out.append(Movement(day, "", "ABONO POR TRANSFERENCIA DE OTRO BANCO", cents(rng, 100_000, 6_000_000),
                                    reference=f"FE-{rng.randrange(100, 999)}"))
            elif kind == "pse":
                out.append(Movement(day, "", "PAGO PSE EMPRESA DE SERVICIOS", -cents(rng, 40_000, 900_000),
                                    reference=f"{rng.randrange(10**8, 10**9)}"))
            elif kind == "retiro":
                out.append(Movement(day, "", "RETIRO POR TRANSFERENCIA A CUENTA", -cents(rng, 200_000, 2_000_000)))
            else:
                out.append(Movement(day, "", "COMISION TRANSFERENCIA ELECTRONICA", Decimal("-2919.54")))
    out.append(Movement(dt.date(2026, 11, 30), "", "RETE FUENTE RENDIMIENTOS", Decimal("-312.07")))
    return out


def us_money(amount: Decimal) -> str:
    """'$-2,919.54', '$250,000.00': the text form one source reports."""
    sign = "-" if amount < 0 else ""
    return f"${sign}{abs(amount):,.2f}"


def write_bbva(path: Path, movements: list[Movement]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Movimientos"
    # Rows 1-13: their content is not reported; these texts are ours.
    title = [["BBVA"], ["Consulta de movimientos"], [], ["Empresa", "EMPRESA EJEMPLO S.A.S."],
             ["Producto", "Cuenta corriente"], ["Moneda", "COP"], ["Desde", "03-11-2026"], ["Hasta", "30-11-2026"],
             [], ["Fecha de consulta", "01-12-2026 08:15"], [], [], []]
    assert len(title) == 13
    for row in title:
        sheet.append(row)
    sheet.append(BBVA_HEADER)
    for i, m in enumerate(movements):
        shown = m.day.strftime("%d-%m-%Y")
        value = us_money(m.amount) if i % 5 == 2 else float(m.amount)
        sheet.append([shown, shown, m.description, value, m.reference or None])
    save(book, path)


# -- Excel's shape ----------------------------------------------------------------------------------

def save(book, path: Path) -> None:
    book.properties.created = dt.datetime(2026, 12, 1, 8, 0)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(excel_shaped(buffer.getvalue()))


def excel_shaped(data: bytes) -> bytes:
    """openpyxl's workbook as Excel writes it (excel_shape.excel_shaped), saved at a fixed time."""
    return _excel_shaped(data, saved=dt.datetime(2026, 12, 1, 8, 0, 0), strings_rel="rId99")

def main() -> None:
    davivienda, reporte = davivienda_movements(), reporte_movements()
    bogota, bbva = bogota_movements(), bbva_movements()
    write_davivienda(HERE / FILES["davivienda"], davivienda)
    write_reporte(HERE / FILES["reporte"], reporte)
    write_bogota(HERE / FILES["bogota"], bogota)
    write_bbva(HERE / FILES["bbva"], bbva)
    print(f"Davivienda Movimientos {len(davivienda)}, Reporte {len(reporte)} (+1 without value), "
          f"Banco de Bogotá {len(bogota)}, BBVA {len(bbva)} rows")


if __name__ == "__main__":
    main()
