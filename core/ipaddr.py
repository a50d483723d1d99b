"""IP address parsing shared by the HTTP layer and enrichment (pure: no Bottle)."""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def normalize_ip(text: str) -> IPAddress | None:
    """Parse an address (brackets allowed); IPv4-mapped IPv6 (::ffff:1.2.3.4) becomes plain IPv4."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address
