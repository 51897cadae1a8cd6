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

    def set_column_from_texts(self, c, texts):
        """texts: a list of bytes, one per row."""
        lens = np.fromiter((len(t) for t in texts), dtype=np.uint64, count=len(texts))
        buf = b"".join(texts)
        self._point(c, buf, lens)

    def set_column_fixed(self, c, arr):
        """arr: a numpy ``S`` array (fixed width, NUL-padded), 1-D; its
        bytes are pointed into (no copy when it is contiguous)."""
        arr = np.ascontiguousarray(arr)
        w = arr.dtype.itemsize
        n = arr.shape[0]
        if w == 0:
            return
        raw = arr.view(np.uint8).reshape(n, w)
        # length: up to the last non-NUL byte (numpy strips trailing NULs too)
        nz = raw != 0
        last = w - np.argmax(nz[:, ::-1], axis=1)
        lens = np.where(nz.any(axis=1), last, 0).astype(np.uint64)
        base = arr.ctypes.data
        self.keep.append(arr)
        col = self.array[:, c]
        col["ptr"] = base + np.arange(n, dtype=np.uint64) * np.uint64(w)
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


def _float_texts(arr, column):
    """A float numpy column -> a list of cell bytes."""
    out = [b""] * arr.shape[0]
    finite = np.isfinite(arr)
    integral = finite & (np.floor(arr) == arr) & (np.abs(arr) < _EXACT)
    idx = np.nonzero(integral)[0]
    if idx.size:
        ints = arr[idx].astype(np.int64).astype("S21")
        for i, t in zip(idx.tolist(), ints.tolist()):
            out[i] = t
    for i in np.nonzero(finite & ~integral)[0].tolist():
        out[i] = repr(float(arr[i])).encode()
    for i in np.nonzero(np.isinf(arr))[0].tolist():
        out[i] = repr(float(arr[i])).encode()
    return out


def set_numpy_column(cells, c, arr, column):
    """A 1-D numpy column (any dtype) into cells' column c."""
    kind = arr.dtype.kind
    if kind == "S":
        cells.set_column_fixed(c, arr)
    elif kind in "iu":
        cells.set_column_fixed(c, arr.astype("S21"))
    elif kind == "b":
        cells.set_column_from_texts(c, [b"true" if v else b"false" for v in arr.tolist()])
    elif kind == "f":
        cells.set_column_from_texts(c, _float_texts(arr.astype(np.float64), column))
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
            if col.dtype.kind == "O" or str(col.dtype) in ("string", "category"):
                vals = col.astype(object).where(col.notna(), None).tolist()
                cells.set_column_from_texts(c, [_text(v, name) for v in vals])
            elif col.dtype.kind in "iufbS":
                set_numpy_column(cells, c, col.to_numpy(), name)
            else:
                set_numpy_column(cells, c, col.to_numpy(dtype=object), name)
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
            for c, name in enumerate(columns):
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
    texts = [[] for _ in range(n_cols)]
    for r in range(start, stop):
        row = rows[r]
        if isinstance(row, dict):
            for c, name in enumerate(columns):
                try:
                    v = row[name]
                except KeyError:
                    raise ValueError("row %d has no column %r (None is a missing value)"
                                     % (r, name)) from None
                texts[c].append(_text(v, name))
        elif isinstance(row, (list, tuple)):
            if len(row) != n_cols:
                raise ValueError("row %d has %d values; the model reads %d columns (%s)"
                                 % (r, len(row), n_cols, ", ".join(columns)))
            for c, name in enumerate(columns):
                texts[c].append(_text(row[c], name))
        else:
            raise TypeError("row %d: expected a dict or a list of values, got %s"
                            % (r, type(row).__name__))
    for c in range(n_cols):
        cells.set_column_from_texts(c, texts[c])
