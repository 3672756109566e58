/* l3l2q.hpp: header-only C++17 RAII wrapper over the l3l2q C API (l3l2q.h).
 *
 * Design rules, so it fits an L2 device task as well as an L3 host:
 *  - no exceptions: every fallible call returns a `Status`, which is
 *    [[nodiscard]]; nothing throws (compiles with -fno-exceptions);
 *  - no RTTI, no virtual functions, no heap allocation: an object holds one
 *    handle pointer, and the views returned by input()/output() hold a copy
 *    of it;
 *  - owners (`L3Queue`, `L2Endpoint`) are move-only and free their handle in
 *    the destructor; a moved-from owner is empty, frees nothing, and every
 *    call through it returns `Status::BadArgument`.
 *
 * Classes: `L3Queue` (host side), `L2Endpoint` (device side), `SharedRegion`
 * (a named POSIX shared-memory region for two processes), plus the plain
 * data types `Message`, `Reservation`, `ErrorInfo` and the `Status`,
 * `Opcode`, `ErrorKind` and `Operation` enums, each with a `to_string`.
 *
 * Threading: as in C, one handle is used by one thread at a time (it may
 * move between threads). Views do not extend the owner's lifetime: do not
 * use a view after its owner was destroyed, moved from or reset.
 *
 * Typical L2 loop:
 *
 *     l3l2q::L2Endpoint ep;
 *     if (l3l2q::L2Endpoint::create(scalars, 4, ep) != l3l2q::Status::Ok) ...
 *     for (;;) {
 *         l3l2q::Message in;
 *         l3l2q::Status s = ep.input().peek(in, timeout_ns);
 *         if (s == l3l2q::Status::Timeout) continue;
 *         if (s != l3l2q::Status::Ok) break;          // poisoned or remote abort: terminal
 *         // STOP comes out only when no later input is visible (a later
 *         // one poisons instead), so ending here loses nothing.
 *         if (in.is_stop()) { (void)ep.input().release(in); break; }
 *         l3l2q::Reservation out;
 *         if (ep.output().reserve(in.size(), timeout_ns, out) == l3l2q::Status::Ok) {
 *             std::memcpy(out.data(), in.data(), in.size());
 *             (void)ep.output().publish(out, l3l2q::Opcode::Data, in.size());
 *         }
 *         (void)ep.input().release(in);
 *     }
 */

#ifndef L3L2Q_HPP
#define L3L2Q_HPP

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "l3l2q.hpp needs C++17 or later"
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "l3l2q.h"

namespace l3l2q {

/* ------------------------------------------------------------------ */
/* Status, opcodes, error kinds                                        */
/* ------------------------------------------------------------------ */

/** Mirrors `l3l2q_status`, value for value. `Ok` is 0. */
enum class [[nodiscard]] Status : int32_t {
    Ok = L3L2Q_STATUS_OK,
    NoProgress = L3L2Q_STATUS_NO_PROGRESS,
    Timeout = L3L2Q_STATUS_TIMEOUT,
    Stopped = L3L2Q_STATUS_STOPPED,
    BadArgument = L3L2Q_STATUS_BAD_ARGUMENT,
    BufferTooSmall = L3L2Q_STATUS_BUFFER_TOO_SMALL,
    BadDescriptor = L3L2Q_STATUS_BAD_DESCRIPTOR,
    CallbackFailed = L3L2Q_STATUS_CALLBACK_FAILED,
    Inconsistent = L3L2Q_STATUS_INCONSISTENT,
    Poisoned = L3L2Q_STATUS_POISONED,
    RemoteAborted = L3L2Q_STATUS_REMOTE_ABORTED,
    Panic = L3L2Q_STATUS_PANIC,
    Exists = L3L2Q_STATUS_EXISTS,
    NotFound = L3L2Q_STATUS_NOT_FOUND,
    SystemError = L3L2Q_STATUS_SYSTEM_ERROR,
};

/** Converts a C status (any integer) to `Status`; unknown values pass through. */
constexpr Status from_c(l3l2q_status s) noexcept { return static_cast<Status>(static_cast<int32_t>(s)); }

/** Static English text of a status; never null. */
inline const char *to_string(Status s) noexcept { return l3l2q_status_str(static_cast<int32_t>(s)); }

/** True for `Status::Ok`. */
constexpr bool ok(Status s) noexcept { return s == Status::Ok; }

/** True for the terminal outcomes: the handle is unusable (poison, peer abort, panic). */
constexpr bool is_fatal(Status s) noexcept {
    return s == Status::Poisoned || s == Status::RemoteAborted || s == Status::Panic;
}

/** Descriptor opcodes (SPEC section 4). */
enum class Opcode : uint64_t {
    Invalid = L3L2Q_OPCODE_INVALID,
    Data = L3L2Q_OPCODE_DATA,
    Stop = L3L2Q_OPCODE_STOP,
    Error = L3L2Q_OPCODE_ERROR,
};

inline const char *to_string(Opcode op) noexcept {
    switch (op) {
    case Opcode::Invalid: return "INVALID";
    case Opcode::Data: return "DATA";
    case Opcode::Stop: return "STOP";
    case Opcode::Error: return "ERROR";
    }
    return "unknown opcode";
}

/** Mirrors `l3l2q_error_kind` (SPEC section 9). */
enum class ErrorKind : uint32_t {
    None = L3L2Q_ERROR_KIND_NONE,
    BadArgument = L3L2Q_ERROR_KIND_BAD_ARGUMENT,
    BadDescriptor = L3L2Q_ERROR_KIND_BAD_DESCRIPTOR,
    InvalidDescriptor = L3L2Q_ERROR_KIND_INVALID_DESCRIPTOR,
    OutOfSpace = L3L2Q_ERROR_KIND_OUT_OF_SPACE,
    Ownership = L3L2Q_ERROR_KIND_OWNERSHIP,
    RemoteAborted = L3L2Q_ERROR_KIND_REMOTE_ABORTED,
    EndpointError = L3L2Q_ERROR_KIND_ENDPOINT_ERROR,
};

inline const char *to_string(ErrorKind k) noexcept { return l3l2q_error_kind_str(static_cast<uint32_t>(k)); }

/** Mirrors `l3l2q_operation`. */
enum class Operation : uint32_t {
    Unknown = L3L2Q_OPERATION_UNKNOWN,
    Create = L3L2Q_OPERATION_CREATE,
    Peek = L3L2Q_OPERATION_PEEK,
    Release = L3L2Q_OPERATION_RELEASE,
    Reserve = L3L2Q_OPERATION_RESERVE,
    Publish = L3L2Q_OPERATION_PUBLISH,
    Enqueue = L3L2Q_OPERATION_ENQUEUE,
    RequestStop = L3L2Q_OPERATION_REQUEST_STOP,
    ReadInto = L3L2Q_OPERATION_READ_INTO,
    Timeout = L3L2Q_OPERATION_TIMEOUT,
};

/** Static text of an operation ("peek", "timeout", ...); never null. */
inline const char *to_string(Operation op) noexcept { return l3l2q_operation_str(static_cast<uint32_t>(op)); }

/** Static text naming a descriptor/layout rule; never null. */
inline const char *to_string(l3l2q_violation v) noexcept { return l3l2q_violation_str(static_cast<uint32_t>(v)); }

/* ------------------------------------------------------------------ */
/* Plain data: error record, message, reservation                      */
/* ------------------------------------------------------------------ */

/** A copy of an endpoint's error record (kind `None` while healthy). */
class ErrorInfo {
public:
    ErrorInfo() noexcept : raw_() {}
    explicit ErrorInfo(const l3l2q_error_info &raw) noexcept : raw_(raw) {
        raw_.message[L3L2Q_ERROR_MESSAGE_BYTES - 1] = 0; /* always terminated */
    }
    ErrorKind kind() const noexcept { return static_cast<ErrorKind>(raw_.kind); }
    Operation operation() const noexcept { return static_cast<Operation>(raw_.operation); }
    uint64_t region_id() const noexcept { return raw_.region_id; }
    /** NUL-terminated UTF-8 text; empty while healthy. Valid as long as this object. */
    const char *message() const noexcept { return reinterpret_cast<const char *>(raw_.message); }
    /** True when an error is recorded. */
    explicit operator bool() const noexcept { return raw_.kind != L3L2Q_ERROR_KIND_NONE; }
    const l3l2q_error_info &raw() const noexcept { return raw_; }

private:
    l3l2q_error_info raw_;
};

/** An acquired message: names it, does not own it. Pass it back unaltered
 *  to release it; its payload (`data()`) is valid until then. */
class Message {
public:
    Message() noexcept : raw_() {}
    explicit Message(const l3l2q_message &raw) noexcept : raw_(raw) {}
    uint64_t seq() const noexcept { return raw_.seq; }
    Opcode opcode() const noexcept { return static_cast<Opcode>(raw_.opcode); }
    bool is_data() const noexcept { return raw_.opcode == L3L2Q_OPCODE_DATA; }
    bool is_error() const noexcept { return raw_.opcode == L3L2Q_OPCODE_ERROR; }
    bool is_stop() const noexcept { return raw_.opcode == L3L2Q_OPCODE_STOP; }
    /** Payload in place; null when empty (or for a callback region). */
    const uint8_t *data() const noexcept { return raw_.data; }
    size_t size() const noexcept { return static_cast<size_t>(raw_.payload_nbytes); }
    bool empty() const noexcept { return raw_.payload_nbytes == 0; }
    uint64_t payload_offset() const noexcept { return raw_.payload_offset; }
    const l3l2q_message &raw() const noexcept { return raw_; }
    l3l2q_message &raw() noexcept { return raw_; }

private:
    l3l2q_message raw_;
};

/** Space reserved in an arena: fill `data()[0..capacity())`, then publish. */
class Reservation {
public:
    Reservation() noexcept : raw_() {}
    explicit Reservation(const l3l2q_reservation &raw) noexcept : raw_(raw) {}
    /** Where to write in place; null when capacity is 0 (or a callback region). */
    uint8_t *data() const noexcept { return raw_.data; }
    size_t capacity() const noexcept { return static_cast<size_t>(raw_.capacity); }
    uint64_t payload_offset() const noexcept { return raw_.payload_offset; }
    uint64_t token() const noexcept { return raw_.token; }
    /** The transport seq the message will be published with (message number + 1). */
    uint64_t seq() const noexcept { return raw_.seq; }
    const l3l2q_reservation &raw() const noexcept { return raw_; }
    l3l2q_reservation &raw() noexcept { return raw_; }

private:
    l3l2q_reservation raw_;
};

static_assert(sizeof(Message) == sizeof(l3l2q_message), "Message is an l3l2q_message");
static_assert(sizeof(Reservation) == sizeof(l3l2q_reservation), "Reservation is an l3l2q_reservation");

/** One payload of a batch send: `{data, len}`; `data` may be null when `len` is 0. */
using ByteSlice = l3l2q_byte_slice;

namespace detail {
/* Message is standard-layout with an l3l2q_message as its only member, so
 * an array of Message is an array of l3l2q_message. */
inline l3l2q_message *raw(Message *m) noexcept { return m == nullptr ? nullptr : &m->raw(); }
inline const l3l2q_message *raw(const Message *m) noexcept { return m == nullptr ? nullptr : &m->raw(); }
} // namespace detail

/** Library and wire ABI versions of the loaded library. */
inline Status version(l3l2q_version_info &out) noexcept { return from_c(l3l2q_version(&out)); }

/* ------------------------------------------------------------------ */
/* L3 queue (host side)                                                */
/* ------------------------------------------------------------------ */

/** Owning, move-only L3 queue. */
class L3Queue {
public:
    /** Input side (L3 -> L2): a non-owning view. */
    class Input {
    public:
        /** Copies `nbytes` and publishes them as `op` (DATA or ERROR) without waiting. */
        Status try_enqueue(Opcode op, const void *buf, size_t nbytes) noexcept {
            return from_c(l3l2q_l3_try_enqueue(h_, static_cast<uint64_t>(op), static_cast<const uint8_t *>(buf), nbytes));
        }
        /** As above, as DATA. */
        Status try_enqueue(const void *buf, size_t nbytes) noexcept { return try_enqueue(Opcode::Data, buf, nbytes); }
        /** Waits up to `timeout_ns` for space (0: one attempt). */
        Status enqueue(Opcode op, const void *buf, size_t nbytes, uint64_t timeout_ns) noexcept {
            return from_c(l3l2q_l3_enqueue(h_, static_cast<uint64_t>(op), static_cast<const uint8_t *>(buf), nbytes, timeout_ns));
        }
        Status enqueue(const void *buf, size_t nbytes, uint64_t timeout_ns) noexcept {
            return enqueue(Opcode::Data, buf, nbytes, timeout_ns);
        }
        /** Publishes STOP without waiting; later enqueues return `Stopped`. */
        Status try_request_stop() noexcept { return from_c(l3l2q_l3_try_request_stop(h_)); }
        /** Publishes STOP, waiting up to `timeout_ns` for ring space. Does not
         *  wait for L2 to drain or exit. */
        Status request_stop(uint64_t timeout_ns) noexcept { return from_c(l3l2q_l3_request_stop(h_, timeout_ns)); }
        /** Zero-copy: reserves `nbytes` of input arena. A reservation that
         *  wrapped to the arena start but is committed with bytes that fit
         *  before the wrap is published there (the commit moves the bytes). */
        Status try_reserve(size_t nbytes, Reservation &out) noexcept {
            return from_c(l3l2q_l3_try_reserve(h_, nbytes, &out.raw()));
        }
        /** Copies `len` bytes into the active reservation at byte `at` (for callback regions). */
        Status write_reserved(const Reservation &r, uint64_t at, const void *src, size_t len) noexcept {
            return from_c(l3l2q_l3_write_reserved(h_, &r.raw(), at, static_cast<const uint8_t *>(src), len));
        }
        /** Publishes the active reservation with `nbytes <= capacity`. */
        Status commit(const Reservation &r, Opcode op, size_t nbytes) noexcept {
            return from_c(l3l2q_l3_commit(h_, &r.raw(), static_cast<uint64_t>(op), nbytes));
        }
        /** As commit, without the tail store: visible to L2 at the next flush(). */
        Status commit_deferred(const Reservation &r, Opcode op, size_t nbytes) noexcept {
            return from_c(l3l2q_l3_commit_deferred(h_, &r.raw(), static_cast<uint64_t>(op), nbytes));
        }
        /** Publishes every deferred commit with one tail store. */
        Status flush() noexcept { return from_c(l3l2q_l3_flush(h_)); }
        /** Copies and publishes a prefix of `payloads` with one tail store;
         *  `sent` gets how many (fewer when the ring or arena fills). */
        Status try_enqueue_batch(Opcode op, const ByteSlice *payloads, size_t count, size_t &sent) noexcept {
            return from_c(l3l2q_l3_try_enqueue_batch(h_, static_cast<uint64_t>(op), payloads, count, &sent));
        }

    private:
        friend class L3Queue;
        explicit Input(l3l2q_l3_queue *h) noexcept : h_(h) {}
        l3l2q_l3_queue *h_;
    };

    /** Output side (L2 -> L3): a non-owning view. */
    class Output {
    public:
        /** The active output message; the same one until it is released. */
        Status try_peek(Message &out) noexcept { return from_c(l3l2q_l3_try_peek(h_, &out.raw())); }
        Status peek(Message &out, uint64_t timeout_ns) noexcept { return from_c(l3l2q_l3_peek(h_, &out.raw(), timeout_ns)); }
        /** Copies the active message's payload into `dst`; `len` gets its size.
         *  `BufferTooSmall` changes nothing. */
        Status read_into(const Message &m, void *dst, size_t capacity, size_t &len) noexcept {
            return from_c(l3l2q_l3_read_into(h_, &m.raw(), static_cast<uint8_t *>(dst), capacity, &len));
        }
        /** Releases the active message; anything else poisons (OWNERSHIP). */
        Status release(const Message &m) noexcept { return from_c(l3l2q_l3_release(h_, &m.raw())); }
        /** Writes up to `capacity` held outputs, oldest first, acquiring more
         *  as available; `count` gets how many. Repeatable until released. */
        Status try_peek_batch(Message *out, size_t capacity, size_t &count) noexcept {
            return from_c(l3l2q_l3_try_peek_batch(h_, detail::raw(out), capacity, &count));
        }
        template <size_t N> Status try_peek_batch(Message (&out)[N], size_t &count) noexcept {
            return try_peek_batch(out, N, count);
        }
        /** Releases the oldest `count` held outputs, in order. */
        Status release_batch(const Message *messages, size_t count) noexcept {
            return from_c(l3l2q_l3_release_batch(h_, detail::raw(messages), count));
        }
        /** Peek + copy + release in one call. */
        Status try_dequeue_into(void *dst, size_t capacity, Opcode &op, size_t &len) noexcept {
            uint64_t raw_op = 0;
            const Status s = from_c(l3l2q_l3_try_dequeue_into(h_, static_cast<uint8_t *>(dst), capacity, &raw_op, &len));
            if (s == Status::Ok) op = static_cast<Opcode>(raw_op);
            return s;
        }
        Status dequeue_into(void *dst, size_t capacity, Opcode &op, size_t &len, uint64_t timeout_ns) noexcept {
            uint64_t raw_op = 0;
            const Status s = from_c(l3l2q_l3_dequeue_into(h_, static_cast<uint8_t *>(dst), capacity, &raw_op, &len, timeout_ns));
            if (s == Status::Ok) op = static_cast<Opcode>(raw_op);
            return s;
        }

    private:
        friend class L3Queue;
        explicit Output(l3l2q_l3_queue *h) noexcept : h_(h) {}
        l3l2q_l3_queue *h_;
    };

    /** An empty queue (owns nothing). */
    L3Queue() noexcept = default;
    /** Adopts a handle from the C API (takes ownership). */
    explicit L3Queue(l3l2q_l3_queue *adopt) noexcept : h_(adopt) {}
    ~L3Queue() { reset(); }
    L3Queue(const L3Queue &) = delete;
    L3Queue &operator=(const L3Queue &) = delete;
    L3Queue(L3Queue &&other) noexcept : h_(other.h_) { other.h_ = nullptr; }
    L3Queue &operator=(L3Queue &&other) noexcept {
        if (this != &other) {
            reset();
            h_ = other.h_;
            other.h_ = nullptr;
        }
        return *this;
    }

    /** Creates a queue over memory mapped in this process; replaces (frees)
     *  what `out` held only on success. `violation` (optional) names the
     *  broken rule on `BadDescriptor`. */
    static Status create_mapped(const l3l2q_region_descriptor &region, const l3l2q_l3_config &config, L3Queue &out,
                                l3l2q_violation *violation = nullptr) noexcept {
        l3l2q_l3_queue *h = nullptr;
        const Status s = from_c(l3l2q_l3_queue_create_mapped(&region, &config, &h, violation));
        if (s == Status::Ok) out = L3Queue(h);
        return s;
    }
    /** Creates a queue over a region reached through copy callbacks. */
    static Status create_callbacks(const l3l2q_region_descriptor &region, const l3l2q_region_callbacks &callbacks,
                                   const l3l2q_l3_config &config, L3Queue &out,
                                   l3l2q_violation *violation = nullptr) noexcept {
        l3l2q_l3_queue *h = nullptr;
        const Status s = from_c(l3l2q_l3_queue_create_callbacks(&region, &callbacks, &config, &h, violation));
        if (s == Status::Ok) out = L3Queue(h);
        return s;
    }

    Input input() noexcept { return Input(h_); }
    Output output() noexcept { return Output(h_); }

    /** The twelve L2 task scalars (descriptor, then queue args). They carry
     *  this process's addresses: a peer in another process must replace
     *  scalar 2 (payload_base) and 4 (counter_base) with its own. */
    Status task_scalars(uint64_t (&out)[L3L2Q_TASK_SCALARS]) const noexcept {
        return from_c(l3l2q_l3_task_scalars(h_, out, L3L2Q_TASK_SCALARS));
    }
    Status layout(l3l2q_layout &out) const noexcept { return from_c(l3l2q_l3_layout(h_, &out)); }
    /** The remote-abort query: `aborted` gets whether L2 set its abort flag.
     *  Never writes shared memory; when the flag is set the abort is recorded
     *  (terminal: every later call returns `RemoteAborted`). */
    Status remote_aborted(bool &aborted) noexcept { return from_c(l3l2q_l3_remote_aborted(h_, &aborted)); }
    /** The error record (kind `None` while healthy or when empty). */
    ErrorInfo error() const noexcept {
        l3l2q_error_info raw{};
        if (from_c(l3l2q_l3_error(h_, &raw)) != Status::Ok) return ErrorInfo();
        return ErrorInfo(raw);
    }

    bool valid() const noexcept { return h_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    l3l2q_l3_queue *get() const noexcept { return h_; }
    /** Gives up ownership without freeing. */
    l3l2q_l3_queue *detach() noexcept {
        l3l2q_l3_queue *h = h_;
        h_ = nullptr;
        return h;
    }
    /** Frees the handle now (no STOP is published); safe when empty. */
    void reset() noexcept {
        if (h_ != nullptr) (void)l3l2q_l3_queue_free(&h_); /* sets h_ to NULL */
    }

private:
    l3l2q_l3_queue *h_ = nullptr;
};

/* ------------------------------------------------------------------ */
/* L2 endpoint (device side)                                           */
/* ------------------------------------------------------------------ */

/** Owning, move-only L2 endpoint. Nothing here allocates after create(). */
class L2Endpoint {
public:
    /** Input side (L3 -> L2): a non-owning view. */
    class Input {
    public:
        /** Acquires the next input without waiting. `NoProgress`: nothing
         *  published, window full, or STOP already acquired. */
        Status try_peek(Message &out) noexcept { return from_c(l3l2q_l2_try_peek(h_, &out.raw())); }
        /** As try_peek, spinning up to `timeout_ns`; `RemoteAborted` when it
         *  timed out with the L3 abort flag set. */
        Status peek(Message &out, uint64_t timeout_ns) noexcept { return from_c(l3l2q_l2_peek(h_, &out.raw(), timeout_ns)); }
        /** Marks a held input complete (any order); the shared head advances
         *  over the completed prefix. STOP must be released too. */
        Status release(const Message &m) noexcept { return from_c(l3l2q_l2_release(h_, &m.raw())); }
        /** Acquires up to `capacity` inputs in order (bounded by the window;
         *  STOP, if reached, is the last); `count` gets how many. */
        Status try_peek_batch(Message *out, size_t capacity, size_t &count) noexcept {
            return from_c(l3l2q_l2_try_peek_batch(h_, detail::raw(out), capacity, &count));
        }
        template <size_t N> Status try_peek_batch(Message (&out)[N], size_t &count) noexcept {
            return try_peek_batch(out, N, count);
        }
        /** Marks every message complete, then advances the head once. */
        Status release_batch(const Message *messages, size_t count) noexcept {
            return from_c(l3l2q_l2_release_batch(h_, detail::raw(messages), count));
        }
        /** Takes up to `max` inputs, calls `visit(const Message &)` for each
         *  in order with its payload in place, then releases them all with
         *  one head store; `count` gets how many. STOP ends the batch (it is
         *  visited and released too). `visit` must not throw: the callback
         *  runs inside the library, and an exception may not cross it, so a
         *  throwing visitor ends the program (std::terminate). */
        template <class Visit> Status try_consume(size_t max, Visit &&visit, size_t &count) noexcept {
            using V = typename std::remove_reference<Visit>::type;
            auto call = [](void *ctx, const l3l2q_message *m) noexcept { (*static_cast<V *>(ctx))(Message(*m)); };
            return from_c(l3l2q_l2_try_consume(h_, max, call, const_cast<void *>(static_cast<const void *>(&visit)), &count));
        }
        /** True once STOP was acquired and physically released (after every
         *  earlier input). False for an empty endpoint. */
        bool drained() const noexcept {
            bool out = false;
            return l3l2q_l2_drained(h_, &out) == L3L2Q_STATUS_OK && out;
        }

    private:
        friend class L2Endpoint;
        explicit Input(l3l2q_l2_endpoint *h) noexcept : h_(h) {}
        l3l2q_l2_endpoint *h_;
    };

    /** Output side (L2 -> L3): a non-owning view. */
    class Output {
    public:
        /** Reserves `nbytes` without waiting; at most one active reservation.
         *  More bytes than the arena is `NoProgress`. */
        Status try_reserve(size_t nbytes, Reservation &out) noexcept {
            return from_c(l3l2q_l2_try_reserve(h_, nbytes, &out.raw()));
        }
        Status reserve(size_t nbytes, uint64_t timeout_ns, Reservation &out) noexcept {
            return from_c(l3l2q_l2_reserve(h_, nbytes, &out.raw(), timeout_ns));
        }
        /** Publishes the active reservation as `nbytes <= capacity` bytes with
         *  `op` DATA or ERROR (STOP/INVALID poison). */
        Status publish(const Reservation &r, Opcode op, size_t nbytes) noexcept {
            return from_c(l3l2q_l2_publish(h_, &r.raw(), static_cast<uint64_t>(op), nbytes));
        }
        /** As publish, without the tail store: visible to L3 at the next flush()
         *  (or publish/send; a reserve that finds no room flushes itself). */
        Status publish_deferred(const Reservation &r, Opcode op, size_t nbytes) noexcept {
            return from_c(l3l2q_l2_publish_deferred(h_, &r.raw(), static_cast<uint64_t>(op), nbytes));
        }
        /** Makes every deferred publish visible with one tail store. */
        Status flush() noexcept { return from_c(l3l2q_l2_flush(h_)); }
        /** Copies and publishes a prefix of `payloads` with one tail store;
         *  `sent` gets how many. */
        Status try_send_batch(Opcode op, const ByteSlice *payloads, size_t count, size_t &sent) noexcept {
            return from_c(l3l2q_l2_try_send_batch(h_, static_cast<uint64_t>(op), payloads, count, &sent));
        }
        /** Convenience: reserve (waiting up to `timeout_ns`), copy, publish. */
        Status send(Opcode op, const void *buf, size_t nbytes, uint64_t timeout_ns) noexcept {
            Reservation r;
            const Status s = reserve(nbytes, timeout_ns, r);
            if (s != Status::Ok) return s;
            if (nbytes != 0) {
                if (r.data() == nullptr) return Status::BadArgument; /* unreachable for mapped regions */
                std::memcpy(r.data(), buf, nbytes);
            }
            return publish(r, op, nbytes);
        }

    private:
        friend class L2Endpoint;
        explicit Output(l3l2q_l2_endpoint *h) noexcept : h_(h) {}
        l3l2q_l2_endpoint *h_;
    };

    L2Endpoint() noexcept = default;
    explicit L2Endpoint(l3l2q_l2_endpoint *adopt) noexcept : h_(adopt) {}
    ~L2Endpoint() { reset(); }
    L2Endpoint(const L2Endpoint &) = delete;
    L2Endpoint &operator=(const L2Endpoint &) = delete;
    L2Endpoint(L2Endpoint &&other) noexcept : h_(other.h_) { other.h_ = nullptr; }
    L2Endpoint &operator=(L2Endpoint &&other) noexcept {
        if (this != &other) {
            reset();
            h_ = other.h_;
            other.h_ = nullptr;
        }
        return *this;
    }

    /** Creates an endpoint from the twelve task scalars, whose addresses
     *  (scalars 2 and 4) must be this process's. Replaces `out` on success. */
    static Status create(const uint64_t *scalars, size_t count, const l3l2q_l2_config &config, L2Endpoint &out,
                         l3l2q_violation *violation = nullptr) noexcept {
        l3l2q_l2_endpoint *h = nullptr;
        const Status s = from_c(l3l2q_l2_endpoint_create(scalars, count, &config, &h, violation));
        if (s == Status::Ok) out = L2Endpoint(h);
        return s;
    }
    /** As above with a window of `max_inflight` (1..=depth) and counters from 0. */
    static Status create(const uint64_t (&scalars)[L3L2Q_TASK_SCALARS], uint64_t max_inflight, L2Endpoint &out,
                         l3l2q_violation *violation = nullptr) noexcept {
        l3l2q_l2_config config{};
        config.max_inflight = max_inflight;
        config.initial_count = 0;
        return create(scalars, L3L2Q_TASK_SCALARS, config, out, violation);
    }

    Input input() noexcept { return Input(h_); }
    Output output() noexcept { return Output(h_); }
    /** Shorthand for input().drained(). */
    bool drained() const noexcept { return Input(h_).drained(); }

    Status layout(l3l2q_layout &out) const noexcept { return from_c(l3l2q_l2_layout(h_, &out)); }
    /** The remote-abort query: `aborted` gets whether L3 set its abort flag.
     *  Never writes shared memory; when the flag is set the abort is recorded
     *  (terminal: every later call returns `RemoteAborted`). */
    Status remote_aborted(bool &aborted) noexcept { return from_c(l3l2q_l2_remote_aborted(h_, &aborted)); }
    ErrorInfo error() const noexcept {
        l3l2q_error_info raw{};
        if (from_c(l3l2q_l2_error(h_, &raw)) != Status::Ok) return ErrorInfo();
        return ErrorInfo(raw);
    }

    bool valid() const noexcept { return h_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    l3l2q_l2_endpoint *get() const noexcept { return h_; }
    l3l2q_l2_endpoint *detach() noexcept {
        l3l2q_l2_endpoint *h = h_;
        h_ = nullptr;
        return h;
    }
    /** Frees the endpoint now (held inputs and reservations are abandoned). */
    void reset() noexcept {
        if (h_ != nullptr) (void)l3l2q_l2_endpoint_free(&h_);
    }

private:
    l3l2q_l2_endpoint *h_ = nullptr;
};

/* ------------------------------------------------------------------ */
/* Shared-memory region (POSIX shm, two processes)                     */
/* ------------------------------------------------------------------ */

/** Owning, move-only mapping of a named shared-memory region
 *  (`l3l2q_shm_*`). The creator's handle unlinks the name when freed. A
 *  queue or endpoint built over it must be freed first: declare the region
 *  before them so it is destroyed after them. */
class SharedRegion {
public:
    SharedRegion() noexcept = default;
    explicit SharedRegion(l3l2q_shm *adopt) noexcept : h_(adopt) {}
    ~SharedRegion() { reset(); }
    SharedRegion(const SharedRegion &) = delete;
    SharedRegion &operator=(const SharedRegion &) = delete;
    SharedRegion(SharedRegion &&other) noexcept : h_(other.h_) { other.h_ = nullptr; }
    SharedRegion &operator=(SharedRegion &&other) noexcept {
        if (this != &other) {
            reset();
            h_ = other.h_;
            other.h_ = nullptr;
        }
        return *this;
    }

    /** Creates the object `name` ("/" then 1..254 bytes without "/") sized for
     *  `config` and maps it. `err` (optional) gets errno on `SystemError`. */
    static Status create(const char *name, const l3l2q_shm_config &config, SharedRegion &out,
                         l3l2q_violation *violation = nullptr, int32_t *err = nullptr) noexcept {
        l3l2q_shm *h = nullptr;
        const Status s = from_c(l3l2q_shm_create(name, &config, &h, violation, err));
        if (s == Status::Ok) out = SharedRegion(h);
        return s;
    }
    /** Maps an object another process created. `NoProgress`: its header is
     *  not written yet (retry); `NotFound`: no such name. */
    static Status open(const char *name, SharedRegion &out, int32_t *err = nullptr) noexcept {
        l3l2q_shm *h = nullptr;
        const Status s = from_c(l3l2q_shm_open(name, &h, err));
        if (s == Status::Ok) out = SharedRegion(h);
        return s;
    }
    /** Removes a stale name unconditionally. */
    static Status unlink(const char *name, int32_t *err = nullptr) noexcept { return from_c(l3l2q_shm_unlink(name, err)); }

    /** The descriptor of THIS process's mapping (and, optionally, the queue
     *  arguments recorded in the object). Valid in this process only. */
    Status descriptor(l3l2q_region_descriptor &out, l3l2q_queue_args *args = nullptr) const noexcept {
        return from_c(l3l2q_shm_descriptor(h_, &out, args));
    }
    /** Turns task scalars made by another process (its addresses) into
     *  scalars for this one: checks the rest match the object, then replaces
     *  scalar 2 (payload_base) and 4 (counter_base). Untouched on failure. */
    Status rebase_task_scalars(uint64_t (&scalars)[L3L2Q_TASK_SCALARS]) const noexcept {
        return from_c(l3l2q_shm_rebase_task_scalars(h_, scalars, L3L2Q_TASK_SCALARS));
    }

    bool valid() const noexcept { return h_ != nullptr; }
    explicit operator bool() const noexcept { return valid(); }
    l3l2q_shm *get() const noexcept { return h_; }
    l3l2q_shm *detach() noexcept {
        l3l2q_shm *h = h_;
        h_ = nullptr;
        return h;
    }
    /** Unmaps now (and unlinks, for the creator). */
    void reset() noexcept {
        if (h_ != nullptr) (void)l3l2q_shm_free(&h_);
    }

private:
    l3l2q_shm *h_ = nullptr;
};

} // namespace l3l2q

#endif /* L3L2Q_HPP */
