#!/usr/bin/python3
"""Counts test cases across meson testlog.json files (one per build or test
setup), prints each file's counts and the closing line "N passed, N failed". A cmocka test contributes its own case counts; any
other test counts as one case. A test that crashed after cmocka printed counts
as a failure too."""
import json
import re
import sys

PASSED = re.compile(r"^\[  PASSED  \] (\d+) test", re.M)
FAILED = re.compile(r"^\[  FAILED  \] (\d+) test", re.M)


def count(lines):
    """(passed, failed) cases of one testlog.json."""
    passed = failed = 0
    for line in lines:
        t = json.loads(line)
        out = (t.get("stdout") or t.get("stdo") or "") + "\n" + (t.get("stderr") or "")
        ok = t.get("result") in ("OK", "EXPECTEDFAIL", "SKIP")
        p = sum(int(n) for n in PASSED.findall(out))
        f = sum(int(n) for n in FAILED.findall(out))
        if p or f:
            passed += p
            failed += f
            if not ok and f == 0:
                failed += 1  # died or leaked after its cases passed
        elif t.get("result") == "SKIP":
            continue
        elif ok:
            passed += 1
        else:
            failed += 1
    return passed, failed


def main(paths):
    passed = failed = 0
    for path in paths:
        try:
            lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
        except OSError as e:
            print(f"test_summary: {e}", file=sys.stderr)
            failed += 1
            continue
        p, f = count(lines)
        print(f"  {path}: {p} passed, {f} failed")
        passed += p
        failed += f
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
