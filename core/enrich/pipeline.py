"""The named enrichment pipeline: small steps that fill in a `Hit` or drop it with a typed reason.

Each step is `step(hit, env) -> None | reason`. Steps of stage "request" are cheap checks run on
the request thread before journaling (so the 202 can name the reason); stage "flush" steps run
in the flusher, where lookups (user agent, geo) cost nothing to the visitor. The list lives in the
app context (`ctx.services["enrich_steps"]`) so plugins can add steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from . import privacy, rules, urls
from .geo import EMPTY as EMPTY_GEO
from .geo import GeoInfo, GeoReader
from .site import SiteInfo
from .useragent import UAInfo, UserAgentParser

OPTED_OUT, BOT, IGNORED_IP, SAMPLED_OUT, DNT, MOBILE_OFF = (
    "opted-out", "bot", "ignored-ip", "sampled-out", "dnt", "mobile-off",
)
DROP_REASONS = (OPTED_OUT, BOT, IGNORED_IP, SAMPLED_OUT, DNT, MOBILE_OFF)
MAX_PAST_MS = 30 * 86_400_000  # a tab may stay open for days; older client times are clamped


@dataclass
class EnrichEnv:
    secret: str
    user_agents: UserAgentParser
    geo: GeoReader


@dataclass
class Hit:
    """One accepted payload plus what the pipeline learns about it."""

    site: SiteInfo
    payload: dict[str, Any]
    ip: str
    user_agent: str
    received_ms: int
    dnt: bool = False
    # Filled in by the steps:
    skew_ms: int = 0
    ua: UAInfo = field(default_factory=UAInfo)
    geo: GeoInfo = EMPTY_GEO
    visitor_hash: str = ""
    stored_ip: str | None = None
    session_values: dict[str, Any] = field(default_factory=dict)
    source: Any = None  # what the hit was built from (the journal entry), for error reports

    def time(self, client_ms: int) -> int:
        """A client timestamp corrected for clock skew, clamped to [received − 30 days, received]."""
        corrected = client_ms + self.skew_ms
        return max(self.received_ms - MAX_PAST_MS, min(corrected, self.received_ms))


StepFunc = Callable[[Hit, EnrichEnv], "str | None"]


@dataclass(frozen=True)
class Step:
    name: str
    func: StepFunc
    stage: str = "flush"  # "request" | "flush"


# -- request stage: cheap, no lookups -----------------------------------------------------------

def drop_opted_out(hit: Hit, env: EnrichEnv) -> str | None:
    return OPTED_OUT if hit.payload.get("opt_out") else None


def drop_dnt(hit: Hit, env: EnrichEnv) -> str | None:
    return DNT if hit.dnt and hit.site.setting("respect_dnt", False) else None


def drop_sampled_out(hit: Hit, env: EnrichEnv) -> str | None:
    percent = int(hit.site.setting("sample_percent", 100))
    return None if rules.sampled_in(hit.payload["sid"], percent) else SAMPLED_OUT


def drop_bot(hit: Hit, env: EnrichEnv) -> str | None:
    headless = bool(hit.site.setting("filter_headless", True))
    return BOT if rules.is_bot(hit.user_agent, filter_headless=headless) else None


def drop_ignored_ip(hit: Hit, env: EnrichEnv) -> str | None:
    return IGNORED_IP if rules.ip_is_ignored(hit.ip, hit.site.ignored_ips) else None


# -- flush stage ----------------------------------------------------------------------------------

def put_clock(hit: Hit, env: EnrichEnv) -> None:
    hit.skew_ms = hit.received_ms - int(hit.payload["sent"])
    return None


def put_user_agent(hit: Hit, env: EnrichEnv) -> str | None:
    hit.ua = env.user_agents.parse(hit.user_agent)
    return BOT if hit.ua.is_spider else None


def drop_mobile(hit: Hit, env: EnrichEnv) -> str | None:
    if hit.ua.device != "desktop" and not hit.site.setting("track_mobile", True):
        return MOBILE_OFF
    return None


def put_geo(hit: Hit, env: EnrichEnv) -> None:
    hit.geo = env.geo.lookup(hit.ip)
    return None


def put_visitor_id(hit: Hit, env: EnrichEnv) -> None:
    """Keyed hash always; the plain IP only when the site turned hashing off. Then forget the IP."""
    hit.visitor_hash = privacy.visitor_hash(env.secret, hit.ip, hit.user_agent)
    hit.stored_ip = None if hit.site.setting("hash_ip", True) else hit.ip[:45]
    hit.ip = ""
    return None


def put_urls(hit: Hit, env: EnrichEnv) -> None:
    """Strip the site's query parameters again (the tracker should have) and compute paths."""
    strip = hit.site.strip_params
    for page in hit.payload.get("pages", ()):
        page["url"] = urls.strip_query(page["url"], strip)[:2048]
        page["path"] = urls.url_path(page["url"])
    session = hit.payload.get("session")
    if session is not None:
        session["landing_clean"] = urls.strip_query(session.get("landing", ""), strip)[:2048]
    return None


def put_session_values(hit: Hit, env: EnrichEnv) -> None:
    """Referrer domain and campaign values for a new session (first values seen are kept)."""
    session = hit.payload.get("session") or {}
    landing = session.get("landing", "")
    values: dict[str, Any] = {
        "referrer": session.get("referrer", "")[:2048],
        "referrer_domain": urls.referrer_domain(session.get("referrer", ""), hit.site.domain),
        "landing_url": session.get("landing_clean", landing)[:2048],
        "screen_w": session.get("screen", [0, 0])[0],
        "screen_h": session.get("screen", [0, 0])[1],
        "language": session.get("lang", "")[:35],
        "timezone": session.get("tz", "")[:64],
    }
    if hit.site.setting("capture_utm", True):
        values.update(urls.campaign(session.get("utm"), landing, session.get("gclid", ""), session.get("fbclid", "")))
    hit.session_values = values
    return None


def mask_inputs(hit: Hit, env: EnrichEnv) -> None:
    if hit.site.setting("record_keyboard", False):
        return None
    for point in hit.payload.get("pointer", ()):
        if point["k"] == "input" and point.get("value"):
            point["value"] = privacy.mask(point["value"])
    return None


DEFAULT_STEPS: tuple[Step, ...] = (
    Step("drop_opted_out", drop_opted_out, "request"),
    Step("drop_dnt", drop_dnt, "request"),
    Step("drop_bot", drop_bot, "request"),
    Step("drop_ignored_ip", drop_ignored_ip, "request"),
    Step("drop_sampled_out", drop_sampled_out, "request"),
    Step("put_clock", put_clock),
    Step("put_user_agent", put_user_agent),
    Step("drop_mobile", drop_mobile),
    Step("put_geo", put_geo),
    Step("put_visitor_id", put_visitor_id),
    Step("put_urls", put_urls),
    Step("put_session_values", put_session_values),
    Step("mask_inputs", mask_inputs),
)


def run(steps: Iterable[Step], stage: str, hit: Hit, env: EnrichEnv) -> str | None:
    """Run the steps of one stage in order; the first drop reason stops the hit."""
    for step in steps:
        if step.stage == stage:
            reason = step.func(hit, env)
            if reason:
                return reason
    return None
