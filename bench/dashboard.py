"""Dashboard queries over 1 M sessions / ~5 M pageviews on SQLite or MariaDB: seed, roll up, measure p50/p95.

1. Seeds one site with `uxwizz.py seed`'s generator (30 days, ~4.7 pageviews per session), timed,
   and rebuilds the daily rollups (`rollups` job, `--rebuild`), timed. The seeded database is cached
   per engine and size: bench/.cache/dashboard/dashboard-N.db on SQLite, the `--db` database (created
   when missing) on MariaDB; pass --reseed to start again.
2. Measures p50/p95 (default 15 runs each, after one warm-up) of what the dashboard asks for on the
   default range (last 14 days): the overview numbers with the previous period, the daily series,
   the main breakdowns, the first page of the sessions list (default sort and by duration), visitors
   online, the events and tags reports, and segment-filtered overview and sessions list (always raw).
   Baseline in the same run: the overview, series, breakdowns and reports on the raw tables (a no-op
   segment filter forces the raw path), so the rollups' gain shows as a ratio. Target (DESIGN.md §6):
   p95 <= 300 ms for the overview, the sessions list, the breakdowns and the reports.

Run: .venv/bin/python bench/dashboard.py [--sessions 1000000] [--runs 15] [--reseed] [--seed-only]
     [--db mysql://root@127.0.0.1:3306/uxwizz_bench] [--only "by duration"]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from core import migrations  # noqa: E402
from core.cli.progress import ProgressBar  # noqa: E402
from core.db import open_database  # noqa: E402
from core.dialect import parse_url  # noqa: E402
from core.models import Pageview, Session, Site  # noqa: E402
from core.queries import reports, rollups, sessions, stats  # noqa: E402
from core.queries.query import parse_site_query  # noqa: E402
from core.seed import SeedPlan, seed_site  # noqa: E402

CACHE = os.path.join(ROOT, "bench", ".cache", "dashboard")
TARGET_MS = 300.0


def sqlite_url(count: int) -> str:
    return f"sqlite:///{os.path.join(CACHE, f'dashboard-{count}.db')}"


def prepare(url: str, reseed: bool) -> None:
    """Start from an empty database on --reseed; create the MariaDB database when it is missing."""
    parsed = parse_url(url)
    if parsed.engine == "sqlite":
        os.makedirs(os.path.dirname(parsed.path), exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            if reseed and os.path.exists(parsed.path + suffix):
                os.remove(parsed.path + suffix)
        return
    import pymysql

    conn = pymysql.connect(host=parsed.host, port=parsed.port, user=parsed.user, password=parsed.password)
    try:
        with conn.cursor() as cur:
            if reseed:
                cur.execute(f"DROP DATABASE IF EXISTS `{parsed.database}`")
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{parsed.database}` CHARACTER SET utf8mb4")
    finally:
        conn.close()


def seeded_database(url: str, count: int, reseed: bool) -> tuple[Any, Site]:
    prepare(url, reseed)
    database = open_database(url)
    started = time.perf_counter()
    applied = migrations.migrate_up(database.db)
    if applied:
        print(f"applied {', '.join(applied)} in {time.perf_counter() - started:.0f} s")
    site = Site.get_or_none(Site.domain == "bench.example")
    if site is None or not Session.select().where(Session.site == site.id).exists():
        site = site or Site.create(domain="bench.example", name="Bench", settings={})
        plan = SeedPlan(sessions=count, days=30, batch_size=5000,
                        end=dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0))
        started = time.perf_counter()
        result = seed_site(database.db, site, plan, progress=ProgressBar("seed").update)
        seconds = time.perf_counter() - started
        rows = (result.sessions + result.pageviews + result.events + result.tags + result.points + result.chunks)
        print(f"\nseeded {result.sessions:,} sessions, {result.pageviews:,} pageviews, {result.events:,} events, "
              f"{result.tags:,} tags, {result.points:,} heatmap points, {result.chunks:,} recording chunks "
              f"in {seconds:.0f} s ({result.sessions / seconds:,.0f} sessions/s, {rows / seconds:,.0f} rows/s)")
        started = time.perf_counter()
        days = rollups.rebuild_site(database.db, site.id, progress=ProgressBar("rollups").update)
        print(f"\nrolled up {days} days in {time.perf_counter() - started:.0f} s")
    else:
        # Keep "today" rolled: the cache may be days old, so roll the recent days as the job would.
        started = time.perf_counter()
        days = rollups.rebuild_site(database.db, site.id, rebuild=False)
        print(f"cached database {parse_url(url).redacted()}; rolled {days} recent/missing day(s) in {time.perf_counter() - started:.1f} s")
    return database, site


def measure(runs: int, fn: Callable[[], Any]) -> tuple[float, float]:
    fn()  # warm-up: page cache, statement cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
    return statistics.median(times), p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--seed-only", action="store_true", help="seed and roll up, then stop")
    parser.add_argument("--db", default="", help="database URL (default: the cached SQLite file for --sessions)")
    parser.add_argument("--only", default="", help="measure only the queries whose name contains this text")
    args = parser.parse_args()

    url = args.db or sqlite_url(args.sessions)
    database, site = seeded_database(url, args.sessions, args.reseed)
    if args.seed_only:
        database.close()
        return 0
    total = Session.select().where(Session.site == site.id).count()
    views = Pageview.select().where(Pageview.site == site.id).count()
    q = parse_site_query(site.id, site.timezone, {})  # the default: last 14 days
    raw = parse_site_query(site.id, site.timezone, {"min_pages": "0"})  # same rows, raw path
    segment = parse_site_query(site.id, site.timezone, {"country": "DE", "device": "desktop"})
    in_range = stats.totals(database, q)["sessions"]
    print(f"engine {database.dialect.engine}; load average {' '.join(f'{n:.2f}' for n in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")
    print(f"\n{total:,} sessions, {views:,} pageviews in the database; {in_range:,} sessions in the default "
          f"range {q.start}..{q.end}; {args.runs} runs each\n")

    cases: list[tuple[str, Callable[[], Any], Callable[[], Any] | None, bool]] = [
        ("overview (numbers + previous period)", lambda: stats.overview(database, q),
         lambda: stats.overview(database, raw), True),
        ("daily series", lambda: stats.timeseries(database, q, "day"),
         lambda: stats.timeseries(database, raw, "day"), True),
        ("weekly series", lambda: stats.timeseries(database, q, "week"), None, False),
        ("sessions list, newest first", lambda: sessions.list_sessions(database, q, limit=50), None, True),
        ("sessions list, by duration", lambda: sessions.list_sessions(database, q, sort="duration", limit=50),
         None, True),
        ("sessions list, page 100", lambda: sessions.list_sessions(database, q, limit=50, offset=4950), None, False),
        ("visitors online", lambda: stats.online_now(database, site.id), None, False),
    ]
    for dimension in ("page", "entry", "exit", "referrer_domain", "country", "browser", "device", "utm_campaign"):
        cases.append((f"breakdown: {dimension}", (lambda d=dimension: stats.breakdown(database, q, d)),
                      (lambda d=dimension: stats.breakdown(database, raw, d)), True))
    other = parse_site_query(site.id, site.timezone, {"browser": "Firefox"})  # no index leads with browser
    cases += [
        ("overview, segment country+device (raw)", lambda: stats.overview(database, segment), None, True),
        ("sessions list, segment", lambda: sessions.list_sessions(database, segment, limit=50), None, True),
        ("sessions list, segment, by duration",
         lambda: sessions.list_sessions(database, segment, sort="duration", limit=50), None, True),
        ("overview, segment browser (raw)", lambda: stats.overview(database, other), None, False),
        ("events report", lambda: reports.events_report(database, q, "day"),
         lambda: reports.events_report(database, raw, "day"), True),
        ("events report, one category by label",
         lambda: reports.events_report(database, q, "day", "label", category="video"), None, True),
        ("tags report", lambda: reports.tags_report(database, q, "day"),
         lambda: reports.tags_report(database, raw, "day"), True),
    ]
    print(f"{'query':<42} {'p50 ms':>9} {'p95 ms':>9} {'raw p50':>9} {'raw p95':>9} {'speed-up':>9}  target")
    failed = []
    for name, fn, baseline, targeted in [case for case in cases if args.only in case[0]]:
        p50, p95 = measure(args.runs, fn)
        if baseline is not None:
            b50, b95 = measure(3, baseline)  # raw reads take seconds at 1 M sessions: 3 runs
            extra = f"{b50:9.1f} {b95:9.1f} {b95 / p95:8.1f}x"
        else:
            extra = f"{'':>9} {'':>9} {'':>9}"
        mark = ""
        if targeted:
            mark = "ok" if p95 <= TARGET_MS else "OVER"
            if p95 > TARGET_MS:
                failed.append(name)
        print(f"{name:<42} {p50:9.1f} {p95:9.1f} {extra}  {mark}")
    database.close()
    print(f"\nload average after: {' '.join(f'{n:.2f}' for n in os.getloadavg())}")
    print(f"targeted queries over {TARGET_MS:.0f} ms p95: {', '.join(failed) if failed else 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
