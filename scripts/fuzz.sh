#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 30 s) on the stable
# toolchain, starting from the seeds in fuzz/seeds, and prints how many
# executions each made. A crash fails the script (libFuzzer exits non-zero)
# and leaves its input in fuzz/artifacts.
#   scripts/fuzz.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz --version '^0.13'
fi
for target in retry_after decision rate_limit; do
    mkdir -p "fuzz/corpus/$target"
    log=$(mktemp)
    # No sanitizer: the crate forbids unsafe code, and stable Rust has none.
    (cd fuzz && cargo fuzz run --sanitizer none "$target" "corpus/$target" "seeds/$target" \
        -- -max_total_time="$secs" -print_final_stats=1) >"$log" 2>&1 || { tail -40 "$log"; exit 1; }
    runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo '?')
    echo "fuzz $target: $runs executions in ${secs}s, no crash"
    rm -f "$log"
done
