"""HTTP side of collection: `POST /api/collect` (+ preflight) as a plain WSGI callable, and the
tracker's `GET /api/collect/config`.

`/api/collect` bypasses Bottle (registered in `ctx.fast_paths`): it parses, validates, runs the
cheap request-stage drop rules and appends to the journal — no database, no enrichment — and
answers 202. It sets its own security headers and CORS headers for origins of known sites only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import bottle

from core.context import AppContext
from core.enrich import pipeline
from core.enrich.pipeline import Hit
from core.enrich.site import SiteInfo
from core.web import BASE_HEADERS, client_ip, json_response

from . import schema
from .journal import encode
from .parts import parse_parts

if TYPE_CHECKING:
    from .service import IngestService

API_CSP = "default-src 'none'; frame-ancestors 'none'"
STATUS_TEXT = {200: "200 OK", 202: "202 Accepted", 204: "204 No Content", 400: "400 Bad Request",
               403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed",
               413: "413 Payload Too Large", 415: "415 Unsupported Media Type",
               422: "422 Unprocessable Entity", 503: "503 Service Unavailable"}
OK_BODY = b'{"ok":true}'
CONFIG_MAX_AGE = 300
BACKPRESSURE_LAG = 1.0  # seconds the oldest sealed journal segment may wait before requests slow down
BACKPRESSURE_SLEEP = 0.002


def origin_host(origin: str) -> str | None:
    """The host of an `Origin` header value; None for `null` or anything not http(s)."""
    try:
        parts = urlsplit(origin)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname.lower()


def cors_headers(site: SiteInfo | None, origin: str | None) -> list[tuple[str, str]]:
    """CORS for a known site's own origins only; never `*`."""
    headers = [("Vary", "Origin")]
    if site is not None and origin:
        host = origin_host(origin)
        if host is not None and site.owns_host(host):
            headers += [("Access-Control-Allow-Origin", origin),
                        ("Access-Control-Expose-Headers", "X-UXWizz-Dropped")]
    return headers


# The same base headers as every other response (core.web), set here directly: this path skips the
# security_headers wrapper to save its per-request cost.
FIXED_HEADERS = [*BASE_HEADERS.items(), ("X-Frame-Options", "DENY"), ("Content-Security-Policy", API_CSP)]


def _json(status: int, body: bytes, headers: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]], bytes]:
    headers = headers + [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                         ("Cache-Control", "no-store"), *FIXED_HEADERS]
    return STATUS_TEXT[status], headers, body


def _error(status: int, code: str, detail: str, headers: list[tuple[str, str]] | None = None) -> Any:
    body = json.dumps({"error": code, "detail": detail}, separators=(",", ":")).encode()
    return _json(status, body, list(headers or [("Vary", "Origin")]))


def make_collect_app(service: IngestService, ctx: AppContext) -> Callable[..., Iterable[bytes]]:
    max_bytes = ctx.settings["ingest.max_body_bytes"]
    trusted = ctx.trusted_proxies
    sites = service.sites
    ip_cache: dict[tuple[str, str], str] = {}

    def origin_site(origin: str | None) -> SiteInfo | None:
        """The site an Origin belongs to, so errors found before the body is read are readable too."""
        host = origin_host(origin) if origin else None
        return sites.lookup(host) if host else None

    def handle(environ: dict[str, Any]) -> Any:
        method = environ.get("REQUEST_METHOD", "GET")
        origin = environ.get("HTTP_ORIGIN")
        if method == "OPTIONS":
            host = origin_host(origin or "")
            site = sites.lookup(host) if host else None
            if site is None:
                if host:
                    sites.miss()
                return _error(404, "unknown_site", "No site is registered for this origin.")
            headers = cors_headers(site, origin) + [
                ("Access-Control-Allow-Methods", "POST, OPTIONS"),
                ("Access-Control-Allow-Headers", "Content-Type"),
                ("Access-Control-Max-Age", "86400"),
                ("Content-Length", "0"), *FIXED_HEADERS]
            return STATUS_TEXT[204], headers, b""
        if method != "POST":
            return _error(405, "method_not_allowed", "Use POST.", [("Vary", "Origin"), ("Allow", "POST, OPTIONS")])
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            return _error(400, "bad_request", "Content-Length is not a number.")
        too_large = length > max_bytes
        if not too_large:
            stream = environ["wsgi.input"]
            raw = stream.read(length) if length >= 0 else stream.read(max_bytes + 1)
            too_large = len(raw) > max_bytes
        if too_large:
            service.stats.add("rejected:too_large")
            return _error(413, "too_large", f"Request body is larger than {max_bytes} bytes.",
                          cors_headers(origin_site(origin), origin))
        try:
            document = schema.parse_json(raw)
            payload = schema.payload(document)
            extensions = service.parts()
            if extensions:
                try:
                    extra = parse_parts(extensions, document)
                except ValueError as exc:
                    raise schema.Rejection(422, "invalid", str(getattr(exc, "detail", exc))) from None
                if extra:
                    payload["x"] = extra
        except schema.Rejection as rejection:
            service.stats.add(f"rejected:{rejection.code}")
            return _error(rejection.status, rejection.code, rejection.detail,
                          cors_headers(origin_site(origin), origin))
        site = sites.lookup(payload["site"])
        if site is None:
            sites.miss()
            service.stats.add("rejected:unknown_site")
            return _error(404, "unknown_site", f"No site is registered for {payload['site']}.")
        cors = cors_headers(site, origin)
        if origin is not None:
            host = origin_host(origin)
            if host is None or not site.owns_host(host):
                service.stats.add("rejected:origin_mismatch")
                return _error(403, "origin_mismatch", "The request's Origin is not this site's domain.")
        user_agent = environ.get("HTTP_USER_AGENT", "")[:512]
        ip_key = (environ.get("REMOTE_ADDR", ""), environ.get("HTTP_X_FORWARDED_FOR", "") if trusted else "")
        ip = ip_cache.get(ip_key)
        if ip is None:  # parsing addresses costs ~15 µs; a visitor sends many batches from one
            if len(ip_cache) > 10_000:
                ip_cache.clear()
            ip = ip_cache[ip_key] = client_ip(environ, trusted)
        dnt = environ.get("HTTP_DNT") == "1" or environ.get("HTTP_SEC_GPC") == "1"
        received = int(time.time() * 1000)
        hit = Hit(site=site, payload=payload, ip=ip, user_agent=user_agent, received_ms=received, dnt=dnt)
        reason = pipeline.run(service.steps(), "request", hit, service.env)
        if reason:
            service.stats.add(f"dropped:{reason}")
            return _json(202, OK_BODY, cors + [("X-UXWizz-Dropped", reason)])
        entry = {"s": site.id, "r": received, "ip": ip, "ua": user_agent, "p": payload}
        if dnt:
            entry["dnt"] = 1
        try:
            service.journal.append(encode(entry))
        except OSError as exc:
            service.stats.add("rejected:journal_unavailable")
            service.log.error("cannot append to the collection journal: %s", exc)
            return _error(503, "unavailable", "The server cannot store data right now; retry later.", cors)
        service.stats.add("accepted")
        if service.worker is None and service.journal.lag() > BACKPRESSURE_LAG and not service.flusher.backoff:
            # The flusher thread shares the GIL with every request thread and falls behind at
            # saturation; a short sleep here (GIL released) is backpressure that lets it catch up.
            # Not with a worker process (its own GIL, and a burst is what the journal absorbs), nor
            # while the database is down: then waiting helps nobody, the journal simply grows.
            time.sleep(BACKPRESSURE_SLEEP)
        return _json(202, OK_BODY, cors)

    def collect_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        status, headers, body = handle(environ)
        start_response(status, headers)
        return [body]

    return collect_app


def config_body(site: SiteInfo) -> dict[str, Any]:
    """The public tracking settings the tracker needs (nothing private: no IP lists)."""
    s = site.settings
    return {
        "site": site.domain,
        "record": bool(s.get("record_sessions", True)),
        "sample": int(s.get("sample_percent", 100)),
        "mobile": bool(s.get("track_mobile", True)),
        "clicks": bool(s.get("click_heatmaps", True)),
        "moves": bool(s.get("move_heatmaps", True)),
        "keyboard": bool(s.get("record_keyboard", False)),
        "strip": list(s.get("strip_query_params") or []),
        "utm": bool(s.get("capture_utm", True)),
        "dnt": bool(s.get("respect_dnt", False)),
        "consent": bool(s.get("consent_popup", False)),
        "consent_text": str(s.get("consent_text", "")),
        "fullpage": bool(s.get("full_page_recording", False)),
    }


def register_config(app: bottle.Bottle, service: IngestService) -> None:
    @app.get("/api/collect/config", permission="public")
    def collect_config() -> Any:
        origin = bottle.request.headers.get("Origin")
        try:
            host = schema.host(bottle.request.query.get("site", ""), "site")
        except schema.Rejection as rejection:
            return json_response({"error": rejection.code, "detail": rejection.detail}, 400,
                                 {"Vary": "Origin", "Cache-Control": "no-store"})
        site = service.sites.lookup(host)
        if site is None:
            service.sites.miss(synchronous=True)  # just created? not the hot path, and rate-limited
            site = service.sites.lookup(host)
        if site is None:
            return json_response({"error": "unknown_site", "detail": f"No site is registered for {host}."}, 404,
                                 {"Vary": "Origin", "Cache-Control": "no-store"})
        headers = dict(cors_headers(site, origin))
        headers["Cache-Control"] = f"public, max-age={CONFIG_MAX_AGE}"
        return json_response(config_body(site), 200, headers)
