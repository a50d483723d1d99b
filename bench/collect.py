"""Collection throughput: `/api/collect` of a real `serve` (SQLite) vs a bare waitress endpoint.

Both servers run as subprocesses with the same thread count and get the same body from the same
load generator (asyncio, raw HTTP/1.1 keep-alive sockets, loopback only, bounded in connections
and seconds), so the ratio is fair on a noisy machine. Then it checks that every accepted event
is in the database within 2 s.
Targets (DESIGN.md §6): ratio ≥ 0.8, server peak RSS ≤ 150 MB, accepted == stored within 2 s.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support import free_port  # noqa: E402

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "6"))
WARMUP = 1.0
THREADS = 8
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/120.0.0.0 Safari/537.36")

# waitress closes the connection after every 204 (it may not send Content-Length there), so the
# 204 baseline pays a reconnect per request; the 202 baseline (same answer shape as /api/collect,
# kept alive) is the stricter comparison and is printed too.
BARE = (
    "import sys, waitress\n"
    "status, body = sys.argv[2], sys.argv[3].encode()\n"
    "def app(environ, start_response):\n"
    "    environ['wsgi.input'].read(int(environ.get('CONTENT_LENGTH') or 0))\n"
    "    start_response(status, [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])\n"
    "    return [body]\n"
    f"waitress.serve(app, host='127.0.0.1', port=int(sys.argv[1]), threads={THREADS}, _quiet=True)\n"
)


def body(conn: int, n: int, now: int) -> bytes:
    """A typical tracker batch (~1.3 KB): a page, an event, a tag and a few pointer events."""
    sid = f"bench{conn:03d}x{n // 5:07d}xxxxx"
    pid = f"pg{conn:03d}{n // 5:07d}"
    batch = {
        "v": 1, "site": "example.com", "sid": sid, "bid": f"{sid}-{n:06d}", "sent": now,
        "pages": [{"pid": pid, "url": f"https://example.com/page/{n % 20}", "title": "A page", "referrer": "",
                   "t": now - 4000, "vw": 1280, "vh": 720, "dw": 1280, "dh": 3000, "active_ms": 3000,
                   "visible_ms": 4000, "scroll": 40}],
        "events": [{"pid": pid, "t": now - 1000, "category": "bench", "action": "hit", "label": str(n)}],
        "tags": [{"pid": pid, "t": now - 900, "tag": "bench"}],
        "pointer": [{"pid": pid, "t": now - 3000 + i * 100, "k": "move", "x": 100 + i, "y": 200 + i, "vw": 1280}
                    for i in range(8)]
        + [{"pid": pid, "t": now - 2000, "k": "click", "x": 640, "y": 400, "sel": "main > a.cta", "ox": 0.5,
            "oy": 0.5, "vw": 1280}],
    }
    if n % 5 == 0:
        batch["session"] = {"screen": [1920, 1080], "lang": "en-GB", "tz": "Europe/London",
                            "referrer": "https://www.google.com/", "landing": f"https://example.com/page/{n % 20}"}
    return json.dumps(batch, separators=(",", ":")).encode()


def request(payload: bytes) -> bytes:
    return (b"POST /api/collect HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain;charset=UTF-8\r\n"
            b"User-Agent: " + UA.encode() + b"\r\nContent-Length: " + str(len(payload)).encode()
            + b"\r\n\r\n" + payload)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    dropped = close = False
    for line in lines[1:]:
        name, _sep, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered == b"content-length":
            length = int(value)
        elif lowered == b"x-uxwizz-dropped":
            dropped = True
        elif lowered == b"connection" and value.strip().lower() == b"close":
            close = True
    if length:
        await reader.readexactly(length)
    return status, dropped, close


async def connection(port: int, conn: int, until: float, measure_from: float, stats: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    try:
        while True:
            now = time.monotonic()
            if now >= until:
                break
            wall_ms = int(time.time() * 1000)
            started = time.perf_counter()
            writer.write(request(body(conn, n, wall_ms)))
            status, dropped, close = await read_response(reader)
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                stats["reconnects"] += 1
            elapsed = time.perf_counter() - started
            n += 1
            if now >= measure_from:
                stats["latencies"].append(elapsed)
                stats["done"] += 1
            if status in (202, 204) and not dropped:
                stats["accepted"] += 1
            else:
                stats["other"][status] = stats["other"].get(status, 0) + 1
    finally:
        writer.close()


async def run_load(port: int) -> dict:
    stats: dict = {"latencies": [], "done": 0, "accepted": 0, "other": {}, "reconnects": 0}
    start = time.monotonic()
    measure_from = start + WARMUP
    until = measure_from + SECONDS
    await asyncio.gather(*(connection(port, c, until, measure_from, stats) for c in range(CONNECTIONS)))
    stats["rps"] = stats["done"] / SECONDS
    latencies = sorted(stats["latencies"])
    stats["p50_ms"] = statistics.median(latencies) * 1000
    stats["p99_ms"] = latencies[int(len(latencies) * 0.99) - 1] * 1000
    return stats


def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def bench_bare(status: str, answer: str) -> dict:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE, str(port), status, answer], cwd=ROOT,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_ready(f"http://127.0.0.1:{port}/", proc)
        return asyncio.run(run_load(port))
    finally:
        proc.terminate()
        proc.wait(10)


def install(folder: str) -> tuple[str, str]:
    config = os.path.join(folder, "config.ini")
    db_path = os.path.join(folder, "bench.db")
    subprocess.run([sys.executable, os.path.join(ROOT, "uxwizz.py"), "install", "--config", config,
                    "--db", f"sqlite:///{db_path}", "--admin-user", "admin", "--admin-password", "bench-password-1",
                    "--site", "example.com"], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return config, db_path


def stored_count(db_path: str) -> int:
    conn = sqlite3.connect(db_path, timeout=10)
    try:
        return conn.execute("SELECT COUNT(*) FROM events WHERE category = 'bench'").fetchone()[0]
    finally:
        conn.close()


def bench_uxwizz(folder: str) -> tuple[dict, float, float | None, int]:
    config, db_path = install(folder)
    port = free_port()
    env = {**os.environ, "UXWIZZ_SERVER_THREADS": str(THREADS)}
    log = open(os.path.join(folder, "serve.log"), "wb")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "uxwizz.py"), "serve", "--config", config,
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
        stats = asyncio.run(run_load(port))
        finished = time.monotonic()
        durable_after = None
        stored = 0
        while time.monotonic() - finished < 10:
            stored = stored_count(db_path)
            if stored >= stats["accepted"]:
                durable_after = time.monotonic() - finished
                break
            time.sleep(0.05)
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)
    return stats, rss, durable_after, stored


def main() -> int:
    print(f"load: {CONNECTIONS} keep-alive connections, {SECONDS:.0f} s measured after {WARMUP:.0f} s warm-up, "
          f"{len(body(0, 0, 0))} B batches, {THREADS} server threads, {os.cpu_count()} CPUs", flush=True)
    bare = bench_bare("204 No Content", "")
    bare202 = bench_bare("202 Accepted", '{"ok":true}')
    with tempfile.TemporaryDirectory() as folder:
        ux, rss, durable_after, stored = bench_uxwizz(folder)
    ratio = ux["rps"] / bare["rps"]
    for name, stats in (("bare waitress 204  ", bare), ("bare waitress 202  ", bare202), ("uxwizz /api/collect", ux)):
        print(f"{name} {stats['rps']:8.0f} req/s   p50 {stats['p50_ms']:6.1f} ms   p99 {stats['p99_ms']:6.1f} ms"
              f"   reconnects {stats['reconnects']}   non-2xx: {stats['other'] or 'none'}")
    print(f"ratio vs 204        {ratio:8.2f}   (target >= 0.80: {'ok' if ratio >= 0.8 else 'BELOW TARGET'})")
    print(f"ratio vs 202        {ux['rps'] / bare202['rps']:8.2f}   (same keep-alive answer shape)")
    print(f"server peak RSS     {rss:8.1f} MB (target <= 150: {'ok' if rss <= 150 else 'ABOVE TARGET'})")
    in_time = durable_after is not None and durable_after <= 2.0
    shown = f"{durable_after:.2f} s" if durable_after is not None else "not within 10 s"
    print(f"stored {stored} of {ux['accepted']} accepted events; all stored after {shown} "
          f"(target <= 2 s: {'ok' if in_time else 'FAILED'})")
    return 0 if stored == ux["accepted"] and in_time else 1


if __name__ == "__main__":
    sys.exit(main())
