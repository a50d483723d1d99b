"""Non-blocking exclusive file locks (flock): held while the handle is open, gone when the process dies."""

from __future__ import annotations

import errno
import fcntl
from typing import IO


def try_lock(path: str) -> IO[str] | None:
    """The open, locked file; None when another process (or handle) holds the lock."""
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        handle.close()
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    return handle


def unlock(handle: IO[str]) -> None:
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()
