"""pronto.train: trains a model by running the ``pronto train`` command
(``pronto train --help`` lists every flag), then loads the model it wrote.

Why the command and not pr_train through the library: pr_train takes a
featurizer, a model built from parameters and a pr_train_opts struct whose
layout would be copied here by hand, and the command's defaults (the
shipped Criteo spec, the passes by kind, the parameters the spec and flags
decide) live in the CLI. Running the command trains exactly what
``pronto train`` trains with the same flags, and in another process: the
GIL is free while it runs, and a crash in training cannot take the Python
process down. The cost is one process start (a few milliseconds).

Which ``pronto``: ``$PRONTO_BIN``, else the one beside the libpronto.so in
use (a build tree), else the first on ``PATH``.
"""

import os
import shutil
import subprocess
import tempfile

from . import _lib
from .model import Model


class TrainError(_lib.Error):
    """``pronto train`` failed: the message is its error output."""


def pronto_binary():
    """Path of the ``pronto`` command train() runs."""
    env = os.environ.get("PRONTO_BIN")
    if env:
        return env
    try:
        beside = os.path.join(os.path.dirname(_lib.library_path()), "pronto")
        if os.path.isfile(beside) and os.access(beside, os.X_OK):
            return beside
    except _lib.LibraryError:
        pass
    found = shutil.which("pronto")
    if not found:
        raise _lib.Error("no pronto command: set PRONTO_BIN or put pronto on PATH")
    return found


def _flag(name):
    name = name.rstrip("_")  # lambda_ -> lambda
    return "--" + name.replace("_", "-")


def train_args(kind="lr", data=(), spec=None, valid=None, output=None, **params):
    """The command line train() runs (without the binary)."""
    if isinstance(data, (str, os.PathLike)):
        data = [data]
    data = [os.fspath(d) for d in data]
    if not data:
        raise ValueError("data: expected one or more training files")
    args = ["train", "--kind", str(kind), "-q"]
    if spec is not None:
        args += ["--spec", os.fspath(spec)]
    if valid is not None:
        args += ["--valid", os.fspath(valid)]
    for k, v in sorted(params.items()):
        if v is None or v is False:
            continue
        if v is True:
            args.append(_flag(k))
        else:
            args += [_flag(k), str(v)]
    args += ["-o", os.fspath(output)] + data
    return args


def train(kind="lr", data=(), spec=None, valid=None, output=None, **params):
    """Trains a model and returns it loaded (a pronto.Model).

    kind: "lr", "ffm" or "fm". data: a training file or a list of them (any
    format ``pronto train`` reads; the spec's ``input.format``, else
    Criteo TSV). spec: a feature spec YAML file (default: the shipped
    Criteo spec). valid: a validation file (per-pass log loss, early
    stopping). output: where the model file goes (default: a temporary
    file, removed once loaded: the model lives in memory). Every other
    keyword is a flag of ``pronto train``: ``threads=1`` is ``--threads 1``,
    ``neg_sample=0.5`` is ``--neg-sample 0.5``, ``lambda_=1e-4`` is
    ``--lambda 1e-4``, ``team=True`` is ``--team``.

    Raises TrainError carrying the command's message on failure.
    """
    tmpdir = None
    if output is None:
        tmpdir = tempfile.mkdtemp(prefix="pronto-train-")
        out = os.path.join(tmpdir, "model.pm")
    else:
        out = os.fspath(output)
    try:
        args = [pronto_binary()] + train_args(kind, data, spec, valid, out, **params)
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if proc.returncode != 0:
            msg = proc.stderr.decode("utf-8", "replace").strip()
            raise TrainError(msg or "pronto train exited %d" % proc.returncode,
                             "exit %d" % proc.returncode)
        return Model.load(out)
    finally:
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
