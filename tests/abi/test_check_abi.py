#!/usr/bin/env python3
"""Unit test of check_abi.py's comparison: which layout changes it calls
additions and which it calls breaking, on hand-written interfaces."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_abi  # noqa: E402

BASE = """soname libbitprune.so.0
symbol bp_a
symbol bp_b
struct bp_x 24 8
field bp_x.size 0 8
field bp_x.p 8 8
field bp_x.n 16 4
enum BP_OK 0
const BP_MAX_DIMS 6
"""


def diff(text):
    old = check_abi.parse(BASE.splitlines())
    new = check_abi.parse(text.splitlines())
    return check_abi.compare(old, new)


def breaking(text):
    d = diff(text)
    assert d, "no difference found"
    return any(b for b, _ in d)


def main():
    cases = 0
    assert diff(BASE) == []
    # additions
    assert not breaking(BASE + "symbol bp_c\n")
    assert not breaking(BASE + "enum BP_ERR_NEW -17\n")
    assert not breaking(BASE + "struct bp_y 16 8\nfield bp_y.size 0 8\nfield bp_y.q 8 8\n")
    appended = BASE.replace("struct bp_x 24 8", "struct bp_x 32 8") + "field bp_x.m 24 8\n"
    assert not breaking(appended)
    cases += 5
    # breaking
    assert breaking(BASE.replace("symbol bp_b\n", ""))
    in_padding = BASE + "field bp_x.m 20 4\n"  # inside the old 24 bytes
    assert breaking(in_padding)
    assert breaking(BASE.replace("field bp_x.n 16 4", "field bp_x.n 16 8")
                    .replace("struct bp_x 24 8", "struct bp_x 32 8"))
    assert breaking(BASE.replace("field bp_x.p 8 8\nfield bp_x.n 16 4",
                                 "field bp_x.n 8 4\nfield bp_x.p 16 8"))
    assert breaking(BASE.replace("struct bp_x 24 8", "struct bp_x 24 16"))
    assert breaking(BASE.replace("const BP_MAX_DIMS 6", "const BP_MAX_DIMS 8"))
    assert breaking(BASE.replace("enum BP_OK 0", "enum BP_OK 1"))
    assert breaking("\n".join(ln for ln in BASE.splitlines() if "bp_x" not in ln))
    cases += 8
    # a struct without a leading size field is refused whatever the baseline
    nosize = check_abi.parse("struct bp_z 8 8\nfield bp_z.q 0 8\n".splitlines())
    hdr = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "engine",
                       "include", "bitprune.h")
    errs = check_abi.self_checks(nosize, hdr)
    assert any("bp_z does not start with `size_t size`" in e for e in errs), errs
    assert any("not in abi_dump.c" in e for e in errs), errs
    cases += 1
    print(f"test_check_abi: OK ({cases} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
