"""Memory of a server and its children (the flush worker), read from /proc.

The flush worker is forked from the server, so the pages they share copy-on-write count in the RSS
of both; PSS (proportional set size) splits every shared page between the processes sharing it,
so the PSS sum is what the machine really spends. The benches print both.
"""

from __future__ import annotations

import os


def process_tree(pid: int) -> list[int]:
    """The process and its direct children."""
    pids = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                pids += [int(child) for child in handle.read().split()]
    except OSError:
        pass
    return pids


def memory_kb(pid: int, field: str, source: str) -> int:
    """`field` (VmRSS, VmHWM from `status`; Pss from `smaps_rollup`) in kB; 0 if the process is gone."""
    try:
        with open(f"/proc/{pid}/{source}") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_mb(pid: int) -> tuple[float, float, list[float]]:
    """(PSS sum, RSS sum, RSS of each process: the server first) in MB."""
    pids = process_tree(pid)
    rss = [memory_kb(p, "VmRSS", "status") / 1024 for p in pids]
    pss = sum(memory_kb(p, "Pss", "smaps_rollup") for p in pids) / 1024
    return pss, sum(rss), rss
