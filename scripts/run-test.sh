#!/usr/bin/env bash
# Runs one integration-test binary of the workspace build that `cargo test --workspace` made,
# without recompiling anything:  scripts/run-test.sh NAME [test args...]
#
# `cargo test --workspace --test NAME` would resolve the features of NAME's package alone
# (dev-dependency features of the other packages are not activated), so it compiles OpenCV
# and gaze-core once more (≈ 2 min here). This script asks the full build
# (`cargo test --workspace --no-run`, already fresh after test-rust) for the executable of the
# test target NAME and runs it the way cargo does: from its package folder, with
# CARGO_MANIFEST_DIR set.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/run-test.sh NAME [test args...]}
shift
CARGO=${CARGO:-cargo}
found=$($CARGO test --workspace --no-run --message-format=json | python3 -c '
import json, os, sys
name = sys.argv[1]
found = None
# Reads to the end: cargo may still be building (stopping early would break its pipe).
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    t = m.get("target") or {}
    if found is None and m.get("reason") == "compiler-artifact" and m.get("executable") \
            and t.get("name") == name and "test" in t.get("kind", []):
        found = (m["executable"], os.path.dirname(m["manifest_path"]))
if found:
    print(found[0])
    print(found[1])
' "$name")
exe=$(sed -n 1p <<<"$found")
dir=$(sed -n 2p <<<"$found")
[ -n "$exe" ] || { echo "run-test: no integration test named $name in the workspace build" >&2; exit 2; }
cd "$dir"
CARGO_MANIFEST_DIR="$dir" exec "$exe" "$@"
