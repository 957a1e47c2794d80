"""Reading what payers write: NITs, company names, invoice references.

Colombian payers write NITs with or without dots, hyphen and check digit ("900.123.456-7",
"9001234567", "NIT 900123456"), company names with or without their legal form ("Alimentos del
Valle S.A.S." / "ALIMENTOS DEL VALLE SAS"), and invoice numbers with or without prefix, separators
and leading zeros ("FE-00012345", "fe 12345", "12345"). Everything here is pure and cheap.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from stdnum.co import nit as co_nit

# Legal forms and noise removed before comparing names (reference/matching.md section 5).
_LEGAL_FORMS = re.compile(
    r"\b(S\s?A\s?S|S\s?A|LTDA|LIMITADA|E\s?S\s?P|S\s?EN\s?C(\s?S)?|S\s?C\s?A|CIA|Y\s?CIA|SUCURSAL(\s+COLOMBIA)?"
    r"|SOCIEDAD\s+POR\s+ACCIONES\s+SIMPLIFICADA|SOCIEDAD\s+ANONIMA|E\s?U|I\s?P\s?S|E\s?P\s?S|COOPERATIVA|CORPORACION)\b"
)
_NOT_WORD = re.compile(r"[^A-Z0-9 ]+")
_SPACES = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9A-Z]")
# 8 to 10 digits, dots allowed as thousands groups, optional "-DV": NIT bodies are 9 digits
# (legal persons) or 6-10 (natural persons' cédulas); we key on 9-digit bodies.
_NIT = re.compile(r"(?<![0-9])(\d{3}\.?\d{3}\.?\d{3})(?:\s?-\s?(\d))?(?![0-9])|(?<![0-9])(\d{10})(?![0-9])")
_DIGIT_RUN = re.compile(r"\d+")
_NOT_DIGIT = re.compile(r"[^0-9]")


def fold(text: str) -> str:
    """Upper-case ASCII: accents, ñ and punctuation folded, spaces single."""
    text = unicodedata.normalize("NFKD", text.upper()).encode("ascii", "ignore").decode()
    return _SPACES.sub(" ", _NOT_WORD.sub(" ", text.replace("&", " Y "))).strip()


@lru_cache(maxsize=200_000)
def company_key(name: str) -> str:
    """A company name without legal form or punctuation, for fuzzy comparison."""
    folded = fold(name)
    return _SPACES.sub(" ", _LEGAL_FORMS.sub(" ", folded)).strip() or folded


def nit_body(tax_id: str) -> str:
    """The 9-digit body of a NIT as stored by an ERP ("900123456-7", "9001234567", "900.123.456")."""
    digits = "".join(ch for ch in tax_id if ch.isdigit())
    if len(digits) == 10 and co_nit.is_valid(digits):
        return digits[:9]
    return digits


def find_nits(text: str) -> list[str]:
    """9-digit NIT bodies written in ``text``. A written check digit must be right; a 10-digit run
    counts only when its last digit is the check digit of the first nine."""
    found = []
    for m in _NIT.finditer(text):
        if m.group(3):
            if co_nit.is_valid(m.group(3)):
                found.append(m.group(3)[:9])
            continue
        body = m.group(1).replace(".", "")
        if len(body) != 9:
            continue
        if m.group(2) is not None and co_nit.calc_check_digit(body) != m.group(2):
            continue
        found.append(body)
    return found


def id_nit(value: str) -> str:
    """The NIT body in an id field (a bank's "ID origen/destino", a wide NIT part of a packed
    reference), "" when it holds none. Only its digits count and leading zeros are padding
    (``000000800987654``); what is left is a NIT when it has 9 digits (a body without its check
    digit, as a 9-digit run in a text) or 10 whose last is the check digit of the first nine.
    Anything else (a cédula, a phone number) is no NIT, as in the texts."""
    digits = _NOT_DIGIT.sub("", value).lstrip("0")
    if len(digits) == 10:
        return digits[:9] if co_nit.is_valid(digits) else ""
    return digits if len(digits) == 9 else ""


def packed_nit(part: str) -> str:
    """The NIT body in ``part``, the digits a reference layout marks as the payer's NIT ("" when
    they are none). Read by the part's width, never by what is left without zeros: 10 digits are
    a body and its check digit, which must be right (``0900123456`` is body 090012345 and check
    digit 6, not the body 900123456); 9 digits are a body; a wider part is padded with zeros and
    read as an id field (:func:`id_nit`). A body has 9 digits, without a leading zero."""
    if not part.isdigit():
        return ""
    if len(part) == 10:
        return part[:9] if part[0] != "0" and co_nit.is_valid(part) else ""
    if len(part) == 9:
        return part if part[0] != "0" else ""
    return id_nit(part) if len(part) > 10 else ""


def reference_key(text: str) -> str:
    """Upper-case without separators: "fe-1001", "FE 1001" and "FE.1001" are one key."""
    return _NOT_ALNUM.sub("", text.upper())


def numeric_core(text: str) -> str:
    """The last run of digits without leading zeros: "FE-00012345" -> "12345". Invoice numbers
    are typed without prefix or zeros as often as with them (SAP algorithm 026, Odoo tokens)."""
    runs = _DIGIT_RUN.findall(text)
    return runs[-1].lstrip("0") if runs else ""
