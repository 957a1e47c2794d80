"""Finance's decisions coming back: a workbook dropped into ``resolutions/`` becomes ERP postings.

Each row with an action is checked on its own against the store and the ERP as they are now:

- the hidden line id, identity and version (the decision the row was written from) must match
  the line's current decision; otherwise the row is stale, or the line was already resolved
  (the same decision: nothing to do; another one: two people edited it);
- the same line twice in one file (on one sheet or several) with different decisions is refused;
  with the same, applied once. Only rows carrying the line's current ids count as copies: a stale
  or tampered copy gets its own reason and does not hold the valid row up;
- a Facturas or Cliente cell Excel stored as a decimal number, a number over 15 digits or a date
  is refused: what finance typed cannot be told back from it;
- invoices must be open in the ERP (net of what is queued in the outbox and of earlier rows of
  the file), in the payment's currency and of one customer, the one named if a customer is named;
- the cash must fit the invoices: the engine's own arithmetic is tried first (withholding
  profiles, early-payment discounts, write-off tolerance); a shortfall is a partial payment; an
  excess is refused unless the action is *anticipo*, which leaves it on the customer's account.

A valid row becomes, in one transaction, a decision that supersedes the one the row was written
from (evidence: finance, file, sheet and row), an outbox posting (the poster sends it exactly once
like any other), a claim on (line, version) in ``resolutions`` and the aliases the confirmation
teaches (:func:`conciliador.learning.learn`). *No es pago de cliente*, *devolver* and *ignorar*
are recorded without a posting; *reversar* queues a reversal of the ERP document, withdraws the
aliases finance's application taught, and puts the line back among the pending ones. A line whose
refused posting left a finished step in the ERP (a multi-step connector) is not applied again: the
new key would post that step a second time. An invalid row never holds up a valid one.

The dropped file ends in ``archive/resolutions/YYYY/MM/`` (or in ``quarantine/`` with a
``.reason.txt`` when it cannot be read, or when processing it hit a bug), and
``exceptions/<name>-resultado.xlsx`` gives the result of every row, by sheet title and row.
Dropping the same file again applies nothing twice: each row's claim is taken.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import structlog

from . import fsutil, resolution_reader
from .errors import ConnectorError
from .exception_items import STATUS
from .keys import reapplication_key, reversal_key
from .learning import learn
from .matching import Engine, normalise_reference
from .matching.learning import aliases_from
from .matching.text import company_key, nit_body
from .messages import format_amount, render
from .models import (
    Application,
    Decision,
    DecisionKind,
    Evidence,
    OpenItem,
    Posting,
    PostingKind,
    StatementLine,
)
from .reconcile import enqueue, match_config, net_of_outbox, posting_for
from .resolution_reader import RowInput, WorkbookRefused, read_rows
from .runtime import Runtime
from .store import utcnow
from .workbook import (
    DECISION_COLUMNS,
    FILE_PREFIX,
    RESULT_STATUS,
    RESULT_SUFFIX,
    SHEET_ACTIONS,
    SHEETS,
    action_from_text,
    action_label,
    build_result,
    to_bytes,
)

log = structlog.get_logger(__name__)

APPLYING = ("candidate_1", "candidate_2", "candidate_3", "invoices", "on_account")
#: Decision cells read as text, and the actions that read them.
TYPED = {"invoices": ("invoices", "on_account"), "customer": APPLYING}
#: Excel keeps 15 significant digits of a number: a longer one typed in a cell is rounded.
MAX_EXACT_DIGITS = 15
NO_POSTING = {"not_payment": "finance_not_payment", "return": "finance_return", "ignore": "finance_ignore"}
_SPLIT = re.compile(r"[,;\n]+")


@dataclass(frozen=True)
class RowResult:
    status: str  # applied | refused | unchanged
    message: str
    code: str = ""  # the message's code, for the audit trail


@dataclass(frozen=True)
class ResolutionOutcome:
    status: str  # processed | duplicate | quarantined | waiting
    path: Path
    result: Path | None = None
    applied: int = 0
    refused: int = 0
    reason: str = ""


class _Refused(Exception):
    def __init__(self, code: str, status: str = "refused", **params: object) -> None:
        super().__init__(code)
        self.code, self.status, self.params = code, status, {k: str(v) for k, v in params.items()}


@dataclass
class _Row:
    """A row with an action, its ids parsed."""

    src: RowInput
    action: str
    line_id: int
    identity: str
    version: int
    choice: str


class _ErpView:
    """One company's customers and open items for the rows of one file, net of the outbox and of
    what earlier rows of the file applied."""

    def __init__(self, runtime: Runtime, company: str) -> None:
        connector = runtime.connectors[company]
        self.customers = {c.id: c for c in connector.customers()}
        self.items = {i.document: i for i in net_of_outbox(runtime, company, list(connector.open_items()))}
        self.by_key: dict[str, list[str]] = defaultdict(list)  # reference key -> documents
        for item in self.items.values():
            for key in {normalise_reference(item.reference), normalise_reference(item.document)} - {""}:
                self.by_key[key].append(item.document)
        self._by_upper = {cid.upper(): cid for cid in self.customers}
        self._by_name: dict[str, list[str]] = defaultdict(list)
        self._by_nit: dict[str, list[str]] = defaultdict(list)
        for c in self.customers.values():
            self._by_name[company_key(c.name)].append(c.id)
            if c.tax_id:
                self._by_nit[nit_body(c.tax_id)].append(c.id)

    def consume(self, applications: tuple[Application, ...]) -> None:
        for a in applications:
            item = self.items[a.document]
            self.items[a.document] = item.model_copy(update={"open_amount": item.open_amount - a.cleared})

    def customer(self, text: str) -> str | None:
        """The customer id finance meant: the id (any case), an id followed by the name, the exact
        name, or the NIT."""
        text = text.strip()
        if text.upper() in self._by_upper:
            return self._by_upper[text.upper()]
        first = re.split(r"[\s·—–]+|\s-\s", text, maxsplit=1)[0]
        if first.upper() in self._by_upper:
            return self._by_upper[first.upper()]
        for index, key in ((self._by_name, company_key(text)), (self._by_nit, nit_body(text))):
            if len(index.get(key, ())) == 1:
                return index[key][0]
        return None

    def label(self, customer_id: str) -> str:
        c = self.customers.get(customer_id)
        return f"{customer_id} {c.name}" if c else customer_id

    def invoice(self, token: str, customer: str | None) -> OpenItem:
        if token in self.items:
            return self.items[token]
        hits = [self.items[d] for d in self.by_key.get(normalise_reference(token), ())]
        if len(hits) > 1 and customer:
            hits = [i for i in hits if i.customer_id == customer] or hits
        if len(hits) > 1:
            raise _Refused("row_ambiguous_invoice", invoice=token,
                           documents=", ".join(f"{i.document} ({i.customer_id})" for i in hits))
        if not hits:
            raise _Refused("row_unknown_invoice", invoice=token)
        return hits[0]

    def invoices(self, text: str, customer: str | None) -> list[OpenItem]:
        out: list[OpenItem] = []
        for token in (t.strip() for t in _SPLIT.split(text)):
            if not token:
                continue
            try:
                found = [self.invoice(token, customer)]
            except _Refused:
                parts = token.split()
                if len(parts) < 2:
                    raise
                found = [self.invoice(p, customer) for p in parts]  # "FE-1 FE-2" written with spaces
            out += [i for i in found if i.document not in {o.document for o in out}]
        return out


class Resolver:
    """Processes workbooks dropped into ``resolutions/``; one instance per agent."""

    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.db = runtime.db
        self.language = runtime.settings.language

    # -- one file --------------------------------------------------------------------------
    def process(self, path: Path) -> ResolutionOutcome:
        """Take one dropped workbook. Never raises for a bad file: it quarantines it, and a bug
        while processing it sets the file aside in ``quarantine/`` too, so it cannot come back at
        every rescan. Returns ``waiting`` (the file stays) when an ERP cannot be read now. Raises
        only what is worth trying again later: ``OSError`` (the file vanished, a folder cannot be
        written) and ``sqlite3.OperationalError`` (the store is locked or full)."""
        try:
            return self._process(path)
        except (OSError, sqlite3.OperationalError):
            raise
        except Exception as exc:
            log.exception("resolution_failed", file=path.name)
            if not path.exists():
                raise
            return self._set_aside(path, exc)

    def _process(self, path: Path) -> ResolutionOutcome:
        size = path.stat().st_size
        # A workbook's own cap, not intake.max_file_mb: that one is sized for bank statements.
        limit = resolution_reader.MAX_EXPANDED
        sha = fsutil.sha256_file(path)
        if size > limit:
            return self._quarantine(path, size, sha, render("file_too_large_on_disk", {
                "file": path.name, "size": resolution_reader.megabytes(size), "limit": f"{limit / 2**20:g}"},
                self.language))
        processed = self.db.conn.execute(
            "SELECT id, stored_path FROM resolution_files WHERE sha256 = ? AND status = 'processed'", (sha,)).fetchone()
        if processed is not None and processed["stored_path"] and not Path(processed["stored_path"]).exists():
            # Recorded, then the agent stopped before the move: finish the move.
            fsutil.move(path, Path(processed["stored_path"]))
            return ResolutionOutcome("processed", Path(processed["stored_path"]))
        try:
            inputs = read_rows(path, limit)
        except WorkbookRefused as exc:
            return self._quarantine(path, size, sha, render(exc.code, exc.params, self.language))

        rows, results = self._parse(inputs)
        try:
            views = self._views(rows)
        except ConnectorError as exc:
            log.warning("resolution_waits_for_erp", file=path.name, error=str(exc))
            return ResolutionOutcome("waiting", path, reason=str(exc))
        except Exception as exc:  # a connector bug: the file waits, the agent goes on
            log.exception("resolution_waits_for_erp", file=path.name)
            return ResolutionOutcome("waiting", path, reason=repr(exc))

        file_id = self._file_record(path, size, sha, processed["id"] if processed else None)
        for row in rows:
            if (row.src.title, row.src.row) not in results:
                results[(row.src.title, row.src.row)] = self._resolve(file_id, path.name, row, views)
        result_path = self._write_result(path, inputs, results)
        applied = sum(1 for r in results.values() if r.status == "applied")
        refused = sum(1 for r in results.values() if r.status == "refused")
        stored = fsutil.free_name(self._archive_folder(), path.name)
        status = "duplicate" if processed else "processed"
        with self.db.transaction() as conn:
            conn.execute("UPDATE resolution_files SET status = ?, stored_path = ?, result_path = ?, applied = ?, "
                         "refused = ? WHERE id = ?", (status, str(stored), str(result_path), applied, refused, file_id))
            for src in inputs:
                result = results.get((src.title, src.row))
                if result is not None and result.status == "refused":
                    self.db.audit(conn, "resolution_refused", line_id=_int(src.text("line_id")), file=path.name,
                                  sheet=src.title, row=src.row, action=src.text("action"), code=result.code,
                                  reason=result.message)
            self.db.audit(conn, "resolution_file_processed", name=path.name, sha256=sha, applied=applied,
                          refused=refused, result=str(result_path), duplicate=bool(processed))
        fsutil.move(path, stored)
        path.with_name(path.name + ".done").unlink(missing_ok=True)
        log.info("resolution_processed", file=path.name, applied=applied, refused=refused, result=str(result_path),
                 archived_to=str(stored), duplicate=bool(processed))
        return ResolutionOutcome(status, stored, result_path, applied, refused)

    def _parse(self, inputs: list[RowInput]) -> tuple[list[_Row], dict[tuple[str, int], RowResult]]:
        """Rows with an action, ids parsed; rows refused before any lookup get their result here.
        Results are keyed by (sheet title, row): a file may hold two sheets of one kind."""
        results: dict[tuple[str, int], RowResult] = {}
        rows: list[_Row] = []
        for src in inputs:
            key = (src.title, src.row)
            text = src.text("action")
            if not text:
                filled = [c for c in TYPED if src.values.get(c) is not None]
                if filled:  # finance wrote what to do but not the action: say so, do not guess
                    columns = (" y " if self.language == "es" else " and ").join(_header(c, self.language)
                                                                                 for c in filled)
                    results[key] = self._result(_Refused("row_no_action", columns=columns))
                continue
            action = action_from_text(text)
            if action is None:
                results[key] = self._result(_Refused("row_unknown_action", action=text))
                continue
            if action not in SHEET_ACTIONS[src.sheet]:
                results[key] = self._result(_Refused("row_wrong_sheet", action=text, sheet=src.title))
                continue
            try:
                line_id, version = int(src.text("line_id")), int(src.text("version"))
                if not (0 < line_id < 2**63 and 0 <= version < 2**63):
                    raise ValueError(version)
            except ValueError:
                results[key] = self._result(_Refused("row_ids_changed"))
                continue
            try:
                self._check_typed(action, src)
            except _Refused as exc:
                results[key] = self._result(exc)
                continue
            rows.append(_Row(src, action, line_id, src.text("identity"), version, _choice(action, src)))
        # The same line twice in one file with different decisions: neither applies. Only rows whose
        # hidden ids are the line's current ones count as copies: a stale or tampered copy pasted
        # above the valid row gets its own reason and does not hold the valid row up. Copies with
        # the same decision both go on; the (line, version) claim applies the first and reports the
        # others as resolved by it.
        current = self._current_ids({r.line_id for r in rows})
        by_line: dict[int, list[_Row]] = defaultdict(list)
        for row in rows:
            if current.get(row.line_id) == (row.identity, row.version):
                by_line[row.line_id].append(row)
        kept = []
        for row in rows:
            twins = by_line.get(row.line_id, [])
            if any(t is row for t in twins) and len({t.choice for t in twins}) > 1:
                results[(row.src.title, row.src.row)] = self._result(
                    _Refused("row_duplicate_conflict", rows=_places(twins)))
            else:
                kept.append(row)
        return kept, results

    def _check_typed(self, action: str, src: RowInput) -> None:
        """Refuse a Facturas or Cliente cell Excel turned into a number or a date: what finance
        typed cannot be told back from it («5,7» meant invoices 5 and 7 on an es-CO system is the
        number 5.7; digits past the 15th are rounded away)."""
        for key, actions in TYPED.items():
            value = src.values.get(key)
            if action not in actions or value is None:
                continue
            column = _header(key, self.language)
            if isinstance(value, (dt.date, dt.time)):
                shown = value.strftime("%d/%m/%Y" if self.language == "es" else "%Y-%m-%d") \
                    if isinstance(value, dt.date) else value.isoformat()
                raise _Refused("row_date_cell", column=column, value=shown)
            if isinstance(value, Decimal):
                shown = format(value, "f") if value.is_finite() else str(value)
                if self.language == "es":
                    shown = shown.replace(".", ",")
                if not value.is_finite() or value != value.to_integral_value():
                    raise _Refused("row_number_cell", column=column, value=shown)
                if len(str(abs(int(value)))) > MAX_EXACT_DIGITS:
                    raise _Refused("row_number_too_long", column=column, value=shown)

    def _current_ids(self, line_ids: set[int]) -> dict[int, tuple[str, int | None]]:
        """line id -> (identity, id of its current decision) for the lines the rows name."""
        ids = sorted(line_ids)
        out: dict[int, tuple[str, int | None]] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            for line_id, identity, version in self.db.conn.execute(
                    "SELECT l.id, l.identity, d.id FROM statement_lines l LEFT JOIN decisions d ON d.line_id = l.id "
                    f"AND d.superseded_by IS NULL WHERE l.id IN ({','.join('?' * len(part))})", part):
                out[line_id] = (identity, version)
        return out

    def _views(self, rows: list[_Row]) -> dict[str, _ErpView]:
        """Read each ERP the applying rows need, before anything is written: an ERP that cannot be
        read leaves the whole file for the next round."""
        ids = [r.line_id for r in rows if r.action in APPLYING]
        companies: set[str] = set()
        for chunk in range(0, len(ids), 500):
            part = ids[chunk:chunk + 500]
            companies |= {c for (c,) in self.db.conn.execute(
                f"SELECT DISTINCT company FROM statement_lines WHERE id IN ({','.join('?' * len(part))})", part) if c}
        return {c: _ErpView(self.rt, c) for c in sorted(companies) if c in self.rt.connectors}

    # -- one row -------------------------------------------------------------------------------
    def _resolve(self, file_id: int, file_name: str, row: _Row, views: dict[str, _ErpView]) -> RowResult:
        try:
            return self._resolve_row(file_id, file_name, row, views)
        except _Refused as exc:
            return self._result(exc)
        except Exception as exc:  # a bug must cost one row, not the file (which would come back forever)
            log.exception("resolution_row_failed", file=file_name, sheet=row.src.sheet, row=row.src.row)
            return self._result(_Refused("row_internal_error", error=repr(exc)[:200]))

    def _resolve_row(self, file_id: int, file_name: str, row: _Row, views: dict[str, _ErpView]) -> RowResult:
        conn = self.db.conn
        found = conn.execute("SELECT identity, data, company FROM statement_lines WHERE id = ?",
                             (row.line_id,)).fetchone()
        if found is None or found["identity"] != row.identity:
            raise _Refused("row_ids_changed")
        line = StatementLine.model_validate_json(found["data"])
        company = found["company"]
        if company is None:
            raise _Refused("row_no_company", account=line.account)
        current = conn.execute("SELECT id, kind, data FROM decisions WHERE line_id = ? AND superseded_by IS NULL",
                               (row.line_id,)).fetchone()
        if current is None or current["id"] != row.version:
            self._stale(file_id, row, current)
        decision = Decision.model_validate_json(current["data"])
        latest = conn.execute("SELECT key, state, erp_document, payload, decision_id FROM outbox WHERE line_id = ? "
                              "ORDER BY created_at DESC, rowid DESC LIMIT 1", (row.line_id,)).fetchone()
        if row.src.sheet == "pending" and current["kind"] in ("apply", "ignore") and not (
                latest is not None and latest["state"] == "failed" and current["kind"] == "apply"):
            raise _Refused("row_stale", now=self._describe(current["kind"], latest))
        if row.src.sheet == "applied" and current["kind"] != "apply":
            raise _Refused("row_stale", now=self._describe(current["kind"], latest))

        source = {"file": file_name, "sheet": row.src.title, "row": str(row.src.row),
                  "action": action_label(row.action, self.language)}
        note = row.src.text("note")
        if row.action == "reverse":
            return self._reverse(file_id, row, line, company, decision, source, note)
        if row.action in NO_POSTING:
            new = Decision(line_identity=line.identity, kind=DecisionKind.IGNORE, score=Decimal(1),
                           customer_id=decision.customer_id, reason=NO_POSTING[row.action],
                           evidence=_finance_evidence(source, note))
            self._commit(file_id, row, company, line, new, None, learned_customer=None)
            return RowResult("applied", render("row_recorded", {"action": source["action"]}, self.language))
        # Applying rows.
        if not line.is_credit:
            raise _Refused("row_not_incoming")
        partly = self._finished_steps(row.line_id)
        if partly:
            # The poster would send the new key from its first step: a second receipt for the same cash.
            raise _Refused("row_partially_posted", key=partly[0]["key"],
                           documents=", ".join(r["document"] for r in partly))
        if latest is not None and json.loads(latest["payload"]).get("kind") == PostingKind.REVERSAL.value:
            # Applying again while the ERP still holds the first application would apply the cash twice.
            reverses = json.loads(latest["payload"])["reverses"]
            if latest["state"] in ("pending", "in_flight"):
                raise _Refused("row_reversal_in_flight", document=reverses)
            if latest["state"] == "failed":
                raise _Refused("row_reversal_failed", document=reverses)
        view = views.get(company)
        if view is None:
            raise _Refused("row_no_company", account=line.account)
        new, detail = self._allocation(row, line, decision, view, source, note)
        key = self._commit(file_id, row, company, line, new, None, learned_customer=new.customer_id, make_posting=True)
        view.consume(new.applications)
        params = {"documents": ", ".join(a.reference or a.document for a in new.applications),
                  "customer": view.label(new.customer_id), "key": key,
                  "amount": format_amount(new.on_account, self.language)}
        messages = [render("row_applied", params, self.language)] if new.applications else []
        if new.on_account:
            messages.append(render("row_on_account", params, self.language))
        return RowResult("applied", " ".join([*messages, *detail]))

    def _finished_steps(self, line_id: int) -> list[sqlite3.Row]:
        """The steps a refused posting of the line left done in the ERP (a multi-step connector,
        e.g. S/4HANA's journal entry before the clearing the ERP then refused)."""
        return self.db.conn.execute(
            "SELECT o.key, s.step, s.document FROM outbox o JOIN outbox_steps s ON s.key = o.key "
            "WHERE o.line_id = ? AND o.state = 'failed' ORDER BY s.done_at, s.step", (line_id,)).fetchall()

    def _allocation(self, row: _Row, line: StatementLine, decision: Decision, view: _ErpView,
                    source: dict[str, str], note: str) -> tuple[Decision, list[str]]:
        """The decision finance's row asks for, checked against the ERP: customer, invoices, amounts."""
        named_text = row.src.text("customer")
        named = view.customer(named_text) if named_text else None
        if named_text and named is None:
            raise _Refused("row_unknown_customer", customer=named_text)
        if row.action.startswith("candidate_"):
            n = int(row.action[-1])
            options = decision.candidates or ((decision.applications,) if decision.applications else ())
            if n > len(options):
                raise _Refused("row_no_candidate", n=n)
            items = [view.invoice(a.document, named) for a in options[n - 1]]
        else:
            text = row.src.text("invoices")
            if not text and row.action == "invoices":
                raise _Refused("row_invoices_missing")
            items = view.invoices(text, named) if text else []
        for item in items:
            if item.currency != line.currency:
                raise _Refused("row_currency", invoice=item.reference or item.document, item_currency=item.currency,
                               currency=line.currency)
        owners = sorted({i.customer_id for i in items})
        if len(owners) > 1:
            raise _Refused("row_mixed_customers", customers=", ".join(view.label(o) for o in owners))
        if named and owners and owners[0] != named:
            item = items[0]
            raise _Refused("row_customer_mismatch", invoice=item.reference or item.document,
                           owner=view.label(owners[0]), customer=view.label(named))
        customer = owners[0] if owners else named or (decision.customer_id if row.action == "on_account" else "")
        if not customer:
            raise _Refused("row_customer_missing")
        if customer not in view.customers:
            raise _Refused("row_unknown_customer", customer=customer)
        for item in items:
            if item.open_amount <= 0 < item.original_amount:  # paid, or used by a queued posting or an earlier row
                raise _Refused("row_invoice_taken", invoice=item.reference or item.document,
                               open=format_amount(item.open_amount, self.language))
        applications, on_account, evidence, detail = self._amounts(row.action == "on_account", line, customer,
                                                                   items, view)
        source = {**source, "customer_name": view.customers[customer].name}
        return Decision(line_identity=line.identity, kind=DecisionKind.APPLY, score=Decimal(1), customer_id=customer,
                        applications=applications, on_account=on_account, reason="resolved_by_finance",
                        evidence=(*_finance_evidence(source, note), *evidence)), detail

    def _amounts(self, on_account: bool, line: StatementLine, customer: str, items: list[OpenItem], view: _ErpView):
        """(applications, on-account amount, evidence, result details) for paying ``items`` with the line."""
        language = self.language
        if not items:
            return (), line.amount, [Evidence(rule="finance", code="on_account")], []
        # The engine's arithmetic on just these invoices (withholding profiles, discounts, tolerance),
        # so finance's choice is booked as the agent would book it by itself.
        engine = Engine([view.customers[customer]], items, [], match_config(self.rt.settings))
        booked = engine.allocate(line, [i.document for i in items])
        if booked is not None:
            applications, evidence = booked
            return applications, Decimal(0), list(evidence), []
        total = sum((i.open_amount for i in items), Decimal(0))
        if line.amount > total:
            if not on_account:
                raise _Refused("row_exceeds", amount=format_amount(line.amount, language),
                               open=format_amount(total, language), excess=format_amount(line.amount - total, language))
            apps = tuple(Application(document=i.document, reference=i.reference, amount=i.open_amount,
                                     currency=line.currency) for i in items)
            return apps, line.amount - total, [Evidence(rule="amount", code="overpayment_on_account", detail={
                "on_account": str(line.amount - total)})], []
        if on_account:
            raise _Refused("row_nothing_on_account", amount=format_amount(line.amount, language),
                           open=format_amount(total, language))
        # A shortfall: a partial payment, the invoices paid in the order finance wrote them.
        left, apps, evidence, detail = line.amount, [], [], []
        for item in sorted(items, key=lambda i: i.open_amount >= 0):  # credit notes first: they add cash
            if left <= 0 and item.open_amount > 0:
                break
            cash = item.open_amount if item.open_amount < 0 else min(item.open_amount, left)
            left -= cash
            apps.append(Application(document=item.document, reference=item.reference, amount=cash,
                                    currency=line.currency))
            if cash < item.open_amount:
                remaining = item.open_amount - cash
                evidence.append(Evidence(rule="partial", code="partial_payment", detail={
                    "document": item.document, "amount": str(cash), "open_amount": str(item.open_amount),
                    "left": str(remaining)}))
                detail.append(render("row_partial", {"document": item.reference or item.document,
                                                     "left": format_amount(remaining, language)}, language))
        return tuple(apps), Decimal(0), evidence, detail

    def _reverse(self, file_id: int, row: _Row, line: StatementLine, company: str, decision: Decision,
                 source: dict[str, str], note: str) -> RowResult:
        original = self.db.conn.execute(
            "SELECT key, state, erp_document, payload FROM outbox WHERE line_id = ? AND decision_id = ? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1", (row.line_id, row.version)).fetchone()
        if original is None:
            raise _Refused("row_nothing_to_reverse")
        if original["state"] != "posted" or not original["erp_document"]:
            raise _Refused("row_not_posted", state=original["state"])
        posting = Posting.model_validate({**json.loads(original["payload"]), "key": reversal_key(original["key"]),
                                          "kind": PostingKind.REVERSAL.value, "reverses": original["erp_document"]})
        new = Decision(line_identity=line.identity, kind=DecisionKind.UNMATCHED, customer_id=decision.customer_id,
                       reason="reversed_by_finance", evidence=(
                           Evidence(rule="finance", code="reversed_by_finance", detail={
                               "document": original["erp_document"], "file": source["file"], "row": source["row"]}),
                           *_finance_evidence(source, note)[1:]))
        # What finance's own resolution taught goes with it; and an application the engine made on a
        # learned alias shows that alias wrong: it goes too, or the next payment repeats the mistake.
        on_alias = any(e.code in ("customer_by_alias_account", "customer_by_alias_name") for e in decision.evidence)
        taught = decision.customer_id if decision.reason == "resolved_by_finance" or on_alias else None
        self._commit(file_id, row, company, line, new, posting, learned_customer=None, forgotten_customer=taught)
        return RowResult("applied", render("row_reversal", {"document": original["erp_document"], "key": posting.key},
                                           self.language))

    # -- the transaction -----------------------------------------------------------------------
    def _commit(self, file_id: int, row: _Row, company: str, line: StatementLine, new: Decision,
                posting: Posting | None, *, learned_customer: str | None, make_posting: bool = False,
                forgotten_customer: str | None = None) -> str:
        """Supersede the row's version with ``new``, queue ``posting`` (or, with ``make_posting``,
        the one that applies ``new``), claim (line, version), learn and forget, all or nothing.
        Returns the posting's key ('' without one)."""
        db = self.db
        try:
            with db.transaction() as conn:
                # The old decision points at the new one before the new one exists.
                conn.execute("PRAGMA defer_foreign_keys = ON")
                new_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM decisions").fetchone()[0]
                cur = conn.execute("UPDATE decisions SET superseded_by = ? WHERE id = ? AND line_id = ? "
                                   "AND superseded_by IS NULL", (new_id, row.version, row.line_id))
                if cur.rowcount != 1:
                    raise _Refused("row_stale", now="?")
                conn.execute(
                    "INSERT INTO decisions(id, line_id, snapshot_id, company, kind, score, reason, data, created_at) "
                    "VALUES (?, ?, NULL, ?, ?, ?, ?, ?, ?)",
                    (new_id, row.line_id, company, new.kind.value, str(new.score), new.reason, new.model_dump_json(),
                     utcnow()))
                if make_posting:
                    earlier = conn.execute("SELECT count(*) FROM outbox WHERE line_id = ?", (row.line_id,)).fetchone()[0]
                    posting = posting_for(line, new, company, reapplication_key(line.identity, earlier))
                if posting is not None and not enqueue(self.rt, conn, posting, row.line_id, new_id):
                    raise _Refused("row_key_taken", key=posting.key)
                conn.execute(
                    "INSERT INTO resolutions(file_id, sheet, row, line_id, based_on, action, choice, decision_id, "
                    "posting_key, resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (file_id, row.src.title, row.src.row, row.line_id, row.version, row.action, row.choice, new_id,
                     posting.key if posting else None, utcnow()))
                source = f"{self._file_name(file_id)} {row.src.title} {row.src.row}"
                if learned_customer:
                    learn(db, conn, company, line, learned_customer, source)
                if forgotten_customer:
                    _forget(db, conn, company, line, forgotten_customer, source)
                db.audit(conn, "resolved_by_finance", line_id=row.line_id, posting_key=posting.key if posting else None,
                         action=row.action, based_on=row.version, decision_id=new_id, source=source,
                         customer=new.customer_id, documents=[a.document for a in new.applications])
        except sqlite3.IntegrityError:
            # Another resolution claimed this version between our check and the commit.
            current = db.conn.execute("SELECT id, kind, data FROM decisions WHERE line_id = ? AND superseded_by IS NULL",
                                      (row.line_id,)).fetchone()
            self._stale(file_id, row, current)
        return posting.key if posting else ""

    # -- stale rows ----------------------------------------------------------------------------
    def _stale(self, file_id: int, row: _Row, current) -> None:
        """Raise the reason a row's version is no longer the line's current decision."""
        earlier = self.db.conn.execute(
            "SELECT r.file_id, r.sheet, r.row, r.action, r.choice, f.original_name FROM resolutions r "
            "JOIN resolution_files f ON f.id = r.file_id WHERE r.line_id = ? AND r.based_on = ?",
            (row.line_id, row.version)).fetchone()
        if earlier is not None:
            # Claims name the sheet by its title; those written before titles were kept, by kind.
            sheet = earlier["sheet"]
            same_sheet = sheet == row.src.title or (sheet in SHEET_ACTIONS and sheet == row.src.sheet)
            where = {"file": earlier["original_name"], "row": earlier["row"],
                     "sheet": SHEETS[sheet][self.language] if sheet in SHEET_ACTIONS else sheet}
            if earlier["file_id"] == file_id and earlier["row"] == row.src.row and same_sheet:
                # This very file, processed before the agent stopped: it was applied.
                raise _Refused("row_already_same", status="applied", **where)
            if earlier["choice"] == row.choice:
                raise _Refused("row_already_same", status="unchanged", **where)
            raise _Refused("row_conflict", action=action_label(earlier["action"], self.language), **where)
        latest = self.db.conn.execute("SELECT key, state, erp_document, payload, decision_id FROM outbox "
                                      "WHERE line_id = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
                                      (row.line_id,)).fetchone()
        raise _Refused("row_stale", now=self._describe(current["kind"] if current else "", latest))

    def _describe(self, kind: str, latest) -> str:
        labels = STATUS[self.language]
        if kind == "apply" and latest is not None:
            return labels.get(latest["state"], latest["state"])
        return labels.get(kind, kind or "?")

    # -- records and files ---------------------------------------------------------------------
    def _file_record(self, path: Path, size: int, sha: str, duplicate_of: int | None) -> int:
        row = self.db.conn.execute("SELECT id FROM resolution_files WHERE sha256 = ? AND status = 'processing' "
                                   "ORDER BY id LIMIT 1", (sha,)).fetchone()
        if row is not None:  # the agent stopped half-way through this file: its rows resume
            return row["id"]
        with self.db.transaction() as conn:
            file_id = conn.execute(
                "INSERT INTO resolution_files(sha256, original_name, size, received_at, status, duplicate_of) "
                "VALUES (?, ?, ?, ?, 'processing', ?)", (sha, path.name, size, utcnow(), duplicate_of)).lastrowid
            self.db.audit(conn, "resolution_file_received", name=path.name, sha256=sha, duplicate_of=duplicate_of)
        return file_id

    def _file_name(self, file_id: int) -> str:
        return self.db.conn.execute("SELECT original_name FROM resolution_files WHERE id = ?", (file_id,)).fetchone()[0]

    def _result(self, exc: _Refused) -> RowResult:
        # A customer name ending in "S.A.S." at the end of a sentence would end it twice.
        message = re.sub(r"\.\.(?=\s|$)", ".", render(exc.code, exc.params, self.language))
        return RowResult(exc.status, message, exc.code)

    def _write_result(self, path: Path, inputs: list[RowInput], results: dict[tuple[str, int], RowResult]) -> Path:
        """``exceptions/<name>-resultado.xlsx``: every row that had an action, as finance wrote it,
        with its result; refused rows can be corrected there and the file dropped again."""
        labels = RESULT_STATUS[self.language]
        sheets: dict[str, tuple[str, list[dict]]] = {}  # title -> (kind, rows), in the file's order
        for src in inputs:
            result = results.get((src.title, src.row))
            if result is None:
                continue
            sheets.setdefault(src.title, (src.sheet, []))[1].append(
                {**src.values, "result": labels[result.status], "result_detail": result.message})
        stem = re.sub(r"(-resultado|-result)(\.\d+)?$", "", path.name.rsplit(".", 1)[0]) or FILE_PREFIX[self.language]
        target = fsutil.free_name(self.rt.folders["exceptions"], f"{stem}{RESULT_SUFFIX[self.language]}.xlsx")
        result_sheets = [(kind, title, rows) for title, (kind, rows) in sheets.items()]
        fsutil.write_atomic(target, to_bytes(build_result(result_sheets, self.language)))
        return target

    def _set_aside(self, path: Path, exc: Exception) -> ResolutionOutcome:
        """Quarantine a file whose processing failed on a bug. Rows applied before the failure stay
        applied (each in its own transaction) and the file's record stays ``processing``: the same
        bytes dropped again resume it, those rows reported as applied."""
        size, sha = path.stat().st_size, fsutil.sha256_file(path)
        reason = render("file_internal_error", {"file": path.name, "error": repr(exc)[:200]}, self.language)
        [applied] = self.db.conn.execute(
            "SELECT count(*) FROM resolutions r JOIN resolution_files f ON f.id = r.file_id "
            "WHERE f.sha256 = ? AND f.status = 'processing'", (sha,)).fetchone()
        what_to_do = (render("file_internal_error_what_to_do", {"applied": str(applied)}, self.language)
                      if applied else None)
        return self._quarantine(path, size, sha, reason, what_to_do)

    def _quarantine(self, path: Path, size: int, sha: str, reason: str,
                    what_to_do: str | None = None) -> ResolutionOutcome:
        target = fsutil.free_name(self.rt.folders["quarantine"], path.name)
        what_to_do = what_to_do or render("file_quarantined_what_to_do", {}, self.language)
        text = f"{path.name}\n{utcnow()}\nsha256: {sha}\n\n{reason}\n\n{what_to_do}\n"
        fsutil.write_atomic(target.with_name(target.name + ".reason.txt"), text.encode("utf-8"))
        fsutil.move(path, target)
        path.with_name(path.name + ".done").unlink(missing_ok=True)
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO resolution_files(sha256, original_name, size, received_at, status, stored_path, "
                         "reason) VALUES (?, ?, ?, ?, 'quarantined', ?, ?)",
                         (sha, path.name, size, utcnow(), str(target), reason))
            self.db.audit(conn, "resolution_quarantined", name=path.name, reason=reason)
        log.warning("resolution_quarantined", file=path.name, reason=reason, quarantined_to=str(target))
        return ResolutionOutcome("quarantined", target, reason=reason)

    def _archive_folder(self) -> Path:
        today = dt.date.today()
        return self.rt.folders["archive"] / "resolutions" / f"{today:%Y}" / f"{today:%m}"


def _forget(db, conn: sqlite3.Connection, company: str, line: StatementLine, customer_id: str, source: str) -> int:
    """Delete the aliases :func:`conciliador.learning.learn` wrote for ``line`` paid by
    ``customer_id`` (inside the caller's transaction), so a reversed resolution stops applying the
    payer's next payments to that customer. Only rows still naming that customer: one finance has
    since pointed elsewhere is another decision's. An alias an earlier confirmation also taught
    goes too: forgetting costs one suggestion to confirm, a wrong alias a wrong posting."""
    forgotten = 0
    for kind, value, customer in aliases_from(line, customer_id):
        cur = conn.execute("DELETE FROM aliases WHERE company = ? AND kind = ? AND value = ? AND customer_id = ?",
                           (company, kind, value, customer))
        if cur.rowcount:
            forgotten += 1
            db.audit(conn, "alias_forgotten", company=company, kind=kind, value=value, customer=customer, source=source)
    return forgotten


def _finance_evidence(source: dict[str, str], note: str) -> tuple[Evidence, ...]:
    out = [Evidence(rule="finance", code="resolved_by_finance", detail=source)]
    if note:
        out.append(Evidence(rule="finance", code="finance_note", text=note[:200], detail={"note": note[:200]}))
    return tuple(out)


def _choice(action: str, src: RowInput) -> str:
    """What a row decides, comparable between rows and files (the note does not count)."""
    invoices = sorted(normalise_reference(t) for t in _SPLIT.split(src.text("invoices")) if t.strip())
    return json.dumps({"action": action, "invoices": invoices if action in ("invoices", "on_account") else [],
                       "customer": src.text("customer").upper() if action in APPLYING else ""}, sort_keys=True)


def _places(twins: list[_Row]) -> str:
    """Where the copies of a line are: row numbers, with the sheet when they are on several."""
    if len({t.src.title for t in twins}) == 1:
        return ", ".join(str(t.src.row) for t in twins)
    return ", ".join(f"{t.src.row} ({t.src.title})" for t in twins)


def _header(key: str, language: str) -> str:
    return next(c.header(language) for c in DECISION_COLUMNS if c.key == key)


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def resolution_files(runtime: Runtime) -> list[Path]:
    """Files waiting in ``resolutions/`` (hidden files, Office lock files and markers skipped)."""
    from .intake import is_candidate

    folder = runtime.folders["resolutions"]
    return sorted(p for p in folder.iterdir() if p.is_file() and is_candidate(p)) if folder.is_dir() else []


def settled(paths: list[Path], stable_seconds: float, stop: threading.Event | None = None) -> list[Path]:
    """The files of ``paths`` done being written, by the service's rule (``daemon._StableFiles``):
    a ``NAME.done`` marker beside it, or size and time unchanged for ``stable_seconds``. For one
    pass (``run --once``) the files are looked at, then again ``stable_seconds`` later: a file
    still changing (Excel or a copy to the share still writing it) is left for the next run rather
    than read half-written and quarantined. The time alone is not enough: Explorer and robocopy
    give a copy its source's old time before its bytes are all there."""
    if stable_seconds <= 0 or not paths:
        return list(paths)
    before: dict[Path, tuple[int, int]] = {}
    ready = []
    for path in paths:
        if path.with_name(path.name + ".done").exists():
            ready.append(path)
            continue
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        before[path] = (st.st_size, st.st_mtime_ns)
    if before:
        if stop is not None:
            stop.wait(stable_seconds)
        else:
            time.sleep(stable_seconds)
        for path, seen in before.items():
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if (st.st_size, st.st_mtime_ns) == seen or path.with_name(path.name + ".done").exists():
                ready.append(path)
            else:
                log.info("resolution_still_changing", file=path.name, stable_seconds=stable_seconds)
    return sorted(ready)


__all__ = ["Resolver", "ResolutionOutcome", "RowResult", "resolution_files", "settled"]
