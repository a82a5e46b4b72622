"""Values quoted in messages, cut to a readable length: an error never echoes a huge field."""

from __future__ import annotations

QUOTE_LIMIT = 80
"""Characters of a value a message shows; the rest is summarised by its length."""


def quoted(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, or for a longer value the ``repr`` of its first ``limit`` characters
    followed by its full length (``'abc...'... (16,777,216 characters)``)."""
    if isinstance(value, str | bytes) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit + 2 else f"{text[:limit]}... ({len(text):,} characters)"
