"""Benchmark of the OFX reader (conciliador.plugins.banks.ofx).

    python bench/parse_ofx.py [--n 100000]

Writes realistic OFX files with n transactions in two dialects, OFX 1.02 SGML (CP1252, leaf
elements without end tags, read by conciliador's tokenizer) and OFX 2.1.1 XML (UTF-8, read
through lxml's pull parser): a sign-on, then bank statements of at most 10,000 transactions
(several STMTTRNRS in one BANKMSGSRSV1) with DTPOSTED/DTUSER with time zones, signed TRNAMT,
FITID, NAME, MEMO, some CHECKNUM, REFNUM and PAYEE, and a LEDGERBAL. Each file is parsed through
the "ofx" format in a child process; the script prints file lines per second, transactions per
second and the child's peak RSS, for n/10 and n transactions, so a peak that grows with the file
shows. Where ``ofxtools`` (PyPI, GPL; ``pip install ofxtools``, not a project dependency) is
installed in the venv it parses and converts the same file in another child and the ratio of the
times is printed, or that it refused the file.

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

PER_STATEMENT = 10_000
NAMES = ("ALMACENES ÉXITO S.A.", "CAFÉ OZTÜRK", "NORTHWIND TRADERS", "JUAN PEÑA", "ACME & SONS")
TYPES = (("CREDIT", 1), ("DEP", 1), ("DIRECTDEP", 1), ("DEBIT", -1), ("CHECK", -1), ("POS", -1), ("FEE", -1))


def _esc(text: str, xml: bool) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;") if xml else text.replace("&", "&amp;")


def generate(path: str | Path, n: int, dialect: str = "sgml") -> None:
    """Write an OFX file of ``n`` transactions: ``dialect`` "sgml" (1.02, CP1252) or "xml" (2.1.1)."""
    xml = dialect == "xml"
    close = (lambda tag: f"</{tag}>") if xml else (lambda tag: "")
    nl = "\n"
    with open(path, "w", encoding="utf-8" if xml else "cp1252", newline="\r\n" if not xml else "\n") as out:
        if xml:
            out.write('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
                      '<?OFX OFXHEADER="200" VERSION="211" SECURITY="NONE" OLDFILEUID="NONE" NEWFILEUID="NONE"?>\n')
        else:
            out.write("OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
                      "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n")
        out.write(f"<OFX>\n<SIGNONMSGSRSV1>\n<SONRS>\n<STATUS>\n<CODE>0{close('CODE')}\n<SEVERITY>INFO"
                  f"{close('SEVERITY')}\n</STATUS>\n<DTSERVER>20260131120000.000[-5:EST]{close('DTSERVER')}\n"
                  f"<LANGUAGE>SPA{close('LANGUAGE')}\n<FI>\n<ORG>BANCO DEMO{close('ORG')}\n<FID>1001{close('FID')}"
                  f"\n</FI>\n</SONRS>\n</SIGNONMSGSRSV1>\n<BANKMSGSRSV1>\n")
        written = 0
        statement = 0
        start = dt.date(2026, 1, 1)
        while written < n:
            statement += 1
            count = min(PER_STATEMENT, n - written)
            balance = Decimal("250000.00")
            out.write(f"<STMTTRNRS>\n<TRNUID>{statement}{close('TRNUID')}\n<STATUS>\n<CODE>0{close('CODE')}\n"
                      f"<SEVERITY>INFO{close('SEVERITY')}\n</STATUS>\n<STMTRS>\n<CURDEF>USD{close('CURDEF')}\n"
                      f"<BANKACCTFROM>\n<BANKID>021000021{close('BANKID')}\n<ACCTID>{9000000 + statement}"
                      f"{close('ACCTID')}\n<ACCTTYPE>CHECKING{close('ACCTTYPE')}\n</BANKACCTFROM>\n<BANKTRANLIST>\n"
                      f"<DTSTART>{start:%Y%m%d}{close('DTSTART')}\n<DTEND>20260131{close('DTEND')}\n")
            for i in range(count):
                k = written + i
                trntype, sign = TYPES[k % len(TYPES)]
                amount = Decimal(100 + (k * 7919) % 2500000) / 100 * sign
                balance += amount
                day = start + dt.timedelta(days=k % 30)
                name = _esc(NAMES[k % len(NAMES)], xml)
                parts = [f"<STMTTRN>", f"<TRNTYPE>{trntype}{close('TRNTYPE')}",
                         f"<DTPOSTED>{day:%Y%m%d}120000.000[-5:EST]{close('DTPOSTED')}",
                         f"<DTUSER>{day:%Y%m%d}{close('DTUSER')}",
                         f"<TRNAMT>{amount:.2f}{close('TRNAMT')}", f"<FITID>{day:%Y%m%d}{k:010d}{close('FITID')}"]
                if trntype == "CHECK":
                    parts.append(f"<CHECKNUM>{1000 + k % 9000}{close('CHECKNUM')}")
                if k % 5 == 0:
                    parts.append(f"<REFNUM>E2E{k:012d}{close('REFNUM')}")
                if k % 11 == 0:
                    parts += ["<PAYEE>", f"<NAME>{name}{close('NAME')}", f"<ADDR1>CALLE 100 # 8A-55{close('ADDR1')}",
                              f"<CITY>BOGOTA{close('CITY')}", f"<STATE>DC{close('STATE')}",
                              f"<POSTALCODE>110111{close('POSTALCODE')}", f"<PHONE>+57 601 555 0100{close('PHONE')}",
                              "</PAYEE>"]
                else:
                    parts.append(f"<NAME>{name}{close('NAME')}")
                parts += [f"<MEMO>PAGO FACTURA FE-{k:06d} OC 4500{k % 10000:04d}{close('MEMO')}", "</STMTTRN>"]
                out.write(nl.join(parts) + nl)
            out.write(f"</BANKTRANLIST>\n<LEDGERBAL>\n<BALAMT>{balance:.2f}{close('BALAMT')}\n"
                      f"<DTASOF>20260131120000{close('DTASOF')}\n</LEDGERBAL>\n</STMTRS>\n</STMTTRNRS>\n")
            written += count
        out.write("</BANKMSGSRSV1>\n</OFX>\n")


def _child(path: str, which: str) -> None:
    """Parse ``path`` and print one JSON line: transactions, seconds, peak RSS in MiB."""
    import _measure  # noqa: PLC0415 - bench/_measure.py; bench/ is sys.path[0] when this runs as a script

    if which == "ofxtools":
        from ofxtools.Parser import OFXTree  # noqa: PLC0415 - optional, installed by hand for the comparison

        started = time.perf_counter()
        tree = OFXTree()
        tree.parse(path)
        ofx = tree.convert()
        count = sum(len(s.banktranlist) for s in ofx.statements)
        _measure.report(count, started)
    else:
        _measure.parse_with_conciliador("conciliador.plugins.banks.ofx", "Ofx", path,
                                        stub_ordinals=which == "no-ordinals")


def _run(path: Path, which: str) -> dict | None:
    import _measure  # bench/_measure.py (bench/ is sys.path[0] when this runs as a script)

    return _measure.run(__file__, path, which)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="transactions in the larger file")
    parser.add_argument("--dialect", choices=("sgml", "xml", "both"), default="both")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    dialects = ("sgml", "xml") if args.dialect == "both" else (args.dialect,)
    with tempfile.TemporaryDirectory() as tmp:
        for dialect in dialects:
            for n in (max(args.n // 10, 1), args.n):
                path = Path(tmp) / f"bench-{n}-{dialect}.ofx"
                generate(path, n, dialect)
                with open(path, "rb") as fh:
                    lines = sum(1 for _ in fh)
                size = os.path.getsize(path) / 2**20
                print(f"OFX {'1.02 SGML' if dialect == 'sgml' else '2.1.1 XML'} file of {n} transactions: "
                      f"{lines} lines, {size:.1f} MiB")
                ours = _run(path, "ofx")
                flat = _run(path, "no-ordinals")
                if ours is None or flat is None:
                    sys.exit(1)
                print(f"  conciliador ofx: {ours['transactions']} transactions in {ours['seconds']:.2f} s = "
                      f"{lines / ours['seconds']:,.0f} lines/s, {ours['transactions'] / ours['seconds']:,.0f} "
                      f"transactions/s; peak RSS {ours['rss_mib']:.1f} MiB "
                      f"({flat['rss_mib']:.1f} MiB with Ordinals stubbed)")
                try:
                    import ofxtools  # noqa: F401, PLC0415
                except ImportError:
                    print("  ofxtools not installed: pip install ofxtools for the comparison")
                    continue
                theirs = _run(path, "ofxtools")
                if theirs is None:
                    print("  ofxtools refused the generated file")
                    continue
                note = "" if theirs["transactions"] == ours["transactions"] else \
                    f" (it read {theirs['transactions']} transactions, not {ours['transactions']})"
                print(f"  ofxtools: {theirs['seconds']:.2f} s, peak RSS {theirs['rss_mib']:.1f} MiB{note}; "
                      f"conciliador is {theirs['seconds'] / ours['seconds']:.2f}x as fast")


if __name__ == "__main__":
    main()
