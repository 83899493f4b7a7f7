"""bitprune: Python binding of libbitprune, multiplication-less inference of
bit-pruned networks (cffi in ABI mode: no compiler needed at import).

    import numpy as np, bitprune
    model = bitprune.Model.load("net.bp")
    session = bitprune.Session(model, backend="bitplane", threads=2, batch=1)
    logits = session.run(np.zeros(session.input_shapes[0], np.float32))

The library is $BITPRUNE_LIBRARY, else the one installed with this package,
else libbitprune.so.0 from the system loader (bitprune.library_path says
which)."""
from ._library import ffi as _ffi, lib as _lib, path as library_path
from .errors import (BackendError, Error, FileError, FormatError, InvalidArgumentError,
                     LimitError, OutOfMemoryError, ShapeError, StateError, UnsupportedError)
from .model import Model, TensorInfo
from .session import Session

__version__ = _ffi.string(_lib.bp_version_string()).decode()

__all__ = ["Model", "Session", "TensorInfo", "backends", "Error", "InvalidArgumentError",
           "OutOfMemoryError", "FileError", "FormatError", "LimitError", "ShapeError",
           "UnsupportedError", "BackendError", "StateError", "library_path", "__version__"]


def backends():
    """Names of the backends built into the loaded library."""
    return [_ffi.string(_lib.bp_backend_name(i)).decode()
            for i in range(_lib.bp_backend_count())]
