"""The replay asset fetcher's network rules, against a real local HTTP server.

The only stand-in is the name resolver (a plain function passed in, as in production code):
it lets a test say "cdn.test resolves to 127.0.0.1" without touching /etc/hosts. Every
request that is made is a real one, and the server counts what reaches it.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from core.recordings import fetcher
from core.recordings.fetcher import FetchPolicy, FetchRefused

CSS = b"h1 { color: rgb(200, 0, 0) }"


class Handler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args):  # noqa: ANN002 - quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        Handler.hits.append(self.path)
        path = self.path.split("?")[0]
        if path == "/style.css":
            self._send(200, "text/css", CSS)
        elif path == "/font.woff2":
            self._send(200, "font/woff2", b"wOF2fake")
        elif path == "/page.html":
            self._send(200, "text/html", b"<p>not css</p>")
        elif path == "/huge.css":
            self._send(200, "text/css", b"a{}" * (fetcher.MAX_BYTES // 3 + 10))
        elif path == "/slow.css":
            time.sleep(2.5)
            self._send(200, "text/css", CSS)
        elif path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", self.path[len("/redirect/"):].replace("__", "://", 1))
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, "text/plain", b"no")

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass


@pytest.fixture
def server() -> Iterator[int]:
    Handler.hits = []
    # 0.0.0.0: reachable on every loopback address (127.0.0.1 and 127.0.0.2 are both used below).
    httpd = http.server.ThreadingHTTPServer(("0.0.0.0", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def resolver(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host in table:
            return table[host]
        raise FetchRefused(f"cannot resolve {host}")

    return resolve


PUBLIC_SITE = {"example.com": ["93.184.216.34"], "cdn.test": ["127.0.0.1"],
               "meta.test": ["169.254.169.254"], "rebind.test": ["93.184.216.34", "127.0.0.1"],
               "intranet.test": ["10.1.2.3"]}
LOCAL_SITE = {"example.com": ["127.0.0.1"], "meta.test": ["169.254.169.254"], "cdn.test": ["127.0.0.1"]}


def policy(table: dict[str, list[str]], extra=("cdn.test", "meta.test", "rebind.test", "intranet.test"),  # type: ignore[no-untyped-def]
           allow_private: bool = False) -> FetchPolicy:
    return fetcher.policy_for_site("example.com", list(extra), allow_private, resolver(table))


def test_a_site_on_the_public_internet_cannot_reach_loopback(server):
    with pytest.raises(FetchRefused, match="127.0.0.1 is not public"):
        fetcher.fetch(f"http://cdn.test:{server}/style.css", policy(PUBLIC_SITE), resolver(PUBLIC_SITE))
    # Even with private addresses allowed, loopback stays refused.
    with pytest.raises(FetchRefused, match="not public"):
        fetcher.fetch(f"http://cdn.test:{server}/style.css", policy(PUBLIC_SITE, allow_private=True),
                      resolver(PUBLIC_SITE))
    # A name answering with one public and one loopback address is refused as a whole (rebinding).
    with pytest.raises(FetchRefused, match="not public"):
        fetcher.fetch(f"http://rebind.test:{server}/style.css", policy(PUBLIC_SITE), resolver(PUBLIC_SITE))
    # Literal addresses are hosts like any other: not the site's, not listed.
    with pytest.raises(FetchRefused, match="not the site's"):
        fetcher.fetch(f"http://127.0.0.1:{server}/style.css", policy(PUBLIC_SITE), resolver(PUBLIC_SITE))
    assert Handler.hits == []  # nothing reached the server


def test_private_addresses_only_when_the_owner_allows_them():
    url = "http://intranet.test/style.css"
    with pytest.raises(FetchRefused, match="10.1.2.3 is not public"):
        fetcher.fetch(url, policy(PUBLIC_SITE), resolver(PUBLIC_SITE))
    allowed = policy(PUBLIC_SITE, allow_private=True)
    fetcher.check_address("10.1.2.3", allowed)  # passes the address rule (the fetch itself would time out)
    with pytest.raises(FetchRefused, match="169.254.169.254 is not public"):
        fetcher.check_address("169.254.169.254", allowed)  # metadata stays refused


def test_a_site_that_lives_on_loopback_may_fetch_from_there(server):
    got = fetcher.fetch(f"http://example.com:{server}/style.css", policy(LOCAL_SITE), resolver(LOCAL_SITE))
    assert (got.kind, got.content_type, got.body) == ("css", "text/css", CSS)
    font = fetcher.fetch(f"http://cdn.test:{server}/font.woff2", policy(LOCAL_SITE), resolver(LOCAL_SITE))
    assert font.kind == "font"


@pytest.mark.parametrize("target", [
    "http__169.254.169.254/latest/meta-data/",   # a literal metadata address: not an allowed host
    "http__meta.test/latest/meta-data/",         # a listed host that resolves to link-local
])
def test_redirects_to_metadata_are_refused_even_for_a_local_site(server, target):
    for allow_private in (False, True):
        with pytest.raises(FetchRefused):
            fetcher.fetch(f"http://example.com:{server}/redirect/{target}",
                          policy(LOCAL_SITE, allow_private=allow_private), resolver(LOCAL_SITE))
    assert Handler.hits == [f"/redirect/{target}"] * 2  # the first hop only; the target was never asked


def test_each_redirect_is_checked_again(server):
    # The site lives on 127.0.0.2 (its own name resolves there), so its first hop is allowed; the
    # redirect to cdn.test (127.0.0.1, another loopback address) is checked again and refused.
    home_only = {"example.com": ["127.0.0.2"], "cdn.test": ["127.0.0.1"]}
    local_policy = policy(home_only)
    assert local_policy.home_addresses == frozenset({"127.0.0.2"})
    with pytest.raises(FetchRefused, match="127.0.0.1 is not public"):
        fetcher.fetch(f"http://example.com:{server}/redirect/http__cdn.test:{server}/style.css",
                      local_policy, resolver(home_only))
    assert Handler.hits == [f"/redirect/http__cdn.test:{server}/style.css"]
    # When the target passes the rules too, the redirect is followed.
    got = fetcher.fetch(f"http://example.com:{server}/redirect/http__cdn.test:{server}/style.css",
                        policy(LOCAL_SITE), resolver(LOCAL_SITE))
    assert got.body == CSS and got.url == f"http://cdn.test:{server}/style.css"


def test_redirect_loops_and_chains_stop(server):
    hop = f"http__example.com:{server}/redirect/"
    url = f"http://example.com:{server}/redirect/" + hop * (fetcher.MAX_REDIRECTS + 1) + "x"
    with pytest.raises(FetchRefused, match="redirects"):
        fetcher.fetch(url, policy(LOCAL_SITE), resolver(LOCAL_SITE))


def test_schemes_credentials_types_size_and_time(server, monkeypatch):
    local = policy(LOCAL_SITE)
    res = resolver(LOCAL_SITE)
    for url, reason in [
        ("file:///etc/passwd", "only http and https"),
        ("gopher://example.com/", "only http and https"),
        (f"http://user:pw@example.com:{server}/style.css", "credentials"),
        (f"http://example.com:{server}/page.html", "not a stylesheet or font"),
        (f"http://example.com:{server}/logo.png", "not a stylesheet or font"),
        (f"http://example.com:{server}/huge.css", "larger than"),
        (f"http://example.com:{server}/missing.css", "HTTP 404"),
    ]:
        with pytest.raises(FetchRefused, match=reason):
            fetcher.fetch(url, local, res)
    monkeypatch.setattr(fetcher, "TIMEOUT", 1.0)
    started = time.monotonic()
    with pytest.raises(FetchRefused):
        fetcher.fetch(f"http://example.com:{server}/slow.css", local, res)
    assert time.monotonic() - started < 2.4


def test_real_resolution_of_localhost(server):
    """With the system resolver: a site on localhost may fetch from itself; a public site may not."""
    own = fetcher.policy_for_site("localhost", [], False)
    assert fetcher.fetch(f"http://localhost:{server}/style.css", own).body == CSS
    public = fetcher.policy_for_site("example.invalid", ["localhost"], False,
                                     resolver({"example.invalid": ["93.184.216.34"]}))
    with pytest.raises(FetchRefused, match="not public"):
        fetcher.fetch(f"http://localhost:{server}/style.css", public)
