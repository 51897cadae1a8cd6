"""pronto from Python: score with trained models in-process (over
libpronto.so), train them, fit them in scikit-learn, and talk to a
``pronto serve``. docs/python.md is the guide.

    import pronto
    model = pronto.Model.load("ctr.pm")
    p = model.predict([{"I1": 3, "I2": None, ..., "C26": "0"}])  # every column; numpy float64

    model = pronto.train(kind="ffm", data="train.tsv", valid="valid.tsv")
    client = pronto.Client("http://127.0.0.1:8080")

The library is loaded on first use (``pronto.library_path()`` says which;
``$PRONTO_LIBRARY`` chooses one); a library of another ABI is refused.
"""

from ._lib import (ABI_VERSION, Error, FormatError, InputError, LibraryError,
                   library_path, version)
from .client import Client, ClientError, ConnectionFailed, HTTPError
from .model import Model
from .train import TrainError, pronto_binary, train

__version__ = "0.1.0"

__all__ = ["ABI_VERSION", "Client", "ClientError", "ConnectionFailed", "Error",
           "FormatError", "HTTPError", "InputError", "LibraryError", "Model",
           "TrainError", "library_path", "pronto_binary", "train", "version"]
