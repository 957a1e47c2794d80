"""How the core picks a bank format for a file (conciliador.statements.detect): the quick look at the
first HEAD_BYTES bytes, and the second look (BankFormat.detect_file, plugin API 1.3) that a format
answering "maybe" gets at the whole file."""

from __future__ import annotations

from typing import IO

import pytest
from structlog.testing import capture_logs

from conciliador import HEAD_BYTES, MAYBE_BELOW, BankFormat
from conciliador.statements import detect, unrecognised


class Fake(BankFormat):
    def __init__(self, name: str, quick: float, second=None, *, raises: bool = False) -> None:
        self.name, self.quick, self.second, self.raises = name, quick, second, raises
        self.calls: list[tuple[int, bool, bytes]] = []

    def detect(self, head: bytes, filename: str) -> float:
        assert len(head) <= HEAD_BYTES
        return self.quick

    def detect_file(self, stream: IO[bytes], filename: str) -> float | None:
        self.calls.append((stream.tell(), stream.seekable(), stream.read()))
        stream.seek(0, 2)  # leave it at the end, and then close it: the next format must not care
        stream.close()
        if self.raises:
            raise RuntimeError("boom")
        return self.second

    def parse(self, stream, filename):  # pragma: no cover - detection only
        raise AssertionError


class QuickOnly(BankFormat):
    name = "quick-only"

    def detect(self, head: bytes, filename: str) -> float:
        return 0.3

    def parse(self, stream, filename):  # pragma: no cover - detection only
        raise AssertionError


@pytest.fixture
def big(tmp_path):
    path = tmp_path / "statement.bin"
    path.write_bytes(bytes(range(256)) * 100)  # beyond HEAD_BYTES
    return path


def test_a_maybe_is_replaced_by_the_second_look_at_the_whole_file(big):
    first, second = Fake("a-first", 0.2, 0.9), Fake("b-second", 0.3, 0.0)
    fmt, scores = detect(big, [first, second])
    assert fmt is first and scores == [("a-first", 0.9)]
    for f in (first, second):
        [(position, seekable, data)] = f.calls
        assert position == 0 and seekable and data == big.read_bytes()  # the whole file, from the start, each time


def test_only_a_maybe_gets_a_second_look(big):
    sure, no, edge = Fake("sure", 0.9, 0.0), Fake("no", 0.0, 1.0), Fake("edge", MAYBE_BELOW, 0.0)
    fmt, scores = detect(big, [sure, no, edge])
    assert fmt is sure and scores == [("sure", 0.9), ("edge", 0.5)]
    assert not sure.calls and not no.calls and not edge.calls


def test_none_keeps_the_quick_score_and_the_default_is_none(big):
    keeps = Fake("keeps", 0.4, None)
    fmt, scores = detect(big, [keeps, QuickOnly()])
    assert scores == [("keeps", 0.4), ("quick-only", 0.3)] and fmt is keeps
    with open(big, "rb") as stream:
        assert QuickOnly().detect_file(stream, big.name) is None


def test_a_second_look_that_raises_is_a_no_and_is_logged(big):
    broken, other = Fake("broken", 0.4, 1.0, raises=True), Fake("other", 0.1, None)
    with capture_logs() as logged:
        fmt, scores = detect(big, [broken, other])
    assert fmt is other and scores == [("other", 0.1)]
    [entry] = logged
    assert (entry["event"], entry["format"], entry["method"]) == ("detect_failed", "broken", "detect_file")
    assert "boom" in entry["error"] and entry["log_level"] == "warning"


def test_second_look_scores_are_capped_and_nonsense_is_a_no(big):
    fmt, scores = detect(big, [Fake("over", 0.2, 7.0), Fake("nan", 0.2, float("nan")), Fake("neg", 0.2, -1)])
    assert scores == [("over", 1.0)]


def test_the_reason_for_a_file_nobody_recognises(tmp_path):
    pdf = tmp_path / "extracto.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    assert unrecognised(pdf, [QuickOnly()]) == ("no installed bank format recognises this file (none of the 1 "
                                               "installed formats said it is theirs)")
    assert unrecognised(pdf, []).endswith("(none is installed)")
    book = tmp_path / "inventario.xlsx"
    book.write_bytes(b"PK\x03\x04" + b"\0" * 60)
    assert "It is an Excel workbook: bank exports in Excel are read through bank profiles" in unrecognised(book, [])
    old = tmp_path / "movimientos.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 60)
    assert "save it as .xlsx" in unrecognised(old, [])
