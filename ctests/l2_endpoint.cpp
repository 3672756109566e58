// l2_endpoint.cpp (C++17): the L2 endpoint's C API (l3l2q_l2_*) driven
// across the language boundary by a hand-written raw L3. The L3 side here
// writes descriptor slots, payload bytes and counters straight from docs/SPEC.md
// (little-endian u64 slots, one i32 counter per 64-byte line) and shares no
// code with the library: only the l3l2q_l2_* calls and their types come from
// l3l2q.h.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "l3l2q.h"

namespace {

int failures = 0;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                          \
        }                                                                        \
    } while (0)

#define CHECK_STATUS(call, expected)                                             \
    do {                                                                         \
        const int got_ = static_cast<int>(call);                                 \
        const int want_ = static_cast<int>(expected);                            \
        if (got_ != want_) {                                                     \
            std::fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d\n", __FILE__, __LINE__, #call, got_, \
                         l3l2q_status_str(got_), want_);                         \
            ++failures;                                                          \
        }                                                                        \
    } while (0)

// ---- the wire format, from docs/SPEC.md -------------------------------------

constexpr uint64_t kRegionWord = (uint64_t{0x4C334C32} << 32) | (uint64_t{2} << 16) | 0;  // "L3L2" 2.0
constexpr uint64_t kQueueWord = (uint64_t{0x4C335132} << 32) | (uint64_t{1} << 16) | 1;   // "L3Q2" 1.1
constexpr uint64_t kSlotBytes = 32;
constexpr uint64_t kCounterBytes = 384;
constexpr uint64_t kInTail = 0, kInHead = 64, kOutTail = 128, kOutHead = 192, kL3Flag = 256, kL2Flag = 320;
constexpr uint64_t kData = 1, kStop = 2, kError = 3;
constexpr uint64_t kRegionId = 0xC0FFEE;

constexpr uint64_t align64(uint64_t v) { return (v + 63) & ~uint64_t{63}; }

struct Slot {
    uint64_t seq, opcode, offset, nbytes;
};

void put_le64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

uint64_t get_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

// A queue region in this process plus the raw L3 that drives it.
class RawL3 {
  public:
    RawL3(uint64_t depth, uint64_t in_arena, uint64_t out_arena, size_t skew)
        : depth_(depth), in_arena_bytes_(in_arena), out_arena_bytes_(out_arena) {
        out_ring_ = depth * kSlotBytes;
        in_arena_ = align64(2 * depth * kSlotBytes);
        out_arena_ = align64(in_arena_ + in_arena);
        payload_bytes_ = out_arena_ + out_arena;
        storage_.assign(payload_bytes_ + skew + 64, 0);
        payload_ = storage_.data() + skew;  // deliberately unaligned when skew is odd
        counters_ = static_cast<uint8_t *>(std::aligned_alloc(64, kCounterBytes));
        std::memset(counters_, 0, kCounterBytes);
    }
    ~RawL3() { std::free(counters_); }
    RawL3(const RawL3 &) = delete;
    RawL3 &operator=(const RawL3 &) = delete;

    void scalars(uint64_t out[12]) const {
        const uint64_t s[12] = {kRegionWord, kRegionId, reinterpret_cast<uint64_t>(payload_), payload_bytes_,
                                reinterpret_cast<uint64_t>(counters_), kCounterBytes,
                                kQueueWord, depth_, in_arena_bytes_, out_arena_bytes_, payload_bytes_, kCounterBytes};
        std::memcpy(out, s, sizeof s);
    }

    uint32_t counter(uint64_t off) const {
        return __atomic_load_n(reinterpret_cast<uint32_t *>(counters_ + off), __ATOMIC_ACQUIRE);
    }
    void set_counter(uint64_t off, uint32_t v) {
        __atomic_store_n(reinterpret_cast<uint32_t *>(counters_ + off), v, __ATOMIC_RELEASE);
    }

    void write_slot(uint64_t ring, uint64_t index, Slot s) {
        uint8_t *p = payload_ + ring + (index & (depth_ - 1)) * kSlotBytes;
        put_le64(p + 8, s.opcode);
        put_le64(p + 16, s.offset);
        put_le64(p + 24, s.nbytes);
        put_le64(p, s.seq);  // seq last
    }
    Slot read_slot(uint64_t ring, uint64_t index) const {
        const uint8_t *p = payload_ + ring + (index & (depth_ - 1)) * kSlotBytes;
        return Slot{get_le64(p), get_le64(p + 8), get_le64(p + 16), get_le64(p + 24)};
    }

    // Input producer: payload at arena position `pos`, slot, no publish.
    void write_input(uint64_t opcode, uint64_t pos, const void *data, uint64_t n) {
        const uint64_t offset = n == 0 ? 0 : in_arena_ + pos;
        if (n != 0) std::memcpy(payload_ + offset, data, n);
        write_slot(0, in_next_, Slot{in_next_ + 1, opcode, offset, n});
        ++in_next_;
    }
    void write_input_slot(Slot s) {
        write_slot(0, in_next_, s);
        ++in_next_;
    }
    void publish_input() { set_counter(kInTail, static_cast<uint32_t>(in_next_)); }

    // Output consumer: the next published slot (if any) and its payload.
    bool take_output(Slot *slot, std::vector<uint8_t> *bytes) {
        if (counter(kOutTail) == static_cast<uint32_t>(out_next_)) return false;
        *slot = read_slot(out_ring_, out_next_);
        bytes->assign(payload_ + slot->offset, payload_ + slot->offset + slot->nbytes);
        ++out_next_;
        return true;
    }
    void release_output() { set_counter(kOutHead, static_cast<uint32_t>(out_next_)); }

    uint8_t *payload() const { return payload_; }
    uint64_t in_arena() const { return in_arena_; }
    uint64_t out_arena() const { return out_arena_; }
    uint64_t out_ring() const { return out_ring_; }
    uint64_t payload_bytes() const { return payload_bytes_; }

  private:
    uint64_t depth_, in_arena_bytes_, out_arena_bytes_;
    uint64_t out_ring_ = 0, in_arena_ = 0, out_arena_ = 0, payload_bytes_ = 0;
    std::vector<uint8_t> storage_;
    uint8_t *payload_ = nullptr;
    uint8_t *counters_ = nullptr;
    uint64_t in_next_ = 0, out_next_ = 0;
};

l3l2q_l2_endpoint *open_endpoint(const RawL3 &l3, uint64_t window) {
    uint64_t s[12];
    l3.scalars(s);
    l3l2q_l2_config config{window, 0};
    l3l2q_l2_endpoint *h = nullptr;
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    CHECK_STATUS(l3l2q_l2_endpoint_create(s, 12, &config, &h, &v), L3L2Q_STATUS_OK);
    CHECK(v == L3L2Q_VIOLATION_VALID);
    CHECK(h != nullptr);
    return h;
}

void free_endpoint(l3l2q_l2_endpoint **h) {
    CHECK_STATUS(l3l2q_l2_endpoint_free(h), L3L2Q_STATUS_OK);
    CHECK(*h == nullptr);
}

bool healthy(l3l2q_l2_endpoint *h, const RawL3 &l3) {
    l3l2q_error_info info;
    std::memset(&info, 0xAB, sizeof info);
    const bool ok = l3l2q_l2_error(h, &info) == L3L2Q_STATUS_OK;
    return ok && info.kind == L3L2Q_ERROR_KIND_NONE && l3.counter(kL2Flag) == 0;
}

// ---- creation ----------------------------------------------------------------

void test_create_arguments() {
    RawL3 l3(4, 256, 256, 0);
    uint64_t s[12];
    l3.scalars(s);
    l3l2q_l2_config config{1, 0};
    l3l2q_l2_endpoint *h = nullptr;
    l3l2q_violation v = L3L2Q_VIOLATION_VALID;

    CHECK_STATUS(l3l2q_l2_endpoint_create(nullptr, 12, &config, &h, &v), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_endpoint_create(s, 11, &config, &h, &v), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_endpoint_create(s, 12, nullptr, &h, &v), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_endpoint_create(s, 12, &config, nullptr, &v), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK(h == nullptr);

    for (uint64_t window : {uint64_t{0}, uint64_t{5}}) {
        l3l2q_l2_config bad{window, 0};
        CHECK_STATUS(l3l2q_l2_endpoint_create(s, 12, &bad, &h, &v), L3L2Q_STATUS_BAD_ARGUMENT);
        CHECK(h == nullptr);
    }

    uint64_t bad_id[12];
    std::memcpy(bad_id, s, sizeof s);
    bad_id[1] = 0;
    CHECK_STATUS(l3l2q_l2_endpoint_create(bad_id, 12, &config, &h, &v), L3L2Q_STATUS_BAD_DESCRIPTOR);
    CHECK(v == L3L2Q_VIOLATION_REGION_ID_ZERO);
    uint64_t bad_args[12];
    std::memcpy(bad_args, s, sizeof s);
    bad_args[10] += 64;  // args payload_bytes disagrees with the layout
    CHECK_STATUS(l3l2q_l2_endpoint_create(bad_args, 12, &config, &h, nullptr), L3L2Q_STATUS_BAD_DESCRIPTOR);
    CHECK_STATUS(l3l2q_l2_endpoint_create(bad_args, 12, &config, &h, &v), L3L2Q_STATUS_BAD_DESCRIPTOR);
    CHECK(v == L3L2Q_VIOLATION_ARGS_PAYLOAD_BYTES);
    CHECK(h == nullptr);
    for (uint64_t off : {kInTail, kInHead, kOutTail, kOutHead, kL3Flag, kL2Flag}) CHECK(l3.counter(off) == 0);

    h = open_endpoint(l3, 4);
    l3l2q_layout layout;
    CHECK_STATUS(l3l2q_l2_layout(h, &layout), L3L2Q_STATUS_OK);
    CHECK(layout.depth == 4 && layout.input_desc_offset == 0 && layout.output_desc_offset == l3.out_ring());
    CHECK(layout.input_arena_offset == l3.in_arena() && layout.output_arena_offset == l3.out_arena());
    CHECK(layout.payload_bytes == l3.payload_bytes() && layout.counter_bytes == kCounterBytes);
    free_endpoint(&h);
}

// ---- null pointers are caller errors, never poison ---------------------------

void test_null_arguments() {
    RawL3 l3(4, 256, 256, 0);
    l3l2q_l2_endpoint *h = open_endpoint(l3, 2);
    l3l2q_message m;
    l3l2q_reservation r;
    l3l2q_error_info info;
    l3l2q_layout layout;
    bool drained = true;

    CHECK_STATUS(l3l2q_l2_try_peek(nullptr, &m), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_try_peek(h, nullptr), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_peek(nullptr, &m, 0), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_peek(h, nullptr, 1000000), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_release(nullptr, &m), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_release(h, nullptr), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_drained(nullptr, &drained), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_drained(h, nullptr), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_try_reserve(nullptr, 8, &r), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 8, nullptr), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_reserve(nullptr, 8, &r, 0), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_reserve(h, 8, nullptr, 0), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_publish(nullptr, &r, kData, 0), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_publish(h, nullptr, kData, 0), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_error(nullptr, &info), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_error(h, nullptr), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_layout(nullptr, &layout), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_layout(h, nullptr), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_endpoint_free(nullptr), L3L2Q_STATUS_BAD_ARGUMENT);

    // None of that changed anything: no poison, no counter moved, and a
    // reservation made now is the first one.
    CHECK(healthy(h, l3));
    for (uint64_t off : {kInTail, kInHead, kOutTail, kOutHead, kL3Flag, kL2Flag}) CHECK(l3.counter(off) == 0);
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 8, &r), L3L2Q_STATUS_OK);
    CHECK_STATUS(l3l2q_l2_publish(h, &r, kData, 0), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kOutTail) == 1);
    free_endpoint(&h);
}

// ---- zero-byte and data messages, payload in place ----------------------------

void test_messages_and_view() {
    RawL3 l3(4, 256, 256, 3);  // payload base 3 bytes past an aligned address
    l3l2q_l2_endpoint *h = open_endpoint(l3, 1);
    l3l2q_message m;

    CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_NO_PROGRESS);
    l3.write_input(kData, 0, nullptr, 0);
    l3.publish_input();
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_OK);
    CHECK(m.seq == 1 && m.opcode == kData && m.payload_offset == 0 && m.payload_nbytes == 0 && m.data == nullptr);
    CHECK(l3.counter(kInHead) == 0);
    CHECK_STATUS(l3l2q_l2_release(h, &m), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 1);

    const char hello[] = "hello, L2";
    l3.write_input(kData, 0, hello, sizeof hello);
    const uint8_t err[3] = {0xE, 0xE, 0xE};
    l3.publish_input();
    CHECK_STATUS(l3l2q_l2_peek(h, &m, 1000000000), L3L2Q_STATUS_OK);
    CHECK(m.seq == 2 && m.opcode == kData && m.payload_offset == l3.in_arena() && m.payload_nbytes == sizeof hello);
    CHECK(m.data == l3.payload() + l3.in_arena());  // zero-copy: the region's own bytes
    CHECK(m.data != nullptr && std::memcmp(m.data, hello, sizeof hello) == 0);
    CHECK_STATUS(l3l2q_l2_release(h, &m), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 2);

    l3.write_input(kError, sizeof hello, err, sizeof err);
    l3.publish_input();
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_OK);
    CHECK(m.seq == 3 && m.opcode == kError && m.payload_offset == l3.in_arena() + sizeof hello);
    CHECK(m.data != nullptr && std::memcmp(m.data, err, sizeof err) == 0);
    CHECK_STATUS(l3l2q_l2_release(h, &m), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 3);
    CHECK(healthy(h, l3));
    free_endpoint(&h);
}

// ---- window > 1, out-of-order release ---------------------------------------

void test_window_out_of_order() {
    RawL3 l3(4, 256, 256, 0);
    l3l2q_l2_endpoint *h = open_endpoint(l3, 3);
    for (uint8_t k = 0; k < 4; ++k) {
        const uint8_t b[16] = {k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k};
        l3.write_input(kData, uint64_t{k} * 16, b, sizeof b);
    }
    l3.publish_input();
    l3l2q_message m[4];
    for (int i = 0; i < 3; ++i) {
        CHECK_STATUS(l3l2q_l2_try_peek(h, &m[i]), L3L2Q_STATUS_OK);
        CHECK(m[i].seq == uint64_t(i) + 1 && m[i].data != nullptr && m[i].data[0] == i);
    }
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m[3]), L3L2Q_STATUS_NO_PROGRESS);  // window full
    CHECK_STATUS(l3l2q_l2_release(h, &m[1]), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 0);
    CHECK_STATUS(l3l2q_l2_release(h, &m[2]), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 0);
    CHECK_STATUS(l3l2q_l2_release(h, &m[0]), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 3);
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m[3]), L3L2Q_STATUS_OK);
    CHECK(m[3].seq == 4 && m[3].payload_offset == l3.in_arena() + 48);
    CHECK_STATUS(l3l2q_l2_release(h, &m[3]), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 4);
    CHECK(healthy(h, l3));
    free_endpoint(&h);
}

// ---- STOP and drain ------------------------------------------------------------

void test_stop_and_drain() {
    RawL3 l3(4, 256, 256, 0);
    l3l2q_l2_endpoint *h = open_endpoint(l3, 2);
    const char job[] = "job";
    l3.write_input(kData, 0, job, 3);
    l3.write_input(kStop, 0, nullptr, 0);
    l3.publish_input();

    l3l2q_message d, stop, more;
    bool drained = true;
    CHECK_STATUS(l3l2q_l2_try_peek(h, &d), L3L2Q_STATUS_OK);
    CHECK_STATUS(l3l2q_l2_try_peek(h, &stop), L3L2Q_STATUS_OK);
    CHECK(stop.seq == 2 && stop.opcode == kStop && stop.payload_offset == 0 && stop.payload_nbytes == 0 && stop.data == nullptr);
    CHECK_STATUS(l3l2q_l2_try_peek(h, &more), L3L2Q_STATUS_NO_PROGRESS);
    CHECK_STATUS(l3l2q_l2_drained(h, &drained), L3L2Q_STATUS_OK);
    CHECK(!drained);

    CHECK_STATUS(l3l2q_l2_release(h, &stop), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 0);  // STOP waits for the earlier input
    CHECK_STATUS(l3l2q_l2_drained(h, &drained), L3L2Q_STATUS_OK);
    CHECK(!drained);

    // Outputs keep flowing while draining.
    l3l2q_reservation r;
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 6, &r), L3L2Q_STATUS_OK);
    std::memcpy(r.data, "result", 6);
    CHECK_STATUS(l3l2q_l2_publish(h, &r, kData, 6), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kOutTail) == 1);

    CHECK_STATUS(l3l2q_l2_release(h, &d), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kInHead) == 2);
    CHECK_STATUS(l3l2q_l2_drained(h, &drained), L3L2Q_STATUS_OK);
    CHECK(drained);
    CHECK_STATUS(l3l2q_l2_peek(h, &more, 1000000), L3L2Q_STATUS_TIMEOUT);

    Slot s;
    std::vector<uint8_t> bytes;
    CHECK(l3.take_output(&s, &bytes));
    CHECK(s.seq == 1 && s.opcode == kData && s.offset == l3.out_arena() && s.nbytes == 6);
    CHECK(bytes.size() == 6 && std::memcmp(bytes.data(), "result", 6) == 0);
    CHECK(healthy(h, l3));
    free_endpoint(&h);
}

// ---- the STOP rule (SPEC 8): STOP never hides a later input ------------------

void noop_visit(void *, const l3l2q_message *) {}

void test_stop_rule() {
    // DATA #1, STOP #2 and DATA #3 all published before STOP is taken: on
    // every acquisition path STOP is refused with INVALID_DESCRIPTOR, so
    // the endpoint never looks drained while #3 waits.
    for (int path = 0; path < 4; ++path) {
        RawL3 l3(4, 256, 256, 0);
        l3l2q_l2_endpoint *h = open_endpoint(l3, 2);
        l3.write_input(kData, 0, "one", 3);
        l3.write_input(kStop, 0, nullptr, 0);
        l3.write_input(kData, 64, "three", 5);
        l3.publish_input();
        l3l2q_message m, batch[4];
        size_t n = 99;
        l3l2q_status st;
        if (path < 2) {
            CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_OK);
            CHECK(m.seq == 1 && m.opcode == kData);
            CHECK_STATUS(l3l2q_l2_release(h, &m), L3L2Q_STATUS_OK);
            st = path == 0 ? l3l2q_l2_try_peek(h, &m) : l3l2q_l2_peek(h, &m, 1000000);
        } else if (path == 2) {
            st = l3l2q_l2_try_peek_batch(h, batch, 4, &n);
        } else {
            st = l3l2q_l2_try_consume(h, 4, noop_visit, nullptr, &n);
        }
        CHECK_STATUS(st, L3L2Q_STATUS_POISONED);
        l3l2q_error_info info;
        CHECK_STATUS(l3l2q_l2_error(h, &info), L3L2Q_STATUS_OK);
        CHECK(info.kind == L3L2Q_ERROR_KIND_INVALID_DESCRIPTOR && info.operation == L3L2Q_OPERATION_PEEK);
        CHECK(std::strstr(reinterpret_cast<const char *>(info.message), "after STOP") != nullptr);
        CHECK(l3.counter(kL2Flag) == 1);  // L3 is told
        bool drained = true;
        CHECK_STATUS(l3l2q_l2_drained(h, &drained), L3L2Q_STATUS_OK);
        CHECK(!drained);
        CHECK(l3.counter(kInHead) <= 1);  // STOP was never released
        free_endpoint(&h);
    }
}

// ---- consume: visit in place, release the batch with one store ----------------

struct Visits {
    int count = 0;
    uint64_t seq[8] = {};
    uint64_t opcode[8] = {};
    uint8_t first[8] = {};
    const uint8_t *data[8] = {};
};

extern "C" void record_visit(void *ctx, const l3l2q_message *m) {
    Visits *v = static_cast<Visits *>(ctx);
    if (v->count < 8) {
        v->seq[v->count] = m->seq;
        v->opcode[v->count] = m->opcode;
        v->first[v->count] = m->payload_nbytes != 0 ? m->data[0] : 0;
        v->data[v->count] = m->data;
    }
    v->count += 1;
}

void test_consume() {
    RawL3 l3(8, 256, 256, 0);
    l3l2q_l2_endpoint *h = open_endpoint(l3, 1);  // the window does not apply to consume
    for (uint8_t k = 0; k < 3; ++k) {
        const uint8_t b[16] = {uint8_t(k + 10), k, k, k, k, k, k, k, k, k, k, k, k, k, k, k};
        l3.write_input(k == 2 ? kError : kData, uint64_t{k} * 16, b, sizeof b);
    }
    l3.write_input(kStop, 0, nullptr, 0);
    l3.publish_input();

    Visits v;
    size_t n = 99;
    CHECK_STATUS(l3l2q_l2_try_consume(h, 8, nullptr, &v, &n), L3L2Q_STATUS_BAD_ARGUMENT);
    CHECK_STATUS(l3l2q_l2_try_consume(h, 0, record_visit, &v, &n), L3L2Q_STATUS_NO_PROGRESS);
    CHECK(n == 99 && v.count == 0 && l3.counter(kInHead) == 0);
    CHECK_STATUS(l3l2q_l2_try_consume(h, 2, record_visit, &v, &n), L3L2Q_STATUS_OK);
    CHECK(n == 2 && v.count == 2 && l3.counter(kInHead) == 2);
    CHECK(v.seq[0] == 1 && v.first[0] == 10 && v.data[0] == l3.payload() + l3.in_arena());  // in place
    CHECK(v.seq[1] == 2 && v.first[1] == 11);
    CHECK_STATUS(l3l2q_l2_try_consume(h, 8, record_visit, &v, &n), L3L2Q_STATUS_OK);
    CHECK(n == 2 && v.count == 4);
    CHECK(v.seq[2] == 3 && v.opcode[2] == kError && v.first[2] == 12);
    CHECK(v.seq[3] == 4 && v.opcode[3] == kStop && v.data[3] == nullptr);
    CHECK(l3.counter(kInHead) == 4);
    bool drained = false;
    CHECK_STATUS(l3l2q_l2_drained(h, &drained), L3L2Q_STATUS_OK);
    CHECK(drained);
    CHECK_STATUS(l3l2q_l2_try_consume(h, 8, record_visit, &v, &n), L3L2Q_STATUS_NO_PROGRESS);
    CHECK(healthy(h, l3));
    free_endpoint(&h);
}

// ---- reserve / publish with shrink ------------------------------------------

void test_reserve_publish_shrink() {
    RawL3 l3(4, 256, 256, 0);
    l3l2q_l2_endpoint *h = open_endpoint(l3, 1);
    l3l2q_reservation r, second;

    CHECK_STATUS(l3l2q_l2_try_reserve(h, 257, &r), L3L2Q_STATUS_NO_PROGRESS);  // larger than the arena
    CHECK_STATUS(l3l2q_l2_reserve(h, 257, &r, 1000000), L3L2Q_STATUS_TIMEOUT);
    CHECK(healthy(h, l3));

    CHECK_STATUS(l3l2q_l2_try_reserve(h, 100, &r), L3L2Q_STATUS_OK);
    CHECK(r.payload_offset == l3.out_arena() && r.capacity == 100 && r.data == l3.payload() + l3.out_arena());
    for (int i = 0; i < 40; ++i) r.data[i] = static_cast<uint8_t>(i * 3);
    CHECK_STATUS(l3l2q_l2_publish(h, &r, kData, 101), L3L2Q_STATUS_BAD_ARGUMENT);  // caller error, still active
    CHECK(l3.counter(kOutTail) == 0 && healthy(h, l3));
    CHECK_STATUS(l3l2q_l2_publish(h, &r, kData, 40), L3L2Q_STATUS_OK);
    CHECK(l3.counter(kOutTail) == 1);

    // The 60 unused bytes came back: the next reservation starts at 40.
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 216, &second), L3L2Q_STATUS_OK);
    CHECK(second.payload_offset == l3.out_arena() + 40);
    CHECK_STATUS(l3l2q_l2_publish(h, &second, kError, 0), L3L2Q_STATUS_OK);  // rolled back, offset 0
    CHECK(l3.counter(kOutTail) == 2);

    Slot s;
    std::vector<uint8_t> bytes;
    CHECK(l3.take_output(&s, &bytes));
    CHECK(s.seq == 1 && s.opcode == kData && s.offset == l3.out_arena() && s.nbytes == 40 && bytes.size() == 40);
    bool same = bytes.size() == 40;
    for (size_t i = 0; same && i < 40; ++i) same = bytes[i] == static_cast<uint8_t>(i * 3);
    CHECK(same);
    CHECK(l3.take_output(&s, &bytes));
    CHECK(s.seq == 2 && s.opcode == kError && s.offset == 0 && s.nbytes == 0);
    CHECK(!l3.take_output(&s, &bytes));
    l3.release_output();
    CHECK(l3.counter(kOutHead) == 2);

    // After the drain a full-arena reservation fits.
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 256, &r), L3L2Q_STATUS_OK);
    CHECK_STATUS(l3l2q_l2_publish(h, &r, kData, 256), L3L2Q_STATUS_OK);
    CHECK(l3.take_output(&s, &bytes));
    CHECK(s.seq == 3 && s.nbytes == 256 && s.offset == l3.out_arena());
    CHECK(healthy(h, l3));
    free_endpoint(&h);
}

// ---- poison: hostile descriptor, then an ownership error ---------------------

void test_poison_and_error_record() {
    RawL3 l3(4, 256, 256, 0);
    l3l2q_l2_endpoint *h = open_endpoint(l3, 1);
    l3.write_input_slot(Slot{1, 7 /* no such opcode */, 0, 0});
    l3.publish_input();

    l3l2q_message m;
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_POISONED);
    CHECK(l3.counter(kL2Flag) == 1);
    CHECK(l3.counter(kL3Flag) == 0);
    CHECK(l3.counter(kInHead) == 0);

    l3l2q_error_info info;
    std::memset(&info, 0xAB, sizeof info);
    CHECK_STATUS(l3l2q_l2_error(h, &info), L3L2Q_STATUS_OK);
    CHECK(info.kind == L3L2Q_ERROR_KIND_INVALID_DESCRIPTOR);
    CHECK(info.operation == L3L2Q_OPERATION_PEEK);
    CHECK(info.region_id == kRegionId);
    const char *text = reinterpret_cast<const char *>(info.message);
    CHECK(std::memchr(info.message, 0, L3L2Q_ERROR_MESSAGE_BYTES) != nullptr);
    CHECK(std::strstr(text, "invalid opcode") != nullptr);
    std::printf("poison record: kind %u op %u region %#llx: %s\n", info.kind, info.operation,
                static_cast<unsigned long long>(info.region_id), text);

    // Every later call fails fast with POISONED; the record is unchanged.
    l3l2q_reservation r;
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_POISONED);
    CHECK_STATUS(l3l2q_l2_peek(h, &m, 10000000000ull), L3L2Q_STATUS_POISONED);
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 1, &r), L3L2Q_STATUS_POISONED);
    CHECK(l3.counter(kOutTail) == 0);
    l3l2q_error_info again;
    CHECK_STATUS(l3l2q_l2_error(h, &again), L3L2Q_STATUS_OK);
    CHECK(again.kind == info.kind && again.operation == info.operation && std::strcmp(reinterpret_cast<const char *>(again.message), text) == 0);

    // Freeing a poisoned endpoint is fine, and freeing twice through the same
    // variable is harmless.
    free_endpoint(&h);
    CHECK_STATUS(l3l2q_l2_endpoint_free(&h), L3L2Q_STATUS_OK);
    CHECK(h == nullptr);
    CHECK(l3.counter(kL2Flag) == 1);

    // An ownership poison: window 1, peek twice.
    RawL3 l3b(4, 256, 256, 0);
    h = open_endpoint(l3b, 1);
    l3b.write_input(kData, 0, "a", 1);
    l3b.publish_input();
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_OK);
    l3l2q_message second;
    CHECK_STATUS(l3l2q_l2_try_peek(h, &second), L3L2Q_STATUS_POISONED);
    CHECK_STATUS(l3l2q_l2_error(h, &info), L3L2Q_STATUS_OK);
    CHECK(info.kind == L3L2Q_ERROR_KIND_OWNERSHIP && info.operation == L3L2Q_OPERATION_PEEK && info.region_id == kRegionId);
    CHECK(l3b.counter(kL2Flag) == 1 && l3b.counter(kInHead) == 0);
    CHECK_STATUS(l3l2q_l2_release(h, &m), L3L2Q_STATUS_POISONED);
    CHECK(l3b.counter(kInHead) == 0);
    free_endpoint(&h);
}

// ---- timeout, with and without the L3 abort flag ------------------------------

void test_timeouts() {
    RawL3 l3(4, 256, 256, 0);
    l3l2q_l2_endpoint *h = open_endpoint(l3, 1);
    l3l2q_message m;
    CHECK_STATUS(l3l2q_l2_peek(h, &m, 2000000), L3L2Q_STATUS_TIMEOUT);
    CHECK_STATUS(l3l2q_l2_peek(h, &m, 0), L3L2Q_STATUS_TIMEOUT);
    bool aborted = true;
    CHECK_STATUS(l3l2q_l2_remote_aborted(h, &aborted), L3L2Q_STATUS_OK);
    CHECK(!aborted && healthy(h, l3));  // flag clear: the query changes nothing
    l3.set_counter(kL3Flag, 1);
    CHECK_STATUS(l3l2q_l2_peek(h, &m, 2000000), L3L2Q_STATUS_REMOTE_ABORTED);
    CHECK(l3.counter(kL2Flag) == 0);  // observing the peer's flag does not set ours
    // Remote abort is terminal: recorded, and later calls fail fast even
    // though an input is published now.
    l3l2q_error_info info;
    CHECK_STATUS(l3l2q_l2_error(h, &info), L3L2Q_STATUS_OK);
    CHECK(info.kind == L3L2Q_ERROR_KIND_REMOTE_ABORTED && info.operation == L3L2Q_OPERATION_TIMEOUT &&
          info.region_id == kRegionId && info.message[0] != 0);
    CHECK(std::strcmp(l3l2q_operation_str(info.operation), "timeout") == 0);
    l3.write_input(kData, 0, "a", 1);
    l3.publish_input();
    CHECK_STATUS(l3l2q_l2_try_peek(h, &m), L3L2Q_STATUS_REMOTE_ABORTED);
    l3l2q_reservation r;
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 8, &r), L3L2Q_STATUS_REMOTE_ABORTED);
    CHECK(l3.counter(kInHead) == 0 && l3.counter(kOutTail) == 0 && l3.counter(kL2Flag) == 0);
    free_endpoint(&h);

    // The query finds the flag without a blocking call (which, with a
    // reservation active, would be a second reserve) and records the abort.
    RawL3 l3b(4, 256, 256, 0);
    h = open_endpoint(l3b, 1);
    CHECK_STATUS(l3l2q_l2_try_reserve(h, 8, &r), L3L2Q_STATUS_OK);
    CHECK(r.seq == 1);
    l3b.set_counter(kL3Flag, 1);
    aborted = false;
    CHECK_STATUS(l3l2q_l2_remote_aborted(h, &aborted), L3L2Q_STATUS_OK);
    CHECK(aborted);
    CHECK_STATUS(l3l2q_l2_error(h, &info), L3L2Q_STATUS_OK);
    CHECK(info.kind == L3L2Q_ERROR_KIND_REMOTE_ABORTED && info.operation == L3L2Q_OPERATION_TIMEOUT);
    CHECK_STATUS(l3l2q_l2_publish(h, &r, kData, 8), L3L2Q_STATUS_REMOTE_ABORTED);
    CHECK(l3b.counter(kOutTail) == 0 && l3b.counter(kL2Flag) == 0);
    aborted = false;
    CHECK_STATUS(l3l2q_l2_remote_aborted(h, &aborted), L3L2Q_STATUS_OK);  // still answers
    CHECK(aborted);
    free_endpoint(&h);
}

}  // namespace

int main() {
    test_create_arguments();
    test_null_arguments();
    test_messages_and_view();
    test_window_out_of_order();
    test_stop_and_drain();
    test_stop_rule();
    test_consume();
    test_reserve_publish_shrink();
    test_poison_and_error_record();
    test_timeouts();
    if (failures != 0) {
        std::fprintf(stderr, "l2_endpoint: %d check(s) failed\n", failures);
        return 1;
    }
    std::printf("l2_endpoint: all checks passed\n");
    return 0;
}
