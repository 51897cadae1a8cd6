"""pronto.train runs `pronto train` and loads what it wrote: the same model
as the command with the same flags, and its failures as TrainError."""

import numpy as np
import pytest

import pronto
from conftest import as_cli_text, cli_predict, read_rows, run
from pronto.train import train_args


def test_train_equals_cli(data, tmp_path):
    cli = str(tmp_path / "cli.pm")
    run("train", "--kind", "lr", "--threads", 1, "--seed", 7, "--alpha", 0.05, "-q",
        "-o", cli, data["train"])
    m = pronto.train(kind="lr", data=data["train"], threads=1, seed=7, alpha=0.05)
    assert m.kind == "lr"
    assert as_cli_text(m.predict(read_rows(data["test"]))) == cli_predict(cli, data["test"])


def test_train_ffm_valid_output(data, tmp_path):
    out = tmp_path / "ffm.pm"
    m = pronto.train(kind="ffm", data=[data["train"]], valid=data["valid"], output=out,
                     threads=1, passes=3, bits=16, k=4)
    assert out.exists() and m.kind == "ffm"
    assert m.info["passes"] >= 1 and m.info["valid"]["auc"] > 0.6
    p = m.predict(read_rows(data["test"]))
    assert ((p > 0) & (p < 1)).all()
    assert as_cli_text(p) == cli_predict(str(out), data["test"])


def test_train_args():
    assert train_args("fm", "a.tsv", None, None, "o.pm", lambda_=1e-4, team=True,
                      neg_sample=0.5, quiet=False) == [
        "train", "--kind", "fm", "-q", "--lambda", "0.0001", "--neg-sample", "0.5",
        "--team", "-o", "o.pm", "a.tsv"]
    with pytest.raises(ValueError, match="data"):
        train_args("lr", [], None, None, "o.pm")


def test_train_errors(data, tmp_path):
    with pytest.raises(pronto.TrainError, match="nonexistent.tsv: cannot open"):
        pronto.train(data=str(tmp_path / "nonexistent.tsv"))
    with pytest.raises(pronto.TrainError, match="--no-such-flag"):
        pronto.train(data=data["train"], no_such_flag=1)
    with pytest.raises(pronto.TrainError, match="kind"):
        pronto.train(kind="svm", data=data["train"])
    assert isinstance(pronto.TrainError("x"), pronto.Error)
