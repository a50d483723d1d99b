"""Collection (write side, HTTP-facing): routes, schema, journal, flush."""

from __future__ import annotations

import bottle

from core.context import AppContext


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    """Filled in by the collection pipeline."""
