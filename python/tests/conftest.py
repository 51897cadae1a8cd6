"""Fixtures of the pronto Python tests: the pronto binary and library of
the build (PRONTO_BIN, PRONTO_LIBRARY, set by ctest), data generated with
tests/gen_criteo.awk and models trained on it by `pronto train`."""

import os
import subprocess

import pytest

SRC = os.environ.get("PRONTO_SRC") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("PRONTO_BIN") or os.path.join(SRC, "build", "pronto")

CRITEO_COLUMNS = ["I%d" % i for i in range(1, 14)] + ["C%d" % i for i in range(1, 27)]


def run(*args, **kw):
    return subprocess.run([BIN] + [str(a) for a in args], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def gen(path, rows, seed):
    with open(path, "w") as f:
        subprocess.run(["awk", "-v", "rows=%d" % rows, "-v", "seed=%d" % seed, "-f",
                        os.path.join(SRC, "tests", "gen_criteo.awk")], stdout=f, check=True)
    return str(path)


def read_rows(path):
    """A Criteo TSV's rows without the label: lists of strings."""
    with open(path) as f:
        return [line.rstrip("\n").split("\t")[1:] for line in f]


def cli_predict(model, data):
    return run("predict", model, data).stdout.decode()


def as_cli_text(p):
    return "".join("%.6f\n" % x for x in p)


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    return {"train": gen(d / "train.tsv", 20000, 1), "test": gen(d / "test.tsv", 3000, 2),
            "valid": gen(d / "valid.tsv", 3000, 3), "dir": d}


@pytest.fixture(scope="session")
def lr_model(data):
    out = str(data["dir"] / "lr.pm")
    run("train", "--kind", "lr", "--threads", 1, "--seed", 5, "-q", "-o", out, data["train"])
    return out


@pytest.fixture(scope="session")
def ffm_model(data):
    out = str(data["dir"] / "ffm.pm")
    run("train", "--kind", "ffm", "--threads", 1, "--passes", 2, "--bits", 16, "-q",
        "-o", out, data["train"])
    return out


@pytest.fixture(scope="session")
def small_model(data):
    """2^12 buckets: cheap to load 2000 times."""
    out = str(data["dir"] / "small.pm")
    run("train", "--kind", "lr", "--threads", 1, "--bits", 12, "-q", "-o", out, data["train"])
    return out
