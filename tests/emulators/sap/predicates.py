"""The boolean layer both of the emulator's query dialects share: Open SQL ``WHERE`` clauses
(``RFC_READ_TABLE``'s OPTIONS) and OData ``$filter``. Each dialect brings its own tokens, keyword
case, comparisons and error type; the precedence (NOT over AND over OR) and parentheses are here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


class Tokens:
    """A cursor over a query's tokens; ``peek`` folds case as the dialect's keywords are written."""

    def __init__(self, tokens: Sequence[str], fold: Callable[[str], str], incomplete: Callable[[], Exception]) -> None:
        self.tokens, self.fold, self.incomplete, self.pos = list(tokens), fold, incomplete, 0

    def peek(self) -> str:
        return self.fold(self.tokens[self.pos]) if self.pos < len(self.tokens) else ""

    def take(self) -> str:
        if self.pos >= len(self.tokens):
            raise self.incomplete()
        self.pos += 1
        return self.tokens[self.pos - 1]


def boolean(tokens: Tokens, comparison: Callable[[Tokens], Predicate], *, words: tuple[str, str, str | None],
            unbalanced: Callable[[], Exception], unexpected: Callable[[str], Exception]) -> Predicate:
    """The predicate of the whole query: ``comparison`` reads one comparison from ``tokens``;
    ``words`` are the dialect's OR, AND and NOT (None when it has no NOT), as ``peek`` shows them."""
    or_word, and_word, not_word = words

    def expr() -> Predicate:
        left = term()
        while tokens.peek() == or_word:
            tokens.take()
            right = term()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def term() -> Predicate:
        left = factor()
        while tokens.peek() == and_word:
            tokens.take()
            right = factor()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def factor() -> Predicate:
        if not_word is not None and tokens.peek() == not_word:
            tokens.take()
            inner = factor()
            return lambda r: not inner(r)
        if tokens.peek() == "(":
            tokens.take()
            inner = expr()
            if tokens.take() != ")":
                raise unbalanced()
            return inner
        return comparison(tokens)

    if not tokens.tokens:
        return lambda r: True
    predicate = expr()
    if tokens.pos != len(tokens.tokens):
        raise unexpected(tokens.tokens[tokens.pos])
    return predicate
