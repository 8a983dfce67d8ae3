"""Small closed vocabularies (markets, sides, statuses) coded to integers.

Polars keeps strings as Arrow string views: sixteen bytes per value, the length first and, for a
value of twelve bytes or fewer, the bytes themselves inline. Every word these vocabularies hold
is that short, so a value is compared with a word by two masked 64-bit compares on its view,
with no hashing and no second memory access, and only the rows asked for are read. A column
polars cannot hand over as views (another layout, a big-endian machine) is rebuilt as one by
pyarrow, which gives the same codes.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numba
import numpy as np
import polars as pl
import pyarrow as pa
from polars import CompatLevel

INLINE_BYTES = 12


def code_strings(series: pl.Series, words: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
    """The index in ``words`` of each value (of ``series[rows]`` when ``rows`` is given), as
    int8; -1 for a null or any other value."""
    keys, masks = _vocabulary(words)
    view, valid, offset = _views(series)
    index = np.arange(len(series), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    return _match(view, valid, offset, keys, masks, index)


def _vocabulary(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each word's view and the mask of the bytes that matter (the length and the word), so
    whatever a writer leaves after a short value is ignored."""
    encoded = [w.encode() for w in words]
    if any(len(w) > INLINE_BYTES for w in encoded) or len(encoded) > 127:
        raise ValueError(f"a coded vocabulary holds at most 127 words of at most {INLINE_BYTES} bytes: {words}")
    keys = np.zeros((len(encoded), 2), dtype=np.uint64)
    masks = np.zeros((len(encoded), 2), dtype=np.uint64)
    for i, word in enumerate(encoded):
        keys[i] = np.frombuffer(len(word).to_bytes(4, "little") + word.ljust(INLINE_BYTES, b"\0"), dtype=np.uint64)
        masks[i] = np.frombuffer(b"\xff" * (4 + len(word)) + b"\0" * (INLINE_BYTES - len(word)), dtype=np.uint64)
    return keys, masks


def _views(series: pl.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Two 64-bit words per value, the validity bitmap (empty when nothing is null) and where
    the column starts in them."""
    array = series.to_arrow(compat_level=CompatLevel.newest()) if series.dtype == pl.String else None
    if array is None or array.type != pa.string_view() or sys.byteorder != "little":
        array = pa.array(series.cast(pl.String).to_list(), type=pa.string_view())
    validity, data = array.buffers()[:2]
    view = np.frombuffer(data, dtype=np.uint64, count=2 * (array.offset + len(array))).reshape(-1, 2)
    valid = (np.ones(0, dtype=np.uint8) if validity is None or array.null_count == 0
             else np.frombuffer(validity, dtype=np.uint8))
    return view, valid, array.offset


@numba.njit(cache=True, nogil=True, inline="always")
def code_at(view: np.ndarray, valid: np.ndarray, offset: int, keys: np.ndarray, masks: np.ndarray, row: int) -> int:
    """Branch-free over the words: values arrive in no order a predictor could learn."""
    i = row + offset
    low, high = view[i, 0], view[i, 1]
    code = -1
    for k in range(len(keys)):
        differ = ((low ^ keys[k, 0]) & masks[k, 0]) | ((high ^ keys[k, 1]) & masks[k, 1])
        code = k if differ == np.uint64(0) else code
    if len(valid) and not (valid[i >> 3] >> (i & 7)) & 1:
        code = -1
    return code


@numba.njit(cache=True, nogil=True, parallel=True)
def _match(view: np.ndarray, valid: np.ndarray, offset: int, keys: np.ndarray, masks: np.ndarray,
           index: np.ndarray) -> np.ndarray:
    out = np.empty(len(index), dtype=np.int8)
    for j in numba.prange(len(index)):
        out[j] = code_at(view, valid, offset, keys, masks, index[j])
    return out
