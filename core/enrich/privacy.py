"""Keyed visitor hash: HMAC-SHA256 of IP + user agent with the install's secret.

The hash lets a data subject request find a visitor's sessions by recomputing it, while the
stored value cannot be reversed without the secret.
"""

from __future__ import annotations

import hashlib
import hmac


def visitor_hash(secret: str, ip: str, user_agent: str) -> str:
    message = f"{ip}\n{user_agent}".encode("utf-8", "replace")
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()  # 64 hex chars


def mask(value: str) -> str:
    """What a recorded input shows when keyboard recording is off: one dot per character."""
    return "•" * len(value)
