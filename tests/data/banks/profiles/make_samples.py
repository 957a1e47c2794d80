"""Writes the sample bank exports of this folder (run once; the files are committed).

No public sample of these portal exports exists (reference bank-formats.md section 6): these are
invented in the shape the shipped profiles expect, with invented customers and amounts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

HERE = Path(__file__).parent


def write_csv(name: str, lines: list[str], *, encoding: str = "cp1252", newline: str = "\r\n") -> None:
    (HERE / name).write_bytes((newline.join(lines) + newline).encode(encoding))


def main() -> None:
    # Bancolombia: CP1252, ';', title rows, 1.234.567,89, oldest first, opening/total rows.
    write_csv("bancolombia_movimientos_2026-11.csv", [
        "BANCOLOMBIA S.A.;;;;;",
        "Consulta de movimientos;;;;;",
        "Cuenta de ahorros No. 123-456789-01;;;;;",
        "Desde: 01/11/2026 Hasta: 30/11/2026;;;;;",
        ";;;;;",
        "Fecha;Descripción;Referencia;Débito;Crédito;Saldo",
        "01/11/2026;Saldo anterior;;;;10.000.000,00",
        "03/11/2026;PAGO PSE ACME SAS FACTURA FE-1001;FE-1001;;1.190.000,00;11.190.000,00",
        "05/11/2026;COMISIÓN MANEJO CUENTA;;15.000,00;;11.175.000,00",
        "05/11/2026;TRANSFERENCIA DE PEÑA Y CÍA;FV 2026-0042;;2.500.000,50;13.675.000,50",
        "12/11/2026;GMF 4X1000;;4.760,00;;13.670.240,50",
        "28/11/2026;CONSIGNACIÓN EFECTIVO OFICINA 123;REF 88812;;350.000,00;14.020.240,50",
        "Total;;;19.760,00;4.040.000,50;",
    ])
    # Davivienda: CP1252, ';', 1,234,567.89, newest first (as portals often list), no final blank row.
    write_csv("davivienda_movimientos.csv", [
        "DAVIVIENDA",
        "Movimientos de la cuenta corriente 0045-6998-1234",
        "Fecha de generación: 21/11/2026 08:15",
        "",
        "Fecha;Descripción;Referencia;Débito;Crédito;Saldo",
        "20/11/2026;ABONO ACH COMERCIALIZADORA ÑANDÚ;FE-2002;;3,570,000.00;8,570,000.00",
        "19/11/2026;PAGO PROVEEDOR;OP-77;1,000,000.00;;5,000,000.00",
        "18/11/2026;ABONO TRANSFERENCIA;FE-2001;;1,000,000.00;6,000,000.00",
        "Saldo final;;;;;8,570,000.00",
    ])
    # BBVA: CP1252, Excel's "sep=;" line, the header repeated on a second page, accounting negatives.
    write_csv("bbva_movimientos_noviembre.csv", [
        "sep=;",
        "BBVA Colombia - Consulta de movimientos",
        "Número de cuenta: 0013-0456-0100123456",
        "Fecha;Descripción;Referencia;Débito;Crédito;Saldo",
        "02/11/2026;RECAUDO CONVENIO 4455;FE-3001;;500.000,00;1.500.000,00",
        "02/11/2026;RECAUDO CONVENIO 4455;FE-3001;;500.000,00;2.000.000,00",
        "Fecha;Descripción;Referencia;Débito;Crédito;Saldo",
        "03/11/2026;CHEQUE DEVUELTO;CH 000123;(500.000,00);;1.500.000,00",
    ])

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Movimientos"
    sheet.append(["Banco de Bogotá"])
    sheet.append(["Extracto de movimientos"])
    sheet.append(["Cuenta corriente:", "062-91261-3"])
    sheet.append([])
    sheet.append(["Fecha", "Descripción", "Referencia", "Débito", "Crédito", "Saldo"])
    sheet.append([dt.datetime(2026, 11, 2), "ABONO ACH INDUSTRIAS EL ROBLE", "FE-4001", None, 2380000.0, 7380000.0])
    sheet.append([dt.datetime(2026, 11, 3), "PAGO NÓMINA", "NOM-11", 1500000.25, None, 5879999.75])
    sheet.append(["04/11/2026", "CONSIGNACIÓN CHEQUE", "FE-4002", None, "1.234.567,89", 7114567.64])
    sheet.append(["Total", None, None, 1500000.25, 3614567.89, None])
    book.save(HERE / "bogota_movimientos_2026-11.xlsx")


if __name__ == "__main__":
    main()
