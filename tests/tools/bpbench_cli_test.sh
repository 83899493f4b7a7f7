#!/usr/bin/env bash
# bpbench_cli_test.sh: the bpbench and bpmicro command lines: --help and
# --version before any work, one-line usage errors (exit 2), ISAs the CPU
# lacks, and bpbench end to end on a small model: its JSON checked against
# bench/bpbench/json_schema.md, the capped oneDNN child, throughput streams,
# a thread sweep, the per-layer SVG, output-file errors.
# Usage: bpbench_cli_test.sh BPTOOL BPBENCH BPMICRO SCHEMA.md JSON_CHECKER
set -u
BPTOOL=$1
BPBENCH=$2
BPMICRO=$3
SCHEMA=$4
CHECK=$5
PY=/usr/bin/python3
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    fails=$((fails + 1))
}
# run CODE DESC CMD... : runs CMD, checks its exit code; keeps stdout/stderr
run() {
    local want=$1 desc=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    local got=$?
    if [ "$got" = "$want" ]; then
        ok "$desc"
        return 0
    fi
    notok "$desc: exit $got, want $want"
    sed 's/^/#   stdout: /' "$T/out" | tail -n 5
    sed 's/^/#   stderr: /' "$T/err" | tail -n 8
    return 1
}
# has FILE PATTERN DESC (grep -E)
has() {
    if grep -Eq -- "$2" "$1"; then ok "$3"; else
        notok "$3: /$2/ not in $(basename "$1")"
        sed 's/^/#   /' "$1" | tail -n 5
    fi
}
hasnt() {
    if grep -Eq -- "$2" "$1"; then
        notok "$3: /$2/ found in $(basename "$1")"
    else ok "$3"; fi
}
# usage PROG DESC ARGS... : exit 2, stdout empty, stderr one line that names
# PROG once and says "try --help"
usage() {
    local prog=$1 desc=$2 bin
    shift 2
    bin=$BPBENCH
    [ "$prog" = bpmicro ] && bin=$BPMICRO
    run 2 "$prog $desc: exit 2" "$bin" "$@" || return
    local lines names
    lines=$(wc -l <"$T/err")
    names=$(grep -o "$prog" "$T/err" | wc -l)
    if [ "$lines" = 1 ] && [ "$names" = 1 ] && grep -q 'try --help' "$T/err" && [ ! -s "$T/out" ]; then
        ok "$prog $desc: one line naming $prog once: $(cat "$T/err")"
    else
        notok "$prog $desc: want one stderr line naming $prog once with 'try --help'"
        sed 's/^/#   stderr: /' "$T/err"
    fi
}

arch=$(uname -m)
case "$arch" in
    x86_64) lacking=neon ;;
    *) lacking=avx2 ;;
esac

# ---- help and version: no work first ----
run 0 "bpbench --help" "$BPBENCH" --help
has "$T/out" "^usage: bpbench --model FILE" "bpbench --help prints the usage"
has "$T/out" "^Exit status: 0 success; 1 error" "bpbench --help documents the exit statuses"
has "$T/out" "--repeat R" "bpbench --help documents --repeat"
run 0 "bpbench --help wins over a missing model" "$BPBENCH" --model "$T/nosuch.bp" --bogus --help
run 0 "bpbench --version" "$BPBENCH" --version
has "$T/out" "^bpbench [0-9]+\.[0-9]+\.[0-9]+ \(commit [^,]+, [^)]+\)$" "bpbench --version: version, commit, compiler"
run 0 "bpmicro --help" "$BPMICRO" --help --shapes="$T/nosuch"
has "$T/out" "^usage: bpmicro" "bpmicro --help prints the usage"
hasnt "$T/out" "^bpmicro: (ceiling probe|proximal map)" "bpmicro --help does no work (no probe, no shapes)"
run 0 "bpmicro --version" "$BPMICRO" --version
has "$T/out" "^bpmicro [0-9]+\.[0-9]+\.[0-9]+ \(commit [^)]+\)$" "bpmicro --version: version and commit"

# ---- usage errors ----
usage bpbench "without arguments"
usage bpbench "unknown option" --model m.bp --fast
usage bpbench "stray argument" --model m.bp extra
usage bpbench "option without its value" --model
usage bpbench "--threads 1,,2" --model m.bp --threads 1,,2
usage bpbench "--threads 1," --model m.bp --threads 1,
usage bpbench "--threads x" --model m.bp --threads x
usage bpbench "--repeat 0" --model m.bp --repeat 0
usage bpbench "--iters 0" --model m.bp --iters 0
usage bpbench "--streams 0" --model m.bp --streams 0
usage bpbench "--batch 0" --model m.bp --batch 0
usage bpbench "--seed -1" --model m.bp --seed -1
usage bpbench "--noise-threshold 0" --model m.bp --noise-threshold 0
usage bpbench "--onednn-cap sse9" --model m.bp --onednn-cap sse9
usage bpbench "--backend gpu" --model m.bp --backend gpu
usage bpbench "--isa sse9" --model m.bp --isa sse9
usage bpbench "--isa $lacking (not on this CPU)" --model m.bp --isa "$lacking"
usage bpmicro "unknown option" --bogus
usage bpmicro "stray argument" extra
usage bpmicro "--min_time=x" --min_time=x
usage bpmicro "--probe_seconds=0" --probe_seconds=0
usage bpmicro "--isa=sse9" --isa=sse9
usage bpmicro "--isa=$lacking (not on this CPU)" --isa="$lacking"

# ---- bpbench end to end ----
M=$T/m.bp
run 0 "gen a small model" "$BPTOOL" gen resnet18-cifar --input 16x16 --prune bit --lambda 1 \
    --sparsity 0.5 --calib 1 --seed 5 -q -o "$M" || { echo "# $((n - fails)) passed, $fails failed"; exit 1; }

run 0 "all backends, --layers, --json, --plot-layers" "$BPBENCH" --model "$M" --threads 1 \
    --repeat 6 --warmup 0 --onednn-cap none --layers --json "$T/a.json" --plot-layers "$T/a.svg"
cp "$T/out" "$T/a.txt"
has "$T/a.txt" "^engines: .*AVX2|^engines: .*NEON" "the headline lists the CPU's engines"
has "$T/a.txt" "^used: bitplane " "the headline says which engine each backend used"
has "$T/a.txt" "^latency at 1 thread," "latency table"
has "$T/a.txt" "^bitplane .* 6 [0-9.]+ \[[0-9.]+, [0-9.]+\] " "latency median with its interval"
has "$T/a.txt" "^speedup at 1 thread" "speedup table"
has "$T/a.txt" "^bitplane +[0-9.]+x \[[0-9.]+, [0-9.]+\]" "speedups carry an interval"
has "$T/a.txt" "^per layer at 1 thread" "per-layer table"
run 0 "the JSON matches json_schema.md" "$PY" "$CHECK" "$SCHEMA" "$T/a.json"
run 0 "the JSON: every engine backend, no capped row, raw samples" "$PY" - "$T/a.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
names = [b["name"] for b in j["sets"][0]["backends"]]
assert names == ["reference", "bitplane", "csr", "onednn-int8", "onednn-f32"], names
assert j["config"]["onednn_cap"]["run"] is False
b = {x["name"]: x for x in j["sets"][0]["backends"]}
assert len(b["bitplane"]["latency_ms"]["samples"]) == 6
assert b["reference"]["oracle_only"] and b["reference"]["latency_ms"]["n"] == 1
assert b["bitplane"]["agreement"]["bit_exact"] and b["csr"]["agreement"]["bit_exact"]
assert len(j["sets"][0]["layers"]) == j["model"]["layers"]
assert j["git_commit"] and j["timestamp"].endswith("Z")
PY
run 0 "the SVG is well-formed with one bar per profiled backend" "$PY" - "$T/a.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg"
texts = [t.text or "" for t in root.iter(ns + "text")]
assert "time per run (ms)" in texts, texts
for b in ("bitplane", "csr", "onednn-int8", "onednn-f32"):
    assert b in texts, b
segs = [r for r in root.iter(ns + "rect") if r.find(ns + "title") is not None]
assert len(segs) >= 4 * 21, len(segs)
PY
if command -v rsvg-convert >/dev/null; then
    run 0 "rsvg-convert renders the SVG" rsvg-convert -o "$T/a.png" "$T/a.svg"
fi

if grep -qw avx2 /proc/cpuinfo 2>/dev/null && [ "$arch" = x86_64 ]; then
    run 0 "capped child, streams, thread sweep" "$BPBENCH" --model "$M" --threads 1,2 \
        --streams 2 --repeat 3 --warmup 0 --backend bitplane,onednn-int8 --onednn-cap avx2 \
        --no-counts --json "$T/b.json"
    cp "$T/out" "$T/b.txt"
    has "$T/b.txt" "^onednn-int8-capped +avx2 " "the capped row is labelled with the ISA it ran"
    has "$T/b.txt" "^throughput: 2 concurrent sessions" "throughput table"
    has "$T/b.txt" "^thread sweep" "thread-sweep table"
    run 0 "the sweep JSON matches json_schema.md" "$PY" "$CHECK" "$SCHEMA" "$T/b.json"
    run 0 "the capped child really ran at AVX2, the parent at its best ISA" "$PY" - "$T/b.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert [s["threads_requested"] for s in j["sets"]] == [1, 2]
for s in j["sets"]:
    b = {x["name"]: x for x in s["backends"]}
    cap, best = b["onednn-int8-capped"], b["onednn-int8"]
    assert cap["status"] == "ok" and cap["onednn_isa"] == "avx2", cap.get("onednn_isa")
    assert best["onednn_isa"] == j["machine"]["onednn_isa"]
    impl = [k["kernel"] for k in cap["kernels"] if k["kernel"] != "float"]
    assert impl and not any("avx512" in k or "amx" in k for k in impl), impl
    assert cap["speedups"]["onednn-int8"] is not None
    assert b["bitplane"]["speedups"]["onednn-int8-capped"] is not None
    for x in (cap, best, b["bitplane"]):
        assert x["throughput_images_per_s"]["n"] == 3
        assert x["stream_threads"] == s["threads_requested"]
PY
fi

run 0 "--onednn-cap auto follows the matrix engine" "$BPBENCH" --model "$M" --threads 1 \
    --repeat 2 --warmup 0 --backend onednn-int8 --no-counts --json "$T/c.json"
run 0 "auto: a capped row exactly when oneDNN's best ISA has AMX" "$PY" - "$T/c.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
names = [b["name"] for b in j["sets"][0]["backends"]]
amx = "amx" in j["machine"]["onednn_isa"]
assert j["config"]["onednn_cap"]["run"] == amx
assert ("onednn-int8-capped" in names) == amx, names
if not amx:
    assert "no matrix engine" in j["config"]["onednn_cap"]["note"]
PY

# ---- output files ----
run 1 "--json into a missing directory" "$BPBENCH" --model "$M" --backend bitplane \
    --repeat 1 --warmup 0 --no-counts --json "$T/nodir/x.json"
has "$T/err" "bpbench: .*nodir/x.json" "the JSON error names the file"
run 1 "--plot-layers into a missing directory" "$BPBENCH" --model "$M" --backend bitplane \
    --repeat 1 --warmup 0 --no-counts --plot-layers "$T/nodir/x.svg"
has "$T/err" "bpbench: .*nodir/x.svg" "the SVG error names the file"

echo "# $((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
