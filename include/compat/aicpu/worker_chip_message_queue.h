/* aicpu/worker_chip_message_queue.h: the L2 queue endpoint under the names
 * existing AICPU runtimes compile against, implemented over l3l2q's C API.
 *
 * Nothing here implements the protocol: every ring, arena, counter, window
 * and STOP decision is made by the library (l3l2q_l2_*, l3l2q_layout_compute,
 * l3l2q_queue_validate, l3l2q_slot_encode, l3l2q_counter_fold). These headers
 * convert names and structs and map the library's statuses and error records
 * onto this API:
 *
 *  - `true` is the library's OK. `false` with `error().kind == NONE` is its
 *    NO_PROGRESS or TIMEOUT. Any other status is `false` with `error()`
 *    copied from the library's record (kind and region id as recorded; the
 *    operation renamed: create -> INIT, peek -> INPUT_TRY_PEEK, release ->
 *    INPUT_RELEASE, reserve -> OUTPUT_TRY_RESERVE, publish -> OUTPUT_PUBLISH,
 *    timeout -> TIMEOUT; an operation with no name here keeps its value
 *    plus 0x100 and prints "unknown"). A failure the library does not record
 *    (a status without a record) is written to error() from the status text,
 *    so it never reads as no-progress.
 *  - The library's error text holds 159 characters; this API's holds 255.
 *  - Blocking peek/reserve that time out sample L3's abort flag in the library
 *    already: a remote abort then shows as REMOTE_ABORTED (op TIMEOUT) straight
 *    away, and disambiguate_timeout() reports it too.
 *  - validate_region accepts region ABI major 2 as well as 3 (SPEC 1).
 *  - reconstruct_counter also returns false for a depth that is not a power
 *    of two in 1..=2^30.
 *
 * What runtimes get beyond the other implementation: no false poison after an
 * abandoned try, no deadlock when a message must wrap right after a full
 * drain, the STOP rule (SPEC 8), and one audited protocol core.
 *
 * Header-only C++17: no exceptions, RTTI or heap (the library allocates the
 * endpoint once, at construction). Link libl3l2q. */

#ifndef L3L2Q_COMPAT_AICPU_WORKER_CHIP_MESSAGE_QUEUE_H
#define L3L2Q_COMPAT_AICPU_WORKER_CHIP_MESSAGE_QUEUE_H

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <type_traits>

#include "l3l2q.h"
#include "../common/worker_chip_orch_comm.h"
#include "worker_chip_orch_endpoint.h"

/* ---- constants ------------------------------------------------------------ */

static constexpr uint32_t WORKER_CHIP_QUEUE_MAGIC = L3L2Q_QUEUE_MAGIC;
static constexpr uint16_t WORKER_CHIP_QUEUE_ABI_MAJOR = L3L2Q_QUEUE_ABI_MAJOR;
static constexpr uint16_t WORKER_CHIP_QUEUE_ABI_MINOR = L3L2Q_QUEUE_ABI_MINOR;
static constexpr uint64_t WORKER_CHIP_QUEUE_DESC_SLOT_BYTES = L3L2Q_SLOT_BYTES;
/* Rings sit at payload offsets 0 and depth * 32 (SPEC 3). */
static constexpr uint64_t WORKER_CHIP_QUEUE_DESC_RING_ALIGNMENT = 8;
static constexpr uint64_t WORKER_CHIP_QUEUE_PAYLOAD_ARENA_ALIGNMENT = L3L2Q_ARENA_ALIGN;
static constexpr uint64_t WORKER_CHIP_QUEUE_COUNTER_STRIDE = L3L2Q_COUNTER_STRIDE;
static constexpr uint64_t WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET = L3L2Q_INPUT_DESC_TAIL_OFFSET;
static constexpr uint64_t WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET = L3L2Q_INPUT_DESC_HEAD_OFFSET;
static constexpr uint64_t WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET = L3L2Q_OUTPUT_DESC_TAIL_OFFSET;
static constexpr uint64_t WORKER_CHIP_QUEUE_OUTPUT_DESC_HEAD_OFFSET = L3L2Q_OUTPUT_DESC_HEAD_OFFSET;
/* "Worker" is L3 (the orchestrator's worker side), "chip" is L2. */
static constexpr uint64_t WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET = L3L2Q_L3_ABORT_FLAG_OFFSET;
static constexpr uint64_t WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET = L3L2Q_L2_ABORT_FLAG_OFFSET;
static constexpr uint64_t WORKER_CHIP_QUEUE_COUNTER_BYTES = L3L2Q_COUNTER_BYTES;
static constexpr uint64_t WORKER_CHIP_QUEUE_MAX_DEPTH = L3L2Q_DEPTH_MAX;
static constexpr uint64_t WORKER_CHIP_QUEUE_MAGIC_VERSION = worker_chip_orch_comm_pack_magic_version(
    WORKER_CHIP_QUEUE_MAGIC, WORKER_CHIP_QUEUE_ABI_MAJOR, WORKER_CHIP_QUEUE_ABI_MINOR);

static_assert(WORKER_CHIP_QUEUE_MAGIC == 0x4C335132u && WORKER_CHIP_QUEUE_ABI_MAJOR == 1 &&
                  WORKER_CHIP_QUEUE_ABI_MINOR == 1,
              "queue magic \"L3Q2\", ABI 1.1");
static_assert(WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET == 256 &&
                  WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET == 320 && WORKER_CHIP_QUEUE_COUNTER_BYTES == 384,
              "counter lines of SPEC 3");

/* ---- types ---------------------------------------------------------------- */

struct WorkerChipQueueDescSlot {
    uint64_t seq;
    uint64_t opcode;
    uint64_t payload_offset;
    uint64_t payload_nbytes;
};
static_assert(std::is_standard_layout<WorkerChipQueueDescSlot>::value &&
                  sizeof(WorkerChipQueueDescSlot) == WORKER_CHIP_QUEUE_DESC_SLOT_BYTES,
              "a slot is 32 bytes (SPEC 4)");

enum class WorkerChipQueueOpcode : uint64_t {
    INVALID = L3L2Q_OPCODE_INVALID,
    DATA = L3L2Q_OPCODE_DATA,
    STOP = L3L2Q_OPCODE_STOP,
    ERROR = L3L2Q_OPCODE_ERROR,
};

enum class WorkerChipQueueErrorKind : uint32_t {
    NONE = L3L2Q_ERROR_KIND_NONE,
    BAD_ARGUMENT = L3L2Q_ERROR_KIND_BAD_ARGUMENT,
    BAD_DESCRIPTOR = L3L2Q_ERROR_KIND_BAD_DESCRIPTOR,
    INVALID_DESCRIPTOR = L3L2Q_ERROR_KIND_INVALID_DESCRIPTOR,
    OUT_OF_SPACE = L3L2Q_ERROR_KIND_OUT_OF_SPACE,
    OWNERSHIP = L3L2Q_ERROR_KIND_OWNERSHIP,
    REMOTE_ABORTED = L3L2Q_ERROR_KIND_REMOTE_ABORTED,
    ENDPOINT_ERROR = L3L2Q_ERROR_KIND_ENDPOINT_ERROR,
};

enum class WorkerChipQueueTimeoutStatus : uint32_t {
    ORDINARY_TIMEOUT = 0,
    REMOTE_ABORTED = 1,
};

enum class WorkerChipQueueOp : uint32_t {
    INIT = 1,
    TIMEOUT = 2,
    INPUT_TRY_PEEK = 3,
    INPUT_RELEASE = 4,
    OUTPUT_TRY_RESERVE = 5,
    OUTPUT_PUBLISH = 6,
};

static inline const char *worker_chip_queue_op_to_string(WorkerChipQueueOp op) {
    switch (op) {
    case WorkerChipQueueOp::INIT: return "init";
    case WorkerChipQueueOp::TIMEOUT: return "timeout";
    case WorkerChipQueueOp::INPUT_TRY_PEEK: return "input.try_peek";
    case WorkerChipQueueOp::INPUT_RELEASE: return "input.release";
    case WorkerChipQueueOp::OUTPUT_TRY_RESERVE: return "output.try_reserve";
    case WorkerChipQueueOp::OUTPUT_PUBLISH: return "output.publish";
    }
    return "unknown";
}

struct WorkerChipQueueError {
    WorkerChipQueueErrorKind kind;
    WorkerChipQueueOp op;
    uint64_t region_id;
    char message[256];
};

/* SPEC 3, in this order (differs from l3l2q_layout's order). */
struct WorkerChipQueueLayout {
    uint64_t depth;
    uint64_t input_desc_offset;
    uint64_t output_desc_offset;
    uint64_t input_arena_offset;
    uint64_t output_arena_offset;
    uint64_t input_arena_bytes;
    uint64_t output_arena_bytes;
    uint64_t payload_bytes;
    uint64_t input_desc_tail_offset;
    uint64_t input_desc_head_offset;
    uint64_t output_desc_tail_offset;
    uint64_t output_desc_head_offset;
    uint64_t worker_abort_flag_offset;
    uint64_t chip_abort_flag_offset;
    uint64_t counter_bytes;
};

/* SPEC 2, field for field the same as l3l2q_queue_args. */
struct WorkerChipQueueArgs {
    uint64_t magic_version;
    uint64_t depth;
    uint64_t input_arena_bytes;
    uint64_t output_arena_bytes;
    uint64_t payload_bytes;
    uint64_t counter_bytes;
};

struct WorkerChipQueueInputHandle {
    uint64_t seq;
    WorkerChipQueueOpcode opcode;
    uint64_t payload_offset;
    uint64_t payload_nbytes;
    WorkerChipOrchPayloadView payload;
};

struct WorkerChipQueueOutputReservation {
    uint64_t seq; /* the sequence number the message will be published with */
    uint64_t payload_offset;
    uint64_t payload_nbytes;
    WorkerChipOrchPayloadView payload;
    bool valid;
};

/* ---- struct conversions (no logic: field moves) --------------------------- */

namespace l3l2q_compat_detail {

inline l3l2q_region_descriptor to_c(const WorkerChipOrchRegionDesc &d) {
    l3l2q_region_descriptor c;
    c.magic_version = d.magic_version;
    c.region_id = d.region_id;
    c.payload_base = d.payload_base;
    c.payload_bytes = d.payload_bytes;
    c.counter_base = d.counter_base;
    c.counter_bytes = d.counter_bytes;
    return c;
}

inline l3l2q_queue_args to_c(const WorkerChipQueueArgs &a) {
    l3l2q_queue_args c;
    c.magic_version = a.magic_version;
    c.depth = a.depth;
    c.input_arena_bytes = a.input_arena_bytes;
    c.output_arena_bytes = a.output_arena_bytes;
    c.payload_bytes = a.payload_bytes;
    c.counter_bytes = a.counter_bytes;
    return c;
}

inline WorkerChipQueueLayout from_c(const l3l2q_layout &l) {
    WorkerChipQueueLayout out;
    out.depth = l.depth;
    out.input_desc_offset = l.input_desc_offset;
    out.output_desc_offset = l.output_desc_offset;
    out.input_arena_offset = l.input_arena_offset;
    out.output_arena_offset = l.output_arena_offset;
    out.input_arena_bytes = l.input_arena_bytes;
    out.output_arena_bytes = l.output_arena_bytes;
    out.payload_bytes = l.payload_bytes;
    out.input_desc_tail_offset = WORKER_CHIP_QUEUE_INPUT_DESC_TAIL_OFFSET;
    out.input_desc_head_offset = WORKER_CHIP_QUEUE_INPUT_DESC_HEAD_OFFSET;
    out.output_desc_tail_offset = WORKER_CHIP_QUEUE_OUTPUT_DESC_TAIL_OFFSET;
    out.output_desc_head_offset = WORKER_CHIP_QUEUE_OUTPUT_DESC_HEAD_OFFSET;
    out.worker_abort_flag_offset = WORKER_CHIP_QUEUE_WORKER_ABORT_FLAG_OFFSET;
    out.chip_abort_flag_offset = WORKER_CHIP_QUEUE_CHIP_ABORT_FLAG_OFFSET;
    out.counter_bytes = l.counter_bytes;
    return out;
}

/* Renames a library operation; one without a name here stays distinguishable. */
inline WorkerChipQueueOp op_from_c(uint32_t operation) {
    switch (operation) {
    case L3L2Q_OPERATION_CREATE: return WorkerChipQueueOp::INIT;
    case L3L2Q_OPERATION_PEEK: return WorkerChipQueueOp::INPUT_TRY_PEEK;
    case L3L2Q_OPERATION_RELEASE: return WorkerChipQueueOp::INPUT_RELEASE;
    case L3L2Q_OPERATION_RESERVE: return WorkerChipQueueOp::OUTPUT_TRY_RESERVE;
    case L3L2Q_OPERATION_PUBLISH: return WorkerChipQueueOp::OUTPUT_PUBLISH;
    case L3L2Q_OPERATION_TIMEOUT: return WorkerChipQueueOp::TIMEOUT;
    default: return static_cast<WorkerChipQueueOp>(0x100u | operation);
    }
}

inline void set_message(WorkerChipQueueError &e, const char *text) {
    std::memset(e.message, 0, sizeof e.message);
    std::strncpy(e.message, text, sizeof e.message - 1);
}

inline void from_c(const l3l2q_error_info &info, WorkerChipQueueError &e) {
    e.kind = static_cast<WorkerChipQueueErrorKind>(info.kind);
    e.op = op_from_c(info.operation);
    e.region_id = info.region_id;
    /* The library's text is NUL-terminated within its 160 bytes. */
    char text[sizeof info.message + 1];
    std::memcpy(text, info.message, sizeof info.message);
    text[sizeof info.message] = '\0';
    set_message(e, text);
}

inline void from_c(const l3l2q_message &m, WorkerChipQueueInputHandle &h) {
    h.seq = m.seq;
    h.opcode = static_cast<WorkerChipQueueOpcode>(m.opcode);
    h.payload_offset = m.payload_offset;
    h.payload_nbytes = m.payload_nbytes;
    h.payload.gm_addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(m.data));
    h.payload.nbytes = m.payload_nbytes; /* 0 exactly when data is null: L2 maps its region */
}

/* The address is passed through but never trusted: the library derives the
 * payload from the wire fields it checks. */
inline l3l2q_message to_c(const WorkerChipQueueInputHandle &h) {
    l3l2q_message m;
    m.seq = h.seq;
    m.opcode = static_cast<uint64_t>(h.opcode);
    m.payload_offset = h.payload_offset;
    m.payload_nbytes = h.payload_nbytes;
    m.data = reinterpret_cast<const uint8_t *>(static_cast<uintptr_t>(h.payload.gm_addr));
    return m;
}

inline void from_c(const l3l2q_reservation &r, WorkerChipQueueOutputReservation &out) {
    out.seq = r.seq;
    out.payload_offset = r.payload_offset;
    out.payload_nbytes = r.capacity;
    out.payload.gm_addr = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(r.data));
    out.payload.nbytes = r.capacity; /* 0 exactly when data is null: L2 maps its region */
    out.valid = true;
}

/* `token` is the library's identity of the active reservation, which this
 * API's struct has no field for; the library checks it with the other fields. */
inline l3l2q_reservation to_c(const WorkerChipQueueOutputReservation &r, uint64_t token) {
    l3l2q_reservation c;
    c.token = token;
    c.seq = r.seq;
    c.payload_offset = r.payload_offset;
    c.capacity = r.payload_nbytes;
    c.data = reinterpret_cast<uint8_t *>(static_cast<uintptr_t>(r.payload.gm_addr));
    return c;
}

} // namespace l3l2q_compat_detail

/* ---- free functions ------------------------------------------------------- */

namespace worker_chip_message_queue {

inline uint64_t magic_version() {
    uint64_t word = 0;
    /* Cannot fail: the out-pointer is valid. */
    (void)l3l2q_magic_version_pack(WORKER_CHIP_QUEUE_MAGIC, WORKER_CHIP_QUEUE_ABI_MAJOR,
                                   WORKER_CHIP_QUEUE_ABI_MINOR, &word);
    return word;
}

/* The library has no C function for these two; they are plain arithmetic. */
inline bool is_power_of_two(uint64_t value) { return value != 0 && (value & (value - 1)) == 0; }

inline uint64_t align_up(uint64_t value, uint64_t align) {
    return align == 0 ? value : (value + align - 1) / align * align;
}

inline bool align_up_checked(uint64_t value, uint64_t align, uint64_t *out) {
    if (align == 0 || out == nullptr || value > UINT64_MAX - (align - 1)) return false;
    *out = (value + align - 1) / align * align;
    return true;
}

inline bool valid_opcode(WorkerChipQueueOpcode opcode) {
    return opcode == WorkerChipQueueOpcode::DATA || opcode == WorkerChipQueueOpcode::STOP ||
           opcode == WorkerChipQueueOpcode::ERROR;
}

inline bool make_layout(uint64_t depth, uint64_t input_arena_bytes, uint64_t output_arena_bytes,
                        WorkerChipQueueLayout &out) {
    l3l2q_layout layout;
    if (l3l2q_layout_compute(depth, input_arena_bytes, output_arena_bytes, &layout, nullptr) !=
        L3L2Q_STATUS_OK)
        return false;
    out = l3l2q_compat_detail::from_c(layout);
    return true;
}

inline bool validate_region(const WorkerChipOrchRegionDesc &region, const WorkerChipQueueArgs &args,
                            WorkerChipQueueLayout *out_layout) {
    const l3l2q_region_descriptor d = l3l2q_compat_detail::to_c(region);
    const l3l2q_queue_args a = l3l2q_compat_detail::to_c(args);
    l3l2q_layout layout;
    if (l3l2q_queue_validate(&d, &a, &layout, nullptr) != L3L2Q_STATUS_OK) return false;
    if (out_layout != nullptr) *out_layout = l3l2q_compat_detail::from_c(layout);
    return true;
}

inline void encode_desc(WorkerChipQueueDescSlot *slot, uint64_t seq, WorkerChipQueueOpcode opcode,
                        uint64_t payload_offset, uint64_t payload_nbytes) {
    if (slot == nullptr) return;
    l3l2q_descriptor_slot s;
    s.seq = seq;
    s.opcode = static_cast<uint64_t>(opcode);
    s.payload_offset = payload_offset;
    s.payload_nbytes = payload_nbytes;
    /* The slot's memory receives the wire (little-endian) bytes. */
    (void)l3l2q_slot_encode(&s, reinterpret_cast<uint8_t *>(slot), sizeof *slot);
}

inline bool reconstruct_counter(int32_t observed_low32, uint64_t depth, uint64_t &local_value) {
    uint64_t folded = 0;
    if (l3l2q_counter_fold(local_value, static_cast<uint32_t>(observed_low32), depth, &folded) !=
        L3L2Q_STATUS_OK)
        return false;
    local_value = folded;
    return true;
}

} // namespace worker_chip_message_queue

static inline uint64_t worker_chip_queue_magic_version() { return worker_chip_message_queue::magic_version(); }
static inline bool worker_chip_queue_is_power_of_two(uint64_t value) {
    return worker_chip_message_queue::is_power_of_two(value);
}
static inline uint64_t worker_chip_queue_align_up(uint64_t value, uint64_t align) {
    return worker_chip_message_queue::align_up(value, align);
}
static inline bool worker_chip_queue_align_up_checked(uint64_t value, uint64_t align, uint64_t *out) {
    return worker_chip_message_queue::align_up_checked(value, align, out);
}
static inline bool worker_chip_queue_valid_opcode(WorkerChipQueueOpcode opcode) {
    return worker_chip_message_queue::valid_opcode(opcode);
}
static inline bool worker_chip_queue_make_layout(uint64_t depth, uint64_t input_arena_bytes,
                                                 uint64_t output_arena_bytes, WorkerChipQueueLayout &out) {
    return worker_chip_message_queue::make_layout(depth, input_arena_bytes, output_arena_bytes, out);
}
static inline bool worker_chip_queue_validate_region(const WorkerChipOrchRegionDesc &region,
                                                     const WorkerChipQueueArgs &args,
                                                     WorkerChipQueueLayout *out_layout) {
    return worker_chip_message_queue::validate_region(region, args, out_layout);
}
static inline void worker_chip_queue_encode_desc(WorkerChipQueueDescSlot *slot, uint64_t seq,
                                                 WorkerChipQueueOpcode opcode, uint64_t payload_offset,
                                                 uint64_t payload_nbytes) {
    worker_chip_message_queue::encode_desc(slot, seq, opcode, payload_offset, payload_nbytes);
}
static inline bool worker_chip_queue_reconstruct_counter(int32_t observed_low32, uint64_t depth,
                                                         uint64_t &local_value) {
    return worker_chip_message_queue::reconstruct_counter(observed_low32, depth, local_value);
}

/* ---- l3l2q extension: a testing aid --------------------------------------- */

namespace l3l2q {
namespace compat {
/* Starts every ring counter at `value` instead of 0 (l3l2q_l2_config's
 * initial_count), so tests reach the 2^31/2^32 boundaries quickly. The L3
 * side must be created with the same value. Not part of the other API. */
struct InitialCount {
    uint64_t value;
};
} // namespace compat
} // namespace l3l2q

/* ---- the endpoint --------------------------------------------------------- */

#if defined(__GNUC__)
#define L3L2Q_COMPAT_COLD __attribute__((cold, noinline))
#else
#define L3L2Q_COMPAT_COLD
#endif

template <uint64_t MaxInflight = 1> class WorkerChipQueueEndpoint {
  public:
    static constexpr uint64_t kStopEntrySlots = 1;
    static constexpr uint64_t kEntryCapacity = MaxInflight + 1;

    class InputQueue {
      public:
        bool try_peek(WorkerChipQueueInputHandle &out) {
            l3l2q_message m;
            return take(l3l2q_l2_try_peek(handle_, &m), m, out);
        }

        bool peek(uint64_t timeout_ns, WorkerChipQueueInputHandle &out) {
            l3l2q_message m;
            return take(l3l2q_l2_peek(handle_, &m, timeout_ns), m, out);
        }

        bool release(const WorkerChipQueueInputHandle &handle) {
            const l3l2q_message m = l3l2q_compat_detail::to_c(handle);
            return owner_->settle(l3l2q_l2_release(handle_, &m), WorkerChipQueueOp::INPUT_RELEASE);
        }

        bool drained() const {
            bool drained = false;
            return l3l2q_l2_drained(handle_, &drained) == L3L2Q_STATUS_OK && drained;
        }

        InputQueue(const InputQueue &) = delete;
        InputQueue &operator=(const InputQueue &) = delete;

      private:
        friend class WorkerChipQueueEndpoint;
        explicit InputQueue(WorkerChipQueueEndpoint *owner) : owner_(owner) {}

        bool take(l3l2q_status status, const l3l2q_message &m, WorkerChipQueueInputHandle &out) {
            if (status == L3L2Q_STATUS_OK) {
                l3l2q_compat_detail::from_c(m, out);
                return true;
            }
            std::memset(&out, 0, sizeof out);
            return owner_->settle(status, WorkerChipQueueOp::INPUT_TRY_PEEK);
        }

        WorkerChipQueueEndpoint *owner_;
        l3l2q_l2_endpoint *handle_ = nullptr; /* the owner's, copied so a call loads it once */
    };

    class OutputQueue {
      public:
        bool try_reserve(uint64_t nbytes, WorkerChipQueueOutputReservation &out) {
            l3l2q_reservation r;
            return take(l3l2q_l2_try_reserve(handle_, nbytes, &r), r, out);
        }

        bool reserve(uint64_t nbytes, uint64_t timeout_ns, WorkerChipQueueOutputReservation &out) {
            l3l2q_reservation r;
            return take(l3l2q_l2_reserve(handle_, nbytes, &r, timeout_ns), r, out);
        }

        /* Publishes the reserved size. */
        bool publish(const WorkerChipQueueOutputReservation &reservation, WorkerChipQueueOpcode opcode) {
            const l3l2q_reservation r = l3l2q_compat_detail::to_c(reservation, token_);
            return owner_->settle(
                l3l2q_l2_publish(handle_, &r, static_cast<uint64_t>(opcode), reservation.payload_nbytes),
                WorkerChipQueueOp::OUTPUT_PUBLISH);
        }

        OutputQueue(const OutputQueue &) = delete;
        OutputQueue &operator=(const OutputQueue &) = delete;

      private:
        friend class WorkerChipQueueEndpoint;
        explicit OutputQueue(WorkerChipQueueEndpoint *owner) : owner_(owner) {}

        bool take(l3l2q_status status, const l3l2q_reservation &r, WorkerChipQueueOutputReservation &out) {
            if (status == L3L2Q_STATUS_OK) {
                token_ = r.token;
                l3l2q_compat_detail::from_c(r, out);
                return true;
            }
            std::memset(&out, 0, sizeof out);
            return owner_->settle(status, WorkerChipQueueOp::OUTPUT_TRY_RESERVE);
        }

        WorkerChipQueueEndpoint *owner_;
        l3l2q_l2_endpoint *handle_ = nullptr; /* the owner's, copied so a call loads it once */
        uint64_t token_ = 0;
    };

    WorkerChipQueueEndpoint(const WorkerChipOrchRegionDesc &region, const WorkerChipQueueArgs &args)
        : input_(this), output_(this) {
        init(region, args, 0);
    }

    /* l3l2q extension, see l3l2q::compat::InitialCount. */
    WorkerChipQueueEndpoint(const WorkerChipOrchRegionDesc &region, const WorkerChipQueueArgs &args,
                            l3l2q::compat::InitialCount start)
        : input_(this), output_(this) {
        init(region, args, start.value);
    }

    ~WorkerChipQueueEndpoint() { (void)l3l2q_l2_endpoint_free(&handle_); }

    WorkerChipQueueEndpoint(const WorkerChipQueueEndpoint &) = delete;
    WorkerChipQueueEndpoint &operator=(const WorkerChipQueueEndpoint &) = delete;
    WorkerChipQueueEndpoint(WorkerChipQueueEndpoint &&) = delete;
    WorkerChipQueueEndpoint &operator=(WorkerChipQueueEndpoint &&) = delete;

    const WorkerChipQueueError &error() const { return error_; }
    const WorkerChipQueueLayout &layout() const { return layout_; }
    InputQueue &input() { return input_; }
    OutputQueue &output() { return output_; }

    /* Asks the library's side-effect-free query whether L3 set its abort flag;
     * if so the library records REMOTE_ABORTED (op TIMEOUT) unless an error is
     * already recorded, and every later call fails. Without an endpoint (a
     * failed init) there is nothing to ask: ORDINARY_TIMEOUT, error() keeps
     * the INIT record. */
    WorkerChipQueueTimeoutStatus disambiguate_timeout() {
        bool aborted = false;
        if (l3l2q_l2_remote_aborted(handle_, &aborted) != L3L2Q_STATUS_OK || !aborted)
            return WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT;
        refresh(L3L2Q_STATUS_REMOTE_ABORTED, WorkerChipQueueOp::TIMEOUT);
        return WorkerChipQueueTimeoutStatus::REMOTE_ABORTED;
    }

  private:
    void init(const WorkerChipOrchRegionDesc &region, const WorkerChipQueueArgs &args, uint64_t initial_count) {
        std::memset(&error_, 0, sizeof error_);
        std::memset(&layout_, 0, sizeof layout_);
        region_id_ = region.region_id;
        const l3l2q_region_descriptor d = l3l2q_compat_detail::to_c(region);
        const l3l2q_queue_args a = l3l2q_compat_detail::to_c(args);
        uint64_t scalars[L3L2Q_TASK_SCALARS];
        l3l2q_status status = l3l2q_task_scalars_encode(&d, &a, scalars, L3L2Q_TASK_SCALARS);
        l3l2q_violation violation = L3L2Q_VIOLATION_VALID;
        if (status == L3L2Q_STATUS_OK) {
            l3l2q_l2_config config;
            config.max_inflight = MaxInflight;
            config.initial_count = initial_count;
            status = l3l2q_l2_endpoint_create(scalars, L3L2Q_TASK_SCALARS, &config, &handle_, &violation);
        }
        if (status != L3L2Q_STATUS_OK) {
            init_failed(status, violation, region.region_id, args.depth);
            return;
        }
        l3l2q_layout layout;
        if (l3l2q_l2_layout(handle_, &layout) == L3L2Q_STATUS_OK) layout_ = l3l2q_compat_detail::from_c(layout);
        input_.handle_ = handle_;
        output_.handle_ = handle_;
    }

    /* The library creates nothing on failure, so there is no record to copy:
     * this one is written from its status and violation. */
    L3L2Q_COMPAT_COLD void init_failed(l3l2q_status status, l3l2q_violation violation, uint64_t region_id,
                                       uint64_t depth) {
        error_.op = WorkerChipQueueOp::INIT;
        error_.region_id = region_id;
        if (status == L3L2Q_STATUS_BAD_DESCRIPTOR) {
            error_.kind = WorkerChipQueueErrorKind::BAD_DESCRIPTOR;
            std::snprintf(error_.message, sizeof error_.message, "%s: %s", l3l2q_status_str(status),
                          l3l2q_violation_str(violation));
        } else if (status == L3L2Q_STATUS_BAD_ARGUMENT) {
            /* The only argument left for the library to refuse is the window. */
            error_.kind = WorkerChipQueueErrorKind::BAD_ARGUMENT;
            std::snprintf(error_.message, sizeof error_.message, "%s: MaxInflight %llu, depth %llu (need 1 <= MaxInflight <= depth)",
                          l3l2q_status_str(status), static_cast<unsigned long long>(MaxInflight),
                          static_cast<unsigned long long>(depth));
        } else {
            error_.kind = WorkerChipQueueErrorKind::ENDPOINT_ERROR;
            std::snprintf(error_.message, sizeof error_.message, "%s", l3l2q_status_str(status));
        }
    }

    bool settle(l3l2q_status status, WorkerChipQueueOp op) {
        if (status == L3L2Q_STATUS_OK) return true;
        if (status != L3L2Q_STATUS_NO_PROGRESS && status != L3L2Q_STATUS_TIMEOUT) refresh(status, op);
        return false;
    }

    /* Copies the library's record. A status the library did not record (none
     * is expected from these calls) is written from its text, so that it
     * shows in error() instead of reading as no-progress. */
    L3L2Q_COMPAT_COLD void refresh(l3l2q_status status, WorkerChipQueueOp op) {
        l3l2q_error_info info;
        if (l3l2q_l2_error(handle_, &info) == L3L2Q_STATUS_OK && info.kind != L3L2Q_ERROR_KIND_NONE) {
            l3l2q_compat_detail::from_c(info, error_);
            return;
        }
        if (error_.kind != WorkerChipQueueErrorKind::NONE) return; /* keeps the INIT record */
        error_.kind = status == L3L2Q_STATUS_BAD_ARGUMENT ? WorkerChipQueueErrorKind::BAD_ARGUMENT
                                                          : WorkerChipQueueErrorKind::ENDPOINT_ERROR;
        error_.op = op;
        error_.region_id = region_id_;
        l3l2q_compat_detail::set_message(error_, l3l2q_status_str(status));
    }

    l3l2q_l2_endpoint *handle_ = nullptr;
    uint64_t region_id_ = 0;
    WorkerChipQueueError error_;
    WorkerChipQueueLayout layout_;
    InputQueue input_;
    OutputQueue output_;
};

#endif /* L3L2Q_COMPAT_AICPU_WORKER_CHIP_MESSAGE_QUEUE_H */
