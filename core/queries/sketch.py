"""A HyperLogLog sketch of distinct visitors: 4096 one-byte registers (±1.6 % typical error).

Daily rollups store one per day; a multi-day range merges them (register-wise max) instead of
re-reading every session, which is what keeps "visitors" cheap over a million sessions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

P = 12
M = 1 << P
ALPHA = 0.7213 / (1 + 1.079 / M)


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def new() -> bytearray:
    return bytearray(M)


def add_all(registers: bytearray, items: Iterable[str]) -> bytearray:
    for item in items:
        value = _hash64(item)
        index = value >> (64 - P)
        rest = value & ((1 << (64 - P)) - 1)
        rank = (64 - P) - rest.bit_length() + 1
        if rank > registers[index]:
            registers[index] = rank
    return registers


def merge(into: bytearray, other: bytes | bytearray) -> bytearray:
    for i, value in enumerate(other):
        if value > into[i]:
            into[i] = value
    return into


def estimate(registers: bytes | bytearray) -> int:
    zeros = registers.count(0)
    if zeros == M:
        return 0
    raw = ALPHA * M * M / sum(2.0 ** -r for r in registers)
    if raw <= 2.5 * M and zeros:
        return round(M * math.log(M / zeros))  # linear counting: near exact for small sets
    return round(raw)
