"""Idempotency keys for ERP postings.

A key travels inside the ERP document (SAP ``XBLNR`` is CHAR 16, Oracle and Dynamics reference
fields are longer), so it is at most 16 characters of ``0-9A-Z``: safe in any reference field,
upper-case because SAP upper-cases ``XBLNR`` on input. It is derived from the statement line's
stable identity, so the same bank transaction always yields the same key, whichever file carried
it and however often the agent restarts.

16 base-32 characters carry 80 bits: the chance of two of a million lines colliding is about
4e-13.
"""

from __future__ import annotations

import base64
import hashlib

KEY_LENGTH = 16

# Purposes other than the first application of a line get their own key space, so a reversal
# or a re-application after one never collides with the original posting.
_DEFAULT_PURPOSE = "apply"


def posting_key(line_identity: str, purpose: str = _DEFAULT_PURPOSE) -> str:
    """Return the 16-character idempotency key for ``purpose`` on the line ``line_identity``."""
    if not line_identity:
        raise ValueError("a posting key needs the statement line's identity")
    material = line_identity if purpose == _DEFAULT_PURPOSE else f"{line_identity}\x1f{purpose}"
    digest = hashlib.sha256(material.encode()).digest()
    return base64.b32encode(digest).decode()[:KEY_LENGTH]


def reapplication_key(line_identity: str, earlier_postings: int) -> str:
    """The key of a line's posting after ``earlier_postings`` others (finance re-applies a line
    after reversing it); the first posting keeps the plain key, so the agent's own is unchanged."""
    return posting_key(line_identity if earlier_postings == 0 else f"{line_identity}#{earlier_postings}")


def reversal_key(original_key: str) -> str:
    """The key of the reversal of the posting ``original_key``: one reversal per posting."""
    return posting_key(f"{original_key}:reversal")
