"""IP → country, region, city from a MaxMind-format (.mmdb) database; empty fields without one.

Reads both record shapes in use: MaxMind's nested GeoLite2 records
(`{"country": {"iso_code"}, "subdivisions": [{"names"}], "city": {"names"}}`) and the flat
ip-location-db records (`{"country_code", "state1", "city"}`).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from dataclasses import dataclass
from typing import Any

import maxminddb

from core.ipaddr import normalize_ip

log = logging.getLogger("uxwizz.geo")

# Bundled by `make install` (npm) under node_modules; copied into the data dir on first start.
DEFAULT_DB_PACKAGE = os.path.join("@ip-location-db", "geo-whois-asn-country-mmdb")
DEFAULT_DB_FILE = "geo-whois-asn-country.mmdb"


@dataclass(frozen=True)
class GeoInfo:
    country: str = ""
    region: str = ""
    city: str = ""


EMPTY = GeoInfo()


def _rank(name: str) -> tuple[int, str]:
    lower = name.lower()
    # A city database beats a country one; a user's GeoLite2-City beats everything.
    if lower.startswith("geolite2-city") or lower.startswith("geoip2-city"):
        return (0, lower)
    if "city" in lower:
        return (1, lower)
    return (2, lower)


def find_database(configured: str, data_dir: str) -> str | None:
    """`geo.database_path` when set, else the best `.mmdb` in the data dir (city before country)."""
    if configured:
        return configured
    try:
        names = [n for n in os.listdir(data_dir) if n.lower().endswith(".mmdb")]
    except OSError:
        return None
    if not names:
        return None
    return os.path.join(data_dir, sorted(names, key=_rank)[0])


def install_default_database(data_dir: str, node_modules: str) -> str | None:
    """Copy the bundled CC0 country database into the data dir when it holds no .mmdb yet."""
    if find_database("", data_dir):
        return None
    source = os.path.join(node_modules, DEFAULT_DB_PACKAGE, DEFAULT_DB_FILE)
    if not os.path.isfile(source):
        return None
    os.makedirs(data_dir, exist_ok=True)
    target = os.path.join(data_dir, DEFAULT_DB_FILE)
    partial = target + ".part"
    shutil.copyfile(source, partial)
    os.replace(partial, target)  # never leave a half-copied .mmdb for the next start to pick
    return target


def _name(node: Any) -> str:
    if isinstance(node, dict):
        names = node.get("names")
        if isinstance(names, dict):
            return str(names.get("en") or next(iter(names.values()), ""))
    if isinstance(node, str):
        return node
    return ""


def record_to_geo(record: Any) -> GeoInfo:
    if not isinstance(record, dict):
        return EMPTY
    country = record.get("country_code")
    if country is None and isinstance(record.get("country"), dict):
        country = record["country"].get("iso_code")
    region = record.get("state1")
    if region is None:
        subdivisions = record.get("subdivisions")
        region = _name(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else ""
    city = record.get("city")
    city = _name(city) if not isinstance(city, str) else city
    return GeoInfo(
        country=str(country or "").upper()[:2],
        region=str(region or "")[:100],
        city=str(city or "")[:100],
    )


class GeoReader:
    """Opens the database lazily once; thread-safe lookups (maxminddb readers are)."""

    def __init__(self, path: str | None):
        self.path = path
        self._reader: Any = None
        self._failed = False
        self._lock = threading.Lock()
        self._cache: dict[str, GeoInfo] = {}

    @property
    def available(self) -> bool:
        return self._open() is not None

    def _open(self) -> Any:
        if self._reader is not None or self._failed or not self.path:
            return self._reader
        with self._lock:
            if self._reader is None and not self._failed:
                try:
                    self._reader = maxminddb.open_database(self.path, maxminddb.MODE_AUTO)
                except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
                    log.warning("GeoIP database %s cannot be opened (%s); locations stay empty", self.path, exc)
                    self._failed = True
        return self._reader

    def lookup(self, ip: str) -> GeoInfo:
        """Cached per address string (bounded): a visitor sends many batches from one IP."""
        hit = self._cache.get(ip)
        if hit is None:
            if len(self._cache) >= 50_000:
                self._cache.clear()
            hit = self._cache[ip] = self._lookup(ip)
        return hit

    def _lookup(self, ip: str) -> GeoInfo:
        address = normalize_ip(ip)
        if address is None or not address.is_global:
            return EMPTY
        reader = self._open()
        if reader is None:
            return EMPTY
        try:
            return record_to_geo(reader.get(str(address)))
        except (ValueError, maxminddb.InvalidDatabaseError):
            return EMPTY

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
