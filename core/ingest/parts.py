"""Extension point for extra parts of a collection batch (full-page recording `dom`, snapshots…).

Another feature adds a `CollectPart` to `ctx.services["collect_parts"]` while the app is built.
On the request thread `parse(raw_batch)` returns a clean JSON-serialisable value (falsy: nothing
to keep) or raises ValueError (with `.field`/`.detail` when it has them) → 422, nothing journaled.
In the flusher, inside the batch's transaction, `write(value, site_id=…, session_id=…,
pageview_ids={pid: id})` stores it; `pids(value)` names the page ids it refers to so their
pageview ids are resolved. A replayed batch is skipped before `write` (batch ids), so `write`
runs once per accepted batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CollectPart:
    name: str
    parse: Callable[[dict[str, Any]], Any]
    write: Callable[..., Any]
    pids: Callable[[Any], set[str]] = lambda value: set()


def parse_parts(parts: list[CollectPart], raw: dict[str, Any]) -> dict[str, Any]:
    """Values of every registered part present in the batch, keyed by part name."""
    found: dict[str, Any] = {}
    for part in parts:
        value = part.parse(raw)
        if isinstance(value, dict) and not any(value.values()):
            continue  # e.g. {"dom": [], "snapshots": []}: nothing to keep
        if value:
            found[part.name] = value
    return found
