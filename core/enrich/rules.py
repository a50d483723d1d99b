"""Cheap drop rules that need no lookups: bots by user agent, ignored IPs, sampling.

They run on the request thread (so the answer can name the drop reason), hence plain regexes
and a bounded cache instead of a full user-agent parse.
"""

from __future__ import annotations

import functools
import hashlib
import re

# Crawlers, monitoring, HTTP libraries and automation. Headless browsers are a separate rule
# because a site may want them (browser tests use headless Chromium).
_BOT = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|scrape|archiver|facebookexternalhit|embedly|preview|"
    r"curl/|wget/|python-requests|python-urllib|aiohttp|httpx|go-http-client|java/|okhttp|libwww|"
    r"httpclient|axios/|node-fetch|phantomjs|selenium|puppeteer|playwright|lighthouse|pagespeed|"
    r"pingdom|uptimerobot|statuscake|site24x7|monitor|validator|feedfetcher|mediapartners",
    re.IGNORECASE,
)
_HEADLESS = re.compile(r"headless", re.IGNORECASE)
_BROWSER_SHAPE = re.compile(r"^Mozilla/\d|^Opera/\d", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def is_bot(user_agent: str, *, filter_headless: bool = True) -> bool:
    """True for empty, non-browser or crawler user agents (and headless ones when asked).

    Cached: the regex costs ~40 µs a user agent, and visitors repeat user agents a lot.
    """
    ua = user_agent.strip()
    if not ua or len(ua) < 10:
        return True
    if filter_headless and _HEADLESS.search(ua):
        return True
    if _BOT.search(ua):
        return True
    return not _BROWSER_SHAPE.match(ua)


def ip_is_ignored(ip: str, pattern: re.Pattern[str] | None) -> bool:
    """Whether the IP matches the site's ignore list (`192.168.*`, `10.0.0.1`, `2001:db8:*`)."""
    return pattern is not None and pattern.fullmatch(ip.lower()) is not None


def sampled_in(token: str, percent: int) -> bool:
    """Deterministic per session token, so every batch of one tab gets the same answer."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    bucket = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big") % 100
    return bucket < percent
