"""Serves `/server/ab/<domain>.ab.js`: the A/B script bundle wrapped with the site's running tests.

The body is `(function(UST_AB_TESTS){<ust-ab.min.js>})(<tests as JSON>);`. The JSON is made safe to
sit inside a <script> element or an inline copy of the file: non-ASCII is \\u-escaped (which covers
U+2028/U+2029, line terminators in older JavaScript) and `<`, `>`, `&` become \\u003c, \\u003e,
\\u0026, so no string in a test can close the script or open a comment. Only running tests are
published, with ids, weights, page patterns and changes — no names.

Bodies are cached per domain for CACHE_SECONDS and dropped at once when this process changes a
site's tests (`invalidate`); browsers keep them for MAX_AGE seconds, revalidating with the ETag.
An unknown domain gets a 404 whose body is still a valid (empty) script, so a page never errors.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import threading
import time
from typing import Any

import bottle

from core.context import AppContext
from core.experiments.store import published_tests
from core.models import Site
from core.tracker_assets import DEFAULT_BUILD_DIR, AssetStore, accepts_gzip, etag_matches

BUNDLE = "ust-ab.min.js"
MAX_AGE = 60  # a test started or stopped reaches returning visitors within a minute
CACHE_SECONDS = 5.0
_SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S*\s*$")
_NOT_HOST = re.compile(r"[^a-z0-9.-]")


def script_json(value: Any) -> str:
    """JSON that is also safe inside a <script> element and in every JavaScript engine."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def build_script(bundle: str, domain: str, tests: list[dict[str, Any]]) -> str:
    safe_domain = _NOT_HOST.sub("", domain.lower())
    code = _SOURCE_MAP.sub("", bundle).strip()
    return (f"/* uxwizz A/B tests for {safe_domain}: {len(tests)} running */\n"
            f"(function(UST_AB_TESTS){{\n{code}\n}})({script_json(tests)});\n")


def find_site(domain: str) -> Site | None:
    """The site whose domain is this host or a parent of it (`www.example.com` → `example.com`)."""
    host = domain.strip().lower().rstrip(".")
    labels = host.split(".")
    candidates = [".".join(labels[i:]) for i in range(len(labels))] or [host]
    found = list(Site.select().where(Site.domain.in_(candidates)))
    return max(found, key=lambda site: len(site.domain)) if found else None


class AbScripts:
    """Per-domain bodies, briefly cached."""

    def __init__(self, assets: AssetStore):
        self.assets = assets
        self._cache: dict[str, tuple[float, int, bytes, str]] = {}  # domain -> (expires, site id, body, etag)
        self._lock = threading.Lock()

    def invalidate(self, site_id: int | None = None) -> None:
        with self._lock:
            if site_id is None:
                self._cache.clear()
            else:
                self._cache = {k: v for k, v in self._cache.items() if v[1] != site_id}

    def get(self, domain: str) -> tuple[int, bytes, str] | None:
        """(site id, body, etag) or None for an unknown domain. Raises LookupError when not built."""
        now = time.monotonic()
        cached = self._cache.get(domain)
        if cached is not None and cached[0] > now:
            return cached[1], cached[2], cached[3]
        asset = self.assets.get(BUNDLE)
        if asset is None:
            raise LookupError(BUNDLE)
        site = find_site(domain)
        if site is None:
            return None
        body = build_script(asset.body.decode("utf-8"), site.domain, published_tests(site.id)).encode("utf-8")
        etag = '"ab-' + hashlib.sha256(body).hexdigest()[:24] + '"'
        with self._lock:
            self._cache[domain] = (now + CACHE_SECONDS, site.id, body, etag)
        return site.id, body, etag


def invalidate(ctx: AppContext, site_id: int | None = None) -> None:
    """Call after changing a site's tests: this process serves the new script at once."""
    scripts = ctx.services.get("ab_scripts")
    if scripts is not None:
        scripts.invalidate(site_id)


def _js(body: str, status: int, cache: str) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(body, status=status, headers={
        "Content-Type": "application/javascript; charset=utf-8", "Cache-Control": cache,
        "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin"})


def register(app: bottle.Bottle, ctx: AppContext) -> AbScripts:
    assets = ctx.services.get("tracker_assets") or AssetStore(ctx.services.get("tracker_build_dir") or DEFAULT_BUILD_DIR)
    scripts = ctx.services["ab_scripts"] = AbScripts(assets)

    @app.get("/server/ab/<name>", permission="public")
    def ab_script(name: str) -> Any:
        if not name.endswith(".ab.js") or len(name) > 260:
            return _js("/* uxwizz: the A/B script is /server/ab/<domain>.ab.js */\n", 404, f"public, max-age={MAX_AGE}")
        domain = name[:-len(".ab.js")]
        try:
            found = scripts.get(domain)
        except LookupError:
            return _js("/* uxwizz: ust-ab.min.js has not been built (npm run build) */\n", 503, "no-store")
        if found is None:
            shown = _NOT_HOST.sub("", domain.lower())[:253]
            return _js(f"/* uxwizz: no site {shown} */\n", 404, f"public, max-age={MAX_AGE}")
        _site_id, body, etag = found
        request = bottle.request
        zipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        tag = etag[:-1] + '-gz"' if zipped else etag
        headers = {
            "Content-Type": "application/javascript; charset=utf-8",
            "Cache-Control": f"public, max-age={MAX_AGE}",
            "ETag": tag, "Vary": "Accept-Encoding",
            "Access-Control-Allow-Origin": "*", "Cross-Origin-Resource-Policy": "cross-origin",
        }
        if etag_matches(request.headers.get("If-None-Match", ""), etag):
            return bottle.HTTPResponse(status=304, headers=headers)
        if zipped:
            body = gzip.compress(body, compresslevel=6, mtime=0)
            headers["Content-Encoding"] = "gzip"
        headers["Content-Length"] = str(len(body))
        return bottle.HTTPResponse(body, status=200, headers=headers)

    return scripts
