"""Scheduled jobs: one APScheduler BackgroundScheduler built from a declarative job table."""

from __future__ import annotations

import bottle

from core.context import AppContext


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    """Filled in by the scheduler."""
