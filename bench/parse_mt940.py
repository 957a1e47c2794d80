"""Benchmark of the MT940 reader (conciliador.plugins.banks.mt940).

    python bench/parse_mt940.py [--n 100000]

Writes a realistic MT940 file with n transactions (German ?-sub-field :86: in CP1252 with
Umlauts, Dutch /EREF/ /REMI/ :86:, free text; 250 transactions per statement, balances that add
up), parses it through the "mt940" format in a child process, and prints statement lines (``:61:``
transactions) and file lines per CPU second of the child (one core; wall time is printed too, it
varies with machine load) and the child's peak RSS, for n/10 and n transactions, so a peak that
grows with the file shows. Where the ``mt-940`` library (wolph, PyPI) is installed in the venv
(``pip install mt-940``; it is not a project dependency) it parses the same file in another child
and the ratio of the times is printed.

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
from decimal import Decimal
from pathlib import Path

PER_STATEMENT = 250
NAMES = ("Müller GmbH", "Jürgen Weiß", "Café Öztürk", "Grupo Éxito S.A.", "Bäckerei Schäfer KG", "Ana Peña")


def _money(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def generate(path: str | Path, n: int) -> None:
    """Write an MT940 file of ``n`` transactions in statements of 250, encoded CP1252."""
    day = dt.date(2026, 1, 2)
    balance = Decimal("1000000.00")
    written = 0
    statement = 0
    with open(path, "w", encoding="cp1252", newline="\r\n") as out:
        while written < n:
            statement += 1
            count = min(PER_STATEMENT, n - written)
            out.write(f"{{1:F01COLOCOBBAXXX0000000000}}{{2:O940COLOCOBBXXXXN}}{{3:}}{{4:\n"
                      f":20:STMT{statement:08d}\n:25:DE89370400440532013000\n:28C:{statement}/1\n"
                      f":60F:{'C' if balance >= 0 else 'D'}{day:%y%m%d}EUR{_money(balance)}\n")
            for i in range(count):
                k = written + i
                amount = Decimal(1000 + (k * 7919) % 250000) / 100
                credit = k % 3 != 0
                balance += amount if credit else -amount
                name = NAMES[k % len(NAMES)]
                out.write(f":61:{day:%y%m%d}{day:%m%d}{'C' if credit else 'D'}{_money(amount)}NTRFNONREF"
                          f"//B{k:015d}\n")
                if k % 2 == 0:
                    out.write(f":86:166?00SEPA-GUTSCHRIFT?109310?20EREF+E2E{k:010d}?21SVWZ+Rechnung FE-{k:06d}"
                              f"?22 vom {day:%d.%m.%Y}?30COLADEFFXXX?31DE02120300000000202051\n"
                              f"?32{name[:27]}?34000\n")
                else:
                    out.write(f":86:/EREF/E2E{k:010d}/ORDP//NAME/{name}/REMI/USTD//FACTURA FE-{k:06d}\n"
                              f"/ OC 4500{k % 10000:04d}/CNTP/NL91ABNA0417164300/ABNANL2A/{name}/BOGOTA/\n")
            written += count
            out.write(f":62F:{'C' if balance >= 0 else 'D'}{day:%y%m%d}EUR{_money(balance)}\n-}}{{5:}}\n")
            day += dt.timedelta(days=1)


def _child(path: str, which: str) -> None:
    """Parse ``path`` and print one JSON line: transactions, seconds, peak RSS in MiB."""
    import _measure  # noqa: PLC0415 - bench/_measure.py; bench/ is sys.path[0] when this runs as a script

    # Imports first, so only parsing is timed.
    if which == "wolph":
        import mt940  # noqa: PLC0415 - optional, installed by hand for the comparison

        started, cpu_started = time.perf_counter(), time.process_time()
        count = len(mt940.parse(path))
        _measure.report(count, started, cpu_started)
    else:
        _measure.parse_with_conciliador("conciliador.plugins.banks.mt940", "Mt940", path,
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
        results = {}
        for n in (max(args.n // 10, 1), args.n):
            path = Path(tmp) / f"bench-{n}.sta"
            generate(path, n)
            with open(path, "rb") as fh:
                lines = sum(1 for _ in fh)
            size = os.path.getsize(path) / 2**20
            print(f"file of {n} transactions: {lines} lines, {size:.1f} MiB")
            ours = _run(path, "mt940")
            flat = _run(path, "no-ordinals")
            if ours is None or flat is None:
                sys.exit(1)
            results[n] = ours
            print(f"  conciliador mt940: {ours['transactions']} transactions in {ours['cpu']:.2f} s CPU "
                  f"({ours['seconds']:.2f} s wall) = {ours['transactions'] / ours['cpu']:,.0f} statement lines/s on "
                  f"one core ({lines / ours['cpu']:,.0f} file lines/s); peak RSS {ours['rss_mib']:.1f} MiB "
                  f"({flat['rss_mib']:.1f} MiB with Ordinals stubbed)")
            try:
                import mt940  # noqa: F401, PLC0415
            except ImportError:
                print("  mt-940 (wolph) not installed: pip install mt-940 for the comparison")
                continue
            theirs = _run(path, "wolph")
            if theirs is None:
                print("  mt-940 (wolph) refused the generated file")
                continue
            note = "" if theirs["transactions"] == ours["transactions"] else \
                f" (it read {theirs['transactions']} transactions, not {ours['transactions']})"
            print(f"  mt-940 (wolph) {mt940.__version__ if hasattr(mt940, '__version__') else ''}: "
                  f"{theirs['cpu']:.2f} s CPU, peak RSS {theirs['rss_mib']:.1f} MiB{note}; "
                  f"conciliador is {theirs['cpu'] / ours['cpu']:.1f}x as fast")


if __name__ == "__main__":
    main()
