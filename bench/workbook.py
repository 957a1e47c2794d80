"""Exception workbook benchmark: `python bench/workbook.py [--lines N]`.

Builds a workspace with a flat-file ERP and a statement of N payments the engine cannot apply
(no reference, amounts no invoice has), runs the agent once, then times:

- writing the day's workbook (N pending rows) and its CSV twin;
- a pass with nothing changed (the fingerprint comparison, no write);
- finance's round trip: every row set to "aplicar a facturas" with one invoice each, dropped into
  resolutions/, validated, applied (N decisions, N outbox postings, N postings in the ERP) and the
  result workbook written.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

import openpyxl

from conciliador.daemon import load_agent
from conciliador.workbook import write_exception_files

ACCOUNT = "0123-456789-01"


def workspace(root: Path, lines: int) -> Path:
    erp = root / "erp"
    erp.mkdir(parents=True)
    with open(erp / "customers.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["customer_id", "name", "tax_id"])
        w.writerows([f"C{c:04d}", f"Cliente numero {c} S.A.S.", ""] for c in range(1, 201))
    with open(erp / "open_items.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["document", "customer_id", "reference", "currency", "original_amount", "open_amount"])
        w.writerows([f"9{n:08d}", f"C{n % 200 + 1:04d}", f"FV-{n}", "COP", 500_000 + n, 500_000 + n]
                    for n in range(1, lines + 1))
    with open(root / "extracto.csv", "w", encoding="utf-8") as fh:
        fh.write("account,booking_date,amount,currency,bank_reference,payer_name,payer_account,remittance\n")
        for n in range(1, lines + 1):
            fh.write(f"{ACCOUNT},2026-11-20,{300_000 + n}.00,COP,B{n:07d},PAGADOR {n},0550{n:08d},TRANSFERENCIA\n")
    (root / "config.toml").write_text(f"""
[logging]
level = "error"
format = "json"
[companies.acme]
erp = "flatfile"
accounts = ["{ACCOUNT}"]
[companies.acme.erp_settings]
folder = "erp"
""", encoding="utf-8")
    for sub in ("inbox", "archive", "quarantine", "exceptions", "resolutions", "state"):
        (root / sub).mkdir(exist_ok=True)
    shutil.move(root / "extracto.csv", root / "inbox" / "extracto.csv")
    return root / "config.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = workspace(Path(tmp), args.lines)
        agent = load_agent(config)
        try:
            agent.run_once()
            [path] = (Path(tmp) / "exceptions").glob("excepciones-*.xlsx")
            path.unlink()
            start = time.perf_counter()
            write_exception_files(agent.rt)
            written = time.perf_counter() - start
            start = time.perf_counter()
            again = write_exception_files(agent.rt)
            unchanged = time.perf_counter() - start
            assert again == [], again

            wb = openpyxl.load_workbook(path)
            ws = wb["Pendientes"]
            head = {c.value: c.column for c in ws[1]}
            for r in range(2, ws.max_row + 1):
                n = int(ws.cell(r, head["Pagador"]).value.split()[-1])
                ws.cell(r, head["Acción"]).value = "aplicar a facturas"
                ws.cell(r, head["Facturas"]).value = f"FV-{n}"
            wb.save(Path(tmp) / "resolutions" / "resuelto.xlsx")
            start = time.perf_counter()
            [outcome] = agent.run_once().resolutions
            round_trip = time.perf_counter() - start
        finally:
            agent.close()
        size = path.stat().st_size
    print(f"pending rows:                 {args.lines}")
    print(f"workbook + CSV twin written:  {written:.2f} s ({size / 1024:.0f} KiB)")
    print(f"pass with nothing changed:    {unchanged:.3f} s")
    print(f"round trip (validate, apply {outcome.applied}, post, result file, workbooks): {round_trip:.2f} s")


if __name__ == "__main__":
    main()
