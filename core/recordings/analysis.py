"""What happened in a recording: clicks, rage clicks, dead clicks, and the per-session summary.

Rage click: at least RAGE_CLICKS clicks within RAGE_WINDOW_MS, each within RAGE_RADIUS_PX of the
first. Dead click: a click after which, within DEAD_WINDOW_MS, the page neither changed its DOM
nor navigated (nor scrolled, focused or took input — clicking into a field is not dead). Only
full-page recordings see DOM changes, so only they are judged: a pointer-mode click is never
called dead (we would be guessing). Pure functions over event lists; no Bottle, no database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

RAGE_CLICKS = 3
RAGE_WINDOW_MS = 1000
RAGE_RADIUS_PX = 30
DEAD_WINDOW_MS = 2000

# rrweb: IncrementalSnapshot = 3 with data.source: Mutation 0, MouseMove 1, MouseInteraction 2,
# Scroll 3, ViewportResize 4, Input 5; MouseInteraction type Click 2, Focus 5. FullSnapshot 2, Meta 4.
RR_FULL, RR_INCREMENTAL, RR_META = 2, 3, 4
SRC_MUTATION, SRC_MOUSE, SRC_SCROLL, SRC_INPUT = 0, 2, 3, 5
MOUSE_CLICK, MOUSE_FOCUS = 2, 5


@dataclass(frozen=True)
class Click:
    t: int
    x: float
    y: float
    dead: bool | None  # None: cannot be judged (no DOM information)


def dom_clicks(events: list[dict[str, Any]], next_page_t: int | None = None) -> list[Click]:
    """Clicks of an rrweb event list, each judged dead or not."""
    responses: list[int] = []  # times of DOM changes, navigations, scrolls, focus, input
    raw_clicks: list[tuple[int, float, float]] = []
    for event in events:
        t = int(event.get("timestamp", 0))
        kind = event.get("type")
        data = event.get("data") or {}
        if kind in (RR_FULL, RR_META):
            responses.append(t)
        elif kind == RR_INCREMENTAL:
            source = data.get("source")
            if source == SRC_MOUSE and data.get("type") == MOUSE_CLICK:
                raw_clicks.append((t, float(data.get("x", 0)), float(data.get("y", 0))))
            elif source == SRC_MOUSE and data.get("type") == MOUSE_FOCUS:
                responses.append(t)
            elif source in (SRC_MUTATION, SRC_SCROLL, SRC_INPUT):
                responses.append(t)
    if next_page_t is not None:
        responses.append(next_page_t)
    responses.sort()
    last_t = max((int(e.get("timestamp", 0)) for e in events), default=0)
    clicks = []
    for t, x, y in raw_clicks:
        answered = _any_between(responses, t, t + DEAD_WINDOW_MS)
        # A click in the last 2 s of a recording that simply ended cannot be judged.
        judged = answered or last_t >= t + DEAD_WINDOW_MS or next_page_t is not None
        clicks.append(Click(t, x, y, (not answered) if judged else None))
    return clicks


def pointer_clicks(events: list[dict[str, Any]]) -> list[Click]:
    return [Click(int(e["t"]), float(e.get("x", 0)), float(e.get("y", 0)), None)
            for e in events if e.get("k") == "click" and "t" in e]


def _any_between(sorted_times: list[int], low: int, high: int) -> bool:
    import bisect

    index = bisect.bisect_right(sorted_times, low)
    return index < len(sorted_times) and sorted_times[index] <= high


def rage_clicks(clicks: list[Click]) -> list[Click]:
    """The first click of each rage burst (≥ 3 clicks within 1 s near one spot)."""
    ordered = sorted(clicks, key=lambda c: c.t)
    bursts: list[Click] = []
    index = 0
    while index < len(ordered):
        first = ordered[index]
        group = [first]
        for other in ordered[index + 1:]:
            if other.t - first.t > RAGE_WINDOW_MS:
                break
            if abs(other.x - first.x) <= RAGE_RADIUS_PX and abs(other.y - first.y) <= RAGE_RADIUS_PX:
                group.append(other)
        if len(group) >= RAGE_CLICKS:
            bursts.append(first)
            last = group[-1]
            index = ordered.index(last) + 1  # the burst counts once
        else:
            index += 1
    return bursts


def item_clicks(item: dict[str, Any], next_page_t: int | None) -> list[Click]:
    if item["mode"] == "dom":
        return dom_clicks(item["events"], next_page_t)
    return pointer_clicks(item["events"])


def _event_time(item: dict[str, Any], event: dict[str, Any]) -> int:
    return int(event.get("timestamp" if item["mode"] == "dom" else "t", 0))


def _next_page_start(items: list[dict[str, Any]], index: int) -> int | None:
    """When the following page began: its first event (ms precision, same clock as this page's
    events), else its stored start (whole seconds, server clock)."""
    if index + 1 >= len(items):
        return None
    following = items[index + 1]
    times = [_event_time(following, e) for e in following["events"]]
    return min(times) if times else following.get("started_at")


def markers(items: list[dict[str, Any]], extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Timeline markers for the player: page, click, rage, dead (+ tags/events given in `extra`)."""
    found: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        times = [_event_time(item, e) for e in item["events"]]
        start = min(times) if times else item.get("started_at", 0)
        found.append({"t": start, "kind": "page", "label": item["url"], "page": index})
        clicks = item_clicks(item, _next_page_start(items, index))
        for click in clicks:
            found.append({"t": click.t, "kind": "dead" if click.dead else "click", "page": index,
                          "x": click.x, "y": click.y})
        for click in rage_clicks(clicks):
            found.append({"t": click.t, "kind": "rage", "page": index, "x": click.x, "y": click.y})
    found.extend(extra or [])
    found.sort(key=lambda m: m["t"])
    return found


def summarise(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures the recording list filters and sorts on."""
    clicks = rage = dead = events = 0
    first: int | None = None
    last: int | None = None
    for index, item in enumerate(items):
        page_clicks = item_clicks(item, _next_page_start(items, index))
        clicks += len(page_clicks)
        dead += sum(1 for c in page_clicks if c.dead)
        rage += len(rage_clicks(page_clicks))
        events += len(item["events"])
        for event in item["events"]:
            t = _event_time(item, event)
            first = t if first is None else min(first, t)
            last = t if last is None else max(last, t)
    duration = (last - first) if first is not None and last is not None else 0
    pages = sum(1 for item in items if item["events"])
    # Interactions first, frustration weighted up: a recording with rage clicks is the one to watch.
    activity = clicks + 10 * rage + 5 * dead + 2 * pages + min(duration / 60_000, 30) + events / 200
    return {"pages": pages, "duration_ms": duration, "events": events, "clicks": clicks,
            "rage_clicks": rage, "dead_clicks": dead, "activity": round(activity, 3),
            "mode": "dom" if any(item["mode"] == "dom" for item in items) else "pointer"}
