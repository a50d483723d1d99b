"""`SiteInfo`: an immutable snapshot of one site's id, domain and tracking settings for the pipeline.

Built from database rows by the ingest site cache; pure data plus a few precompiled matchers so a
hit never recompiles a pattern.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any


def wildcard_regex(patterns: list[str] | tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex for a list of `*` wildcard patterns (case-insensitive, whole string)."""
    cleaned = [p.strip() for p in patterns if p and p.strip()]
    if not cleaned:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p.lower())})" for p in cleaned), re.IGNORECASE)


@dataclass(frozen=True)
class SiteInfo:
    id: int
    domain: str
    settings: dict[str, Any]
    timezone: str = "UTC"
    strip_params: re.Pattern[str] | None = field(default=None, compare=False)
    ignored_ips: re.Pattern[str] | None = field(default=None, compare=False)

    @classmethod
    def build(cls, site_id: int, domain: str, settings: dict[str, Any], timezone: str = "UTC") -> SiteInfo:
        return cls(
            id=site_id,
            domain=domain,
            settings=settings,
            timezone=timezone,
            strip_params=wildcard_regex(settings.get("strip_query_params") or []),
            ignored_ips=wildcard_regex(settings.get("ignored_ips") or []),
        )

    def setting(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    def owns_host(self, host: str) -> bool:
        """The host is this site's domain or one of its subdomains."""
        host = host.lower().rstrip(".")
        return host == self.domain or host.endswith("." + self.domain)
