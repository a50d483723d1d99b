"""HTTP helpers shared by every Bottle app here: client IP, security headers, JSON errors.

Plain WSGI and Bottle only; no knowledge of dashboards or collection.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Iterable
from typing import Any

import bottle

from core.ipaddr import normalize_ip

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

DASHBOARD_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "font-src 'self'; connect-src 'self'; frame-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def client_ip(environ: dict[str, Any], trusted: tuple[IPNetwork, ...]) -> str:
    """The visitor's IP: REMOTE_ADDR, or X-Forwarded-For walked right to left past trusted proxies.

    Bottle's `request.remote_addr` believes X-Forwarded-For from anyone; this does not.
    """
    remote = normalize_ip(environ.get("REMOTE_ADDR", "")) or ipaddress.ip_address("0.0.0.0")
    if not trusted or not any(remote in net for net in trusted):
        return str(remote)
    hops = [h for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
    for hop in reversed(hops):
        address = normalize_ip(hop)
        if address is None:
            break  # a garbled hop: trust nothing further left
        if not any(address in net for net in trusted):
            return str(address)
        remote = address
    return str(remote)


def is_https(environ: dict[str, Any], trusted: tuple[IPNetwork, ...]) -> bool:
    if environ.get("wsgi.url_scheme") == "https":
        return True
    remote = normalize_ip(environ.get("REMOTE_ADDR", ""))
    from_proxy = remote is not None and any(remote in net for net in trusted)
    return from_proxy and environ.get("HTTP_X_FORWARDED_PROTO", "").lower() == "https"


def security_headers(app: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a WSGI app so every response carries the base headers and a CSP unless it set its own."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            present = {name.lower() for name, _value in headers}
            for name, value in BASE_HEADERS.items():
                if name.lower() not in present:
                    headers.append((name, value))
            if "content-security-policy" not in present:
                headers.append(("Content-Security-Policy", DASHBOARD_CSP))
            if "x-frame-options" not in present:
                headers.append(("X-Frame-Options", "DENY"))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return app(environ, start)

    return wrapped


class ApiError(Exception):
    """Raised by JSON handlers; becomes `{"error": code, "detail": text}` with the status."""

    def __init__(self, status: int, code: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> bottle.HTTPResponse:
    body = json.dumps(data, separators=(",", ":"), default=str)
    response = bottle.HTTPResponse(body=body, status=status, headers=headers or {})
    response.content_type = "application/json"
    return response


def json_error(status: int, code: str, detail: str) -> bottle.HTTPResponse:
    return json_response({"error": code, "detail": detail}, status)


def read_json_body(max_bytes: int = 1_000_000) -> Any:
    """The request body parsed as JSON whatever its content type; ApiError on anything else."""
    length = bottle.request.content_length
    if length > max_bytes:
        raise ApiError(413, "too_large", f"Request body is larger than {max_bytes} bytes.")
    raw = bottle.request.body.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ApiError(413, "too_large", f"Request body is larger than {max_bytes} bytes.")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "Request body is not valid JSON.") from None
