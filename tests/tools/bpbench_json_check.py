#!/usr/bin/python3
"""bpbench_json_check.py: checks bpbench --json reports against the key table
of bench/bpbench/json_schema.md (every key documented, of a documented type,
present or absent as documented) and recomputes what can be recomputed from
the raw samples (medians, min/max, the order-statistic interval, images/s,
speedups). Standard library only.
Usage: bpbench_json_check.py SCHEMA.md REPORT.json [REPORT.json ...]"""
import json
import math
import re
import statistics
import sys

TYPES = {"string", "integer", "number", "boolean", "object", "array", "null"}
PRESENCE = {"always", "ok", "layers", "counts", "optional"}


def load_schema(path):
    rows = {}
    row_re = re.compile(r"^\| `([^`]+)` \| ([^|]+?) \| ([a-z]+) \|")
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            m = row_re.match(line)
            if not m:
                continue
            key, types, pres = m.group(1), m.group(2), m.group(3)
            ts = {t.strip() for t in types.split(" or ")}
            if ts - TYPES or pres not in PRESENCE:
                sys.exit(f"{path}:{n}: bad type or presence in '{line.strip()}'")
            if key in rows:
                sys.exit(f"{path}:{n}: '{key}' documented twice")
            rows[key] = (ts, pres)
    if len(rows) < 50:
        sys.exit(f"{path}: only {len(rows)} key rows found; is this the schema?")
    return rows


def pattern(key):
    """A documented key as a regex over actual paths ('*' = one object key)."""
    return re.compile("^" + re.escape(key).replace(r"\*", r"[^.\[\]]+") + "$")


def parent(key):
    if key.endswith("[]"):
        return key[:-2]
    return key.rsplit(".", 1)[0] if "." in key else ""


def last(key):
    return key[:-2] if key.endswith("[]") else key.rsplit(".", 1)[-1]


def jtype(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


class Checker:
    def __init__(self, rows, name):
        self.rows = rows
        self.pats = [(k, pattern(k), v) for k, v in rows.items()]
        self.name = name
        self.errors = []

    def err(self, msg):
        self.errors.append(f"{self.name}: {msg}")

    def find(self, path):
        if path in self.rows:
            return self.rows[path]
        hits = [(k.count("*"), v) for k, p, v in self.pats if "*" in k and p.match(path)]
        return min(hits, key=lambda h: h[0])[1] if hits else None

    def walk(self, v, path, status):
        row = self.find(path)
        if row is None:
            self.err(f"'{path}' is not documented")
            return
        t = jtype(v)
        if t not in row[0] and not (t == "integer" and "number" in row[0]):
            self.err(f"'{path}' is {t}, documented as {' or '.join(sorted(row[0]))}")
            return
        if isinstance(v, dict):
            self.children(v, path, status)
        elif isinstance(v, list):
            for e in v:
                self.walk(e, path + "[]", status)

    def children(self, obj, path, status):
        if path == "sets[].backends[]":
            status = obj.get("status")
        for key, p, (ts, pres) in self.pats:
            if key.endswith("[]") or last(key) == "*" or not pattern(parent(key)).match(path):
                continue
            if path == "" and parent(key) != "":
                continue
            name = last(key)
            required = (pres == "always" or (pres == "ok" and status == "ok")
                        or (pres == "counts" and self.counts))
            forbidden = ((pres == "ok" and status != "ok")
                         or (pres == "layers" and not self.layers)
                         or (pres == "counts" and not self.counts))
            if required and name not in obj:
                self.err(f"'{path + '.' if path else ''}{name}' is missing")
            if forbidden and name in obj:
                self.err(f"'{path + '.' if path else ''}{name}' is present but documented as "
                         f"'{pres}'")
        for k, child in obj.items():
            self.walk(child, f"{path}.{k}" if path else k, status)

    def check(self, report):
        if not isinstance(report, dict):
            self.err("the report is not an object")
            return
        cfg = report.get("config", {})
        self.layers = cfg.get("layers") is True
        self.counts = cfg.get("counts") is True
        self.children(report, "", None)
        if self.errors:
            return
        self.semantics(report)

    def semantics(self, r):
        if r["schema"] != "bpbench-report" or r["schema_version"] != 2:
            self.err("schema/schema_version are not bpbench-report/2")
        if r["ok"] != (r["exit_status"] == 0):
            self.err("ok does not match exit_status")
        cfg = r["config"]
        if len(r["sets"]) != len(cfg["threads_requested"]):
            self.err("one set per --threads value expected")
        for si, s in enumerate(r["sets"]):
            if s["threads_requested"] != cfg["threads_requested"][si]:
                self.err(f"sets[{si}].threads_requested out of order")
            ok = {b["name"]: b for b in s["backends"] if b["status"] == "ok"}
            for b in ok.values():
                self.backend(b, ok, cfg, si, f"sets[{si}].{b['name']}")
            if self.layers and "layers" in s:
                if len(s["layers"]) != r["model"]["layers"]:
                    self.err(f"sets[{si}].layers has {len(s['layers'])} entries, "
                             f"model.layers is {r['model']['layers']}")

    def close(self, a, b, what, rel=1e-6):
        if a is None or b is None or not math.isclose(a, b, rel_tol=rel, abs_tol=1e-12):
            self.err(f"{what}: {a} != {b}")

    def backend(self, b, ok, cfg, si, where):
        lat = b["latency_ms"]
        xs = lat["samples"]
        want_n = 1 if b["oracle_only"] else cfg["repeat"]
        if lat["n"] != len(xs) or len(xs) != want_n:
            self.err(f"{where}: {len(xs)} samples, n {lat['n']}, expected {want_n}")
            return
        self.stat(lat, where + ".latency_ms")
        self.close(b["images_per_s"], cfg["batch"] * 1e3 / statistics.median(xs),
                   where + ".images_per_s")
        tp = b["throughput_images_per_s"]
        if cfg["streams"] and not b["oracle_only"]:
            if tp is None or tp["n"] != cfg["repeat"]:
                self.err(f"{where}: --streams without one throughput sample per round")
            else:
                self.stat(tp, where + ".throughput_images_per_s")
        elif tp is not None:
            self.err(f"{where}: throughput without --streams")
        for base, sp in b["speedups"].items():
            if base not in ok or base == b["name"]:
                if sp is not None:
                    self.err(f"{where}: speedup against {base}, which did not run here")
                continue
            if sp is None:
                self.err(f"{where}: no speedup against {base}")
                continue
            want = (statistics.median(ok[base]["latency_ms"]["samples"])
                    / statistics.median(xs))
            self.close(sp["ratio"], want, f"{where}.speedups.{base}.ratio")
            if sp["ci_low"] is not None and not sp["ci_low"] <= sp["ci_high"]:
                self.err(f"{where}.speedups.{base}: ci_low > ci_high")
        if (si == 0) != (b["scaling_vs_first_set"] is None) and not b["oracle_only"]:
            self.err(f"{where}: scaling_vs_first_set must be null exactly in sets[0]")

    def stat(self, st, where):
        xs = sorted(st["samples"])
        n = len(xs)
        self.close(st["median"], statistics.median(xs), where + ".median")
        self.close(st["min"], xs[0], where + ".min")
        self.close(st["max"], xs[-1], where + ".max")
        if n < 2:
            if st["ci_low"] is not None or st["ci_high"] is not None:
                self.err(f"{where}: an interval from one sample")
            return
        # 95% order-statistic interval: the largest k with
        # 1 - 2 P(Bin(n, 1/2) <= k-1) >= 0.95 (k = 1 if none)
        k, cov = 1, 1 - 2 * 0.5 ** n
        for kk in range(1, n // 2 + 1):
            c = 1 - 2 * sum(math.comb(n, j) for j in range(kk)) / 2 ** n
            if c < 0.95:
                break
            k, cov = kk, c
        self.close(st["ci_low"], xs[k - 1], where + ".ci_low")
        self.close(st["ci_high"], xs[n - k], where + ".ci_high")
        self.close(st["ci_level"], cov, where + ".ci_level", rel=1e-9)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rows = load_schema(sys.argv[1])
    bad = 0
    for path in sys.argv[2:]:
        with open(path, encoding="utf-8") as f:
            report = json.load(f)
        c = Checker(rows, path)
        c.check(report)
        for e in c.errors[:40]:
            print(e)
        bad += len(c.errors)
        if not c.errors:
            print(f"{path}: matches the schema ({len(rows)} documented keys)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
