"""pronto.sklearn.ProntoClassifier in scikit-learn (skipped without it):
fit/predict_proba, get_params/set_params/clone, a Pipeline and
cross_val_score; the probabilities are those of the model pronto trains
on the same rows."""

import numpy as np
import pytest

import pronto
from conftest import CRITEO_COLUMNS, read_rows

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402

from pronto.sklearn import ProntoClassifier  # noqa: E402


def _xy(path, n=None):
    labels, rows = [], []
    with open(path) as f:
        for line in f:
            cells = line.rstrip("\n").split("\t")
            labels.append(int(cells[0]))
            rows.append(cells[1:])
    X = np.zeros(len(rows), dtype=[(c, "f8") for c in CRITEO_COLUMNS[:13]] +
                 [(c, "U8") for c in CRITEO_COLUMNS[13:]])
    for i, c in enumerate(CRITEO_COLUMNS):
        X[c] = [(float(r[i]) if r[i] else np.nan) if i < 13 else r[i] for r in rows]
    return X[:n], np.array(labels)[:n]


def test_fit_predict_proba(data):
    X, y = _xy(data["train"], 8000)
    Xt, yt = _xy(data["test"])
    clf = ProntoClassifier(kind="lr", seed=3)
    assert clf.fit(X, y) is clf
    p = clf.predict_proba(Xt)
    assert p.shape == (len(yt), 2) and np.allclose(p.sum(axis=1), 1)
    assert list(clf.classes_) == [0, 1] and clf.n_features_in_ == 39
    assert set(np.unique(clf.predict(Xt))) <= {0, 1}
    # the made spec: floats numeric (quantile), the rest categorical
    assert clf.model_.columns == CRITEO_COLUMNS
    auc = sklearn.metrics.roc_auc_score(yt, p[:, 1])
    assert auc > 0.7, auc
    # strings and ints as labels
    clf2 = ProntoClassifier(seed=3).fit(X, np.where(y == 1, "click", "none"))
    assert list(clf2.classes_) == ["click", "none"]
    assert np.allclose(clf2.predict_proba(Xt)[:, 1], 1 - p[:, 1], atol=0.2)


def test_params_clone():
    clf = ProntoClassifier(kind="ffm", passes=2, params={"k": 4})
    assert clf.get_params()["kind"] == "ffm" and clf.get_params()["params"] == {"k": 4}
    assert clf.set_params(kind="fm") is clf and clf.kind == "fm"
    c = clone(clf)
    assert c.get_params() == clf.get_params() and not hasattr(c, "model_")
    with pytest.raises(ValueError):
        clf.set_params(nope=1)
    with pytest.raises(AttributeError, match="not fitted"):
        ProntoClassifier().predict_proba([[1.0]])


def test_pipeline_cross_val(data):
    X, y = _xy(data["train"], 6000)
    pipe = Pipeline([("same", FunctionTransformer(lambda a: a)),
                     ("clf", ProntoClassifier(kind="lr", seed=1))])
    scores = cross_val_score(pipe, X, y, cv=3, scoring="roc_auc")
    assert scores.shape == (3,) and (scores > 0.65).all(), scores
    # a plain 2-D float array: columns x0.., numeric
    num = np.column_stack([np.nan_to_num(X[c], nan=-1) for c in CRITEO_COLUMNS[:13]])
    s2 = cross_val_score(ProntoClassifier(passes=2), num, y, cv=3, scoring="roc_auc")
    assert (s2 > 0.55).all(), s2


def test_bad_fit():
    with pytest.raises(ValueError, match="binary"):
        ProntoClassifier().fit([[1], [2], [3]], [0, 1, 2])
    with pytest.raises(ValueError, match="rows"):
        ProntoClassifier().fit([[1], [2]], [0, 1, 1])
