"""Writes the Bancolombia Sucursal Virtual Empresas CSV sample of this folder (run once; the file is
committed).

No public sample or description of that export exists (reference bank-formats.md section 6): it is
invented in the shape the shipped guess (bancolombia.toml) expects, with invented customers and
amounts. The other samples here follow public descriptions of real exports and have their own
generators: make_bancolombia_movimientos.py and make_colombian_exports.py.
"""

from __future__ import annotations

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


if __name__ == "__main__":
    main()
