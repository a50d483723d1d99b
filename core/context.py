"""The services one running app owns, passed explicitly to every route module (no singletons)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jinja2

from core.config import Settings
from core.db import Database
from core.web import IPNetwork


@dataclass
class AppContext:
    settings: Settings
    database: Database
    templates: jinja2.Environment
    trusted_proxies: tuple[IPNetwork, ...] = ()
    # Filled in by the parts that own them (ingest buffer, scheduler, plugin manager, throttle).
    services: dict[str, Any] = field(default_factory=dict)
    # Paths served by plain WSGI callables in front of Bottle (hot paths such as /api/collect).
    fast_paths: dict[str, Any] = field(default_factory=dict)
    # Callables run on shutdown, last registered first.
    shutdown_hooks: list[Any] = field(default_factory=list)
