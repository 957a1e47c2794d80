"""The built-in reference extractor: invoice-like tokens in the payment's texts."""

from __future__ import annotations

import re
from collections.abc import Iterable

from conciliador import ReferenceExtractor, StatementLine, hookimpl

# A token is letters/digits, optionally joined by '-', '/', '.', '#', '_' to more of them:
# "FE-1001", "FV/2026/0042", "INV#77".
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-/.#_][A-Za-z0-9]+)*")


class TextTokens(ReferenceExtractor):
    """Every token of the remittance text and references that holds a digit, and each such token
    joined with the word before it ("FE 1002" is written with a space as often as with a hyphen)."""

    name = "text-tokens"

    def extract(self, line: StatementLine) -> Iterable[str]:
        for text in (line.remittance, line.bank_reference, line.end_to_end_id):
            tokens = _TOKEN.findall(text)
            for i, token in enumerate(tokens):
                if any(ch.isdigit() for ch in token):
                    yield token
                    if i and not any(ch.isdigit() for ch in tokens[i - 1]):
                        yield tokens[i - 1] + token


@hookimpl
def conciliador_matching_rules() -> list[ReferenceExtractor]:
    return [TextTokens()]
