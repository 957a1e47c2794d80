"""The matching and application engine: statement lines + open items -> explained decisions.

A cascade, as every serious system runs one (reference/matching.md): first rule out what is not
a customer payment; then find the customer (NIT with a valid check digit, learned aliases of the
payer's account or name, fuzzy name) and the invoices (references in the texts, with or without
prefix, separators and zeros, one typo allowed within the customer's own invoices); then find the
allocation that explains the amount exactly: gross, net of Colombian withholdings under one
profile for the whole payment, minus an early-payment discount, within a write-off tolerance,
partial, or with the excess on account.

Two rules keep it from being wrong: a payment is applied only when at least two independent
signals agree (reference, customer, amount) and the score clears ``apply_threshold``; and when two
different allocations fit, none is picked (unless ``interchangeable = "oldest_first"`` and they
differ only in which of several identical invoices is taken). Everything else is a suggestion
with its ranked candidates, or unmatched, and every decision carries its evidence.

Pure: no I/O, no clock. The same input gives the same decisions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations

import numpy as np
from rapidfuzz.distance import Levenshtein

from conciliador.contracts import ReferenceExtractor
from conciliador.models import (
    Application,
    Customer,
    Decision,
    DecisionKind,
    Evidence,
    OpenItem,
    StatementLine,
    Withholding,
    normalise_account,
)

from .config import MatchConfig
from .index import CustomerIndex, Item, ItemIndex
from .layouts import Split, compile_layout, customer_number, split_reference
from .text import company_key, find_nits, fold, id_nit, numeric_core, reference_key
from .withholding import SCALE, RateUnits, from_units, profiles, to_units, withholding_split

MAX_SUGGESTIONS = 3
_NOT_PAYMENT = [
    (re.compile(r"\b(REVERSO|REVERSION|REVERSAL|DEVOLUCION|ANULACION|RECHAZO|RETORNO)\b"), "reversal"),
    (re.compile(r"\b(TRASLADO|TRANSFERENCIA) (ENTRE|DE) (CUENTAS|FONDOS) (PROPIAS)?|\bCUENTAS PROPIAS\b"), "internal_transfer"),
    (re.compile(r"\b(INTERESES|RENDIMIENTOS|ABONO INTERESES)\b"), "bank_interest"),
]
_PARTIAL_WORDS = re.compile(r"\b(ABONO|PARCIAL|ANTICIPO|CUOTA)\b")
_RVSL_CODES = re.compile(r"RVSL|REVERSAL|\bRD\b|\bRC\b", re.I)


def normalise_reference(text: str) -> str:
    """Upper-case and drop separators: ``fe-1001``, ``FE 1001`` and ``FE.1001`` are one key."""
    return reference_key(text)


@dataclass(frozen=True)
class _Ref:
    item: Item
    token: str
    field: str
    kind: str  # exact | core | typo


@dataclass
class _Solution:
    items: tuple[Item, ...]
    profile: RateUnits
    cash: tuple[int, ...]
    withheld: tuple[tuple[int, int, int], ...]
    discount: tuple[int, ...]
    write_off: int = 0
    on_account: int = 0
    partial: bool = False

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(sorted(i.document for i in self.items))


@dataclass
class Engine:
    """Decides the lines of one company against its customers and open items. One per run."""

    customers: Sequence[Customer]
    open_items: Iterable[OpenItem]
    extractors: Sequence[ReferenceExtractor]
    config: MatchConfig = field(default_factory=MatchConfig)
    aliases: Iterable[tuple[str, str, str]] = ()
    min_reference_length: int | None = None

    def __post_init__(self) -> None:
        cfg = self.config
        if self.min_reference_length is not None:
            cfg = self.config = dataclasses.replace(cfg, min_reference_length=self.min_reference_length)
        self.items = ItemIndex(self.open_items, cfg.min_reference_length, cfg.min_numeric_reference)
        self.people = CustomerIndex(self.customers, self.aliases, cfg.name_cutoff, cfg.name_margin)
        self.profiles = [RateUnits.of(p) for p in profiles(list(cfg.retefuente_rates), list(cfg.reteiva_rates),
                                                              list(cfg.reteica_rates))]
        self._rf = np.array([p.rf for p in self.profiles], dtype=np.float64)[:, None] / 1e6
        self._riva = np.array([p.riva for p in self.profiles], dtype=np.float64)[:, None] / 1e6
        self._rica = np.array([p.rica for p in self.profiles], dtype=np.float64)[:, None] / 1e6
        self.unit = to_units(cfg.withholding_unit) or SCALE
        self._max_base_rate = float(max(self._rf.max() + self._rica.max(), 0))
        self._max_vat_rate = float(self._riva.max())
        self.rounding = to_units(cfg.rounding_per_invoice) or 0
        self._own_accounts = {normalise_account(a) for a in cfg.own_accounts}
        self._seen: dict[tuple, str] = {}
        # The withholding profile each customer was last applied with: payers withhold the same
        # way payment after payment, which narrows the 1:N search and cuts coincidences.
        self._customer_profile: dict[str, int] = {}
        self._by_amount: dict[tuple[str, int], list[Item]] | None = None
        # Packed references (reference_layouts): compiled once; a bad layout is a ValueError here.
        self._layouts = tuple(compile_layout(p) for p in cfg.reference_layouts)
        self._last_split: tuple[StatementLine | None, Split | None] = (None, None)
        self._by_number: dict[str, list[str]] | None = None

    # -- public ------------------------------------------------------------------------------
    def decide_all(self, lines: Iterable[StatementLine]) -> list[Decision]:
        """Decide lines in the order given; what one line applies is no longer open for the next."""
        return [self.decide(line) for line in lines]

    def allocate(self, line: StatementLine, documents: Sequence[str]) -> tuple[tuple[Application, ...], tuple[Evidence, ...]] | None:
        """How ``line`` pays exactly the open items ``documents`` as this engine books its own matches:
        in full, net of a withholding profile, with an early-payment discount, or short by a write-off
        within tolerance. Returns the applications and the evidence, or None when no such reading
        exists (then it is a partial payment or an overpayment, the caller's call). Pure: the index
        is left as it was. Used when finance picks the invoices and the engine books the amounts."""
        wanted = list(dict.fromkeys(documents))
        chosen = {i.document: i for d in wanted for i in self.items.with_key(normalise_reference(d)) if i.document == d}
        amount = to_units(line.amount)
        if amount is None or len(chosen) != len(wanted):
            return None
        items = [chosen[d] for d in wanted]
        fits = self._fit(items, amount, line)
        solution = fits[0] if fits else None
        gross = sum(i.remaining for i in items)
        if solution is None and amount < gross:
            solution = self._within_tolerance(items, amount, self._tolerance(gross), line)
        if solution is None:
            return None
        return self._applications(line, solution), tuple(_solution_evidence(solution))

    def decide(self, line: StatementLine) -> Decision:
        if line.amount <= 0:
            return _decision(line, DecisionKind.IGNORE, "not_incoming",
                             [Evidence(rule="direction", code="not_incoming", field="amount", text=str(line.amount))])
        why = self._not_a_payment(line)
        if why:
            return _decision(line, DecisionKind.IGNORE, why, [Evidence(rule="not-a-payment", code=why, field="remittance",
                                                                       text=line.remittance[:80])])
        amount = to_units(line.amount)
        if amount is None:
            return _decision(line, DecisionKind.UNMATCHED, "amount_precision",
                             [Evidence(rule="amount", code="amount_precision", text=str(line.amount))])
        dup_key = (normalise_account(line.account), line.booking_date, amount, fold(line.payer_name),
                   fold(line.remittance), normalise_account(line.payer_account))
        if dup_key in self._seen:
            return _decision(line, DecisionKind.UNMATCHED, "possible_duplicate",
                             [Evidence(rule="duplicate", code="possible_duplicate",
                                       detail={"line": self._seen[dup_key][:16]})])
        self._seen[dup_key] = line.identity

        evidence: list[Evidence] = []
        split = self._split(line)
        if split is not None:
            evidence.append(Evidence(rule="reference", code="reference_split", field="end_to_end_id",
                                     text=line.end_to_end_id,
                                     detail={"layout": str(split.layout), "reference": split.reference,
                                             "parts": split.described()}))
        signals = self._customer_signals(line, evidence)
        refs = self._references(line, evidence)
        if split is not None and split.customer:
            named, owners = self._number_reading(split)
            if owners and not set(named) & owners:
                # The reference's customer number and its invoice name different customers: the
                # layout read the number wrong (a phone number, an account) or the payer mixed them.
                found = [r.item for r in refs if r.item.customer in owners]
                evidence.append(Evidence(rule="customer", code="reference_parts_disagree", field="end_to_end_id",
                                         text=split.customer,
                                         detail={"number": split.customer,
                                                 "documents": ", ".join(_unique_str(i.document for i in found))}))
                return self._suggest(line, found, "customer_conflict", evidence)
        if not signals and line.payer_name and not self._explained_by_references(line, amount, refs):
            # The fuzzy name search is the costliest step: only when NIT, aliases and the
            # references with the amount leave the payer open.
            signals = self._name_signal(line, evidence)
        if signals and not any(r.item.customer in signals for r in refs):
            # The payer is known but no number in the text is one of its invoices: with dense
            # sequential numbering a mistyped number often is someone else's invoice, so look for
            # a near miss among the payer's own invoices before believing the text.
            best = max(signals.items(), key=lambda kv: (kv[1], kv[0]))[0]
            typo = self._typo_references(line, best, evidence)
            if typo and refs:
                # Two stories: the number as written (someone else's invoice) or a near miss among
                # the payer's own. The amount decides when it fits exactly one of them.
                fits_typo = bool(self._fit([r.item for r in typo if r.item.remaining > 0], amount, line))
                fits_ref = any(self._fit([r.item], amount, line) for r in refs if r.item.remaining > 0)
                if fits_typo == fits_ref:
                    evidence.append(Evidence(rule="customer", code="customer_conflict",
                                             detail={"customer": best, "documents": ", ".join(r.item.document for r in refs)}))
                    return self._suggest(line, [r.item for r in refs + typo], "customer_conflict", evidence)
                if fits_ref:
                    typo = []
                    evidence.append(Evidence(rule="customer", code="name_overruled", field="payer_name", text=line.payer_name))
                    signals = {}
            if typo:
                refs = typo
            elif refs and signals and max(signals.values()) < 3:
                # A look-alike name is weaker than an invoice number found as written.
                evidence.append(Evidence(rule="customer", code="name_overruled", field="payer_name", text=line.payer_name))
                signals = {}
        customer, corroborated, problem = self._choose_customer(signals, refs, evidence)
        if problem:
            return self._suggest(line, [r.item for r in refs], problem, evidence)
        if customer is None:
            return self._amount_only(line, amount, evidence)

        ref_items = _unique([r.item for r in refs if r.item.customer == customer])
        ref_kind = _best_kind([r for r in refs if r.item.customer == customer])
        strength = signals.get(customer, 0)
        if ref_items:
            return self._with_references(line, amount, customer, ref_items, ref_kind, strength, evidence)
        return self._without_references(line, amount, customer, strength, evidence)

    # -- not a payment ---------------------------------------------------------------------
    def _not_a_payment(self, line: StatementLine) -> str:
        if _RVSL_CODES.search(line.transaction_code):
            return "reversal"
        if line.payer_account and normalise_account(line.payer_account) in self._own_accounts:
            return "internal_transfer"
        text = fold(line.remittance)
        for pattern, why in _NOT_PAYMENT:
            if pattern.search(text):
                return why
        return ""

    # -- who paid ----------------------------------------------------------------------------
    def _customer_signals(self, line: StatementLine, evidence: list[Evidence]) -> dict[str, int]:
        """customer -> strength: 3 NIT or learned alias, 1 fuzzy name."""
        out: dict[str, int] = {}
        # The payer id is an id field: its digits without the zeros banks pad it with
        # (Davivienda's "ID Origen/Destino" 000000800987654), then the NIT rules.
        # Only a field of digits (spaces aside) is read so: "80012345-9" is a cédula and its check
        # digit, which the text rules (find_nits) read right and stripping the hyphen would not.
        plain = line.payer_id.replace(" ", "")
        payer_nit = id_nit(plain) if plain.isdigit() else ""
        texts = (line.remittance, line.payer_name, line.end_to_end_id)
        from_payer_id = [payer_nit] if payer_nit else find_nits(line.payer_id)
        nits = dict.fromkeys(from_payer_id + find_nits(" ".join(texts)))
        for body in nits:
            for cid in self.people.by_nit.get(body, ()):
                out[cid] = 3
                evidence.append(Evidence(rule="customer", code="customer_by_nit",
                                         field="payer_id" if body in from_payer_id else "remittance", text=body,
                                         detail={"customer": cid, "nit": body}))
        split = self._split(line)
        if split is not None:
            self._split_signals(split, nits, out, evidence)
        account = normalise_account(line.payer_account)
        if account and account in self.people.alias_account:
            cid = self.people.alias_account[account]
            out[cid] = 3
            evidence.append(Evidence(rule="customer", code="customer_by_alias_account", field="payer_account",
                                     text=line.payer_account, detail={"customer": cid}))
        if line.payer_name:
            key = company_key(line.payer_name)
            if key in self.people.alias_name:
                cid = self.people.alias_name[key]
                out[cid] = max(out.get(cid, 0), 3)
                evidence.append(Evidence(rule="customer", code="customer_by_alias_name", field="payer_name",
                                         text=line.payer_name, detail={"customer": cid}))
        return out

    def _split_signals(self, split: Split, nits: dict[str, None], out: dict[str, int],
                       evidence: list[Evidence]) -> None:
        """The NIT and the customer number a layout read in the payer's reference. The NIT is as
        strong as a NIT written in the texts (3) and, like such a NIT, counts beside the line's own
        payer id: when they name different customers, that is a conflict for finance, never a choice.
        A customer number is a weak signal on its own (any number of the right length has one): it
        is as strong as a NIT only when an invoice of the same reference is that customer's;
        otherwise it identifies nobody and is only shown to finance (never an apply on a customer
        number and a unique amount). When the invoice is another customer's, decide() asks finance."""
        if split.nit and split.nit not in nits:  # the same NIT written in the texts too: counted once
            for cid in self.people.by_nit.get(split.nit, ()):
                out[cid] = 3
                evidence.append(Evidence(rule="customer", code="customer_by_nit", field="end_to_end_id",
                                         text=split.nit, detail={"customer": cid, "nit": split.nit}))
        if split.customer:
            named, owners = self._number_reading(split)
            confirmed = [cid for cid in named if cid in owners]
            for cid in confirmed:
                out[cid] = 3
                evidence.append(Evidence(rule="customer", code="customer_by_number", field="end_to_end_id",
                                         text=split.customer, detail={"customer": cid, "number": split.customer}))
            if named and not owners:
                evidence.append(Evidence(rule="customer", code="customer_number_unconfirmed", field="end_to_end_id",
                                         text=split.customer,
                                         detail={"customer": ", ".join(named), "number": split.customer}))

    def _number_reading(self, split: Split) -> tuple[list[str], set[str]]:
        """(the customers whose ERP number is the split's customer number, the customers owning the
        items the split's invoice numbers find, looked up as _references looks them up)."""
        if self._by_number is None:
            self._by_number = {}
            for cid in self.people.by_id:
                self._by_number.setdefault(customer_number(cid), []).append(cid)
        owners: set[str] = set()
        for token in split.invoices:
            items = self.items.with_key(reference_key(token))
            core = numeric_core(token)
            if not items and len(core) >= self.config.min_numeric_reference:
                items = self.items.with_core(core)
            owners.update(i.customer for i in items)
        return self._by_number.get(split.customer, []), owners

    def _split(self, line: StatementLine) -> Split | None:
        """What the first fitting reference layout reads in the line's end_to_end_id (None without
        layouts). Remembered for the line being decided: several steps ask."""
        if not self._layouts:
            return None
        last, split = self._last_split
        if last is not line:
            split = split_reference(self._layouts, line.end_to_end_id)
            self._last_split = (line, split)
        return split

    def _token_sources(self, line: StatementLine) -> list[Iterable[str]]:
        """Where the candidate references of ``line`` come from: each extractor's tokens, then the
        invoice numbers a reference layout read in the payer's reference, looked up exactly as tokens."""
        sources: list[Iterable[str]] = [extractor.extract(line) for extractor in self.extractors]
        split = self._split(line)
        if split is not None:
            sources.append(split.invoices)
        return sources

    def _name_signal(self, line: StatementLine, evidence: list[Evidence]) -> dict[str, int]:
        cid, score, why = self.people.by_name(line.payer_name)
        if cid:
            evidence.append(Evidence(rule="customer", code="customer_by_name", field="payer_name",
                                     text=line.payer_name, detail={"customer": cid, "score": f"{score:.0f}"}))
            return {cid: 1}
        if why == "name_ambiguous":
            evidence.append(Evidence(rule="customer", code="name_ambiguous", field="payer_name",
                                     text=line.payer_name, detail={"score": f"{score:.0f}"}))
        return {}

    def _explained_by_references(self, line: StatementLine, amount: int, refs: list[_Ref]) -> bool:
        """Whether the invoices quoted as written, all of one customer, explain the amount exactly:
        reference and amount are then two signals, and the name adds nothing."""
        exact = [r.item for r in refs if r.kind == "exact" and r.item.remaining > 0]
        if not exact or len({i.customer for i in exact}) != 1 or len(exact) != len(refs):
            return False
        return bool(self._fit(_unique(exact), amount, line))

    def _choose_customer(self, signals: dict[str, int], refs: list[_Ref], evidence: list[Evidence]):
        """(customer, corroborated, problem code)."""
        ref_customers = sorted({r.item.customer for r in refs})
        strong = sorted(c for c, s in signals.items() if s >= 3)
        if len(strong) > 1:
            return None, False, "customer_conflict"
        if ref_customers:
            if strong and strong[0] in ref_customers:
                return strong[0], True, ""
            if signals and not set(signals) & set(ref_customers):
                # The NIT, alias or name says one customer, the references another.
                named = max(signals.items(), key=lambda kv: (kv[1], kv[0]))[0]
                evidence.append(Evidence(rule="customer", code="customer_conflict",
                                         detail={"customer": named, "documents": ", ".join(r.item.document for r in refs)}))
                return None, False, "customer_conflict"
            if len(ref_customers) == 1:
                return ref_customers[0], ref_customers[0] in signals, ""
            named = [c for c in ref_customers if c in signals]
            if len(named) == 1:
                return named[0], True, ""
            return None, False, "ambiguous_reference"
        if strong:
            return strong[0], True, ""
        if signals:
            return next(iter(signals)), False, ""
        return None, False, ""

    # -- which invoices ----------------------------------------------------------------------
    def _references(self, line: StatementLine, evidence: list[Evidence]) -> list[_Ref]:
        out: list[_Ref] = []
        seen: set[int] = set()
        for tokens in self._token_sources(line):
            for token in tokens:
                key = reference_key(token)
                hits = [(i, "exact") for i in self.items.with_key(key)]
                core = numeric_core(token)
                # Bare digits count only where the payer wrote them: the bank's own reference is
                # full of numbers that merely look like invoice numbers.
                if not hits and len(core) >= self.config.min_numeric_reference and _payer_wrote(line, token):
                    hits = [(i, "core") for i in self.items.with_core(core)]
                for item, kind in hits:
                    if id(item) in seen:
                        continue
                    seen.add(id(item))
                    where = _field_of(line, token)
                    if item.currency != line.currency:
                        evidence.append(Evidence(rule="reference", code="currency_differs", field=where, text=token,
                                                 detail={"document": item.document, "item_currency": item.currency,
                                                         "currency": line.currency}))
                        continue
                    out.append(_Ref(item, token, where, kind))
        return out

    def _typo_references(self, line: StatementLine, customer: str, evidence: list[Evidence]) -> list[_Ref]:
        """Invoice numbers one edit away from a number in the texts, among this customer's items."""
        cores = {}
        for tokens in self._token_sources(line):
            for token in tokens:
                core = numeric_core(token)
                if len(core) >= self.config.min_numeric_reference + 1 and _payer_wrote(line, token):
                    cores.setdefault(core, token)
        if not cores:
            return []
        out = []
        for item in self.items.open_for(customer, line.currency, 10_000):
            item_core = numeric_core(item.reference) or numeric_core(item.document)
            for core, token in cores.items():
                if abs(len(core) - len(item_core)) <= 1 and Levenshtein.distance(core, item_core, score_cutoff=1) <= 1:
                    out.append(_Ref(item, token, _field_of(line, token), "typo"))
                    break
        if len(out) == 1:
            evidence.append(Evidence(rule="reference", code="reference_typo", field=out[0].field, text=out[0].token,
                                     detail={"reference": out[0].token, "document": out[0].item.document,
                                             "expected": out[0].item.reference or out[0].item.document}))
            return out
        return []  # several near misses say nothing

    def _neighbours_that_fit(self, line: StatementLine, amount: int, exclude: list[Item]) -> list[Item]:
        """Invoices whose number is one edit away from a number the payer wrote and whose amount
        explains the payment: where a mistyped reference that is someone else's invoice points."""
        out: list[Item] = []
        skip = {id(i) for i in exclude}
        for tokens in self._token_sources(line):
            for token in tokens:
                core = numeric_core(token)
                if len(core) < self.config.min_numeric_reference + 1 or not _payer_wrote(line, token):
                    continue
                for variant in _one_edit(core):
                    for item in self.items.with_core(variant):
                        if id(item) not in skip and item.remaining > 0 and item.currency == line.currency \
                                and self._fit([item], amount, line):
                            skip.add(id(item))
                            out.append(item)
        return out

    # -- allocation --------------------------------------------------------------------------
    def _with_references(self, line, amount: int, customer: str, ref_items: list[Item], ref_kind: str,
                         strength: int, evidence: list[Evidence]) -> Decision:
        open_refs = [i for i in ref_items if i.remaining != 0]
        if not any(i.remaining > 0 for i in open_refs):
            open_refs = []
        if not open_refs:
            for i in ref_items:
                evidence.append(Evidence(rule="reference", code="already_applied", detail={"document": i.document}))
            return self._suggest(line, [], "already_applied", evidence, customer)
        corroborated = strength > 0
        for item in open_refs:
            evidence.append(Evidence(rule="reference", code="reference_found", field=_ref_field(line, item), text=item.reference,
                                     detail={"reference": item.reference or item.document, "document": item.document,
                                             "field": _ref_field(line, item), "open_amount": str(from_units(item.remaining))}))
        ref_score = {"exact": Decimal("1"), "core": Decimal("0.97"), "typo": Decimal("0.93")}[ref_kind]

        solutions = self._fit(open_refs, amount, line)
        if not solutions and 1 < len(open_refs) <= 8:
            for size in range(len(open_refs) - 1, 0, -1):
                for subset in combinations(open_refs, size):
                    solutions += self._fit(list(subset), amount, line)
                if solutions:
                    break
        if solutions:
            distinct = _distinct(solutions)
            if len(distinct) == 1:
                score = ref_score if ref_kind != "typo" or corroborated else Decimal("0.85")
                return self._apply(line, customer, distinct[0], score, evidence, "reference_and_amount")
            return self._suggest_solutions(line, customer, distinct, "ambiguous", evidence)

        near = self._neighbours_that_fit(line, amount, open_refs)
        if near:
            # The number quoted does not explain the amount, but a one-edit neighbour does.
            evidence.append(Evidence(rule="reference", code="neighbour_fits",
                                     detail={"documents": ", ".join(i.document for i in near[:MAX_SUGGESTIONS])}))
            return self._suggest(line, near + open_refs, "neighbour_fits", evidence, keep_order=True)
        gross = sum(i.remaining for i in open_refs)
        tolerance = self._tolerance(gross)
        if amount < gross:
            best = self._within_tolerance(open_refs, amount, tolerance, line)
            if best is not None:
                return self._apply(line, customer, best, ref_score * Decimal("0.95"), evidence, "within_tolerance")
            if len(open_refs) == 1 and ref_kind != "typo":
                words = bool(_PARTIAL_WORDS.search(fold(line.remittance)))
                score = Decimal("0.92") if corroborated or words else Decimal("0.8")
                item = open_refs[0]
                solution = _Solution((item,), self.profiles[0], (amount,), ((0, 0, 0),), (0,), partial=True)
                evidence.append(Evidence(rule="partial", code="partial_payment",
                                         detail={"document": item.document, "amount": str(from_units(amount)),
                                                 "open_amount": str(from_units(item.remaining)),
                                                 "left": str(from_units(item.remaining - amount))}))
                return self._apply(line, customer, solution, score, evidence, "partial_payment")
            return self._suggest(line, open_refs, "amount_differs", evidence, customer)

        # Overpaid: the invoices quoted, in full, and the rest on the customer's account. Only for
        # references found as written: a near miss that pays more than its invoice is two doubts.
        if ref_kind == "typo" or (ref_kind == "core" and not corroborated):
            return self._suggest(line, open_refs, "amount_differs", evidence, customer)
        solution = _Solution(tuple(open_refs), self.profiles[0], tuple(i.remaining for i in open_refs),
                             tuple((0, 0, 0) for _ in open_refs), tuple(0 for _ in open_refs),
                             on_account=amount - gross)
        evidence.append(Evidence(rule="amount", code="overpayment_on_account",
                                 detail={"on_account": str(from_units(amount - gross))}))
        return self._apply(line, customer, solution, Decimal("0.92"), evidence, "overpayment_on_account")

    def _without_references(self, line, amount: int, customer: str, strength: int, evidence: list[Evidence]) -> Decision:
        cfg = self.config
        # Uniqueness is only meaningful over every open item of the customer, not a window of them.
        ones = self._one_to_one(self.items.open_for(customer, line.currency, 1_000_000), amount, line)
        candidates = self.items.open_for(customer, line.currency, cfg.max_candidates)
        distinct = _distinct(ones)
        base = Decimal("0.95") if strength >= 3 else Decimal("0.9")
        if len(distinct) == 1:
            evidence.append(Evidence(rule="amount", code="amount_unique", detail={"document": distinct[0].items[0].document}))
            return self._apply(line, customer, distinct[0], base, evidence, "customer_and_amount")
        if len(distinct) > 1:
            if cfg.interchangeable == "oldest_first" and _interchangeable(distinct):
                evidence.append(Evidence(rule="amount", code="oldest_of_identical",
                                         detail={"documents": ", ".join(s.items[0].document for s in distinct)}))
                return self._apply(line, customer, distinct[0], base - Decimal("0.02"), evidence, "customer_and_amount")
            return self._suggest_solutions(line, customer, distinct, "ambiguous", evidence)
        everything = self.items.open_for(customer, line.currency, cfg.max_candidates + 1)
        many, complete = self._combinations(candidates, amount, line)
        # Unique among a window of the customer's invoices is not unique: apply only when the
        # search saw all of them.
        complete = complete and len(everything) <= cfg.max_candidates
        many = _distinct(many)
        if len(many) == 1 and complete:
            evidence.append(Evidence(rule="amount", code="combination_unique",
                                     detail={"documents": ", ".join(i.document for i in many[0].items)}))
            return self._apply(line, customer, many[0], base - Decimal("0.03"), evidence, "customer_and_amount")
        if many:
            if not complete:
                evidence.append(Evidence(rule="amount", code="search_incomplete"))
            return self._suggest_solutions(line, customer, many, "ambiguous" if len(many) > 1 else "search_incomplete",
                                           evidence)
        if cfg.unknown_invoices == "on_account" and strength >= 3:
            solution = _Solution((), self.profiles[0], (), (), (), on_account=amount)
            evidence.append(Evidence(rule="amount", code="customer_known_on_account", detail={"customer": customer}))
            return self._apply(line, customer, solution, Decimal("0.9"), evidence, "on_account")
        evidence.append(Evidence(rule="amount", code="customer_known_invoices_not", detail={"customer": customer}))
        return self._suggest(line, candidates, "customer_known_invoices_not", evidence, customer)

    def _amount_only(self, line, amount: int, evidence: list[Evidence]) -> Decision:
        near = self._neighbours_that_fit(line, amount, [])
        if near:
            evidence.append(Evidence(rule="reference", code="neighbour_fits",
                                     detail={"documents": ", ".join(i.document for i in near[:MAX_SUGGESTIONS])}))
            return self._suggest(line, near, "neighbour_fits", evidence, keep_order=True)
        if self._by_amount is None:
            self._by_amount = {}
            for items in self.items.by_customer.values():
                for item in items:
                    self._by_amount.setdefault((item.currency, item.open), []).append(item)
        same = [i for i in self._by_amount.get((line.currency, amount), ()) if i.remaining == i.open][:MAX_SUGGESTIONS]
        if same:
            evidence.append(Evidence(rule="amount", code="amount_only", detail={"count": str(len(same))}))
            return self._suggest(line, same, "amount_only", evidence)
        evidence.append(Evidence(rule="reference", code="no_reference"))
        return _decision(line, DecisionKind.UNMATCHED, "no_reference", evidence)

    # -- amount arithmetic -------------------------------------------------------------------
    def _net(self, item: Item, p: RateUnits, line: StatementLine) -> list[tuple[int, tuple[int, int, int], int]]:
        """(cash, withheld split, discount) variants of paying ``item`` in full under profile ``p``."""
        if item.remaining < 0:  # a credit note the payer deducted: no withholding, no discount
            return [(item.remaining, (0, 0, 0), 0)]
        if not p.profile.is_gross and not item.base:
            return []
        split = withholding_split(p, item.base, item.vat, self.unit) if not p.profile.is_gross else (0, 0, 0)
        cash = item.remaining - sum(split)
        out = [(cash, split, 0)]
        if item.discount_rate and item.discount_until and line.booking_date <= item.discount_until:
            disc = _round_units(item.remaining * int(Decimal(item.discount_rate) * 1_000_000) // 1_000_000, self.unit)
            out.append((cash - disc, split, disc))
        return out

    def _could_fit(self, items: list[Item], amount: int) -> bool:
        """Cheap bounds: the payment lies between the items' balances and those balances less the
        most any profile withholds and any discount (10 %). Rules out nearly every candidate."""
        top = sum(i.remaining for i in items) + self.rounding * len(items)
        low = sum(i.remaining - i.base * self._max_base_rate - i.vat * self._max_vat_rate
                  - (i.remaining // 10 if i.discount_rate else 0) for i in items if i.remaining > 0)
        low += sum(i.remaining for i in items if i.remaining < 0)
        return low - self.rounding * len(items) - self.unit <= amount <= top

    def _fit(self, items: list[Item], amount: int, line) -> list[_Solution]:
        """Profiles under which paying every item in full (net, maybe minus discount) makes ``amount``.
        The profiles are screened together in floating point; the few near ones are checked exactly."""
        if not self._could_fit(items, amount):
            return []
        if any(i.discount_rate for i in items) or any(i.remaining < 0 for i in items):
            candidates = range(len(self.profiles))  # rare: discounts and credit notes, checked one by one
        else:
            totals = self._nets(items).sum(axis=1)
            candidates = np.flatnonzero(np.abs(totals - amount) <= self.rounding * len(items) + 3 * self.unit)
        out = []
        for pi in candidates:
            out += self._fit_profile(items, amount, line, self.profiles[pi])
            if out and len(items) > 1:
                break
        return out

    def _nets(self, items: list[Item]) -> np.ndarray:
        """profiles x items matrix of what paying each item in full costs the payer (NaN where a
        withholding profile needs a base the ERP did not give)."""
        rem = np.fromiter((i.remaining for i in items), dtype=np.float64, count=len(items))
        base = np.fromiter((i.base for i in items), dtype=np.float64, count=len(items))
        vat = np.fromiter((i.vat for i in items), dtype=np.float64, count=len(items))
        nets = rem - base * self._rf - vat * self._riva - base * self._rica
        nets[1:, base == 0] = np.nan
        return nets

    def _solution(self, items, p, choice, residual: int) -> _Solution:
        cash = [c[0] for c in choice]
        cash[-1] += residual  # rounding slack goes to the last invoice's cash, so money is conserved
        withheld = [list(c[1]) for c in choice]
        if residual:  # keep cleared = remaining: the payer's rounding moves between cash and withholding
            split = withheld[-1]
            for k in range(3):
                if split[k]:
                    split[k] -= residual
                    break
        return _Solution(tuple(items), p, tuple(cash), tuple(tuple(w) for w in withheld), tuple(c[2] for c in choice))

    def _within_tolerance(self, items: list[Item], amount: int, tolerance: int, line) -> _Solution | None:
        if tolerance <= 0:
            return None
        best = None
        # A write-off on top of a guessed withholding profile would let too much fit by chance:
        # tolerance applies to gross amounts only.
        for p in self.profiles[:1]:
            variants = [self._net(i, p, line) for i in items]
            if any(not v for v in variants):
                continue
            choice = [v[0] for v in variants]
            total = sum(c[0] for c in choice)
            short = total - amount
            if 0 < short <= tolerance and (best is None or short < best[0]):
                best = (short, p, choice)
        if best is None:
            return None
        short, p, choice = best
        s = self._solution(items, p, choice, 0)
        s.write_off = short
        s.cash = s.cash[:-1] + (s.cash[-1] - short,)
        return s

    def _one_to_one(self, candidates: list[Item], amount: int, line) -> list[_Solution]:
        if not candidates:
            return []
        nets = self._nets(candidates)
        near = np.argwhere(np.abs(nets - amount) <= self.rounding + 3 * self.unit)
        out = []
        for pi, ii in near:
            out += self._fit_profile([candidates[ii]], amount, line, self.profiles[pi])
        for item in candidates:  # early-payment discounts are rare: checked exactly
            if item.discount_rate:
                out += [s for s in self._fit([item], amount, line) if any(s.discount)]
        return out

    def _fit_profile(self, items: list[Item], amount: int, line, p: RateUnits) -> list[_Solution]:
        variants = [self._net(i, p, line) for i in items]
        if any(not v for v in variants):
            return []
        # Gross amounts must be exact; withheld ones may be off by the payer's rounding per invoice.
        slack = 0 if p.profile.is_gross else self.rounding * len(items)
        for choice in _product(variants):
            total = sum(c[0] for c in choice)
            if abs(total - amount) <= slack:
                return [self._solution(items, p, choice, amount - total)]
        return []

    def _combinations(self, candidates: list[Item], amount: int, line) -> tuple[list[_Solution], bool]:
        """Two to ``max_combination`` (at most 5) of the customer's invoices paid together under one
        withholding profile, by meet-in-the-middle (Horowitz-Sahni): sums of pairs and triples are
        tabulated once per profile and the complement of each is looked up in the sorted pair
        table. Stops at a second different set: that already means ambiguity."""
        items = [i for i in candidates if 0 < i.remaining <= amount]
        if len(items) < 2:
            return [], True
        nets = self._nets(items)
        n = len(items)
        largest = min(self.config.max_combination, 5, n)
        pairs = _index_table(n, 2)
        triples = _index_table(n, 3) if largest >= 3 else None
        slack = (3 * self.unit + self.rounding) * largest
        found: list[_Solution] = []
        keys: set[tuple[str, ...]] = set()
        tables: dict[int, dict] = {}
        # The payer's profile seen earlier (and gross) is searched first, so its answer leads the
        # suggestions; every other profile is still searched, because uniqueness must hold across
        # all of them. Within a phase, smaller sets first.
        known = self._customer_profile.get(items[0].customer)
        phases = [[0, known], [k for k in range(1, len(self.profiles)) if k != known]] if known \
            else [list(range(len(self.profiles)))]
        for size, pi in ((size, pi) for phase in phases for size in range(2, largest + 1) for pi in phase):
            p = self.profiles[pi]
            row = nets[pi]
            if np.isnan(row).all():
                continue
            t = tables.get(pi)
            if t is None:
                pair_sums = row[pairs].sum(axis=1)
                order = np.argsort(np.nan_to_num(pair_sums, nan=np.inf))
                t = tables[pi] = {"pair_idx": pairs[order], "pair_sum": pair_sums[order],
                                  1: (np.arange(n)[:, None], row), 2: (pairs[order], pair_sums[order])}
            if size == 5 and 3 not in t:  # triples cost the most: built only when a search gets here
                t[3] = (triples, row[triples].sum(axis=1))
            pair_idx, pair_sum = t["pair_idx"], t["pair_sum"]
            left = size - 2
            if left == 0:
                combos = [tuple(pair_idx[h]) for h in np.flatnonzero(np.abs(pair_sum - amount) <= slack)]
            else:
                combos = []
                idx_l, sum_l = t[left]
                lo = np.searchsorted(pair_sum, amount - sum_l - slack, side="left")
                hi = np.searchsorted(pair_sum, amount - sum_l + slack, side="right")
                for a in np.flatnonzero(hi > lo):
                    for b in range(lo[a], hi[a]):
                        combo = set(idx_l[a].tolist()) | set(pair_idx[b].tolist())
                        if len(combo) == size:
                            combos.append(tuple(sorted(combo)))
            for combo in dict.fromkeys(combos):
                chosen = [items[int(k)] for k in combo]
                for sol in self._fit_profile(chosen, amount, line, p):
                    if sol.key not in keys:
                        keys.add(sol.key)
                        found.append(sol)
                if len(found) >= MAX_SUGGESTIONS:
                    return found, True
        return found, True

    def _tolerance(self, amount: int) -> int:
        """The write-off allowed on invoices of ``amount`` (percent of the invoice, as SAP's
        tolerance groups take it): the smaller of the absolute and percent limits when
        both are set (SAP tolerance groups), the one that is set otherwise, none by default."""
        absolute = to_units(self.config.tolerance_absolute) or 0
        percent = amount * int(self.config.tolerance_percent * 10_000) // 1_000_000
        limits = [t for t in (absolute, percent) if t > 0]
        return min(limits) if limits else 0

    # -- results -----------------------------------------------------------------------------
    def _apply(self, line, customer: str, s: _Solution, score: Decimal, evidence: list[Evidence], reason: str) -> Decision:
        applications = self._applications(line, s)
        if score < self.config.apply_threshold:
            evidence.append(Evidence(rule="score", code="below_threshold",
                                     detail={"score": str(score), "threshold": str(self.config.apply_threshold)}))
            return Decision(line_identity=line.identity, kind=DecisionKind.SUGGEST, score=score, customer_id=customer,
                            candidates=(applications,) if applications else (), reason=reason,
                            on_account=from_units(s.on_account), evidence=tuple(evidence))
        for item, cash, wh, disc in zip(s.items, s.cash, s.withheld, s.discount, strict=True):
            self.items.consumed(item, cash + sum(wh) + disc)
        if not s.profile.profile.is_gross:
            self._customer_profile[customer] = self.profiles.index(s.profile)
        if s.write_off:
            self.items.consumed(s.items[-1], s.write_off)
        evidence += _solution_evidence(s)
        return Decision(line_identity=line.identity, kind=DecisionKind.APPLY, score=min(score, Decimal(1)),
                        customer_id=customer, applications=applications, on_account=from_units(s.on_account),
                        reason=reason, evidence=tuple(evidence))

    def _applications(self, line, s: _Solution) -> tuple[Application, ...]:
        out = []
        for n, (item, cash, wh, disc) in enumerate(zip(s.items, s.cash, s.withheld, s.discount, strict=True)):
            withholdings = tuple(
                Withholding(kind=kind, rate=rate, base=from_units(item.vat if kind == "reteiva" else item.base),
                            amount=from_units(units))
                for (kind, rate), units in zip((("retefuente", s.profile.profile.retefuente),
                                                ("reteiva", s.profile.profile.reteiva),
                                                ("reteica", s.profile.profile.reteica)), wh, strict=True) if rate)
            out.append(Application(document=item.document, reference=item.reference, amount=from_units(cash),
                                   currency=line.currency, withholdings=withholdings, discount=from_units(disc),
                                   write_off=from_units(s.write_off) if n == len(s.items) - 1 else Decimal(0)))
        return tuple(out)

    def _suggest_solutions(self, line, customer: str, solutions: list[_Solution], reason: str,
                           evidence: list[Evidence]) -> Decision:
        evidence.insert(0, Evidence(rule="ambiguity", code="ambiguous",
                                    detail={"documents": " | ".join(", ".join(s.key) for s in solutions[:MAX_SUGGESTIONS])}))
        candidates = tuple(self._applications(line, s) for s in solutions[:MAX_SUGGESTIONS])
        return Decision(line_identity=line.identity, kind=DecisionKind.SUGGEST, score=Decimal("0.5"),
                        customer_id=customer, candidates=candidates, reason=reason, evidence=tuple(evidence))

    def _suggest(self, line, items: list[Item], reason: str, evidence: list[Evidence], customer: str = "",
                 *, keep_order: bool = False) -> Decision:
        items = _unique([i for i in items if i.remaining > 0])
        if not keep_order:
            items.sort(key=lambda i: (abs(i.remaining - (to_units(line.amount) or 0)), i.due, i.document))
        candidates = tuple(
            (Application(document=i.document, reference=i.reference, currency=line.currency,
                         amount=from_units(min(i.remaining, to_units(line.amount) or 0))),)
            for i in items[:MAX_SUGGESTIONS])
        if not candidates:
            return _decision(line, DecisionKind.UNMATCHED, reason, evidence, customer)
        return Decision(line_identity=line.identity, kind=DecisionKind.SUGGEST, score=Decimal("0.5"),
                        customer_id=customer or items[0].customer, candidates=candidates, reason=reason,
                        evidence=tuple(evidence))


def _decision(line, kind, reason, evidence, customer: str = "") -> Decision:
    return Decision(line_identity=line.identity, kind=kind, reason=reason, customer_id=customer, evidence=tuple(evidence))


def _unique_str(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _unique(items: list[Item]) -> list[Item]:
    seen, out = set(), []
    for i in items:
        if id(i) not in seen:
            seen.add(id(i))
            out.append(i)
    return out


def _best_kind(refs: list[_Ref]) -> str:
    kinds = {r.kind for r in refs}
    return "exact" if "exact" in kinds else "core" if "core" in kinds else "typo"


def _distinct(solutions: list[_Solution]) -> list[_Solution]:
    out, keys = [], set()
    for s in solutions:
        if s.key not in keys:
            keys.add(s.key)
            out.append(s)
    return out


def _interchangeable(solutions: list[_Solution]) -> bool:
    """Single invoices of the same customer, amount and withholding: only which one differs."""
    first = solutions[0]
    return all(len(s.items) == 1 and s.items[0].remaining == first.items[0].remaining
               and s.profile == first.profile and s.cash == first.cash for s in solutions)


def _product(variants: list[list]) -> Iterable[tuple]:
    if len(variants) == 1:
        return ((v,) for v in variants[0])
    from itertools import product

    return product(*variants)


_INDEX_TABLES: dict[tuple[int, int], np.ndarray] = {}


def _index_table(n: int, k: int) -> np.ndarray:
    """All k-element index combinations of range(n), as an array (cached: n and k are small)."""
    table = _INDEX_TABLES.get((n, k))
    if table is None:
        table = np.array(list(combinations(range(n), k)), dtype=np.int64).reshape(-1, k)
        _INDEX_TABLES[(n, k)] = table
    return table


def _one_edit(digits: str) -> Iterable[str]:
    """Every digit string one substitution, deletion or insertion away (no leading zero)."""
    for k in range(len(digits)):
        yield digits[:k] + digits[k + 1:]
        for d in "0123456789":
            if d != digits[k]:
                yield digits[:k] + d + digits[k + 1:]
    for k in range(len(digits) + 1):
        for d in "0123456789":
            yield digits[:k] + d + digits[k:]


def _payer_wrote(line: StatementLine, token: str) -> bool:
    key = reference_key(token)
    return key in reference_key(line.remittance) or key in reference_key(line.end_to_end_id)


def _ref_field(line: StatementLine, item: Item) -> str:
    for name in ("remittance", "bank_reference", "end_to_end_id"):
        text = reference_key(getattr(line, name))
        if reference_key(item.reference) in text or numeric_core(item.reference) in text:
            return name
    return "remittance"


def _round_units(value: int, unit: int) -> int:
    return ((value + unit // 2) // unit) * unit


def _field_of(line: StatementLine, token: str) -> str:
    """Which field of the line holds ``token`` (compared without separators, as the index is)."""
    key = reference_key(token)
    for name in ("remittance", "bank_reference", "end_to_end_id", "payer_name"):
        if key in reference_key(getattr(line, name)):
            return name
    return "remittance"


def _solution_evidence(s: _Solution) -> list[Evidence]:
    """What finance reads about how an amount was explained: the withholding profile, the write-off."""
    evidence = []
    if not s.profile.profile.is_gross:
        evidence.append(Evidence(rule="withholding", code="net_of_withholding", detail={"profile": s.profile.profile.label()}))
    if s.write_off:
        evidence.append(Evidence(rule="tolerance", code="write_off", detail={"amount": str(from_units(s.write_off))}))
    return evidence
