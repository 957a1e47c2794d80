"""The optional C reader of camt files (agent/_camtscan.c) against the lxml reader.

plugins/banks/camt.py reads a file with ``conciliador._camtscan`` when it was compiled and falls
back to lxml for what the C reader does not model and for every error. Both readers must give
the same items (lines, identities, summaries) and the same refusals: every camt file in
tests/data/banks and in the shared public corpus, and variants of bench/parse_camt.py's files,
are read both ways here and compared.
"""

from __future__ import annotations

import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conciliador import StatementError, StatementLine
from conciliador.plugins.banks import camt
from conciliador.plugins.banks.camt import Camt052, Camt053, Camt054

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "banks"
CORPUS = ROOT.parent / "shared" / "corpus" / "banks"  # beside the checkout, as tests/test_corpus.py reads it
FORMATS = {"052": Camt052(), "053": Camt053(), "054": Camt054()}

if camt._camtscan is None:
    # Off CI a machine without a C compiler still runs the lxml reader's tests; CI must test both.
    if os.environ.get("CI") == "true":
        raise RuntimeError("the optional C extension conciliador._camtscan was not built; CI must test it "
                           "(pip install -e . compiles agent/_camtscan.c: is a C compiler installed?)")
    pytestmark = pytest.mark.skip(reason="the optional C extension was not built")


def _bench():
    spec = importlib.util.spec_from_file_location("parse_camt_bench_fast", ROOT / "bench" / "parse_camt.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


def _camt_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*.xml") if b"camt.05" in p.read_bytes()[:4096] or
                  re.search(rb"BkToCstmr", p.read_bytes()[:65536]))


def _read(fmt, data: bytes, fast: bool, monkeypatch) -> tuple[list, tuple | None]:
    module = camt._camtscan
    monkeypatch.setattr(camt, "_camtscan", module if fast else None)
    items, error = [], None
    try:
        for item in fmt.parse(io.BytesIO(data), "file.xml"):
            items.append(item)
    except StatementError as exc:
        error = (str(exc), exc.position)
    finally:
        monkeypatch.setattr(camt, "_camtscan", module)
    return items, error


def _fast_completes(fmt, data: bytes) -> bool:
    """Did the C reader read the whole file itself (no fallback)?"""
    try:
        for _ in camt._FastReader(fmt, camt._Prolog(io.BytesIO(data))).run():
            pass
    except (camt._camtscan.Unsupported, camt._Fallback, StatementError):
        return False
    return True


def _assert_same(data: bytes, monkeypatch, kinds=("052", "053", "054")) -> list[tuple]:
    """Both readers over ``data`` for every format that claims it; the results, for more checks."""
    results = []
    for kind in kinds:
        fmt = FORMATS[kind]
        if not fmt.detect(data[:65536], "file.xml"):
            continue
        fast = _read(fmt, data, True, monkeypatch)
        slow = _read(fmt, data, False, monkeypatch)
        assert fast[1] == slow[1]
        assert len(fast[0]) == len(slow[0])
        for a, b in zip(fast[0], slow[0]):
            assert a == b
            if isinstance(a, StatementLine):
                assert a.identity == b.identity
        results.append((kind, fast))
    return results


@pytest.mark.parametrize("path", _camt_files(DATA) + _camt_files(CORPUS), ids=lambda p: p.name)
def test_real_files_read_the_same(path, monkeypatch):
    assert _assert_same(path.read_bytes(), monkeypatch) or path.name.endswith("pain001.xml")


def test_the_corpus_is_covered_when_present():
    if not CORPUS.is_dir():
        pytest.skip("no shared corpus on this machine")
    assert len(_camt_files(CORPUS)) >= 10  # the glob finds the public camt files


@pytest.mark.parametrize("name", ["camt053_v02_statement.xml", "camt053_v10_pending.xml", "camt052_v08_intraday.xml",
                                  "camt054_v04_notification.xml", "camt053_v06_multi_latin1.xml"])
def test_the_c_reader_reads_the_usual_files_itself(name):
    data = (DATA / "camt" / name).read_bytes()
    kind = name[4:7]
    assert _fast_completes(FORMATS[kind], data) == (name != "camt053_v02_statement.xml")  # that one has Chrgs


# -- generated files and variants -----------------------------------------------------------------

@pytest.fixture(scope="module")
def base(tmp_path_factory) -> str:
    path = BENCH.generate(tmp_path_factory.mktemp("camt") / "base.xml", 60)
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["052", "053", "054"])
@pytest.mark.parametrize("version", ["02", "04", "08", "13"])
def test_generated_files_of_every_kind_and_version(kind, version, tmp_path, monkeypatch):
    data = BENCH.generate(tmp_path / "f.xml", 80, version=version, kind=kind).read_bytes()
    assert _fast_completes(FORMATS[kind], data)
    [(_, (items, error))] = _assert_same(data, monkeypatch, kinds=(kind,))
    assert error is None and sum(isinstance(i, StatementLine) for i in items) == 80


def _once(old: str, new: str):
    return lambda text: text.replace(old, new, 1)


def _drop(pattern: str):
    return lambda text: re.sub(pattern, "", text)


# name -> (change to the generated camt.053 text, whether the C reader handles it itself)
VARIANTS = {
    "reversal": (_once("<Sts><Cd>BOOK</Cd></Sts>", "<RvslInd>true</RvslInd><Sts><Cd>BOOK</Cd></Sts>"), True),
    "pending": (lambda t: t.replace("<Sts><Cd>BOOK</Cd></Sts>", "<Sts><Cd>PDNG</Cd></Sts>", 3), True),
    "status_as_text": (lambda t: t.replace("<Sts><Cd>BOOK</Cd></Sts>", "<Sts>info</Sts>", 2), True),
    "no_namespace": (_once(' xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"', ""), True),
    "entities_in_names": (lambda t: t.replace("CLIENTE ANDINA", "CLIENTE &amp; HIJOS &#211;&#x00C9; &lt;A&gt;"), True),
    "cdata": (_once("<Ustrd>PAGO", "<Ustrd><![CDATA[PAGO <b>&]]>"), True),
    "several_ustrd": (lambda t: t.replace("<Ustrd>", "<Ustrd>NOTA 1</Ustrd><Ustrd> </Ustrd><Ustrd>"), True),
    "structured_references": (_once("</RmtInf>", "<Strd><RfrdDocInf><Nb>F-1</Nb></RfrdDocInf><AddtlRmtInf>INFO"
                                                "</AddtlRmtInf></Strd></RmtInf><AddtlTxInf>MAS</AddtlTxInf>"), True),
    "return_reason": (_once("</RmtInf>", "</RmtInf><RtrInf><Rsn><Prtry>X1</Prtry></Rsn><Rsn><Cd>AC06</Cd></Rsn>"
                                         "</RtrInf>"), True),
    "ultimate_debtor": (lambda t: t.replace("<Dbtr>", "<UltmtDbtr>", 2).replace("</Dbtr>", "</UltmtDbtr>", 2), True),
    "no_booking_date": (_drop(r"<BookgDt>.*?</BookgDt>"), True),
    "no_value_date_nor_booking": (lambda t: re.sub(r"<(BookgDt|ValDt)>.*?</\1>", "", t), True),
    "notprovided": (_once("<EndToEndId>E2E000000000</EndToEndId>", "<EndToEndId>NOTPROVIDED</EndToEndId>"), True),
    "uetr_only": (lambda t: re.sub(r"<(AcctSvcrRef|NtryRef|InstrId)>[^<]*</\1>", "", t).replace(
        "<EndToEndId>", "<UETR>0f8b1ad4-6c43-4a8e-9a51-2c1d3a3c0b11</UETR><EndToEndId>"), True),
    "spaces_and_nbsp": (lambda t: t.replace("<Nm>", "<Nm>\n   ").replace("</Nm>", "\u00a0 </Nm>")
                        .replace("<Ustrd>", "<Ustrd>\t"), True),
    "crlf": (lambda t: t.replace("\n", "\r\n"), True),
    "proprietary_code_only": (_drop(r"<Domn>.*?</Domn>"), True),
    "code_with_spaces": (lambda t: t.replace("<Prtry><Cd>N001</Cd>", "<Prtry><Cd>N 001 X</Cd><Issr>DK</Issr>"), True),
    "foreign_currency_batch": (lambda t: t.replace('<Amt Ccy="COP">', '<Amt Ccy="USD">', 3), True),
    "envelope": (lambda t: t.replace("<Document", '<Envelope xmlns="urn:env"><AppHdr>x</AppHdr><Document', 1)
                 .replace("</Document>", "</Document></Envelope>"), True),
    "charges": (_once("<RltdPties>", '<Chrgs><TtlChrgsAndTaxAmt Ccy="COP">1.50</TtlChrgsAndTaxAmt></Chrgs>'
                                     "<RltdPties>"), False),
    "comment_inside": (_once("<NtryRef>", "<!-- c --><NtryRef>"), False),
    "foreign_element": (_once("<NtryRef>", '<x:Foo xmlns:x="urn:other">1</x:Foo><NtryRef>'), False),
    "repeated_field": (_once("<NtryRef>", "<NtryRef>0</NtryRef><NtryRef>"), False),
    "txssummry_wrong": (_once("<Bal>", "<TxsSummry><TtlNtries><NbOfNtries>999</NbOfNtries></TtlNtries>"
                                       "</TxsSummry><Bal>"), False),
    "txssummry_right": (_once("<Bal>", "<TxsSummry><TtlCdtNtries><NbOfNtries>0</NbOfNtries></TtlCdtNtries>"
                                       "</TxsSummry><Bal>"), None),
    # broken files: refused the same way
    "truncated": (lambda t: t[: len(t) * 3 // 5], False),
    "bad_amount": (_once('<Amt Ccy="COP">1', '<Amt Ccy="COP">-1'), False),
    "bad_currency": (_once('<Amt Ccy="COP">', '<Amt Ccy="CO">'), False),
    "bad_date": (_once("<Dt>2026-11-20</Dt></ValDt>", "<Dt>2026-11-31</Dt></ValDt>"), False),
    "bad_date_time": (_once("T00:00:07.000-05:00", "T25:00:07.000-05:00"), False),
    "bad_sign": (_once("<CdtDbtInd>CRDT</CdtDbtInd>\n        <Sts>", "<CdtDbtInd>CRED</CdtDbtInd>\n        <Sts>"),
                 False),
    "doctype": (_once("?>", '?>\n<!DOCTYPE Document [<!ENTITY x "y">]>'), False),
    "raw_ampersand": (_once("CLIENTE ANDINA", "CLIENTE & ANDINA"), False),
    "mismatched_tag": (_once("</NtryRef>", "</NtryRf>"), False),
    "other_namespace": (lambda t: t.replace("camt.053.001.08", "pain.001.001.09"), False),
    "no_statement": (lambda t: re.sub(r"<Stmt>.*</Stmt>", "", t, flags=re.S), False),
    "no_account": (_drop(r"<Acct>.*?</Acct>"), False),
    # Found by fuzzing: expat takes these, libxml2 refuses them; lxml's judgement is the reference.
    "odd_xml_version": (lambda t: t.replace('version="1.0"', 'version="Z.0"', 1), False),
    "namespace_with_a_space": (lambda t: t.replace("tech:xsd:camt", "tech:x d:camt", 1), False),
    "namespace_with_a_stray_byte": (lambda t: t.replace("tech:xsd:camt", "tech\u00f5xsd:camt", 1), False),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variants_read_the_same(name, base, monkeypatch):
    change, handled = VARIANTS[name]
    text = change(base)
    assert text != base
    data = text.encode("utf-8")
    results = _assert_same(data, monkeypatch, kinds=("053",))
    if handled is not None:
        assert _fast_completes(FORMATS["053"], data) == handled
    if handled:
        [(_, (items, error))] = results
        assert error is None and items


@pytest.mark.parametrize("encoding", ["UTF-16", "ISO-8859-1", "windows-1252"])
def test_encodings(encoding, base, monkeypatch):
    text = base.replace('encoding="UTF-8"', f'encoding="{encoding}"').replace("CLIENTE ANDINA", "CLIENTE ÑANDÚ")
    [(_, (items, error))] = _assert_same(text.encode(encoding), monkeypatch, kinds=("053",))
    assert error is None and any("ÑANDÚ" in i.payer_name for i in items if isinstance(i, StatementLine))


def test_big_batches_go_to_the_streaming_lxml_reader(base, monkeypatch):
    monkeypatch.setattr(camt, "SPLIT_BUFFER", 2)  # the generated batches have 4 transactions
    assert not _fast_completes(FORMATS["053"], base.encode())
    [(_, (items, error))] = _assert_same(base.encode(), monkeypatch, kinds=("053",))
    assert error is None and len([i for i in items if isinstance(i, StatementLine)]) == 60


def test_an_unreadable_stream_is_read_by_lxml(base, monkeypatch):
    class Pipe:  # a stream that cannot seek back: no fallback possible, so lxml reads it
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self._data.read(size)

        def seekable(self) -> bool:
            return False

    data = base.encode()
    piped = list(Camt053().parse(Pipe(data), "pipe.xml"))
    assert piped == _read(Camt053(), data, False, monkeypatch)[0]


def test_lxml_reads_everything_when_the_extension_is_absent(tmp_path):
    """Importing with ``conciliador._camtscan`` blocked, as on a machine where it did not compile."""
    sample = DATA / "camt" / "camt053_v10_pending.xml"
    code = (
        "import sys\n"
        "sys.modules['conciliador._camtscan'] = None\n"
        "from conciliador.plugins.banks import camt\n"
        "assert camt._camtscan is None\n"
        f"items = list(camt.Camt053().parse(open({str(sample)!r}, 'rb'), 'x.xml'))\n"
        "print(len(items), sum(type(i).__name__ == 'StatementLine' for i in items))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    items = list(Camt053().parse(sample.open("rb"), "x.xml"))
    assert out == [str(len(items)), str(sum(isinstance(i, StatementLine) for i in items))]
