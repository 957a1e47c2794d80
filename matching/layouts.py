"""Packed references: one number a biller built out of several (``reference_layouts`` in ``[matching]``).

Collection references are defined by the biller: often a single invoice or contract number, but
many billers pack several numbers into one field, e.g. the payer's NIT and check digit followed by
the invoice number zero-padded to 8 (``900123456`` ``8`` ``00045678``), or a customer code then an
invoice. No token of such a number is an invoice number and the NIT inside it is not bounded by
non-digits, so the engine finds nothing in it unless it is told how the biller packs it.

A layout is a Python regular expression of a fixed width (``\\d{6}``, never ``\\d{1,6}`` or
``\\d+``) with named groups from a fixed vocabulary:

``invoice`` (and ``invoice2`` ... ``invoice9`` for more in one reference)
    a document or reference number, looked up exactly like a number the payer wrote in the text
    (with or without prefix and leading zeros: ``00045678`` finds ``FE-45678``);
``nit``
    the payer's NIT, at least 9 digits wide: 10 digits are the body and its check digit, which
    must be right; 9 digits are a body; in a wider part, leading zeros are padding and what is
    left follows the same rules. A body must have 9 digits (a legal person's; the texts' rule too:
    cédulas are not read as NITs). A NIT identifies the customer as a NIT in the payer's texts does;
``customer``
    the customer's number in the ERP (compared without leading zeros: ``001003`` is ``1003`` and
    SAP's ``0000001003``). A weak signal on its own: it identifies the customer only when an
    invoice part of the same reference is one of that customer's (matching/engine.py).

Layouts are tried in order against the digits of the line's ``end_to_end_id`` (the payer's
reference: where the bank formats put the reference the biller assigned; never the free text, whose
long numbers are often something else, nor the bank's own reference), separators removed. A layout
of width W is compared with the number padded with zeros to W digits, as a fixed-width field pads
it, whatever padding the reference arrived with: the 48-digit Asobancaria field and the same
reference without its zeros read alike, and a number shorter than W lands in the low parts with
zeros in the high ones; a number longer than W (without its leading zeros) does not fit. Parts of
only zeros are absent. The first layout that matches the whole padded number (``re.fullmatch``),
gives at least one part and whose ``nit`` part, if present, is a NIT (a wrong check digit or too
few digits make the layout not fit this number; an absent NIT does not) wins, and the others are
not tried. A reading that says nothing the number does not say by itself (its one part an invoice
that is the whole number) is no split: the extractors read that number as always.
Pure and cheap: at most one match per layout and line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import packed_nit, reference_key

try:  # the regular expression parser, for the widths of a layout and its parts
    from re import _parser as _sre_parse  # Python >= 3.11
except ImportError:  # pragma: no cover
    import sre_parse as _sre_parse  # type: ignore[no-redef]

#: The group names a layout may use (``invoice`` may be numbered: ``invoice2`` ... ``invoice9``).
GROUPS = ("invoice", "nit", "customer")
_NAME = re.compile(r"invoice[2-9]?|nit|customer")
#: A NIT part holds at least a 9-digit body.
NIT_WIDTH = 9


@dataclass(frozen=True)
class Layout:
    """A compiled layout and the number of digits it matches."""

    pattern: re.Pattern[str]
    width: int


def _widths(pattern: str) -> tuple[tuple[int, int], dict[int, tuple[int, int]]]:
    """(min, max) width of the whole pattern and of each group, by group number."""
    parsed = _sre_parse.parse(pattern)
    groups: dict[int, tuple[int, int]] = {}

    def walk(node) -> None:
        if isinstance(node, _sre_parse.SubPattern):
            for op, av in node:
                if op is _sre_parse.SUBPATTERN and av[0] is not None:
                    groups[av[0]] = av[-1].getwidth()
                walk(av)
        elif isinstance(node, (list, tuple)):
            for x in node:
                walk(x)

    walk(parsed)
    return parsed.getwidth(), groups


def _digits(low: int, high: int) -> str:
    if high >= _sre_parse.MAXREPEAT:
        return f"{low} or more characters"
    return f"{low} to {high} characters" if low != high else f"{low} characters"


def compile_layout(pattern: str) -> Layout:
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
    (low, high), groups = _widths(pattern)
    if low != high or low == 0:
        raise ValueError(f"a layout must match a fixed number of digits (the reference is padded with zeros "
                         f"to that width before it is compared); this one matches {_digits(low, high)}: "
                         r"write fixed widths such as \d{6}, not \d{1,6} or \d+")
    nit = compiled.groupindex.get("nit")
    if nit is not None and groups.get(nit, (0, 0))[0] < NIT_WIDTH:
        raise ValueError(f"the nit part matches {_digits(*groups.get(nit, (0, 0)))}: a NIT part is at least "
                         r"9 digits wide (\d{9} the body, \d{10} the body and its check digit)")
    return Layout(compiled, low)


@dataclass(frozen=True)
class Split:
    """What a layout read in a reference."""

    layout: int  # 1-based position in reference_layouts, as finance and IT count them
    reference: str  # the reference's digits (separators and leading zeros removed)
    parts: tuple[tuple[str, str], ...]  # (group, digits at the layout's width) in the layout's order
    invoices: tuple[str, ...]  # numbers to look up, as written in the reference (its zeros kept, as a token)
    nit: str  # the NIT body, "" when none
    customer: str  # the ERP customer number without leading zeros, "" when none

    def described(self) -> str:
        """``nit=9001234568;invoice=00045678``, parts of only zeros left out: rendered in finance's
        language by agent/messages.py."""
        return ";".join(f"{name}={value}" for name, value in self.parts if value.strip("0"))


def split_reference(layouts: Sequence[Layout], reference: str) -> Split | None:
    """The first layout's reading of ``reference``, or None when it is not a number, no layout fits,
    or the reading is the number itself as one invoice."""
    digits = reference_key(reference)
    if not digits.isdigit():  # letters (or nothing): not a packed number; the extractors read it
        return None
    digits = digits.lstrip("0")
    if not digits:
        return None
    for n, layout in enumerate(layouts, 1):
        if len(digits) > layout.width:
            continue
        pad = layout.width - len(digits)
        padded = "0" * pad + digits
        m = layout.pattern.fullmatch(padded)
        if m is None:
            continue
        parts = []
        nit = customer = ""
        invoices = []
        fits = True
        for name in m.re.groupindex:
            value = m.group(name)
            if value is None:  # an optional part that is not there
                continue
            parts.append((name, value))
            if not value.strip("0"):  # only zeros: absent
                continue
            if name == "nit":
                nit = packed_nit(value)
                fits = fits and bool(nit)  # a wrong check digit, too few digits: not this number's layout
            elif name == "customer":
                customer = value.lstrip("0")
            else:  # as written in the reference: without the zeros padding it to the layout's width
                if m.start(name) < pad and m.end(name) < layout.width:
                    # The number begins inside this invoice part and more parts follow: a field
                    # padded to this width would have zeros here. Splitting a phone or PSE number
                    # this way made up invoice numbers (3101234567 -> 31 and 01234567).
                    fits = False
                invoices.append(padded[max(m.start(name), pad):m.end(name)])
        if not fits or not (nit or customer or invoices):
            continue
        if not nit and not customer and invoices == [digits]:
            return None  # the number itself as one invoice: nothing to add, read as always
        return Split(n, digits, tuple(parts), tuple(invoices), nit, customer)
    return None


def customer_number(customer_id: str) -> str:
    """A customer number compared as layouts read it: without separators, and without leading
    zeros when it is all digits (SAP pads KUNNR to 10)."""
    key = reference_key(customer_id)
    return key.lstrip("0") or key if key.isdigit() else key
