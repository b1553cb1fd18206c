#!/usr/bin/env bash
# Instructions per call of reading a 16 KiB response body: by
# `BufferResponseLayer`, and collected by hand with `BodyExt::collect`, by
# callgrind: runs `examples/buffer_instructions.rs` for N1 and N2 calls and
# prints (Ir(N2) - Ir(N1)) / (N2 - N1) and the ratio.
#
#   scripts/buffer-instructions.sh
#   DOWNSTREAM_INFO=1 scripts/buffer-instructions.sh  # responses carry an extension
#
# Needs valgrind. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-1000}
N2=${N2:-6000}
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

cargo build --release --example buffer_instructions >&2
bin="${CARGO_TARGET_DIR:-target}/release/examples/buffer_instructions"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ir() { # mode n -> total instructions (Ir) of the run
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" 2>"$tmp/log" >/dev/null \
        || { cat "$tmp/log" >&2; exit 1; }
    grep -E '^summary:|^totals:' "$tmp/out" | head -1 | awk '{print $2}'
}

declare -A per
for m in by_hand buffered; do
    a=$(ir "$m" "$N1"); b=$(ir "$m" "$N2")
    per[$m]=$(( (b - a) / (N2 - N1) ))
done
ratio=$(awk -v a="${per[buffered]}" -v b="${per[by_hand]}" 'BEGIN{printf "%.3f", a/b}')
echo "| 16 KiB body, 4 KiB chunks | instr/call |"
echo "|---|---:|"
echo "| collected by hand (BodyExt::collect) | ${per[by_hand]} |"
echo "| BufferResponseLayer | ${per[buffered]} (${ratio}x) |"
echo "(N1=$N1, N2=$N2, DOWNSTREAM_INFO=${DOWNSTREAM_INFO:-0}; $(valgrind --version), $(rustc --version))"
