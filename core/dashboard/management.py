"""Settings pages: sites and their tracking settings, users and access, API tokens."""

from __future__ import annotations

import bottle

from core.context import AppContext


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    """Filled in by the sites/users/tokens pages."""
