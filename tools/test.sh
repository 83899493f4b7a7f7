#!/usr/bin/env bash
# Builds and runs the whole test suite: release build (plus its kernels and
# engine suites again at each x86 ISA level below the host's: meson test
# setups avx2, avx512, avx512vnni), ASan+UBSan debug build, and the aarch64
# (NEON) cross build under qemu-user. Ends with "N passed, N failed" counting
# test cases (cmocka cases, plus one per non-cmocka test) over all runs.
# Usage: tools/test.sh [--quick]   (--quick: release build only)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0
for a in "$@"; do
    case "$a" in
        --quick) quick=1 ;;
        -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
    meson test -C "$dir" --print-errorlogs -v --num-processes 2 ||
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
fi

/usr/bin/python3 tools/test_summary.py "${logs[@]}" || status=1
exit $status
