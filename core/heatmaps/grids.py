"""The compressed arrays inside `heatmap_grids` rows: encode, decode, merge, filter, sum.

A point grid is one record per (device, width band, cell) with its count; an anchor grid is one
record per (selector, device, band, offset step) with its click and rage-burst counts, the
selectors themselves kept as a JSON list next to it. numpy does the adding: a month of a page
with 5 M movement points is ~3 M records, summed in tens of milliseconds.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from core.heatmaps import WIDTH_BANDS
from core.models.analytics import DEVICE_CLASSES

CELL = np.dtype([("device", "u1"), ("band", "u1"), ("bx", "<u4"), ("by", "<u4"), ("n", "<u4")])
ANCHOR = np.dtype([("sel", "<u4"), ("device", "u1"), ("band", "u1"), ("ox", "u1"), ("oy", "u1"),
                   ("n", "<u4"), ("rage", "<u4")])
ANCHORS = 11  # heatmap_grids.kind of anchor grids (point kinds are 1-3, as in heatmap_points)
MAX_CELL = 20_000  # bx/by are capped here (200,000 px at 10 px cells: past any real page)
_DEVICE_CODE = {name: i for i, name in enumerate(DEVICE_CLASSES)}
_BAND_CODE = {band: i for i, band in enumerate(WIDTH_BANDS)}


def device_code(device: str) -> int:
    return _DEVICE_CODE.get(device, 0)


def band_code(band: int) -> int:
    return _BAND_CODE[band]


RAW, ZLIB = b"R", b"Z"


def encode(array: np.ndarray, compress: bool = False) -> bytes:
    """Uncompressed by default: a month of a busy page is ~50 MB either way to read back, and
    inflating it costs more time (~100 MB/s) than the disk saves."""
    return ZLIB + zlib.compress(array.tobytes(), 1) if compress else RAW + array.tobytes()


def decode(blob: bytes | memoryview, dtype: np.dtype) -> np.ndarray:
    data = memoryview(blob)
    if data[:1] == ZLIB:
        return np.frombuffer(zlib.decompress(data[1:]), dtype=dtype)
    return np.frombuffer(data[1:], dtype=dtype)


def cells_from_counts(counts: Mapping[tuple[int, int, int, int], int]) -> np.ndarray:
    """{(device code, band code, bx, by): n} -> a CELL array."""
    out = np.empty(len(counts), CELL)
    if counts:
        keys = np.array(list(counts.keys()), dtype=np.uint32).reshape(-1, 4)
        out["device"], out["band"] = keys[:, 0], keys[:, 1]
        out["bx"], out["by"] = np.minimum(keys[:, 2], MAX_CELL), np.minimum(keys[:, 3], MAX_CELL)
        out["n"] = np.fromiter(counts.values(), dtype=np.uint32, count=len(counts))
    return out


def merge_cells(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """One record per (device, band, cell), counts added."""
    parts = [a for a in arrays if len(a)]
    if not parts:
        return np.empty(0, CELL)
    a = np.concatenate(parts)
    key = ((a["device"].astype(np.uint64) << np.uint64(56)) | (a["band"].astype(np.uint64) << np.uint64(48))
           | (a["by"].astype(np.uint64) << np.uint64(24)) | a["bx"].astype(np.uint64))
    unique, inverse = np.unique(key, return_inverse=True)
    out = np.empty(len(unique), CELL)
    out["device"] = unique >> np.uint64(56)
    out["band"] = (unique >> np.uint64(48)) & np.uint64(0xFF)
    out["by"] = (unique >> np.uint64(24)) & np.uint64(0xFFFFFF)
    out["bx"] = unique & np.uint64(0xFFFFFF)
    out["n"] = np.bincount(inverse, weights=a["n"], minlength=len(unique)).astype(np.uint32)
    return out


def anchors_from_counts(counts: Mapping[tuple[str, int, int, int, int], list[int]],
                        selectors: list[str]) -> np.ndarray:
    """{(selector, device, band, ox, oy): [n, rage]} -> an ANCHOR array; extends `selectors`."""
    index = {s: i for i, s in enumerate(selectors)}
    out = np.empty(len(counts), ANCHOR)
    for row, ((selector, device, band, ox, oy), (n, rage)) in enumerate(counts.items()):
        sel = index.get(selector)
        if sel is None:
            sel = index[selector] = len(selectors)
            selectors.append(selector)
        out[row] = (sel, device, band, ox, oy, n, rage)
    return out


def merge_anchors(arrays: Iterable[np.ndarray]) -> np.ndarray:
    """One record per (selector index, device, band, ox, oy); all arrays share one selector list."""
    parts = [a for a in arrays if len(a)]
    if not parts:
        return np.empty(0, ANCHOR)
    a = np.concatenate(parts)
    key = ((a["sel"].astype(np.uint64) << np.uint64(32)) | (a["device"].astype(np.uint64) << np.uint64(24))
           | (a["band"].astype(np.uint64) << np.uint64(16)) | (a["ox"].astype(np.uint64) << np.uint64(8))
           | a["oy"].astype(np.uint64))
    unique, inverse = np.unique(key, return_inverse=True)
    out = np.empty(len(unique), ANCHOR)
    out["sel"] = unique >> np.uint64(32)
    out["device"] = (unique >> np.uint64(24)) & np.uint64(0xFF)
    out["band"] = (unique >> np.uint64(16)) & np.uint64(0xFF)
    out["ox"] = (unique >> np.uint64(8)) & np.uint64(0xFF)
    out["oy"] = unique & np.uint64(0xFF)
    out["n"] = np.bincount(inverse, weights=a["n"], minlength=len(unique)).astype(np.uint32)
    out["rage"] = np.bincount(inverse, weights=a["rage"], minlength=len(unique)).astype(np.uint32)
    return out


def selectors_json(selectors: list[str]) -> str:
    return json.dumps(selectors, separators=(",", ":"))


def selectors_of(text: str | None) -> list[str]:
    return list(json.loads(text)) if text else []


def keep(array: np.ndarray, device: str | None, bands: tuple[int, ...] | None) -> np.ndarray:
    """Only the records of one device class and/or some width bands."""
    mask = np.ones(len(array), dtype=bool)
    if device:
        mask &= array["device"] == device_code(device)
    if bands is not None:
        mask &= np.isin(array["band"], [band_code(b) for b in bands])
    return array if mask.all() else array[mask]


class CellSum:
    """Adds filtered CELL records grid by grid into one dense count array (no big concatenation:
    a month of moves is millions of records). A page taller or wider than DENSE_LIMIT cells in
    total (a stray point at 90,000 px) switches to sparse adding."""

    DENSE_LIMIT = 8_000_000  # cells: 64 MB of float64

    def __init__(self) -> None:
        self.width = 0
        self.height = 0
        self.counts = np.zeros(0, dtype=np.float64)
        self.sparse: list[np.ndarray] | None = None

    def _grow(self, width: int, height: int) -> None:
        if width <= self.width and height <= self.height:
            return
        width, height = max(width, self.width), max(height, self.height)
        if width * height > self.DENSE_LIMIT:
            self.sparse = [self._records()] if self.counts.size else []
            return
        grown = np.zeros(width * height, dtype=np.float64)
        if self.counts.size:
            grown.reshape(height, width)[: self.height, : self.width] = self.counts.reshape(self.height, self.width)
        self.width, self.height, self.counts = width, height, grown

    def _records(self) -> np.ndarray:
        bx, by, n = self._dense()
        out = np.zeros(len(n), CELL)
        out["bx"], out["by"], out["n"] = bx, by, n
        return out

    def add(self, array: np.ndarray) -> None:
        if not len(array):
            return
        if self.sparse is None:
            bx, by = array["bx"], array["by"]
            self._grow(int(bx.max()) + 1, int(by.max()) + 1)
        if self.sparse is not None:
            self.sparse.append(array)
            return
        linear = array["by"].astype(np.int64) * self.width + array["bx"]
        self.counts += np.bincount(linear, weights=array["n"], minlength=self.counts.size)

    def _dense(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        where = np.flatnonzero(self.counts)
        width = max(self.width, 1)
        return where % width, where // width, self.counts[where].astype(np.int64)

    def result(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bx, by, n) of every non-empty cell."""
        if self.sparse is None:
            return self._dense()
        merged = merge_cells([_no_device(a) for a in self.sparse])
        return merged["bx"].astype(np.int64), merged["by"].astype(np.int64), merged["n"].astype(np.int64)


def _no_device(array: np.ndarray) -> np.ndarray:
    out = array.copy()
    out["device"], out["band"] = 0, 0
    return out


def grid_row(kind: int, array: np.ndarray, selectors: list[str] | None = None) -> dict[str, Any]:
    return {"kind": kind, "points": int(array["n"].sum()), "data": encode(array),
            "selectors": selectors_json(selectors) if selectors is not None else ""}
