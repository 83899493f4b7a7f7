#!/usr/bin/env bash
# Installs the Debian packages bitprune needs, only those missing. Idempotent,
# silent when everything is present. Usage: tools/setup.sh [--cross|--minimal]
#   --cross     also the aarch64 cross toolchain and qemu-user (NEON tests)
#   --minimal   only what the minimal build needs (meson -Dauto_features=disabled)
set -euo pipefail

# the minimal build: library, bptool, bpbench
pkgs_min=(gcc binutils meson ninja-build pkg-config libxxhash-dev)
# everything else is optional: oneDNN backends, bptool import (ONNX), bpmicro,
# the test suites and what they run, the Python binding, zlib and the
# Fashion-MNIST test set for `bptool eval`
pkgs=("${pkgs_min[@]}" g++ libdnnl-dev libcmocka-dev libbenchmark-dev valgrind
      librsvg2-bin libonnx-dev protobuf-c-compiler libprotobuf-c-dev python3-torch
      python3-onnx python3-cffi python3-numpy python3-pytest zlib1g-dev
      dataset-fashion-mnist)
cross=0
for a in "$@"; do
    case "$a" in
        --cross) cross=1 ;;
        --minimal) pkgs=("${pkgs_min[@]}") ;;
        -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown option '$a'" >&2; exit 2 ;;
    esac
done
if [ "$cross" = 1 ]; then
    pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
           libcmocka-dev:arm64 libxxhash-dev:arm64)
fi

native=$(dpkg --print-architecture)
installed() { # NAME or NAME:ARCH; a bare NAME must be native or arch-all
    local name=${1%%:*} arch=${1#*:}
    [ "$arch" = "$1" ] && arch=$native
    dpkg-query -W -f='${Status} ${Architecture}\n' "$name" 2>/dev/null |
        grep -Eq "^install ok installed ($arch|all)\$"
}
missing=()
for p in "${pkgs[@]}"; do
    installed "$p" || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "setup.sh: installing ${missing[*]}" >&2
if [ "$cross" = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $sudo dpkg --add-architecture arm64
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
