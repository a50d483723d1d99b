"""GET /server/ust*.min.js: headers, caching by ?v=, ETag/304, gzip, and a clear 503 when unbuilt."""

from __future__ import annotations

import gzip
import os
import shutil

import bottle
import pytest
import webob
import webtest

from core import tracker_assets
from core.dashboard.access import AccessPlugin
from core.web import security_headers
from tests.unit.test_tracker_build import build_tracker


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    return build_tracker(str(tmp_path_factory.mktemp("tracker-build")))


def serving(app, build_dir: str) -> tuple[webtest.TestApp, tracker_assets.AssetStore]:
    """The tracker routes of the real app's context, reading bundles from build_dir."""
    bottle_app = bottle.Bottle(catchall=True)
    bottle_app.install(AccessPlugin(app.ctx))
    store = tracker_assets.register(bottle_app, app.ctx, build_dir=build_dir)
    return webtest.TestApp(security_headers(bottle_app)), store


def raw_get(client: webtest.TestApp, path: str, **headers: str) -> webob.Response:
    """A request whose response body is left as sent (WebTest would un-gzip it)."""
    return webob.Request.blank(path, headers=headers).get_response(client.app)


@pytest.fixture
def assets(app, built, tmp_path):
    build_dir = str(tmp_path / "build")
    shutil.copytree(built, build_dir)
    client, _store = serving(app, build_dir)
    return client, build_dir


def test_the_real_app_serves_the_tracker_routes(client):
    # static/build may or may not be built where the suite runs: either answer is explicit.
    response = client.get("/server/ust.min.js", status=[200, 503])
    if response.status_int == 200:
        assert response.headers["Content-Type"].startswith("application/javascript")
    else:
        assert "npm run build" in response.text
    assert "Set-Cookie" not in response.headers


def test_script_headers_for_cross_origin_use(assets, built):
    client, _ = assets
    response = client.get("/server/ust.min.js")
    assert response.headers["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "Set-Cookie" not in response.headers
    assert response.body == open(os.path.join(built, "ust.min.js"), "rb").read()


@pytest.mark.parametrize("version", ["0.1.0", "1.0.0-old", "totally-unknown", "3"])
def test_any_version_gets_long_caching_and_the_current_file(assets, built, version):
    client, _ = assets
    response = client.get(f"/server/ust-rr.min.js?v={version}")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.body == open(os.path.join(built, "ust-rr.min.js"), "rb").read()


def test_source_maps_are_served_as_json(assets):
    client, _ = assets
    for name in ("ust.min.js.map", "ust-rr.min.js.map"):
        response = client.get(f"/server/{name}")
        assert response.headers["Content-Type"] == "application/json"
        assert response.json["version"] == 3


def test_etag_and_304(assets):
    client, _ = assets
    first = client.get("/server/ust.min.js")
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = client.get("/server/ust.min.js", headers={"If-None-Match": etag}, status=304)
    assert again.body == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == "public, max-age=300"
    # A client that stored the gzip variant revalidates with its tag: still 304.
    zipped = raw_get(client, "/server/ust.min.js", **{"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["ETag"] != etag
    client.get("/server/ust.min.js", headers={"If-None-Match": zipped.headers["ETag"]}, status=304)
    client.get("/server/ust.min.js", headers={"If-None-Match": 'W/"other", ' + etag}, status=304)
    client.get("/server/ust.min.js", headers={"If-None-Match": '"something-else"'}, status=200)


def test_gzip_only_when_accepted(assets, built):
    client, _ = assets
    raw = open(os.path.join(built, "ust.min.js"), "rb").read()
    zipped = raw_get(client, "/server/ust.min.js", **{"Accept-Encoding": "br, gzip;q=0.8"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(zipped.body) < len(raw)
    assert gzip.decompress(zipped.body) == raw
    for refusing in ("identity", "gzip;q=0", "br", ""):
        plain = raw_get(client, "/server/ust.min.js", **{"Accept-Encoding": refusing})
        assert "Content-Encoding" not in plain.headers, refusing
        assert plain.body == raw


def test_compressed_once_and_reloaded_after_a_rebuild(app, built, tmp_path):
    build_dir = str(tmp_path / "build")
    shutil.copytree(built, build_dir)
    client, store = serving(app, build_dir)
    before = store.get("ust.min.js")
    assert store.get("ust.min.js") is before  # cached: no work per request
    first = raw_get(client, "/server/ust.min.js", **{"Accept-Encoding": "gzip"})
    path = os.path.join(build_dir, "ust.min.js")
    with open(path, "ab") as handle:
        handle.write(b"\n// rebuilt\n")
    os.utime(path, (os.path.getmtime(path) + 5, os.path.getmtime(path) + 5))
    second = raw_get(client, "/server/ust.min.js", **{"Accept-Encoding": "gzip"})
    assert second.headers["ETag"] != first.headers["ETag"]
    assert gzip.decompress(second.body).endswith(b"// rebuilt\n")


def test_unbuilt_bundle_is_a_clear_503(app, tmp_path):
    client, _ = serving(app, str(tmp_path / "nothing-built-here"))
    response = client.get("/server/ust.min.js", status=503)
    assert "has not been built" in response.text and "npm run build" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"].startswith("text/plain")


def test_only_tracker_files_are_served(assets):
    client, build_dir = assets
    with open(os.path.join(build_dir, "secret.txt"), "w") as handle:
        handle.write("no")
    client.get("/server/secret.txt", status=404)
    client.get("/server/../build/secret.txt", status=404)
    client.get("/server/ust.min.js.txt", status=404)


def test_head_request_has_headers_and_no_body(assets):
    client, _ = assets
    response = client.head("/server/ust.min.js")
    assert response.status_int == 200
    assert response.body == b""
    assert response.headers["Content-Type"].startswith("application/javascript")
