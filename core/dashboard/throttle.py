"""Login throttling: too many failures per (user, IP) or per IP answer 429 for a while.

In memory, per process: a multi-process MySQL install throttles per process, which still caps
guessing at a few attempts per minute per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, max_failures: int, lockout_seconds: int, clock: Callable[[], float] = time.monotonic):
        self.max_failures = max_failures
        self.per_ip_max = max_failures * 4  # one IP trying many user names
        self.lockout = lockout_seconds
        self.clock = clock
        self._failures: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> list[float]:
        times = [t for t in self._failures.get(key, []) if now - t < self.lockout]
        if times:
            self._failures[key] = times
        else:
            self._failures.pop(key, None)
        return times

    def retry_after(self, username: str, ip: str) -> int:
        """Seconds until another attempt is allowed; 0 when it is allowed now."""
        now = self.clock()
        with self._lock:
            waits = []
            for key, limit in (((username.lower(), ip), self.max_failures), (("", ip), self.per_ip_max)):
                times = self._recent(key, now)
                if len(times) >= limit:
                    waits.append(int(self.lockout - (now - times[-limit])) + 1)
            return max(waits, default=0)

    def failed(self, username: str, ip: str) -> None:
        now = self.clock()
        with self._lock:
            for key in ((username.lower(), ip), ("", ip)):
                self._failures.setdefault(key, []).append(now)
                if len(self._failures) > 100_000:  # bound memory under a spray of names
                    self._failures.clear()

    def succeeded(self, username: str, ip: str) -> None:
        with self._lock:
            self._failures.pop((username.lower(), ip), None)
