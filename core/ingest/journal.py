"""The collection journal: accepted payloads appended to a file before the 202 goes out.

Layout: `<data_dir>/journal/slot-N/NNNNNNNNNNNN.jsonl`, one JSON entry per line. A process claims a
slot with an exclusive file lock (`slot-N.lock`), so several processes sharing a data dir never
write the same files, and a restarted process (or a neighbour) finds a dead one's segments.

The segment being written is named `NNNNNNNNNNNN.part`; sealing renames it to `.jsonl` (atomic), so
any reader — the flusher thread, or the flush worker process (core/ingest/worker.py) — can tell a
finished segment by its name alone. A `.part` left by a dead process is sealed when found.

Durability: each entry is one `os.write` to an O_APPEND descriptor, which survives `kill -9` of the
process (the kernel has the bytes once write returns). `fsync` happens when a segment is sealed on
the flush timer, not per request. Segments are deleted only after every entry in them is
committed; a torn last line (power loss mid-write) is skipped when read.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson

from core.filelock import try_lock

log = logging.getLogger("uxwizz.journal")
SEGMENT_SUFFIX = ".jsonl"
OPEN_SUFFIX = ".part"


def encode(entry: dict[str, Any]) -> bytes:
    """One line of JSON (orjson escapes newlines inside strings)."""
    return orjson.dumps(entry) + b"\n"


@dataclass
class Segment:
    path: str
    entries: int  # lines counted when sealed or found (an upper bound if the tail is torn)
    offset: int = 0  # bytes already committed (resume point after a failed flush)
    done: int = 0  # entries already committed
    sealed_at: float = 0.0  # time.monotonic() when sealed (0: found at start-up)


def _segment_number(name: str) -> int | None:
    if not name.endswith(SEGMENT_SUFFIX):
        return None
    stem = name[: -len(SEGMENT_SUFFIX)]
    return int(stem) if stem.isdigit() else None


def seal_leftovers(directory: str) -> None:
    """A dead process's open segment: its bytes are whole lines or a torn tail; seal it by name."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        stem = name[: -len(OPEN_SUFFIX)]
        if name.endswith(OPEN_SUFFIX) and stem.isdigit():
            os.replace(os.path.join(directory, name), os.path.join(directory, stem + SEGMENT_SUFFIX))


def sealed_segment_paths(directory: str) -> list[str]:
    """The finished segments of one slot directory, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    numbered = sorted((n, name) for name in names if (n := _segment_number(name)) is not None)
    return [os.path.join(directory, name) for _n, name in numbered]


def read_entries(path: str, offset: int = 0) -> Iterator[tuple[dict[str, Any], int]]:
    """Yield (entry, end offset) from a segment; lines that are not whole JSON objects are skipped."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        position = offset
        for line in handle:
            position += len(line)
            if not line.endswith(b"\n"):
                log.warning("journal %s: torn last line (%d bytes) skipped", path, len(line))
                break
            try:
                entry = orjson.loads(line)
            except ValueError:
                log.warning("journal %s: unreadable line at byte %d skipped", path, position - len(line))
                continue
            if isinstance(entry, dict):
                yield entry, position


def count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


class Journal:
    """Append-only segments in one claimed slot directory, plus orphaned slots adopted from others."""

    def __init__(self, root: str, max_slots: int = 64):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self._lock = threading.Lock()
        self._slot_lock: Any = None
        self.slot_dir = self._claim_slot(max_slots)
        self._fd: int | None = None
        self._current: str | None = None
        self._current_entries = 0
        self.sealed: list[Segment] = []
        self._adopted_locks: list[Any] = []
        self.adopted_dirs: list[str] = []
        self._next_number = self._scan_existing()
        self._adopt_orphans(max_slots)

    # -- slots ------------------------------------------------------------------------------------

    def _claim_slot(self, max_slots: int) -> str:
        for n in range(max_slots):
            handle = try_lock(os.path.join(self.root, f"slot-{n}.lock"))
            if handle is not None:
                self._slot_lock = handle
                path = os.path.join(self.root, f"slot-{n}")
                os.makedirs(path, exist_ok=True)
                return path
        raise RuntimeError(f"all {max_slots} journal slots in {self.root} are locked by other processes")

    def _segments_in(self, directory: str) -> list[str]:
        return sealed_segment_paths(directory)

    def _scan_existing(self) -> int:
        """Segments left by a previous run of this slot (crash) are sealed and replayed first."""
        last = 0
        seal_leftovers(self.slot_dir)
        for path in self._segments_in(self.slot_dir):
            last = max(last, _segment_number(os.path.basename(path)) or 0)
            self.sealed.append(Segment(path, count_lines(path)))
        return last + 1

    def _adopt_orphans(self, max_slots: int) -> None:
        """Other slots with segments and no live owner: lock them and replay their segments too."""
        for n in range(max_slots):
            directory = os.path.join(self.root, f"slot-{n}")
            if directory == self.slot_dir or not os.path.isdir(directory):
                continue
            handle = try_lock(os.path.join(self.root, f"slot-{n}.lock"))
            if handle is None:
                continue  # a live process owns it
            seal_leftovers(directory)
            if not self._segments_in(directory):
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
                continue
            self._adopted_locks.append(handle)
            self.adopted_dirs.append(directory)
            for path in self._segments_in(directory):
                self.sealed.append(Segment(path, count_lines(path)))

    # -- writing ----------------------------------------------------------------------------------

    def _open_segment(self) -> None:
        path = os.path.join(self.slot_dir, f"{self._next_number:012d}{OPEN_SUFFIX}")
        self._next_number += 1
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._current = path
        self._current_entries = 0

    def append(self, line: bytes) -> None:
        """One entry, one write. Raises OSError (disk full…) so the caller answers 503, not 202."""
        with self._lock:
            if self._fd is None:
                self._open_segment()
            assert self._fd is not None
            written = os.write(self._fd, line)
            if written != len(line):  # a short write to a regular file means the disk is full
                raise OSError(errno.ENOSPC, "short write to the collection journal")
            self._current_entries += 1

    def seal(self) -> None:
        """Close the current segment (fsync first) and rename it `.jsonl`, so a flusher can read it whole.

        The segment joins `sealed` in the same locked step that detaches it from writing: depth()
        never drops its entries in between (a health check would call the journal drained too early),
        and a worker's "retired" report, which can only follow the rename, always finds it."""
        with self._lock:
            if self._fd is None:
                return
            fd, path, entries = self._fd, self._current, self._current_entries
            self._fd = self._current = None
            self._current_entries = 0
            segment = None
            if entries and path is not None:
                segment = Segment(path[: -len(OPEN_SUFFIX)] + SEGMENT_SUFFIX, entries, sealed_at=time.monotonic())
                self.sealed.append(segment)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if path is None:
            return
        if segment is None:
            os.unlink(path)
            return
        try:
            os.replace(path, segment.path)
        except OSError:
            segment.path = path  # still readable under its open name; nothing is lost
            raise

    def fsync(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.fsync(self._fd)

    # -- after a flush ----------------------------------------------------------------------------

    def retire(self, segment: Segment) -> None:
        """Every entry of the segment is committed: delete it."""
        try:
            os.unlink(segment.path)
        except FileNotFoundError:
            pass
        self.sealed.remove(segment)

    def progress(self, segment: Segment) -> None:
        """A batch of the segment was committed (the worker process's view reports this; here no-op)."""

    def directories(self) -> list[str]:
        """Every slot directory this process flushes: its own and the adopted ones."""
        return [self.slot_dir, *self.adopted_dirs]

    def note_progress(self, path: str, done: int) -> None:
        """The flush worker committed `done` entries of `path` (keeps depth() right in this process)."""
        for segment in list(self.sealed):
            if segment.path == path:
                segment.done = max(segment.done, done)
                return

    def note_retired(self, path: str) -> None:
        """The flush worker committed and deleted `path`."""
        with self._lock:
            self.sealed = [segment for segment in self.sealed if segment.path != path]

    def lag(self) -> float:
        """Seconds the oldest sealed, not yet committed segment has been waiting."""
        sealed = self.sealed
        if not sealed:
            return 0.0
        return time.monotonic() - sealed[0].sealed_at if sealed[0].sealed_at else 0.0

    @property
    def current_entries(self) -> int:
        """Entries in the segment being written."""
        return self._current_entries

    def depth(self) -> int:
        """Entries journaled but not yet committed."""
        pending = sum(max(0, s.entries - s.done) for s in list(self.sealed))
        return pending + self._current_entries

    def close(self) -> None:
        self.seal()
        for handle in [self._slot_lock, *self._adopted_locks]:
            if handle is not None:
                try:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                finally:
                    handle.close()
        self._slot_lock = None
        self._adopted_locks = []
