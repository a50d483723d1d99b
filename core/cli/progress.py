"""A dependency-free progress bar for long CLI work (migrations, seeding, rebuilds)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, width: int = 30):
        self.label = label
        self.stream = stream or sys.stderr
        self.width = width
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, done: int, total: int, note: str = "") -> None:
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return  # redraw at most 10 times a second
        self._last = now
        fraction = done / total if total else 1.0
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        line = f"\r{self.label} [{bar}] {done}/{total} {fraction:4.0%} {note[:40]}"
        if self.stream.isatty():
            self.stream.write(line.ljust(100))
        elif done == total or done == 0:
            self.stream.write(line.strip("\r") + "\n")
        self.stream.flush()

    def finish(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        if self.stream.isatty():
            self.stream.write("\n")
        self.stream.write(f"{message} ({elapsed:.1f} s)\n")
        self.stream.flush()
