"""Session recordings: bytes stored per active minute, recorder main-thread cost, player load time.

All in one run, on SQLite, with a real `uxwizz.py serve` and headless Chromium (/usr/bin/chromium):
1. Storage: a scripted visit of tracker/fixtures/recording/app.html (mouse moves, clicks that add
   list items, typing, scrolling) recorded in full-page mode, then the same script in pointer mode
   (the baseline). Reports compressed bytes stored per active minute (chunks + blobs + snapshots)
   and what went over the wire. Target: full page <= 100 KB/min; pointer far less.
2. Recorder cost on tracker/fixtures/recording/big.html (5,000 nodes): main-thread task time in the
   4 s after the tracker starts (Chrome's TaskDuration), for no tracker (baseline), pointer mode
   (page snapshot) and full-page mode (rrweb snapshot + observers), plus the snapshot times the
   recorder measures itself and the longest task.
3. Player: time from opening a 10-minute full-page recording to a ready player, and to showing
   its last frame; a 1-minute recording is the baseline.

Run: .venv/bin/python bench/recording.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core.config import load_settings  # noqa: E402
from core.db import open_database  # noqa: E402
from installer.setup import InstallRequest, perform_install  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.e2e.test_recording_e2e import Origin, build_assets  # noqa: E402
from tests.support import LiveServer, free_port  # noqa: E402

ADMIN = ("admin", "bench-password-1")


class Bench:
    def __init__(self, folder: str):
        settings = load_settings(environ={"UXWIZZ_CONFIG": os.path.join(folder, "config.ini")})
        self.settings = perform_install(settings, InstallRequest(f"sqlite:///{folder}/bench.db", *ADMIN, "example.com"))
        self.site_id = self.db(lambda: self._site())
        self.server = LiveServer(self.settings.config_path, free_port()).start()
        self.assets = Origin("127.0.0.1", {})
        self.app = Origin("localhost", {"__UST_SERVER__": self.server.url, "__ASSETS__": self.assets.url})

    def _site(self) -> int:
        from core.sites import create_site, update_site

        site = create_site("localhost")
        update_site(site, settings={"filter_headless": False, "full_page_recording": True,
                                    "replay_asset_hosts": ["127.0.0.1"]})
        return site.id

    def db(self, fn: Any) -> Any:
        database = open_database(self.settings["database.url"], self.settings.base_dir)
        try:
            with database.db.connection_context():
                return fn()
        finally:
            database.close()

    def set(self, **settings: Any) -> None:
        from core.models import Site
        from core.sites import update_site

        self.db(lambda: update_site(Site.get_by_id(self.site_id), settings=settings))

    def close(self) -> None:
        self.server.stop()
        self.app.close()
        self.assets.close()


def stored_bytes(bench: Bench, token: str) -> dict[str, int]:
    from core.models import RecordingChunk, Session
    from core.models.recordings import RecordingSnapshot

    def read() -> dict[str, int]:
        session = Session.get(Session.token == token)
        chunks = list(RecordingChunk.select().where(RecordingChunk.session == session.id))
        return {
            "dom": sum(c.size for c in chunks if c.mode == "dom"),
            "pointer": sum(c.size for c in chunks if c.mode == "pointer"),
            "blobs": sum(s.size for s in RecordingSnapshot.select()),  # one visitor: every blob is theirs
        }

    return bench.db(read)


def scripted_visit(browser: Any, bench: Bench, seconds: int) -> tuple[int, dict[str, Any]]:
    """Active use for `seconds`: returns (bytes sent, recorder stats)."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    sent = [0]
    page.on("request", lambda r: sent.__setitem__(0, sent[0] + len((r.post_data or "").encode()))
            if r.url.startswith(bench.server.url) and r.method == "POST" else None)
    page.goto(bench.app.url + "/app")
    page.wait_for_function("window.UST && UST.__rr && UST.__rr.stats && UST.__rr.stats.mode", timeout=20000)
    rng = random.Random(7)
    started = time.monotonic()
    second = 0
    while time.monotonic() - started < seconds:
        second += 1
        page.mouse.move(rng.randint(20, 1200), rng.randint(20, 700), steps=10)
        if second % 3 == 0:
            page.click("#add")
        if second % 5 == 0:
            page.fill("#email", f"user{second}@example.org")
        if second % 7 == 0:
            page.mouse.wheel(0, rng.choice([-200, 200]))
        page.wait_for_timeout(max(0, 1000 - int((time.monotonic() - started - second + 1) * 1000)))
    page.evaluate("UST.forceSendData()")
    page.wait_for_timeout(1500)
    stats = page.evaluate("UST.__rr.stats")
    context.close()
    time.sleep(2)  # the flusher writes within ~1 s
    return sent[0], stats


def session_token(bench: Bench) -> str:
    from core.models import Session

    return bench.db(lambda: Session.select().order_by(Session.id.desc()).first().token)


def storage(browser: Any, bench: Bench, seconds: int) -> dict[str, Any]:
    results = {}
    for mode, sample in (("full page", 100), ("pointer", 0)):
        bench.set(fullpage_sample_percent=sample)
        sent, stats = scripted_visit(browser, bench, seconds)
        token = session_token(bench)
        stored = stored_bytes(bench, token)
        total = stored["dom"] + stored["pointer"] + stored["blobs"]
        minutes = seconds / 60
        results[mode] = {"stored_per_min": total / minutes, "sent_per_min": sent / minutes, "parts": stored,
                         "recorder": stats}
        from core.models.recordings import RecordingSnapshot

        bench.db(lambda: RecordingSnapshot.delete().execute())  # the next mode starts without blobs
    return results


def recorder_cost(browser: Any, bench: Bench) -> dict[str, Any]:
    """Main-thread task time in the 4 s after a tracker starts on the 5,000-node page."""
    rows = [  # label, tracker file, site settings
        ("no tracker", None, {}),
        ("ust.min.js, recording off", "ust.min.js", {"record_sessions": False}),
        ("pointer mode (ust.min.js + page snapshot)", "ust.min.js", {"record_sessions": True}),
        ("full page (ust-rr.min.js + rrweb)", "ust-rr.min.js", {"record_sessions": True,
                                                                "fullpage_sample_percent": 100}),
    ]
    results = {}
    for label, tracker, settings in rows:
        if settings:
            bench.set(**settings)
            time.sleep(1.5)  # the collection endpoint's site cache picks the change up
        runs = []
        for _ in range(3):
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            page = context.new_page()
            page.goto(bench.app.url + "/big.html")
            page.wait_for_load_state("load")
            page.wait_for_timeout(500)
            assert page.evaluate("document.getElementsByTagName('*').length") >= 5000
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            page.evaluate("""() => { window.__long = 0; try { new PerformanceObserver(l => {
                for (const e of l.getEntries()) window.__long = Math.max(window.__long, e.duration); })
                .observe({entryTypes: ['longtask']}); } catch (e) {} }""")

            def task(cdp: Any = cdp) -> float:
                return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")

            before = task()
            if tracker is not None:
                page.evaluate(f"window.__startTracker({json.dumps(bench.server.url)}, {json.dumps(tracker)})")
                page.wait_for_function("window.UST && typeof UST.canRecord === 'function'", timeout=20000)
            page.wait_for_timeout(4000)
            busy = (task() - before) * 1000
            stats = page.evaluate("window.UST && UST.__rr ? UST.__rr.stats || null : null") if tracker else None
            runs.append({"task_ms": busy, "longest_task_ms": page.evaluate("window.__long"), "stats": stats})
            context.close()
        runs.sort(key=lambda r: r["task_ms"])
        results[label] = runs[1]  # the median of three
    bench.set(record_sessions=True, fullpage_sample_percent=100)
    return results


def synthetic_recording(bench: Bench, minutes: int, base: list[dict[str, Any]]) -> int:
    """A stored full-page recording of `minutes`: a real snapshot, 20 moves/s, a mutation every 2 s."""
    from core.models import Pageview, Session, utcnow
    from core.recordings import store

    def write() -> int:
        now = utcnow()
        session = Session.create(site=bench.site_id, token=f"bench-{minutes}-{time.time_ns()}", started_at=now,
                                 last_seen_at=now, has_recording=True)
        pageview = Pageview.create(session=session, site=bench.site_id, client_id=f"pv{session.id}x",
                                   url="http://localhost/app", path="/app", started_at=now,
                                   viewport_w=1280, viewport_h=800)
        t0 = int(time.time() * 1000)
        events = [dict(e, timestamp=t0) for e in base]
        rng = random.Random(minutes)
        for i in range(minutes * 60 * 20):
            t = t0 + 50 * (i + 1)
            events.append({"type": 3, "timestamp": t, "data": {"source": 1, "positions": [
                {"x": rng.randint(0, 1200), "y": rng.randint(0, 700), "id": 1, "timeOffset": 0}]}})
            if i % 40 == 0:
                events.append({"type": 3, "timestamp": t, "data": {"source": 0, "texts": [], "attributes": [
                    {"id": 13, "attributes": {"data-tick": str(i)}}], "removes": [], "adds": []}})
        for start in range(0, len(events), 1000):
            store.write_chunk(site_id=bench.site_id, session_id=session.id, pageview_id=pageview.id, mode="dom",
                              events=events[start:start + 1000], time_key="timestamp")
        return session.id

    return bench.db(write)


def player_load(browser: Any, bench: Bench) -> dict[str, Any]:
    from core.models import RecordingChunk
    from core.recordings.store import decode_events

    base = bench.db(lambda: [e for c in RecordingChunk.select().where(RecordingChunk.mode == "dom")
                             .order_by(RecordingChunk.id).limit(1) for e in decode_events(c.data)][:2])
    assert [e["type"] for e in base] == [4, 2], "the storage run left no full snapshot to reuse"
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.goto(bench.server.url + "/login")
    page.fill("input[name=username]", ADMIN[0])
    page.fill("input[name=password]", ADMIN[1])
    page.click("form#login-form button[type=submit]")
    page.wait_for_load_state()
    results = {}
    for minutes in (1, 10):
        session_id = synthetic_recording(bench, minutes, base)
        timings = []
        for _ in range(3):
            started = time.monotonic()
            page.goto(f"{bench.server.url}/sites/{bench.site_id}/recordings/{session_id}")
            page.wait_for_selector("#player[data-state=ready]", timeout=60000)
            ready = time.monotonic() - started
            seek_started = time.monotonic()
            page.evaluate("window.uxwizzPlayer.engine.seek(window.uxwizzPlayer.engine.duration() - 10, false)")
            seek = time.monotonic() - seek_started
            size = page.evaluate("performance.getEntriesByType('resource').filter(r => r.name.endsWith('/data'))"
                                 ".map(r => r.encodedBodySize)[0] || 0")
            timings.append((ready, seek, size))
        timings.sort()
        ready, seek, size = timings[1]
        results[f"{minutes} min"] = {"ready_ms": ready * 1000, "seek_to_end_ms": seek * 1000, "data_bytes": size}
    context.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of each scripted visit")
    args = parser.parse_args()
    build_assets()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        bench = Bench(folder)
        try:
            print(f"# Recordings benchmark, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
                  f"{os.cpu_count()} CPU(s), SQLite\n")
            stored = storage(browser, bench, args.seconds)
            print(f"## Storage per active minute ({args.seconds} s scripted visit)")
            for mode, figures in stored.items():
                print(f"- {mode}: {figures['stored_per_min'] / 1024:.1f} KB/min stored (compressed), "
                      f"{figures['sent_per_min'] / 1024:.1f} KB/min sent; parts {figures['parts']}; "
                      f"recorder {figures['recorder']}")
            full, pointer = stored["full page"]["stored_per_min"], stored["pointer"]["stored_per_min"]
            print(f"- full page / pointer: {full / max(pointer, 1):.1f}×; target full page <= 100 KB/min: "
                  f"{'met' if full <= 100 * 1024 else 'MISSED'}\n")
            cost = recorder_cost(browser, bench)
            print("## Recorder main-thread time on a 5,000-node page (4 s after start, median of 3)")
            baseline = cost["no tracker"]["task_ms"]
            for label, figures in cost.items():
                print(f"- {label}: {figures['task_ms']:.0f} ms task time ({figures['task_ms'] - baseline:+.0f} ms "
                      f"vs no tracker), longest task {figures['longest_task_ms']:.0f} ms, recorder {figures['stats']}")
            print()
            player = player_load(browser, bench)
            print("## Player load (median of 3)")
            for label, figures in player.items():
                print(f"- {label} recording: ready in {figures['ready_ms']:.0f} ms, last frame in "
                      f"{figures['seek_to_end_ms']:.0f} ms, {figures['data_bytes'] / 1024:.0f} KB of player data")
            ratio = player["10 min"]["ready_ms"] / max(player["1 min"]["ready_ms"], 1)
            print(f"- 10 min / 1 min: {ratio:.1f}×")
        finally:
            bench.close()
            browser.close()


if __name__ == "__main__":
    main()
