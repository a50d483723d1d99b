"""GET /healthz: 200 when the database answers, with the collection buffer depth; 503 otherwise."""

from __future__ import annotations

from typing import Any

import bottle

from core.context import AppContext
from core.web import json_response


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    @app.get("/healthz", permission="public")
    def healthz() -> Any:
        depth_of = ctx.services.get("ingest_depth")
        body: dict[str, Any] = {"buffer_depth": depth_of() if depth_of else 0}
        stats_of = ctx.services.get("collect_stats")
        if stats_of:
            body["collect"] = stats_of()
        try:
            # A real table, not just "SELECT 1": a reachable server with a missing schema is unhealthy too.
            ctx.database.db.execute_sql("SELECT name FROM schema_migrations LIMIT 1").fetchone()
            body.update(status="ok", database="ok")
            status = 200
        except Exception as exc:  # any driver failure means unhealthy, never a 500
            body.update(status="unavailable", database=type(exc).__name__)
            status = 503
        return json_response(body, status, {"Cache-Control": "no-store"})
