"""The conformance kit: a pytest plugin every connector package runs against itself.

Opt in from your package's ``tests/conftest.py`` (the kit is not activated by merely installing
conciliador)::

    pytest_plugins = ["conciliador.testing"]

then subclass a suite in a test module and give it the fixture it asks for::

    from conciliador.testing import BankFormatCase, BankFormatConformance, load_samples

    class TestMyBank(BankFormatConformance):
        @pytest.fixture
        def bank_format_case(self):
            return BankFormatCase(format=MyBank(), samples=load_samples(HERE / "samples"), make_large=write_large)

    class TestMyErp(ErpConformance):
        @pytest.fixture
        def erp_system(self, my_emulator):
            return MyErpTestSystem(my_emulator)   # an ErpTestSystem subclass

Every test of a suite is one conformance check; its docstring is the rule (they are listed in
docs/plugin-reference.md). At the end of the run the kit prints a conformance summary (passed,
failed, and what the vendor declared it cannot provoke, with the reason); ``--conciliador-report
FILE`` writes the same as JSON. The built-in flat-file ERP and conciliador-csv format are tested
with this kit, as any vendor's plugin is.

``python -m conciliador.testing expected FILE`` prints what the installed formats read from a
sample as the ``FILE.expected.json`` the kit compares against: review it line by line before
committing it.
"""

from __future__ import annotations

import abc
import csv
import datetime as dt
import io
import json
import random
import re
import secrets
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from .contracts import HEAD_BYTES, MAYBE_BELOW, BankFormat, ConnectorSettings, ErpConnector
from .errors import ConnectorError, PermanentError, RetryableError, StatementError
from .models import (
    Application,
    CheckResult,
    Customer,
    OpenItem,
    Posting,
    PostingKind,
    PostingResult,
    StatementLine,
    StatementSummary,
)
from .pluginhost import PLUGIN_API_VERSION, PluginHost

__all__ = [
    "STANDARD_SEED",
    "FOREIGN_SAMPLES",
    "BadSample",
    "BankFormatCase",
    "BankFormatConformance",
    "BankSample",
    "ErpConformance",
    "ErpTestSystem",
    "LostResponse",
    "SeedData",
    "load_samples",
]

# == ERP connectors ================================================================================


@dataclass(frozen=True)
class SeedData:
    """What the vendor's test system holds when a test starts: the suite's expectations.

    Requirements (checked before any test runs, with a sentence saying what is missing):

    - at least two customers, and every open item's ``customer_id`` among them;
    - at least two open receivables (positive ``open_amount``) in one currency, each at least two
      units of its smallest fraction, so one can be paid in part;
    - at least one with a ``reference`` or ``document`` holding a digit, unique among the items,
      so the agent's matching can find it (the end-to-end check);
    - an open receivable in a second currency, unless the system declares
      ``cannot_provoke["second_currency"]``.

    ``exhaustive`` says the system holds exactly these customers and items (a fresh emulator);
    set it to False for a shared sandbox that holds more: then the seeded ones must be there.
    An emulator can use :data:`STANDARD_SEED` as it is.
    """

    customers: Sequence[Customer]
    open_items: Sequence[OpenItem]
    exhaustive: bool = True


STANDARD_SEED = SeedData(
    customers=(
        Customer(id="C001", name="Inversiones Peñalosa S.A.S.", tax_id="900123456-7"),
        Customer(id="C002", name="Distribuidora Ñandú, Ltda.", tax_id="800987654-1"),
        Customer(id="C003", name="Importadora Andina S.A.", tax_id="901555222-3"),
    ),
    open_items=(
        OpenItem(document="DOC-9001", customer_id="C001", reference="FE-9001", currency="COP",
                 original_amount="1785000.00", open_amount="1785000.00", document_date=dt.date(2026, 10, 1),
                 due_date=dt.date(2026, 10, 31)),
        OpenItem(document="DOC-9002", customer_id="C002", reference="FE-9002", currency="COP",
                 original_amount="2380000.00", open_amount="2380000.00"),
        OpenItem(document="DOC-9003", customer_id="C001", reference="FE-9003", currency="COP",
                 original_amount="999999.99", open_amount="450000.50"),
        OpenItem(document="DOC-9004", customer_id="C003", reference="FE-9004", currency="USD",
                 original_amount="12500.00", open_amount="12500.00"),
        OpenItem(document="DOC-9005", customer_id="C003", reference="FE-9005", currency="USD",
                 original_amount="3210.55", open_amount="3210.55"),
    ),
)
"""A seed an emulator can load as it is: three customers, three COP and two USD invoices (one
already paid in part)."""


class ErpTestSystem(abc.ABC):
    """The vendor's side of the ERP suite: a test system (an emulator or a sandbox) and how to
    provoke each failure the suite checks.

    Return one from a fixture named ``erp_system``; the suite calls :meth:`seed` at the start of
    every test. What the system cannot provoke is declared in :attr:`cannot_provoke`, with the
    reason: those checks are skipped and listed with the reason in the conformance summary. A
    provocation neither implemented nor declared fails its check.
    """

    #: The connector class under test (what your ``conciliador_erp_connectors`` hook returns).
    connector_class: ClassVar[type[ErpConnector]]
    #: Company name the connector is built for.
    company: ClassVar[str] = "conformance"
    #: ``{"closed_period" | "unreachable" | "second_currency": "why it cannot be provoked"}``.
    cannot_provoke: ClassVar[Mapping[str, str]] = {}

    PROVOCATIONS: ClassVar[tuple[str, ...]] = ("closed_period", "unreachable", "second_currency")

    @abc.abstractmethod
    def seed(self) -> SeedData:
        """Bring the test system to a known state and return what it now holds."""

    @abc.abstractmethod
    def settings(self) -> dict[str, Any]:
        """The ``[companies.NAME.erp_settings]`` table that points the connector at the test
        system, as it would be written in conciliador.toml (give absolute paths)."""

    def unreachable_settings(self) -> dict[str, Any]:
        """Settings for a system that cannot be reached (a closed port on 127.0.0.1, a stopped
        emulator, a folder that does not exist): every call must raise RetryableError."""
        raise NotImplementedError

    def closed_period(self, posting: Posting) -> Posting:
        """Return ``posting`` changed so the test system refuses it because its accounting period
        is closed (e.g. a value date in a period you closed when seeding)."""
        raise NotImplementedError

    def unknown_customer(self, posting: Posting) -> Posting:
        """Return ``posting`` for a customer the test system does not know."""
        return posting.model_copy(update={"customer_id": "ZZCONFORMANCE404"})

    def unknown_document(self, posting: Posting) -> Posting:
        """Return ``posting`` applied to a document the test system does not hold."""
        apps = tuple(a.model_copy(update={"document": "ZZ-NO-SUCH-DOC-404"}) for a in posting.applications)
        return posting.model_copy(update={"applications": apps})

    def connect(self, settings: Mapping[str, Any] | None = None) -> ErpConnector:
        """A new connector, built exactly as the agent builds one: settings validated by the
        connector's ``Settings`` model, then the class called with them and the company."""
        raw = dict(self.settings() if settings is None else settings)
        validated = self.connector_class.Settings.model_validate(raw, context={"base_dir": Path.cwd()})
        return self.connector_class(validated, company=self.company)


class LostResponse:
    """Wraps a connector so the answers of its first ``lose`` successful ERP calls (``post``, a
    ``post_step`` or ``reverse``) are lost on the way back: the ERP committed the document, the
    caller gets a RetryableError (a timeout), exactly what the core's ``find_posting`` /
    ``find_step`` recovery exists for. The lost results are kept in :attr:`lost`."""

    def __init__(self, connector: ErpConnector, lose: int = 1) -> None:
        self._connector = connector
        self._lose = lose
        self.lost: list[PostingResult] = []

    def _lost(self, result: PostingResult) -> PostingResult:
        if len(self.lost) < self._lose:
            self.lost.append(result)
            raise RetryableError("the ERP's answer was lost (simulated by the conformance kit)")
        return result

    def post(self, posting: Posting) -> PostingResult:
        return self._lost(self._connector.post(posting))

    def post_step(self, posting: Posting, step: str, done: Mapping[str, PostingResult]) -> PostingResult:
        # The connector's own post_step calls its own post(); wrap the step, not only post().
        return self._lost(self._connector.post_step(posting, step, done))

    def reverse(self, posting: Posting) -> PostingResult:
        return self._lost(self._connector.reverse(posting))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._connector, name)


def _key() -> str:
    return "CK" + secrets.token_hex(7).upper()


def _fraction(amount: Decimal) -> Decimal:
    exponent = amount.as_tuple().exponent
    return Decimal(1).scaleb(min(int(exponent), 0)) if isinstance(exponent, int) else Decimal(1)


def _part(amount: Decimal) -> Decimal:
    """About a third of ``amount``, in its own smallest fraction: 0 < part < amount."""
    return (amount / 3).quantize(_fraction(amount), rounding=ROUND_DOWN)


def _exempt(system: ErpTestSystem, what: str) -> None:
    """Skip, with the vendor's reason, a check the vendor declared it cannot provoke."""
    if what in system.cannot_provoke:
        pytest.skip(f"exempt: {type(system).__name__} declares it cannot provoke {what}: {system.cannot_provoke[what]}")


def _provided(system: ErpTestSystem, what: str, call: Callable[[], Any]) -> Any:
    _exempt(system, what)
    try:
        return call()
    except NotImplementedError:
        pytest.fail(f"{type(system).__name__} does not implement how to provoke {what}: implement the "
                    f"ErpTestSystem method for it, or declare cannot_provoke = {{{what!r}: 'why'}}.", pytrace=False)


def _open(connector: ErpConnector) -> dict[str, OpenItem]:
    return {item.document: item for item in connector.open_items()}


class ErpConformance:
    """The ERP connector suite. Subclass it and provide a fixture ``erp_system`` returning your
    :class:`ErpTestSystem`."""

    kit_kind: ClassVar[str] = "ERP connector"

    # -- fixtures -------------------------------------------------------------------------------
    @pytest.fixture
    def erp_seed(self, erp_system: ErpTestSystem) -> SeedData:
        seed = erp_system.seed()
        problems = _seed_problems(seed, erp_system)
        if problems:
            pytest.fail(f"{type(erp_system).__name__}.seed() does not give the suite what it needs: "
                        + "; ".join(problems) + " (see conciliador.testing.SeedData).", pytrace=False)
        return seed

    @pytest.fixture
    def erp(self, erp_system: ErpTestSystem, erp_seed: SeedData) -> Iterable[ErpConnector]:
        connector = erp_system.connect()
        yield connector
        connector.close()

    @pytest.fixture
    def main_currency(self, erp_seed: SeedData) -> str:
        return Counter(i.currency for i in erp_seed.open_items if i.open_amount > 0).most_common(1)[0][0]

    def _receivables(self, erp: ErpConnector, seed: SeedData, currency: str, count: int = 1) -> list[OpenItem]:
        seeded = {i.document for i in seed.open_items}
        found = [i for i in erp.open_items() if i.document in seeded and i.currency == currency
                 and i.open_amount > 0 and _part(i.open_amount) > 0]
        assert len(found) >= count, (f"open_items() returns {len(found)} seeded {currency} receivable(s) that can be "
                                     f"paid in part; the check needs {count}")
        return sorted(found, key=lambda i: i.document)[:count]

    def _posting(self, system: ErpTestSystem, customer_id: str, currency: str,
                 applications: Sequence[tuple[OpenItem, Decimal]] = (), amount: Decimal | None = None) -> Posting:
        apps = tuple(Application(document=i.document, reference=i.reference, amount=a, currency=i.currency)
                     for i, a in applications)
        total = amount if amount is not None else sum((a for _, a in applications), Decimal(0))
        return Posting(key=_key(), company=system.company, kind=PostingKind.APPLY if apps else PostingKind.ON_ACCOUNT,
                       customer_id=customer_id, currency=currency, amount=total, value_date=dt.date.today(),
                       bank_account="0123456789", bank_reference="CONFORMANCE", applications=apps,
                       text="conciliador conformance kit")

    # -- the connector and its settings --------------------------------------------------------
    def test_declarations_are_known(self, erp_system: ErpTestSystem) -> None:
        """Every ``cannot_provoke`` entry names a known provocation and gives a reason."""
        unknown = set(erp_system.cannot_provoke) - set(ErpTestSystem.PROVOCATIONS)
        assert not unknown, f"cannot_provoke names {sorted(unknown)}; known: {ErpTestSystem.PROVOCATIONS}"
        assert all(str(r).strip() for r in erp_system.cannot_provoke.values()), "each cannot_provoke needs a reason"

    def test_connector_class_is_well_formed(self, erp_system: ErpTestSystem) -> None:
        """The class is an ErpConnector with a one-word ``name`` and a ``Settings`` model that
        accepts the test system's settings and refuses a key it does not know."""
        cls = erp_system.connector_class
        assert isinstance(cls, type) and issubclass(cls, ErpConnector), f"{cls!r} is not an ErpConnector subclass"
        assert isinstance(getattr(cls, "name", None), str) and re.fullmatch(r"[A-Za-z0-9_.-]+", cls.name), \
            f"{cls.__name__}.name must be one word (letters, digits, '-', '_', '.'), got {getattr(cls, 'name', None)!r}"
        assert issubclass(cls.Settings, ConnectorSettings), f"{cls.__name__}.Settings must subclass ConnectorSettings"
        cls.Settings.model_validate(erp_system.settings(), context={"base_dir": Path.cwd()})
        with pytest.raises(ValidationError):
            cls.Settings.model_validate({**erp_system.settings(), "conformance_misspelt_key": "x"})

    def test_discoverable_through_entry_point(self, erp_system: ErpTestSystem) -> None:
        """The installed package registers the connector: the agent's plugin host finds it by name,
        and the plugin declares a plugin API this conciliador supports."""
        _assert_discoverable(erp_system.connector_class.name, erp_system.connector_class,
                             "conciliador_erp_connectors", lambda host: host.erp_connectors().get(erp_system.connector_class.name))

    # -- reading ---------------------------------------------------------------------------------
    def test_check_passes_and_changes_nothing(self, erp: ErpConnector) -> None:
        """``check()`` returns CheckResults, all ok against the reachable test system, and changes
        nothing: customers and open items read the same before and after."""
        before = (sorted(c.id for c in erp.customers()), _open(erp))
        results = list(erp.check())
        assert results, "check() returned no results"
        assert all(isinstance(r, CheckResult) for r in results), results
        assert all(r.ok for r in results), [r for r in results if not r.ok]
        assert (sorted(c.id for c in erp.customers()), _open(erp)) == before

    def test_customers_match_seed(self, erp: ErpConnector, erp_seed: SeedData) -> None:
        """``customers()`` returns Customer objects with the seeded id, name and tax id, each id
        once, and only those when the seed is exhaustive."""
        customers = list(erp.customers())
        assert all(isinstance(c, Customer) for c in customers), customers[:3]
        ids = [c.id for c in customers]
        assert len(ids) == len(set(ids)), f"customer ids repeat: {[i for i, n in Counter(ids).items() if n > 1]}"
        by_id = {c.id: c for c in customers}
        for want in erp_seed.customers:
            got = by_id.get(want.id)
            assert got is not None, f"seeded customer {want.id} is missing"
            assert (got.name, got.tax_id) == (want.name, want.tax_id), f"customer {want.id}: {got} != {want}"
        if erp_seed.exhaustive:
            assert set(by_id) == {c.id for c in erp_seed.customers}

    def test_open_items_match_seed(self, erp: ErpConnector, erp_seed: SeedData) -> None:
        """``open_items()`` returns OpenItem objects with the seeded customer, reference, currency
        and exact Decimal amounts, each document once, every customer known."""
        items = list(erp.open_items())
        assert all(isinstance(i, OpenItem) for i in items), items[:3]
        docs = [i.document for i in items]
        assert len(docs) == len(set(docs)), f"documents repeat: {[d for d, n in Counter(docs).items() if n > 1]}"
        known = {c.id for c in erp.customers()}
        assert not [i for i in items if i.customer_id not in known], "open items of customers customers() does not list"
        by_doc = {i.document: i for i in items}
        for want in erp_seed.open_items:
            got = by_doc.get(want.document)
            assert got is not None, f"seeded open item {want.document} is missing"
            for name in ("customer_id", "reference", "currency", "open_amount", "original_amount"):
                assert getattr(got, name) == getattr(want, name), \
                    f"{want.document}.{name}: got {getattr(got, name)!r}, seeded {getattr(want, name)!r}"
            assert isinstance(got.open_amount, Decimal)
        if erp_seed.exhaustive:
            assert set(by_doc) == {i.document for i in erp_seed.open_items}

    def test_open_items_since_is_a_hint(self, erp: ErpConnector) -> None:
        """``open_items(since)`` accepts a timestamp and returns a subset of ``open_items()``
        (everything is fine for an ERP that cannot read changes)."""
        everything = _open(erp)
        recent = _open_since(erp, dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
        assert set(recent) <= set(everything)

    # -- posting ---------------------------------------------------------------------------------
    def test_post_full_application(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                   main_currency: str) -> None:
        """Posting a payment of an item's whole open amount returns a PostingResult with the key and
        a document; the item is no longer open; ``find_posting`` finds that document."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        posting = self._posting(erp_system, item.customer_id, item.currency, [(item, item.open_amount)])
        result = erp.post(posting)
        assert isinstance(result, PostingResult), result
        assert result.key == posting.key and result.document, result
        after = _open(erp).get(item.document)
        assert after is None or after.open_amount == 0, f"{item.document} still open: {after}"
        found = erp.find_posting(posting.key)
        assert found is not None and (found.key, found.document) == (posting.key, result.document), found

    def test_post_on_account(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                             main_currency: str) -> None:
        """A payment on account (no applications) is posted and found by key; no item changes."""
        before = _open(erp)
        customer = next(i.customer_id for i in erp_seed.open_items if i.currency == main_currency)
        posting = self._posting(erp_system, customer, main_currency, amount=Decimal("1000"))
        result = erp.post(posting)
        assert result.key == posting.key and result.document
        assert erp.find_posting(posting.key) is not None
        assert _open(erp) == before

    def test_partial_application(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                 main_currency: str) -> None:
        """Paying part of an item leaves it open for exactly the rest; other items do not move."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        before = _open(erp)
        part = _part(item.open_amount)
        erp.post(self._posting(erp_system, item.customer_id, item.currency, [(item, part)]))
        after = _open(erp)
        assert item.document in after, f"{item.document} was paid in part but is no longer open"
        assert after[item.document].open_amount == item.open_amount - part, \
            f"{item.document}: open {after[item.document].open_amount}, expected {item.open_amount} - {part}"
        assert {d: i for d, i in after.items() if d != item.document} == \
               {d: i for d, i in before.items() if d != item.document}

    def test_one_payment_for_several_items(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                           main_currency: str) -> None:
        """One payment applied to two items (one in full, one in part) reduces both, in one
        document found by its key."""
        first, second = self._receivables(erp, erp_seed, main_currency, count=2)
        posting = self._posting(erp_system, first.customer_id, main_currency,
                                [(first, first.open_amount), (second, _part(second.open_amount))])
        result = erp.post(posting)
        after = _open(erp)
        assert after.get(first.document) is None or after[first.document].open_amount == 0
        assert after[second.document].open_amount == second.open_amount - _part(second.open_amount)
        assert erp.find_posting(posting.key).document == result.document

    def test_repost_same_key_posts_once(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                        main_currency: str) -> None:
        """Posting the same key again creates no second document: the connector answers with the
        first document, or refuses with PermanentError; the item is reduced once."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        part = _part(item.open_amount)
        posting = self._posting(erp_system, item.customer_id, item.currency, [(item, part)])
        first = erp.post(posting)
        try:
            again = erp.post(posting)
        except PermanentError:
            again = None
        if again is not None:
            assert again.document == first.document, f"a second document {again.document} for key {posting.key}"
        assert _open(erp)[item.document].open_amount == item.open_amount - part, "the item was reduced twice"
        assert erp.find_posting(posting.key).document == first.document

    def test_find_posting_after_lost_response(self, erp: ErpConnector, erp_system: ErpTestSystem,
                                              erp_seed: SeedData, main_currency: str) -> None:
        """When the answer to a committed post is lost, a new connector (as after a restart) finds
        the document by its key with ``find_posting``."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        posting = self._posting(erp_system, item.customer_id, item.currency, [(item, _part(item.open_amount))])
        lossy = LostResponse(erp)
        with pytest.raises(RetryableError):
            lossy.post(posting)
        [lost] = lossy.lost
        fresh = erp_system.connect()
        try:
            found = fresh.find_posting(posting.key)
        finally:
            fresh.close()
        assert found is not None, f"find_posting({posting.key!r}) found nothing after the ERP committed {lost.document}"
        assert (found.key, found.document) == (posting.key, lost.document), found

    def test_posting_steps_resume(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                  main_currency: str) -> None:
        """Made step by step as the agent makes it (``posting_steps``, then ``post_step`` for each),
        a payment clears its item; after each step ``find_step`` finds that step's document, so a
        step whose answer was lost is never sent twice; ``find_posting`` finds the last one."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        posting = self._posting(erp_system, item.customer_id, item.currency, [(item, _part(item.open_amount))])
        steps = tuple(erp.posting_steps(posting))
        assert steps and len(set(steps)) == len(steps) and all(isinstance(s, str) and s for s in steps), \
            f"posting_steps() must name each step once, got {steps!r}"
        done: dict[str, PostingResult] = {}
        for step in steps:
            assert erp.find_step(posting, step, done) is None, f"find_step({step!r}) finds a document before the step ran"
            result = erp.post_step(posting, step, done)
            found = erp.find_step(posting, step, done)
            assert found is not None and found.document == result.document, \
                f"after step {step!r} made {result.document}, find_step found {found}"
            done[step] = result
        assert _open(erp)[item.document].open_amount == item.open_amount - _part(item.open_amount)
        assert erp.find_posting(posting.key).document == done[steps[-1]].document

    def test_reversal_reopens_or_is_refused(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                            main_currency: str) -> None:
        """Reversing a posted payment (``reverse`` with a posting of kind ``reversal``) either opens
        its item again by the amount it had cleared, with the reversal found by its own key, or is
        refused with PermanentError and changes nothing (the connector cannot reverse)."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        original = self._posting(erp_system, item.customer_id, item.currency, [(item, _part(item.open_amount))])
        posted = erp.post(original)
        before = _open(erp)
        reversal = original.model_copy(update={"key": _key(), "kind": PostingKind.REVERSAL, "reverses": posted.document})
        try:
            result = erp.reverse(reversal)
        except PermanentError as exc:
            assert str(exc).strip(), "the PermanentError refusing a reversal has no message for finance"
            assert _open(erp) == before, "the reversal was refused, yet open items changed"
            return
        assert result.key == reversal.key and result.document and result.document != posted.document, result
        assert _open(erp)[item.document].open_amount == item.open_amount, "the reversed item is not open again in full"
        assert erp.find_posting(reversal.key).document == result.document

    def test_find_posting_of_unknown_key_is_none(self, erp: ErpConnector) -> None:
        """``find_posting`` of a key the ERP never saw returns None (it does not raise)."""
        assert erp.find_posting(_key()) is None

    def test_currency(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                      main_currency: str) -> None:
        """A payment in a second currency is applied in that currency, to the exact fraction, and
        items in other currencies do not move."""
        others = sorted({i.currency for i in erp_seed.open_items if i.open_amount > 0} - {main_currency})
        if not others:
            _exempt(erp_system, "second_currency")
            pytest.fail("the seed holds no open receivable in a second currency", pytrace=False)
        currency = others[0]
        [item] = self._receivables(erp, erp_seed, currency)
        before = _open(erp)
        part = _part(item.open_amount)
        erp.post(self._posting(erp_system, item.customer_id, currency, [(item, part)]))
        after = _open(erp)
        assert after[item.document].currency == currency
        assert after[item.document].open_amount == item.open_amount - part
        assert {d: i for d, i in after.items() if i.currency != currency} == \
               {d: i for d, i in before.items() if i.currency != currency}

    def test_einvoice_status(self, erp: ErpConnector, erp_seed: SeedData) -> None:
        """``post_einvoice_status`` records a DIAN status for a seeded document without raising."""
        item = erp_seed.open_items[0]
        erp.post_einvoice_status(item.document, item.cufe or "cufe-conformance", "accepted",
                                 dt.datetime.now(dt.UTC).replace(microsecond=0))

    def test_close_twice(self, erp_system: ErpTestSystem, erp_seed: SeedData) -> None:
        """``close()`` may be called twice (the agent closes on stop and reload)."""
        connector = erp_system.connect()
        list(connector.customers())
        connector.close()
        connector.close()

    # -- error mapping ---------------------------------------------------------------------------
    def _refused(self, erp: ErpConnector, posting: Posting, what: str) -> None:
        before = _open(erp)
        with pytest.raises(PermanentError) as info:
            erp.post(posting)
        assert str(info.value).strip(), f"the PermanentError for {what} has no message for finance"
        assert erp.find_posting(posting.key) is None, f"{what}: refused, yet find_posting finds a document"
        assert _open(erp) == before, f"{what}: refused, yet open items changed"

    def test_unknown_customer_is_permanent(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                           main_currency: str) -> None:
        """A payment for a customer the ERP does not know raises PermanentError and leaves nothing."""
        customer = next(i.customer_id for i in erp_seed.open_items if i.currency == main_currency)
        base = self._posting(erp_system, customer, main_currency, amount=Decimal("1000"))
        self._refused(erp, erp_system.unknown_customer(base), "unknown customer")

    def test_unknown_document_is_permanent(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                           main_currency: str) -> None:
        """A payment applied to a document the ERP does not hold raises PermanentError and leaves nothing."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        base = self._posting(erp_system, item.customer_id, item.currency, [(item, _part(item.open_amount))])
        self._refused(erp, erp_system.unknown_document(base), "unknown document")

    def test_closed_period_is_permanent(self, erp: ErpConnector, erp_system: ErpTestSystem, erp_seed: SeedData,
                                        main_currency: str) -> None:
        """A payment into a closed accounting period raises PermanentError and leaves nothing."""
        [item] = self._receivables(erp, erp_seed, main_currency)
        base = self._posting(erp_system, item.customer_id, item.currency, [(item, _part(item.open_amount))])
        posting = _provided(erp_system, "closed_period", lambda: erp_system.closed_period(base))
        self._refused(erp, posting, "closed period")

    def test_unreachable_is_retryable(self, erp_system: ErpTestSystem, erp_seed: SeedData, main_currency: str) -> None:
        """Against a system that cannot be reached, reading, posting and ``find_posting`` raise
        RetryableError (never None, never another exception); ``check()`` reports it as not ok."""
        settings = _provided(erp_system, "unreachable", erp_system.unreachable_settings)
        connector = erp_system.connect(settings)
        customer = next(i.customer_id for i in erp_seed.open_items if i.currency == main_currency)
        posting = self._posting(erp_system, customer, main_currency, amount=Decimal("1000"))
        calls: dict[str, Callable[[], Any]] = {
            "customers()": lambda: list(connector.customers()),
            "open_items()": lambda: list(connector.open_items()),
            "post()": lambda: connector.post(posting),
            "find_posting()": lambda: connector.find_posting(posting.key),
        }
        wrong = []
        for name, call in calls.items():
            try:
                outcome = call()
            except RetryableError:
                continue
            except Exception as exc:
                wrong.append(f"{name} raised {exc!r}")
            else:
                wrong.append(f"{name} returned {outcome!r}")
        try:
            results = list(connector.check())
            if all(r.ok for r in results):
                wrong.append(f"check() reported all ok: {results}")
        except ConnectorError:
            pass
        except Exception as exc:
            wrong.append(f"check() raised {exc!r}")
        finally:
            connector.close()
        assert not wrong, "against an unreachable system each call must raise RetryableError: " + "; ".join(wrong)

    # -- with the agent --------------------------------------------------------------------------
    def test_agent_applies_a_payment_end_to_end(self, erp_system: ErpTestSystem, erp_seed: SeedData,
                                                main_currency: str, tmp_path: Path) -> None:
        """The agent, configured with the test system's settings, reads a statement paying a seeded
        invoice, matches it, posts it (its first answer lost, so it recovers with ``find_posting``)
        and the ERP shows the invoice paid, once."""
        from .config import Settings
        from .daemon import Agent
        from .store import Database

        probe = erp_system.connect()
        try:
            item = _matchable(probe, erp_seed, main_currency)
        finally:
            probe.close()
        account = "0123456789"
        settings = Settings(
            config_file=tmp_path / "conciliador.toml",
            intake={"stable_seconds": 0},
            poster={"max_attempts": 3, "backoff_initial_seconds": 0.01, "backoff_max_seconds": 0.05},
            companies={erp_system.company: {"erp": erp_system.connector_class.name, "accounts": [account],
                                            "currency": main_currency, "erp_settings": erp_system.settings()}},
        )
        agent = Agent(settings)
        try:
            lossy = LostResponse(agent.rt.connectors[erp_system.company])
            agent.rt.connectors[erp_system.company] = lossy  # type: ignore[assignment]
            payer = next((c.name for c in erp_seed.customers if c.id == item.customer_id), "")
            text = io.StringIO()
            text.write("# conciliador-csv v1\n")
            rows = csv.writer(text, lineterminator="\n")
            rows.writerow(["account", "booking_date", "amount", "currency", "bank_reference", "payer_name", "remittance"])
            rows.writerow([account, dt.date.today().isoformat(), item.open_amount, item.currency, "CONF0001", payer,
                           f"PAGO {item.reference or item.document}"])
            (agent.rt.folders["inbox"] / "statement.csv").write_text(text.getvalue(), encoding="utf-8")
            summary = agent.run_once()
        finally:
            agent.close()
        assert [f.status for f in summary.files] == ["archived"], summary.files
        assert (summary.posted, summary.failed, summary.pending) == (1, 0, 0), summary
        assert len(lossy.lost) == 1
        db = Database.open(settings.folders.state)
        try:
            [(key, document)] = db.conn.execute("SELECT key, erp_document FROM outbox").fetchall()
            # A posting in several steps records a step found after a lost answer on that step's event.
            recovered = db.conn.execute("SELECT count(*) FROM audit WHERE event IN ('posted', 'posting_step_done') AND "
                                        "json_extract(detail, '$.recovered_by_find_posting')").fetchone()[0]
        finally:
            db.close()
        assert document == lossy.lost[0].document and recovered == 1
        fresh = erp_system.connect()
        try:
            after = _open(fresh).get(item.document)
            assert after is None or after.open_amount == 0, f"{item.document} after the agent ran: {after}"
            assert fresh.find_posting(key).document == document
        finally:
            fresh.close()


def _open_since(erp: ErpConnector, since: dt.datetime) -> dict[str, OpenItem]:
    return {item.document: item for item in erp.open_items(since=since)}


def _matchable(erp: ErpConnector, seed: SeedData, currency: str) -> OpenItem:
    from .matching.engine import normalise_reference  # the engine's own rule for what it can find

    live = _open(erp)
    counts = Counter(normalise_reference(i.reference or i.document) for i in live.values())
    for want in sorted(seed.open_items, key=lambda i: i.document):
        item = live.get(want.document)
        if item is None or item.currency != currency or item.open_amount <= 0:
            continue
        token = normalise_reference(item.reference or item.document)
        if len(token) >= 3 and any(ch.isdigit() for ch in token) and counts[token] == 1:
            return item
    pytest.fail("no seeded open receivable has a reference (or document) with a digit, unique among the open "
                "items, that the agent's matching could find (see conciliador.testing.SeedData)", pytrace=False)


def _seed_problems(seed: SeedData, system: ErpTestSystem) -> list[str]:
    problems = []
    ids = {c.id for c in seed.customers}
    if len(ids) < 2:
        problems.append("at least two customers")
    strays = sorted({i.customer_id for i in seed.open_items} - ids)
    if strays:
        problems.append(f"open items of customers not in the seed: {', '.join(strays)}")
    payable = Counter(i.currency for i in seed.open_items if i.open_amount > 0 and _part(i.open_amount) > 0)
    if not payable or payable.most_common(1)[0][1] < 2:
        problems.append("at least two open receivables in one currency that can be paid in part")
    if len(payable) < 2 and "second_currency" not in system.cannot_provoke:
        problems.append("an open receivable in a second currency, or cannot_provoke['second_currency']")
    return problems


def _assert_discoverable(name: str, obj_type: type, hook: str, lookup: Callable[[PluginHost], Any]) -> None:
    host = PluginHost().load()
    found = lookup(host)
    plugin = host.providers(hook).get(name)
    assert found is not None, (
        f"the agent's plugin host does not find {name!r}. Install your package (pip install -e .) so its "
        f"entry point in the 'conciliador' group is registered. Plugin host errors: {host.errors or 'none'}")
    found_type = found if isinstance(found, type) else type(found)
    assert found_type is obj_type, f"{name!r} is provided by {found_type!r} of plugin {plugin}, not by {obj_type!r}"
    info = next(i for i in host.infos if i.name == plugin)
    assert info.api, (f"plugin {plugin} ({info.source}) does not declare the plugin API it targets: add "
                      f"CONCILIADOR_PLUGIN_API = \"{PLUGIN_API_VERSION.split('.')[0]}\" to its module")


# == bank formats ==================================================================================


@dataclass(frozen=True)
class BankSample:
    """A good sample file and what the format must read from it.

    ``lines`` lists the expected statement lines in order, each a mapping of the fields to compare
    (fields left out are not compared; amounts and dates as text, ``"-1500.00"``, ``"2026-11-02"``).
    Every line must be listed unless ``line_count`` is given, in which case ``lines`` are the first
    ones. ``summaries``, when not None, lists the expected StatementSummary objects the same way.
    """

    path: Path
    lines: Sequence[Mapping[str, Any]]
    summaries: Sequence[Mapping[str, Any]] | None = None
    line_count: int | None = None

    @property
    def expected_count(self) -> int:
        return self.line_count if self.line_count is not None else len(self.lines)


@dataclass(frozen=True)
class BadSample:
    """A file the format must refuse with StatementError; ``position``, ``field`` and a fragment of
    the ``message`` are checked when given (the position must never be empty)."""

    path: Path
    position: str | None = None
    field: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class BankFormatCase:
    """The vendor's side of the bank format suite.

    ``samples`` holds at least one :class:`BankSample` and one :class:`BadSample`
    (:func:`load_samples` reads them from a folder). ``make_large(path, n)`` writes a valid file
    of ``n`` transactions, for the streaming check. ``claims`` names the kit's
    :data:`FOREIGN_SAMPLES` this format legitimately reads (it must score 0.0 on all others);
    ``foreign`` adds paths of files it must not claim (say, another bank's similar layout).
    """

    format: BankFormat
    samples: Sequence[BankSample | BadSample]
    make_large: Callable[[Path, int], None]
    claims: Sequence[str] = ()
    foreign: Sequence[Path] = ()

    @property
    def good(self) -> list[BankSample]:
        return [s for s in self.samples if isinstance(s, BankSample)]

    @property
    def bad(self) -> list[BadSample]:
        return [s for s in self.samples if isinstance(s, BadSample)]


def load_samples(folder: Path | str) -> list[BankSample | BadSample]:
    """Samples from ``folder``: ``X`` beside ``X.expected.json`` (``{"lines": [...], "summaries":
    [...], "line_count": N}``) is a good sample, beside ``X.error.json`` (``{"position": ...,
    "field": ..., "message": ...}``) a bad one. A file with neither is an error, so no sample is
    left unchecked by mistake."""
    folder = Path(folder)
    samples: list[BankSample | BadSample] = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".json")):
        expected, error = path.with_name(path.name + ".expected.json"), path.with_name(path.name + ".error.json")
        if expected.exists():
            data = json.loads(expected.read_text(encoding="utf-8"))
            samples.append(BankSample(path, data["lines"], data.get("summaries"), data.get("line_count")))
        elif error.exists():
            data = json.loads(error.read_text(encoding="utf-8"))
            samples.append(BadSample(path, data.get("position"), data.get("field"), data.get("message")))
        else:
            raise ValueError(f"sample {path} has neither {expected.name} nor {error.name} beside it")
    return samples


def _asobancaria() -> bytes:
    def rec(text: str) -> bytes:
        return text.ljust(162).encode() + b"\r\n"

    return (rec("01" + "9001234567" + "20261120" + "007" + "00000000123456789" + "20261120" + "0800" + "A" + "02")
            + rec("05" + "7709998887776" + "0001")
            + rec("06" + "9001".zfill(48) + "150000000".zfill(14) + "01" + "01" + "000001" + "000001" + "007"
                  + "0001" + "0000001" + "000")
            + rec("08" + "1".zfill(9) + "150000000".zfill(18) + "0001")
            + rec("09" + "1".zfill(9) + "150000000".zfill(18)))


FOREIGN_SAMPLES: Mapping[str, bytes] = {
    "conciliador-csv": b"# conciliador-csv v1\naccount,booking_date,amount,currency,bank_reference,payer_name,remittance\n"
                       b"0123-456789-01,2026-11-20,1500000.00,COP,REF000001,Cliente 1,PAGO FE-1001\n",
    "camt.053": b'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
                b"<BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-20T08:00:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>"
                b"<Acct><Id><Othr><Id>0123456789</Id></Othr></Id><Ccy>COP</Ccy></Acct><Ntry><Amt Ccy=\"COP\">1500000.00</Amt>"
                b"<CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>2026-11-20</Dt></BookgDt></Ntry></Stmt>"
                b"</BkToCstmrStmt></Document>\n",
    "mt940": b":20:STMT20261120\r\n:25:0123456789\r\n:28C:1/1\r\n:60F:C261119COP1000000,00\r\n"
             b":61:2611201120C1500000,00NTRFREF000001//B1\r\n:86:PAGO FE-1001\r\n:62F:C261120COP2500000,00\r\n-\r\n",
    "bai2": b"01,BANKID,CUSTID,261120,0800,1,80,,2/\n02,CUSTID,BANKID,1,261120,,COP,2/\n"
            b"03,0123456789,COP,010,100000000,,,015,250000000,,/\n16,175,150000000,,REF000001,,PAGO FE-1001\n"
            b"49,500000000,3/\n98,500000000,1,5/\n99,500000000,1,7/\n",
    "ofx": b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
           b"COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX><BANKMSGSRSV1><STMTTRNRS><STMTRS><CURDEF>COP"
           b"<BANKACCTFROM><BANKID>001<ACCTID>0123456789<ACCTTYPE>CHECKING</BANKACCTFROM><BANKTRANLIST><STMTTRN>"
           b"<TRNTYPE>CREDIT<DTPOSTED>20261120<TRNAMT>1500000.00<FITID>REF000001<NAME>Cliente 1<MEMO>PAGO FE-1001"
           b"</STMTTRN></BANKTRANLIST></STMTRS></STMTTRNRS></BANKMSGSRSV1></OFX>\n",
    "asobancaria-2001": _asobancaria(),
    # Files no bank format may claim.
    "empty": b"",
    "noise": random.Random(2026).randbytes(4096),
    "pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n",
    "png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89",
    "text": "Estimado cliente:\nadjuntamos la factura FE-1001 por $1.500.000.\nCordialmente,\nCartera\n".encode(),
    "html": b"<!DOCTYPE html>\n<html><head><title>Extracto</title></head><body><table><tr><td>1500000</td></tr>"
            b"</table></body></html>\n",
    "json": b'{"account": "0123456789", "transactions": [{"date": "2026-11-20", "amount": "1500000.00"}]}\n',
}
"""Small files of other formats (and of no format) that a bank format must score 0.0 unless it
names them in :attr:`BankFormatCase.claims`."""


class _CountingRaw(io.RawIOBase):
    """A file that counts the bytes handed to its reader."""

    def __init__(self, fh: Any) -> None:
        self._fh = fh
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._fh.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _parse(fmt: BankFormat, data: bytes, filename: str) -> list[StatementLine | StatementSummary]:
    return list(fmt.parse(io.BufferedReader(_CountingRaw(io.BytesIO(data))), filename))


def _differences(item: Any, expected: Mapping[str, Any], where: str) -> list[str]:
    out = []
    for name, want in expected.items():
        if name not in type(item).model_fields:
            out.append(f"{where}: {name!r} is not a {type(item).__name__} field")
            continue
        got = getattr(item, name)
        if isinstance(got, Decimal) and want is not None:
            same = got == Decimal(str(want))
        elif isinstance(got, dt.date) and isinstance(want, str):
            same = got.isoformat() == want
        else:
            same = got == want
        if not same:
            out.append(f"{where}.{name}: got {got!r}, expected {want!r}")
    return out


def _mangled(data: bytes) -> dict[str, bytes]:
    mid = len(data) // 2
    first_line = data.split(b"\n", 1)[0] + b"\n"
    return {
        "empty": b"",
        "first line only": first_line,
        "cut in half": data[:mid],
        "cut at two thirds": data[: len(data) * 2 // 3],
        "non-UTF-8 bytes in the middle": data[:mid] + b"\xff\xfe\xfa" + data[mid:],
        "NUL bytes in the middle": data[:mid] + b"\x00" * 8 + data[mid:],
        "garbage appended": data + b"\n\x00\xff#$%garbage%$#\x01\n",
        "a line repeated": data[:mid] + data[mid:].split(b"\n", 1)[0] + b"\n" + data[mid:],
    }


class BankFormatConformance:
    """The bank format suite. Subclass it and provide a fixture ``bank_format_case`` returning a
    :class:`BankFormatCase`."""

    kit_kind: ClassVar[str] = "bank format"

    @pytest.fixture
    def case(self, bank_format_case: BankFormatCase) -> BankFormatCase:
        problems = []
        if not isinstance(bank_format_case.format, BankFormat):
            problems.append(f"format is {bank_format_case.format!r}, not a BankFormat instance")
        if not bank_format_case.good:
            problems.append("no good sample (a BankSample)")
        if not bank_format_case.bad:
            problems.append("no bad sample (a BadSample)")
        unknown = set(bank_format_case.claims) - set(FOREIGN_SAMPLES)
        if unknown:
            problems.append(f"claims names unknown samples {sorted(unknown)}; known: {sorted(FOREIGN_SAMPLES)}")
        if problems:
            pytest.fail("bank_format_case: " + "; ".join(problems), pytrace=False)
        return bank_format_case

    def test_format_is_well_formed(self, case: BankFormatCase) -> None:
        """The format has a one-word ``name`` and a ``description`` for ``conciliador plugins list``."""
        fmt = case.format
        assert isinstance(fmt.name, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", fmt.name), \
            f"name must be one word (letters, digits, '-', '_', '.'), got {fmt.name!r}"
        assert isinstance(fmt.description, str) and fmt.description.strip(), "describe the files it reads"

    def test_discoverable_through_entry_point(self, case: BankFormatCase) -> None:
        """The installed package registers the format: the agent's plugin host finds it by name,
        and the plugin declares a plugin API this conciliador supports."""
        fmt = case.format
        _assert_discoverable(fmt.name, type(fmt), "conciliador_bank_formats",
                             lambda host: next((f for f in host.bank_formats() if f.name == fmt.name), None))

    def test_detects_own_samples(self, case: BankFormatCase) -> None:
        """Each good sample scores above 0 from its first HEAD_BYTES bytes, also under another file
        name (content decides; the name is a hint at most); where that score is a "maybe" (below
        MAYBE_BELOW), ``detect_file`` on the whole sample keeps it (None) or gives one above 0."""
        for sample in case.good:
            data = sample.path.read_bytes()
            for name in (sample.path.name, "renamed.dat"):
                score = case.format.detect(data[:HEAD_BYTES], name)
                assert isinstance(score, (int, float)) and 0 < score <= 1, f"{sample.path.name} as {name}: {score!r}"
                if score < MAYBE_BELOW:
                    refined = case.format.detect_file(io.BytesIO(data), name)
                    assert refined is None or (isinstance(refined, (int, float)) and 0 < refined <= 1), \
                        f"{sample.path.name} as {name}: detect_file gave {refined!r}"

    def test_agent_reads_own_samples(self, case: BankFormatCase) -> None:
        """With every installed format competing, the agent picks this format for each good sample
        and reads it without error (what ``conciliador parse`` shows)."""
        from .parsereport import parse_file

        host = PluginHost().load()
        formats = [f for f in host.bank_formats() if f.name != case.format.name] + [case.format]
        for sample in case.good:
            report = parse_file(sample.path, formats)
            assert report.format == case.format.name, f"{sample.path.name} is read as {report.format!r} ({report.scores})"
            assert report.error == "", f"{sample.path.name}: {report.error}"
            assert report.line_count == sample.expected_count

    def test_ignores_foreign_samples(self, case: BankFormatCase) -> None:
        """Files of other formats and of no format score 0.0 (unless the format names them in
        ``claims``), and so does an empty head; ``detect`` never raises on them, and neither does
        ``detect_file``, which must not claim them either (it returns None or 0.0)."""
        claimed = []
        foreign = {n: d for n, d in FOREIGN_SAMPLES.items() if n not in case.claims}
        foreign.update({str(p): p.read_bytes() for p in case.foreign})
        for name, data in foreign.items():
            score = case.format.detect(data[:HEAD_BYTES], f"sample-{name}.txt")
            if score != 0:
                claimed.append(f"{name} ({score})")
            refined = case.format.detect_file(io.BytesIO(data), f"sample-{name}.txt")
            if refined is not None and refined != 0:
                claimed.append(f"{name} (detect_file {refined})")
        assert not claimed, f"{case.format.name} claims foreign files: {', '.join(claimed)}"

    def test_detect_never_raises(self, case: BankFormatCase) -> None:
        """``detect`` returns a number from 0 to 1 for any head: cut at any length, or damaged."""
        for sample in case.good:
            data = sample.path.read_bytes()[:HEAD_BYTES]
            heads = [data[:n] for n in (0, 1, 2, 7, 64, len(data) // 2, len(data) - 1)]
            heads += [data.replace(b"\n", b"\r"), b"\xff" + data[1:], data[:32] + b"\x00" * 64]
            for head in heads:
                score = case.format.detect(head, sample.path.name)
                assert isinstance(score, (int, float)) and 0 <= score <= 1, f"detect gave {score!r} for {head[:40]!r}"

    def test_parses_samples_as_expected(self, case: BankFormatCase) -> None:
        """Each good sample yields only StatementLine and StatementSummary objects, the expected
        lines in order and, when listed, the expected summaries."""
        for sample in case.good:
            items = _parse(case.format, sample.path.read_bytes(), sample.path.name)
            odd = [type(i).__name__ for i in items if not isinstance(i, (StatementLine, StatementSummary))]
            assert not odd, f"{sample.path.name}: parse yielded {odd}"
            lines = [i for i in items if isinstance(i, StatementLine)]
            assert len(lines) == sample.expected_count, f"{sample.path.name}: {len(lines)} lines, expected {sample.expected_count}"
            problems = []
            for n, (line, want) in enumerate(zip(lines, sample.lines), start=1):
                problems += _differences(line, want, f"{sample.path.name} line {n}")
            if sample.summaries is not None:
                summaries = [i for i in items if isinstance(i, StatementSummary)]
                assert len(summaries) == len(sample.summaries), f"{sample.path.name}: {len(summaries)} summaries"
                for n, (summary, want) in enumerate(zip(summaries, sample.summaries), start=1):
                    problems += _differences(summary, want, f"{sample.path.name} summary {n}")
            assert not problems, "\n".join(problems)

    def test_identities_are_stable_and_unique(self, case: BankFormatCase) -> None:
        """Reading a sample twice gives the same line identities, and no two lines of one file share
        one (identical transactions get increasing ``ordinal``s): the agent stores each identity
        once, so a repeated identity would lose a real payment."""
        for sample in case.good:
            data = sample.path.read_bytes()
            first = [i.identity for i in _parse(case.format, data, sample.path.name) if isinstance(i, StatementLine)]
            second = [i.identity for i in _parse(case.format, data, sample.path.name) if isinstance(i, StatementLine)]
            assert first == second, f"{sample.path.name}: identities differ between two reads"
            repeated = [n for n, c in Counter(first).items() if c > 1]
            assert not repeated, f"{sample.path.name}: {len(repeated)} identities repeat; give equal lines ordinals"

    def test_summaries_follow_their_lines(self, case: BankFormatCase) -> None:
        """Each statement's summary comes after its lines, and what it declares (counts, control
        totals) agrees with them, as intake checks."""
        from .statements import StatementChecker

        for sample in case.good:
            checker = StatementChecker()
            for item in _parse(case.format, sample.path.read_bytes(), sample.path.name):
                if isinstance(item, StatementLine):
                    checker.add(item)
                else:
                    checker.close(item)  # raises StatementError when counts or totals disagree

    def test_streams_large_files(self, case: BankFormatCase, tmp_path: Path) -> None:
        """A file of 20,000 transactions is read incrementally: the first line is yielded before half
        the file was read, and every transaction arrives."""
        path = tmp_path / "large-statement"
        n = 20_000
        case.make_large(path, n)
        size = path.stat().st_size
        assert size >= 256 * 1024, f"make_large wrote {size} bytes for {n} transactions; the check needs 256 KiB"
        with open(path, "rb") as fh:
            raw = _CountingRaw(fh)
            stream = io.BufferedReader(raw, buffer_size=8192)
            items = case.format.parse(stream, path.name)
            count = 0
            for item in items:
                if isinstance(item, StatementLine):
                    if count == 0:
                        read_at_first = raw.count
                    count += 1
        assert count == n, f"{count} transactions read of the {n} written"
        assert read_at_first < size / 2, (f"the first line came after reading {read_at_first} of {size} bytes: "
                                          "read the stream incrementally, do not load the whole file")

    def test_bad_samples_are_refused_with_position(self, case: BankFormatCase) -> None:
        """Each bad sample raises StatementError (nothing else) naming where (``position``) and,
        when the sample says, the field and the problem."""
        for sample in case.bad:
            with pytest.raises(StatementError) as info:
                _parse(case.format, sample.path.read_bytes(), sample.path.name)
            exc = info.value
            assert exc.position, f"{sample.path.name}: the StatementError names no position: {exc}"
            if sample.position is not None:
                assert exc.position == sample.position, f"{sample.path.name}: position {exc.position!r}"
            if sample.field is not None:
                assert exc.field == sample.field, f"{sample.path.name}: field {exc.field!r}"
            if sample.message is not None:
                assert sample.message in str(exc), f"{sample.path.name}: {exc}"

    def test_damaged_files_raise_only_statement_error(self, case: BankFormatCase) -> None:
        """Damaged copies of each good sample (cut, bytes inserted, garbage appended) are either read
        or refused with a StatementError that names a position: never another exception."""
        wrong = []
        for sample in case.good:
            for how, data in _mangled(sample.path.read_bytes()).items():
                try:
                    _parse(case.format, data, sample.path.name)
                except StatementError as exc:
                    if not exc.position:
                        wrong.append(f"{sample.path.name} {how}: StatementError without a position: {exc}")
                except Exception as exc:
                    wrong.append(f"{sample.path.name} {how}: {exc!r}")
        assert not wrong, "\n".join(wrong)


# == the pytest plugin =============================================================================

_RESULTS_KEY = pytest.StashKey[dict]()
_SUITE_KEY = pytest.StashKey[tuple]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("conciliador").addoption(
        "--conciliador-report", metavar="FILE", default=None,
        help="write the conformance results (passed, failed, exempt with reasons) to FILE as JSON")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "conformance: a check of the conciliador conformance kit")
    config.stash[_RESULTS_KEY] = {}


def pytest_report_header(config: pytest.Config) -> str:
    from . import __version__

    return f"conciliador conformance kit: conciliador {__version__}, plugin API {PLUGIN_API_VERSION}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        cls = getattr(item, "cls", None)
        if cls is not None and issubclass(cls, (ErpConformance, BankFormatConformance)):
            item.add_marker("conformance")
            item.stash[_SUITE_KEY] = (cls.__name__, cls.kit_kind)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    suite = item.stash.get(_SUITE_KEY, None)
    if suite is not None and (report.when == "call" or report.outcome != "passed"):
        results = item.config.stash.get(_RESULTS_KEY, {})
        outcome = report.outcome
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
            outcome = "exempt"
        elif report.failed:
            crash = getattr(getattr(report.longrepr, "reprcrash", None), "message", "") or str(report.longrepr)
            reason = crash.strip().splitlines()[0] if crash.strip() else ""
        results.setdefault(suite[:2], {})[item.name] = {"outcome": outcome, "reason": reason}
    return report


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = config.stash.get(_RESULTS_KEY, {})
    if not results:
        return
    tr = terminalreporter
    tr.section("conciliador conformance")
    report = []
    for (suite, kind), checks in sorted(results.items()):
        counts = Counter(c["outcome"] for c in checks.values())
        tr.write_line(f"{suite} ({kind}): " + ", ".join(f"{n} {o}" for o, n in sorted(counts.items())))
        for name, check in checks.items():
            if check["outcome"] != "passed":
                tr.write_line(f"  {check['outcome']:<7} {name}: {check['reason']}")
        report.append({"suite": suite, "kind": kind, "plugin_api": PLUGIN_API_VERSION, "checks": checks})
    if path := config.getoption("--conciliador-report", default=None):
        Path(path).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


@pytest.fixture
def erp_system() -> ErpTestSystem:
    """Override in your package: return your :class:`ErpTestSystem`."""
    pytest.fail("the ERP conformance suite needs a fixture named 'erp_system' returning an ErpTestSystem "
                "(see conciliador.testing)", pytrace=False)


@pytest.fixture
def bank_format_case() -> BankFormatCase:
    """Override in your package: return your :class:`BankFormatCase`."""
    pytest.fail("the bank format conformance suite needs a fixture named 'bank_format_case' returning a "
                "BankFormatCase (see conciliador.testing)", pytrace=False)


# == python -m conciliador.testing expected FILE ====================================================


def expected_json(path: Path, formats: Sequence[BankFormat] | None = None) -> dict[str, Any]:
    """What the installed formats read from ``path``, as the ``.expected.json`` the kit compares:
    every non-empty field of every line and summary."""
    from .statements import detect

    formats = list(formats) if formats is not None else PluginHost().load().bank_formats()
    fmt, scores = detect(path, formats)
    if fmt is None:
        raise SystemExit(f"no installed bank format recognises {path} (scores: {scores})")
    with open(path, "rb") as fh:
        items = list(fmt.parse(fh, path.name))

    def fields(item: Any) -> dict[str, Any]:
        return {k: v for k, v in item.model_dump(mode="json").items() if v not in ("", None) and not (k == "ordinal" and v == 0)}

    return {"format": fmt.name,
            "lines": [fields(i) for i in items if isinstance(i, StatementLine)],
            "summaries": [fields(i) for i in items if isinstance(i, StatementSummary)]}


def main(argv: Sequence[str] | None = None) -> None:
    from . import logs

    logs.configure("warning")
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "expected":
        raise SystemExit("usage: python -m conciliador.testing expected SAMPLE  (prints SAMPLE.expected.json)")
    print(json.dumps(expected_json(Path(args[1])), indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
