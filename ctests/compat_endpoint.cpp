// compat_endpoint.cpp (C++17, built with -fno-exceptions -fno-rtti): every
// name, value, function, method and behaviour of the drop-in headers under
// include/compat/ (the other implementation's L2 API, mapped onto l3l2q).
// The L3 side is l3l2q's own (l3l2q_l3_*) over a region in this process;
// where a test needs shared state no correct L3 produces (a corrupt slot, an
// input after STOP, a set abort flag), it writes the region directly.

#include "aicpu/worker_chip_message_queue.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <type_traits>

#include "l3l2q.h"

namespace {

int failures = 0;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
            ++failures;                                                                      \
        }                                                                                    \
    } while (0)

using Kind = WorkerChipQueueErrorKind;
using Op = WorkerChipQueueOp;
using Opcode = WorkerChipQueueOpcode;
namespace wq = worker_chip_message_queue;

constexpr uint64_t kRegionId = 0xC0FFEE;
constexpr uint64_t kWaitNs = 2000000000ull;  // bounds every blocking call that should succeed
constexpr uint64_t kShortNs = 1000000ull;    // a timeout that is meant to expire

// ---- compile-time shape ------------------------------------------------------

static_assert(std::is_standard_layout<WorkerChipQueueDescSlot>::value && sizeof(WorkerChipQueueDescSlot) == 32, "");
static_assert(sizeof(WorkerChipOrchRegionDesc) == 48 && sizeof(WorkerChipQueueArgs) == 48, "");
static_assert(sizeof(WorkerChipQueueLayout) == 15 * 8, "");
static_assert(std::is_same<std::underlying_type<Opcode>::type, uint64_t>::value, "");
static_assert(std::is_same<std::underlying_type<Kind>::type, uint32_t>::value, "");
static_assert(std::is_same<std::underlying_type<Op>::type, uint32_t>::value, "");
static_assert(std::is_same<std::underlying_type<WorkerChipQueueTimeoutStatus>::type, uint32_t>::value, "");
static_assert(sizeof(WorkerChipQueueError::message) == 256, "");
static_assert(!std::is_copy_constructible<WorkerChipQueueEndpoint<>>::value, "");
static_assert(!std::is_move_constructible<WorkerChipQueueEndpoint<>>::value, "");
static_assert(!std::is_copy_assignable<WorkerChipQueueEndpoint<>>::value, "");
static_assert(!std::is_move_assignable<WorkerChipQueueEndpoint<>>::value, "");
static_assert(WorkerChipQueueEndpoint<>::kStopEntrySlots == 1 && WorkerChipQueueEndpoint<>::kEntryCapacity == 2, "");
static_assert(WorkerChipQueueEndpoint<4>::kEntryCapacity == 5, "");
static_assert(worker_chip_orch_comm_pack_magic_version(0x4C334C32u, 3, 0) == 0x4C334C3200030000ull, "");
static_assert(WORKER_CHIP_QUEUE_MAGIC_VERSION == 0x4C33513200010001ull, "");

// ---- a region with l3l2q's L3 queue over it -----------------------------------

class Region {
  public:
    Region(uint64_t depth, uint64_t in_arena, uint64_t out_arena, uint64_t initial_count = 0) {
        l3l2q_layout layout;
        CHECK(l3l2q_layout_compute(depth, in_arena, out_arena, &layout, nullptr) == L3L2Q_STATUS_OK);
        payload_bytes_ = layout.payload_bytes;
        payload_ = static_cast<uint8_t *>(std::aligned_alloc(64, (payload_bytes_ + 63) / 64 * 64));
        counters_ = static_cast<uint8_t *>(std::aligned_alloc(64, L3L2Q_COUNTER_BYTES));
        std::memset(payload_, 0, payload_bytes_);
        std::memset(counters_, 0, L3L2Q_COUNTER_BYTES);
        const l3l2q_region_descriptor region{worker_chip_orch_comm_magic_version(), kRegionId,
                                             reinterpret_cast<uint64_t>(payload_), payload_bytes_,
                                             reinterpret_cast<uint64_t>(counters_), L3L2Q_COUNTER_BYTES};
        const l3l2q_l3_config config{depth, in_arena, out_arena, initial_count};
        CHECK(l3l2q_l3_queue_create_mapped(&region, &config, &queue_, nullptr) == L3L2Q_STATUS_OK);
        uint64_t scalars[12] = {};
        CHECK(l3l2q_l3_task_scalars(queue_, scalars, 12) == L3L2Q_STATUS_OK);
        std::memcpy(&desc, scalars, sizeof desc);
        std::memcpy(&args, scalars + 6, sizeof args);
    }
    ~Region() {
        l3l2q_l3_queue_free(&queue_);
        std::free(payload_);
        std::free(counters_);
    }
    Region(const Region &) = delete;
    Region &operator=(const Region &) = delete;

    bool send(const void *data, size_t n, uint64_t opcode = L3L2Q_OPCODE_DATA) {
        return l3l2q_l3_try_enqueue(queue_, opcode, static_cast<const uint8_t *>(data), n) == L3L2Q_STATUS_OK;
    }
    bool send_byte(uint8_t b) { return send(&b, 1); }
    bool stop() { return l3l2q_l3_try_request_stop(queue_) == L3L2Q_STATUS_OK; }
    // The next output: opcode, length and bytes (false when none).
    bool receive(uint64_t *opcode, uint8_t *buf, size_t cap, size_t *len) {
        return l3l2q_l3_try_dequeue_into(queue_, buf, cap, opcode, len) == L3L2Q_STATUS_OK;
    }
    bool peek_output(l3l2q_message *m) { return l3l2q_l3_try_peek(queue_, m) == L3L2Q_STATUS_OK; }
    bool release_output(const l3l2q_message *m) { return l3l2q_l3_release(queue_, m) == L3L2Q_STATUS_OK; }

    uint32_t counter(uint64_t off) const {
        return __atomic_load_n(reinterpret_cast<const uint32_t *>(counters_ + off), __ATOMIC_ACQUIRE);
    }
    void set_counter(uint64_t off, uint32_t v) {
        __atomic_store_n(reinterpret_cast<uint32_t *>(counters_ + off), v, __ATOMIC_RELEASE);
    }
    // Writes input slot `index` (mod depth) directly, bypassing the L3 queue.
    void write_input_slot(uint64_t index, uint64_t seq, Opcode opcode, uint64_t off, uint64_t n) {
        auto *slots = reinterpret_cast<WorkerChipQueueDescSlot *>(payload_);
        wq::encode_desc(&slots[index & (args.depth - 1)], seq, opcode, off, n);
    }
    bool snapshot_equals(const uint8_t *payload, const uint8_t *counters) const {
        return std::memcmp(payload, payload_, payload_bytes_) == 0 &&
               std::memcmp(counters, counters_, L3L2Q_COUNTER_BYTES) == 0;
    }
    const uint8_t *payload() const { return payload_; }
    const uint8_t *counters() const { return counters_; }
    uint64_t payload_bytes() const { return payload_bytes_; }

    WorkerChipOrchRegionDesc desc;
    WorkerChipQueueArgs args;

  private:
    uint8_t *payload_ = nullptr;
    uint8_t *counters_ = nullptr;
    uint64_t payload_bytes_ = 0;
    l3l2q_l3_queue *queue_ = nullptr;
};

bool healthy(const WorkerChipQueueError &e) { return e.kind == Kind::NONE && e.message[0] == '\0'; }

template <uint64_t N> bool failed_with(const WorkerChipQueueEndpoint<N> &ep, Kind kind, Op op) {
    const WorkerChipQueueError &e = ep.error();
    const bool ok = e.kind == kind && e.op == op && e.region_id == kRegionId && e.message[0] != '\0' &&
                    std::memchr(e.message, '\0', sizeof e.message) != nullptr;
    if (!ok)
        std::fprintf(stderr, "error: kind %u op %u (%s) region %llx \"%s\"; wanted kind %u op %u\n",
                     static_cast<unsigned>(e.kind), static_cast<unsigned>(e.op), worker_chip_queue_op_to_string(e.op),
                     static_cast<unsigned long long>(e.region_id), e.message, static_cast<unsigned>(kind),
                     static_cast<unsigned>(op));
    return ok;
}

// After a recorded failure every call returns false and the record stays.
template <uint64_t N> void check_terminal(WorkerChipQueueEndpoint<N> &ep) {
    const WorkerChipQueueError before = ep.error();
    WorkerChipQueueInputHandle h;
    std::memset(&h, 0xFF, sizeof h);
    CHECK(!ep.input().try_peek(h));
    CHECK(h.opcode == Opcode::INVALID && h.seq == 0 && h.payload.gm_addr == 0);
    CHECK(!ep.input().peek(0, h));
    WorkerChipQueueOutputReservation r;
    std::memset(&r, 0xFF, sizeof r);
    CHECK(!ep.output().try_reserve(8, r));
    CHECK(!r.valid && r.seq == 0 && r.payload.gm_addr == 0);
    CHECK(!ep.output().reserve(8, 0, r));
    CHECK(!ep.output().publish(r, Opcode::DATA));
    CHECK(!ep.input().release(h));
    CHECK(!ep.input().drained());
    CHECK(std::memcmp(&before, &ep.error(), sizeof before) == 0);
}

// ---- constants and free functions -------------------------------------------

void test_constants() {
    CHECK(WORKER_CHIP_ORCH_COMM_MAGIC == 0x4C334C32u);
    CHECK(WORKER_CHIP_ORCH_COMM_ABI_MAJOR == 3 && WORKER_CHIP_ORCH_COMM_ABI_MINOR == 0);
    CHECK(worker_chip_orch_comm_magic_version() == 0x4C334C3200030000ull);
    // The constexpr packer agrees with the library's.
    const uint32_t magics[] = {0, 1, 0x4C334C32u, 0xFFFFFFFFu};
    const uint16_t parts[] = {0, 1, 3, 0xFFFF};
    for (uint32_t m : magics)
        for (uint16_t major : parts)
            for (uint16_t minor : parts) {
                uint64_t word = 0;
                CHECK(l3l2q_magic_version_pack(m, major, minor, &word) == L3L2Q_STATUS_OK);
                CHECK(worker_chip_orch_comm_pack_magic_version(m, major, minor) == word);
            }

    CHECK(WORKER_CHIP_QUEUE_MAGIC == 0x4C335132u);
    CHECK(WORKER_CHIP_QUEUE_ABI_MAJOR == 1 && WORKER_CHIP_QUEUE_ABI_MINOR == 1);
    CHECK(WORKER_CHIP_QUEUE_DESC_SLOT_BYTES == 32);
    CHECK(WORKER_CHIP_QUEUE_DESC_RING_ALIGNMENT == 8);
    CHECK(WORKER_CHIP_QUEUE_PAYLOAD_ARENA_ALIGNMENT == 64);
    CHECK(WORKER_CHIP_QUEUE_COUNTER_STRIDE == 64);
    CHECK(WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET == 0);
    CHECK(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET == 64);
    CHECK(WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET == 128);
    CHECK(WORKER_CHIP_QUEUE_OUTPUT_DESC_HEAD_OFFSET == 192);
    CHECK(WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET == 256);
    CHECK(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET == 320);
    CHECK(WORKER_CHIP_QUEUE_COUNTER_BYTES == 384);
    CHECK(WORKER_CHIP_QUEUE_MAX_DEPTH == (uint64_t{1} << 30));
    CHECK(WORKER_CHIP_QUEUE_MAGIC_VERSION == 0x4C33513200010001ull);
    CHECK(wq::magic_version() == WORKER_CHIP_QUEUE_MAGIC_VERSION);
    CHECK(worker_chip_queue_magic_version() == WORKER_CHIP_QUEUE_MAGIC_VERSION);

    CHECK(static_cast<uint64_t>(Opcode::INVALID) == 0 && static_cast<uint64_t>(Opcode::DATA) == 1 &&
          static_cast<uint64_t>(Opcode::STOP) == 2 && static_cast<uint64_t>(Opcode::ERROR) == 3);
    const Kind kinds[] = {Kind::NONE, Kind::BAD_ARGUMENT, Kind::BAD_DESCRIPTOR, Kind::INVALID_DESCRIPTOR,
                          Kind::OUT_OF_SPACE, Kind::OWNERSHIP, Kind::REMOTE_ABORTED, Kind::ENDPOINT_ERROR};
    for (uint32_t i = 0; i < 8; ++i) CHECK(static_cast<uint32_t>(kinds[i]) == i);
    CHECK(static_cast<uint32_t>(WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT) == 0);
    CHECK(static_cast<uint32_t>(WorkerChipQueueTimeoutStatus::REMOTE_ABORTED) == 1);

    const struct {
        Op op;
        uint32_t value;
        const char *text;
    } ops[] = {{Op::INIT, 1, "init"},
               {Op::TIMEOUT, 2, "timeout"},
               {Op::INPUT_TRY_PEEK, 3, "input.try_peek"},
               {Op::INPUT_RELEASE, 4, "input.release"},
               {Op::OUTPUT_TRY_RESERVE, 5, "output.try_reserve"},
               {Op::OUTPUT_PUBLISH, 6, "output.publish"}};
    for (const auto &o : ops) {
        CHECK(static_cast<uint32_t>(o.op) == o.value);
        CHECK(std::strcmp(worker_chip_queue_op_to_string(o.op), o.text) == 0);
    }
    for (uint32_t v : {0u, 7u, 0x109u, 0xFFFFFFFFu})
        CHECK(std::strcmp(worker_chip_queue_op_to_string(static_cast<Op>(v)), "unknown") == 0);
}

void test_arithmetic_helpers() {
    for (uint64_t v : {uint64_t{1}, uint64_t{2}, uint64_t{64}, uint64_t{1} << 30, uint64_t{1} << 63}) {
        CHECK(wq::is_power_of_two(v));
        CHECK(worker_chip_queue_is_power_of_two(v));
    }
    for (uint64_t v : {uint64_t{0}, uint64_t{3}, uint64_t{96}, UINT64_MAX}) {
        CHECK(!wq::is_power_of_two(v));
        CHECK(!worker_chip_queue_is_power_of_two(v));
    }
    CHECK(wq::align_up(0, 64) == 0 && wq::align_up(1, 64) == 64 && wq::align_up(64, 64) == 64);
    CHECK(wq::align_up(65, 64) == 128 && wq::align_up(7, 0) == 7 && wq::align_up(7, 3) == 9);
    CHECK(worker_chip_queue_align_up(100, 32) == 128);
    uint64_t out = 12345;
    CHECK(wq::align_up_checked(65, 64, &out) && out == 128);
    CHECK(worker_chip_queue_align_up_checked(UINT64_MAX - 63, 64, &out) && out == UINT64_MAX - 63);
    out = 12345;
    CHECK(!wq::align_up_checked(UINT64_MAX - 62, 64, &out) && out == 12345);  // overflow
    CHECK(!wq::align_up_checked(5, 0, &out) && out == 12345);
    CHECK(!wq::align_up_checked(5, 64, nullptr));
    CHECK(!worker_chip_queue_align_up_checked(UINT64_MAX, 2, &out) && out == 12345);

    CHECK(!wq::valid_opcode(Opcode::INVALID) && wq::valid_opcode(Opcode::DATA));
    CHECK(wq::valid_opcode(Opcode::STOP) && wq::valid_opcode(Opcode::ERROR));
    CHECK(!worker_chip_queue_valid_opcode(static_cast<Opcode>(4)) && worker_chip_queue_valid_opcode(Opcode::DATA));
}

void test_make_layout() {
    // The worked cases of SPEC 3.
    const struct {
        uint64_t depth, in, out, out_desc, in_off, out_off, payload;
    } cases[] = {{1, 64, 64, 32, 64, 128, 192}, {4, 128, 192, 128, 256, 384, 576}, {8, 192, 64, 256, 512, 704, 768}};
    for (const auto &c : cases) {
        WorkerChipQueueLayout l;
        std::memset(&l, 0xAB, sizeof l);
        CHECK(wq::make_layout(c.depth, c.in, c.out, l));
        CHECK(l.depth == c.depth && l.input_desc_offset == 0 && l.output_desc_offset == c.out_desc);
        CHECK(l.input_arena_offset == c.in_off && l.output_arena_offset == c.out_off);
        CHECK(l.input_arena_bytes == c.in && l.output_arena_bytes == c.out && l.payload_bytes == c.payload);
        CHECK(l.input_desc_tail_offset == 0 && l.input_desc_head_offset == 64);
        CHECK(l.output_desc_tail_offset == 128 && l.output_desc_head_offset == 192);
        CHECK(l.worker_abort_flag_offset == 256 && l.chip_abort_flag_offset == 320 && l.counter_bytes == 384);
        WorkerChipQueueLayout g;
        CHECK(worker_chip_queue_make_layout(c.depth, c.in, c.out, g) && std::memcmp(&g, &l, sizeof g) == 0);
    }
    const struct {
        uint64_t depth, in, out;
    } bad[] = {{0, 64, 64},  {3, 64, 64},           {uint64_t{1} << 31, 64, 64}, {4, 0, 64},
               {4, 64, 65},  {4, 100, 64},          {4, UINT64_MAX - 63, 64},    {1u << 30, 64, UINT64_MAX - 63}};
    for (const auto &b : bad) {
        WorkerChipQueueLayout l, before;
        std::memset(&l, 0x5A, sizeof l);
        before = l;
        CHECK(!wq::make_layout(b.depth, b.in, b.out, l));
        CHECK(!worker_chip_queue_make_layout(b.depth, b.in, b.out, l));
        CHECK(std::memcmp(&l, &before, sizeof l) == 0);  // untouched on failure
    }
}

void test_validate_region() {
    Region r(4, 128, 192);
    WorkerChipQueueLayout l;
    std::memset(&l, 0, sizeof l);
    CHECK(wq::validate_region(r.desc, r.args, &l));
    CHECK(l.depth == 4 && l.payload_bytes == 576 && l.counter_bytes == 384 && l.output_arena_offset == 384);
    CHECK(wq::validate_region(r.desc, r.args, nullptr));
    CHECK(worker_chip_queue_validate_region(r.desc, r.args, nullptr));
    CHECK(r.desc.magic_version == worker_chip_orch_comm_magic_version());  // ABI 3 accepted

    WorkerChipOrchRegionDesc d = r.desc;
    d.magic_version = worker_chip_orch_comm_pack_magic_version(WORKER_CHIP_ORCH_COMM_MAGIC, 2, 7);
    CHECK(wq::validate_region(d, r.args, nullptr));  // SPEC 1: major 2 too, minor ignored
    d.magic_version = worker_chip_orch_comm_pack_magic_version(WORKER_CHIP_ORCH_COMM_MAGIC, 4, 0);
    CHECK(!wq::validate_region(d, r.args, nullptr));
    d = r.desc;
    d.region_id = 0;
    CHECK(!wq::validate_region(d, r.args, nullptr));
    d = r.desc;
    d.counter_base += 8;  // misaligned
    CHECK(!wq::validate_region(d, r.args, nullptr));
    d = r.desc;
    d.payload_bytes += 64;  // descriptor disagrees with args
    CHECK(!wq::validate_region(d, r.args, nullptr));
    d = r.desc;
    d.counter_bytes = 448;
    CHECK(!wq::validate_region(d, r.args, nullptr));

    WorkerChipQueueArgs a = r.args;
    a.magic_version = WORKER_CHIP_QUEUE_MAGIC_VERSION + 1;  // L2 requires exact equality
    CHECK(!wq::validate_region(r.desc, a, nullptr));
    a = r.args;
    a.payload_bytes += 64;
    CHECK(!wq::validate_region(r.desc, a, nullptr));
    a = r.args;
    a.counter_bytes = 448;
    CHECK(!wq::validate_region(r.desc, a, nullptr));
    a = r.args;
    a.depth = 3;
    std::memset(&l, 0x77, sizeof l);
    const WorkerChipQueueLayout before = l;
    CHECK(!worker_chip_queue_validate_region(r.desc, a, &l));
    CHECK(std::memcmp(&l, &before, sizeof l) == 0);
}

void test_encode_desc() {
    WorkerChipQueueDescSlot slot;
    std::memset(&slot, 0xEE, sizeof slot);
    wq::encode_desc(&slot, 0x0102030405060708ull, Opcode::ERROR, 4096, 77);
    CHECK(slot.seq == 0x0102030405060708ull && slot.opcode == 3 && slot.payload_offset == 4096 && slot.payload_nbytes == 77);
    // The wire bytes are little-endian (SPEC 4).
    const uint8_t *b = reinterpret_cast<const uint8_t *>(&slot);
    CHECK(b[0] == 0x08 && b[7] == 0x01 && b[8] == 3 && b[16] == 0x00 && b[17] == 0x10 && b[24] == 77);
    worker_chip_queue_encode_desc(&slot, 9, Opcode::STOP, 0, 0);
    CHECK(slot.seq == 9 && slot.opcode == 2 && slot.payload_offset == 0 && slot.payload_nbytes == 0);
    wq::encode_desc(nullptr, 1, Opcode::DATA, 0, 0);  // a no-op
    worker_chip_queue_encode_desc(nullptr, 1, Opcode::DATA, 0, 0);
}

void test_reconstruct_counter() {
    // Across 2^31: the observation is negative as an i32.
    uint64_t local = 0x7FFFFFFEull;
    CHECK(wq::reconstruct_counter(static_cast<int32_t>(0x80000001u), 4, local) && local == 0x80000001ull);
    // Across 2^32: the low 32 bits wrap to 0.
    local = 0xFFFFFFFEull;
    CHECK(wq::reconstruct_counter(2, 4, local) && local == 0x100000002ull);
    local = 0x2FFFFFFFFull;
    CHECK(worker_chip_queue_reconstruct_counter(3, 4, local) && local == 0x300000003ull);
    // delta == depth is valid, delta 0 too.
    local = 100;
    CHECK(wq::reconstruct_counter(104, 4, local) && local == 104);
    CHECK(wq::reconstruct_counter(104, 4, local) && local == 104);
    // Negative delta, delta above depth: false, untouched.
    CHECK(!wq::reconstruct_counter(103, 4, local) && local == 104);
    CHECK(!wq::reconstruct_counter(109, 4, local) && local == 104);
    local = 0xFFFFFFFEull;
    CHECK(!wq::reconstruct_counter(static_cast<int32_t>(0xFFFFFFFDu), 4, local) && local == 0xFFFFFFFEull);
    CHECK(!worker_chip_queue_reconstruct_counter(5, 4, local) && local == 0xFFFFFFFEull);  // 7 ahead
    // This API rejects an invalid depth (the library's fold needs a valid one).
    local = 0;
    CHECK(!wq::reconstruct_counter(1, 3, local) && local == 0);
    CHECK(!wq::reconstruct_counter(0, 0, local) && local == 0);
}

// ---- the endpoint -------------------------------------------------------------

void test_init_failures() {
    Region r(4, 256, 256);
    {
        WorkerChipOrchRegionDesc d = r.desc;
        d.counter_base += 8;
        WorkerChipQueueEndpoint<> ep(d, r.args);
        CHECK(failed_with(ep, Kind::BAD_DESCRIPTOR, Op::INIT));
        CHECK(std::strstr(ep.error().message, l3l2q_violation_str(L3L2Q_VIOLATION_COUNTER_BASE_MISALIGNED)) != nullptr);
        CHECK(ep.layout().depth == 0 && ep.layout().payload_bytes == 0);
        check_terminal(ep);
        CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT);
        CHECK(ep.error().kind == Kind::BAD_DESCRIPTOR);
    }
    {
        WorkerChipQueueArgs a = r.args;
        a.magic_version ^= 1;
        WorkerChipQueueEndpoint<> ep(r.desc, a);
        CHECK(failed_with(ep, Kind::BAD_DESCRIPTOR, Op::INIT));
        CHECK(std::strstr(ep.error().message, l3l2q_violation_str(L3L2Q_VIOLATION_QUEUE_MAGIC)) != nullptr);
    }
    {
        // MaxInflight > depth: BAD_ARGUMENT at INIT, L2's abort flag untouched.
        WorkerChipQueueEndpoint<8> ep(r.desc, r.args);
        CHECK(failed_with(ep, Kind::BAD_ARGUMENT, Op::INIT));
        CHECK(std::strstr(ep.error().message, "MaxInflight 8, depth 4") != nullptr);
        check_terminal(ep);
    }
    {
        WorkerChipQueueEndpoint<0> ep(r.desc, r.args);
        CHECK(failed_with(ep, Kind::BAD_ARGUMENT, Op::INIT));
    }
    CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 0);
    CHECK(r.counter(WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET) == 0);
    {
        // The window may equal depth; the queue still works after the failures.
        WorkerChipQueueEndpoint<4> ep(r.desc, r.args);
        CHECK(healthy(ep.error()));
        CHECK(r.send_byte(7));
        WorkerChipQueueInputHandle h;
        CHECK(ep.input().try_peek(h) && h.payload_nbytes == 1);
        CHECK(ep.input().release(h));
    }
}

void test_round_trip() {
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<> ep(r.desc, r.args);
    CHECK(healthy(ep.error()));
    WorkerChipQueueLayout l;
    CHECK(wq::make_layout(4, 256, 256, l) && std::memcmp(&l, &ep.layout(), sizeof l) == 0);

    WorkerChipQueueInputHandle h;
    std::memset(&h, 0xFF, sizeof h);
    CHECK(!ep.input().try_peek(h));  // empty: no-progress, handle zeroed
    CHECK(healthy(ep.error()));
    CHECK(h.seq == 0 && h.opcode == Opcode::INVALID && h.payload_offset == 0 && h.payload_nbytes == 0 &&
          h.payload.gm_addr == 0 && h.payload.nbytes == 0);
    std::memset(&h, 0xFF, sizeof h);
    CHECK(!ep.input().peek(0, h));
    CHECK(h.opcode == Opcode::INVALID && h.seq == 0 && healthy(ep.error()));

    for (uint64_t i = 1; i <= 10; ++i) {  // wraps ring and arena
        uint8_t in[64];
        for (int k = 0; k < 64; ++k) in[k] = static_cast<uint8_t>(i * 3 + k);
        CHECK(r.send(in, sizeof in));
        CHECK(ep.input().peek(kWaitNs, h));
        CHECK(h.seq == i && h.opcode == Opcode::DATA && h.payload_nbytes == 64 && h.payload.nbytes == 64);
        CHECK(h.payload_offset >= l.input_arena_offset && h.payload_offset + 64 <= l.input_arena_offset + 256);
        CHECK(h.payload.gm_addr == r.desc.payload_base + h.payload_offset);
        CHECK(std::memcmp(reinterpret_cast<const void *>(h.payload.gm_addr), in, 64) == 0);
        CHECK(!ep.input().drained());

        WorkerChipQueueOutputReservation res;
        CHECK(ep.output().try_reserve(64, res));
        CHECK(res.valid && res.seq == i && res.payload_nbytes == 64 && res.payload.nbytes == 64);
        CHECK(res.payload.gm_addr == r.desc.payload_base + res.payload_offset);
        for (int k = 0; k < 64; ++k) reinterpret_cast<uint8_t *>(res.payload.gm_addr)[k] = static_cast<uint8_t>(in[k] ^ 0x5A);
        CHECK(ep.output().publish(res, i % 2 ? Opcode::DATA : Opcode::ERROR));
        CHECK(ep.input().release(h));

        l3l2q_message m;
        CHECK(r.peek_output(&m));
        CHECK(m.seq == res.seq && m.opcode == (i % 2 ? L3L2Q_OPCODE_DATA : L3L2Q_OPCODE_ERROR));
        CHECK(m.payload_offset == res.payload_offset && m.payload_nbytes == 64);
        CHECK(m.data != nullptr && m.data[0] == static_cast<uint8_t>(in[0] ^ 0x5A) && m.data[63] == static_cast<uint8_t>(in[63] ^ 0x5A));
        CHECK(r.release_output(&m));
    }
    CHECK(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) == 10);
    CHECK(r.counter(WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET) == 10);

    // Zero-byte input and output; ERROR input.
    CHECK(r.send(nullptr, 0, L3L2Q_OPCODE_ERROR));
    CHECK(ep.input().try_peek(h));
    CHECK(h.opcode == Opcode::ERROR && h.payload_nbytes == 0 && h.payload_offset == 0 && h.payload.gm_addr == 0);
    CHECK(ep.input().release(h));
    WorkerChipQueueOutputReservation res;
    CHECK(ep.output().try_reserve(0, res));
    CHECK(res.valid && res.payload_nbytes == 0 && res.payload.gm_addr == 0 && res.seq == 11);
    CHECK(ep.output().publish(res, Opcode::DATA));
    uint64_t opcode = 0;
    uint8_t buf[256];
    size_t len = 99;
    CHECK(r.receive(&opcode, buf, sizeof buf, &len) && opcode == L3L2Q_OPCODE_DATA && len == 0);

    // publish publishes the reserved size (100 bytes here, not a default).
    CHECK(ep.output().reserve(100, kWaitNs, res));
    CHECK(res.valid && res.payload_nbytes == 100);
    std::memset(reinterpret_cast<void *>(res.payload.gm_addr), 0x33, 100);
    CHECK(ep.output().publish(res, Opcode::DATA));
    CHECK(r.receive(&opcode, buf, sizeof buf, &len) && len == 100 && buf[0] == 0x33 && buf[99] == 0x33);

    // More than the arena holds: no-progress, not an error.
    std::memset(&res, 0xFF, sizeof res);
    CHECK(!ep.output().try_reserve(257, res));
    CHECK(!res.valid && res.seq == 0 && res.payload_nbytes == 0 && res.payload.gm_addr == 0);
    CHECK(!ep.output().reserve(257, 0, res));
    CHECK(healthy(ep.error()));

    // Output ring full: no-progress; a blocking reserve times out ordinarily.
    for (int i = 0; i < 4; ++i) {
        CHECK(ep.output().try_reserve(8, res));
        CHECK(ep.output().publish(res, Opcode::DATA));
    }
    CHECK(!ep.output().try_reserve(8, res) && !res.valid);
    CHECK(!ep.output().reserve(8, kShortNs, res) && !res.valid);
    CHECK(healthy(ep.error()));
    CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT);
    CHECK(healthy(ep.error()));
    CHECK(r.receive(&opcode, buf, sizeof buf, &len));
    CHECK(ep.output().reserve(8, kWaitNs, res) && res.valid);
    CHECK(ep.output().publish(res, Opcode::DATA));
    // And an empty input: the blocking peek times out ordinarily.
    CHECK(!ep.input().peek(kShortNs, h) && h.opcode == Opcode::INVALID);
    CHECK(healthy(ep.error()));
    CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 0);
}

// An abandoned try does not poison, and a message that must wrap right
// after a full drain is placed (what the other implementation lacks).
void test_no_false_poison_and_wrap_after_drain() {
    Region r(4, 1024, 1024);
    WorkerChipQueueEndpoint<> ep(r.desc, r.args);
    WorkerChipQueueOutputReservation res;
    CHECK(ep.output().try_reserve(300, res));
    CHECK(ep.output().publish(res, Opcode::DATA));
    uint64_t opcode;
    static uint8_t buf[1024];
    size_t len;
    CHECK(!ep.output().try_reserve(800, res) || ep.output().publish(res, Opcode::DATA));  // may not fit yet
    CHECK(healthy(ep.error()));
    while (r.receive(&opcode, buf, sizeof buf, &len)) {
    }
    CHECK(ep.output().reserve(800, kWaitNs, res));  // wraps after the drain
    CHECK(ep.output().publish(res, Opcode::DATA));
    CHECK(r.receive(&opcode, buf, sizeof buf, &len) && len == 800);
    CHECK(healthy(ep.error()));
}

void test_ownership() {
    {
        // Window 1: peeking again while a DATA handle is held.
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        CHECK(r.send_byte(1) && r.send_byte(2));
        WorkerChipQueueInputHandle h, h2;
        CHECK(ep.input().try_peek(h));
        CHECK(!ep.input().try_peek(h2));
        CHECK(failed_with(ep, Kind::OWNERSHIP, Op::INPUT_TRY_PEEK));
        CHECK(h2.opcode == Opcode::INVALID);
        CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 1);  // poison tells L3
        check_terminal(ep);
        CHECK(!ep.input().release(h));  // fails fast, record unchanged
        CHECK(failed_with(ep, Kind::OWNERSHIP, Op::INPUT_TRY_PEEK));
    }
    {
        // The same through the blocking peek: recorded under try_peek's name.
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        CHECK(r.send_byte(1) && r.send_byte(2));
        WorkerChipQueueInputHandle h;
        CHECK(ep.input().peek(kWaitNs, h));
        CHECK(!ep.input().peek(kWaitNs, h));
        CHECK(failed_with(ep, Kind::OWNERSHIP, Op::INPUT_TRY_PEEK));
    }
    // Releasing an altered, a twice-released or a never-acquired handle.
    for (int variant = 0; variant < 6; ++variant) {
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        CHECK(r.send_byte(1));
        WorkerChipQueueInputHandle h;
        CHECK(ep.input().try_peek(h));
        WorkerChipQueueInputHandle bad = h;
        switch (variant) {
        case 0: bad.seq += 1; break;
        case 1: bad.opcode = Opcode::ERROR; break;
        case 2: bad.payload_offset += 1; break;
        case 3: bad.payload_nbytes = 0; break;
        case 4: CHECK(ep.input().release(h)); break;  // then released again
        case 5: std::memset(&bad, 0, sizeof bad); break;  // a zeroed (empty) handle
        }
        CHECK(!ep.input().release(bad));
        CHECK(failed_with(ep, Kind::OWNERSHIP, Op::INPUT_RELEASE));
        CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 1);
    }
    {
        // The payload address is never trusted: a handle with another address releases.
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        CHECK(r.send_byte(1));
        WorkerChipQueueInputHandle h;
        CHECK(ep.input().try_peek(h));
        h.payload.gm_addr = 0;
        h.payload.nbytes = 12345;
        CHECK(ep.input().release(h));
        CHECK(healthy(ep.error()));
    }
    {
        // A second reserve while one is active.
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        WorkerChipQueueOutputReservation a, b;
        CHECK(ep.output().try_reserve(8, a));
        CHECK(!ep.output().try_reserve(8, b) && !b.valid);
        CHECK(failed_with(ep, Kind::OWNERSHIP, Op::OUTPUT_TRY_RESERVE));
        check_terminal(ep);
    }
    {
        // Blocking reserve: recorded under try_reserve's name.
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        WorkerChipQueueOutputReservation a, b;
        CHECK(ep.output().reserve(8, kWaitNs, a));
        CHECK(!ep.output().reserve(8, kWaitNs, b));
        CHECK(failed_with(ep, Kind::OWNERSHIP, Op::OUTPUT_TRY_RESERVE));
    }
    // Publishing a stale, altered or invalid reservation; STOP or a bad opcode.
    for (int variant = 0; variant < 8; ++variant) {
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        WorkerChipQueueOutputReservation first, res;
        CHECK(ep.output().try_reserve(16, first));
        CHECK(ep.output().publish(first, Opcode::DATA));
        CHECK(ep.output().try_reserve(16, res));
        WorkerChipQueueOutputReservation bad = res;
        Opcode opcode = Opcode::DATA;
        Kind kind = Kind::OWNERSHIP;
        switch (variant) {
        case 0: bad = first; break;  // stale
        case 1: bad.seq += 1; break;
        case 2: bad.payload_offset += 64; break;
        case 3: bad.payload_nbytes = 8; break;  // the size is the reserved one; altering it is refused
        case 4: std::memset(&bad, 0, sizeof bad); break;  // valid == false
        case 5: opcode = Opcode::STOP; kind = Kind::INVALID_DESCRIPTOR; break;
        case 6: opcode = Opcode::INVALID; kind = Kind::INVALID_DESCRIPTOR; break;
        case 7: opcode = static_cast<Opcode>(9); kind = Kind::INVALID_DESCRIPTOR; break;
        }
        CHECK(!ep.output().publish(bad, opcode));
        CHECK(failed_with(ep, kind, Op::OUTPUT_PUBLISH));
        CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 1);
        CHECK(r.counter(WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET) == 1);  // nothing more published
        check_terminal(ep);
    }
    {
        // Publishing twice.
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        WorkerChipQueueOutputReservation res;
        CHECK(ep.output().try_reserve(16, res));
        CHECK(ep.output().publish(res, Opcode::DATA));
        CHECK(!ep.output().publish(res, Opcode::DATA));
        CHECK(failed_with(ep, Kind::OWNERSHIP, Op::OUTPUT_PUBLISH));
    }
}

void test_poison_from_shared_memory() {
    // A slot with the wrong seq.
    {
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        r.write_input_slot(0, 5, Opcode::DATA, 0, 0);
        r.set_counter(WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET, 1);
        WorkerChipQueueInputHandle h;
        CHECK(!ep.input().try_peek(h));
        CHECK(failed_with(ep, Kind::INVALID_DESCRIPTOR, Op::INPUT_TRY_PEEK));
        CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 1);
        check_terminal(ep);
    }
    // An invalid opcode, STOP with payload, a payload outside the arena.
    for (int variant = 0; variant < 3; ++variant) {
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        if (variant == 0) r.write_input_slot(0, 1, static_cast<Opcode>(7), 0, 0);
        if (variant == 1) r.write_input_slot(0, 1, Opcode::STOP, ep.layout().input_arena_offset, 8);
        if (variant == 2) r.write_input_slot(0, 1, Opcode::DATA, ep.layout().output_arena_offset, 8);
        r.set_counter(WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET, 1);
        WorkerChipQueueInputHandle h;
        CHECK(!ep.input().peek(kWaitNs, h));
        CHECK(failed_with(ep, Kind::INVALID_DESCRIPTOR, Op::INPUT_TRY_PEEK));
    }
    // An impossible counter (the tail more than depth ahead), a bad seq, a
    // second peek with window 1: error() holds exactly what the library
    // records for the same state through its C API (kind, region, text;
    // the operation renamed).
    for (int variant = 0; variant < 3; ++variant) {
        Region r(4, 256, 256), twin(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        uint64_t scalars[12];
        std::memcpy(scalars, &twin.desc, sizeof twin.desc);
        std::memcpy(scalars + 6, &twin.args, sizeof twin.args);
        const l3l2q_l2_config config{1, 0};
        l3l2q_l2_endpoint *c = nullptr;
        CHECK(l3l2q_l2_endpoint_create(scalars, 12, &config, &c, nullptr) == L3L2Q_STATUS_OK);
        l3l2q_message m;
        WorkerChipQueueInputHandle h;
        for (Region *each : {&r, &twin}) {
            if (variant == 0) each->set_counter(WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET, 5);
            if (variant == 1) {
                each->write_input_slot(0, 9, Opcode::DATA, 0, 0);
                each->set_counter(WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET, 1);
            }
            if (variant == 2) CHECK(each->send_byte(1) && each->send_byte(2));
        }
        if (variant == 2) {
            CHECK(ep.input().try_peek(h));
            CHECK(l3l2q_l2_try_peek(c, &m) == L3L2Q_STATUS_OK);
        }
        CHECK(!ep.input().try_peek(h));
        CHECK(l3l2q_l2_try_peek(c, &m) == L3L2Q_STATUS_POISONED);
        l3l2q_error_info info;
        CHECK(l3l2q_l2_error(c, &info) == L3L2Q_STATUS_OK);
        const WorkerChipQueueError &e = ep.error();
        CHECK(static_cast<uint32_t>(e.kind) == info.kind && info.kind != L3L2Q_ERROR_KIND_NONE);
        CHECK(info.operation == L3L2Q_OPERATION_PEEK && e.op == Op::INPUT_TRY_PEEK);
        CHECK(e.region_id == info.region_id && e.region_id == kRegionId);
        CHECK(std::strcmp(e.message, reinterpret_cast<const char *>(info.message)) == 0);
        CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 1);
        if (variant <= 1) CHECK(e.kind == Kind::INVALID_DESCRIPTOR);  // SPEC 9
        if (variant == 2) CHECK(e.kind == Kind::OWNERSHIP);
        CHECK(l3l2q_l2_endpoint_free(&c) == L3L2Q_STATUS_OK);
    }
    // ERROR inputs are ordinary messages: no poison.
    {
        Region r(4, 256, 256);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        CHECK(r.send("oops", 4, L3L2Q_OPCODE_ERROR));
        WorkerChipQueueInputHandle h;
        CHECK(ep.input().try_peek(h) && h.opcode == Opcode::ERROR && h.payload_nbytes == 4);
        CHECK(std::memcmp(reinterpret_cast<const void *>(h.payload.gm_addr), "oops", 4) == 0);
        CHECK(ep.input().release(h) && healthy(ep.error()));
    }
}

void test_window() {
    Region r(8, 512, 256);
    WorkerChipQueueEndpoint<2> ep(r.desc, r.args);
    for (uint8_t i = 1; i <= 4; ++i) CHECK(r.send_byte(i));
    WorkerChipQueueInputHandle a, b, c;
    CHECK(ep.input().try_peek(a) && a.seq == 1);
    CHECK(ep.input().try_peek(b) && b.seq == 2);
    std::memset(&c, 0xFF, sizeof c);
    CHECK(!ep.input().try_peek(c));  // window full: no-progress
    CHECK(healthy(ep.error()) && c.opcode == Opcode::INVALID && c.seq == 0);
    CHECK(!ep.input().peek(kShortNs, c) && healthy(ep.error()));
    // Release out of order: the head moves over the completed prefix only,
    // and #2 keeps counting against the window until #1 is released.
    CHECK(ep.input().release(b));
    CHECK(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) == 0);
    CHECK(!ep.input().try_peek(c) && healthy(ep.error()));
    CHECK(ep.input().release(a));
    CHECK(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) == 2);
    CHECK(ep.input().try_peek(c) && c.seq == 3);
    CHECK(ep.input().release(c));
    CHECK(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) == 3);
    CHECK(ep.input().try_peek(a) && a.seq == 4 && *reinterpret_cast<const uint8_t *>(a.payload.gm_addr) == 4);
    CHECK(ep.input().release(a));
    CHECK(healthy(ep.error()));
}

void test_stop_drain() {
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<2> ep(r.desc, r.args);
    CHECK(r.send_byte(1));
    CHECK(r.stop());
    WorkerChipQueueInputHandle data, stop, more;
    CHECK(ep.input().try_peek(data) && data.opcode == Opcode::DATA);
    CHECK(ep.input().try_peek(stop));
    CHECK(stop.opcode == Opcode::STOP && stop.seq == 2 && stop.payload_nbytes == 0 && stop.payload.gm_addr == 0);
    std::memset(&more, 0xFF, sizeof more);
    CHECK(!ep.input().try_peek(more));  // nothing after STOP
    CHECK(healthy(ep.error()) && more.opcode == Opcode::INVALID);
    CHECK(!ep.input().peek(kShortNs, more) && healthy(ep.error()));
    CHECK(!ep.input().drained());
    // Output keeps working while draining.
    WorkerChipQueueOutputReservation res;
    CHECK(ep.output().try_reserve(4, res));
    std::memcpy(reinterpret_cast<void *>(res.payload.gm_addr), "done", 4);
    CHECK(ep.output().publish(res, Opcode::DATA));
    // STOP released first: not drained until the earlier input is released too.
    CHECK(ep.input().release(stop));
    CHECK(!ep.input().drained());
    CHECK(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) == 0);
    CHECK(ep.input().release(data));
    CHECK(ep.input().drained());
    CHECK(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) == 2);
    uint64_t opcode;
    uint8_t buf[8];
    size_t len;
    CHECK(r.receive(&opcode, buf, sizeof buf, &len) && len == 4 && std::memcmp(buf, "done", 4) == 0);
    CHECK(healthy(ep.error()));
    CHECK(!ep.input().try_peek(more) && healthy(ep.error()));
}

// STOP with window 1: a held STOP makes try_peek no-progress, not an error.
void test_stop_window_one() {
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<> ep(r.desc, r.args);
    CHECK(r.stop());
    WorkerChipQueueInputHandle stop, more;
    CHECK(ep.input().peek(kWaitNs, stop) && stop.opcode == Opcode::STOP);
    CHECK(!ep.input().try_peek(more) && healthy(ep.error()));
    CHECK(ep.input().release(stop) && ep.input().drained());
}

// The STOP rule: an input published after STOP that is already visible when
// STOP would be acquired poisons instead of handing STOP out.
void test_stop_rule() {
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<2> ep(r.desc, r.args);
    CHECK(r.stop());
    r.write_input_slot(1, 2, Opcode::DATA, 0, 0);
    r.set_counter(WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET, 2);
    WorkerChipQueueInputHandle h;
    CHECK(!ep.input().try_peek(h));
    CHECK(h.opcode == Opcode::INVALID);
    CHECK(failed_with(ep, Kind::INVALID_DESCRIPTOR, Op::INPUT_TRY_PEEK));
    CHECK(!ep.input().drained());
    CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 1);
    check_terminal(ep);
}

// After STOP was handed out, a later descriptor is INVALID_DESCRIPTOR.
void test_input_after_stop() {
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<2> ep(r.desc, r.args);
    CHECK(r.stop());
    WorkerChipQueueInputHandle stop, h;
    CHECK(ep.input().try_peek(stop) && stop.opcode == Opcode::STOP);
    r.write_input_slot(1, 2, Opcode::DATA, 0, 0);
    r.set_counter(WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET, 2);
    CHECK(!ep.input().try_peek(h) && h.opcode == Opcode::INVALID);
    CHECK(failed_with(ep, Kind::INVALID_DESCRIPTOR, Op::INPUT_TRY_PEEK));
    CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 1);
    check_terminal(ep);
}

void test_remote_abort() {
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<> ep(r.desc, r.args);
    CHECK(r.send_byte(1));
    // Flag clear: ORDINARY_TIMEOUT, and nothing changes, in the record or in shared memory.
    static uint8_t payload_before[4096], counters_before[L3L2Q_COUNTER_BYTES];
    std::memcpy(payload_before, r.payload(), r.payload_bytes());
    std::memcpy(counters_before, r.counters(), L3L2Q_COUNTER_BYTES);
    CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT);
    CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT);
    CHECK(healthy(ep.error()));
    CHECK(r.snapshot_equals(payload_before, counters_before));
    WorkerChipQueueInputHandle h;
    CHECK(ep.input().try_peek(h));
    CHECK(ep.input().release(h));

    // Flag set: REMOTE_ABORTED under TIMEOUT, L2's flag untouched, terminal.
    r.set_counter(WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET, 1);
    std::memcpy(payload_before, r.payload(), r.payload_bytes());
    std::memcpy(counters_before, r.counters(), L3L2Q_COUNTER_BYTES);
    CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::REMOTE_ABORTED);
    CHECK(failed_with(ep, Kind::REMOTE_ABORTED, Op::TIMEOUT));
    CHECK(r.snapshot_equals(payload_before, counters_before));  // the query writes nothing
    CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 0);
    CHECK(r.send_byte(2));  // even with input available, every call fails
    check_terminal(ep);
    CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::REMOTE_ABORTED);
    CHECK(failed_with(ep, Kind::REMOTE_ABORTED, Op::TIMEOUT));
    CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 0);
}

// A blocking call that times out with L3's flag set reports the abort itself.
void test_remote_abort_after_timeout() {
    for (int variant = 0; variant < 2; ++variant) {
        Region r(1, 64, 64);
        WorkerChipQueueEndpoint<> ep(r.desc, r.args);
        WorkerChipQueueOutputReservation res;
        if (variant == 1) {  // fill the single output slot so reserve must wait
            CHECK(ep.output().try_reserve(8, res));
            CHECK(ep.output().publish(res, Opcode::DATA));
        }
        r.set_counter(WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET, 1);
        WorkerChipQueueInputHandle h;
        if (variant == 0) CHECK(!ep.input().peek(kShortNs, h));
        if (variant == 1) CHECK(!ep.output().reserve(8, kShortNs, res));
        CHECK(failed_with(ep, Kind::REMOTE_ABORTED, Op::TIMEOUT));
        CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::REMOTE_ABORTED);
        CHECK(r.counter(WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET) == 0);
        check_terminal(ep);
    }
    // A poisoned endpoint keeps its own record when the peer also aborted.
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<> ep(r.desc, r.args);
    WorkerChipQueueOutputReservation a, b;
    CHECK(ep.output().try_reserve(8, a));
    CHECK(!ep.output().try_reserve(8, b));
    r.set_counter(WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET, 1);
    CHECK(ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::REMOTE_ABORTED);
    CHECK(failed_with(ep, Kind::OWNERSHIP, Op::OUTPUT_TRY_RESERVE));
}

// Counters across 2^31 and 2^32 (the library's initial_count testing aid
// starts both ends just below the boundary).
void test_counter_boundaries() {
    const uint64_t starts[] = {(uint64_t{1} << 31) - 3, (uint64_t{1} << 32) - 3, (uint64_t{3} << 32) - 1};
    for (uint64_t start : starts) {
        Region r(4, 256, 256, start);
        WorkerChipQueueEndpoint<2> ep(r.desc, r.args, l3l2q::compat::InitialCount{start});
        CHECK(healthy(ep.error()));
        for (uint64_t i = 0; i < 9; ++i) {
            const uint8_t in[3] = {static_cast<uint8_t>(i), 0xA5, static_cast<uint8_t>(i * 7)};
            CHECK(r.send(in, sizeof in));
            WorkerChipQueueInputHandle h;
            CHECK(ep.input().try_peek(h));
            CHECK(h.seq == start + i + 1 && h.payload_nbytes == 3);
            CHECK(std::memcmp(reinterpret_cast<const void *>(h.payload.gm_addr), in, 3) == 0);
            WorkerChipQueueOutputReservation res;
            CHECK(ep.output().try_reserve(3, res) && res.seq == start + i + 1);
            std::memcpy(reinterpret_cast<void *>(res.payload.gm_addr), in, 3);
            CHECK(ep.output().publish(res, Opcode::DATA));
            CHECK(ep.input().release(h));
            l3l2q_message m;
            CHECK(r.peek_output(&m) && m.seq == res.seq && m.payload_nbytes == 3 && m.data[2] == in[2]);
            CHECK(r.release_output(&m));
        }
        CHECK(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) == static_cast<uint32_t>(start + 9));
        CHECK(r.counter(WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET) == static_cast<uint32_t>(start + 9));
        // Both ends' reconstruct_counter agrees with what the library folded.
        uint64_t local = start;
        CHECK(wq::reconstruct_counter(static_cast<int32_t>(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) - 5), 4, local));
        CHECK(wq::reconstruct_counter(static_cast<int32_t>(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET) - 1), 4, local));
        CHECK(wq::reconstruct_counter(static_cast<int32_t>(r.counter(WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET)), 4, local));
        CHECK(local == start + 9);
        CHECK(r.stop());
        WorkerChipQueueInputHandle stop;
        CHECK(ep.input().try_peek(stop) && stop.opcode == Opcode::STOP && stop.seq == start + 10);
        CHECK(ep.input().release(stop) && ep.input().drained());
        CHECK(healthy(ep.error()));
    }
}

// The library's text (at most 159 characters) is copied NUL-terminated and
// the rest of the 256-byte field is zeroed.
void test_error_text() {
    Region r(4, 256, 256);
    WorkerChipQueueEndpoint<> ep(r.desc, r.args);
    WorkerChipQueueOutputReservation a, b;
    CHECK(ep.output().try_reserve(8, a));
    CHECK(!ep.output().try_reserve(8, b));
    const size_t n = std::strlen(ep.error().message);
    CHECK(n > 0 && n < L3L2Q_ERROR_MESSAGE_BYTES);
    for (size_t i = n; i < sizeof ep.error().message; ++i) CHECK(ep.error().message[i] == '\0');
}

}  // namespace

int main() {
    test_constants();
    test_arithmetic_helpers();
    test_make_layout();
    test_validate_region();
    test_encode_desc();
    test_reconstruct_counter();
    test_init_failures();
    test_round_trip();
    test_no_false_poison_and_wrap_after_drain();
    test_ownership();
    test_poison_from_shared_memory();
    test_window();
    test_stop_drain();
    test_stop_window_one();
    test_stop_rule();
    test_input_after_stop();
    test_remote_abort();
    test_remote_abort_after_timeout();
    test_counter_boundaries();
    test_error_text();
    if (failures != 0) {
        std::fprintf(stderr, "compat_endpoint: %d failures\n", failures);
        return 1;
    }
    std::printf("compat_endpoint: all passed\n");
    return 0;
}
