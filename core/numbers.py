"""Whole numbers from text that people or clients send: ASCII digits only, bounded.

`str.isdigit()` accepts "²" (which `int()` then rejects) and any length (which overflows a
database integer); every parser of an id, count or size goes through `parse_whole` instead.
"""

from __future__ import annotations

import re

MAX_ID = 10**18 - 1  # 18 digits: below 2**63, the largest integer either engine stores
_DIGITS = re.compile(r"[0-9]{1,18}")


def parse_whole(text: object, maximum: int = MAX_ID) -> int | None:
    """The number, or None when `text` is not 1-18 ASCII digits or exceeds `maximum`."""
    value = str(text if text is not None else "").strip()
    if not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if number <= maximum else None
