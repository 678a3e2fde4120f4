"""Words for messages and help texts."""

from __future__ import annotations

from collections.abc import Sequence


def listed(words: Sequence[str], conjunction: str = "and") -> str:
    """``words`` as a phrase: ``"a, b and c"``, with ``conjunction`` between the last two."""
    *head, last = words
    return f"{', '.join(head)} {conjunction} {last}" if head else last
