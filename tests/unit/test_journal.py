"""The collection journal: append/seal/read, torn tails, slots, and replay after `kill -9`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

from core.ingest.journal import Journal, encode, read_entries
from tests.support import PROJECT_ROOT


def entry(n: int) -> bytes:
    return encode({"s": 1, "r": 1764489600000 + n, "p": {"bid": f"batch-{n:04d}"}})


def all_entries(journal: Journal) -> list[dict]:
    return [e for seg in journal.sealed for e, _end in read_entries(seg.path, seg.offset)]


def test_append_seal_read_and_retire(tmp_path):
    journal = Journal(str(tmp_path / "journal"))
    for n in range(5):
        journal.append(entry(n))
    assert journal.depth() == 5 and journal.sealed == []
    journal.seal()
    assert len(journal.sealed) == 1 and journal.depth() == 5
    assert [e["p"]["bid"] for e in all_entries(journal)] == [f"batch-{n:04d}" for n in range(5)]
    journal.append(entry(5))  # goes to a new segment
    journal.seal()
    assert len(journal.sealed) == 2 and journal.depth() == 6
    first = journal.sealed[0]
    journal.retire(first)
    assert not os.path.exists(first.path) and journal.depth() == 1
    journal.seal()  # nothing written: no empty segment is kept
    assert len(journal.sealed) == 1
    journal.close()


def test_torn_last_line_and_garbage_lines_are_skipped(tmp_path):
    journal = Journal(str(tmp_path / "journal"))
    journal.append(entry(1))
    journal.append(b"{not json}\n")
    journal.append(entry(2))
    journal.append(entry(3)[:20])  # power loss in the middle of a write
    journal.seal()
    assert [e["p"]["bid"] for e in all_entries(journal)] == ["batch-0001", "batch-0002"]
    journal.close()


def test_resuming_from_an_offset(tmp_path):
    journal = Journal(str(tmp_path / "journal"))
    for n in range(3):
        journal.append(entry(n))
    journal.seal()
    segment = journal.sealed[0]
    _first, end = next(read_entries(segment.path))
    assert [e["p"]["bid"] for e, _ in read_entries(segment.path, end)] == ["batch-0001", "batch-0002"]
    journal.close()


def test_two_processes_never_share_a_slot(tmp_path):
    root = str(tmp_path / "journal")
    one, two = Journal(root), Journal(root)
    assert one.slot_dir != two.slot_dir
    one.close()
    three = Journal(root)
    assert three.slot_dir == one.slot_dir  # a free slot is reused
    two.close()
    three.close()


def run_and_kill(root: str, count: int) -> None:
    """A real process appends `count` entries, then is killed with SIGKILL (no cleanup runs)."""
    code = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {PROJECT_ROOT!r})
        from core.ingest.journal import Journal, encode
        journal = Journal({root!r})
        for n in range({count}):
            journal.append(encode({{"s": 1, "r": n, "p": {{"bid": "batch-%04d" % n}}}}))
        print(journal.slot_dir, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def test_entries_survive_kill_9_and_are_replayed(tmp_path):
    root = str(tmp_path / "journal")
    run_and_kill(root, 500)
    journal = Journal(root)  # the restarted server
    assert journal.depth() == 500
    assert [e["p"]["bid"] for e in all_entries(journal)] == [f"batch-{n:04d}" for n in range(500)]
    journal.append(entry(9999))  # new entries never go into the replayed segment
    journal.seal()
    assert len(journal.sealed) == 2
    journal.close()


def test_a_dead_neighbours_slot_is_adopted(tmp_path):
    root = str(tmp_path / "journal")
    first = Journal(root)  # slot 0, a live process
    second = Journal(root)  # slot 1, another live process
    run_and_kill(root, 3)  # slot 2: wrote and died
    second.close()  # slot 1 is free again and empty
    newcomer = Journal(root)
    assert newcomer.slot_dir.endswith("slot-1")
    assert newcomer.depth() == 3  # slot 2's segments are adopted and will be flushed here
    later = Journal(root)  # slot 2 stays locked by the adopter, so nobody replays it twice
    assert later.slot_dir.endswith("slot-3") and later.depth() == 0
    for journal in (first, newcomer, later):
        journal.close()


def test_encode_is_one_line():
    line = encode({"text": "a\nb", "emoji": "é"})
    assert line.count(b"\n") == 1 and json.loads(line) == {"text": "a\nb", "emoji": "é"}


def test_lag_is_the_age_of_the_oldest_sealed_segment(tmp_path):
    journal = Journal(str(tmp_path / "journal"))
    assert journal.lag() == 0.0
    journal.append(entry(1))
    assert journal.lag() == 0.0  # the open segment is not waiting for the flusher yet
    journal.seal()
    journal.sealed[0].sealed_at -= 5  # sealed five seconds ago and still not committed
    assert 5 <= journal.lag() < 6
    journal.retire(journal.sealed[0])
    assert journal.lag() == 0.0
    journal.close()
