#!/usr/bin/env bash
# Build the peer's exact throughput DP (Tarnawski et al., NeurIPS 2020, msr-fiddle/dnn-partitioning,
# throughput-dp/dp.cpp) into bench/peer/build/dp, together with its inputs (throughput-inputs/).
#
# usage: bench/peer/build.sh [SOURCE]
#   SOURCE: a bare git dir of the peer repository (default: the mirror
#           /work/.mirror/msr-fiddle+dnn-partitioning/repo/.git), or a checkout / `git clone`
#           of https://github.com/msr-fiddle/dnn-partitioning (a folder holding throughput-dp/dp.cpp).
# dp.cpp includes "../nlohmann/json.hpp", so the repository layout is kept under build/src/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${1:-/work/.mirror/msr-fiddle+dnn-partitioning/repo/.git}"
out="$here/build"
rm -rf "$out/src"
mkdir -p "$out/src"
if [ -f "$src/throughput-dp/dp.cpp" ]; then            # a work tree (git clone or unpacked archive)
    cp -r "$src/throughput-dp" "$src/nlohmann" "$src/throughput-inputs" "$out/src/"
    (git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown) > "$out/src/COMMIT"
elif git --git-dir="$src" rev-parse HEAD >/dev/null 2>&1; then   # a bare git dir (read only)
    git --git-dir="$src" archive HEAD throughput-dp nlohmann throughput-inputs | tar -x -C "$out/src"
    git --git-dir="$src" rev-parse HEAD > "$out/src/COMMIT"
else
    echo "build.sh: $src is neither a checkout of dnn-partitioning nor its git dir" >&2
    exit 2
fi
g++ -O3 -std=c++17 -I"$out/src/nlohmann" "$out/src/throughput-dp/dp.cpp" -o "$out/dp"
echo "built $out/dp from $src (commit $(cat "$out/src/COMMIT"))"
