"""User agent → browser, OS, versions and device class (desktop / tablet / mobile), cached.

ua-parser (Rust backend when installed) costs ~50 µs a string; visitors repeat user agents a lot,
so a bounded dict in front of it answers most lookups in well under a microsecond.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import ua_parser

_TABLET = re.compile(r"ipad|tablet|kindle|silk/|playbook|nexus (7|9|10)|sm-t\d|(android(?!.*mobile))", re.I)
_MOBILE = re.compile(r"mobi|iphone|ipod|android.*mobile|windows phone|blackberry|opera mini|iemobile", re.I)


@dataclass(frozen=True)
class UAInfo:
    browser: str = ""
    browser_version: str = ""
    os: str = ""
    os_version: str = ""
    device: str = "desktop"
    is_spider: bool = False


def device_class(user_agent: str) -> str:
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    return "desktop"


def _version(*parts: str | None) -> str:
    return ".".join(p for p in parts if p)[:32]


class UserAgentParser:
    """Parses user agents with a bounded cache (cleared when full: simple and bounded)."""

    def __init__(self, max_entries: int = 10_000):
        self.max_entries = max_entries
        self._cache: dict[str, UAInfo] = {}
        self._lock = threading.Lock()

    def parse(self, user_agent: str) -> UAInfo:
        user_agent = user_agent[:512]
        hit = self._cache.get(user_agent)
        if hit is not None:
            return hit
        info = self._parse(user_agent)
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[user_agent] = info
        return info

    @staticmethod
    def _parse(user_agent: str) -> UAInfo:
        if not user_agent:
            return UAInfo()
        result = ua_parser.parse(user_agent)
        browser = result.user_agent
        os_ = result.os
        device = result.device
        return UAInfo(
            browser=(browser.family if browser else "")[:64],
            browser_version=_version(browser.major, browser.minor) if browser else "",
            os=(os_.family if os_ else "")[:64],
            os_version=_version(os_.major, os_.minor) if os_ else "",
            device=device_class(user_agent),
            is_spider=bool(device and device.family == "Spider"),
        )
