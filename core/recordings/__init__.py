"""Session recordings: full-page (rrweb) and pointer-mode replay data, snapshots, assets, upkeep.

`register(app, ctx)` wires the parts that are not dashboard pages: the `dom`/`snapshots` parts
of collection batches (through the collection pipeline's `collect_parts` extension point), the
blob upload endpoint the tracker uses for page snapshots and large events, the recorder's
settings endpoint, the housekeeping jobs and the orphan cleaner.
"""

from __future__ import annotations

import bottle

from core.context import AppContext


def register(app: bottle.Bottle, ctx: AppContext) -> None:
    from core.recordings import collect, maintenance, store, wire
    from core.tasks import Job, add_jobs

    try:
        from core.ingest.parts import CollectPart
    except ImportError:  # the collection pipeline is not part of this build
        CollectPart = None  # type: ignore[assignment,misc]  # noqa: N806
    if CollectPart is not None:
        parts = ctx.services.setdefault("collect_parts", [])
        parts.append(CollectPart("recording", wire.parse_parts, store.write_parts, wire.referenced_pids))
    collect.register(app, ctx)
    add_jobs(
        ctx,
        Job("recording-summaries", maintenance.refresh_summaries,
            "Recompute recording summaries (rage/dead clicks, activity) of sessions that changed.", seconds=30),
        Job("recording-assets", maintenance.fetch_assets,
            "Fetch stylesheets and fonts that recorded pages reference, for replay.", seconds=60),
        Job("recording-quota", maintenance.enforce_quota,
            "Remove the oldest recordings of sites over their recording storage quota.", cron={"minute": 23}),
    )
    # Retention deletes whole sessions; snapshots and assets they alone used are cleaned up here.
    ctx.services.setdefault("orphan_cleaners", []).append(maintenance.remove_orphans)
