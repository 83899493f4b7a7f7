"""Finds and opens libbitprune with cffi in ABI mode (no compiler needed):
$BITPRUNE_LIBRARY, else the library installed with this package (the path
recorded at install time, relative to the package), else the system loader."""
import os

import cffi

_HERE = os.path.dirname(os.path.abspath(__file__))
SONAME = "libbitprune.so.0"

ffi = cffi.FFI()
with open(os.path.join(_HERE, "_cdef.h"), encoding="utf-8") as _f:
    ffi.cdef(_f.read())


def _candidates():
    env = os.environ.get("BITPRUNE_LIBRARY")
    if env:
        return [env], "BITPRUNE_LIBRARY=" + env
    paths = []
    try:
        from . import _install  # written by meson install
        paths.append(os.path.normpath(os.path.join(_HERE, _install.LIBDIR_FROM_PACKAGE,
                                                   SONAME)))
    except ImportError:
        pass
    paths.append(os.path.join(_HERE, SONAME))
    found = [p for p in paths if os.path.exists(p)]
    return found + [SONAME], "next to the package, then the system loader"


def _open():
    paths, where = _candidates()
    errors = []
    for p in paths:
        try:
            return ffi.dlopen(p), p
        except OSError as e:
            errors.append(f"{p}: {e}")
    raise ImportError(f"bitprune: cannot load {SONAME} ({where}): " + "; ".join(errors))


lib, path = _open()
