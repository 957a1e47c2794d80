"""The FWB1 format against the conciliador conformance kit: the samples in samples/ (each with
its .expected.json or .error.json), a generated large file for streaming, and the kit's own
foreign and damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fwb1_writer import write_statement

from conciliador.testing import BankFormatCase, BankFormatConformance, load_samples
from conciliador_fixedwidth.plugin import FixedWidth

SAMPLES = Path(__file__).parent / "samples"


class TestFixedWidthConformance(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self) -> BankFormatCase:
        return BankFormatCase(format=FixedWidth(), samples=load_samples(SAMPLES), make_large=write_statement)


def test_a_record_longer_than_its_layout_is_refused(tmp_path: Path) -> None:
    from conciliador import StatementError

    data = (SAMPLES / "extracto-noviembre.fwb").read_bytes().replace(b"COMISION MANEJO", b"COMISION MANEJO" + b"X" * 40)
    with pytest.raises(StatementError) as info:
        list(FixedWidth().parse(iter(data.splitlines(keepends=True)), "x.fwb"))
    assert (info.value.position, info.value.field) == ("line 3", "record length")
