// compat_runtime.cpp: an AICPU runtime's L2 loop, written only against the
// three include paths of the other implementation (aicpu/..., common/...),
// compiled here against l3l2q's drop-in headers and run against l3l2q's own
// L3 queue on another thread. The runtime part (namespace runtime) uses no
// l3l2q name at all: switching is the include path and the link line.
//
// Scenarios: (1) requests of varied sizes and opcodes answered in order with
// a window of 4 held inputs, then STOP and drain; (2) the host aborts (its
// queue is poisoned) and the runtime, timing out, learns it through
// disambiguate_timeout() and exits. Every wait is bounded.

#include "aicpu/worker_chip_message_queue.h"
#include "aicpu/worker_chip_orch_endpoint.h"
#include "common/worker_chip_orch_comm.h"

#include <cstdint>
#include <cstdio>
#include <cstring>

// ---- the runtime: source as it compiles against the other implementation ----

namespace runtime {

constexpr uint64_t kPollNs = 2000000;  // 2 ms per blocking call
constexpr int kIdleLimit = 5000;       // about 10 s without input: give up

enum Exit { kDrained = 0, kInitFailed = 1, kQueueFailed = 2, kRemoteAborted = 3, kIdle = 4 };

struct Result {
    Exit exit;
    uint64_t handled;
    WorkerChipQueueError error;
};

// After a blocking call returned false: whether it was an ordinary timeout
// (try again) rather than a failure or the host's abort.
template <uint64_t N> bool ordinary_timeout(WorkerChipQueueEndpoint<N> &ep) {
    return ep.error().kind == WorkerChipQueueErrorKind::NONE &&
           ep.disambiguate_timeout() == WorkerChipQueueTimeoutStatus::ORDINARY_TIMEOUT;
}

// Answers each DATA request with its bytes upper-cased and each ERROR request
// with an ERROR echo, holding up to four requests at once.
Result kernel_main(const uint64_t *task_args) {
    Result result{kInitFailed, 0, {}};
    WorkerChipOrchRegionDesc region;
    WorkerChipQueueArgs args;
    std::memcpy(&region, task_args, sizeof region);
    std::memcpy(&args, task_args + 6, sizeof args);
    WorkerChipQueueLayout layout;
    if (!worker_chip_queue_validate_region(region, args, &layout) || args.magic_version != worker_chip_queue_magic_version())
        return result;

    static constexpr uint64_t kWindow = 4;
    WorkerChipQueueEndpoint<kWindow> ep(region, args);
    if (ep.error().kind != WorkerChipQueueErrorKind::NONE || ep.layout().depth != layout.depth) {
        result.error = ep.error();
        return result;
    }
    WorkerChipQueueInputHandle held[kWindow + WorkerChipQueueEndpoint<kWindow>::kStopEntrySlots];
    int idle = 0;
    bool stopping = false;
    for (;;) {
        uint64_t n = 0;
        // Take what is there, up to the window (and STOP, which does not count).
        while (n < kWindow + 1 && !stopping && ep.input().try_peek(held[n])) {
            if (held[n].opcode == WorkerChipQueueOpcode::STOP) stopping = true;
            ++n;
        }
        if (n == 0 && !stopping) {
            if (ep.input().peek(kPollNs, held[0])) {
                if (held[0].opcode == WorkerChipQueueOpcode::STOP) stopping = true;
                n = 1;
            } else if (!ordinary_timeout(ep)) {
                break;
            } else if (++idle > kIdleLimit) {
                result.exit = kIdle;
                return result;
            }
        }
        for (uint64_t i = 0; i < n; ++i) {
            const WorkerChipQueueInputHandle &in = held[i];
            if (in.opcode != WorkerChipQueueOpcode::STOP) {
                WorkerChipQueueOutputReservation out;
                while (!ep.output().reserve(in.payload_nbytes, kPollNs, out) && ordinary_timeout(ep)) {
                }
                if (!out.valid) break;
                const char *src = reinterpret_cast<const char *>(in.payload.gm_addr);
                char *dst = reinterpret_cast<char *>(out.payload.gm_addr);
                for (uint64_t k = 0; k < in.payload_nbytes; ++k)
                    dst[k] = (src[k] >= 'a' && src[k] <= 'z') ? static_cast<char>(src[k] - 'a' + 'A') : src[k];
                const WorkerChipQueueOpcode op = in.opcode == WorkerChipQueueOpcode::ERROR ? WorkerChipQueueOpcode::ERROR
                                                                                            : WorkerChipQueueOpcode::DATA;
                if (!ep.output().publish(out, op)) break;
                ++result.handled;
            }
            if (!ep.input().release(in)) break;
        }
        if (ep.error().kind != WorkerChipQueueErrorKind::NONE) break;
        if (stopping) {
            result.exit = ep.input().drained() ? kDrained : kQueueFailed;
            result.error = ep.error();
            return result;
        }
    }
    result.exit = ep.error().kind == WorkerChipQueueErrorKind::REMOTE_ABORTED ? kRemoteAborted : kQueueFailed;
    result.error = ep.error();
    return result;
}

}  // namespace runtime

// ---- the host: l3l2q's own L3 queue -------------------------------------------

#include <chrono>
#include <cstdlib>
#include <thread>

#include "l3l2q.h"

namespace {

int failures = 0;

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                                   \
        }                                                                                 \
    } while (0)

struct Host {
    uint8_t *payload = nullptr;
    uint8_t *counters = nullptr;
    l3l2q_l3_queue *queue = nullptr;
    uint64_t scalars[12] = {};

    Host(uint64_t depth, uint64_t in_arena, uint64_t out_arena) {
        l3l2q_layout layout;
        CHECK(l3l2q_layout_compute(depth, in_arena, out_arena, &layout, nullptr) == L3L2Q_STATUS_OK);
        payload = static_cast<uint8_t *>(std::aligned_alloc(64, (layout.payload_bytes + 63) / 64 * 64));
        counters = static_cast<uint8_t *>(std::aligned_alloc(64, L3L2Q_COUNTER_BYTES));
        std::memset(counters, 0, L3L2Q_COUNTER_BYTES);
        uint64_t word = 0;
        CHECK(l3l2q_magic_version_pack(L3L2Q_REGION_MAGIC, L3L2Q_REGION_ABI_MAJOR, 0, &word) == L3L2Q_STATUS_OK);
        const l3l2q_region_descriptor region{word, 0x5EED, reinterpret_cast<uint64_t>(payload), layout.payload_bytes,
                                             reinterpret_cast<uint64_t>(counters), L3L2Q_COUNTER_BYTES};
        const l3l2q_l3_config config{depth, in_arena, out_arena, 0};
        CHECK(l3l2q_l3_queue_create_mapped(&region, &config, &queue, nullptr) == L3L2Q_STATUS_OK);
        CHECK(l3l2q_l3_task_scalars(queue, scalars, 12) == L3L2Q_STATUS_OK);
    }
    ~Host() {
        l3l2q_l3_queue_free(&queue);
        std::free(payload);
        std::free(counters);
    }
};

// Request i: lower-case letters and digits, 0..199 bytes; every 7th is ERROR.
size_t request(uint64_t i, char *buf) {
    const size_t n = static_cast<size_t>((i * 37) % 200);
    for (size_t k = 0; k < n; ++k) buf[k] = k % 5 == 4 ? static_cast<char>('0' + (i + k) % 10) : static_cast<char>('a' + (i + k) % 26);
    return n;
}

void scenario_requests(uint64_t count) {
    Host host(8, 1024, 512);
    runtime::Result result{};
    std::thread l2([&] { result = runtime::kernel_main(host.scalars); });

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    uint64_t sent = 0, received = 0;
    bool stopped = false;
    char in[256], out[256], want[256];
    while (received < count && std::chrono::steady_clock::now() < deadline) {
        bool progress = false;
        if (sent < count) {
            const size_t n = request(sent, in);
            const uint64_t op = sent % 7 == 6 ? L3L2Q_OPCODE_ERROR : L3L2Q_OPCODE_DATA;
            const l3l2q_status s = l3l2q_l3_try_enqueue(host.queue, op, reinterpret_cast<const uint8_t *>(in), n);
            CHECK(s == L3L2Q_STATUS_OK || s == L3L2Q_STATUS_NO_PROGRESS);
            if (s == L3L2Q_STATUS_OK) {
                ++sent;
                progress = true;
            }
        }
        uint64_t opcode = 0;
        size_t len = 0;
        const l3l2q_status s = l3l2q_l3_try_dequeue_into(host.queue, reinterpret_cast<uint8_t *>(out), sizeof out, &opcode, &len);
        CHECK(s == L3L2Q_STATUS_OK || s == L3L2Q_STATUS_NO_PROGRESS);
        if (s == L3L2Q_STATUS_OK) {
            const size_t n = request(received, want);
            for (size_t k = 0; k < n; ++k)
                if (want[k] >= 'a' && want[k] <= 'z') want[k] = static_cast<char>(want[k] - 'a' + 'A');
            CHECK(len == n && std::memcmp(out, want, n) == 0);
            CHECK(opcode == (received % 7 == 6 ? L3L2Q_OPCODE_ERROR : L3L2Q_OPCODE_DATA));
            ++received;
            progress = true;
        }
        if (s != L3L2Q_STATUS_OK && s != L3L2Q_STATUS_NO_PROGRESS) break;
        if (!progress) std::this_thread::yield();
    }
    CHECK(received == count);
    stopped = l3l2q_l3_request_stop(host.queue, 5000000000ull) == L3L2Q_STATUS_OK;
    CHECK(stopped);
    l2.join();
    CHECK(result.exit == runtime::kDrained);
    CHECK(result.handled == count);
    CHECK(result.error.kind == WorkerChipQueueErrorKind::NONE);
    if (result.exit != runtime::kDrained)
        std::fprintf(stderr, "runtime exit %d: kind %u op %s \"%s\"\n", static_cast<int>(result.exit),
                     static_cast<unsigned>(result.error.kind), worker_chip_queue_op_to_string(result.error.op),
                     result.error.message);
}

void scenario_host_abort() {
    Host host(4, 256, 256);
    runtime::Result result{};
    std::thread l2([&] { result = runtime::kernel_main(host.scalars); });
    const char hello[] = "hello";
    CHECK(l3l2q_l3_enqueue(host.queue, L3L2Q_OPCODE_DATA, reinterpret_cast<const uint8_t *>(hello), 5, 5000000000ull) ==
          L3L2Q_STATUS_OK);
    char out[16];
    uint64_t opcode = 0;
    size_t len = 0;
    CHECK(l3l2q_l3_dequeue_into(host.queue, reinterpret_cast<uint8_t *>(out), sizeof out, &opcode, &len, 5000000000ull) ==
              L3L2Q_STATUS_OK &&
          len == 5 && std::memcmp(out, "HELLO", 5) == 0);
    // The host breaks a rule (releases a message it does not hold): its
    // queue is poisoned and raises L3's abort flag for the runtime.
    l3l2q_message bogus{};
    bogus.seq = 77;
    bogus.opcode = L3L2Q_OPCODE_DATA;
    CHECK(l3l2q_l3_release(host.queue, &bogus) == L3L2Q_STATUS_POISONED);
    l2.join();
    CHECK(result.exit == runtime::kRemoteAborted);
    CHECK(result.handled == 1);
    CHECK(result.error.kind == WorkerChipQueueErrorKind::REMOTE_ABORTED);
    CHECK(result.error.op == WorkerChipQueueOp::TIMEOUT && result.error.region_id == 0x5EED);
}

}  // namespace

int main() {
    const bool quick = std::getenv("L3L2Q_CTEST_QUICK") != nullptr;
    const uint64_t count = quick ? 200 : 1000;
    scenario_requests(count);
    scenario_host_abort();
    if (failures != 0) {
        std::fprintf(stderr, "compat_runtime: %d failures\n", failures);
        return 1;
    }
    std::printf("compat_runtime: %llu requests answered, STOP drained, host abort seen\n",
                static_cast<unsigned long long>(count));
    return 0;
}
