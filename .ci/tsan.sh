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
# The instrumented build runs 5-15 times slower; the two-thread runs push a
# tenth of their messages so they stay inside their 120 s deadlines.
export L3L2Q_TEST_SCALE=0.1
tsan=(cargo +nightly test -Zbuild-std --target "$host" -p l3l2q)

status=0
started=$SECONDS
echo "== tsan: Rust tests with threads"
"${tsan[@]}" --test end_to_end --test batching --test l2_endpoint --test l3_queue \
    --test liveness --test hostile --test zero_alloc ||
    status=1

echo "== tsan: the two-thread C/C++ programs against the instrumented libl3l2q.a"
cargo +nightly build -Zbuild-std --target "$host" -p l3l2q --lib
lib=$CARGO_TARGET_DIR/$host/debug/libl3l2q.a
# The instrumented std calls __tsan_memcpy, which gcc's libtsan lacks: link
# the runtime rustc itself uses (LLVM's), which also serves gcc's calls.
rt=$(rustc +nightly --print sysroot)/lib/rustlib/$host/lib/librustc-nightly_rt.tsan.a
calls=$(nm "$lib" 2>/dev/null | grep -c ' U __tsan_' || true)
echo "tsan: libl3l2q.a is instrumented ($calls undefined __tsan_ references)"
[ "$calls" -gt 0 ] || status=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
build() { # $1: source, $2: executable
    local cc=(cc -std=c11)
    case $1 in *.cpp) cc=(c++ -std=c++17) ;; esac
    "${cc[@]}" -fsanitize=thread -g -O1 -D_GNU_SOURCE -Iinclude -Ictests -c "$1" -o "$2.o"
    "${cc[@]}" "$2.o" "$lib" -Wl,--whole-archive "$rt" -Wl,--no-whole-archive \
        -lpthread -ldl -lm -lrt -o "$2"
}
# Control: a planted race must be reported, or a clean result means nothing.
cat >"$out/race.c" <<'EOF_C'
#include <pthread.h>
static int shared;
static void *bump(void *arg) { (void)arg; shared++; return 0; }
int main(void) {
    pthread_t t;
    pthread_create(&t, 0, bump, 0);
    shared++;
    pthread_join(t, 0);
    return 0;
}
EOF_C
build "$out/race.c" "$out/race"
if "$out/race" >"$out/race.log" 2>&1 || ! grep -q "data race" "$out/race.log"; then
    echo "tsan: control NOT caught: the sanitizer is not working"
    status=1
else
    echo "tsan: control caught (planted data race reported)"
fi
for source in ctests/l3_callbacks.c ctests/hpp_wrapper.cpp ctests/l2_endpoint.cpp; do
    exe=$out/$(basename "${source%.*}")
    build "$source" "$exe"
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
