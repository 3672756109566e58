#!/usr/bin/env bash
# ThreadSanitizer over the multi-threaded tests and the two-thread C/C++
# programs (extended check, not part of .ci/run; docs/RELIABILITY.md has the
# result). Needs nightly with rust-src:
#   rustup component add rust-src --toolchain nightly
# The standard library is rebuilt instrumented (-Zbuild-std), so every
# atomic and lock on both sides is visible to the sanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."

host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Zsanitizer=thread"
export CARGO_TARGET_DIR=target/tsan
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
# The hostile-peer test deliberately races its adversary thread against the
# victim on shared memory (5 % of episodes): those reports are the test
# working, so it runs with the adversary on the victim's thread only.
export L3L2Q_HOSTILE_CONCURRENT=0
tsan=(cargo +nightly test -Zbuild-std --target "$host" -p l3l2q)

status=0
started=$SECONDS
echo "== tsan: Rust tests with threads"
"${tsan[@]}" --test end_to_end --test batching --test l2_endpoint --test l3_queue \
    --test liveness --test hostile --test zero_alloc \
    -- --skip the_l2_path_makes_no_system_call --skip the_filter_catches_a_system_call ||
    status=1

echo "== tsan: the two-thread C/C++ programs against the instrumented libl3l2q.a"
cargo +nightly build -Zbuild-std --target "$host" -p l3l2q --lib
lib=$CARGO_TARGET_DIR/$host/debug/libl3l2q.a
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for source in ctests/l3_callbacks.c ctests/hpp_wrapper.cpp ctests/l2_endpoint.cpp; do
    case $source in
        *.c) cc=(cc -std=c11) ;;
        *) cc=(c++ -std=c++17) ;;
    esac
    exe=$out/$(basename "${source%.*}")
    "${cc[@]}" -fsanitize=thread -g -O1 -D_GNU_SOURCE -Iinclude -Ictests "$source" "$lib" \
        -lpthread -ldl -lm -lrt -o "$exe"
    if "$exe" >"$exe.log" 2>&1; then
        echo "tsan: $source clean ($(tail -n 1 "$exe.log"))"
    else
        echo "tsan: $source FAILED"
        cat "$exe.log"
        status=1
    fi
done
echo "tsan: done in $((SECONDS - started)) s, status $status"
exit "$status"
