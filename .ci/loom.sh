#!/usr/bin/env bash
# The loom model checks of the publish/observe ordering (tests/loom.rs).
# `--cfg loom` changes how every crate compiles, so they build in a target
# directory of their own and never invalidate the ordinary build. Called by
# .ci/run; runs on its own too.
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo '== loom: RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p l3l2q --test loom --release'
set +e
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p l3l2q --test loom --release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# A build that compiled the file to nothing would "pass" with no test at all.
passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^passed/) p += $i } END { print p + 0 }' "$log")
if [ "$status" -eq 0 ] && [ "$passed" -gt 0 ]; then
    echo "loom: $passed model checks passed in $((SECONDS - started)) s"
else
    echo "loom: FAILED ($passed passed, cargo exit $status) after $((SECONDS - started)) s"
    [ "$status" -ne 0 ] || status=1
fi
exit "$status"
