"""Collection throughput: `/api/collect` of a real `serve` (SQLite) vs a bare waitress endpoint.

All servers run as subprocesses with the same thread count and get the same body from the same
load generator (asyncio, raw HTTP/1.1 keep-alive sockets, loopback only, bounded in connections
and seconds), in interleaved rounds so that other load on a shared machine hits each alike. After
each saturating uxwizz round it times how long the database takes to hold every accepted event.
Then two paced rounds (50% and 80% of the bare 204 rate) measure, event by event, how long an
accepted event waits before it is in the database, below saturation.
Targets (DESIGN.md §6): ratio ≥ 0.8, memory ≤ 150 MB (PSS of the server and its flush worker),
every accepted event in the database within 2 s, accepted == stored.
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
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.procmem import memory_kb, process_tree  # noqa: E402
from tests.support import free_port  # noqa: E402

CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PACED_SHARES = (0.5, 0.8)  # paced rounds at these shares of the bare 204 rate, for freshness
WARMUP = 0.5
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


def body(conn: int, n: int, now: int, run: int = 0) -> bytes:
    """A typical tracker batch (~1.3 KB): a page, an event, a tag and a few pointer events."""
    sid = f"bench{run:02d}{conn:03d}x{n // 5:07d}xxxxx"
    pid = f"pg{run:02d}{conn:03d}{n // 5:07d}"
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


async def connection(port: int, conn: int, until: float, measure_from: float, stats: dict, run: int,
                     interval: float = 0.0) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    next_at = time.monotonic() + interval * conn / CONNECTIONS  # paced connections start staggered
    try:
        while True:
            if interval:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                next_at += interval
            now = time.monotonic()
            if now >= until:
                break
            wall_ms = int(time.time() * 1000)
            started = time.perf_counter()
            writer.write(request(body(conn, n, wall_ms, run)))
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
                stats["accepted_at"].append(time.monotonic())
            else:
                stats["other"][status] = stats["other"].get(status, 0) + 1
    finally:
        writer.close()


async def run_load(port: int, run: int = 0, rate: float = 0.0, seconds: float = SECONDS) -> dict:
    """Saturating load, or paced at `rate` requests/s in all (spread over the connections)."""
    stats: dict = {"latencies": [], "done": 0, "accepted": 0, "other": {}, "reconnects": 0, "accepted_at": []}
    start = time.monotonic()
    measure_from = start + WARMUP
    until = measure_from + seconds
    interval = CONNECTIONS / rate if rate else 0.0
    await asyncio.gather(*(connection(port, c, until, measure_from, stats, run, interval)
                           for c in range(CONNECTIONS)))
    stats["rps"] = stats["done"] / seconds
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


class MemorySampler:
    """Peak memory of the server's process tree while it is under load, sampled every 100 ms.

    RSS counts pages the forked flush worker shares with the server (copy-on-write) twice; PSS
    splits each shared page between the processes sharing it, so the PSS sum is what the machine
    really spends. Both are printed; the per-process high-water marks (VmHWM) too."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak_rss_sum = self.peak_pss_sum = 0.0
        self.hwm: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.sample()

    def sample(self) -> None:
        pids = process_tree(self.pid)
        self.peak_rss_sum = max(self.peak_rss_sum, sum(memory_kb(p, "VmRSS", "status") for p in pids) / 1024)
        self.peak_pss_sum = max(self.peak_pss_sum, sum(memory_kb(p, "Pss", "smaps_rollup") for p in pids) / 1024)
        for p in pids:
            self.hwm[p] = max(self.hwm.get(p, 0.0), memory_kb(p, "VmHWM", "status") / 1024)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def start_bare(status: str, answer: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BARE, str(port), status, answer], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/", proc)
    return proc, port


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


def start_uxwizz(folder: str) -> tuple[subprocess.Popen, int, str]:
    config, db_path = install(folder)
    port = free_port()
    env = {**os.environ, "UXWIZZ_SERVER_THREADS": str(THREADS)}
    log = open(os.path.join(folder, "serve.log"), "wb")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "uxwizz.py"), "serve", "--config", config,
                             "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc)
    return proc, port, db_path


def wait_stored(db_path: str, expected: int, limit: float = 15.0) -> tuple[float | None, int]:
    """Seconds until `expected` bench events are in the database (None: not within `limit`)."""
    finished = time.monotonic()
    stored = 0
    while time.monotonic() - finished < limit:
        stored = stored_count(db_path)
        if stored >= expected:
            return time.monotonic() - finished, stored
        time.sleep(0.05)
    return None, stored


class StoredSampler:
    """(time, bench events in the database) every 50 ms, to see how long accepted events wait."""

    def __init__(self, db_path: str):
        self.db_path = db_path
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), stored_count(self.db_path)))
            self._stop.wait(0.05)

    def __enter__(self) -> StoredSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def waits(self, accepted_at: list[float], already: int) -> list[float]:
        """For the i-th accepted event, seconds until the (already+i+1)-th row existed (FIFO view)."""
        accepted_at = sorted(accepted_at)
        waits, k = [], 0
        for i, t in enumerate(accepted_at):
            while k < len(self.samples) and self.samples[k][1] < already + i + 1:
                k += 1
            if k == len(self.samples):
                break
            waits.append(max(0.0, self.samples[k][0] - t))
        return waits


def paced_round(port: int, db_path: str, rate: float, run: int) -> tuple[dict, list[float]]:
    already = stored_count(db_path)
    with StoredSampler(db_path) as sampler:
        result = asyncio.run(run_load(port, run, rate=rate, seconds=2 * SECONDS))
        wait_stored(db_path, already + result["accepted"])
    return result, sampler.waits(result["accepted_at"], already)


def combine(rounds: list[dict]) -> dict:
    latencies = sorted(x for r in rounds for x in r["latencies"])
    return {
        "rps": sum(r["done"] for r in rounds) / (SECONDS * len(rounds)),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "reconnects": sum(r["reconnects"] for r in rounds),
        "accepted": sum(r["accepted"] for r in rounds),
        "other": {k: v for r in rounds for k, v in r["other"].items()},
        "per_round": [round(r["rps"]) for r in rounds],
    }


def main() -> int:
    print(f"load: {CONNECTIONS} keep-alive connections, {ROUNDS} interleaved rounds of {SECONDS:.0f} s per target "
          f"(after {WARMUP:.1f} s warm-up), {len(body(0, 0, 0))} B batches, {THREADS} server threads, "
          f"{os.cpu_count()} CPUs", flush=True)
    results: dict[str, list[dict]] = {"bare204": [], "bare202": [], "uxwizz": []}
    durable: list[float | None] = []
    peaks: list[MemorySampler] = []
    paced: list[tuple[float, dict, list[float]]] = []
    with tempfile.TemporaryDirectory() as folder:
        bare204, port204 = start_bare("204 No Content", "")
        bare202, port202 = start_bare("202 Accepted", '{"ok":true}')
        ux, port_ux, db_path = start_uxwizz(folder)
        stored = 0
        memory = MemorySampler(ux.pid)
        try:
            # Interleaved so that other load on the machine hits every target alike.
            for number in range(ROUNDS):
                results["bare204"].append(asyncio.run(run_load(port204)))
                results["bare202"].append(asyncio.run(run_load(port202)))
                with memory:
                    results["uxwizz"].append(asyncio.run(run_load(port_ux, number)))
                    expected = sum(r["accepted"] for r in results["uxwizz"])
                    after, stored = wait_stored(db_path, expected)
                memory = MemorySampler(ux.pid) if number + 1 < ROUNDS else memory
                durable.append(after)
                peaks.append(memory)
            # Below saturation: how long does an accepted event wait for the database?
            bare_rps = sum(r["rps"] for r in results["bare204"]) / ROUNDS
            for share in PACED_SHARES:
                paced.append((share, *paced_round(port_ux, db_path, share * bare_rps, ROUNDS + len(paced))))
            stored = stored_count(db_path)
        finally:
            for proc in (bare204, bare202, ux):
                proc.terminate()
                proc.wait(30)
    bare, bare2, mine = combine(results["bare204"]), combine(results["bare202"]), combine(results["uxwizz"])
    ratio = mine["rps"] / bare["rps"]
    for name, stats in (("bare waitress 204  ", bare), ("bare waitress 202  ", bare2), ("uxwizz /api/collect", mine)):
        print(f"{name} {stats['rps']:8.0f} req/s  rounds {stats['per_round']}  p50 {stats['p50_ms']:6.1f} ms  "
              f"p99 {stats['p99_ms']:6.1f} ms  reconnects {stats['reconnects']}  non-2xx: {stats['other'] or 'none'}")
    print(f"ratio vs 204        {ratio:8.2f}   (target >= 0.80: {'ok' if ratio >= 0.8 else 'BELOW TARGET'})")
    print(f"ratio vs 202        {mine['rps'] / bare2['rps']:8.2f}   (same keep-alive answer shape)")
    pss = max(m.peak_pss_sum for m in peaks)
    rss_sum = max(m.peak_rss_sum for m in peaks)
    hwm: dict[int, float] = {}
    for m in peaks:
        for pid, mb in m.hwm.items():
            hwm[pid] = max(hwm.get(pid, 0.0), mb)
    shown_hwm = ", ".join(f"{'server' if pid == ux.pid else 'flush worker'} {mb:.1f} MB" for pid, mb in hwm.items())
    print(f"peak memory         PSS sum {pss:.1f} MB (target <= 150: {'ok' if pss <= 150 else 'ABOVE TARGET'}); "
          f"RSS sum {rss_sum:.1f} MB (counts shared copy-on-write pages twice); per-process peak RSS: {shown_hwm}")
    in_time = all(d is not None and d <= 2.0 for d in durable)
    shown = ", ".join(f"{d:.2f} s" if d is not None else "not within 15 s" for d in durable)
    print(f"saturating rounds: all stored after each round within: {shown} "
          f"(target <= 2 s: {'ok' if in_time else 'FAILED'})")
    for share, result, waits in paced:
        waits.sort()
        worst = waits[-1] if waits else float("nan")
        p99 = waits[int(len(waits) * 0.99) - 1] if waits else float("nan")
        print(f"paced at {share:.0%} of bare 204: {result['rps']:6.0f} req/s, p99 {result['p99_ms']:5.1f} ms; accepted → "
              f"in the database: p50 {statistics.median(waits) if waits else float('nan'):.2f} s, p99 {p99:.2f} s, "
              f"max {worst:.2f} s (target <= 2 s: {'ok' if worst <= 2.0 else 'FAILED'})")
    accepted = mine["accepted"] + sum(result["accepted"] for _s, result, _w in paced)
    print(f"in all: stored {stored} of {accepted} accepted events")
    return 0 if stored == accepted else 1


if __name__ == "__main__":
    sys.exit(main())
