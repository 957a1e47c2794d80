"""Benchmark of the BAI2 reader (conciliador.plugins.banks.bai2).

    python bench/parse_bai2.py [--n 100000]

Writes a realistic BAI2 file with n transactions (groups of 4 accounts, 250 details per account;
03 summaries with 010/015 ledger balances, 040/045, 100/400 totals; details with funds types Z,
0, V and S, bank and customer references, text with commas continued in 88 records; every 49/98/99
control total and record count right), parses it through the "bai2" format in a child process, and
prints file lines per second, transactions per second and the child's peak RSS, for n/10 and n
transactions, so a peak that grows with the file shows. Where the ``bai2`` library (PyPI) is
installed in the venv (``pip install bai2``; it is not a project dependency) it parses the same
file in another child (with its integrity checks on) and the ratio of the times is printed.

Peak RSS is printed twice: as the format runs (with the core's ``Ordinals``, which remembers the
keys of the current booking day, at most ``conciliador.formats.MEMORY_KEYS`` of them in memory)
and with ``Ordinals`` replaced by a stub, which shows the reader's own memory.
"""

from __future__ import annotations

import argparse

import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

PER_ACCOUNT = 250
ACCOUNTS_PER_GROUP = 4
NAMES = ("ACME SUPPLY CO", "GRUPO EXITO S.A.", "NORTHWIND TRADERS, INC.", "CAFE OZTURK LLC", "JUAN PENA")
# (type code, credit?) pairs: ACH credit received, incoming wire, lockbox, ACH debit, check paid, fees
CODES = (("142", True), ("195", True), ("115", True), ("451", False), ("475", False), ("698", False))


def generate(path: str | Path, n: int) -> None:
    """Write a BAI2 file of ``n`` transactions with correct trailers (records end with "/")."""
    day = dt.date(2026, 1, 2)
    with open(path, "w", encoding="ascii", newline="\n") as out:
        out.write(f"01,021000021,CONCILIADOR,{day:%y%m%d},0600,1,80,,2/\n")
        file_total = file_records = 0
        groups = 0
        written = 0
        account_no = 0
        while written < n:
            groups += 1
            out.write(f"02,CONCILIADOR,021000021,1,{day:%y%m%d},2400,USD,2/\n")
            group_total, group_records, accounts = 0, 1, 0
            while written < n and accounts < ACCOUNTS_PER_GROUP:
                accounts += 1
                account_no += 1
                count = min(PER_ACCOUNT, n - written)
                details = []
                credits = debits = ncredits = ndebits = 0
                for i in range(count):
                    k = written + i
                    code, credit = CODES[k % len(CODES)]
                    amount = 1000 + (k * 7919) % 2500000
                    if credit:
                        credits += amount
                        ncredits += 1
                    else:
                        debits += amount
                        ndebits += 1
                    name = NAMES[k % len(NAMES)]
                    half = amount // 2
                    funds = ("Z", "0", f"V,{day:%y%m%d},", f"S,{half},{amount - half},0")[k % 4]
                    recs = [f"16,{code},{amount},{funds},B{k:011d},INV{k:07d},{name}, PAYMENT FE-{k:06d}/"]
                    if k % 3 == 0:
                        recs.append(f"88,ORIGINATOR ID 9{k % 1000000000:09d}, PO 4500{k % 10000:04d}/")
                    details.append(recs)
                opening = 1_000_000_00 + account_no * 1000
                closing = opening + credits - debits
                head = (f"03,{100200300 + account_no},USD,010,{opening},,,015,{closing},,,040,{opening},,/",
                        f"88,045,{closing},,,100,{credits},{ncredits},Z,400,{debits},{ndebits},Z/")
                out.write(head[0] + "\n" + head[1] + "\n")
                total = opening + closing + opening + closing + credits + debits
                records = 2
                for recs in details:
                    total += int(recs[0].split(",")[2])
                    records += len(recs)
                    out.write("\n".join(recs) + "\n")
                records += 1
                out.write(f"49,{total},{records}/\n")
                group_total += total
                group_records += records
                written += count
            group_records += 1
            out.write(f"98,{group_total},{accounts},{group_records}/\n")
            file_total += group_total
            file_records += group_records
            day += dt.timedelta(days=1)
        out.write(f"99,{file_total},{groups},{file_records + 2}/\n")


def _child(path: str, which: str) -> None:
    """Parse ``path`` and print one JSON line: transactions, seconds, peak RSS in MiB."""
    import _measure  # noqa: PLC0415 - bench/_measure.py; bench/ is sys.path[0] when this runs as a script

    if which == "pypi-bai2":
        from bai2 import bai2 as lib  # noqa: PLC0415 - optional, installed by hand for the comparison

        started = time.perf_counter()
        with open(path) as fh:
            parsed = lib.parse_from_file(fh)
        count = sum(len(a.children) for g in parsed.children for a in g.children)
        _measure.report(count, started)
    else:
        _measure.parse_with_conciliador("conciliador.plugins.banks.bai2", "Bai2", path,
                                        stub_ordinals=which == "no-ordinals")


def _run(path: Path, which: str) -> dict | None:
    import _measure  # bench/_measure.py (bench/ is sys.path[0] when this runs as a script)

    return _measure.run(__file__, path, which)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="transactions in the larger file")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in (max(args.n // 10, 1), args.n):
            path = Path(tmp) / f"bench-{n}.bai"
            generate(path, n)
            with open(path, "rb") as fh:
                lines = sum(1 for _ in fh)
            size = os.path.getsize(path) / 2**20
            print(f"file of {n} transactions: {lines} lines, {size:.1f} MiB")
            ours = _run(path, "bai2")
            flat = _run(path, "no-ordinals")
            if ours is None or flat is None:
                sys.exit(1)
            print(f"  conciliador bai2: {ours['transactions']} transactions in {ours['seconds']:.2f} s = "
                  f"{lines / ours['seconds']:,.0f} lines/s, {ours['transactions'] / ours['seconds']:,.0f} "
                  f"transactions/s; peak RSS {ours['rss_mib']:.1f} MiB "
                  f"({flat['rss_mib']:.1f} MiB with Ordinals stubbed)")
            try:
                import bai2  # noqa: F401, PLC0415
            except ImportError:
                print("  bai2 (PyPI) not installed: pip install bai2 for the comparison")
                continue
            theirs = _run(path, "pypi-bai2")
            if theirs is None:
                print("  bai2 (PyPI) refused the generated file")
                continue
            note = "" if theirs["transactions"] == ours["transactions"] else \
                f" (it read {theirs['transactions']} transactions, not {ours['transactions']})"
            print(f"  bai2 (PyPI): {theirs['seconds']:.2f} s, peak RSS {theirs['rss_mib']:.1f} MiB{note}; "
                  f"conciliador is {theirs['seconds'] / ours['seconds']:.2f}x as fast")


if __name__ == "__main__":
    main()
