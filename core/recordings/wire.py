"""The recording parts of a collection batch (`dom`, `snapshots`): parse and cap, or reject.

Pure functions, no Bottle and no database: the collection endpoint calls `parse_parts` on the
request thread (a rejection becomes a 422 naming the field, nothing is journaled); the flusher
later hands the parsed, JSON-serialisable value to `core.recordings.store.write_parts`.
"""

from __future__ import annotations

import json
import re
from typing import Any

# rrweb event types: DomContentLoaded 0, Load 1, FullSnapshot 2, IncrementalSnapshot 3, Meta 4,
# Custom 5, Plugin 6.
RRWEB_TYPES = range(0, 7)
MAX_DOM_ITEMS = 2000  # per batch (one item is one rrweb event)
MAX_SNAPSHOT_REFS = 20
# One inline event serialised: the tracker's requests are ≤ 64 KB (keepalive); larger events,
# such as the full snapshot of a big page, go to /api/collect/blob and travel as a `ref`.
MAX_EVENT_BYTES = 64_000
MIN_T, MAX_T = 1_000_000_000_000, 9_999_999_999_999  # ms epoch: 2001..2286
_PID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_HASH = re.compile(r"^[0-9a-f]{64}$")


class PartError(ValueError):
    """A recording part is invalid: `field` names it; the whole batch is refused."""

    def __init__(self, field: str, detail: str):
        super().__init__(detail)
        self.field = field
        self.detail = detail


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise PartError(field, f"{field} must be a number")
    number = int(value)
    if not low <= number <= high:
        raise PartError(field, f"{field} must be between {low} and {high}")
    return number


def _pid(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _PID.match(value):
        raise PartError(field, f"{field} must be 8-64 characters of A-Z a-z 0-9 _ -")
    return value


def _event(raw: Any, field: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise PartError(field, f"{field} must be an object")
    kind = _int(raw.get("type"), f"{field}.type", 0, 6)
    stamp = _int(raw.get("timestamp"), f"{field}.timestamp", MIN_T, MAX_T)
    data = raw.get("data", {})
    if not isinstance(data, dict):
        raise PartError(f"{field}.data", f"{field}.data must be an object")
    if len(json.dumps(data, separators=(",", ":"))) > MAX_EVENT_BYTES:
        raise PartError(field, f"{field} is larger than {MAX_EVENT_BYTES} bytes; upload it as a blob")
    return {"type": kind, "timestamp": stamp, "data": data}


def parse_dom(raw: Any) -> list[dict[str, Any]]:
    """`dom`: [{"pid", "t", "e": rrweb event | {"ref": sha256, "type", "timestamp"}}].

    Returns [{"pid", "events": [event, …]}] grouped by page in arrival order. A `ref` stands
    for an event too large for a keepalive request whose `data` went to /api/collect/blob; it
    is stored as the placeholder `{"type", "timestamp", "ref"}` that replay resolves.
    """
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PartError("dom", "dom must be a list")
    if len(raw) > MAX_DOM_ITEMS:
        raise PartError("dom", f"at most {MAX_DOM_ITEMS} dom items per batch")
    pages: dict[str, list[dict[str, Any]]] = {}
    for index, item in enumerate(raw):
        where = f"dom[{index}]"
        if not isinstance(item, dict):
            raise PartError(where, f"{where} must be an object")
        pid = _pid(item.get("pid"), f"{where}.pid")
        event = item.get("e")
        if isinstance(event, dict) and "ref" in event:
            digest = event.get("ref")
            if not isinstance(digest, str) or not _HASH.match(digest):
                raise PartError(f"{where}.e.ref", f"{where}.e.ref must be 64 lower-case hex digits (sha256)")
            clean = {"type": _int(event.get("type"), f"{where}.e.type", 0, 6),
                     "timestamp": _int(event.get("timestamp"), f"{where}.e.timestamp", MIN_T, MAX_T),
                     "ref": digest}
        else:
            clean = _event(event, f"{where}.e")
        pages.setdefault(pid, []).append(clean)
    return [{"pid": pid, "events": events} for pid, events in pages.items()]


def parse_snapshot_refs(raw: Any) -> list[dict[str, Any]]:
    """`snapshots`: [{"pid", "t", "e": {"hash"}}] — from time t the page shows this snapshot."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PartError("snapshots", "snapshots must be a list")
    if len(raw) > MAX_SNAPSHOT_REFS:
        raise PartError("snapshots", f"at most {MAX_SNAPSHOT_REFS} snapshot references per batch")
    refs = []
    for index, item in enumerate(raw):
        where = f"snapshots[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("e"), dict):
            raise PartError(where, f"{where} must be an object with an object `e`")
        digest = item["e"].get("hash")
        if not isinstance(digest, str) or not _HASH.match(digest):
            raise PartError(f"{where}.e.hash", f"{where}.e.hash must be 64 lower-case hex digits (sha256)")
        refs.append({"pid": _pid(item.get("pid"), f"{where}.pid"),
                     "t": _int(item.get("t"), f"{where}.t", MIN_T, MAX_T), "hash": digest})
    return refs


def parse_parts(batch: dict[str, Any]) -> dict[str, Any]:
    """The recording parts of one batch: {"dom": […], "snapshots": […]} (either may be empty)."""
    return {"dom": parse_dom(batch.get("dom")), "snapshots": parse_snapshot_refs(batch.get("snapshots"))}


def referenced_pids(parts: dict[str, Any]) -> set[str]:
    """Page ids the parts refer to (the endpoint checks each is a page of this session)."""
    return {c["pid"] for c in parts.get("dom", [])} | {r["pid"] for r in parts.get("snapshots", [])}
