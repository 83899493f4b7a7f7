"""The binding's cdef cannot drift from bitprune.h: it is what
gen_cdef.py makes of the header, and cffi's layout of every struct equals
the recorded ABI baseline (tests/abi/abi-baseline.txt, made by the C
compiler)."""
import os
import re
import subprocess
import sys

import pytest

import bitprune
from bitprune._library import ffi, lib

ROOT = os.environ.get("BITPRUNE_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEADER = os.path.join(ROOT, "engine", "include", "bitprune.h")
BASELINE = os.path.join(ROOT, "tests", "abi", "abi-baseline.txt")


def test_cdef_matches_header():
    cdef = os.path.join(os.path.dirname(bitprune.__file__), "_cdef.h")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "python", "gen_cdef.py"), "--check",
                        HEADER, cdef], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_struct_layouts_match_the_c_compiler():
    structs = {}
    for ln in open(BASELINE, encoding="utf-8"):
        w = ln.split()
        if w and w[0] == "struct":
            structs[w[1]] = (int(w[2]), {})
        elif w and w[0] == "field":
            s, f = w[1].split(".")
            structs[s][1][f] = (int(w[2]), int(w[3]))
    # the structs of bitprune.h, the header the binding wraps (the baseline
    # also holds bitprune_builder.h's)
    declared = set(re.findall(r"typedef struct (\w+) \{", open(HEADER, encoding="utf-8").read()))
    assert len(declared) >= 9 and declared <= set(structs)
    for name in sorted(declared):
        size, fields = structs[name]
        assert ffi.sizeof(name) == size, name
        cfields = dict(ffi.typeof(name).fields)
        assert set(cfields) == set(fields), name
        for f, (off, sz) in fields.items():
            assert ffi.offsetof(name, f) == off, (name, f)
            assert ffi.sizeof(cfields[f].type) == sz, (name, f)


def test_version():
    # the project version meson builds (BITPRUNE_VERSION, set by the meson
    # test), as the library reports it through the binding
    want = os.environ.get("BITPRUNE_VERSION")
    if not want:
        pytest.skip("BITPRUNE_VERSION not set (run through meson test)")
    assert bitprune.__version__ == want
