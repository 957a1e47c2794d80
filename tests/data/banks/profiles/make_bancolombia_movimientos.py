"""Writes the Bancolombia "Descargar movimientos" samples of this folder (run once; the files are
committed): two overlapping Excel exports of one invented account and the CSV Excel makes of the
first.

The layout mirrors what an independent project documented from real files (github.com/
ingcarlostello/xtrakto, docs/ROADMAP.md, Appendix A.2, and the description patterns of Appendix B):
one sheet whose first row is ``Fecha | Descripción | Referencia | Valor``; date cells at 05:00
(local midnight in Bogotá stored as UTC); Referencia a text cell with its leading zeros, often
empty (a 10-digit mobile number starting with 3 for TRANSFERENCIAS A NEQUI, a 10-digit
zero-padded code for PAGO QR, 9 digits for PSE, ATM <place> for withdrawals); Valor a signed
number; no balance, account or period; newest first. ABONO INTERESES AHORROS rows are dated one
day later than the interest they pay, never after the range's last day (which then holds two),
and the interest of the day before the range is left out. The CSV is what Excel writes when the
export is saved as CSV: d/mm/yyyy dates, amounts as Excel's General format shows them with a
decimal comma (``11,24``, ``-84250,5``), Windows-1252, ``;``, CRLF.

Excel keeps a workbook's texts in a shared-string table (``xl/sharedStrings.xml``) written after
the sheets; openpyxl writes them inline in the sheet. :func:`excel_shaped` rewrites openpyxl's
output that way, so the samples are read as Excel's files are.

Every name, number and amount is invented; the account is 012-345678-90.
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
ACCOUNT = "01234567890"
FIRST = (dt.date(2026, 11, 1), dt.date(2026, 11, 15))
LATER = (dt.date(2026, 11, 10), dt.date(2026, 11, 25))
INTEREST = "ABONO INTERESES AHORROS"


@dataclass(frozen=True)
class Movement:
    day: dt.date            # the day it happened (for interest: the day the interest is for)
    description: str
    reference: str          # "" when the export leaves Referencia empty
    amount: Decimal


def ledger() -> list[Movement]:
    """The account's movements from 31/10 to 25/11, in the order the export lists each day's
    rows (reversed: the export is newest first)."""
    rng = random.Random(2026)
    pse = [("PAGO PSE EMPRESA DE ENERGIA", "-185430"), ("PAGO PSE Acueducto Ejemplo S", "-64210"),
           ("PAGO PSE BANCO EJEMPLO TC", "-1250000"), ("PAGO PSE TELEFONIA MOVIL EJE", "-89900")]
    incoming = [("TRANSF DE Ana Prueba", "150000"), ("TRANSF DE INDUSTRIAS EL ROBLE", "2380000"),
                ("TRANSF DE Comercial Nandu SAS", "1190000.50"), ("PAGO INTERBANC EMPRESA EJEMPLO", "3200000"),
                ("PAGO INTERBANC DISTRIB ANDINA", "845000"), ("CONSIGNACION CORRESPONSAL CB", "500000")]
    phones = ["3001234567", "3109876543", "3205550101"]
    qr = [("PAGO QR CAFE DEL PARQUE", "-12000"), ("PAGO QR TIENDA LA ESQUINA", "-8500"),
          ("PAGO QR PANADERIA EL TRIGO", "-6400")]
    out: list[Movement] = []
    day = dt.date(2026, 10, 31)
    while day <= LATER[1]:
        today: list[Movement] = []
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(("pse", "in", "in", "nequi", "qr", "compra", "cajero", "suc"))
            if kind == "pse":
                text, value = rng.choice(pse)
                today.append(Movement(day, text, f"{rng.randrange(10**8, 10**9)}", Decimal(value)))
            elif kind == "in":
                text, value = rng.choice(incoming)
                today.append(Movement(day, text, "", Decimal(value)))
            elif kind == "nequi":
                today.append(Movement(day, "TRANSFERENCIAS A NEQUI", rng.choice(phones),
                                      -Decimal(rng.choice((20000, 25000, 50000, 100000)))))
            elif kind == "qr":
                text, value = rng.choice(qr)
                code = f"{rng.randrange(10**7):010d}" if rng.random() < 0.7 else ""  # sometimes empty
                today.append(Movement(day, text, code, Decimal(value)))
            elif kind == "compra":
                cents = rng.randrange(500000, 12000000)
                today.append(Movement(day, "COMPRA EN  MERCADO XYZ", "", -Decimal(cents) / 100))
            elif kind == "cajero":
                today.append(Movement(day, "RETIRO CAJERO  ATM PLAZA CENTR", "ATM PLAZA CENTRAL 1", Decimal("-200000")))
            else:
                today.append(Movement(day, "TRANSFERENCIA CTA SUC VIRTUAL", "09876543210", Decimal("-350000")))
        if day.day % 5 == 0:
            today.append(Movement(day, "IMPTO GOBIERNO 4X1000", "", Decimal("-1480.72")))
        # Identical movements on one day: two real payments, two lines.
        if day == dt.date(2026, 11, 4):
            today += [Movement(day, "TRANSFERENCIAS A NEQUI", "3001234567", Decimal("-50000"))] * 2
        if day == dt.date(2026, 11, 7):
            today += [Movement(day, "PAGO QR CAFE DEL PARQUE", "", Decimal("-12000"))] * 2
        if day == dt.date(2026, 11, 12):
            today += [Movement(day, "COMPRA EN  MERCADO XYZ", "", Decimal("-8500"))] * 3
        if day == dt.date(2026, 11, 13):
            today += [Movement(day, "TRANSF DE Ana Prueba", "", Decimal("150000"))] * 2
        # Savings interest, a few pesos with cents, somewhere among the day's rows.
        interest = Movement(day, INTEREST, "", Decimal(rng.randrange(50, 560)) / 100)
        today.insert(rng.randrange(len(today) + 1), interest)
        out += today
        day += dt.timedelta(days=1)
    return out


def export(movements: list[Movement], first: dt.date, last: dt.date) -> list[tuple[dt.date, Movement]]:
    """The rows of an export of ``first``..``last``, newest first, with the date each row shows."""
    rows = []
    for m in movements:
        if m.description == INTEREST:
            if not first <= m.day <= last:  # the interest of the day before the range is left out
                continue
            shown = min(m.day + dt.timedelta(days=1), last)  # one day later, never past the range
        elif first <= m.day <= last:
            shown = m.day
        else:
            continue
        rows.append((shown, m))
    # Newest first; within a day, the ledger's order reversed (stable sort keeps it).
    rows.reverse()
    rows.sort(key=lambda r: r[0], reverse=True)
    return rows


def excel_shaped(data: bytes) -> bytes:
    """openpyxl's workbook as Excel writes it (excel_shape.excel_shaped), saved at a fixed time."""
    return _excel_shaped(data, saved=dt.datetime(2026, 11, 26, 8, 0, 0), strings_rel="rId9")

def write_xlsx(path: Path, rows: list[tuple[dt.date, Movement]]) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Hoja1"
    sheet.append(["Fecha", "Descripción", "Referencia", "Valor"])
    for shown, m in rows:
        # 05:00 is local midnight in America/Bogota (UTC-5) stored as UTC.
        sheet.append([dt.datetime(shown.year, shown.month, shown.day, 5, 0), m.description, m.reference or None,
                      float(m.amount)])
    book.properties.created = dt.datetime(2026, 11, 26, 8, 0)
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(excel_shaped(buffer.getvalue()))


def excel_general(amount: Decimal) -> str:
    """A number as Excel's General format shows it in a Spanish locale: no thousands, decimal comma."""
    text = format(amount.normalize(), "f")
    return text.replace(".", ",")


def write_csv(path: Path, rows: list[tuple[dt.date, Movement]]) -> None:
    lines = ["Fecha;Descripción;Referencia;Valor"]
    lines += [f"{shown.day}/{shown.month:02d}/{shown.year};{m.description};{m.reference};{excel_general(m.amount)}"
              for shown, m in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252"))


def main() -> None:
    movements = ledger()
    first, later = export(movements, *FIRST), export(movements, *LATER)
    write_xlsx(HERE / f"bancolombia_movimientos_{ACCOUNT}_nov01-15.xlsx", first)
    write_xlsx(HERE / f"bancolombia_movimientos_{ACCOUNT}_nov10-25.xlsx", later)
    write_csv(HERE / f"bancolombia_movimientos_{ACCOUNT}_nov01-15.csv", first)
    print(f"{len(first)} and {len(later)} rows")


if __name__ == "__main__":
    main()
