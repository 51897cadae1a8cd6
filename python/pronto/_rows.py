"""Rows from Python to the cells pr_predictor_score reads.

Every input shape becomes, for a chunk of rows, one bytes buffer holding
every cell's text and an array of pr_bytes {ptr, len} (row-major,
``n_rows * n_columns``) pointing into it; the buffer and the array are kept
alive by the caller for the C call. A cell's text is what a CSV cell would
hold for the value:

- ``None``, ``float('nan')``, ``""``: missing (length 0);
- ``str``: its UTF-8 bytes; ``bytes``: as is;
- ``bool``: ``true`` / ``false`` (the HTTP API's JSON literals);
- integers (Python or numpy): decimal (``7``);
- floats: an integral value within 2**53 as an integer (``5.0`` -> ``5``,
  so a pandas integer column that became float64 to hold NaN still
  matches the file it came from), others as repr (shortest round trip).

Anything else (lists, dicts, objects) is a TypeError naming the column; a
row of the wrong length or a dict or record without a model column is a
ValueError naming it.

numpy inputs are converted a column at a time without a Python loop per
cell where the dtype allows: byte-string (``S``) fields and columns are
pointed into in place, integer columns go through ``astype``, float
columns through integer/repr as above.
"""

import math
import numbers

import numpy as np

from ._lib import PrBytes

# pr_bytes as numpy sees it: the pointer and the length, both 8 bytes.
_PR_BYTES = np.dtype([("ptr", np.uint64), ("len", np.uint64)])
assert _PR_BYTES.itemsize == __import__("ctypes").sizeof(PrBytes)

_EXACT = 2 ** 53
_S8 = np.dtype("S8")


def _text(value, column):
    """One Python value -> its cell bytes (see the module docstring)."""
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bool, np.bool_)):
        return b"true" if value else b"false"
    if isinstance(value, numbers.Integral):
        return str(int(value)).encode()
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return b""
        if v.is_integer() and abs(v) < _EXACT:
            return str(int(v)).encode()
        return repr(v).encode()
    raise TypeError("column %r: expected a string, bytes, a number, a bool or None, got %s"
                    % (column, type(value).__name__))


class Cells:
    """One chunk's cells: ``array`` (numpy pr_bytes, n_rows x n_columns)
    points into ``keep`` (buffers that must outlive the C call)."""

    def __init__(self, n_rows, n_columns):
        self.array = np.zeros((n_rows, n_columns), dtype=_PR_BYTES)
        self.keep = []
        self._rows = None

    def set_column_from_texts(self, c, texts):
        """texts: a list of bytes, one per row."""
        lens = np.fromiter((len(t) for t in texts), dtype=np.uint64, count=len(texts))
        buf = b"".join(texts)
        self._point(c, buf, lens)

    def set_all_from_texts(self, flat):
        """flat: every cell's bytes, row-major."""
        lens = np.fromiter(map(len, flat), dtype=np.uint64, count=len(flat))
        buf = b"".join(flat)
        self.keep.append(buf)
        base = np.frombuffer(buf, dtype=np.uint8).ctypes.data if buf else 0
        cells = self.array.reshape(-1)
        offs = np.zeros(len(flat), dtype=np.uint64)
        if len(flat) > 1:
            np.cumsum(lens[:-1], out=offs[1:])
        offs += np.uint64(base)
        cells["ptr"] = offs
        cells["len"] = lens

    def set_column_fixed(self, c, arr):
        """arr: a numpy ``S`` array (fixed width, NUL-padded), 1-D; its
        bytes are pointed into (copied once when not contiguous)."""
        arr = np.ascontiguousarray(arr)
        w = arr.dtype.itemsize
        if w == 0:
            return
        self._point_rows(c, arr, 0, _fixed_lengths(arr))

    def set_column_digits(self, c, values):
        """values: a 1-D integer array, written as decimal text."""
        digits, lens = _decimal(values)
        self._point_rows(c, digits, digits.shape[1] - lens.astype(np.int64), lens)

    def set_field_in_place(self, c, block, offset):
        """Field at byte offset of a contiguous structured chunk, an S8
        field on an 8-byte boundary of rows whose size is a multiple of 8:
        pointed into where it is, lengths read off its 8-byte words."""
        n = block.shape[0]
        words = block.view("<u8").reshape(n, block.dtype.itemsize // 8)[:, offset // 8]
        self._point_rows(c, block, offset, _word_lengths(np.ascontiguousarray(words)))

    def _point_rows(self, c, block, starts, lens):
        """Row r's cell: lens[r] bytes at starts[r] in row r of block (a
        contiguous array of n rows of block.itemsize * ... bytes)."""
        n = block.shape[0]
        stride = block.nbytes // n if n else 0
        self.keep.append(block)
        if self._rows is None or self._rows.shape[0] != n:
            self._rows = np.arange(n, dtype=np.uint64)
        col = self.array[:, c]
        ptr = self._rows * np.uint64(stride)
        ptr += np.uint64(block.ctypes.data)
        ptr += np.asarray(starts, dtype=np.uint64)
        col["ptr"] = ptr
        col["len"] = lens

    def _point(self, c, buf, lens):
        self.keep.append(buf)
        base = np.frombuffer(buf, dtype=np.uint8).ctypes.data if buf else 0
        offs = np.zeros(lens.shape[0], dtype=np.uint64)
        if lens.shape[0] > 1:
            np.cumsum(lens[:-1], out=offs[1:])
        col = self.array[:, c]
        col["ptr"] = np.uint64(base) + offs
        col["len"] = lens


def _fixed_lengths(arr):
    """Lengths of the strings of a contiguous 1-D ``S`` array: up to the
    last non-NUL byte (as numpy reads them), computed on 8-byte words."""
    n, w = arr.shape[0], arr.dtype.itemsize
    nw = (w + 7) // 8
    if w % 8:
        padded = np.zeros((n, nw * 8), dtype=np.uint8)
        padded[:, :w] = arr.view(np.uint8).reshape(n, w)
        words = padded.view("<u8")
    else:
        words = arr.view("<u8").reshape(n, nw)
    if nw == 1:
        return _word_lengths(words[:, 0])
    nz = words != 0
    j = (nz * np.arange(1, nw + 1, dtype=np.uint64)).max(axis=1)  # 0: all NUL
    last = words[np.arange(n), np.maximum(j, 1) - 1]
    lens = _word_lengths(last)
    return np.where(lens > 0, (np.maximum(j, 1) - 1) * np.uint64(8) + lens, 0).astype(np.uint64)


def _word_lengths(words):
    """Bytes up to the last non-NUL one of little-endian 8-byte words."""
    lens = (words != 0).astype(np.uint64)
    for k in range(1, 8):
        lens += words >= (np.uint64(1) << np.uint64(8 * k))
    return lens


def _decimal(values):
    """Integers -> (n x W uint8 of right-aligned decimal text, lengths)."""
    v = np.asarray(values)
    n = v.shape[0]
    neg = v < 0
    if v.dtype.kind == "u":
        a = v.astype(np.uint64)
    else:
        # |INT64_MIN| fits in uint64
        a = np.where(neg, (-(v.astype(np.int64) + 1)).astype(np.uint64) + np.uint64(1),
                     v.astype(np.uint64))
    top = int(a.max()) if n else 0
    nd = len(str(top))
    w = nd + (1 if neg.any() else 0)
    out = np.empty((n, w), dtype=np.uint8)
    lens = np.ones(n, dtype=np.uint64)
    p = 10
    for _ in range(nd - 1):
        lens += a >= np.uint64(p)
        p *= 10
    rest = a.copy()
    for k in range(w - 1, w - nd - 1, -1):
        out[:, k] = (rest % np.uint64(10)).astype(np.uint8) + 48
        rest //= np.uint64(10)
    if w > nd:
        out[:, 0] = 48
        idx = np.nonzero(neg)[0]
        out[idx, w - 1 - lens[idx].astype(np.int64)] = ord("-")
        lens = lens + neg.astype(np.uint64)
    return out, lens


def _set_float_column(cells, c, arr):
    """A float column: integral values within 2**53 as integers, NaN
    missing, the others as repr (numpy's float-to-text is the same
    shortest round trip)."""
    nan = np.isnan(arr)
    integral = ~nan & (np.abs(arr) < _EXACT) & (np.floor(arr) == arr)
    if (integral | nan).all():
        digits, lens = _decimal(np.where(nan, 0, arr).astype(np.int64))
        lens[nan] = 0
        cells._point_rows(c, digits, digits.shape[1] - lens.astype(np.int64), lens)
        return
    text = np.zeros(arr.shape[0], dtype="S32")
    text[integral] = arr[integral].astype(np.int64).astype("S32")
    other = ~integral & ~nan
    text[other] = arr[other].astype("S32")
    cells.set_column_fixed(c, text)


def set_numpy_column(cells, c, arr, column):
    """A 1-D numpy column (any dtype) into cells' column c."""
    kind = arr.dtype.kind
    if kind == "S":
        cells.set_column_fixed(c, arr)
    elif kind in "iu":
        cells.set_column_digits(c, arr)
    elif kind == "b":
        cells.set_column_from_texts(c, [b"true" if v else b"false" for v in arr.tolist()])
    elif kind == "f":
        _set_float_column(cells, c, arr.astype(np.float64))
    elif kind in "UO":
        cells.set_column_from_texts(c, [_text(v, column) for v in arr.tolist()])
    else:
        raise TypeError("column %r: numpy dtype %s is not text, a number or a bool"
                        % (column, arr.dtype))


def _is_pandas(rows):
    t = type(rows)
    return t.__name__ == "DataFrame" and t.__module__.startswith("pandas")


def n_rows_of(rows):
    if isinstance(rows, np.ndarray):
        return rows.shape[0] if rows.ndim else 0
    return len(rows)


def fill(cells, rows, start, stop, columns):
    """Rows start..stop-1 of rows (any accepted shape) into cells."""
    n_cols = len(columns)
    if _is_pandas(rows):
        missing = [c for c in columns if c not in rows.columns]
        if missing:
            raise ValueError("DataFrame has no column %r (the model reads %s)"
                             % (missing[0], ", ".join(columns)))
        part = rows.iloc[start:stop]
        for c, name in enumerate(columns):
            col = part[name]
            if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iufbS":
                set_numpy_column(cells, c, col.to_numpy(), name)
            else:  # object, string, category, nullable Int64...: pd.NA is missing
                vals = col.astype(object).where(col.notna(), None).tolist()
                cells.set_column_from_texts(c, [_text(v, name) for v in vals])
        return
    if isinstance(rows, np.ndarray):
        if rows.dtype.names is not None:
            if rows.ndim != 1:
                raise ValueError("a structured array of rows must be 1-D, got shape %s"
                                 % (rows.shape,))
            missing = [c for c in columns if c not in rows.dtype.names]
            if missing:
                raise ValueError("structured array has no field %r (the model reads %s)"
                                 % (missing[0], ", ".join(columns)))
            part = rows[start:stop]
            aligned = part.flags.c_contiguous and part.dtype.itemsize % 8 == 0
            for c, name in enumerate(columns):
                ft, off = part.dtype.fields[name][:2]
                if aligned and ft == _S8 and off % 8 == 0:
                    cells.set_field_in_place(c, part, off)
                    continue
                col = part[name]
                if col.ndim != 1:
                    raise ValueError("field %r: expected one value per row, got shape %s"
                                     % (name, col.shape))
                set_numpy_column(cells, c, col, name)
            return
        if rows.ndim != 2 or rows.shape[1] != n_cols:
            raise ValueError("a 2-D array of rows needs shape (n, %d) (columns %s), got %s"
                             % (n_cols, ", ".join(columns), rows.shape))
        part = rows[start:stop]
        for c, name in enumerate(columns):
            set_numpy_column(cells, c, part[:, c], name)
        return
    flat = []  # row-major cell texts
    add = flat.append
    for r in range(start, stop):
        row = rows[r]
        if isinstance(row, dict):
            for name in columns:
                try:
                    v = row[name]
                except KeyError:
                    raise ValueError("row %d has no column %r (None is a missing value)"
                                     % (r, name)) from None
                add(v.encode() if type(v) is str else _text(v, name))
        elif isinstance(row, (list, tuple)):
            if len(row) != n_cols:
                raise ValueError("row %d has %d values; the model reads %d columns (%s)"
                                 % (r, len(row), n_cols, ", ".join(columns)))
            for v, name in zip(row, columns):
                add(v.encode() if type(v) is str else _text(v, name))
        else:
            raise TypeError("row %d: expected a dict or a list of values, got %s"
                            % (r, type(row).__name__))
    cells.set_all_from_texts(flat)
