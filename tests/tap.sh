# tap.sh: TAP helpers for the shell test scripts, sourced after the script
# sets TAP_DIR (a directory for each command's stdout and stderr, kept as
# $TAP_DIR/out and $TAP_DIR/err for the checks that follow). Counts the
# tests in n and the failures in fails; tap_done prints the summary and
# returns the script's status.
n=0
fails=0

# expect CODE DESC CMD... : runs CMD, checks its exit status.
expect() {
    local want=$1 desc=$2
    shift 2
    n=$((n + 1))
    "$@" >"$TAP_DIR/out" 2>"$TAP_DIR/err"
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "not ok $n - $desc: exit $got, want $want"
        sed 's/^/#   stdout: /' "$TAP_DIR/out" | tail -n 8
        sed 's/^/#   stderr: /' "$TAP_DIR/err" | tail -n 8
        fails=$((fails + 1))
        return 1
    fi
    echo "ok $n - $desc"
}

# check DESC CMD... : CMD must succeed.
check() {
    local desc=$1
    shift
    n=$((n + 1))
    if "$@"; then
        echo "ok $n - $desc"
    else
        echo "not ok $n - $desc"
        fails=$((fails + 1))
    fi
}

# grep_in FILE PATTERN DESC (PATTERN: a basic regular expression)
# grep_fixed FILE STRING DESC
tap_grep() {
    local opt=$1
    shift
    n=$((n + 1))
    if grep -q $opt -- "$2" "$1"; then
        echo "ok $n - $3"
    else
        echo "not ok $n - $3: '$2' not in $(basename "$1")"
        sed 's/^/#   /' "$1" | tail -n 5
        fails=$((fails + 1))
    fi
}
grep_in() { tap_grep -G "$@"; }
grep_fixed() { tap_grep -F "$@"; }

tap_done() {
    echo "# $((n - fails)) passed, $fails failed"
    [ "$fails" -eq 0 ]
}
