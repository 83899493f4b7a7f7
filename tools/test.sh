#!/usr/bin/env bash
# Builds and runs the whole test suite: release build (plus its kernels and
# engine suites again at each x86 ISA level below the host's: meson test
# setups avx2, avx512, avx512vnni), ASan+UBSan debug build, the aarch64
# (NEON) cross build under qemu-user, a build without oneDNN and ONNX (engine
# and tools suites), and the minimal build (no optional dependency at all),
# installed and running bpbench. Ends with "N passed, N failed" counting test
# cases (cmocka cases, plus one per non-cmocka test) over all runs.
# Usage: tools/test.sh [--quick]   (--quick: release build only)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0
for a in "$@"; do
    case "$a" in
        --quick) quick=1 ;;
        -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done

tools/setup.sh --cross || { echo "test.sh: setup failed" >&2; exit 1; }

status=0
logs=()
# run_build DIR [meson setup args...]: configure once, build, test; fails
# only if the build does.
run_build() {
    local dir=$1; shift
    echo "=== $dir: meson setup $*"
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log"; status=1; return 1; }
    else # an existing build takes today's options (the cross file stays)
        local opts=() a
        while [ $# -gt 0 ]; do
            a=$1; shift
            if [ "$a" = --cross-file ]; then shift; else opts+=("$a"); fi
        done
        meson configure "$dir" "${opts[@]}" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log"; status=1; return 1; }
    fi
    ninja -C "$dir" >"$dir.ninja.log" 2>&1 ||
        { tail -n 60 "$dir.ninja.log"; status=1; return 1; }
    # shellcheck disable=SC2086 # $suites: optional --suite arguments
    meson test -C "$dir" --print-errorlogs -v --num-processes 2 ${suites:-} ||
        status=1
    logs+=("$dir/meson-logs/testlog.json")
}

# The test setups (top-level meson.build) below this host's level, from the
# kernel's view of the CPU (/proc/cpuinfo lists what the OS enables).
isa_setups() {
    local flags
    flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
    has() { local f; for f in "$@"; do [[ $flags == *" $f "* ]] || return 1; done; }
    local avx2=0 avx512=0 vnni=0
    has avx2 fma bmi2 && avx2=1
    [ $avx2 = 1 ] && has avx512f avx512dq avx512bw avx512vl && avx512=1
    [ $avx512 = 1 ] && has avx512_vnni && vnni=1
    # avx2: below AVX-512, or below AVX-VNNI (oneDNN's int8 exactness)
    if [ $avx512 = 1 ] || { [ $avx2 = 1 ] && has avx_vnni; }; then echo avx2; fi
    [ $vnni = 1 ] && echo avx512
    [ $vnni = 1 ] && has amx_tile amx_int8 && echo avx512vnni
    return 0
}

# run_setups DIR: the kernels and engine suites under each lower-level setup.
run_setups() {
    local dir=$1 s
    for s in $(isa_setups); do
        echo "=== $dir: meson test --setup $s (BP_ISA and ONEDNN_MAX_CPU_ISA capped)"
        meson test -C "$dir" --no-rebuild --setup "$s" --suite kernels --suite engine \
            --no-suite once --print-errorlogs --num-processes 2 || status=1
        logs+=("$dir/meson-logs/testlog-$s.json")
    done
}

# run_minimal DIR: the minimal build (-Dauto_features=disabled: no oneDNN, no
# ONNX import, no test suites, no Google Benchmark, no C++) plus bpbench:
# builds, installs into DIR/prefix, checks that nothing optional is linked,
# and runs the installed bptool and `bpbench --backend bitplane` on a small
# generated model. Counted as one test (DIR/minimal-testlog.json).
run_minimal() {
    local dir=$1 prefix=$root/$1/prefix out ok=1
    local args=(--buildtype=release -Dauto_features=disabled -Dbench=enabled
                --prefix="$prefix")
    echo "=== $dir: meson setup ${args[*]}"
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "${args[@]}" >"$dir.setup.log" 2>&1
    else
        meson configure "$dir" "${args[@]}" >"$dir.setup.log" 2>&1
    fi || { cat "$dir.setup.log"; status=1; return 1; }
    out=$dir/minimal.log
    {
        ninja -C "$dir" && rm -rf "$prefix" && meson install -C "$dir" --quiet
    } >"$out" 2>&1 || ok=0
    local libdir bin=$prefix/bin
    libdir=$(dirname "$(find "$prefix" -name libbitprune.so.0 2>/dev/null | head -n 1)")
    if [ "$ok" = 1 ]; then
        # nothing optional may be linked into the installed library or programs
        if LD_LIBRARY_PATH=$libdir ldd "$libdir/libbitprune.so.0" "$bin/bptool" \
            "$bin/bpbench" | grep -E 'dnnl|cmocka|benchmark|protobuf|stdc\+\+' >>"$out"; then
            echo "minimal build links an optional library" >>"$out"
            ok=0
        fi
    fi
    if [ "$ok" = 1 ]; then
        LD_LIBRARY_PATH=$libdir "$bin/bptool" gen resnet18-cifar --input 16x16 \
            --prune bit --sparsity 0.5 -o "$dir/m.bp" >>"$out" 2>&1 &&
        LD_LIBRARY_PATH=$libdir "$bin/bpbench" --model "$dir/m.bp" --backend bitplane \
            --threads 1 --repeat 3 --warmup 1 --no-counts >>"$out" 2>&1 &&
        grep -Eq '^bitplane .*bit-exact' "$out" || ok=0
        # exit 1 and a message that import was not built
        LD_LIBRARY_PATH=$libdir "$bin/bptool" import x.onnx -o x.bp >>"$out" 2>&1
        [ $? = 1 ] && grep -q '^bptool import: not built' "$out" || ok=0
    fi
    local result=OK
    if [ "$ok" = 1 ]; then
        tail -n 12 "$out"
        echo "minimal build: OK (built, installed, bpbench --backend bitplane ran)"
    else
        tail -n 40 "$out"
        echo "minimal build: FAILED (log: $out)"
        result=FAIL
        status=1
    fi
    /usr/bin/python3 -c 'import json, sys; print(json.dumps({"name": "minimal-build",
        "result": sys.argv[1], "stdout": open(sys.argv[2]).read()[-2000:]}))' \
        "$result" "$out" >"$dir/minimal-testlog.json"
    logs+=("$dir/minimal-testlog.json")
}

run_build build --buildtype=release && run_setups build &&
    { echo "=== build: python binding from an installed prefix"
      python/tests/run_installed.sh build || status=1; }
if [ "$quick" = 0 ]; then
    # -O0: also catches what optimization hides (a reference that only links
    # at -O2); the release build covers the optimized code.
    run_build build-asan --buildtype=debug \
        -Db_sanitize=address,undefined -Db_lundef=false
    run_build build-arm --buildtype=release \
        --cross-file "$root/tools/cross/aarch64.ini"
    # Without oneDNN and ONNX, with the test suites: the engine and tools
    # suites (the formats and kernels ones do not depend on either) but the
    # long CLI script that the release build runs.
    suites="--suite engine --suite tools --no-suite cli" \
        run_build build-nodnnl --buildtype=release -Donednn=disabled -Donnx=disabled \
        -Dmicrobench=disabled -Dtests=enabled -Dbench=enabled
    run_minimal build-min
fi

/usr/bin/python3 tools/test_summary.py "${logs[@]}" || status=1
exit $status
