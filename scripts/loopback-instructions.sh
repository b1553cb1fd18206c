#!/usr/bin/env bash
# Client instructions per request over loopback HTTP, by callgrind: runs the
# `loopback` benchmark binary for one client at a time, for N1 and N2
# requests, with `--separate-threads=yes`, and prints
# (Ir(N2) - Ir(N1)) / (N2 - N1) of the client thread alone (thread 1: the
# bench's current-thread runtime, which also runs hyper-util's connection
# task; the server has a thread of its own and is not counted).
#
# Wall-clock CPU of one loopback request moves by ±5 % on a shared machine,
# more than the stack costs; user-space instructions do not move. They leave
# out the kernel's share of a request (socket calls), so the ratio here is
# an upper bound of the CPU-time ratio.
#
#   scripts/loopback-instructions.sh                        # every client
#   scripts/loopback-instructions.sh hyper_bare hyper_ours  # some
#
# Needs valgrind. Honours CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

N1=${N1:-200}
N2=${N2:-1200}
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)" >&2; exit 1; }

bin=$(cargo bench --features reqwest --bench loopback --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*loopback[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "could not build the loopback bench" >&2; exit 1; }

if [ $# -gt 0 ]; then
    clients=("$@")
else
    clients=(hyper_bare hyper_tower_retry hyper_ours_retry hyper_ours reqwest_bare reqwest_service reqwest_service_ours reqwest_middleware_retry)
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ir() { # client n -> instructions of the client thread
    LOOPBACK_CLIENTS=$1 LOOPBACK_ROUNDS=1 LOOPBACK_REQUESTS=$2 \
        valgrind --tool=callgrind --separate-threads=yes \
        --callgrind-out-file="$tmp/out" "$bin" 2>"$tmp/log" >/dev/null ||
        { cat "$tmp/log" >&2; exit 1; }
    awk '/^totals:/{print $2; exit}' "$tmp/out-01"
}

bare_of() { case $1 in hyper_*) echo hyper_bare ;; *) echo reqwest_bare ;; esac; }

declare -A per
for c in "${clients[@]}"; do
    a=$(ir "$c" "$N1"); b=$(ir "$c" "$N2")
    per[$c]=$(( (b - a) / (N2 - N1) ))
done

printf '| %-26s | %16s | %s\n' client "instr/request" "× its bare client"
printf '|%s|%s|%s\n' "----------------------------" "------------------" "------"
for c in "${clients[@]}"; do
    bare=$(bare_of "$c"); ratio="-"
    if [ -n "${per[$bare]:-}" ]; then ratio=$(awk -v a="${per[$c]}" -v b="${per[$bare]}" 'BEGIN{printf "%.3f", a/b}'); fi
    printf '| %-26s | %16s | %s\n' "$c" "${per[$c]}" "$ratio"
done
echo "(client thread only; N1=$N1, N2=$N2; $(valgrind --version), $(rustc --version))"
