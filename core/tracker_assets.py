"""Serves the built tracker bundles at /server/… (placeholder until the tracker lands)."""

from __future__ import annotations

import bottle

from core.context import AppContext


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    """Filled in by the tracker."""
