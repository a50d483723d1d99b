"""Serves the built tracker bundles (and their source maps) to tracked sites at /server/….

Each file is read and gzip-compressed once, then kept in memory until its modification time or size
changes (a rebuild while serving is picked up without a restart). Nothing visitor-specific is in a
bundle, so any origin may load it and caches may share it.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

import bottle

from core.context import AppContext
from core.i18n import _
from core.templating import STATIC_DIR

DEFAULT_BUILD_DIR = os.path.join(STATIC_DIR, "build")
# ust.min.js, ust-rr.min.js, the lazily loaded ust-rr-recorder.min.js, and their .map files.
SERVED_NAME = r"ust[a-z0-9-]*\.min\.js(?:\.map)?"
# A `?v=` URL names one release: browsers and CDNs may keep it for a year. Without one the snippet
# is unversioned, so a new release must reach visitors within minutes.
VERSIONED_CACHE = "public, max-age=31536000, immutable"
UNVERSIONED_CACHE = "public, max-age=300"


@dataclass(frozen=True)
class Asset:
    """One built file, ready to send: raw and gzip bodies with their validators."""

    body: bytes
    gzipped: bytes
    etag: str
    content_type: str
    stamp: tuple[float, int]  # (mtime, size) of the file this was read from


class AssetStore:
    """Built files by name, loaded on first use and reloaded when the file on disk changes."""

    def __init__(self, build_dir: str):
        self.build_dir = build_dir
        self._cache: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Asset | None:
        path = os.path.join(self.build_dir, name)
        try:
            info = os.stat(path)
        except OSError:
            return None
        stamp = (info.st_mtime, info.st_size)
        cached = self._cache.get(name)
        if cached is not None and cached.stamp == stamp:
            return cached
        with self._lock:
            try:
                with open(path, "rb") as handle:
                    body = handle.read()
            except OSError:
                return None
            # mtime=0: the same bytes give the same gzip output (stable across processes behind a balancer).
            asset = Asset(
                body=body,
                gzipped=gzip.compress(body, compresslevel=9, mtime=0),
                etag='"' + hashlib.sha256(body).hexdigest()[:24] + '"',
                content_type="application/json" if name.endswith(".map") else "application/javascript; charset=utf-8",
                stamp=stamp,
            )
            self._cache[name] = asset
            return asset

    def preload(self) -> None:
        """Compress what is already built at start-up, so the first visitor does not pay for it."""
        try:
            names = os.listdir(self.build_dir)
        except OSError:
            return
        for name in names:
            if re.fullmatch(SERVED_NAME, name):
                self.get(name)


def accepts_gzip(header: str) -> bool:
    """True when Accept-Encoding allows gzip (a `q=0` refuses it)."""
    for part in header.lower().split(","):
        coding, _sep, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            match = re.search(r"q\s*=\s*([0-9.]+)", params)
            try:
                return not match or float(match.group(1)) > 0
            except ValueError:
                return False
    return False


def etag_matches(header: str, etag: str) -> bool:
    """If-None-Match with weak comparison; the gzip variant's tag (`"…-gz"`) matches too."""
    if header.strip() == "*":
        return True
    bare = etag.strip('"')
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag.strip('"') in (bare, bare + "-gz"):
            return True
    return False


def respond(store: AssetStore, name: str) -> bottle.HTTPResponse:
    asset = store.get(name)
    if asset is None:
        message = _(
            "The tracker file {name} has not been built. Run `make install` (or `npm ci && npm run build`) "
            "on the server."
        ).format(name=name)
        return bottle.HTTPResponse(
            message + "\n", status=503,
            headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "Retry-After": "60"},
        )
    request = bottle.request
    zipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    etag = asset.etag[:-1] + '-gz"' if zipped else asset.etag
    headers = {
        "Content-Type": asset.content_type,
        # Old and unknown ?v= values get the current file: embeds outlive releases.
        "Cache-Control": VERSIONED_CACHE if request.query.get("v") else UNVERSIONED_CACHE,
        "ETag": etag,
        "Vary": "Accept-Encoding",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag_matches(request.headers.get("If-None-Match", ""), asset.etag):
        return bottle.HTTPResponse(status=304, headers=headers)
    body = asset.gzipped if zipped else asset.body
    if zipped:
        headers["Content-Encoding"] = "gzip"
    headers["Content-Length"] = str(len(body))
    return bottle.HTTPResponse(body, status=200, headers=headers)


def register(app: bottle.Bottle, ctx: AppContext, build_dir: str | None = None) -> AssetStore:
    """Add the /server/ust*.min.js routes. `build_dir` defaults to static/build (tests pass their own)."""
    store = AssetStore(build_dir or ctx.services.get("tracker_build_dir") or DEFAULT_BUILD_DIR)
    store.preload()
    ctx.services["tracker_assets"] = store

    @app.get(f"/server/<name:re:{SERVED_NAME}>", permission="public")
    def tracker_file(name: str) -> Any:
        return respond(store, name)

    return store
