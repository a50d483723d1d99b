"""Tracker-facing recording endpoints: the recorder's settings and content-addressed blob uploads.

- `GET /api/collect/recording?site=HOST` — what the recorder chunk needs (sampling, masking,
  blocked selectors, time limit, cost bounds).
- `GET /api/collect/blob?site=HOST&kind=html|rrweb&hash=SHA256` — `{"have": bool}`: the tracker
  asks first and uploads a page version or a large event only when the server lacks it.
- `POST /api/collect/blob` — `{"v": 1, "site", "kind", "hash", "url", "body"}` (text/plain, no
  preflight); 201 stored, 200 already there, 4xx with a reason, nothing half-stored.
Answers carry CORS headers only for the site's own origins, as /api/collect does.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import bottle

from core import sites
from core.context import AppContext
from core.models import Site
from core.recordings import store
from core.web import json_response

_HASH = re.compile(r"^[0-9a-f]{64}$")
# Recorder cost bounds, sent to the tracker (docs/recordings.md explains them).
MAX_NODES = 15_000  # pages with more DOM nodes fall back to pointer mode
MAX_MUTATIONS_PER_SECOND = 800  # sustained mutation records/s over which the recorder falls back
MAX_UNREFERENCED_BLOBS = 2000  # per site, uploaded in the last hour and named by no page view yet


def find_site(host: str) -> Site | None:
    """The site whose domain is this host or a parent of it."""
    name = (host or "").strip().lower().rstrip(".")
    while name:
        site = Site.get_or_none(Site.domain == name)
        if site is not None:
            return site
        _head, dot, name = name.partition(".")
        if not dot:
            return None
    return None


def _owns(site: Site, host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == site.domain or host.endswith("." + site.domain)


def _cors(site: Site | None) -> dict[str, str]:
    headers = {"Vary": "Origin", "Cache-Control": "no-store"}
    origin = bottle.request.headers.get("Origin")
    if site is not None and origin:
        host = urlsplit(origin).hostname or ""
        if urlsplit(origin).scheme in ("http", "https") and _owns(site, host):
            headers["Access-Control-Allow-Origin"] = origin
    return headers


def _error(status: int, code: str, detail: str, site: Site | None = None) -> bottle.HTTPResponse:
    return json_response({"error": code, "detail": detail}, status, _cors(site))


def _origin_ok(site: Site) -> bool:
    origin = bottle.request.headers.get("Origin")
    if not origin:
        return True  # sendBeacon and old browsers may omit it; the site check still applies
    return _owns(site, urlsplit(origin).hostname or "")


def recorder_settings(site: Site) -> dict[str, Any]:
    settings = sites.tracking_settings(site)
    return {
        "record": bool(settings["record_sessions"]),
        "fullpage": bool(settings["full_page_recording"]),
        "fullpage_sample": int(settings["fullpage_sample_percent"]),
        "max_minutes": int(settings["max_recording_minutes"]),
        "mask_inputs": bool(settings["mask_all_inputs"]),
        "mask_text": bool(settings["mask_all_text"]),
        "block": list(settings["record_block_selectors"]),
        "max_nodes": MAX_NODES,
        "max_mutations_per_second": MAX_MUTATIONS_PER_SECOND,
        "max_blob_bytes": store.MAX_BLOB_BYTES,
    }


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    @app.get("/api/collect/recording", permission="public")
    def recording_config() -> Any:
        site = find_site(bottle.request.query.get("site", ""))
        if site is None:
            return _error(404, "unknown_site", "No site is registered for this host.")
        headers = _cors(site)
        headers["Cache-Control"] = "public, max-age=300"
        return json_response(recorder_settings(site), 200, headers)

    @app.get("/api/collect/blob", permission="public")
    def blob_check() -> Any:
        query = bottle.request.query
        site = find_site(query.get("site", ""))
        if site is None:
            return _error(404, "unknown_site", "No site is registered for this host.")
        kind, digest = query.get("kind", ""), query.get("hash", "")
        if kind not in store.BLOB_KINDS:
            return _error(422, "invalid", "kind must be html or rrweb", site)
        if not _HASH.match(digest):
            return _error(422, "invalid", "hash must be 64 lower-case hex digits (sha256)", site)
        return json_response({"have": store.have_blob(site.id, kind, digest)}, 200, _cors(site))

    @app.route("/api/collect/blob", "OPTIONS", permission="public")
    def blob_preflight() -> Any:
        return bottle.HTTPResponse(status=204, headers={"Allow": "GET, POST, OPTIONS"})

    @app.post("/api/collect/blob", permission="public")
    def blob_upload() -> Any:
        limit = store.MAX_BLOB_BYTES + 16_384
        if bottle.request.content_length > limit:
            return _error(413, "too_large", f"Request body is larger than {limit} bytes.")
        raw = bottle.request.body.read(limit + 1)
        if len(raw) > limit:
            return _error(413, "too_large", f"Request body is larger than {limit} bytes.")
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _error(400, "invalid_json", "Request body is not valid JSON.")
        if not isinstance(document, dict) or document.get("v") != 1:
            return _error(422, "invalid", "The body must be a JSON object with v: 1.")
        site = find_site(str(document.get("site", ""))[:253])
        if site is None:
            return _error(404, "unknown_site", "No site is registered for this host.")
        if not _origin_ok(site):
            return _error(403, "origin_mismatch", "The request's Origin is not this site's domain.")
        settings = sites.tracking_settings(site)
        if not settings["record_sessions"]:
            response = json_response({"ok": True}, 202, _cors(site))
            response.set_header("X-UXWizz-Dropped", "recording-off")
            return response
        kind, digest = document.get("kind"), document.get("hash")
        url, body = document.get("url", ""), document.get("body")
        if kind not in store.BLOB_KINDS:
            return _error(422, "invalid", "kind must be html or rrweb", site)
        if not isinstance(digest, str) or not _HASH.match(digest):
            return _error(422, "invalid", "hash must be 64 lower-case hex digits (sha256)", site)
        if not isinstance(body, str) or not isinstance(url, str) or len(url) > 2048:
            return _error(422, "invalid", "body must be a string and url a string of at most 2048 characters",
                          site)
        if url and (urlsplit(url).scheme not in ("http", "https") or not _owns(site, urlsplit(url).hostname or "")):
            return _error(422, "invalid", "url must be an http(s) URL of this site", site)
        if not store.have_blob(site.id, kind, digest) and store.unreferenced_blobs(site.id) >= MAX_UNREFERENCED_BLOBS:
            # Blobs are stored before a batch names them; without a cap, anyone could fill the disk
            # with uploads no recording ever uses (the orphan cleaner only removes them after an hour).
            response = _error(429, "too_many_uploads", "Too many snapshots not yet used by a recording; retry later.",
                              site)
            response.set_header("Retry-After", "600")
            return response
        try:
            created = store.store_blob(site.id, kind, digest, url, body)
        except store.BlobRejected as exc:
            return _error(422, "invalid", str(exc), site)
        return json_response({"ok": True, "stored": created}, 201 if created else 200, _cors(site))
