#!/usr/bin/env bash
# demo.sh: the main job on a fresh machine: install what is missing, build
# (release, in build/), generate a bit-pruned ConvNeXt-T (lambda 1, weight
# sparsity 0.9, synthetic weights) into out/, and benchmark it on every backend.
# Usage: tools/demo.sh [bpbench options...]   (e.g. --threads 2 --layers)
set -euo pipefail
cd "$(dirname "$0")/.."

tools/setup.sh
if [ ! -f build/build.ninja ]; then
    meson setup build --buildtype=release
fi
ninja -C build tools/bptool/bptool bench/bpbench/bpbench
mkdir -p out
echo "+ bptool gen convnext-t --prune bit --lambda 1 --sparsity 0.9 -o out/convnext.bp"
build/tools/bptool/bptool gen convnext-t --prune bit --lambda 1 --sparsity 0.9 \
    -o out/convnext.bp
echo "+ bpbench --model out/convnext.bp $*"
build/bench/bpbench/bpbench --model out/convnext.bp "$@"
