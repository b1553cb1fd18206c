#!/usr/bin/env python3
"""Fails when a dependency needs a newer Rust than our `rust-version`.

    scripts/msrv-deps.py

A user on our `rust-version` gets, from cargo's MSRV-aware resolver, the
newest versions of our dependencies that declare a `rust-version` no newer
than ours. This script resolves the dependencies that way in a copy of the
crate (our Cargo.lock is left alone), then reads the `rust-version` of every
package a user's build compiles: normal and build dependencies, every
feature, every target platform. Any one newer than ours fails the check.

What it cannot see: language features and std APIs in our own code (clippy's
`incompatible_msrv` lint, on in CI, checks the std APIs against
`rust-version`), and dependencies that declare no `rust-version`.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
# Only under the crate's own `cfg(tower_http_retry_loom)`: never a user's.
TEST_ONLY = ["loom"]


def version(text):
    """`1.85` and `1.85.0` are the same version."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(rv):
    return ".".join(map(str, rv))


def cargo(args, cwd, env=None):
    return subprocess.run(
        ["cargo", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    ).stdout


def main():
    with tempfile.TemporaryDirectory() as tmp:
        copy = os.path.join(tmp, "crate")
        shutil.copytree(
            ROOT, copy, ignore=shutil.ignore_patterns(".git", "target", "fuzz", "Cargo.lock")
        )
        ours = json.loads(cargo(["metadata", "--format-version", "1", "--no-deps"], copy))
        ours = ours["packages"][0]
        if not ours.get("rust_version"):
            sys.exit("Cargo.toml claims no rust-version: nothing to check")
        claim = ours["rust_version"]

        env = dict(os.environ, CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS="fallback")
        cargo(["generate-lockfile", "--quiet"], copy, env)

        # `cargo tree` without dev edges resolves features as a user's build
        # does (cargo metadata would add the dev-dependencies' features).
        tree = cargo(
            ["tree", "--locked", "--all-features", "--target", "all", "-e", "normal,build",
             "--prefix", "none", "--format", "{p}",
             *[arg for name in TEST_ONLY for arg in ("--prune", name)]],
            copy,
        )
        built = {tuple(line.split()[:2]) for line in tree.splitlines() if line.strip()}

        meta = json.loads(cargo(["metadata", "--format-version", "1", "--locked"], copy))
        needs = []
        undeclared = 0
        for package in meta["packages"]:
            if (package["name"], "v" + package["version"]) not in built:
                continue
            if package["id"] == ours["id"]:
                continue
            if package.get("rust_version"):
                needs.append((version(package["rust_version"]), package["name"], package["version"]))
            else:
                undeclared += 1

    needs.sort(reverse=True)
    too_new = [need for need in needs if need[0] > version(claim)]
    newest = ", ".join(f"{name} {v} ({show(rv)})" for rv, name, v in needs[:3])
    print(
        f"rust-version {claim}; {len(needs)} dependencies declare theirs, "
        f"{undeclared} declare none; the newest needs: {newest}"
    )
    if too_new:
        for rv, name, v in too_new:
            print(f"  {name} {v} needs Rust {show(rv)}", file=sys.stderr)
        sys.exit(f"{len(too_new)} dependencies need a newer Rust than rust-version {claim}")


if __name__ == "__main__":
    main()
