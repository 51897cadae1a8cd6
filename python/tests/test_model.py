"""pronto.Model over libpronto.so: the same probabilities as `pronto
predict` (byte for byte at its printed precision) from every input shape,
the exceptions bad input and bad files raise, no leak under a loop, and
the library refused when it is of another ABI."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import pronto
from conftest import BIN, CRITEO_COLUMNS, as_cli_text, cli_predict, read_rows


def test_columns_kind_info(lr_model, ffm_model):
    m = pronto.Model.load(lr_model)
    assert m.columns == CRITEO_COLUMNS
    assert m.kind == "lr"
    assert m.info["rows"] == 20000 and m.info["format"] == "criteo"
    assert pronto.Model.load(ffm_model).kind == "ffm"
    want = json.loads(subprocess.run([BIN, "inspect", "--profile", "--json", lr_model],
                                     stdout=subprocess.PIPE, check=True).stdout)
    assert m.profile == want and m.profile["rows"] == 20000
    assert pronto.version().count(".") == 2
    assert os.path.exists(pronto.library_path())


@pytest.mark.parametrize("which", ["lr_model", "ffm_model"])
def test_predict_equals_cli(which, data, request):
    path = request.getfixturevalue(which)
    want = cli_predict(path, data["test"])
    m = pronto.Model.load(path)
    p = m.predict(read_rows(data["test"]))
    assert p.dtype == np.float64 and p.shape == (3000,)
    assert as_cli_text(p) == want


def test_shapes_agree(lr_model, data):
    m = pronto.Model.load(lr_model)
    rows = read_rows(data["test"])
    want = m.predict(rows)
    dicts = [dict(zip(m.columns, r), label="ignored") for r in rows]
    assert np.array_equal(m.predict(dicts), want)
    assert np.array_equal(m.predict([tuple(r) for r in rows]), want)
    assert np.array_equal(m.predict(np.array(rows, dtype=object)), want)
    assert np.array_equal(m.predict(np.array(rows, dtype="S")), want)
    assert np.array_equal(m.predict(np.array(rows, dtype="U")), want)
    # a structured array: integer columns as float64 (NaN = missing, as
    # pandas makes them), categorical ones as bytes
    dt = [(c, "f8") for c in m.columns[:13]] + [(c, "S8") for c in m.columns[13:]]
    st = np.zeros(len(rows), dtype=dt)
    for i, c in enumerate(m.columns):
        if i < 13:
            st[c] = [float(r[i]) if r[i] else np.nan for r in rows]
        else:
            st[c] = [r[i].encode() for r in rows]
    assert np.array_equal(m.predict(st), want)
    # integers as ints: the same text
    st2 = np.zeros(len(rows), dtype=[(c, "i8") for c in m.columns[1:13]] +
                   [(c, "U8") for c in m.columns[13:]] + [("I1", "f4")])
    for i, c in enumerate(m.columns):
        st2[c] = [(float(r[i]) if r[i] else np.nan) if i == 0 else
                  (int(r[i]) if i < 13 else r[i]) for r in rows]
    assert np.array_equal(m.predict(st2), want)
    # a single dict is one row; None and NaN are missing like an empty cell
    assert m.predict(dicts[0])[0] == want[0]
    blank = [r[:] for r in rows[:50]]
    for r in blank:
        r[0] = ""
    with_none = [dict(zip(m.columns, r)) for r in blank]
    for d in with_none:
        d["I1"] = None
    with_nan = [dict(d, I1=float("nan")) for d in with_none]
    assert np.array_equal(m.predict(with_none), m.predict(blank))
    assert np.array_equal(m.predict(with_nan), m.predict(blank))
    assert m.predict([]).shape == (0,)


def test_pandas(lr_model, data):
    pd = pytest.importorskip("pandas")
    m = pronto.Model.load(lr_model)
    rows = read_rows(data["test"])
    want = m.predict(rows)
    df = pd.read_csv(data["test"], sep="\t", header=None, names=["label"] + m.columns,
                     dtype={c: str for c in m.columns[13:]}, keep_default_na=False,
                     na_values={c: [""] for c in m.columns[:13]})
    assert df["I1"].dtype == np.float64  # missing values made it float
    assert np.array_equal(m.predict(df), want)
    assert np.array_equal(m.predict(df[list(reversed(df.columns))]), want)
    with pytest.raises(ValueError, match="'C26'"):
        m.predict(df.drop(columns=["C26"]))
    # nullable integers (pd.NA missing) and categories read as the file's text
    df2 = df.copy()
    df2["I1"] = df2["I1"].astype("Int64")
    df2["C1"] = df2["C1"].astype("category")
    assert np.array_equal(m.predict(df2), want)


def test_chunks(lr_model, data):
    m = pronto.Model.load(lr_model)
    rows = read_rows(data["test"])
    want = m.predict(rows)
    m.chunk_rows = 7
    assert np.array_equal(m.predict(rows), want)
    assert np.array_equal(m.predict(np.array(rows, dtype="S")), want)
    bad = [r[:] for r in rows[:40]]
    bad[23][2] = "abc"  # I3 is numeric
    with pytest.raises(pronto.InputError, match=r"row 23\b.*I3.*abc"):
        m.predict(bad)


def test_threads_agree(lr_model, data):
    m = pronto.Model.load(lr_model)
    rows = np.array(read_rows(data["test"]), dtype="S")
    want = m.predict(rows)
    got = [None] * 4

    def work(i):
        got[i] = m.predict(rows)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(np.array_equal(g, want) for g in got)


def test_bad_rows(lr_model, data):
    m = pronto.Model.load(lr_model)
    rows = read_rows(data["test"])[:5]
    with pytest.raises(ValueError, match=r"row 1 has 38 values; the model reads 39 columns"):
        m.predict([rows[0], rows[1][:-1]])
    d = dict(zip(m.columns, rows[0]))
    del d["C7"]
    with pytest.raises(ValueError, match=r"row 0 has no column 'C7'"):
        m.predict([d])
    with pytest.raises(TypeError, match=r"column 'C2': expected a string.*got list"):
        m.predict([dict(zip(m.columns, rows[0]), C2=[1, 2])])
    with pytest.raises(TypeError, match=r"column 'I1'.*got dict"):
        m.predict([[{}] + rows[0][1:]])
    with pytest.raises(TypeError, match="row 0: expected a dict or a list"):
        m.predict([42])
    with pytest.raises(TypeError, match="rows: expected"):
        m.predict("I1=3")
    with pytest.raises(TypeError, match="rows: expected"):
        m.predict(np.array(3))
    with pytest.raises(ValueError, match=r"shape \(n, 39\)"):
        m.predict(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="no field 'I1'"):
        m.predict(np.zeros(3, dtype=[("x", "f8")]))
    with pytest.raises(TypeError, match="column 'I1': numpy dtype"):
        m.predict(np.zeros(3, dtype=[(c, "m8[s]") for c in m.columns]))
    bad = [r[:] for r in rows]
    bad[3][4] = "12x"
    with pytest.raises(pronto.InputError) as e:
        m.predict(bad)
    assert isinstance(e.value, ValueError)
    assert "row 3" in str(e.value) and "I5" in str(e.value) and "12x" in str(e.value)
    assert e.value.status == "PR_ERR_PARSE"
    m.close()
    with pytest.raises(ValueError, match="closed"):
        m.predict(rows)


def test_bad_files(lr_model, tmp_path):
    with pytest.raises(pronto.Error, match="nonexistent.pm") as e:
        pronto.Model.load(tmp_path / "nonexistent.pm")
    assert e.value.status == "PR_ERR_IO"
    raw = open(lr_model, "rb").read()
    cut = tmp_path / "cut.pm"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(pronto.FormatError, match="cut.pm"):
        pronto.Model.load(cut)
    junk = tmp_path / "junk.pm"
    junk.write_bytes(b"not a model at all" * 10)
    with pytest.raises(pronto.FormatError, match="not a pronto model"):
        pronto.Model.load(junk)
    newer = tmp_path / "newer.pm"
    newer.write_bytes(raw[:8] + (9).to_bytes(4, "little") + raw[12:])
    with pytest.raises(pronto.FormatError, match="version 9") as e:
        pronto.Model.load(newer)
    assert e.value.status == "PR_ERR_VERSION"


def _rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_no_leak(small_model, data):
    """Load, profile, predict (good and bad rows), close, a failed load:
    RSS flat over 2000 rounds."""
    rows = read_rows(data["test"])[:20]
    dicts = [dict(zip(CRITEO_COLUMNS, r)) for r in rows]
    bad = [dict(d, I2="x") for d in dicts[:2]]

    def once():
        m = pronto.Model.load(small_model)
        assert m.profile["rows"] == 20000
        m.predict(rows)
        m.predict(dicts)
        with pytest.raises(pronto.InputError):
            m.predict(bad)
        m.close()
        with pytest.raises(pronto.Error):
            pronto.Model.load(small_model + ".missing")

    for _ in range(300):  # warm up: allocator pools, caches
        once()
    before = _rss_kib()
    for _ in range(2000):
        once()
    after = _rss_kib()
    assert after - before < 4096, "RSS grew %d KiB over 2000 load/predict" % (after - before)


FAKE = r"""
int pr_abi_version(void) { return 999; }
const char *pr_version(void) { return "9.9.9"; }
"""


def _import_with(lib, tmp_path):
    code = ("import pronto\n"
            "try:\n    pronto.library_path()\n"
            "except pronto.LibraryError as e:\n    print('LibraryError:', e)\n")
    env = dict(os.environ, PRONTO_LIBRARY=str(lib),
               PYTHONPATH=os.path.join(os.path.dirname(__file__), ".."))
    return subprocess.run([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, cwd=tmp_path).stdout.decode()


def test_other_abi_refused(tmp_path):
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    src = tmp_path / "fake.c"
    src.write_text(FAKE)
    so = tmp_path / "libpronto.so.999"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], check=True)
    out = _import_with(so, tmp_path)
    assert "LibraryError: %s is libpronto of ABI 999; this pronto package needs ABI %d" % (
        so, pronto.ABI_VERSION) in out
    libm = tmp_path / "libm.so.6"
    shutil.copy("/lib/x86_64-linux-gnu/libm.so.6", libm)
    assert "has no pr_abi_version()" in _import_with(libm, tmp_path)
    assert "cannot load libpronto.so.%d" % pronto.ABI_VERSION in _import_with(
        tmp_path / "nothing.so", tmp_path)


def test_gil_released_while_scoring(lr_model, data):
    """Another thread runs during the C call: its clock readings fall
    inside the middle of the call's span (with the GIL held, as through
    ctypes.PyDLL, there are none)."""
    from pronto import _lib
    m = pronto.Model.load(lr_model)
    rows = np.array(read_rows(data["test"]) * 60, dtype="S")  # 180k rows, one call
    m.chunk_rows = len(rows)
    lib = _lib.lib()
    real = lib.pr_predictor_score
    spans = []

    def timed(*args):
        t0 = time.perf_counter()
        try:
            return real(*args)
        finally:
            spans.append((t0, time.perf_counter()))

    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    lib.pr_predictor_score = timed
    t = threading.Thread(target=ticker)
    t.start()
    try:
        m.predict(rows)
    finally:
        stop.set()
        t.join()
        lib.pr_predictor_score = real
    (t0, t1), = spans
    # the middle half of the call: the GIL may change hands around its ends
    q = (t1 - t0) / 4
    inside = sum(1 for x in ticks if t0 + q < x < t1 - q)
    assert inside > 0, "no other thread ran during a %.0f ms call" % ((t1 - t0) * 1e3)
