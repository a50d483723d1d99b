"""Fetch the stylesheets and fonts that recorded pages reference, without opening the host's network.

Rules (each one is tested):
- http and https only; the host must be the site's domain or a subdomain of it, or a host the
  owner listed (`replay_asset_hosts`);
- every address the name resolves to must be public — no private, loopback, link-local,
  multicast, reserved or unspecified address — unless the site itself lives on that kind of
  address (its own domain resolves there, e.g. an intranet site) or the owner allowed private
  addresses (`replay_allow_private`; link-local metadata addresses stay refused even then);
- we connect to the address we checked (no second DNS lookup to rebind), with SNI and the Host
  header of the name;
- redirects are followed by hand, at most MAX_REDIRECTS, each target checked like the first;
- at most MAX_BYTES per response and TIMEOUT seconds per fetch; only CSS and font types kept.
No Bottle; the caller stores what comes back.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from core.numbers import parse_whole

MAX_BYTES = 2_000_000
TIMEOUT = 10.0
MAX_REDIRECTS = 3
CSS_TYPES = ("text/css",)
FONT_TYPES = ("font/", "application/font", "application/x-font", "application/vnd.ms-fontobject",
              "application/octet-stream")  # many servers send fonts as octet-stream
FONT_EXTENSIONS = (".woff2", ".woff", ".ttf", ".otf", ".eot")
SKIP_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp", ".mp4")
METADATA = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))

Resolver = Callable[[str, int], list[str]]


class FetchRefused(Exception):
    """The URL breaks a rule; `reason` says which (stored, shown to the owner)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class FetchPolicy:
    site_domain: str
    extra_hosts: tuple[str, ...] = ()
    allow_private: bool = False
    # Addresses the site itself lives on (filled by `policy_for_site`); allowed even if private.
    home_addresses: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Fetched:
    url: str  # final URL after redirects
    content_type: str
    body: bytes
    kind: str  # "css" | "font"


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchRefused(f"cannot resolve {host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def policy_for_site(domain: str, extra_hosts: list[str], allow_private: bool,
                    resolver: Resolver = system_resolver) -> FetchPolicy:
    """The site's policy; a site whose own domain resolves to non-public addresses may use them."""
    home: set[str] = set()
    try:
        for address in resolver(domain, 443):
            if not ipaddress.ip_address(address).is_global:
                home.add(address)
    except FetchRefused:
        pass
    hosts = tuple(h.strip().lower().rstrip(".") for h in extra_hosts if h.strip())
    return FetchPolicy(domain.lower(), hosts, allow_private, frozenset(home))


def host_allowed(host: str, policy: FetchPolicy) -> bool:
    host = host.lower().rstrip(".")
    for allowed in (policy.site_domain, *policy.extra_hosts):
        if host == allowed or host.endswith("." + allowed):
            return True
    return False


def check_address(address: str, policy: FetchPolicy) -> None:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_global and not ip.is_multicast:
        return
    if str(ip) in policy.home_addresses:
        return  # the site itself lives here (an intranet or local site)
    if policy.allow_private and ip.is_private and not any(ip in net for net in METADATA) \
            and not ip.is_loopback:
        return
    raise FetchRefused(f"address {ip} is not public")


def _connect(scheme: str, host: str, port: int, address: str) -> http.client.HTTPConnection:
    """A connection to the checked address, speaking to `host` (SNI, certificate, Host header)."""
    if scheme == "https":
        context = ssl.create_default_context()

        class PinnedHTTPS(http.client.HTTPSConnection):
            def connect(self) -> None:
                raw = socket.create_connection((address, port), timeout=self.timeout)
                self.sock = context.wrap_socket(raw, server_hostname=host)

        return PinnedHTTPS(host, port, timeout=TIMEOUT, context=context)

    class PinnedHTTP(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.create_connection((address, port), timeout=self.timeout)

    return PinnedHTTP(host, port, timeout=TIMEOUT)


def _kind(url: str, content_type: str) -> str | None:
    content_type = content_type.split(";")[0].strip().lower()
    if content_type in CSS_TYPES:
        return "css"
    path = urlsplit(url).path.lower()
    if content_type.startswith(FONT_TYPES) and (content_type != "application/octet-stream"
                                                or path.endswith(FONT_EXTENSIONS)):
        return "font"
    return None


def fetch(url: str, policy: FetchPolicy, resolver: Resolver = system_resolver) -> Fetched:
    """GET one stylesheet or font under the policy; FetchRefused says why not."""
    deadline = time.monotonic() + TIMEOUT
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchRefused("only http and https URLs are fetched")
        if parts.username or parts.password:
            raise FetchRefused("URLs with credentials are not fetched")
        host = (parts.hostname or "").lower()
        if not host or not host_allowed(host, policy):
            raise FetchRefused(f"host {host or '?'} is not the site's and not listed")
        if parts.path.lower().endswith(SKIP_EXTENSIONS):
            raise FetchRefused("not a stylesheet or font")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FetchRefused("invalid port") from None
        addresses = resolver(host, port)
        if not addresses:
            raise FetchRefused(f"cannot resolve {host}")
        for address in addresses:  # every answer must pass, or a rebinding name could pick one
            check_address(address, policy)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = _connect(scheme, host, port, addresses[0])
        try:
            connection.timeout = max(0.5, deadline - time.monotonic())
            connection.request("GET", path, headers={
                "Host": parts.netloc.rsplit("@", 1)[-1], "User-Agent": "uxwizz-replay-assets/1",
                "Accept": "text/css,font/*;q=0.9,*/*;q=0.1", "Accept-Encoding": "identity",
            })
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location") or ""
                if not location:
                    raise FetchRefused("redirect without a Location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchRefused(f"HTTP {response.status}")
            declared = response.getheader("Content-Length")
            if declared and (parse_whole(declared) or 0) > MAX_BYTES:
                raise FetchRefused(f"larger than {MAX_BYTES} bytes")
            content_type = response.getheader("Content-Type") or ""
            kind = _kind(url, content_type)
            if kind is None:
                raise FetchRefused(f"not a stylesheet or font ({content_type.split(';')[0] or 'no type'})")
            body = bytearray()
            while len(body) <= MAX_BYTES:
                if time.monotonic() > deadline:
                    raise FetchRefused(f"took longer than {TIMEOUT:g} s")
                piece = response.read(65536)
                if not piece:
                    break
                body.extend(piece)
            if len(body) > MAX_BYTES:
                raise FetchRefused(f"larger than {MAX_BYTES} bytes")
            return Fetched(url, content_type.split(";")[0].strip().lower(), bytes(body), kind)
        except (OSError, http.client.HTTPException) as exc:
            raise FetchRefused(f"fetch failed: {type(exc).__name__}") from None
        finally:
            connection.close()
    raise FetchRefused(f"more than {MAX_REDIRECTS} redirects")
