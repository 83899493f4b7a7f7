#!/usr/bin/env bash
# Builds and runs the whole test suite: release build, ASan+UBSan build, and
# the aarch64 (NEON) cross build under qemu-user. Ends with "N passed, N failed"
# counting test cases (cmocka cases, plus one per non-cmocka test).
# Usage: tools/test.sh [--quick]   (--quick: release build only)
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
quick=0
for a in "$@"; do
    case "$a" in
        --quick) quick=1 ;;
        -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "test.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done

tools/setup.sh --cross || { echo "test.sh: setup failed" >&2; exit 1; }

status=0
logs=()
# run_build DIR [meson setup args...]: configure once, build, test.
run_build() {
    local dir=$1; shift
    echo "=== $dir: meson setup $*"
    if [ ! -f "$dir/build.ninja" ]; then
        meson setup "$dir" "$@" >"$dir.setup.log" 2>&1 ||
            { cat "$dir.setup.log"; status=1; return; }
    fi
    ninja -C "$dir" >"$dir.ninja.log" 2>&1 ||
        { tail -n 60 "$dir.ninja.log"; status=1; return; }
    meson test -C "$dir" --print-errorlogs -v --num-processes 2 ||
        status=1
    logs+=("$dir/meson-logs/testlog.json")
}

run_build build --buildtype=release
if [ "$quick" = 0 ]; then
    run_build build-asan --buildtype=debugoptimized \
        -Db_sanitize=address,undefined -Db_lundef=false
    run_build build-arm --buildtype=release \
        --cross-file "$root/tools/cross/aarch64.ini"
fi

/usr/bin/python3 tools/test_summary.py "${logs[@]}" || status=1
exit $status
