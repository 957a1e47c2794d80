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


def packed_nit(digits: str) -> str:
    """The NIT body in ``digits``, a part a reference layout marks as the payer's NIT ("" when it
    is none). Leading zeros are padding; 10 digits are a body and its check digit, which must be
    right (as for a 10-digit run in a text); 6 to 9 digits are a body as written (a 9-digit NIT
    without its check digit, or a cédula)."""
    digits = digits.lstrip("0")
    if len(digits) == 10:
        return digits[:9] if co_nit.is_valid(digits) else ""
    return digits if 6 <= len(digits) <= 9 and digits.isdigit() else ""


def reference_key(text: str) -> str:
    """Upper-case without separators: "fe-1001", "FE 1001" and "FE.1001" are one key."""
    return _NOT_ALNUM.sub("", text.upper())


def numeric_core(text: str) -> str:
    """The last run of digits without leading zeros: "FE-00012345" -> "12345". Invoice numbers
    are typed without prefix or zeros as often as with them (SAP algorithm 026, Odoo tokens)."""
    runs = _DIGIT_RUN.findall(text)
    return runs[-1].lstrip("0") if runs else ""
