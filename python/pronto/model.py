"""pronto.Model: a trained model file, scored in-process through
libpronto's pr_predictor (include/pronto/predictor.h): the featurizer the
model embeds, its rare-feature filter and the model, the sequence
``pronto predict`` runs, so the probabilities are the same numbers.

Large inputs are scored in chunks of ``Model.chunk_rows`` rows: the cell
array of one chunk is all the extra memory, and the GIL is released during
each chunk's C call (ctypes releases it for every CDLL call), so other
Python threads run meanwhile; a model may be scored from many threads at
once (pr_predictor_score is thread-safe).
"""

import ctypes
import json
import re

import numpy as np

from . import _lib, _rows

_ROW_RE = re.compile(r"^row (\d+)")


class Model:
    """A loaded model. Use ``Model.load(path)``; ``close()`` (or ``with``)
    frees it early, else it is freed with the object."""

    #: rows per call into the library (memory: 16 bytes a cell plus text)
    chunk_rows = 16384

    def __init__(self, handle, path):
        self._h = handle
        self.path = path
        lib = _lib.lib()
        n = lib.pr_predictor_n_columns(handle)
        #: the input columns the model reads, in the order lists use
        self.columns = [lib.pr_predictor_column(handle, i).decode() for i in range(n)]
        #: "lr", "ffm" or "fm"
        self.kind = lib.pr_predictor_kind(handle).decode()
        raw = lib.pr_predictor_info(handle)
        #: the model's info JSON (training metadata), parsed
        self.info = json.loads(raw.decode()) if raw else {}

    @classmethod
    def load(cls, path):
        """Loads a model file (``pronto train -o``). Raises pronto.Error
        (FormatError for a corrupt file or one of a newer format) with
        pronto's message."""
        lib = _lib.lib()
        err = _lib.PrErr()
        h = ctypes.c_void_p()
        st = lib.pr_predictor_open(str(path).encode(), ctypes.byref(h), ctypes.byref(err))
        if st != 0:
            _lib.raise_for(st, err)
        return cls(h, str(path))

    @property
    def profile(self):
        """The reference profile of the training data the model file
        carries (per-column sketches and the prediction histogram that
        drift is measured against: docs/monitoring.md), parsed from the JSON
        ``pronto inspect --profile --json`` prints; None for a model
        without one. Read from the file on first use."""
        if not hasattr(self, "_profile"):
            text = _lib.profile_json(self.path)
            self._profile = json.loads(text) if text is not None else None
        return self._profile

    def close(self):
        h, self._h = getattr(self, "_h", None), None
        if h:
            _lib.lib().pr_predictor_close(h)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "pronto.Model(%r, kind=%r, %d columns)" % (self.path, self.kind, len(self.columns))

    def predict(self, rows):
        """Click probabilities for rows, a numpy float64 array (one per row).

        rows: a list of dicts (column -> value; extra keys ignored), a list
        of lists or tuples (values in ``self.columns`` order), a 2-D numpy
        array of shape (n, len(columns)), a numpy structured array (one
        field per column) or a pandas DataFrame. A single dict is one row.
        Values: str, bytes, int, float, bool or None (missing); see
        pronto._rows for the text each becomes.

        Raises TypeError / ValueError naming the column for a value of the
        wrong type or a row of the wrong shape, and pronto.InputError (a
        ValueError) with pronto's message naming the row and field for a
        value the model's featurizer rejects (a number field given text).
        """
        if self._h is None:
            raise ValueError("this pronto.Model is closed")
        if isinstance(rows, dict):
            rows = [rows]
        elif (isinstance(rows, (str, bytes)) or not hasattr(rows, "__len__")
              or (isinstance(rows, np.ndarray) and rows.ndim == 0)):
            raise TypeError("rows: expected a list of dicts or lists, a numpy array or "
                            "a DataFrame, got %s" % type(rows).__name__)
        n = _rows.n_rows_of(rows)
        out = np.empty(n, dtype=np.float64)
        lib = _lib.lib()
        err = _lib.PrErr()
        n_cols = len(self.columns)
        for start in range(0, n, self.chunk_rows):
            stop = min(n, start + self.chunk_rows)
            cells = _rows.Cells(stop - start, n_cols)
            _rows.fill(cells, rows, start, stop, self.columns)
            st = lib.pr_predictor_score(self._h, cells.array.ctypes.data, stop - start,
                                        out[start:].ctypes.data, ctypes.byref(err))
            if st != 0:
                _lib.raise_for(st, err, lambda m, s=start: _ROW_RE.sub(
                    lambda g: "row %d" % (int(g.group(1)) + s), m, count=1))
            del cells
        return out
