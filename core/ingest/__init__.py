"""Collection (write side, HTTP-facing): routes, schema, journal, flush.

`register(app, ctx)` builds the `IngestService`, serves `/api/collect` as a fast WSGI path and
`/api/collect/config` through Bottle, and hooks the flusher into start-up and shutdown.
"""

from __future__ import annotations

import bottle

from core.context import AppContext

from .routes import make_collect_app, register_config
from .service import IngestService


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    service = IngestService(ctx)
    ctx.services["ingest"] = service
    ctx.services["ingest_depth"] = service.depth
    ctx.services["collect_stats"] = service.stats_snapshot
    ctx.fast_paths["/api/collect"] = make_collect_app(service, ctx)
    register_config(app, service)
    ctx.services.setdefault("forkers", []).append(service.fork_worker)
    ctx.services.setdefault("starters", []).append(service.start)
    # Registered before the scheduler's stop, so it runs after it: the final flush is the last write.
    ctx.shutdown_hooks.append(service.shutdown)
