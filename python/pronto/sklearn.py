"""pronto.sklearn.ProntoClassifier: a scikit-learn style binary classifier
over pronto's trainers (``fit``, ``predict_proba``, ``predict``,
``decision_function``, ``get_params``, ``set_params``), usable in a
``Pipeline``, ``cross_val_score`` and ``GridSearchCV`` when scikit-learn is
installed (it is not needed to import this module: without it the class
is a plain object with the same methods).

fit(X, y) writes X and y to a temporary CSV (header: ``label`` and the
columns), trains with ``pronto train`` (pronto.train) on it and loads the
model; predict_proba scores X with pronto.Model.predict. X may be a
DataFrame, a numpy structured array, a list of dicts (columns are the
feature names) or a 2-D array / list of lists (columns ``x0``, ``x1``...).

The feature spec: ``spec`` (a YAML file; its columns must be X's), or one
made from X when None: float columns numeric with ``quantile``
(``numeric_bins`` bins, edges learned in training), every other column
categorical (its values hashed as text), ``hash_bits`` and ``min_count``
as given.
"""

import csv
import os
import re
import shutil
import tempfile

import numpy as np

from . import _rows
from .train import train as _train

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
except ImportError:  # scikit-learn is optional
    class BaseEstimator:
        def get_params(self, deep=True):
            return {k: getattr(self, k) for k in self._param_names()}

        def set_params(self, **params):
            valid = self._param_names()
            for k, v in params.items():
                if k not in valid:
                    raise ValueError("invalid parameter %r for %s" % (k, type(self).__name__))
                setattr(self, k, v)
            return self

    class ClassifierMixin:
        _estimator_type = "classifier"

        def score(self, X, y):
            return float(np.mean(self.predict(X) == np.asarray(y)))

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


def _columns_and_kinds(X):
    """(column names, a numpy-kind letter per column, a row getter)."""
    t = type(X)
    if t.__name__ == "DataFrame" and t.__module__.startswith("pandas"):
        names = [str(c) for c in X.columns]
        kinds = [X[c].dtype.kind for c in X.columns]
        return names, kinds
    if isinstance(X, np.ndarray) and X.dtype.names is not None:
        return list(X.dtype.names), [X.dtype[n].kind for n in X.dtype.names]
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], dict):
        names = list(X[0].keys())
        kinds = []
        for n in names:
            vals = [r.get(n) for r in X[:1000]]
            kinds.append("f" if any(isinstance(v, float) for v in vals) else "O")
        return names, kinds
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValueError("X: expected a 2-D array, a DataFrame, a structured array "
                         "or a list of dicts, got shape %s" % (arr.shape,))
    return ["x%d" % i for i in range(arr.shape[1])], [arr.dtype.kind] * arr.shape[1]


def _as_rows(X, names):
    """X in a shape Model.predict reads with the columns named names."""
    t = type(X)
    if t.__name__ == "DataFrame" and t.__module__.startswith("pandas"):
        return X
    if isinstance(X, np.ndarray) and X.dtype.names is not None:
        return X
    if isinstance(X, (list, tuple)) and X and isinstance(X[0], dict):
        return X
    arr = np.asarray(X)
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError("X: expected %d columns, got shape %s" % (len(names), arr.shape))
    return arr


class ProntoClassifier(ClassifierMixin, BaseEstimator):
    """A binary classifier trained by pronto.

    kind: "lr", "ffm" or "fm". spec: a feature spec file, or None to make
    one from X. hash_bits, min_count, numeric_bins: the made spec's.
    threads, passes, seed: ``pronto train``'s flags (threads 1 and a
    fixed seed make fits reproducible). params: more ``pronto train``
    flags as a dict (``{"alpha": 0.05, "l2": 2}``).
    """

    def __init__(self, kind="lr", spec=None, hash_bits=18, min_count=0, numeric_bins=16,
                 threads=1, passes=None, seed=1, params=None):
        self.kind = kind
        self.spec = spec
        self.hash_bits = hash_bits
        self.min_count = min_count
        self.numeric_bins = numeric_bins
        self.threads = threads
        self.passes = passes
        self.seed = seed
        self.params = params

    @classmethod
    def _param_names(cls):
        return ["kind", "spec", "hash_bits", "min_count", "numeric_bins", "threads",
                "passes", "seed", "params"]

    def _spec_text(self, names, kinds):
        lines = ["version: 1", "hash_bits: %d" % self.hash_bits, "seed: 0",
                 "min_count: %d" % self.min_count, "input:", "  format: csv",
                 "  label: label", "fields:"]
        for n, k in zip(names, kinds):
            if not _NAME_RE.match(n) or n == "label":
                raise ValueError("column %r: a made spec needs names of [A-Za-z0-9_.-] "
                                 "other than 'label' (or pass spec=)" % n)
            if k == "f":
                lines.append("  - {name: %s, type: numeric, transform: quantile, bins: %d}"
                             % (n, self.numeric_bins))
            else:
                lines.append("  - {name: %s, type: categorical}" % n)
        return "\n".join(lines) + "\n"

    def fit(self, X, y, sample_weight=None):
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported (weight rows in a spec's "
                             "input.weight column instead)")
        names, kinds = _columns_and_kinds(X)
        y = np.asarray(y)
        classes = np.unique(y)
        if classes.shape[0] > 2:
            raise ValueError("ProntoClassifier is binary: y has %d classes" % classes.shape[0])
        self.classes_ = classes if classes.shape[0] == 2 else np.array([0, 1])
        positive = self.classes_[1]
        rows = _as_rows(X, names)
        if len(y) != (rows.shape[0] if hasattr(rows, "shape") else len(rows)):
            raise ValueError("X has %d rows, y has %d" % (
                rows.shape[0] if hasattr(rows, "shape") else len(rows), len(y)))
        tmp = tempfile.mkdtemp(prefix="pronto-fit-")
        try:
            data = os.path.join(tmp, "train.csv")
            n = len(y)
            with open(data, "w", newline="") as f:
                w = csv.writer(f, lineterminator="\n")
                w.writerow(["label"] + names)
                chunk = 16384
                for s in range(0, n, chunk):
                    e = min(n, s + chunk)
                    cells = _rows.Cells(e - s, len(names))
                    _rows.fill(cells, rows, s, e, names)
                    texts = _cells_text(cells)
                    for r in range(e - s):
                        w.writerow(["1" if y[s + r] == positive else "0"] + texts[r])
            spec = self.spec
            if spec is None:
                spec = os.path.join(tmp, "spec.yaml")
                with open(spec, "w") as f:
                    f.write(self._spec_text(names, kinds))
            flags = dict(self.params or {})
            flags["threads"] = self.threads
            flags["seed"] = self.seed
            if self.passes is not None:
                flags["passes"] = self.passes
            self.model_ = _train(kind=self.kind, data=data, spec=spec, **flags)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.feature_names_in_ = np.array(names, dtype=object)
        self.n_features_in_ = len(names)
        return self

    def _check_fitted(self):
        if not hasattr(self, "model_"):
            raise AttributeError("this ProntoClassifier is not fitted yet: call fit first")

    def predict_proba(self, X):
        """(n, 2) probabilities of classes_[0] and classes_[1]."""
        self._check_fitted()
        names = list(self.feature_names_in_)
        p = self.model_.predict(_rows_for(X, names))
        return np.column_stack([1.0 - p, p])

    def decision_function(self, X):
        p = np.clip(self.predict_proba(X)[:, 1], 1e-15, 1 - 1e-15)
        return np.log(p / (1 - p))

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("model_", None)  # a C handle: refit after unpickling
        return state


def _rows_for(X, names):
    rows = _as_rows(X, names)
    if isinstance(rows, np.ndarray) and rows.dtype.names is None:
        return _structured(rows, names)  # plain 2-D: the columns named as fit named them
    return rows


def _structured(arr, names):
    """A plain 2-D array as a structured array with fields names."""
    dt = np.dtype([(n, arr.dtype) for n in names])
    out = np.empty(arr.shape[0], dtype=dt)
    for i, n in enumerate(names):
        out[n] = arr[:, i]
    return out


def _cells_text(cells):
    """Rows of str from a filled Cells (the text pronto will read)."""
    import ctypes
    arr = cells.array
    out = []
    for r in range(arr.shape[0]):
        row = []
        for c in range(arr.shape[1]):
            n = int(arr[r, c]["len"])
            row.append(ctypes.string_at(int(arr[r, c]["ptr"]), n).decode("utf-8", "replace")
                       if n else "")
        out.append(row)
    return out
