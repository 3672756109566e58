#!/usr/bin/env bash
# The aarch64 build, run under qemu-user: the library, the Rust integration
# tests and the C/C++ ctests (cross-compiled with aarch64-linux-gnu-gcc/g++),
# once without and once with the `aarch64-cache-maintenance` feature, then a
# check that the DC CVAC/CIVAC instructions of that feature really executed.
# Tests that user-mode emulation cannot run are skipped by name, with the
# reason printed. Called by .ci/run; runs on its own too.
set -euo pipefail
cd "$(dirname "$0")/.."

target=aarch64-unknown-linux-gnu
sysroot=/usr/aarch64-linux-gnu

missing=()
command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || missing+=(gcc-aarch64-linux-gnu)
command -v aarch64-linux-gnu-g++ >/dev/null 2>&1 || missing+=(g++-aarch64-linux-gnu)
command -v qemu-aarch64 >/dev/null 2>&1 || missing+=(qemu-user)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "aarch64: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! rustup target list --installed | grep -qx "$target"; then
    rustup target add "$target"
fi

export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L $sysroot"
# The C test kit (ctests/) picks the cross compilers through the cc crate;
# name them explicitly so no host compiler is ever taken.
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++

# name|reason: every test user-mode emulation cannot run.
skips=(
    "the_l2_path_makes_no_system_call|seccomp strict mode: qemu-user makes system calls of its own on the guest's behalf"
    "the_filter_catches_a_system_call|seccomp strict mode, as above (the control of the no-system-call test)"
    "every_ctest_is_clean_under_valgrind|valgrind on this host runs x86-64 programs only"
    "every_ctest_is_clean_under_asan_and_ubsan|LeakSanitizer, which this test requires, stops with a fatal error under qemu-user"
    "c_host_drives_c_and_cpp_workers_shared_and_static|the C host exec()s the aarch64 worker itself, which needs qemu registered with binfmt_misc (not done here)"
    "python_host_drives_c_and_cpp_workers|the host's x86-64 python3 cannot load the aarch64 libl3l2q.so"
    "demo_runs_end_to_end_in_two_processes|the compiled demo example exec()s its aarch64 worker itself (binfmt_misc, as above)"
    "l3_times_out_when_l2_is_killed_and_reports_remote_abort_when_l2_poisoned_first|starts with a demo run, whose worker the demo exec()s itself (binfmt_misc, as above)"
)
# The long two-thread runs at a size emulation gets through in CI time
# (tests/support/scale.rs); the hostile-peer run at 300 000 steps.
export L3L2Q_TEST_SCALE=${L3L2Q_TEST_SCALE:-0.1}
export L3L2Q_HOSTILE_STEPS=${L3L2Q_HOSTILE_STEPS:-300000}
skip_args=()
for entry in "${skips[@]}"; do
    skip_args+=(--skip "${entry%%|*}")
done

log=$(mktemp)
trap 'rm -f "$log" "$log".*' EXIT

test_run() { # $1: pass label, $2...: cargo test arguments; appends to the pass's log
    local label=$1
    shift
    echo "== aarch64 ($label): cargo test --no-fail-fast --target $target $* -- <skips>"
    set +e
    cargo test --no-fail-fast --target "$target" "$@" -- "${skip_args[@]}" 2>&1 | tee -a "$log.$label"
    local status=${PIPESTATUS[0]}
    set -e
    return "$status"
}

summary() { # $1: pass label, $2: seconds
    awk -v label="$1" -v secs="$2" \
        '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i } }
         END { printf "aarch64 (%s): %d tests ran under qemu-user, %d passed, %d failed (%d ignored), %d s\n", label, p + f, p, f, g, secs }' \
        "$log.$1" | tee -a "$log"
}

echo "== aarch64: L3L2Q_TEST_SCALE=$L3L2Q_TEST_SCALE L3L2Q_HOSTILE_STEPS=$L3L2Q_HOSTILE_STEPS; skipped by name:"
for entry in "${skips[@]}"; do
    echo "   skipped: ${entry%%|*} -- ${entry#*|}"
done

status=0
# Everything, as built by default.
started=$SECONDS
test_run plain -p l3l2q -p l3l2q-ctests || status=1
summary plain $((SECONDS - started))
# With cache maintenance: every Rust test, and the C/C++ programs (whose
# L2 side goes through the same mapped region). The packaging and header
# tests do not depend on the feature and ran above.
started=$SECONDS
test_run cache-maintenance -p l3l2q --features l3l2q/aarch64-cache-maintenance || status=1
test_run cache-maintenance -p l3l2q-ctests --features l3l2q/aarch64-cache-maintenance --test ctests ||
    status=1
summary cache-maintenance $((SECONDS - started))

# The cache maintenance really ran: the instructions are in the library the
# tests linked, and qemu translated (so executed) them while one mapped-region
# test of the feature build ran. qemu translates a block right before running
# it, so a DC instruction in its in_asm log was reached.
echo "== aarch64: DC CVAC/CIVAC executed by the cache-maintenance build"
exe=$(cargo test --target "$target" -p l3l2q --features l3l2q/aarch64-cache-maintenance \
    --test l2_endpoint --no-run --message-format=json 2>/dev/null |
    sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
objdump=aarch64-linux-gnu-objdump
in_binary=$("$objdump" -d "$exe" | grep -cE 'dc[[:space:]]+c(i)?vac' || true)
qlog=$(mktemp)
qemu-aarch64 -L "$sysroot" -d in_asm -D "$qlog" "$exe" --test-threads 1 -q >/dev/null 2>&1 || status=1
cvac=$(grep -cE 'dc[[:space:]]+cvac' "$qlog" || true)
civac=$(grep -cE 'dc[[:space:]]+civac' "$qlog" || true)
rm -f "$qlog"
echo "aarch64: $in_binary DC CVAC/CIVAC instructions in $(basename "$exe"); executed blocks with DC CVAC: $cvac, with DC CIVAC: $civac" | tee -a "$log"
if [ "$in_binary" -eq 0 ] || [ "$cvac" -eq 0 ] || [ "$civac" -eq 0 ]; then
    echo "aarch64: the cache-maintenance instructions did not execute" | tee -a "$log"
    status=1
fi

echo "== aarch64 summary"
cat "$log"
exit "$status"
