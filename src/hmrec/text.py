"""Values quoted in messages, cut to a readable length: an error never echoes a huge field."""

from __future__ import annotations

QUOTE_LIMIT = 80
"""Characters of a value a message shows; the rest is summarised by its length."""


def cut(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text``, or its first ``limit`` characters followed by its full length."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, or for a longer value the ``repr`` of its first ``limit`` characters
    followed by its full length (``'abc...'... (16,777,216 characters)``)."""
    if isinstance(value, str | bytes) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    return cut(repr(value), limit + 2)


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The first line of ``exc``'s message (its type's name when it has none), cut to ``limit``."""
    text = str(exc).strip()
    return cut(text.splitlines()[0] if text else type(exc).__name__, limit)
