"""Realistic demo data for one site: sessions with their pageviews, events, tags, heatmap points and
pointer recordings, generated in batches and bulk-inserted (`uxwizz.py seed`, benches, screenshots).

The generator is pure (a seeded `random.Random`, no database); `seed_site` writes its batches with
one multi-row `executemany` per table inside one transaction per batch. Ids are assigned here
(after the table's current maximum), so seeding must not run while the collector writes the same
site; it is meant for demo and benchmark databases.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import random
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import peewee

from core.models import Event, HeatmapPoint, Pageview, RecordingChunk, Session, SessionTag, Site
from core.models.analytics import POINT_CLICK, POINT_MOVE, POINT_SCROLL

# (path, title, weight as an entry page, weight as a next page)
SITE_MAP: tuple[tuple[str, str, int, int], ...] = (
    ("/", "Home", 40, 10),
    ("/pricing", "Pricing", 8, 14),
    ("/features", "Features", 6, 12),
    ("/features/heatmaps", "Heatmaps", 3, 6),
    ("/features/recordings", "Session recordings", 3, 6),
    ("/blog", "Blog", 5, 8),
    ("/blog/privacy-first-analytics", "Privacy-first analytics", 10, 4),
    ("/blog/ab-testing-basics", "A/B testing basics", 7, 4),
    ("/docs", "Documentation", 4, 8),
    ("/docs/install", "Install guide", 5, 7),
    ("/signup", "Sign up", 2, 6),
    ("/contact", "Contact us", 2, 4),
    ("/about", "About", 1, 3),
    ("/old-page", "Page not found", 1, 1),
)
COUNTRIES: tuple[tuple[str, int, tuple[str, ...], str], ...] = (
    ("US", 30, ("New York", "San Francisco", "Chicago", "Austin", "Seattle"), "en-US"),
    ("DE", 12, ("Berlin", "Munich", "Hamburg", "Cologne"), "de-DE"),
    ("GB", 10, ("London", "Manchester", "Edinburgh"), "en-GB"),
    ("FR", 7, ("Paris", "Lyon", "Toulouse"), "fr-FR"),
    ("IN", 8, ("Bengaluru", "Mumbai", "Delhi"), "en-IN"),
    ("BR", 5, ("São Paulo", "Rio de Janeiro"), "pt-BR"),
    ("CA", 5, ("Toronto", "Vancouver", "Montréal"), "en-CA"),
    ("JP", 4, ("Tokyo", "Osaka"), "ja-JP"),
    ("NL", 4, ("Amsterdam", "Utrecht"), "nl-NL"),
    ("ES", 4, ("Madrid", "Barcelona"), "es-ES"),
    ("PL", 3, ("Warsaw", "Kraków"), "pl-PL"),
    ("AU", 3, ("Sydney", "Melbourne"), "en-AU"),
    ("RO", 2, ("Bucharest", "Cluj-Napoca"), "ro-RO"),
    ("SE", 2, ("Stockholm",), "sv-SE"),
    ("", 1, ("",), "en"),
)
# (device, weight, browsers, oses, screens)
DEVICES: tuple[tuple[str, int, tuple[tuple[str, str, int], ...], tuple[tuple[str, str, int], ...],
                     tuple[tuple[int, int], ...]], ...] = (
    ("desktop", 58,
     (("Chrome", "131.0", 60), ("Firefox", "133.0", 15), ("Edge", "131.0", 12), ("Safari", "18.1", 13)),
     (("Windows", "10", 55), ("Mac OS X", "14.6", 30), ("Linux", "", 8), ("Chrome OS", "", 7)),
     ((1920, 1080), (1536, 864), (1440, 900), (2560, 1440), (1366, 768), (1280, 800))),
    ("mobile", 36,
     (("Mobile Safari", "18.1", 45), ("Chrome Mobile", "131.0", 45), ("Samsung Internet", "26.0", 10)),
     (("iOS", "18.1", 50), ("Android", "14", 50)),
     ((390, 844), (393, 873), (412, 915), (375, 667), (360, 800))),
    ("tablet", 6,
     (("Mobile Safari", "18.1", 70), ("Chrome", "131.0", 30)),
     (("iOS", "18.1", 70), ("Android", "14", 30)),
     ((820, 1180), (768, 1024), (1024, 1366))),
)
# (referrer URL, weight, utm source/medium/campaign); "" = direct
REFERRERS: tuple[tuple[str, int, tuple[str, str, str]], ...] = (
    ("", 38, ("", "", "")),
    ("https://www.google.com/", 30, ("", "", "")),
    ("https://www.bing.com/search?q=self+hosted+analytics", 4, ("", "", "")),
    ("https://duckduckgo.com/", 4, ("", "", "")),
    ("https://news.ycombinator.com/item?id=41234567", 5, ("", "", "")),
    ("https://www.reddit.com/r/webdev/comments/abc123/", 4, ("", "", "")),
    ("https://t.co/x1y2z3", 3, ("twitter", "social", "launch-week")),
    ("https://www.facebook.com/", 3, ("facebook", "cpc", "winter-sale")),
    ("https://github.com/uxwizz/uxwizz", 3, ("", "", "")),
    ("", 4, ("newsletter", "email", "november-digest")),
    ("https://www.google.com/", 2, ("google", "cpc", "brand-search")),
)
TAGS: tuple[tuple[str, int], ...] = (
    ("newsletter", 6), ("customer", 5), ("trial", 4), ("AB-hero-A", 8), ("AB-hero-B", 8), ("vip", 1),
)
POLL_ANSWERS = ("Very useful", "Somewhat useful", "Not useful")
LANG_FALLBACK = "en-US"


def _weighted(items: tuple[Any, ...], weight_index: int) -> tuple[list[Any], list[int]]:
    return list(items), [item[weight_index] for item in items]


@dataclass
class SeedPlan:
    sessions: int
    days: int = 30
    end: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(tzinfo=None))
    seed: int = 1
    visitors_ratio: float = 0.7  # distinct visitors per session: returning visitors share a hash
    recording_share: float = 0.02  # sessions with a pointer recording
    heatmap_share: float = 0.1  # pageviews with click/move/scroll points (recorded ones always)
    batch_size: int = 2000  # sessions per transaction


@dataclass
class Batch:
    """Rows for each table, as tuples in the order of `COLUMNS[table]`."""

    sessions: list[tuple[Any, ...]] = field(default_factory=list)
    pageviews: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    tags: list[tuple[Any, ...]] = field(default_factory=list)
    points: list[tuple[Any, ...]] = field(default_factory=list)
    chunks: list[tuple[Any, ...]] = field(default_factory=list)


COLUMNS: dict[str, tuple[type[peewee.Model], tuple[str, ...]]] = {
    "sessions": (Session, (
        "id", "site_id", "token", "visitor_hash", "country", "city", "browser", "browser_version", "os",
        "os_version", "device", "screen_w", "screen_h", "language", "timezone", "referrer",
        "referrer_domain", "landing_url", "utm_source", "utm_medium", "utm_campaign", "utm_term",
        "utm_content", "gclid", "fbclid", "region", "started_at", "last_seen_at", "pageview_count",
        "event_count", "click_count", "has_recording")),
    "pageviews": (Pageview, (
        "id", "session_id", "site_id", "client_id", "url", "path", "title", "referrer", "started_at",
        "viewport_w", "viewport_h", "doc_w", "doc_h", "active_ms", "visible_ms", "max_scroll_pct")),
    "events": (Event, (
        "id", "session_id", "pageview_id", "site_id", "occurred_at", "category", "action", "label", "value",
        "value_secondary", "item_id", "data")),
    "tags": (SessionTag, ("id", "session_id", "site_id", "tag", "created_at")),
    "points": (HeatmapPoint, (
        "id", "site_id", "session_id", "pageview_id", "path", "kind", "occurred_at", "x", "y", "selector",
        "offset_x", "offset_y", "viewport_w", "device")),
    "chunks": (RecordingChunk, (
        "id", "session_id", "pageview_id", "site_id", "seq", "mode", "event_count", "first_t", "last_t",
        "size", "data")),
}

SELECTORS = ("main > section:nth-of-type(1) > a.cta", "header nav > a:nth-of-type(2)", "#signup-form button",
             "main h1", "footer a.contact", "main img.hero")


class Generator:
    """Deterministic for a given plan: the same seed gives the same rows (and ids from `first_ids`)."""

    def __init__(self, plan: SeedPlan, site_id: int, domain: str, first_ids: dict[str, int]):
        self.plan = plan
        self.site_id = site_id
        self.domain = domain
        self.rng = random.Random(plan.seed)
        self.next_id = dict(first_ids)
        self.pages = list(SITE_MAP)
        self.entry_weights = [p[2] for p in SITE_MAP]
        self.next_weights = [p[3] for p in SITE_MAP]
        self.countries, self.country_weights = _weighted(COUNTRIES, 1)
        self.devices, self.device_weights = _weighted(DEVICES, 1)
        self.referrers, self.referrer_weights = _weighted(REFERRERS, 1)
        # random.choices with cum_weights skips re-summing the weights on every call
        self.entry_cum = list(itertools.accumulate(self.entry_weights))
        self.next_cum = list(itertools.accumulate(self.next_weights))
        self.page_range = range(len(self.pages))
        self.visitor_pool = max(1, int(plan.sessions * plan.visitors_ratio))
        self.start = plan.end - dt.timedelta(days=plan.days)

    def _id(self, table: str) -> int:
        value = self.next_id[table]
        self.next_id[table] = value + 1
        return value

    def _start_time(self) -> dt.datetime:
        # More visits in the (UTC) afternoon and on weekdays, and a slow upward trend.
        rng = self.rng
        while True:
            offset = rng.random() ** 0.85 * self.plan.days  # skewed towards recent days
            moment = self.plan.end - dt.timedelta(days=offset)
            hour_weight = 0.35 + 0.65 * math.sin(math.pi * ((moment.hour + 18) % 24) / 24) ** 2
            weekend = 0.7 if moment.weekday() >= 5 else 1.0
            if rng.random() < hour_weight * weekend:
                return moment.replace(microsecond=0)

    def _page_count(self) -> int:
        rng = self.rng
        if rng.random() < 0.38:
            return 1  # a bounce
        # Geometric tail: mean ≈ 7.5 pages for non-bounces, ≈ 5 pages per session overall.
        return min(60, 2 + int(rng.expovariate(1 / 5.5)))

    def batches(self) -> Iterator[Batch]:
        done = 0
        while done < self.plan.sessions:
            size = min(self.plan.batch_size, self.plan.sessions - done)
            batch = Batch()
            for _ in range(size):
                self._session(batch)
            done += size
            yield batch

    def _session(self, batch: Batch) -> None:
        rng = self.rng
        sid = self._id("sessions")
        country, _w, cities, language = rng.choices(self.countries, self.country_weights)[0]
        city = rng.choice(cities)
        device, _w, browsers, oses, screens = rng.choices(self.devices, self.device_weights)[0]
        browser, browser_version, _w = rng.choices(browsers, [b[2] for b in browsers])[0]
        os_name, os_version, _w = rng.choices(oses, [o[2] for o in oses])[0]
        screen_w, screen_h = rng.choice(screens)
        if rng.random() < 0.15:
            language = LANG_FALLBACK
        referrer, _w, (utm_source, utm_medium, utm_campaign) = rng.choices(self.referrers, self.referrer_weights)[0]
        referrer_domain = referrer.split("/")[2].removeprefix("www.") if referrer else ""
        visitor = rng.randrange(self.visitor_pool)
        visitor_hash = hashlib.blake2b(f"{self.site_id}:{visitor}".encode(), digest_size=16).hexdigest()
        token = f"{rng.getrandbits(128):032x}"
        started = self._start_time()

        n_pages = self._page_count()
        page_index = rng.choices(self.page_range, cum_weights=self.entry_cum)[0]
        moment = started
        pageviews: list[tuple[int, str, dt.datetime, int]] = []
        landing_url = ""
        query = ""
        if utm_source:
            query = f"?utm_source={utm_source}&utm_medium={utm_medium}&utm_campaign={utm_campaign}"
        viewport_w, viewport_h = screen_w, max(300, screen_h - (120 if device == "desktop" else 80))
        for index in range(n_pages):
            path, title, _e, _n = self.pages[page_index]
            pid = self._id("pageviews")
            url = f"https://{self.domain}{path}" + (query if index == 0 else "")
            if index == 0:
                landing_url = url
            # Time on page: log-normal around 40 s; the last page of a session has no known end.
            active_ms = int(min(1800, rng.lognormvariate(3.4, 1.0)) * 1000)
            visible_ms = active_ms + int(rng.random() * 20000)
            doc_h = rng.choice((1400, 2200, 3600, 5200))
            scroll = min(100, int(viewport_h / doc_h * 100 + rng.random() ** 0.7 * 100))
            page_ref = (referrer if index == 0 else f"https://{self.domain}{pageviews[-1][1]}")
            batch.pageviews.append((
                pid, sid, self.site_id, f"p{pid:x}", url, path, f"{title} · {self.domain}", page_ref,
                _s(moment), viewport_w, viewport_h, viewport_w, doc_h, active_ms, visible_ms, scroll,
            ))
            pageviews.append((pid, path, moment, active_ms))
            if index < n_pages - 1:
                moment = moment + dt.timedelta(milliseconds=active_ms + int(rng.random() * 5000))
            page_index = rng.choices(self.page_range, cum_weights=self.next_cum)[0]
        last_seen = moment + dt.timedelta(milliseconds=pageviews[-1][3] if n_pages > 1 else 0)

        event_count = self._events(batch, sid, pageviews)
        self._tags(batch, sid, started)
        clicks, recorded = self._points(batch, sid, pageviews, device, viewport_w)
        batch.sessions.append((
            sid, self.site_id, token, visitor_hash, country, city, browser, browser_version, os_name,
            os_version, device, screen_w, screen_h, language, "", referrer, referrer_domain, landing_url,
            utm_source, utm_medium, utm_campaign, "", "", "", "", "", _s(started), _s(last_seen),
            n_pages, event_count, clicks, int(recorded),
        ))

    def _events(self, batch: Batch, sid: int, pageviews: list[tuple[int, str, dt.datetime, int]]) -> int:
        rng = self.rng
        count = 0
        for pid, path, moment, active_ms in pageviews:
            at = _s(moment + dt.timedelta(milliseconds=int(active_ms * rng.random())))
            if path == "/old-page":
                batch.events.append((self._id("events"), sid, pid, self.site_id, at, "error", "404", path,
                                     None, None, "", None))
                count += 1
            roll = rng.random()
            if path.startswith("/features/") and roll < 0.35:
                length = rng.choice((95.0, 180.0, 240.0))
                watched = round(length * rng.random(), 1)
                batch.events.append((self._id("events"), sid, pid, self.site_id, at, "video", "play",
                                     f"{path[10:]}-demo", watched, length, "", None))
                count += 1
                if watched > length * 0.9:
                    batch.events.append((self._id("events"), sid, pid, self.site_id, at, "video", "complete",
                                         f"{path[10:]}-demo", length, None, "", None))
                    count += 1
            elif path in ("/signup", "/contact") and roll < 0.6:
                batch.events.append((self._id("events"), sid, pid, self.site_id, at, "form", "start", path[1:],
                                     None, None, "", None))
                count += 1
                if rng.random() < 0.5:
                    batch.events.append((self._id("events"), sid, pid, self.site_id, at, "form", "submit",
                                         path[1:], None, None, "", json.dumps({"plan": rng.choice(("free", "pro"))})))
                    count += 1
            elif path.startswith("/blog/") and roll < 0.08:
                answer = rng.choices(POLL_ANSWERS, (5, 3, 1))[0]
                batch.events.append((self._id("events"), sid, pid, self.site_id, at, "poll", "answer", answer,
                                     float(POLL_ANSWERS.index(answer) + 1), None, "article-usefulness", None))
                count += 1
            elif path == "/pricing" and roll < 0.2:
                batch.events.append((self._id("events"), sid, pid, self.site_id, at, "pricing", "toggle",
                                     "yearly", None, None, "", None))
                count += 1
        return count

    def _tags(self, batch: Batch, sid: int, started: dt.datetime) -> None:
        rng = self.rng
        if rng.random() > 0.3:
            return
        picked: set[str] = set()
        for _ in range(1 + int(rng.random() < 0.3)):
            picked.add(rng.choices([t[0] for t in TAGS], [t[1] for t in TAGS])[0])
        if {"AB-hero-A", "AB-hero-B"} <= picked:
            picked.discard("AB-hero-B")
        for tag in sorted(picked):
            batch.tags.append((self._id("tags"), sid, self.site_id, tag, _s(started)))

    def _points(self, batch: Batch, sid: int, pageviews: list[tuple[int, str, dt.datetime, int]],
                device: str, viewport_w: int) -> tuple[int, bool]:
        rng = self.rng
        clicks = 0
        record = rng.random() < self.plan.recording_share
        points = batch.points
        site_id = self.site_id
        for pid, path, moment, active_ms in pageviews:
            if not record and rng.random() >= self.plan.heatmap_share:
                continue
            rows: list[tuple[Any, ...]] = []
            for _ in range(rng.randint(1, 3)):
                t = moment + dt.timedelta(milliseconds=int(active_ms * rng.random()))
                x = max(0, min(viewport_w, int(rng.gauss(viewport_w / 2, viewport_w / 5))))
                y = int(abs(rng.gauss(500, 400)))
                rows.append((self._id("points"), site_id, sid, pid, path, POINT_CLICK, t, x, y, rng.choice(SELECTORS),
                             round(rng.random(), 3), round(rng.random(), 3), viewport_w, device))
                clicks += 1
            for _ in range(rng.randint(1, 3)):
                t = moment + dt.timedelta(milliseconds=int(active_ms * rng.random()))
                rows.append((self._id("points"), site_id, sid, pid, path, POINT_MOVE, t, rng.randrange(max(1, viewport_w)),
                             int(abs(rng.gauss(600, 500))), "", None, None, viewport_w, device))
            rows.append((self._id("points"), site_id, sid, pid, path, POINT_SCROLL,
                         moment + dt.timedelta(milliseconds=active_ms), 0, int(rng.random() * 3000), "", None, None,
                         viewport_w, device))
            if record:
                self._chunk(batch, sid, pid, rows)
            points.extend(row[:6] + (_s(row[6]),) + row[7:] for row in rows)
        return clicks, record

    def _chunk(self, batch: Batch, sid: int, pid: int, rows: list[tuple[Any, ...]]) -> None:
        """The pointer entries of one recorded pageview, as the tracker sends them (ARCHITECTURE.md)."""
        kinds = {POINT_CLICK: "click", POINT_MOVE: "move", POINT_SCROLL: "scroll"}
        entries: list[dict[str, Any]] = []
        for row in sorted(rows, key=lambda r: r[6]):
            kind, t, x, y, sel, ox, oy, vw = row[5], _ms(row[6]), row[7], row[8], row[9], row[10], row[11], row[12]
            entry: dict[str, Any] = {"pid": f"p{pid:x}", "t": t, "k": kinds[kind]}
            if kind == POINT_CLICK:
                entry.update(x=x, y=y, sel=sel, ox=ox, oy=oy)
            elif kind == POINT_MOVE:
                entry.update(x=x, y=y)
            else:
                entry.update(y=y)
            entry["vw"] = vw
            entries.append(entry)
        blob = zlib.compress(json.dumps(entries, separators=(",", ":")).encode())
        batch.chunks.append((self._id("chunks"), sid, pid, self.site_id, 0, "pointer", len(entries),
                             entries[0]["t"], entries[-1]["t"], len(blob), blob))


def _ms(moment: dt.datetime) -> int:
    return int(moment.replace(tzinfo=dt.UTC).timestamp() * 1000)


Progress = Callable[[int, int, str], None]


@dataclass
class SeedResult:
    sessions: int = 0
    pageviews: int = 0
    events: int = 0
    tags: int = 0
    points: int = 0
    chunks: int = 0


def _first_ids(db: peewee.Database) -> dict[str, int]:
    out = {}
    for table, (model, _cols) in COLUMNS.items():
        top = model.select(peewee.fn.MAX(model.id)).scalar()
        out[table] = (top or 0) + 1
    return out


def _insert(db: peewee.Database, table: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    model, columns = COLUMNS[table]
    marks = ", ".join([db.param] * len(columns))
    sql = f"INSERT INTO {model._meta.table_name} ({', '.join(columns)}) VALUES ({marks})"
    cursor = db.cursor()
    cursor.executemany(sql, rows)


def _s(moment: dt.datetime) -> str:
    """Whole seconds as both engines store a DateTimeField (MySQL DATETIME would round otherwise)."""
    return moment.isoformat(" ", "seconds")


def seed_site(db: peewee.Database, site: Site, plan: SeedPlan, progress: Progress | None = None) -> SeedResult:
    """Generate and insert `plan.sessions` sessions (with everything under them) for `site`."""
    generator = Generator(plan, site.id, site.domain, _first_ids(db))
    result = SeedResult()
    sqlite = isinstance(db, peewee.SqliteDatabase)
    # peewee keeps one connection per thread, so the session settings below hold for every batch.
    if sqlite:
        # Demo data can be regenerated: skip fsyncs (a crash loses only the seed, never other data
        # already committed, in WAL mode). Rows arrive in random time order, so the (site, started_at)
        # and token indexes are written all over the file: with a 512 MB page cache 1 M sessions took
        # 331 s (an earlier run with the default 16 MB took 1,189 s, on a busier machine).
        cache = db.execute_sql("PRAGMA cache_size").fetchone()[0]
        db.execute_sql("PRAGMA synchronous=OFF")
        db.execute_sql("PRAGMA cache_size=-524288")
    else:
        # Ids and parents are consistent by construction: skip InnoDB's per-row foreign-key and
        # unique look-ups (this connection only).
        db.execute_sql("SET foreign_key_checks=0, unique_checks=0")
    try:
        _seed_batches(db, generator, plan, result, progress)
    finally:
        if sqlite:
            db.execute_sql("PRAGMA synchronous=NORMAL")
            db.execute_sql(f"PRAGMA cache_size={int(cache)}")
        else:
            db.execute_sql("SET foreign_key_checks=1, unique_checks=1")
    return result


def _seed_batches(db: peewee.Database, generator: Generator, plan: SeedPlan, result: SeedResult,
                  progress: Progress | None) -> None:
    for batch in generator.batches():
        with db.atomic():
            for table in ("sessions", "pageviews", "events", "tags", "points", "chunks"):
                _insert(db, table, getattr(batch, table))
        result.sessions += len(batch.sessions)
        result.pageviews += len(batch.pageviews)
        result.events += len(batch.events)
        result.tags += len(batch.tags)
        result.points += len(batch.points)
        result.chunks += len(batch.chunks)
        if progress:
            progress(result.sessions, plan.sessions, f"{result.pageviews} pageviews")
