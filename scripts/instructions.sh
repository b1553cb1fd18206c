#!/usr/bin/env bash
# Instructions per call of each benchmark stack, by callgrind: runs
# `examples/instructions.rs` for N1 and N2 calls and prints
# (Ir(N2) - Ir(N1)) / (N2 - N1), so set-up and tear-down cancel out.
# Instruction counts are steady on a noisy machine, unlike wall time.
#
#   scripts/instructions.sh                 # every stack
#   scripts/instructions.sh bare ours_retry # some
#   N1=1000 N2=11000 scripts/instructions.sh
#   DOWNSTREAM_INFO=1 scripts/instructions.sh  # responses carry an extension
#                                              # already, as hyper-util's do
#
# Needs valgrind (apt-get install valgrind). Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-1000}
N2=${N2:-11000}
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

cargo build --release --example instructions >&2
bin="${CARGO_TARGET_DIR:-target}/release/examples/instructions"

if [ $# -gt 0 ]; then stacks=("$@"); else mapfile -t stacks < <("$bin" list | cut -f1); fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ir() { # stack n -> total instructions (Ir) of the run
    valgrind --tool=callgrind --callgrind-out-file="$tmp/out" "$bin" "$1" "$2" 2>"$tmp/log" >/dev/null \
        || { cat "$tmp/log" >&2; exit 1; }
    grep -E '^summary:|^totals:' "$tmp/out" | head -1 | awk '{print $2}'
}

declare -A per
for s in "${stacks[@]}"; do
    a=$(ir "$s" "$N1"); b=$(ir "$s" "$N2")
    per[$s]=$(( (b - a) / (N2 - N1) ))
done

base_tower=${per[tower_retry]:-}
printf '| %-26s | %12s | %13s | %s\n' stack "instr/call" "× tower_retry" "what"
printf '|%s|%s|%s|%s\n' "----------------------------" "--------------" "---------------" "------"
for s in "${stacks[@]}"; do
    ratio="-"
    if [ -n "$base_tower" ]; then ratio=$(awk -v a="${per[$s]}" -v b="$base_tower" 'BEGIN{printf "%.2f", a/b}'); fi
    printf '| %-26s | %12s | %13s | %s\n' "$s" "${per[$s]}" "$ratio" "$("$bin" list | awk -F'\t' -v s="$s" '$1==s{print $2}')"
done
echo "(N1=$N1, N2=$N2, DOWNSTREAM_INFO=${DOWNSTREAM_INFO:-0}; $(valgrind --version), $(rustc --version))"
