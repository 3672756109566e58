// C++17 test of include/l3l2q.hpp: an L3 queue and an L2 endpoint in one
// process over a malloc'd (aligned) region, driven through the RAII wrapper
// only. Uses no exceptions and no RTTI, so it also builds with
// -fno-exceptions -fno-rtti (tests/examples.rs does that).
//
// Covers: messages with content checks in two std::threads, zero-byte and
// ERROR messages, window > 1 with out-of-order release, STOP and drain,
// batches and deferred publication, move semantics, poison surfacing as Status::Poisoned with error info, the
// peer seeing REMOTE_ABORTED, and SharedRegion (two mappings of one named
// shared-memory object, task scalars rebased to the second).

#include "l3l2q.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <utility>

using l3l2q::L2Endpoint;
using l3l2q::L3Queue;
using l3l2q::Message;
using l3l2q::Opcode;
using l3l2q::Reservation;
using l3l2q::Status;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            std::fflush(stderr);                                                      \
            std::_Exit(1);                                                            \
        }                                                                             \
    } while (0)

#define CHECK_STATUS(expr, want)                                                        \
    do {                                                                                \
        const Status got_ = (expr);                                                     \
        if (got_ != (want)) {                                                           \
            std::fprintf(stderr, "%s:%d: %s returned %d (%s), expected %s\n", __FILE__, \
                         __LINE__, #expr, static_cast<int>(got_), l3l2q::to_string(got_), #want); \
            std::fflush(stderr);                                                        \
            std::_Exit(1);                                                              \
        }                                                                               \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, Status::Ok)

static constexpr uint64_t kSecond = 1000000000ull;
static constexpr uint64_t kWait = 5 * kSecond; // every blocking call is bounded

// ---- compile-time checks of the wrapper's shape ---------------------------

static_assert(!std::is_copy_constructible<L3Queue>::value, "L3Queue is move-only");
static_assert(!std::is_copy_assignable<L3Queue>::value, "L3Queue is move-only");
static_assert(std::is_nothrow_move_constructible<L3Queue>::value, "L3Queue moves without throwing");
static_assert(std::is_nothrow_move_assignable<L3Queue>::value, "L3Queue moves without throwing");
static_assert(!std::is_copy_constructible<L2Endpoint>::value, "L2Endpoint is move-only");
static_assert(std::is_nothrow_move_constructible<L2Endpoint>::value, "L2Endpoint moves without throwing");
static_assert(std::is_nothrow_move_assignable<L2Endpoint>::value, "L2Endpoint moves without throwing");
static_assert(sizeof(L3Queue) == sizeof(void *), "an owner is one pointer, no heap");
static_assert(sizeof(L2Endpoint) == sizeof(void *), "an owner is one pointer, no heap");
static_assert(std::is_trivially_copyable<Message>::value && sizeof(Message) == sizeof(l3l2q_message), "Message is plain data");
static_assert(std::is_trivially_copyable<Reservation>::value && sizeof(Reservation) == sizeof(l3l2q_reservation), "Reservation is plain data");
static_assert(static_cast<int>(Status::Ok) == 0 && static_cast<int>(Status::Poisoned) == L3L2Q_STATUS_POISONED, "Status mirrors the C values");
static_assert(static_cast<int>(Status::RemoteAborted) == L3L2Q_STATUS_REMOTE_ABORTED, "Status mirrors the C values");
static_assert(noexcept(std::declval<L2Endpoint &>().input().try_peek(std::declval<Message &>())), "L2 path is noexcept");
static_assert(noexcept(std::declval<L2Endpoint &>().output().reserve(0, 0, std::declval<Reservation &>())), "L2 path is noexcept");

// ---- a region in ordinary memory ------------------------------------------

struct TestRegion {
    unsigned char *mem = nullptr;
    l3l2q_region_descriptor desc{};
    l3l2q_l3_config config{};

    TestRegion(uint64_t depth, uint64_t in_arena, uint64_t out_arena, uint64_t region_id) {
        l3l2q_layout layout{};
        l3l2q_violation v = L3L2Q_VIOLATION_VALID;
        CHECK(l3l2q_layout_compute(depth, in_arena, out_arena, &layout, &v) == L3L2Q_STATUS_OK);
        const size_t payload = (layout.payload_bytes + 63) & ~size_t{63};
        const size_t total = payload + layout.counter_bytes;
        mem = static_cast<unsigned char *>(std::aligned_alloc(64, total));
        CHECK(mem != nullptr);
        std::memset(mem, 0xCD, total); // garbage: the queue must zero the counters itself
        uint64_t magic = 0;
        CHECK(l3l2q_magic_version_pack(L3L2Q_REGION_MAGIC, L3L2Q_REGION_ABI_MAJOR, L3L2Q_REGION_ABI_MINOR, &magic) == L3L2Q_STATUS_OK);
        desc.magic_version = magic;
        desc.region_id = region_id;
        desc.payload_base = reinterpret_cast<uint64_t>(mem);
        desc.payload_bytes = layout.payload_bytes;
        desc.counter_base = reinterpret_cast<uint64_t>(mem + payload);
        desc.counter_bytes = layout.counter_bytes;
        config.depth = depth;
        config.input_arena_bytes = in_arena;
        config.output_arena_bytes = out_arena;
        config.initial_count = 0;
    }
    ~TestRegion() { std::free(mem); }
    TestRegion(const TestRegion &) = delete;
    TestRegion &operator=(const TestRegion &) = delete;

    // A counter as the peer would observe it (acquire load).
    uint32_t counter(uint64_t offset) const {
        const uint32_t *p = reinterpret_cast<const uint32_t *>(desc.counter_base + offset);
        return __atomic_load_n(p, __ATOMIC_ACQUIRE);
    }

    // Creates the L3 queue and an L2 endpoint with window `max_inflight`.
    void open(L3Queue &queue, L2Endpoint &endpoint, uint64_t max_inflight) const {
        l3l2q_violation v = L3L2Q_VIOLATION_VALID;
        CHECK_OK(L3Queue::create_mapped(desc, config, queue, &v));
        CHECK(v == L3L2Q_VIOLATION_VALID);
        CHECK(queue.valid());
        for (uint64_t off = 0; off < L3L2Q_COUNTER_BYTES; off += L3L2Q_COUNTER_STRIDE) CHECK(counter(off) == 0);
        uint64_t scalars[L3L2Q_TASK_SCALARS] = {};
        CHECK_OK(queue.task_scalars(scalars));
        // Same process: the descriptor's addresses are already ours. A peer in
        // another process would replace scalars 2 and 4 with its own mapping.
        CHECK(scalars[1] == desc.region_id && scalars[2] == desc.payload_base && scalars[4] == desc.counter_base);
        CHECK_OK(L2Endpoint::create(scalars, max_inflight, endpoint, &v));
        CHECK(endpoint.valid());
    }
};

// ---- message contents -----------------------------------------------------

// Message i: i % 10 == 3 is a zero-byte DATA, i % 10 == 7 an ERROR carrying
// text, anything else a DATA of a 4-byte id followed by a pattern.
static Opcode input_opcode(uint32_t i) { return i % 10 == 7 ? Opcode::Error : Opcode::Data; }

static size_t make_input(uint32_t i, unsigned char *buf) {
    if (i % 10 == 3) return 0;
    if (i % 10 == 7) return static_cast<size_t>(std::snprintf(reinterpret_cast<char *>(buf), 64, "application error %u", i));
    const size_t n = 4 + (i * 37u) % 300u;
    std::memcpy(buf, &i, 4);
    for (size_t k = 4; k < n; ++k) buf[k] = static_cast<unsigned char>(i * 31u + k);
    return n;
}

// The L2 worker's answer: same opcode and length, every byte XOR 0x5A.
static size_t expected_reply(uint32_t i, unsigned char *buf) {
    const size_t n = make_input(i, buf);
    for (size_t k = 0; k < n; ++k) buf[k] ^= 0x5A;
    return n;
}

static const char kBye[] = "bye after drain";

// ---- 1. two threads -------------------------------------------------------

// L2 side: takes up to three inputs at a time (window 3), answers them in
// order, releases them in reverse order; on STOP releases it, checks drain,
// then sends one more message (output keeps working while draining).
static void l2_worker(L2Endpoint endpoint, uint32_t *handled) {
    Message held[3];
    size_t n_held = 0;
    bool stopped = false;
    while (!stopped) {
        Message m;
        Status s = endpoint.input().peek(m, n_held == 0 ? kWait : 0);
        if (s == Status::Ok && !m.is_stop()) {
            held[n_held++] = m;
            if (n_held < 3) continue; // fill the window first
        } else if (s == Status::Ok) {
            stopped = true;
        } else {
            CHECK(s == Status::Timeout || s == Status::NoProgress);
            CHECK(n_held > 0); // an idle 5 s wait means the host is stuck
        }
        // Answer in arrival order...
        for (size_t k = 0; k < n_held; ++k) {
            const Message &in = held[k];
            Reservation r;
            CHECK_OK(endpoint.output().reserve(in.size(), kWait, r));
            CHECK(r.capacity() == in.size());
            CHECK((r.data() == nullptr) == in.empty());
            CHECK((in.data() == nullptr) == in.empty());
            for (size_t b = 0; b < in.size(); ++b) r.data()[b] = in.data()[b] ^ 0x5A;
            CHECK_OK(endpoint.output().publish(r, in.opcode(), in.size()));
            ++*handled;
        }
        // ...and release in reverse order: nothing frees until the oldest goes.
        for (size_t k = n_held; k-- > 0;) CHECK_OK(endpoint.input().release(held[k]));
        n_held = 0;
        if (stopped) {
            CHECK(!endpoint.input().drained()); // STOP not yet released
            CHECK_OK(endpoint.input().release(m));
            CHECK(endpoint.drained());
            CHECK_STATUS(endpoint.input().try_peek(m), Status::NoProgress);
        }
    }
    CHECK_OK(endpoint.output().send(Opcode::Data, kBye, sizeof kBye, kWait));
    CHECK(!endpoint.error());
    // `endpoint` is destroyed here, in the worker thread: the RAII owner frees it.
}

static void l3_host(L3Queue &queue, uint32_t total) {
    unsigned char in[512], want[512], got[512];
    uint32_t sent = 0, received = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (received < total) {
        CHECK(std::chrono::steady_clock::now() < deadline);
        if (sent < total) {
            const size_t n = make_input(sent, in);
            const Status s = queue.input().try_enqueue(input_opcode(sent), n ? in : nullptr, n);
            if (s == Status::Ok) ++sent;
            else CHECK_STATUS(s, Status::NoProgress);
        }
        Message m;
        const Status s = queue.output().try_peek(m);
        if (s == Status::NoProgress) {
            std::this_thread::yield();
            continue;
        }
        CHECK_OK(s);
        const size_t n = expected_reply(received, want);
        CHECK(m.opcode() == input_opcode(received));
        CHECK(m.size() == n);
        // Repeated peeks return the same active message.
        Message again;
        CHECK_OK(queue.output().try_peek(again));
        CHECK(again.seq() == m.seq() && again.payload_offset() == m.payload_offset());
        if (received % 2 == 0) {
            size_t len = 0;
            if (n > 0) { // too small a buffer changes nothing
                CHECK_STATUS(queue.output().read_into(m, got, n - 1, len), Status::BufferTooSmall);
            }
            CHECK_OK(queue.output().read_into(m, got, sizeof got, len));
            CHECK(len == n);
            CHECK(std::memcmp(got, want, n) == 0);
        } else { // zero-copy view
            CHECK(n == 0 || std::memcmp(m.data(), want, n) == 0);
        }
        CHECK_OK(queue.output().release(m));
        ++received;
    }
    CHECK_OK(queue.input().request_stop(kWait));
    CHECK_STATUS(queue.input().try_enqueue(in, 1), Status::Stopped);
    CHECK_STATUS(queue.input().request_stop(0), Status::Stopped);
    // Output keeps working after STOP.
    Opcode op = Opcode::Invalid;
    size_t len = 0;
    CHECK_OK(queue.output().dequeue_into(got, sizeof got, op, len, kWait));
    CHECK(op == Opcode::Data && len == sizeof kBye && std::memcmp(got, kBye, len) == 0);
    CHECK(!queue.error());
}

static void test_two_threads() {
    TestRegion region(8, 1024, 1024, 0x11);
    L3Queue queue;
    L2Endpoint endpoint;
    region.open(queue, endpoint, 3);
    const uint32_t total = 500;
    uint32_t handled = 0;
    l3l2q_l2_endpoint *raw = endpoint.get();
    // Both sides in their own std::thread; the endpoint moves into its thread.
    std::thread l2(l2_worker, std::move(endpoint), &handled);
    CHECK(!endpoint.valid() && endpoint.get() == nullptr); // moved from
    CHECK(raw != nullptr);
    std::thread l3([&queue, total] { l3_host(queue, total); });
    l3.join();
    l2.join();
    CHECK(handled == total);
    Message m;
    CHECK_STATUS(queue.output().try_peek(m), Status::NoProgress);
    CHECK(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == total + 1); // every input and STOP released
    CHECK(region.counter(L3L2Q_L2_ABORT_FLAG_OFFSET) == 0 && region.counter(L3L2Q_L3_ABORT_FLAG_OFFSET) == 0);
    std::printf("two threads: %u messages echoed\n", total);
}

// ---- 2. window > 1, out-of-order release, STOP and drain ------------------

static void test_window_and_drain() {
    TestRegion region(8, 512, 512, 0x22);
    L3Queue queue;
    L2Endpoint ep;
    region.open(queue, ep, 4);
    for (uint32_t i = 0; i < 5; ++i) CHECK_OK(queue.input().try_enqueue(&i, sizeof i));
    Message h[5];
    for (uint32_t i = 0; i < 4; ++i) {
        CHECK_OK(ep.input().try_peek(h[i]));
        CHECK(h[i].is_data() && h[i].size() == 4 && h[i].seq() == i + 1);
        uint32_t v = 0;
        std::memcpy(&v, h[i].data(), 4);
        CHECK(v == i);
    }
    CHECK_STATUS(ep.input().try_peek(h[4]), Status::NoProgress); // window full
    CHECK_OK(ep.input().release(h[2]));
    CHECK_OK(ep.input().release(h[1]));
    CHECK_OK(ep.input().release(h[3]));
    CHECK(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == 0); // #0 still held: nothing freed
    CHECK_STATUS(ep.input().try_peek(h[4]), Status::NoProgress); // still full
    CHECK_OK(ep.input().release(h[0]));
    CHECK(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == 4); // the whole prefix at once
    CHECK_OK(ep.input().try_peek(h[4]));
    CHECK(h[4].seq() == 5);

    // STOP passes while #4 is held; drained only after #4 is released too.
    CHECK_OK(queue.input().request_stop(kWait));
    CHECK_STATUS(queue.input().try_enqueue(Opcode::Error, nullptr, 0), Status::Stopped);
    Message stop;
    CHECK_OK(ep.input().try_peek(stop));
    CHECK(stop.is_stop() && stop.empty() && stop.seq() == 6);
    CHECK_STATUS(ep.input().try_peek(h[0]), Status::NoProgress); // nothing after STOP
    CHECK(!ep.drained());
    CHECK_OK(ep.input().release(stop));
    CHECK(!ep.drained());
    CHECK(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == 4);
    CHECK_OK(ep.input().release(h[4]));
    CHECK(ep.drained() && ep.input().drained());
    CHECK(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == 6);

    // Zero-byte and ERROR outputs while drained.
    Reservation r;
    CHECK_OK(ep.output().try_reserve(0, r));
    CHECK(r.capacity() == 0 && r.data() == nullptr);
    CHECK(r.seq() == 1); // the seq the first output is published with
    CHECK_OK(ep.output().publish(r, Opcode::Data, 0));
    static const char kErr[] = "device fault 42";
    CHECK_OK(ep.output().send(Opcode::Error, kErr, sizeof kErr, kWait));
    // A reservation shrunk to zero bytes rolls back and publishes a zero-byte ERROR.
    CHECK_OK(ep.output().try_reserve(100, r));
    CHECK(r.capacity() == 100 && r.data() != nullptr && r.seq() == 3);
    CHECK_OK(ep.output().publish(r, Opcode::Error, 0));
    // More than the arena is no-progress, not an error.
    CHECK_STATUS(ep.output().try_reserve(4096, r), Status::NoProgress);

    Message m;
    CHECK_OK(queue.output().peek(m, kWait));
    CHECK(m.is_data() && m.empty() && m.data() == nullptr && m.payload_offset() == 0);
    CHECK_OK(queue.output().release(m));
    CHECK_OK(queue.output().peek(m, kWait));
    CHECK(m.is_error() && m.size() == sizeof kErr && std::memcmp(m.data(), kErr, sizeof kErr) == 0);
    CHECK_OK(queue.output().release(m));
    CHECK_OK(queue.output().peek(m, kWait));
    CHECK(m.is_error() && m.empty() && m.payload_offset() == 0);
    CHECK_OK(queue.output().release(m));
    CHECK_STATUS(queue.output().peek(m, 1000000), Status::Timeout);
    CHECK(!queue.error() && !ep.error());
    std::printf("window and drain: ok\n");
}

// ---- 3. move semantics ----------------------------------------------------

static void test_moves() {
    TestRegion ra(4, 256, 256, 0x31), rb(4, 256, 256, 0x32);
    L3Queue qa, qb;
    L2Endpoint ea, eb;
    ra.open(qa, ea, 1);
    rb.open(qb, eb, 1);

    // Move construction leaves the source empty; its destructor frees nothing.
    l3l2q_l3_queue *raw_a = qa.get();
    {
        L3Queue moved(std::move(qa));
        CHECK(moved.get() == raw_a && !qa && qa.get() == nullptr);
        // Calls through an empty owner fail cleanly with BadArgument.
        uint32_t x = 7;
        CHECK_STATUS(qa.input().try_enqueue(&x, sizeof x), Status::BadArgument);
        Message m;
        CHECK_STATUS(qa.output().try_peek(m), Status::BadArgument);
        CHECK(!qa.error()); // empty record, no crash
        CHECK_OK(moved.input().try_enqueue(&x, sizeof x));
        qa = std::move(moved); // move back
        CHECK(qa.get() == raw_a && !moved);
    }
    // Self move-assignment keeps the handle.
    L3Queue &alias = qa;
    qa = std::move(alias);
    CHECK(qa.get() == raw_a);

    // Move assignment into a non-empty owner frees the old queue (qb's) and
    // takes qa's; qa's region keeps working through qb.
    qb = std::move(qa);
    CHECK(qb.get() == raw_a && !qa);
    Message m;
    CHECK_OK(ea.input().try_peek(m));
    uint32_t v = 0;
    std::memcpy(&v, m.data(), 4);
    CHECK(v == 7);
    CHECK_OK(ea.input().release(m));
    CHECK(ra.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == 1);
    CHECK_OK(qb.input().try_enqueue(&v, sizeof v));
    CHECK_OK(ea.input().try_peek(m));
    CHECK_OK(ea.input().release(m));

    // Endpoints: move-assign, reset twice, detach/adopt.
    l3l2q_l2_endpoint *raw_ea = ea.get();
    eb = std::move(ea); // frees rb's endpoint
    CHECK(eb.get() == raw_ea && !ea);
    CHECK_STATUS(ea.input().try_peek(m), Status::BadArgument);
    CHECK(!ea.input().drained());
    ea.reset(); // no-op on an empty owner
    l3l2q_l2_endpoint *detached = eb.detach();
    CHECK(detached == raw_ea && !eb);
    {
        L2Endpoint adopted(detached);
        CHECK(adopted.get() == raw_ea);
        adopted.reset();
        CHECK(!adopted);
        adopted.reset();
    } // destructor of an already reset owner: no double free

    // create() into a non-empty owner replaces (and frees) what it held;
    // a failed create() leaves it untouched.
    L2Endpoint fresh;
    uint64_t scalars[L3L2Q_TASK_SCALARS];
    CHECK_OK(qb.task_scalars(scalars));
    CHECK_OK(L2Endpoint::create(scalars, 1, fresh));
    l3l2q_l2_endpoint *first = fresh.get();
    CHECK_OK(L2Endpoint::create(scalars, 2, fresh));
    l3l2q_l2_endpoint *second = fresh.get();
    CHECK(second != nullptr && second != first); // the new one was made before the old was freed
    l3l2q_violation viol = L3L2Q_VIOLATION_VALID;
    CHECK_STATUS(L2Endpoint::create(scalars, 0, fresh, &viol), Status::BadArgument); // window 0
    CHECK(fresh.get() == second);
    uint64_t bad[L3L2Q_TASK_SCALARS];
    std::memcpy(bad, scalars, sizeof bad);
    bad[0] ^= uint64_t{1} << 40; // wrong region magic
    CHECK_STATUS(L2Endpoint::create(bad, 1, fresh, &viol), Status::BadDescriptor);
    CHECK(viol == L3L2Q_VIOLATION_REGION_MAGIC);
    CHECK(std::strlen(l3l2q::to_string(viol)) > 0);
    CHECK(fresh.get() == second);
    std::printf("moves: ok\n");
}

// ---- 4. poison ------------------------------------------------------------

static void test_poison() {
    // L2 releases a handle twice: OWNERSHIP poison, flag raised for L3.
    {
        TestRegion region(4, 256, 256, 0x4242);
        L3Queue queue;
        L2Endpoint ep;
        region.open(queue, ep, 2);
        CHECK_OK(queue.input().try_enqueue("abc", 3));
        Message m;
        CHECK_OK(ep.input().try_peek(m));
        CHECK_OK(ep.input().release(m));
        CHECK(!ep.error());
        CHECK(ep.error().kind() == l3l2q::ErrorKind::None);
        CHECK_STATUS(ep.input().release(m), Status::Poisoned);
        const l3l2q::ErrorInfo e = ep.error();
        CHECK(static_cast<bool>(e));
        CHECK(e.kind() == l3l2q::ErrorKind::Ownership);
        CHECK(e.operation() == l3l2q::Operation::Release);
        CHECK(e.region_id() == 0x4242);
        CHECK(std::strlen(e.message()) > 0);
        CHECK(std::strcmp(l3l2q::to_string(e.kind()), "OWNERSHIP") == 0);
        CHECK(std::strcmp(l3l2q::to_string(e.operation()), "release") == 0);
        std::printf("poison recorded: %s in %s on region %#llx: %s\n", l3l2q::to_string(e.kind()),
                    l3l2q::to_string(e.operation()), static_cast<unsigned long long>(e.region_id()), e.message());
        CHECK(region.counter(L3L2Q_L2_ABORT_FLAG_OFFSET) == 1);
        CHECK(region.counter(L3L2Q_L3_ABORT_FLAG_OFFSET) == 0);
        // Every later operation fails fast with the recorded error.
        CHECK_STATUS(ep.input().try_peek(m), Status::Poisoned);
        Reservation r;
        CHECK_STATUS(ep.output().try_reserve(8, r), Status::Poisoned);
        CHECK(l3l2q::is_fatal(Status::Poisoned));
        // The host sees the peer's abort when a wait runs out: recorded and
        // terminal, but L3's own abort flag stays clear.
        CHECK_STATUS(queue.output().peek(m, 2000000), Status::RemoteAborted);
        CHECK(queue.error().kind() == l3l2q::ErrorKind::RemoteAborted);
        CHECK(queue.error().operation() == l3l2q::Operation::Timeout);
        CHECK(std::strcmp(l3l2q::to_string(queue.error().operation()), "timeout") == 0);
        CHECK(queue.error().region_id() == 0x4242);
        CHECK(std::strlen(queue.error().message()) > 0);
        CHECK(region.counter(L3L2Q_L3_ABORT_FLAG_OFFSET) == 0);
        CHECK_STATUS(queue.output().try_peek(m), Status::RemoteAborted);
        CHECK_STATUS(queue.input().try_enqueue("a", 1), Status::RemoteAborted);
        bool aborted = false;
        CHECK_OK(queue.remote_aborted(aborted));
        CHECK(aborted);
        CHECK(region.counter(L3L2Q_L3_ABORT_FLAG_OFFSET) == 0);
        // Freeing a poisoned endpoint stays valid (destructor).
    }
    // L2 publishes STOP: INVALID_DESCRIPTOR poison.
    {
        TestRegion region(4, 256, 256, 0x43);
        L3Queue queue;
        L2Endpoint ep;
        region.open(queue, ep, 1);
        Reservation r;
        CHECK_OK(ep.output().try_reserve(0, r));
        CHECK_STATUS(ep.output().publish(r, Opcode::Stop, 0), Status::Poisoned);
        CHECK(ep.error().kind() == l3l2q::ErrorKind::InvalidDescriptor);
        CHECK(ep.error().operation() == l3l2q::Operation::Publish);
        // A second reserve while one is active would be OWNERSHIP, but the
        // first error is kept.
        CHECK_STATUS(ep.output().try_reserve(0, r), Status::Poisoned);
        CHECK(ep.error().kind() == l3l2q::ErrorKind::InvalidDescriptor);
    }
    // L3 releases a message it does not hold: OWNERSHIP on L3, L2 sees REMOTE_ABORTED.
    {
        TestRegion region(4, 256, 256, 0x44);
        L3Queue queue;
        L2Endpoint ep;
        region.open(queue, ep, 1);
        CHECK_OK(ep.output().send(Opcode::Data, "xyz", 3, kWait));
        Message m;
        CHECK_OK(queue.output().try_peek(m));
        Message forged = m;
        forged.raw().payload_nbytes = 2; // altered handle
        CHECK_STATUS(queue.output().release(forged), Status::Poisoned);
        CHECK(queue.error().kind() == l3l2q::ErrorKind::Ownership);
        CHECK(queue.error().region_id() == 0x44);
        CHECK(region.counter(L3L2Q_L3_ABORT_FLAG_OFFSET) == 1);
        CHECK_STATUS(queue.output().release(m), Status::Poisoned); // fails fast now
        CHECK_STATUS(queue.input().try_enqueue("a", 1), Status::Poisoned);
        // The query sees the flag without waiting, and records the abort.
        bool aborted = false;
        CHECK_OK(ep.remote_aborted(aborted));
        CHECK(aborted);
        CHECK(ep.error().kind() == l3l2q::ErrorKind::RemoteAborted);
        CHECK(ep.error().operation() == l3l2q::Operation::Timeout);
        CHECK(region.counter(L3L2Q_L2_ABORT_FLAG_OFFSET) == 0);
        CHECK_STATUS(ep.input().peek(m, 2000000), Status::RemoteAborted);
        Reservation r;
        CHECK_STATUS(ep.output().try_reserve(8, r), Status::RemoteAborted);
    }
    std::printf("poison: ok\n");
}

// ---- STOP never hides a later input (SPEC 8) ------------------------------

static void test_stop_rule() {
    // Our L3 refuses input after STOP, so a buggy L3 is played by hand: it
    // publishes DATA #1 and STOP #2 through the queue, then slot #3 (DATA,
    // 1 byte at the next arena position) and tail 3 directly.
    for (int batch = 0; batch < 2; ++batch) {
        TestRegion region(4, 256, 256, 0x57);
        L3Queue queue;
        L2Endpoint ep;
        region.open(queue, ep, 2);
        CHECK_OK(queue.input().try_enqueue("a", 1));
        CHECK_OK(queue.input().try_request_stop());
        l3l2q_layout layout{};
        CHECK_OK(queue.layout(layout));
        unsigned char *base = reinterpret_cast<unsigned char *>(region.desc.payload_base);
        base[layout.input_arena_offset + 1] = 'b';
        const uint64_t slot[4] = {3, L3L2Q_OPCODE_DATA, layout.input_arena_offset + 1, 1};
        for (int f = 0; f < 4; ++f)
            for (int b = 0; b < 8; ++b) base[layout.input_desc_offset + 2 * 32 + 8 * f + b] = static_cast<unsigned char>(slot[f] >> (8 * b));
        __atomic_store_n(reinterpret_cast<uint32_t *>(region.desc.counter_base + L3L2Q_INPUT_DESC_TAIL_OFFSET), 3u, __ATOMIC_RELEASE);

        Message m;
        if (batch == 0) {
            CHECK_OK(ep.input().try_peek(m));
            CHECK(m.is_data() && m.seq() == 1);
            CHECK_OK(ep.input().release(m));
            CHECK_STATUS(ep.input().peek(m, kWait), Status::Poisoned); // STOP refused, not handed out
        } else {
            size_t n = 0;
            CHECK_STATUS(ep.input().try_consume(4, [](const Message &) {}, n), Status::Poisoned);
        }
        CHECK(ep.error().kind() == l3l2q::ErrorKind::InvalidDescriptor);
        CHECK(ep.error().operation() == l3l2q::Operation::Peek);
        CHECK(!ep.drained());
        CHECK(region.counter(L3L2Q_L2_ABORT_FLAG_OFFSET) == 1);
        // The host learns of it as a remote abort.
        CHECK_STATUS(queue.output().peek(m, 2000000), Status::RemoteAborted);
    }
    std::printf("stop rule: ok\n");
}

// ---- 5. shared-memory region: two mappings, rebased scalars -------------

static void test_shared_region() {
    char name[64];
    std::snprintf(name, sizeof name, "/l3l2q-hpp-wrapper-%d", static_cast<int>(getpid()));
    l3l2q_shm_config config{};
    config.depth = 4;
    config.input_arena_bytes = 256;
    config.output_arena_bytes = 256;
    config.region_id = 0x5151;
    config.reclaim_stale = true;
    l3l2q::SharedRegion creator, opener;
    CHECK_STATUS(l3l2q::SharedRegion::open(name, opener), Status::NotFound);
    CHECK(!opener);
    CHECK_OK(l3l2q::SharedRegion::create(name, config, creator));
    config.reclaim_stale = false;
    l3l2q::SharedRegion second;
    CHECK_STATUS(l3l2q::SharedRegion::create(name, config, second), Status::Exists);
    CHECK(!second);
    CHECK_OK(l3l2q::SharedRegion::open(name, opener));

    // The same bytes at two addresses: the L3 side uses the creator's mapping,
    // the L2 side the opener's, as two processes would.
    l3l2q_region_descriptor mine{}, theirs{};
    l3l2q_queue_args args{};
    CHECK_OK(creator.descriptor(mine));
    CHECK_OK(opener.descriptor(theirs, &args));
    CHECK(mine.region_id == 0x5151 && theirs.region_id == 0x5151);
    CHECK(mine.payload_base != theirs.payload_base && mine.counter_base != theirs.counter_base);
    CHECK(args.depth == 4 && args.input_arena_bytes == 256);

    // Declared after the regions, so they are freed before the mappings go.
    L3Queue queue;
    l3l2q_l3_config qc{};
    qc.depth = 4;
    qc.input_arena_bytes = 256;
    qc.output_arena_bytes = 256;
    CHECK_OK(L3Queue::create_mapped(mine, qc, queue));
    uint64_t scalars[L3L2Q_TASK_SCALARS];
    CHECK_OK(queue.task_scalars(scalars));
    uint64_t wrong[L3L2Q_TASK_SCALARS];
    std::memcpy(wrong, scalars, sizeof wrong);
    wrong[1] ^= 1; // another region id: refused, untouched
    CHECK_STATUS(opener.rebase_task_scalars(wrong), Status::BadDescriptor);
    CHECK(wrong[2] == scalars[2]);
    CHECK_OK(opener.rebase_task_scalars(scalars));
    CHECK(scalars[2] == theirs.payload_base && scalars[4] == theirs.counter_base);
    L2Endpoint ep;
    CHECK_OK(L2Endpoint::create(scalars, 1, ep));
    CHECK_OK(queue.input().try_enqueue("ping", 4));
    Message m;
    CHECK_OK(ep.input().try_peek(m));
    CHECK(m.size() == 4 && std::memcmp(m.data(), "ping", 4) == 0);
    CHECK(reinterpret_cast<uint64_t>(m.data()) - theirs.payload_base < theirs.payload_bytes); // read via the opener's mapping
    CHECK_OK(ep.input().release(m));
    CHECK_OK(ep.output().send(Opcode::Data, "pong", 4, kWait));
    CHECK_OK(queue.output().peek(m, kWait));
    CHECK(m.size() == 4 && std::memcmp(m.data(), "pong", 4) == 0);
    CHECK(reinterpret_cast<uint64_t>(m.data()) - mine.payload_base < mine.payload_bytes);
    CHECK_OK(queue.output().release(m));

    // Move: the moved-from owner is empty and frees nothing.
    l3l2q::SharedRegion moved(std::move(opener));
    CHECK(!opener && moved.valid());
    l3l2q_region_descriptor d{};
    CHECK_STATUS(opener.descriptor(d), Status::BadArgument);
    ep.reset();
    queue.reset();
    moved.reset();
    creator.reset(); // the creator unlinks the name
    CHECK_STATUS(l3l2q::SharedRegion::open(name, opener), Status::NotFound);
    std::printf("shared region: ok\n");
}

// ---- 6. batches and deferred publication --------------------------------

static void test_batches() {
    TestRegion region(8, 512, 512, 0x61);
    L3Queue queue;
    L2Endpoint ep;
    region.open(queue, ep, 4);
    const l3l2q::ByteSlice in[5] = {{reinterpret_cast<const uint8_t *>("one"), 3},
                                    {reinterpret_cast<const uint8_t *>("two"), 3},
                                    {nullptr, 0},
                                    {reinterpret_cast<const uint8_t *>("four"), 4},
                                    {reinterpret_cast<const uint8_t *>("five"), 4}};
    size_t sent = 0;
    CHECK_OK(queue.input().try_enqueue_batch(Opcode::Data, in, 5, sent));
    CHECK(sent == 5);
    Message got[8];
    size_t n = 0;
    CHECK_OK(ep.input().try_peek_batch(got, n));
    CHECK(n == 4); // the window bounds the batch
    for (size_t i = 0; i < n; ++i) {
        CHECK(got[i].seq() == i + 1 && got[i].size() == in[i].len);
        CHECK(in[i].len == 0 || std::memcmp(got[i].data(), in[i].data, in[i].len) == 0);
    }
    CHECK_OK(ep.input().release_batch(got, n));
    CHECK(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == 4);
    CHECK_OK(ep.input().try_peek_batch(got, 8, n));
    CHECK(n == 1 && got[0].seq() == 5);
    CHECK_OK(ep.input().release_batch(got, 1));

    // consume: visit in place, release the batch on return (the window does not apply).
    CHECK_OK(queue.input().try_enqueue_batch(Opcode::Data, in, 5, sent));
    size_t visited = 0, bytes = 0;
    auto visit = [&](const Message &m) {
        CHECK(m.seq() == 6 + visited && m.size() == in[visited].len);
        CHECK(m.empty() || std::memcmp(m.data(), in[visited].data, m.size()) == 0);
        bytes += m.size();
        ++visited;
    };
    CHECK_OK(ep.input().try_consume(8, visit, n));
    CHECK(n == 5 && visited == 5 && bytes == 14);
    CHECK(region.counter(L3L2Q_INPUT_DESC_HEAD_OFFSET) == 10);
    CHECK(ep.input().try_consume(8, [](const Message &) {}, n) == Status::NoProgress);

    // L2 -> L3: a batch send, then a deferred publish made visible by flush.
    CHECK_OK(ep.output().try_send_batch(Opcode::Error, in, 2, sent));
    CHECK(sent == 2);
    Reservation r;
    CHECK_OK(ep.output().try_reserve(4, r));
    std::memcpy(r.data(), "late", 4);
    CHECK_OK(ep.output().publish_deferred(r, Opcode::Data, 4));
    size_t held = 0;
    CHECK_OK(queue.output().try_peek_batch(got, held));
    CHECK(held == 2 && got[0].is_error() && got[1].is_error()); // the deferred one is not visible yet
    CHECK(std::memcmp(got[1].data(), "two", 3) == 0);
    CHECK_OK(ep.output().flush());
    CHECK_OK(queue.output().try_peek_batch(got, held));
    CHECK(held == 3 && got[2].is_data() && std::memcmp(got[2].data(), "late", 4) == 0);
    CHECK_OK(queue.output().release_batch(got, 3));
    Message m;
    CHECK_STATUS(queue.output().try_peek(m), Status::NoProgress);

    // L3 deferred commit.
    CHECK_OK(queue.input().try_reserve(3, r));
    std::memcpy(r.data(), "abc", 3);
    CHECK_OK(queue.input().commit_deferred(r, Opcode::Data, 3));
    CHECK_STATUS(ep.input().try_peek(m), Status::NoProgress);
    CHECK_OK(queue.input().flush());
    CHECK_OK(ep.input().try_peek(m));
    CHECK(m.size() == 3 && std::memcmp(m.data(), "abc", 3) == 0);
    CHECK_OK(ep.input().release(m));
    CHECK(!queue.error() && !ep.error());
    std::printf("batches: ok\n");
}

// ---- 7. small things ------------------------------------------------------

static void test_strings_and_version() {
    CHECK(std::strcmp(l3l2q::to_string(Status::Ok), l3l2q_status_str(L3L2Q_STATUS_OK)) == 0);
    CHECK(std::strcmp(l3l2q::to_string(Status::Poisoned), l3l2q_status_str(L3L2Q_STATUS_POISONED)) == 0);
    CHECK(std::strcmp(l3l2q::to_string(static_cast<Status>(9999)), "unknown status") == 0);
    CHECK(std::strcmp(l3l2q::to_string(Opcode::Error), "ERROR") == 0);
    CHECK(l3l2q::ok(Status::Ok) && !l3l2q::ok(Status::NoProgress) && !l3l2q::is_fatal(Status::Timeout));
    CHECK(l3l2q::from_c(L3L2Q_STATUS_STOPPED) == Status::Stopped);
    l3l2q_version_info v{};
    CHECK_OK(l3l2q::version(v));
    CHECK(v.c_abi_major == L3L2Q_C_ABI_MAJOR && v.major == L3L2Q_VERSION_MAJOR && v.library != nullptr);
    // Bad creation: a descriptor too small for the config.
    TestRegion region(4, 256, 256, 0x51);
    l3l2q_region_descriptor small = region.desc;
    small.payload_bytes = 64;
    L3Queue q;
    l3l2q_violation viol = L3L2Q_VIOLATION_VALID;
    CHECK_STATUS(L3Queue::create_mapped(small, region.config, q, &viol), Status::BadDescriptor);
    CHECK(viol == L3L2Q_VIOLATION_REGION_TOO_SMALL && !q);
    l3l2q_layout layout{};
    CHECK_STATUS(q.layout(layout), Status::BadArgument);
}

int main() {
    test_strings_and_version();
    test_window_and_drain();
    test_moves();
    test_poison();
    test_stop_rule();
    test_shared_region();
    test_batches();
    test_two_threads();
    std::printf("hpp_wrapper: all ok\n");
    return 0;
}
