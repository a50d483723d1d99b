"""In-memory snapshot of every site, so the collection request thread never asks the database.

Refreshed off the request thread: by the flusher's loop every `REFRESH_SECONDS`, and at once when
a request names an unknown site (rate-limited, in a background thread). The tracker config endpoint
may refresh synchronously on a miss (it is not the hot path and browsers cache its answer).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.enrich.site import SiteInfo

log = logging.getLogger("uxwizz.ingest")
REFRESH_SECONDS = 2.0
MISS_REFRESH_SECONDS = 0.5  # at most two refreshes a second triggered by unknown sites


class SiteCache:
    def __init__(self, loader: Callable[[], list[SiteInfo]]):
        self._loader = loader
        self._by_domain: dict[str, SiteInfo] = {}
        self._by_id: dict[int, SiteInfo] = {}
        self._lock = threading.Lock()
        self.loaded_at = 0.0
        self._last_miss_refresh = 0.0
        self._refreshing = False

    def refresh(self) -> bool:
        """Reload every site; False (and the old snapshot kept) when the database fails."""
        try:
            sites = self._loader()
        except Exception as exc:  # database down: keep serving the last known sites
            log.warning("site list refresh failed: %s", exc)
            return False
        by_domain = {s.domain: s for s in sites}
        by_id = {s.id: s for s in sites}
        with self._lock:
            self._by_domain, self._by_id = by_domain, by_id
            self.loaded_at = time.monotonic()
        return True

    def refresh_if_stale(self, max_age: float = REFRESH_SECONDS) -> None:
        if time.monotonic() - self.loaded_at >= max_age:
            self.refresh()

    def lookup(self, host: str) -> SiteInfo | None:
        """The site whose domain is this host or a parent of it (`www.shop.example.com` → `example.com`)."""
        by_domain = self._by_domain
        name = host.lower().rstrip(".")
        while name:
            site = by_domain.get(name)
            if site is not None:
                return site
            _head, dot, name = name.partition(".")
            if not dot:
                return None
        return None

    def by_id(self, site_id: int) -> SiteInfo | None:
        return self._by_id.get(site_id)

    def miss(self, *, synchronous: bool = False) -> None:
        """An unknown site was asked for: maybe it was just created. Refresh, rate-limited."""
        now = time.monotonic()
        if now - self._last_miss_refresh < MISS_REFRESH_SECONDS or self._refreshing:
            return
        self._last_miss_refresh = now
        if synchronous:
            self.refresh()
            return
        self._refreshing = True

        def run() -> None:
            try:
                self.refresh()
            finally:
                self._refreshing = False

        threading.Thread(target=run, name="uxwizz-site-refresh", daemon=True).start()

    def __len__(self) -> int:
        return len(self._by_domain)
