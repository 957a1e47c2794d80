"""The conformance kit finds what it exists to find. A small installed plugin (an in-memory ERP
and a variant of conciliador-csv) passes the whole kit; then each defect a connector or format
commonly has is switched on and the kit must fail exactly the check for it, and no other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# The kit runs in-process (pytester): what it imports must be imported before, or pytester's
# sys.modules snapshot unloads C extensions (watchdog's) that cannot be loaded twice.
import conciliador.daemon  # noqa: F401
import conciliador.parsereport  # noqa: F401

pytest_plugins = ["pytester"]

SAMPLES = Path(__file__).parent / "data" / "sdk" / "conciliador-csv"

PLUGIN = '''
import io
import os

from conciliador import (CheckResult, ConnectorSettings, ErpConnector, PermanentError, PostingResult,
                         RetryableError, StatementError, StatementLine, hookimpl)
from conciliador.plugins.banks.simplecsv import SimpleCsv

CONCILIADOR_PLUGIN_API = "1"
DEFECT = os.environ.get("KIT_DEFECT", "")
SYSTEMS = {}


class MemSettings(ConnectorSettings):
    system: str


class MemErp(ErpConnector):
    """An ERP held in a dict, correct unless DEFECT says otherwise."""

    name = "memerp"
    Settings = MemSettings

    def __init__(self, settings, *, company):
        super().__init__(settings, company=company)
        self.answered = {}

    @property
    def system(self):
        if self.settings.system not in SYSTEMS:
            if DEFECT == "keyerror_when_down":
                raise KeyError(self.settings.system)
            raise RetryableError("cannot reach the memory ERP")
        return SYSTEMS[self.settings.system]

    def check(self):
        try:
            self.system
        except RetryableError as exc:
            return [CheckResult(name="memerp", ok=False, detail=str(exc))]
        return [CheckResult(name="memerp", ok=True)]

    def customers(self):
        return list(self.system["customers"])

    def open_items(self, since=None):
        return [i for i in self.system["items"].values() if i.open_amount != 0]

    def find_posting(self, key):
        if DEFECT == "none_when_down" and self.settings.system not in SYSTEMS:
            return None
        return (self.answered if DEFECT == "forgetful" else self.system["postings"]).get(key)

    def post(self, posting):
        s = self.system
        if posting.key in s["postings"] and DEFECT != "double_post":
            return s["postings"][posting.key]
        if DEFECT != "accepts_strangers" and posting.customer_id not in {c.id for c in s["customers"]}:
            raise PermanentError(f"unknown customer {posting.customer_id}")
        for a in posting.applications:
            if a.document not in s["items"]:
                raise PermanentError(f"unknown document {a.document}")
        for a in posting.applications:
            item = s["items"][a.document]
            s["items"][a.document] = item.model_copy(update={"open_amount": item.open_amount - a.amount})
        result = PostingResult(key=posting.key, document=f"MEM-{len(s['postings']) + 1:05d}")
        s["postings"][posting.key] = self.answered[posting.key] = result
        return result

    def post_einvoice_status(self, document, cufe, status, at):
        self.system.setdefault("statuses", []).append((document, status))


class Variant(SimpleCsv):
    """conciliador-csv, under a name that wins detection ties against the built-in."""

    name = "a-variant-csv"
    description = "a variant of conciliador-csv"

    def detect(self, head, filename):
        return 0.1 if DEFECT == "greedy_detect" else super().detect(head, filename)

    def parse(self, stream, filename):
        if DEFECT == "slurp":
            stream = io.BytesIO(stream.read())
        try:
            for item in super().parse(stream, filename):
                if DEFECT == "no_ordinals" and isinstance(item, StatementLine):
                    item = item.model_copy(update={"ordinal": 0})
                yield item
        except StatementError as exc:
            if DEFECT == "valueerror":
                raise ValueError(str(exc)) from None
            raise


@hookimpl
def conciliador_erp_connectors():
    return [MemErp]


@hookimpl
def conciliador_bank_formats():
    return [Variant()]
'''

TESTS = '''
import os
from pathlib import Path

import pytest

from conciliador.testing import (STANDARD_SEED, BankFormatCase, BankFormatConformance, ErpConformance,
                                 ErpTestSystem, load_samples)
from memplug import SYSTEMS, MemErp, Variant


class MemSystem(ErpTestSystem):
    connector_class = MemErp
    cannot_provoke = ({} if os.environ.get("KIT_DEFECT") == "undeclared_closed_period"
                      else {"closed_period": "the memory ERP has no periods"})

    def __init__(self, name):
        self.name = name

    def seed(self):
        SYSTEMS[self.name] = {"customers": list(STANDARD_SEED.customers), "postings": {},
                              "items": {i.document: i for i in STANDARD_SEED.open_items}}
        return STANDARD_SEED

    def settings(self):
        return {"system": self.name}

    def unreachable_settings(self):
        return {"system": "nowhere"}


class TestMemErp(ErpConformance):
    @pytest.fixture
    def erp_system(self, request):
        return MemSystem(request.node.name)


def write_large(path, n):
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("account,booking_date,amount,currency,bank_reference,remittance\\n")
        for i in range(n):
            fh.write(f"0123-456789-01,2026-11-20,{1000 + i}.50,COP,REF{i:08d},PAGO FACTURA FE-{i}\\n")


class TestVariant(BankFormatConformance):
    @pytest.fixture
    def bank_format_case(self):
        return BankFormatCase(format=Variant(), samples=load_samples(Path(SAMPLES)), make_large=write_large,
                              claims=("conciliador-csv",))
'''


def run_kit(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, defect: str) -> dict[str, str]:
    """Run the kit against the plugin with ``defect`` on; the outcome of each check."""
    pytester.makepyfile(memplug=PLUGIN)
    pytester.makepyfile(test_memplug=f"SAMPLES = {str(SAMPLES)!r}\n" + TESTS)
    pytester.makeconftest('pytest_plugins = ["conciliador.testing"]\n')
    info = pytester.mkdir("memplug-1.0.dist-info")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: memplug\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[conciliador]\nmemplug = memplug\n")
    pytester.syspathinsert()
    monkeypatch.setenv("KIT_DEFECT", defect)
    report = pytester.path / "report.json"
    pytester.runpytest_inprocess("-p", "no:cacheprovider", "--conciliador-report", str(report))
    suites = json.loads(report.read_text())
    return {f"{s['suite']}::{name}": check["outcome"] for s in suites for name, check in s["checks"].items()}


def test_a_correct_plugin_passes_the_whole_kit(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = run_kit(pytester, monkeypatch, "")
    assert {k: v for k, v in outcomes.items() if v != "passed"} == {
        "TestMemErp::test_closed_period_is_permanent": "exempt"}
    assert len([k for k in outcomes if k.startswith("TestMemErp::")]) == 24
    assert len([k for k in outcomes if k.startswith("TestVariant::")]) == 12


@pytest.mark.parametrize(("defect", "caught_by"), [
    ("double_post", {"TestMemErp::test_repost_same_key_posts_once"}),
    # It remembers only what it answered itself: a restarted agent, or one that lost the answer, is told
    # "never posted", and a find_posting without the ERP answers None instead of "cannot tell".
    ("forgetful", {"TestMemErp::test_find_posting_after_lost_response", "TestMemErp::test_unreachable_is_retryable",
                   "TestMemErp::test_agent_applies_a_payment_end_to_end"}),
    ("none_when_down", {"TestMemErp::test_unreachable_is_retryable"}),
    ("keyerror_when_down", {"TestMemErp::test_unreachable_is_retryable"}),
    ("accepts_strangers", {"TestMemErp::test_unknown_customer_is_permanent"}),
    ("undeclared_closed_period", {"TestMemErp::test_closed_period_is_permanent"}),
    # A low score for everything: it claims foreign files, and loses its own to the built-in format.
    ("greedy_detect", {"TestVariant::test_ignores_foreign_samples", "TestVariant::test_agent_reads_own_samples"}),
    ("slurp", {"TestVariant::test_streams_large_files"}),
    ("no_ordinals", {"TestVariant::test_identities_are_stable_and_unique",
                     "TestVariant::test_parses_samples_as_expected"}),
    ("valueerror", {"TestVariant::test_bad_samples_are_refused_with_position",
                    "TestVariant::test_damaged_files_raise_only_statement_error"}),
])
def test_each_defect_fails_its_check(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, defect: str,
                                     caught_by: set[str]) -> None:
    outcomes = run_kit(pytester, monkeypatch, defect)
    failed = {k for k, v in outcomes.items() if v == "failed"}
    assert failed == caught_by
