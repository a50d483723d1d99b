"""Sites: domain rules, per-site tracking settings with UXWizz's defaults, and the snippet.

Tracking settings live in one registry so the settings page, the REST API, the tracker config
and the collection pipeline read the same names, types and defaults.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from core.i18n import _
from core.models import Site

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


class SiteError(ValueError):
    """A site rule was broken; the message is fit to show."""


def normalize_domain(raw: str) -> str:
    """`https://WWW.Example.com:443/path` -> `www.example.com`; rejects what is not a host name."""
    text = (raw or "").strip().lower()
    text = re.sub(r"^[a-z][a-z0-9+.-]*://", "", text)
    text = text.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in text:
        raise SiteError(_("Enter a domain name such as example.com."))
    host, _sep, port = text.partition(":")
    if port and not port.isdigit():
        raise SiteError(_("Enter a domain name such as example.com."))
    host = host.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise SiteError(_("Enter a domain name such as example.com.")) from None
    if host == "localhost":
        return host
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        raise SiteError(_("Enter a domain name such as example.com."))
    return host


def validate_timezone(name: str) -> str:
    name = (name or "UTC").strip()
    if name not in available_timezones() and name != "UTC":
        raise SiteError(_("Unknown time zone: {name}").format(name=name))
    ZoneInfo(name)
    return name


@dataclass(frozen=True)
class TrackingSetting:
    key: str
    kind: str  # bool | int | str | list
    default: Any
    label: str
    help: str = ""
    minimum: int | None = None
    maximum: int | None = None
    max_length: int = 2000


TRACKING_SETTINGS: tuple[TrackingSetting, ...] = (
    TrackingSetting("record_sessions", "bool", True, "Record sessions (mouse, clicks, scrolls)"),
    TrackingSetting("full_page_recording", "bool", False, "Full page recording (DOM) with ust-rr.min.js"),
    # Session replay (core/recordings, docs/recordings.md).
    TrackingSetting("fullpage_sample_percent", "int", 100, "Full page: percentage of recorded visitors",
                    "The others are recorded in pointer mode.", minimum=0, maximum=100),
    TrackingSetting("max_recording_minutes", "int", 30, "Longest recording per page view (minutes)",
                    minimum=1, maximum=240),
    TrackingSetting("mask_all_inputs", "bool", True, "Full page: mask every form field",
                    "Passwords and .noRecord elements are never recorded, whatever this says."),
    TrackingSetting("mask_all_text", "bool", False, "Full page: mask all page text"),
    TrackingSetting("record_block_selectors", "list", [], "Elements never recorded (CSS selectors)",
                    "Comma-separated, e.g. .account-number, #chat. Elements with class noRecord always are."),
    TrackingSetting("recording_quota_mb", "int", 1024, "Recording storage quota (MB)",
                    "Oldest recordings are removed first when the site's recordings exceed it.",
                    minimum=1, maximum=10_000_000),
    TrackingSetting("replay_asset_hosts", "list", [], "Other hosts replay may fetch styles and fonts from",
                    "Comma-separated host names (a CDN, say); the site's own hosts are always allowed."),
    TrackingSetting("replay_allow_private", "bool", False, "Replay may fetch styles from private addresses",
                    "Only for sites on an internal network; loopback and link-local stay refused otherwise."),
    TrackingSetting("live_replay", "bool", False, "Offer live-site playback in an iframe",
                    "Only works for sites that allow framing; recorded snapshots are the default."),
    TrackingSetting("track_mobile", "bool", True, "Track mobile visitors"),
    TrackingSetting("sample_percent", "int", 100, "Percentage of visitors recorded", minimum=0, maximum=100),
    TrackingSetting("click_heatmaps", "bool", True, "Click heatmaps"),
    TrackingSetting("move_heatmaps", "bool", True, "Movement heatmaps"),
    TrackingSetting("record_keyboard", "bool", False, "Record typed text in fields not excluded",
                    "Off: input values are masked. Passwords are never recorded."),
    TrackingSetting("strip_query_params", "list", ["utm_*", "gclid", "fbclid"],
                    "Query parameters removed from URLs",
                    "Comma-separated; * is a wildcard. Campaign values are kept as session data first."),
    TrackingSetting("capture_utm", "bool", True, "Keep UTM and click ids as campaign data"),
    TrackingSetting("ignored_ips", "list", [], "Ignored IPs", "Comma-separated; * is a wildcard (192.168.*)."),
    TrackingSetting("hash_ip", "bool", True, "Store only a keyed hash of IP + browser",
                    "Off: the plain IP is stored."),
    TrackingSetting("respect_dnt", "bool", False, "Respect Do-Not-Track"),
    TrackingSetting("consent_popup", "bool", False, "Ask visitors for consent before tracking"),
    TrackingSetting("consent_text", "str", "This site records anonymous usage data to improve itself. Allow?",
                    "Consent pop-up text", max_length=500),
    TrackingSetting("filter_headless", "bool", True, "Drop headless browsers as bots"),
    TrackingSetting("max_sessions", "int", 100000, "Sessions kept (oldest removed first)", minimum=1,
                    maximum=100_000_000),
    TrackingSetting("max_age_days", "int", 0, "Delete sessions older than (days, 0 = never)", minimum=0,
                    maximum=36500),
)
_TRACKING_BY_KEY = {s.key: s for s in TRACKING_SETTINGS}


def default_tracking_settings() -> dict[str, Any]:
    return {s.key: (list(s.default) if isinstance(s.default, list) else s.default) for s in TRACKING_SETTINGS}


def tracking_settings(site: Site) -> dict[str, Any]:
    """The site's settings with defaults filled in for keys added since it was saved."""
    merged = default_tracking_settings()
    merged.update({k: v for k, v in (site.settings or {}).items() if k in _TRACKING_BY_KEY})
    return merged


def parse_tracking_settings(raw: dict[str, Any], *, from_form: bool = False) -> dict[str, Any]:
    """Validate a partial update. From HTML forms, a missing checkbox means false."""
    clean: dict[str, Any] = {}
    for key, value in raw.items():
        spec = _TRACKING_BY_KEY.get(key)
        if spec is None:
            raise SiteError(_("Unknown tracking setting: {key}").format(key=key))
        clean[key] = _parse_value(spec, value)
    if from_form:
        for spec in TRACKING_SETTINGS:
            if spec.kind == "bool" and spec.key not in raw:
                clean[spec.key] = False
    return clean


def _parse_value(spec: TrackingSetting, value: Any) -> Any:
    bad = _("Invalid value for {label}.").format(label=_(spec.label))
    if spec.kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "on", "yes"):
            return True
        if text in ("0", "false", "off", "no", ""):
            return False
        raise SiteError(bad)
    if spec.kind == "int":
        if isinstance(value, bool):
            raise SiteError(bad)
        try:
            number = int(str(value).strip())
        except ValueError:
            raise SiteError(bad) from None
        if (spec.minimum is not None and number < spec.minimum) or (
            spec.maximum is not None and number > spec.maximum
        ):
            raise SiteError(
                _("{label} must be between {low} and {high}.").format(
                    label=_(spec.label), low=spec.minimum, high=spec.maximum
                )
            )
        return number
    if spec.kind == "list":
        items = value if isinstance(value, list) else str(value).replace("\n", ",").split(",")
        cleaned = [str(item).strip() for item in items if str(item).strip()]
        if len(cleaned) > 200 or any(len(item) > 200 for item in cleaned):
            raise SiteError(bad)
        return cleaned
    text = str(value).strip()
    if len(text) > spec.max_length:
        raise SiteError(bad)
    return text


def create_site(domain: str, name: str = "", timezone: str = "UTC") -> Site:
    domain = normalize_domain(domain)
    if Site.select().where(Site.domain == domain).exists():
        raise SiteError(_("A site with the domain {domain} already exists.").format(domain=domain))
    name = (name or "").strip()[:200] or domain
    return Site.create(domain=domain, name=name, timezone=validate_timezone(timezone),
                       settings=default_tracking_settings())


def update_site(site: Site, *, domain: str | None = None, name: str | None = None,
                timezone: str | None = None, settings: dict[str, Any] | None = None) -> Site:
    if domain is not None:
        domain = normalize_domain(domain)
        if domain != site.domain and Site.select().where(Site.domain == domain).exists():
            raise SiteError(_("A site with the domain {domain} already exists.").format(domain=domain))
        site.domain = domain
    if name is not None:
        site.name = name.strip()[:200] or site.domain
    if timezone is not None:
        site.timezone = validate_timezone(timezone)
    if settings is not None:
        merged = tracking_settings(site)
        merged.update(parse_tracking_settings(settings))
        site.settings = merged
    site.save()
    return site


def snippet(base_url: str, recording: bool = False) -> str:
    """The UXWizz-shaped tracking snippet, pointing at this server."""
    script = "ust-rr.min.js" if recording else "ust.min.js"
    from core import __version__

    base = base_url.rstrip("/")
    return (
        "<script>\n"
        "  UST_CT = [];\n"
        "  UST = { s: Date.now(), addTag: function(tag) { UST_CT.push(tag) } };\n"
        "  UST.addEvent = UST.addTag;\n"
        "</script>\n"
        f'<script src="{base}/server/{script}?v={__version__}" async></script>'
    )
