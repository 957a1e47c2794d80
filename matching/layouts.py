"""Packed references: one number a biller built out of several (``reference_layouts`` in ``[matching]``).

Collection references are defined by the biller: often a single invoice or contract number, but
many billers pack several numbers into one field, e.g. the payer's NIT and check digit followed by
the invoice number zero-padded to 8 (``900123456`` ``8`` ``00045678``), or a customer code then an
invoice. No token of such a number is an invoice number and the NIT inside it is not bounded by
non-digits, so the engine finds nothing in it unless it is told how the biller packs it.

A layout is a Python regular expression with named groups from a fixed vocabulary:

``invoice`` (and ``invoice2`` ... ``invoice9`` for more in one reference)
    a document or reference number, looked up exactly like a number the payer wrote in the text
    (with or without prefix and leading zeros: ``00045678`` finds ``FE-45678``);
``nit``
    the payer's NIT: 10 digits are the body and its check digit, which must be right; 6 to 9 are a
    body as written. A NIT identifies the customer as a NIT in the payer's texts does;
``customer``
    the customer's number in the ERP (compared without leading zeros: ``001003`` is ``1003`` and
    SAP's ``0000001003``).

Layouts are tried in order against the digits of the line's ``end_to_end_id`` (the payer's
reference: where the bank formats put the reference the biller assigned; never the free text, whose
long numbers are often something else, nor the bank's own reference), after removing separators and
the leading zeros that fixed-width fields pad numbers with. The first layout that matches the
whole number (``re.fullmatch``), whose ``nit`` part (if any) is a NIT and which gives at least
one part wins; the others are not tried. Pure and cheap: at most one match per layout and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import packed_nit, reference_key

#: The group names a layout may use (``invoice`` may be numbered: ``invoice2`` ... ``invoice9``).
GROUPS = ("invoice", "nit", "customer")
_NAME = re.compile(r"invoice[2-9]?|nit|customer")


def compile_layout(pattern: str) -> re.Pattern[str]:
    """The compiled layout, or ValueError saying what is wrong with it (in words for IT)."""
    if not isinstance(pattern, str) or not pattern:
        raise ValueError("a layout is a regular expression with named groups, e.g. "
                         r"'(?P<nit>\d{10})(?P<invoice>\d{8})'")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    names = list(compiled.groupindex)
    unknown = [n for n in names if not _NAME.fullmatch(n)]
    if unknown:
        raise ValueError(f"group name {unknown[0]!r} is not one of invoice (invoice2 ... invoice9 for more), "
                         "nit, customer")
    if not names:
        raise ValueError("the layout names no part: mark them with (?P<invoice>...), (?P<nit>...) or "
                         "(?P<customer>...)")
    return compiled


@dataclass(frozen=True)
class Split:
    """What a layout read in a reference."""

    layout: int  # 1-based position in reference_layouts, as finance and IT count them
    reference: str  # the digits the layout matched (separators and leading zeros removed)
    parts: tuple[tuple[str, str], ...]  # (group, digits as written) in the layout's order
    invoices: tuple[str, ...]  # numbers to look up, as written (leading zeros kept, as a token)
    nit: str  # the NIT body, "" when none
    customer: str  # the ERP customer number without leading zeros, "" when none

    def described(self) -> str:
        """``nit=9001234568;invoice=00045678``: rendered in finance's language by agent/messages.py."""
        return ";".join(f"{name}={value}" for name, value in self.parts)


def split_reference(layouts: Sequence[re.Pattern[str]], reference: str) -> Split | None:
    """The first layout's reading of ``reference``, or None when it is not a number or no layout fits."""
    digits = reference_key(reference)
    if not digits.isdigit():  # letters (or nothing): not a packed number; the extractors read it
        return None
    digits = digits.lstrip("0")
    if not digits:
        return None
    for n, layout in enumerate(layouts, 1):
        m = layout.fullmatch(digits)
        if m is None:
            continue
        parts = tuple((name, value) for name, value in m.groupdict().items() if value)
        nit = customer = ""
        invoices = []
        fits = True
        for name, value in parts:
            if name == "nit":
                nit = packed_nit(value)
                fits = fits and bool(nit)  # a wrong check digit: this is not the layout of this number
            elif name == "customer":
                customer = value.lstrip("0")
            elif value.strip("0"):
                invoices.append(value)
        if fits and (nit or customer or invoices):
            return Split(n, digits, parts, tuple(invoices), nit, customer)
    return None


def customer_number(customer_id: str) -> str:
    """A customer number compared as layouts read it: without separators, and without leading
    zeros when it is all digits (SAP pads KUNNR to 10)."""
    key = reference_key(customer_id)
    return key.lstrip("0") or key if key.isdigit() else key
