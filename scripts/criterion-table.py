#!/usr/bin/env python3
"""Prints the last criterion run of one benchmark group as a markdown table:
median time per call, calls/s, and the ratio to a baseline stack.

    scripts/criterion-table.py contention [baseline]   # baseline: tower_retry

Reads $CARGO_TARGET_DIR/criterion (default target/criterion).
"""
import json
import os
import sys

group = sys.argv[1] if len(sys.argv) > 1 else "contention"
base = sys.argv[2] if len(sys.argv) > 2 else "tower_retry"
root = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "criterion", group)
order = []
bench_rs = os.path.join(os.path.dirname(__file__), "..", "benches", "common", "mod.rs")
with open(bench_rs) as f:
    text = f.read()
    start = text.index("pub const STACKS")
    order = [l.strip().strip('",') for l in text[start:text.index("];", start)].splitlines()[1:]]
rows = {}
for name in os.listdir(root):
    est = os.path.join(root, name, "new", "estimates.json")
    if os.path.exists(est):
        with open(est) as f:
            rows[name] = json.load(f)["median"]["point_estimate"]
names = [n for n in order if n in rows] + sorted(n for n in rows if n not in order)
b = rows.get(base)
print(f"| stack | ns/call (median) | calls/s | × {base} throughput |")
print("|---|---:|---:|---:|")
for n in names:
    ns = rows[n]
    ratio = f"{b / ns:.2f}" if b else "-"
    print(f"| {n} | {ns:.0f} | {1e9 / ns / 1e6:.2f} M | {ratio} |")
