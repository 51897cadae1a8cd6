"""libpronto.so through ctypes: finding it, checking its ABI, the C
prototypes, and pr_err turned into Python exceptions.

The library is loaded once, on first use (so ``pronto.Client``, which is
plain HTTP, works without it). Where it is looked for, in order:

1. ``$PRONTO_LIBRARY`` (a path), and nothing else when it is set;
2. beside the package: ``pronto/libpronto.so.<ABI>``, then the ``lib``
   folder of the prefix the package is installed under
   (``PREFIX/lib/python3/dist-packages/pronto`` -> ``PREFIX/lib/<multiarch>``
   as Debian's layout and pronto's install put it, then ``PREFIX/lib``);
3. the source tree's ``build/`` (``python/pronto`` -> ``build``);
4. the dynamic loader's search by SONAME (``LD_LIBRARY_PATH``, the ldconfig
   cache), then any libpronto ldconfig knows (so that one of another ABI
   is refused with a message rather than reported missing).

A library whose ``pr_abi_version()`` is not ``ABI_VERSION`` is refused with
``LibraryError`` naming both numbers and the path.

ctypes releases the GIL around every call into a ``CDLL``, so scoring and
the other C calls let other Python threads run.
"""

import ctypes
import ctypes.util
import os
import sysconfig
import threading

#: The ABI of libpronto.so this package is written for (PR_ABI_VERSION).
ABI_VERSION = 2

PR_ERR_MSG_MAX = 512

# PR_STATUS_LIST in include/pronto/base.h (append-only, never renumbered).
STATUS_NAMES = {
    0: "PR_OK", 1: "PR_EOF", 2: "PR_ERR_IO", 3: "PR_ERR_NOMEM",
    4: "PR_ERR_PARSE", 5: "PR_ERR_INVALID", 6: "PR_ERR_FORMAT",
    7: "PR_ERR_VERSION", 8: "PR_ERR_CHECKSUM", 9: "PR_ERR_TRUNCATED",
    10: "PR_ERR_LIMIT", 11: "PR_ERR_NOTFOUND", 12: "PR_ERR_SPEC",
    13: "PR_ERR_LABEL", 14: "PR_ERR_UNSUPPORTED",
}


class Error(Exception):
    """An error reported by pronto: ``str(e)`` is pronto's message,
    ``e.status`` its status name (``"PR_ERR_PARSE"``...)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.message = message
        self.status = status


class InputError(Error, ValueError):
    """Rows pronto could not read (PR_ERR_PARSE, PR_ERR_INVALID,
    PR_ERR_LIMIT): also a ValueError."""


class FormatError(Error):
    """A model file that is not one, is corrupt or cut, or of a newer
    format (PR_ERR_FORMAT, PR_ERR_VERSION, PR_ERR_CHECKSUM,
    PR_ERR_TRUNCATED, PR_ERR_SPEC, PR_ERR_UNSUPPORTED)."""


class LibraryError(Error, ImportError):
    """libpronto.so could not be found or loaded, or is of another ABI."""


_INPUT = {"PR_ERR_PARSE", "PR_ERR_INVALID", "PR_ERR_LIMIT", "PR_ERR_LABEL"}
_FORMAT = {"PR_ERR_FORMAT", "PR_ERR_VERSION", "PR_ERR_CHECKSUM",
           "PR_ERR_TRUNCATED", "PR_ERR_SPEC", "PR_ERR_UNSUPPORTED"}


class PrErr(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int),
                ("msg", ctypes.c_char * PR_ERR_MSG_MAX)]


class PrBytes(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def raise_for(status, err, rewrite=None):
    """Raises the exception for a failed call (status != 0) from its
    pr_err; rewrite(message) may adjust the message first."""
    name = STATUS_NAMES.get(status, "PR_STATUS_%d" % status)
    msg = err.msg.decode("utf-8", "replace") or name
    if rewrite is not None:
        msg = rewrite(msg)
    if name in _INPUT:
        raise InputError(msg, name)
    if name in _FORMAT:
        raise FormatError(msg, name)
    raise Error(msg, name)


_lock = threading.Lock()
_lib = None
_path = None


def _candidates():
    so = "libpronto.so.%d" % ABI_VERSION
    env = os.environ.get("PRONTO_LIBRARY")
    if env:
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    prefix_lib = os.path.join(here, "..", "..", "..")
    multiarch = sysconfig.get_config_var("MULTIARCH")  # Debian: x86_64-linux-gnu
    paths = [os.path.join(here, so)]
    if multiarch:
        paths.append(os.path.normpath(os.path.join(prefix_lib, multiarch, so)))
    paths += [os.path.normpath(os.path.join(prefix_lib, so)),
              os.path.normpath(os.path.join(here, "..", "..", "build", so))]
    paths = [p for p in paths if os.path.exists(p)]
    paths.append(so)
    return paths, False


def _declare(lib):
    c = ctypes
    vp = c.c_void_p
    sigs = {
        "pr_abi_version": (c.c_int, []),
        "pr_version": (c.c_char_p, []),
        "pr_status_str": (c.c_char_p, [c.c_int]),
        "pr_predictor_open": (c.c_int, [c.c_char_p, c.POINTER(vp), c.POINTER(PrErr)]),
        "pr_predictor_close": (None, [vp]),
        "pr_predictor_n_columns": (c.c_uint32, [vp]),
        "pr_predictor_column": (c.c_char_p, [vp, c.c_uint32]),
        "pr_predictor_score": (c.c_int, [vp, vp, c.c_size_t, vp, c.POINTER(PrErr)]),
        "pr_predictor_info": (c.c_char_p, [vp]),
        "pr_predictor_kind": (c.c_char_p, [vp]),
        "pr_model_load": (c.c_int, [c.c_char_p, c.POINTER(vp), c.POINTER(PrErr)]),
        "pr_model_free": (None, [vp]),
        "pr_profile_of_model": (c.c_int, [vp, c.POINTER(vp), c.POINTER(PrErr)]),
        "pr_profile_render": (c.c_int, [vp, c.c_int, c.POINTER(vp), c.POINTER(PrErr)]),
        "pr_profile_free": (None, [vp]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args


def _mapped_path(name):
    """The file the loader mapped for a library loaded by name."""
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and os.path.basename(parts[5]).startswith("libpronto.so"):
                    return parts[5]
    except OSError:
        pass
    return name


def _open(path):
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        return None, str(e)
    try:
        abi_fn = lib.pr_abi_version
    except AttributeError:
        raise LibraryError("%s is not libpronto: it has no pr_abi_version()" % path)
    abi_fn.restype = ctypes.c_int
    abi_fn.argtypes = []
    abi = abi_fn()
    if abi != ABI_VERSION:
        raise LibraryError(
            "%s is libpronto of ABI %d; this pronto package needs ABI %d "
            "(libpronto.so.%d): install the matching library or point "
            "PRONTO_LIBRARY at it" % (path, abi, ABI_VERSION, ABI_VERSION))
    _declare(lib)
    return lib, None


def lib():
    """The loaded library (loading it on first call)."""
    global _lib, _path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        paths, from_env = _candidates()
        tried = []
        for p in paths:
            handle, why = _open(p)
            if handle is not None:
                _path = p if os.path.sep in p else _mapped_path(p)
                _lib = handle
                return _lib
            tried.append("%s (%s)" % (p, why))
        if not from_env:
            other = ctypes.util.find_library("pronto")
            if other:
                handle, why = _open(other)  # raises for another ABI
                if handle is not None:
                    _path, _lib = _mapped_path(other), handle
                    return _lib
                tried.append("%s (%s)" % (other, why))
        raise LibraryError(
            "cannot load libpronto.so.%d; tried: %s. Set PRONTO_LIBRARY to "
            "its path, or install pronto" % (ABI_VERSION, "; ".join(tried)))


_libc_free = None


def profile_json(path):
    """The reference profile of the model file at path as JSON text (what
    ``pronto inspect --profile --json`` prints), or None when the model
    has none. Loads the model for the call (pr_model_load)."""
    global _libc_free
    lb = lib()
    if _libc_free is None:
        _libc_free = ctypes.CDLL(None).free
        _libc_free.argtypes = [ctypes.c_void_p]
        _libc_free.restype = None
    err = PrErr()
    model, prof, text = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
    try:
        st = lb.pr_model_load(os.fsencode(path), ctypes.byref(model), ctypes.byref(err))
        if st != 0:
            raise_for(st, err)
        st = lb.pr_profile_of_model(model, ctypes.byref(prof), ctypes.byref(err))
        if st != 0:
            raise_for(st, err)
        if not prof.value:
            return None
        st = lb.pr_profile_render(prof, 1, ctypes.byref(text), ctypes.byref(err))
        if st != 0:
            raise_for(st, err)
        return ctypes.string_at(text.value).decode("utf-8")
    finally:
        if text.value:
            _libc_free(text)
        lb.pr_profile_free(prof)
        lb.pr_model_free(model)


def library_path():
    """Path of the libpronto.so in use (loading it if needed)."""
    lib()
    return _path


def version():
    """The version of the loaded libpronto ("0.1.0")."""
    return lib().pr_version().decode()
