"""Indexes over one company's customers and open items, built once per matching run.

A statement line is never compared with every open item (reference/matching.md section 5,
"blocking"): items are found by reference key, by the digits of their number, and by customer;
customers by NIT, by learned alias and, last, by fuzzy name.
"""

from __future__ import annotations

import bisect
import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from conciliador.models import Customer, OpenItem

from .text import company_key, nit_body, numeric_core, reference_key
from .withholding import to_units


@dataclass(slots=True, eq=False)
class Item:
    """An open item in integer money units; ``remaining`` drops as lines are applied in a run."""

    document: str
    reference: str
    customer: str
    currency: str
    open: int
    base: int
    vat: int
    due: int  # proleptic ordinal, for oldest-first ordering
    discount_rate: object
    discount_until: dt.date | None
    remaining: int


class ItemIndex:
    """Open items by reference key, by the digits of their numbers and by customer.

    A million items must fit in memory beside everything else: a key maps to its one item
    directly and to a list only when several items share it, customer ids are shared strings,
    and the digits of a number are not indexed again when they are the whole number.
    """

    def __init__(self, items: Iterable[OpenItem], min_reference_length: int, min_numeric: int) -> None:
        self.by_key: dict[str, Item | list[Item]] = {}
        self.by_core: dict[str, Item | list[Item]] = {}
        self.by_customer: dict[str, list[Item]] = defaultdict(list)
        self.count = 0
        shared: dict[str, str] = {}
        for oi in items:
            open_units = to_units(oi.open_amount)
            if not open_units:
                continue  # settled, or more decimals than any payment can carry
            full = oi.open_amount == oi.original_amount
            customer = shared.setdefault(oi.customer_id, oi.customer_id)
            item = Item(
                oi.document, oi.reference, customer, oi.currency, open_units,
                (to_units(oi.tax_base) or 0) if full and oi.tax_base is not None else 0,
                (to_units(oi.vat) or 0) if full and oi.vat is not None else 0,
                (oi.due_date or oi.document_date or dt.date.max).toordinal(),
                oi.discount_rate, oi.discount_until, open_units,
            )
            self.count += 1
            numbers = (oi.reference, oi.document, oi.assignment) if oi.assignment else (oi.reference, oi.document)
            keys = {reference_key(n) for n in numbers}
            for key in keys:
                if len(key) >= min_reference_length:
                    _add(self.by_key, key, item)
            for core in {numeric_core(n) for n in numbers} - keys:
                if len(core) >= min_numeric:
                    _add(self.by_core, core, item)
            if open_units > 0:  # credit notes are found by reference only, never as a payment's target
                self.by_customer[customer].append(item)
        for items_ in self.by_customer.values():
            items_.sort(key=lambda i: (i.due, i.document))

    def with_key(self, key: str) -> Sequence[Item]:
        return _get(self.by_key, key)

    def with_core(self, core: str) -> Sequence[Item]:
        """Items whose number is these digits, also where the digits are the whole number."""
        return (*_get(self.by_core, core), *_get(self.by_key, core))

    def open_for(self, customer: str, currency: str, limit: int) -> list[Item]:
        out = []
        for item in self.by_customer.get(customer, ()):
            if item.remaining > 0 and item.currency == currency:
                out.append(item)
                if len(out) == limit:
                    break
        return out

    def consumed(self, item: Item, units: int) -> None:
        item.remaining -= units


_DIGITS = re.compile(r"\d+")
_STOPWORDS = frozenset({"DE", "DEL", "LA", "LAS", "LOS", "EL", "Y", "CIA", "SAS", "LTDA", "SA", "EU"})
TRUNCATED_NAME_MIN = 16  # banks cut payer names at 20-35 characters; shorter cuts say too little


def _add(index: dict, key: str, item: Item) -> None:
    found = index.get(key)
    if found is None:
        index[key] = item
    elif isinstance(found, list):
        found.append(item)
    else:
        index[key] = [found, item]


def _get(index: dict, key: str) -> Sequence[Item]:
    found = index.get(key)
    return () if found is None else found if isinstance(found, list) else (found,)


class CustomerIndex:
    def __init__(self, customers: Iterable[Customer], aliases: Iterable[tuple[str, str, str]],
                 cutoff: float, margin: float) -> None:
        self.by_id: dict[str, Customer] = {}
        self.by_nit: dict[str, list[str]] = defaultdict(list)
        self.alias_account: dict[str, str] = {}
        self.alias_name: dict[str, str] = {}
        names: dict[str, list[str]] = defaultdict(list)
        for c in customers:
            self.by_id[c.id] = c
            if c.tax_id:
                self.by_nit[nit_body(c.tax_id)].append(c.id)
            names[company_key(c.name)].append(c.id)
        for kind, value, customer in aliases:
            if customer not in self.by_id:
                continue
            (self.alias_account if kind == "payer_account" else self.alias_name)[value] = customer
        self._keys = list(names)
        self._ids = [names[k] for k in self._keys]
        self._sorted = sorted(zip(self._keys, self._ids))
        # Blocking for the fuzzy search: register names by word, so a payer name is compared only
        # with names sharing one of its rarer words (reference/matching.md section 5: blocking).
        self._by_word: dict[str, list[int]] = defaultdict(list)
        for n, key in enumerate(self._keys):
            for word in set(key.split()):
                if len(word) >= 3 and word not in _STOPWORDS:
                    self._by_word[word].append(n)
        self._pos = {k: i for i, k in enumerate(self._keys)}
        self.cutoff, self.margin = cutoff, margin
        self._fuzzy_cache: dict[str, tuple[str | None, float, str]] = {}

    def _truncation_of(self, key: str) -> int | None:
        """The one customer name that ``key`` is the beginning of, if ``key`` is long enough to be
        a bank's truncation of it rather than a different, shorter name."""
        if len(key) < TRUNCATED_NAME_MIN:
            return None
        start = bisect.bisect_left(self._sorted, (key,))
        hits = []
        for name, _ids in self._sorted[start:start + 3]:
            if name.startswith(key):
                hits.append(name)
        if len(hits) != 1:
            return None
        return self._pos[hits[0]]

    def _pool(self, key: str) -> list[int] | None:
        """Indexes of the names sharing one of the two rarest words of ``key`` (None: all names).
        Two words, because a bank's truncation can cut one of them."""
        lists = sorted((self._by_word[w] for w in set(key.split()) if w in self._by_word), key=len)
        if not lists:
            return None
        return sorted(set(lists[0]).union(*lists[1:2]))

    def by_name(self, payer_name: str) -> tuple[str | None, float, str]:
        """(customer, score, why-not) for a payer name: a customer only when one name scores at or
        above the cutoff and the runner-up is at least ``margin`` below it (ERPNext's tie rule)."""
        key = company_key(payer_name)
        if len(key) < 3:
            return None, 0.0, "too_short"
        if key in self._fuzzy_cache:
            return self._fuzzy_cache[key]
        if key in self._pos:  # written exactly as the register has it: no fuzzy search needed
            ids = self._ids[self._pos[key]]
            result = (ids[0], 100.0, "") if len(ids) == 1 else (None, 100.0, "name_ambiguous")
            self._fuzzy_cache[key] = result
            return result
        # token_sort_ratio, not token_set_ratio: the latter scores 100 when one name's words are a
        # subset of the other's ("ANDINA" vs "DISTRIBUIDORA ANDINA"), a wrong customer at full score.
        pool = self._pool(key)
        found = [(self._keys[pool[i]] if pool is not None else k, score, pool[i] if pool is not None else i)
                 for k, score, i in process.extract(key, [self._keys[j] for j in pool] if pool is not None else self._keys,
                                                    scorer=fuzz.token_sort_ratio, limit=2,
                                                    score_cutoff=self.cutoff - self.margin)]
        truncated = self._truncation_of(key)
        if truncated is not None and (not found or found[0][1] < self.cutoff):
            found = [(self._keys[truncated], 100.0, truncated)]
        # Names that differ in their numbers are different companies ("Consorcio Vial 2025" is not
        # "Consorcio Vial 2026"), however close the letters.
        digits = _DIGITS.findall(key)
        found = [f for f in found if _DIGITS.findall(f[0]) == digits]
        result: tuple[str | None, float, str] = (None, 0.0, "no_name_match")
        if found:
            best_key, best, idx = found[0]
            runner = found[1][1] if len(found) > 1 else 0.0
            ids = self._ids[idx]
            if best < self.cutoff:
                result = (None, best, "no_name_match")
            elif best - runner < self.margin or len(ids) > 1:
                result = (None, best, "name_ambiguous")
            else:
                result = (ids[0], best, "")
        self._fuzzy_cache[key] = result
        return result
