#!/bin/sh
# man_options_test.sh: every option that `--help` of bptool (and of each of
# its commands) and of bpbench lists is described in the man page: the page
# source, with roff escapes removed, names it as a word.
# Usage: man_options_test.sh MANDIR BPTOOL HAVE_IMPORT(0|1) [BPBENCH]
set -u
mandir=$1; bptool=$2; have_import=$3; bpbench=${4:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
n=0
# options HELPFILE: long options anywhere, short ones where a line lists them
options() {
    { grep -oE -- '--[a-z][a-z0-9-]*' "$1"
      grep -oE -- '^ +-[a-zA-Z][ ,]' "$1" | tr -d ' ,'; } | sort -u
}
# plain PAGE: the roff source without font escapes and with \- as -
plain() {
    sed -e 's/\\f[BIRP]//g; s/\\f(..//g; s/\\f\[[A-Z]*\]//g; s/\\-/-/g; s/\\(em/-/g' "$1"
}
# check PAGE HELPFILE WHAT
check() {
    plain "$1" >"$T/page"
    for o in $(options "$2"); do
        n=$((n + 1))
        if grep -Eq -- "(^|[^A-Za-z0-9-])$o([^A-Za-z0-9-]|\$)" "$T/page"; then
            echo "ok $n - $3: $o in $(basename "$1")"
        else
            echo "not ok $n - $3: $o is not in $(basename "$1")"
            fails=$((fails + 1))
        fi
    done
}
"$bptool" --help >"$T/help" && check "$mandir/bptool.1" "$T/help" "bptool --help"
cmds="gen info verify prune"
[ "$have_import" = 1 ] && cmds="$cmds import"
for c in $cmds; do
    if "$bptool" "$c" --help >"$T/help"; then
        check "$mandir/bptool.1" "$T/help" "bptool $c --help"
    else
        n=$((n + 1)); echo "not ok $n - bptool $c --help fails"; fails=$((fails + 1))
    fi
done
if [ -n "$bpbench" ]; then
    "$bpbench" --help >"$T/help" && check "$mandir/bpbench.1" "$T/help" "bpbench --help"
fi
echo "1..$n"
[ "$n" -gt 30 ] || { echo "# too few options found: is --help output as expected?"; exit 1; }
[ "$fails" = 0 ]
