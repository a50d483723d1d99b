"""The flush worker: the flusher's work (enrichment + inserts) in a process of its own.

Why: flushing costs ~200 µs of Python per batch. As a thread of the server it shares the GIL with
the request threads, and at saturation the two throttle each other (`/api/collect` reached a fifth
of a bare endpoint's rate). `serve` forks this worker once, before any thread exists, so it
inherits the built app — site cache, enrichment steps (plugins' included), GeoIP and user-agent
readers — with no second start-up and, copy-on-write, little extra memory. `ingest.flush_worker_nice`
can lower its CPU priority, so that on a busy machine answering requests comes first during a
burst and the journal absorbs the difference.

Hand-over is the journal itself. The server appends to `.part` segments and seals them (fsync,
rename to `.jsonl`) every flush interval or once they hold SEAL_ENTRIES, and pokes the worker
through a pipe; the worker flushes sealed segments oldest first and deletes each one once
committed. It reports progress back on a second pipe (JSON lines), so `/healthz` and the
dashboard show the same numbers as before.

Failures:
- the worker dies (crash, OOM kill): the server sees the report pipe close and carries on with the
  in-process flusher thread; the half-flushed segment is read again and its batch ids make that a
  no-op;
- the server is killed (-9): the worker gets SIGKILL too (PR_SET_PDEATHSIG, plus a getppid() check);
  the next start replays the journal, as it always did;
- graceful stop: the server seals and sends "stop"; the worker drains and exits; whatever is left
  (database down) stays in the journal, and the server tries once more itself.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import select
import signal
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from .flush import CollectStats, Flusher
from .journal import Segment, count_lines, sealed_segment_paths

if TYPE_CHECKING:
    from .service import IngestService

log = logging.getLogger("uxwizz.flush")
PR_SET_PDEATHSIG = 1
STOP_TIMEOUT_SECONDS = 120.0
SEAL_CHECK_SECONDS = 0.2
SEAL_ENTRIES = 400  # ~0.1 s of flushing: under load the first entries of a segment wait less


# -- the worker's side --------------------------------------------------------------------------


class Reporter:
    """JSON lines to the server; each under PIPE_BUF, so a write is never interleaved."""

    def __init__(self, fd: int):
        self.fd = fd

    def send(self, message: dict[str, Any]) -> None:
        os.write(self.fd, json.dumps(message, separators=(",", ":")).encode() + b"\n")


class SealedSegments:
    """The worker's view of the journal: sealed `.jsonl` files of the server's slot directories."""

    def __init__(self, root: str, directories: list[str], reporter: Reporter):
        self.root = root
        self.directories = directories
        self.reporter = reporter
        self._known: dict[str, Segment] = {}

    def seal(self) -> None:
        """The server seals; the worker only reads what is sealed."""

    @property
    def sealed(self) -> list[Segment]:
        paths = [path for directory in self.directories for path in sealed_segment_paths(directory)]
        self._known = {path: self._known.get(path) or Segment(path, 0) for path in paths}
        return list(self._known.values())

    def progress(self, segment: Segment) -> None:
        self.reporter.send({"progress": segment.path, "done": segment.done})

    def retire(self, segment: Segment) -> None:
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass
        self._known.pop(segment.path, None)
        self.reporter.send({"retired": segment.path})

    def depth(self) -> int:
        """Entries not yet committed (for log lines only: counting lines reads the files)."""
        total = 0
        for segment in self.sealed:
            if not segment.entries:
                try:
                    segment.entries = count_lines(segment.path)
                except OSError:
                    continue
            total += max(0, segment.entries - segment.done)
        return total


def _die_with_parent(parent: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the getppid() check in the loop still applies
        pass
    if os.getppid() != parent:  # the server died before prctl took effect
        os._exit(0)


def run_worker(service: IngestService, control: int, report: int, parent: int) -> int:
    """The worker's main loop (in the forked child). Returns the exit status."""
    _die_with_parent(parent)
    # Ctrl-C and a service manager's SIGTERM reach the whole process group; the server decides when
    # the worker stops (it drains it first), so neither may cut the worker short on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        os.nice(service.ctx.settings["ingest.flush_worker_nice"])
    except OSError:
        pass
    reporter = Reporter(report)
    segments = SealedSegments(service.journal.root, service.journal.directories(), reporter)
    stats = CollectStats()
    flusher = Flusher(service.ctx.database.db, segments, service.sites, service.env, service.steps, service.parts,
                      stats, interval=service.flusher.interval, batch_size=service.flusher.batch_size)
    sent: Counter[str] = Counter()

    def tick() -> None:
        flushed = flusher.tick()
        counts = stats.totals()
        delta = {name: n - sent[name] for name, n in counts.items() if n != sent[name]}
        sent.update(delta)
        reporter.send({"counts": delta, "flushed": flushed, "error": stats.last_error})

    try:
        stopping = False
        next_try = 0.0  # while the database is down: not before this, however often we are poked
        while not stopping:
            now = time.monotonic()
            wait = max(0.0, next_try - now) if next_try > now else flusher.interval
            ready, _w, _x = select.select([control], [], [], wait)
            if ready:
                data = os.read(control, 4096)
                stopping = not data or b"stop" in data  # EOF: the server closed it or is gone
            if os.getppid() != parent:
                return 0
            if not stopping and time.monotonic() < next_try:
                continue
            tick()
            next_try = time.monotonic() + flusher.backoff if flusher.backoff else 0.0
        return 0
    except BrokenPipeError:  # the server closed its end: nothing to report to
        return 0


# -- the server's side --------------------------------------------------------------------------


class FlushWorker:
    """The server's handle on its worker: forks it, seals the journal for it, applies its reports."""

    def __init__(self, service: IngestService, pid: int, control: int, report: int):
        self.service = service
        self.pid = pid
        self.control = control
        self.report = report
        self.alive = True
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._control_lock = threading.Lock()
        self._exit_status: int | None = None

    @classmethod
    def fork(cls, service: IngestService) -> FlushWorker | None:
        """Fork the worker. None when this process already runs threads (fork would be unsafe)."""
        if not hasattr(os, "fork"):  # Windows: no fork; the thread flusher does the same work
            log.info("flush worker not available on this platform; flushing in-process")
            return None
        if threading.active_count() > 1:
            log.info("flush worker not started (the server is already running threads); flushing in-process")
            return None
        service.ctx.database.close()  # neither side may inherit a live connection
        control_read, control_write = os.pipe()
        report_read, report_write = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the worker
            status = 1
            try:
                os.close(control_write)
                os.close(report_read)
                status = run_worker(service, control_read, report_write, parent)
            except BaseException:
                log.exception("the flush worker failed")
            finally:
                os._exit(status)  # never run the server's exit handlers here
        os.close(control_read)
        os.close(report_write)
        os.set_blocking(control_write, False)  # a stuck worker must never block the sealer
        log.info("flush worker started (pid %d)", pid)
        return cls(service, pid, control_write, report_read)

    def start(self) -> None:
        for target, name in ((self._seal_loop, "uxwizz-sealer"), (self._read_reports, "uxwizz-flush-reports")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def poke(self) -> None:
        """Tell the worker a segment was sealed (never blocks: the pipe is non-blocking)."""
        with self._control_lock:
            self._write_control(b"seal\n")

    def _write_control(self, message: bytes) -> None:
        if self.control < 0:
            return
        try:
            os.write(self.control, message)
        except OSError:  # the worker is gone (the report thread handles that), or the pipe is full
            pass

    def _seal_loop(self) -> None:
        """Seal what was journaled every flush interval — sooner once a segment holds SEAL_ENTRIES,
        so under load the worker gets work (and commits it) in smaller, earlier pieces — then tell
        the worker. Also keeps this process's site cache fresh (it has no flusher thread to do it)."""
        service, journal = self.service, self.service.journal
        interval = service.flusher.interval
        check = min(interval, SEAL_CHECK_SECONDS)
        sealed_at = time.monotonic()
        while self.alive and not self.stopping.wait(check):
            now = time.monotonic()
            if journal.current_entries < SEAL_ENTRIES and now - sealed_at < interval:
                continue
            sealed_at = now
            try:
                journal.seal()
            except OSError as exc:
                log.error("cannot seal the collection journal: %s", exc)
            service.sites.refresh_if_stale()
            self.poke()

    def _read_reports(self) -> None:
        """The report thread: apply reports until the worker is gone, then reap it; if that was not
        a stop, hand flushing back to this process."""
        self._apply_reports()
        self._reap(block=self.stopping.is_set())
        sealer = self._threads[0]
        if sealer is not threading.current_thread():
            sealer.join()  # it stops within SEAL_CHECK_SECONDS; no seal may race the flusher thread
        if not self.stopping.is_set():
            log.error("the flush worker (pid %d) exited (%s); flushing in-process from now on",
                      self.pid, self._describe_exit())
            self.service.worker_lost()

    def _apply_reports(self) -> None:
        """Read the worker's JSON lines into this process's stats and journal view until EOF."""
        stats, journal = self.service.stats, self.service.journal
        pending = b""
        while True:
            try:
                data = os.read(self.report, 65536)
            except OSError:
                data = b""
            if not data:
                break
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                if "progress" in message:
                    journal.note_progress(message["progress"], int(message["done"]))
                elif "retired" in message:
                    journal.note_retired(message["retired"])
                elif "counts" in message:
                    for name, n in message["counts"].items():
                        stats.add(name, n)
                    if message.get("flushed"):
                        stats.last_flush_at = time.monotonic()
                    stats.last_error = message.get("error", "")
        os.close(self.report)
        self.alive = False

    def _reap(self, block: bool) -> None:
        if self._exit_status is not None:
            return
        deadline = time.monotonic() + (STOP_TIMEOUT_SECONDS if block else 5.0)
        while time.monotonic() < deadline:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                self._exit_status = -1
                return
            if pid:
                self._exit_status = status
                return
            time.sleep(0.05)

    def _describe_exit(self) -> str:
        status = self._exit_status
        if status is None or status < 0:
            return "status unknown"
        if os.WIFSIGNALED(status):
            return f"killed by signal {os.WTERMSIG(status)}"
        return f"exit status {os.WEXITSTATUS(status)}"

    def stop(self) -> None:
        """Graceful stop: seal, let the worker drain and exit, wait for its last reports."""
        self.stopping.set()
        sealer, reader = self._threads or (None, None)
        if sealer is not None:
            sealer.join()  # no poke may race the close below (a reused descriptor number)
        try:
            self.service.journal.seal()
        except OSError as exc:
            log.error("cannot seal the collection journal: %s", exc)
        with self._control_lock:
            self._write_control(b"stop\n")
            try:
                os.close(self.control)  # EOF says "stop" too, should the pipe have been full
            except OSError:
                pass
            self.control = -1
        if reader is not None:
            reader.join(timeout=STOP_TIMEOUT_SECONDS)
        else:  # stopped before start() (serve could not listen): read its last reports here
            self._apply_reports()
            self._reap(block=True)
        if self.alive:  # did not finish in time (database down and a long backoff)
            log.error("the flush worker did not stop in %.0f s; killing it", STOP_TIMEOUT_SECONDS)
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
