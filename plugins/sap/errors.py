"""SAP's answers as conciliador's errors: retry later (RetryableError) or hand to finance
(PermanentError, carrying SAP's own message in ``erp_message``).

- ``RETURN`` lines of type ``E`` or ``A`` refuse the call. A lock held by someone else (the
  customer account or the items being processed, enqueue ``EF_KNB1``/``E_BKPF``) passes once that
  person is done: retryable, recognised by the wording SAP uses ("locked by", "blocked by",
  "is being processed", "enqueue") since message numbers differ across releases. Everything else
  (closed period, unknown customer, missing authority, unbalanced document) is final.
- SOAP faults: ``RFC_AUTHORIZATION_FAILURE`` (no ``S_RFC`` for the function) and the function's
  own exceptions are final; runtime errors that pass (``TIME_OUT``, ``DBIF_...``, no roll area)
  are retryable.
- HTTP: no answer, a timeout, 5xx, 401/403/404 (logon or ICF service not active: IT fixes it, the
  postings wait) are retryable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from conciliador import PermanentError, RetryableError

LOCK_WORDING = re.compile(r"locked by|blocked by|is being processed|currently being processed|being edited by|"
                          r"enqueue|bloquead[oa] por|est[aá] siendo (procesad|tratad)", re.IGNORECASE)
RETRYABLE_FAULTS = re.compile(r"TIME_OUT|DBIF_|SYSTEM_NO_ROLL|TSV_TNEW|MEMORY_NO_MORE|RFC_ERROR_SYSTEM_FAILURE|"
                              r"SYSTEM_FAILURE|COMMUNICATION_FAILURE", re.IGNORECASE)


def _get(line: Any, name: str) -> str:
    try:
        value = line[name]
    except (KeyError, TypeError, AttributeError):
        value = getattr(line, name, None)
    return "" if value is None else str(value).strip()


def message_text(line: Any) -> str:
    """``Posting period 011 2020 is not open (F5 201)`` from a BAPIRET2 or BAPIRETURN line."""
    text = _get(line, "MESSAGE")
    msgid, msgno = _get(line, "ID"), _get(line, "NUMBER")
    if not msgid and _get(line, "CODE"):
        code = _get(line, "CODE")
        msgid, msgno = code[:-3], code[-3:]
    return f"{text} ({msgid} {msgno})" if msgid else text


def errors_in(lines: Iterable[Any]) -> list[Any]:
    return [line for line in lines if _get(line, "TYPE") in ("E", "A")]


def raise_for_return(lines: Iterable[Any] | Any, *, action: str) -> None:
    """Raise if SAP's RETURN (a table, or one BAPIRETURN structure) holds an error."""
    if lines is None:
        return
    if isinstance(lines, Mapping) or hasattr(lines, "TYPE") and not isinstance(lines, list):
        lines = [lines]
    bad = errors_in(lines)
    if not bad:
        return
    # RW 609 ("Error in document: BKPFF $ ...") only announces the messages that follow it.
    specific = [b for b in bad if (_get(b, "ID"), _get(b, "NUMBER")) != ("RW", "609")] or bad
    texts = [message_text(b) for b in specific]
    erp_message = "; ".join(texts)
    if any(LOCK_WORDING.search(_get(b, "MESSAGE")) for b in specific):
        raise RetryableError(f"SAP: {action} waits for a lock held by someone else: {erp_message}",
                             erp_message=erp_message)
    raise PermanentError(f"SAP refused to {action}: {erp_message}", erp_message=erp_message)


def from_fault(fault: Any, *, function: str, action: str) -> Exception:
    """A zeep Fault from SAP's SOAP runtime as our error."""
    name = (fault.message or "").strip()
    text = ""
    detail = getattr(fault, "detail", None)
    if detail is not None:
        for element in detail.iter():
            tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
            if tag == "Name" and element.text:
                name = element.text.strip()
            elif tag == "Text" and element.text:
                text = element.text.strip()
    erp_message = f"{name}: {text}" if text else name
    if name == "RFC_AUTHORIZATION_FAILURE":
        return PermanentError(f"SAP: the user may not call {function} (authorisation object S_RFC): {erp_message}. "
                              f"Ask the SAP security team to add {function} to the user's role",
                              erp_message=erp_message)
    if RETRYABLE_FAULTS.search(name) or RETRYABLE_FAULTS.search(text):
        return RetryableError(f"SAP failed while it ran {function} ({action}): {erp_message}", erp_message=erp_message)
    return PermanentError(f"SAP's {function} refused to {action}: {erp_message}", erp_message=erp_message)
