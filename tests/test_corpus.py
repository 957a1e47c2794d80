"""Every real bank file in ../shared/corpus/banks (files other projects wrote for their tests)
is read as truth.json says a correct parser reads it: accepted or refused, with the right number
of transactions, credit and debit sums, statements, currency and balance breaks.

The corpus stays outside the repository (its files carry their authors' licenses). Where the
folder is absent, this module says so and runs nothing.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from conciliador.parsereport import parse_file
from conciliador.pluginhost import PluginHost

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "banks"
TRUTH = json.loads((CORPUS / "truth.json").read_text(encoding="utf-8")) if (CORPUS / "truth.json").exists() else {}

if not TRUTH:
    pytest.skip(f"corpus test NOT RUN: {CORPUS} is absent (it lives beside the checkout, in shared/)",
                allow_module_level=True)


# truth.json's family names -> the names of conciliador's bank formats.
FORMAT_NAMES = {"camt052": "camt.052", "camt053": "camt.053", "camt054": "camt.054", "mt940": "mt940",
                "mt942": "mt942", "bai2": "bai2", "ofx": "ofx", "asobancaria": "asobancaria-2001"}


@pytest.fixture(scope="module")
def formats():
    return PluginHost().load().bank_formats()


@pytest.mark.parametrize("name", sorted(TRUTH))
def test_corpus_file(name, formats):
    truth = TRUTH[name]
    report = parse_file(CORPUS / name, formats)
    if truth["expect"] == "reject":
        assert report.error, f"{name} should be refused ({truth.get('note', '')})"
        return
    if report.error and truth["statements"] == 0 and "may surface the error" in truth.get("note", ""):
        return  # a response with no statement, whose error truth.json allows a parser to report
    assert not report.error, f"{name}: {report.error} ({truth.get('note', '')})"
    assert report.format == FORMAT_NAMES[truth["format"]]
    assert report.line_count == truth["transactions"]
    if truth["credit_sum"] is not None:
        assert report.credit_sum == Decimal(truth["credit_sum"])
    if truth["debit_sum"] is not None:
        assert report.debit_sum == Decimal(truth["debit_sum"])
    if truth["statements"] is not None:
        assert len(report.statements) == truth["statements"]
    if truth["currency"] is not None:
        assert report.currencies == {truth["currency"]}
    if truth["balance_break"] is not None:
        assert bool(report.balance_breaks) == truth["balance_break"], [
            (c.summary.statement_id, str(c.balance_break)) for c in report.balance_breaks]
