"""bitprune.Error and its subclasses, one per family of bp_status codes. Each
carries the status (an int), its name and the library's message."""
from ._library import ffi, lib


class Error(Exception):
    """A failed libbitprune call: .status (negative int), .status_name and
    .message (bp_last_error() at the time of the failure)."""

    def __init__(self, status, message):
        self.status = int(status)
        self.status_name = ffi.string(lib.bp_status_string(self.status)).decode()
        self.message = message
        super().__init__(f"{message} [{self.status_name}]")


class InvalidArgumentError(Error, ValueError):
    """BP_ERR_INVALID_ARG: a bad option, name, dtype or argument."""


class OutOfMemoryError(Error, MemoryError):
    """BP_ERR_NOMEM."""


class FileError(Error, OSError):
    """BP_ERR_IO: the model file could not be opened or read."""


class FormatError(Error, ValueError):
    """BP_ERR_TRUNCATED .. BP_ERR_BAD_META: the .bp data is not valid."""


class LimitError(Error, ValueError):
    """BP_ERR_LIMIT: a documented limit was exceeded."""


class ShapeError(Error, ValueError):
    """BP_ERR_SHAPE: an input or output does not have the session's shape."""


class UnsupportedError(Error):
    """BP_ERR_UNSUPPORTED: op, ISA or backend not available here."""


class BackendError(Error):
    """BP_ERR_BACKEND: the backend library (oneDNN) failed."""


class StateError(Error):
    """BP_ERR_STATE: a closed or freed model or session was used."""


_BY_STATUS = {
    lib.BP_ERR_INVALID_ARG: InvalidArgumentError,
    lib.BP_ERR_NOMEM: OutOfMemoryError,
    lib.BP_ERR_IO: FileError,
    lib.BP_ERR_LIMIT: LimitError,
    lib.BP_ERR_SHAPE: ShapeError,
    lib.BP_ERR_UNSUPPORTED: UnsupportedError,
    lib.BP_ERR_BACKEND: BackendError,
    lib.BP_ERR_STATE: StateError,
}


def error_for(status, message=None):
    """The exception for a status; message defaults to bp_last_error()."""
    if message is None:
        message = ffi.string(lib.bp_last_error()).decode(errors="replace")
    status = int(status)
    if lib.BP_ERR_BAD_META <= status <= lib.BP_ERR_TRUNCATED:
        cls = FormatError
    else:
        cls = _BY_STATUS.get(status, Error)
    return cls(status, message)


def check(status):
    """Raises the matching Error for a failed bp_status."""
    if status != lib.BP_OK:
        raise error_for(status)
