"""First matching stage: an invoice reference found in the payment's text plus the exact amount.

Anything less certain is a suggestion or goes unmatched, for finance to decide. The engine keeps
indexes by normalised reference, so a statement costs O(lines x tokens), never O(lines x items).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from conciliador.contracts import ReferenceExtractor
from conciliador.models import (
    Application,
    Customer,
    Decision,
    DecisionKind,
    Evidence,
    OpenItem,
    StatementLine,
)

RULE = "reference+amount"
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
MAX_SUGGESTIONS = 3


def normalise_reference(text: str) -> str:
    """Upper-case and drop separators: ``fe-1001``, ``FE 1001`` and ``FE.1001`` are one key."""
    return _NOT_ALNUM.sub("", text.upper())


@dataclass
class Engine:
    """Decides each line against one company's open items. Build one per matching run."""

    customers: Sequence[Customer]
    open_items: Sequence[OpenItem]
    extractors: Sequence[ReferenceExtractor]
    min_reference_length: int = 3
    _index: dict[str, list[OpenItem]] = field(init=False, default_factory=lambda: defaultdict(list))
    _remaining: dict[str, Decimal] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for item in self.open_items:
            self._remaining[item.document] = item.open_amount
            keys = {normalise_reference(item.document), normalise_reference(item.reference)}
            for key in keys:
                if len(key) >= self.min_reference_length:
                    self._index[key].append(item)

    def decide_all(self, lines: Iterable[StatementLine]) -> list[Decision]:
        """Decide lines in the order given; an item applied to one line is no longer open for the next."""
        return [self.decide(line) for line in lines]

    def decide(self, line: StatementLine) -> Decision:
        if line.amount <= 0:
            return Decision(line_identity=line.identity, kind=DecisionKind.IGNORE, reason="not_incoming",
                            evidence=(Evidence(rule="direction", code="not_incoming", field="amount",
                                               text=str(line.amount)),))
        found = self._referenced_items(line)
        if not found:
            return Decision(line_identity=line.identity, kind=DecisionKind.UNMATCHED, reason="no_reference",
                            evidence=(Evidence(rule=RULE, code="no_reference"),))

        evidence: list[Evidence] = []
        exact: list[tuple[OpenItem, str, str]] = []
        near: list[tuple[Decimal, OpenItem, str, str]] = []
        for item, token, where in found:
            params = {"reference": token, "field": where, "document": item.document,
                      "amount": str(line.amount), "open_amount": str(self._remaining[item.document])}
            if item.currency != line.currency:
                evidence.append(Evidence(rule=RULE, code="currency_differs", field=where, text=token,
                                         detail={**params, "item_currency": item.currency, "currency": line.currency}))
            elif self._remaining[item.document] == line.amount:
                exact.append((item, token, where))
            elif self._remaining[item.document] == 0:
                evidence.append(Evidence(rule=RULE, code="already_applied", field=where, text=token, detail=params))
            else:
                near.append((abs(self._remaining[item.document] - line.amount), item, token, where))
                evidence.append(Evidence(rule=RULE, code="amount_differs", field=where, text=token, detail=params))

        if len(exact) == 1:
            item, token, where = exact[0]
            self._remaining[item.document] -= line.amount
            application = Application(document=item.document, reference=item.reference, amount=line.amount,
                                      currency=line.currency)
            return Decision(
                line_identity=line.identity, kind=DecisionKind.APPLY, score=Decimal(1), customer_id=item.customer_id,
                applications=(application,), reason="reference_and_amount",
                evidence=(Evidence(rule=RULE, code="reference_and_amount", field=where, text=token,
                                   detail={"reference": token, "field": where, "document": item.document,
                                           "amount": str(line.amount)}),),
            )

        candidates = [(item, line.amount) for item, _, _ in exact]
        candidates += [(item, min(line.amount, self._remaining[item.document]))
                       for _, item, _, _ in sorted(near, key=lambda n: (n[0], n[1].document))]
        suggestions = tuple(
            (Application(document=item.document, reference=item.reference, amount=amount, currency=line.currency),)
            for item, amount in candidates[:MAX_SUGGESTIONS]
        )
        if len(exact) > 1:
            evidence.insert(0, Evidence(rule=RULE, code="ambiguous",
                                        detail={"documents": ", ".join(i.document for i, _, _ in exact)}))
        if not suggestions:
            return Decision(line_identity=line.identity, kind=DecisionKind.UNMATCHED,
                            reason=evidence[0].code if evidence else "no_reference", evidence=tuple(evidence))
        return Decision(line_identity=line.identity, kind=DecisionKind.SUGGEST, score=Decimal("0.5"),
                        customer_id=candidates[0][0].customer_id, candidates=suggestions,
                        reason="ambiguous" if len(exact) > 1 else "amount_differs", evidence=tuple(evidence))

    def _referenced_items(self, line: StatementLine) -> list[tuple[OpenItem, str, str]]:
        """(item, token as written, field it came from) for each open item the line names."""
        seen: set[str] = set()
        out = []
        for extractor in self.extractors:
            for token in extractor.extract(line):
                key = normalise_reference(token)
                for item in self._index.get(key, ()):
                    if item.document not in seen:
                        seen.add(item.document)
                        out.append((item, token, _field_of(line, token)))
        return out


def _field_of(line: StatementLine, token: str) -> str:
    """Which field of the line holds ``token`` (compared without separators, as the index is)."""
    key = normalise_reference(token)
    for name in ("remittance", "bank_reference", "end_to_end_id", "payer_name"):
        if key in normalise_reference(getattr(line, name)):
            return name
    return "remittance"
