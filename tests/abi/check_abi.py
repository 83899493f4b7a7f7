#!/usr/bin/env python3
"""check_abi.py: compares libbitprune's binary interface with the recorded
baseline (tests/abi/abi-baseline.txt): SONAME, exported symbols, and the
size, alignment and field layout of every public struct, status codes and
integer constants (printed by abi_dump, compiled against bitprune.h).

Any difference fails, saying for each whether it only adds (new symbols,
structs, status codes; fields appended to a struct after its previous size)
or breaks existing binaries (anything else), which needs a new soversion.
After a deliberate change, record it with

    meson compile -C build abi-baseline

which refuses to record a breaking change while the SONAME is unchanged.

Usage: check_abi.py [--update] DUMP_EXE LIBRARY HEADER BASELINE
"""
import os
import re
import subprocess
import sys

UPDATE_CMD = "meson compile -C build abi-baseline"


def current(dump, lib):
    lines = []
    out = subprocess.run(["readelf", "-d", lib], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"Library soname: \[(.*)\]", out)
    lines.append("soname " + (m.group(1) if m else "(none)"))
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    syms = sorted({ln.split()[-1] for ln in out.splitlines() if ln.strip()})
    lines += ["symbol " + s for s in syms]
    out = subprocess.run([dump], check=True, capture_output=True, text=True).stdout
    lines += [ln for ln in out.splitlines() if ln.strip()]
    return lines


def parse(lines):
    abi = {"soname": None, "symbols": set(), "structs": {}, "enums": {}, "consts": {}}
    for ln in lines:
        if not ln.strip() or ln.startswith("#"):
            continue
        w = ln.split()
        if w[0] == "soname":
            abi["soname"] = w[1]
        elif w[0] == "symbol":
            abi["symbols"].add(w[1])
        elif w[0] == "struct":
            abi["structs"][w[1]] = {"size": int(w[2]), "align": int(w[3]), "fields": []}
        elif w[0] == "field":
            st, f = w[1].split(".")
            abi["structs"][st]["fields"].append((f, int(w[2]), int(w[3])))
        elif w[0] == "enum":
            abi["enums"][w[1]] = int(w[2])
        elif w[0] == "const":
            abi["consts"][w[1]] = int(w[2])
        else:
            raise SystemExit("check_abi: cannot parse line: " + ln)
    return abi


def self_checks(abi, headers):
    """Rules the current interface must follow whatever the baseline says.
    headers: the public headers, separated by os.pathsep."""
    errs = []
    for header in headers.split(os.pathsep):
        text = open(header, encoding="utf-8").read()
        for name in re.findall(r"typedef struct (\w+) \{", text):
            if name not in abi["structs"]:
                errs.append(f"struct {name} is in {os.path.basename(header)} but not in "
                            "abi_dump.c: add it")
    for name, s in abi["structs"].items():
        f = s["fields"]
        if not f or f[0][0] != "size" or f[0][1] != 0:
            errs.append(f"struct {name} does not start with `size_t size` (the version "
                        "of a public struct is its size)")
    bad = sorted(x for x in abi["symbols"] if not x.startswith("bp_"))
    if bad:
        errs.append("exported symbols without the bp_ prefix: " + ", ".join(bad))
    return errs


def compare(old, new):
    """Lists (breaking, text) for every difference."""
    d = []
    if old["soname"] != new["soname"]:
        d.append((False, f"SONAME {old['soname']} -> {new['soname']}"))
    for s in sorted(old["symbols"] - new["symbols"]):
        d.append((True, f"symbol {s} removed"))
    for s in sorted(new["symbols"] - old["symbols"]):
        d.append((False, f"symbol {s} added"))
    for name in sorted(set(old["structs"]) | set(new["structs"])):
        o, n = old["structs"].get(name), new["structs"].get(name)
        if o is None:
            d.append((False, f"struct {name} added ({n['size']} bytes)"))
            continue
        if n is None:
            d.append((True, f"struct {name} removed"))
            continue
        if o == n:
            continue
        k = len(o["fields"])
        prefix = n["fields"][:k] == o["fields"]
        appended = n["fields"][k:]
        tail_ok = all(off >= o["size"] for _, off, _ in appended)
        if prefix and tail_ok and n["size"] >= o["size"] and n["align"] == o["align"]:
            d.append((False, f"struct {name}: fields appended "
                      f"({', '.join(f for f, _, _ in appended)}), size {o['size']} -> "
                      f"{n['size']}"))
        else:
            why = []
            if not prefix:
                for a, b in zip(o["fields"], n["fields"]):
                    if a != b:
                        why.append(f"field {a[0]} (offset {a[1]}, {a[2]} bytes) is now "
                                   f"{b[0]} (offset {b[1]}, {b[2]} bytes)")
                        break
                else:
                    why.append("fields removed")
            elif not tail_ok:
                why.append("a new field lies inside the old size (tail padding)")
            if n["size"] < o["size"]:
                why.append(f"size {o['size']} -> {n['size']}")
            if n["align"] != o["align"]:
                why.append(f"alignment {o['align']} -> {n['align']}")
            d.append((True, f"struct {name}: " + "; ".join(why)))
    for kind in ("enums", "consts"):
        for name in sorted(set(old[kind]) | set(new[kind])):
            a, b = old[kind].get(name), new[kind].get(name)
            if a == b:
                continue
            if a is None:
                d.append((False, f"{kind[:-1]} {name} = {b} added"))
            else:
                d.append((True, f"{kind[:-1]} {name}: {a} -> {b}"))
    return d


def main(argv):
    update = argv[:1] == ["--update"]
    if update:
        argv = argv[1:]
    if len(argv) != 4:
        print(__doc__)
        return 2
    dump, lib, header, baseline = argv
    lines = current(dump, lib)
    new = parse(lines)
    errs = self_checks(new, header)
    for e in errs:
        print("check_abi: FAIL: " + e)
    try:
        old = parse(open(baseline, encoding="utf-8").read().splitlines())
    except FileNotFoundError:
        old = None
    diffs = compare(old, new) if old else [(False, "no baseline recorded yet")]
    breaking = [t for b, t in diffs if b]
    for b, t in diffs:
        print(f"check_abi: {'BREAKS old binaries' if b else 'adds'}: {t}")
    if update:
        if errs:
            return 1
        if breaking and old and old["soname"] == new["soname"]:
            print(f"check_abi: refusing to record a breaking change under the same SONAME "
                  f"{new['soname']}: bump soversion in engine/meson.build (README.md, "
                  "\"ABI and SONAME policy\")")
            return 1
        with open(baseline, "w", encoding="utf-8") as f:
            f.write("# libbitprune binary interface, written by tests/abi/check_abi.py.\n"
                    f"# Regenerate after a deliberate change: {UPDATE_CMD}\n")
            f.write("\n".join(lines) + "\n")
        print(f"check_abi: wrote {baseline} ({len(lines)} lines)")
        return 0
    if errs:
        return 1
    if diffs:
        if breaking:
            print("check_abi: FAIL: the interface breaks binaries built against the "
                  "baseline; that needs a new soversion (engine/meson.build, README.md "
                  f"\"ABI and SONAME policy\"), then: {UPDATE_CMD}")
        else:
            print("check_abi: FAIL: the interface changed (compatibly); if that is "
                  f"intended, record it: {UPDATE_CMD}")
        return 1
    print(f"check_abi: OK ({len(new['symbols'])} symbols, {len(new['structs'])} structs, "
          f"SONAME {new['soname']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
