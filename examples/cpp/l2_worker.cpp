// l2_worker.cpp: the L2 worker loop of examples/c/l2_worker.c, in C++17
// with the RAII wrapper (include/l3l2q.hpp). Same command line and same
// answers, so either l3_host (C or Python) can drive it:
//
//   usage: l2_worker SHM_NAME S0 S1 ... S11
//
// Differences from the C worker: an input window of 4 (it takes up to four
// inputs, answers them in order, then releases them newest first; the queue
// frees their space only once the oldest is released), RAII owners for the
// region and the endpoint, and no exceptions, RTTI or heap use, so it builds
// with -fno-exceptions -fno-rtti.
//
// Build (see docs/PACKAGING.md):
//   c++ -std=c++17 -Iinclude examples/cpp/l2_worker.cpp -o l2_worker_cpp $(pkg-config --cflags --libs l3l2q)

#include "l3l2q.hpp"

#include <cstdio>
#include <cstdlib>
#include <ctime>

namespace {

constexpr uint64_t kPeekNs = 100000000ull; // 100 ms per wait
constexpr int kIdleLimit = 100;            // give up after 10 s without input
constexpr size_t kWindow = 4;

// Answers one input: same opcode and length, ASCII letters upper-cased.
l3l2q::Status answer(l3l2q::L2Endpoint &ep, const l3l2q::Message &in) {
    l3l2q::Reservation out;
    const l3l2q::Status s = ep.output().reserve(in.size(), 5 * 1000000000ull, out);
    if (s != l3l2q::Status::Ok) return s;
    for (size_t i = 0; i < in.size(); ++i) {
        const uint8_t c = in.data()[i];
        out.data()[i] = (c >= 'a' && c <= 'z') ? static_cast<uint8_t>(c - 32) : c;
    }
    return ep.output().publish(out, in.opcode(), in.size());
}

} // namespace

int main(int argc, char **argv) {
    if (argc != 2 + L3L2Q_TASK_SCALARS) {
        std::fprintf(stderr, "usage: %s SHM_NAME S0 .. S11\n", argv[0]);
        return 2;
    }
    uint64_t scalars[L3L2Q_TASK_SCALARS];
    for (int i = 0; i < L3L2Q_TASK_SCALARS; ++i) scalars[i] = std::strtoull(argv[2 + i], nullptr, 0);

    // The region first, so it is unmapped after the endpoint is freed.
    l3l2q::SharedRegion region;
    int32_t err = 0;
    l3l2q::Status s = l3l2q::Status::NoProgress;
    for (int tries = 0; tries < 1000 && s == l3l2q::Status::NoProgress; ++tries) {
        s = l3l2q::SharedRegion::open(argv[1], region, &err); // NoProgress: header not written yet
        if (s == l3l2q::Status::NoProgress) {
            const timespec ms{0, 1000000};
            nanosleep(&ms, nullptr);
        }
    }
    if (s != l3l2q::Status::Ok) {
        std::fprintf(stderr, "l2_worker: open %s: %s (errno %d)\n", argv[1], l3l2q::to_string(s), static_cast<int>(err));
        return 2;
    }
    // The scalars carry the host's addresses. Addresses are per process:
    // replace scalar 2 (payload_base) and 4 (counter_base) with this
    // process's mapping of the same bytes (the library checks that the other
    // ten scalars describe this very object first).
    s = region.rebase_task_scalars(scalars);
    if (s != l3l2q::Status::Ok) {
        std::fprintf(stderr, "l2_worker: the scalars do not describe %s: %s\n", argv[1], l3l2q::to_string(s));
        return 2;
    }

    l3l2q::L2Endpoint ep;
    l3l2q_violation violation = L3L2Q_VIOLATION_VALID;
    s = l3l2q::L2Endpoint::create(scalars, kWindow, ep, &violation);
    if (s != l3l2q::Status::Ok) {
        std::fprintf(stderr, "l2_worker: create: %s (%s)\n", l3l2q::to_string(s), l3l2q::to_string(violation));
        return 2;
    }

    uint64_t handled = 0;
    int idle = 0;
    bool stop_seen = false;
    while (!stop_seen) {
        // Take what is there, up to the window: wait for the first only.
        l3l2q::Message held[kWindow];
        size_t n = 0;
        l3l2q::Message m;
        while (n < kWindow && (s = ep.input().peek(m, n == 0 ? kPeekNs : 0)) == l3l2q::Status::Ok) {
            if (m.is_stop()) {
                stop_seen = true; // nothing is acquired after STOP
                break;
            }
            held[n++] = m;
        }
        if (n == 0 && !stop_seen) {
            if (s == l3l2q::Status::Timeout && ++idle < kIdleLimit) continue;
            break; // idle too long, poisoned or host aborted
        }
        idle = 0;
        for (size_t i = 0; i < n; ++i) {
            if ((s = answer(ep, held[i])) != l3l2q::Status::Ok) break;
        }
        // Release newest first: the head advances only when the oldest goes.
        for (size_t i = n; i-- > 0 && s == l3l2q::Status::Ok;) s = ep.input().release(held[i]);
        if (s != l3l2q::Status::Ok && s != l3l2q::Status::NoProgress) break;
        handled += n;
        if (stop_seen) s = ep.input().release(m); // STOP is released too; drained after that
    }

    if (stop_seen && ep.drained()) {
        std::fprintf(stderr, "l2_worker (C++): drained after %llu messages\n", static_cast<unsigned long long>(handled));
        return 0;
    }
    const l3l2q::ErrorInfo e = ep.error();
    std::fprintf(stderr, "l2_worker (C++): stopped on %s; error %s: %s\n", l3l2q::to_string(s), l3l2q::to_string(e.kind()),
                 e.message());
    return 1;
}
