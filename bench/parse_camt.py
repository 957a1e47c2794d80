"""Benchmark the camt.053 parser: ``python bench/parse_camt.py [--n 100000] [--small 20000]``.

``generate(path, n)`` writes a realistic camt.053.001.08 file with ``n`` transactions: customer
payments (single TxDtls with debtor, IBAN or local account, NIT, structured and free remittance),
outgoing payments, a batch entry of 4 transactions every 25 entries, a reversal now and then,
DtTm booking dates with offsets, and opening/closing balances that reconcile.

Each size is parsed in a child process, so its peak RSS (``VmHWM``) is its own: the figures
for the small and the large file show whether memory grows with the file. Speed is lines per
CPU second of that process (one core; wall time is printed too, it varies with machine load).
pycamt (camt.053 only, reads the whole tree, slows down quadratically: 180 s for 20k lines) is
timed on a smaller file when it is installed (``pip install pycamt`` into the venv; it is not a
project dependency).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import timeit
from decimal import Decimal
from pathlib import Path

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"
ACCOUNT = "0123456789012"
BATCH_EVERY = 25  # every 25th entry is a batch of 4 transactions


def _amounts(n: int, seed: int) -> list[list[tuple[Decimal, str]]]:
    """Entries as lists of (unsigned amount, CRDT|DBIT) per transaction, n transactions in all."""
    rnd = random.Random(seed)
    entries: list[list[tuple[Decimal, str]]] = []
    made = 0
    while made < n:
        size = 4 if len(entries) % BATCH_EVERY == BATCH_EVERY - 1 and n - made >= 4 else 1
        side = "CRDT" if rnd.random() < 0.7 else "DBIT"
        entries.append([(Decimal(rnd.randint(1000, 250_000_000)).scaleb(-2), side) for _ in range(size)])
        made += size
    return entries


def _tx(i: int, amount: Decimal, side: str, rnd: random.Random, version: str) -> str:
    e2e = f"E2E{i:09d}"
    name = f"CLIENTE {rnd.choice(['ANDINA', 'CAFETERA', 'DEL CARIBE', 'PACIFICO', 'SABANA'])} S.A.S. {i % 997}"
    nit = f"{rnd.randint(800000000, 999999999)}"
    acct = (f"<IBAN>CO{rnd.randint(10, 99)}BANK{rnd.randint(10**11, 10**12 - 1)}</IBAN>" if i % 3 else
            f"<Othr><Id>{rnd.randint(10**9, 10**10 - 1)}</Id></Othr>")
    party = (f"<Pty><Nm>{name}</Nm><Id><OrgId><Othr><Id>{nit}</Id></Othr></OrgId></Id></Pty>" if version >= "08"
             else f"<Nm>{name}</Nm><Id><OrgId><Othr><Id>{nit}</Id></Othr></OrgId></Id>")
    role, acct_role = ("Dbtr", "DbtrAcct") if side == "CRDT" else ("Cdtr", "CdtrAcct")
    return f"""
        <TxDtls>
          <Refs>
            <AcctSvcrRef>TX{i:010d}</AcctSvcrRef>
            <InstrId>INS{i:09d}</InstrId>
            <EndToEndId>{e2e}</EndToEndId>
          </Refs>
          <Amt Ccy="COP">{amount}</Amt>
          <CdtDbtInd>{side}</CdtDbtInd>
          <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{'RCDT' if side == 'CRDT' else 'ICDT'}</Cd><SubFmlyCd>DMCT</SubFmlyCd></Fmly></Domn></BkTxCd>
          <RltdPties>
            <{role}>{party}</{role}>
            <{acct_role}><Id>{acct}</Id></{acct_role}>
          </RltdPties>
          <RmtInf>
            <Ustrd>PAGO FACTURA FE-{1000 + i % 50000} CLIENTE {i % 997}</Ustrd>
            <Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>FE-{1000 + i % 50000}</Ref></CdtrRefInf></Strd>
          </RmtInf>
        </TxDtls>"""


MESSAGES = {"053": ("BkToCstmrStmt", "Stmt"), "052": ("BkToCstmrAcctRpt", "Rpt"),
            "054": ("BkToCstmrDbtCdtNtfctn", "Ntfctn")}


def generate(path: str | Path, n: int, *, version: str = "08", seed: int = 7, kind: str = "053") -> Path:
    """Write a camt.<kind>.001.<version> file with ``n`` transactions to ``path`` (camt.054 has
    no balances; the others open and close with booked balances that reconcile)."""
    path = Path(path)
    message, stmt = MESSAGES[kind]
    entries = _amounts(n, seed)
    opening = Decimal("152340000.55")
    net = sum((a if s == "CRDT" else -a) for entry in entries for a, s in entry)
    closing = opening + net
    rnd = random.Random(seed + 1)
    status = "<Sts><Cd>BOOK</Cd></Sts>" if version >= "08" else "<Sts>BOOK</Sts>"
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{NS.format(version=version).replace('053', kind)}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <{message}>
    <GrpHdr><MsgId>BENCH-{n}</MsgId><CreDtTm>2026-11-20T23:59:01.123456-05:00</CreDtTm></GrpHdr>
    <{stmt}>
      <Id>STMT-{n}-20261120</Id>
      <ElctrncSeqNb>324</ElctrncSeqNb>
      <CreDtTm>2026-11-20T23:59:01-05:00</CreDtTm>
      <FrToDt><FrDtTm>2026-11-20T00:00:00-05:00</FrDtTm><ToDtTm>2026-11-20T23:59:59-05:00</ToDtTm></FrToDt>
      <Acct><Id><Othr><Id>{ACCOUNT}</Id></Othr></Id><Ccy>COP</Ccy><Ownr><Nm>EMPRESA DEMO S.A.S.</Nm></Ownr></Acct>
""")
        if kind != "054":
            out.write(f"""      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="COP">{abs(opening)}</Amt><CdtDbtInd>{'CRDT' if opening >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>2026-11-19</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="COP">{abs(closing)}</Amt><CdtDbtInd>{'CRDT' if closing >= 0 else 'DBIT'}</CdtDbtInd><Dt><Dt>2026-11-20</Dt></Dt></Bal>
""")
        i = 0
        chunk: list[str] = []
        for k, entry in enumerate(entries):
            total = sum((a if s == "CRDT" else -a) for a, s in entry)
            side = "CRDT" if total >= 0 else "DBIT"
            txs = "".join(_tx(i + j, a, s, rnd, version) for j, (a, s) in enumerate(entry))
            reversal = "<RvslInd>true</RvslInd>" if k % 500 == 499 else ""
            chunk.append(f"""      <Ntry>
        <NtryRef>{k + 1}</NtryRef>
        <Amt Ccy="COP">{abs(total)}</Amt>
        <CdtDbtInd>{side}</CdtDbtInd>{reversal}
        {status}
        <BookgDt><DtTm>2026-11-20T{k % 24:02d}:{k % 60:02d}:07.{k % 1000:03d}-05:00</DtTm></BookgDt>
        <ValDt><Dt>2026-11-20</Dt></ValDt>
        <AcctSvcrRef>BNK{k:010d}</AcctSvcrRef>
        <BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{'RCDT' if side == 'CRDT' else 'ICDT'}</Cd><SubFmlyCd>{'DMCT' if len(entry) == 1 else 'BOOK'}</SubFmlyCd></Fmly></Domn><Prtry><Cd>{'N' if side == 'CRDT' else 'D'}{len(entry):03d}</Cd></Prtry></BkTxCd>
        <NtryDtls>{'<Btch><NbOfTxs>%d</NbOfTxs></Btch>' % len(entry) if len(entry) > 1 else ''}{txs}
        </NtryDtls>
        <AddtlNtryInf>{'ABONO' if side == 'CRDT' else 'CARGO'} TRANSFERENCIA</AddtlNtryInf>
      </Ntry>
""")
            i += len(entry)
            if len(chunk) >= 1000:
                out.write("".join(chunk))
                chunk = []
        out.write("".join(chunk))
        out.write(f"""    </{stmt}>
  </{message}>
</Document>
""")
    return path


def _child(kind: str, path: str) -> None:
    """Parse ``path`` in this (child) process and print one JSON line with the figures (the
    clocks start after the imports)."""
    import _measure  # noqa: PLC0415 - bench/_measure.py; bench/ is sys.path[0] when this runs as a script

    lines = 0
    reader = ""
    if kind.startswith("conciliador"):
        from conciliador.models import StatementLine
        from conciliador.plugins.banks import camt
        from conciliador.plugins.banks.camt import Camt053

        # the optional C extension conciliador._camtscan, else lxml (see plugins/banks/camt.py)
        reader = "C reader" if camt._camtscan is not None else "lxml reader"

        if kind == "conciliador-no-ordinals":
            # the core's Ordinals keeps the identity keys of the booking day (a bounded number in
            # memory); without it, what is left is the parser's own memory
            camt.Ordinals = lambda: (lambda *key: 0)  # type: ignore[assignment]
        start, cpu = time.perf_counter(), time.process_time()
        with open(path, "rb") as fh:
            for item in Camt053().parse(fh, Path(path).name):
                lines += isinstance(item, StatementLine)
    else:
        from pycamt.parser import Camt053Parser

        start, cpu = time.perf_counter(), time.process_time()
        lines = len(Camt053Parser.from_file(path).get_transactions())
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    print(json.dumps({"lines": lines, "seconds": seconds, "cpu": cpu, "peak_mib": _measure.peak_rss_mib(),
                      "reader": reader}))


def _run_child(kind: str, path: Path) -> dict | None:
    proc = subprocess.run([sys.executable, __file__, "--child", kind, str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  {kind}: failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="transactions in the large file")
    ap.add_argument("--small", type=int, default=20_000, help="transactions in the small file")
    ap.add_argument("--pycamt-n", type=int, default=5_000,
                    help="transactions in the file pycamt is timed on (it slows down quadratically)")
    ap.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(*args.child)
        return
    print(f"machine: python {sys.version.split()[0]}, sum(range(1000)) takes "
          f"{timeit.timeit('sum(range(1000))', number=20000) / 20000 * 1e6:.1f} us")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for n in (args.small, args.n):
            path = generate(Path(tmp) / f"camt053-{n}.xml", n)
            ours = _run_child("conciliador", path)
            if ours is None:
                raise SystemExit(1)
            results[n] = ours
            print(f"camt.053 n={n}: {path.stat().st_size / 1e6:.1f} MB, {ours['lines']} lines in {ours['cpu']:.2f} s CPU "
                  f"({ours['seconds']:.2f} s wall) = {ours['lines'] / ours['cpu']:,.0f} lines/s on one core, "
                  f"peak RSS {ours['peak_mib']:.1f} MiB ({ours['reader']})")
        small, large = results[args.small], results[args.n]
        print(f"peak RSS: {small['peak_mib']:.1f} MiB for {args.small} lines, {large['peak_mib']:.1f} MiB for "
              f"{args.n} lines ({large['peak_mib'] - small['peak_mib']:+.1f} MiB)")
        bare = [_run_child("conciliador-no-ordinals", Path(tmp) / f"camt053-{n}.xml") for n in (args.small, args.n)]
        if bare[0] and bare[1]:
            print(f"  without the core's Ordinals table (one key per line of the day, a bounded number in "
                  f"memory, the rest on disk): {bare[0]['peak_mib']:.1f} MiB and {bare[1]['peak_mib']:.1f} MiB "
                  f"({bare[1]['peak_mib'] - bare[0]['peak_mib']:+.1f} MiB)")
        try:
            import pycamt  # noqa: F401
        except ImportError:
            print("pycamt: not installed (pip install pycamt into the venv to compare)")
            return
        path = generate(Path(tmp) / f"camt053-{args.pycamt_n}.xml", args.pycamt_n)
        ours = _run_child("conciliador", path)
        theirs = _run_child("pycamt", path)
        if ours is not None and theirs is not None:
            print(f"pycamt 1.x on n={args.pycamt_n}: {theirs['lines']} transactions in {theirs['cpu']:.2f} s CPU, peak RSS "
                  f"{theirs['peak_mib']:.1f} MiB; conciliador {ours['cpu']:.2f} s, {ours['peak_mib']:.1f} MiB: "
                  f"{theirs['cpu'] / ours['cpu']:.1f}x as fast")


if __name__ == "__main__":
    main()
