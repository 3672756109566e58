// compat_cost.cpp: the L2 64-byte path (peek, reserve, copy, publish,
// release) through the drop-in headers and through the C API directly, on
// two identical regions in one run. As a test it checks that both paths
// deliver the same bytes, sequence numbers and counters. As a measurement,
// each path is one noinline function, so callgrind's inclusive instruction
// counts compare them per message, independent of machine load:
//
//   valgrind --tool=callgrind --callgrind-out-file=cg.out ./compat_cost 20000
//   callgrind_annotate --inclusive=yes cg.out | grep compat_cost_l2_step
//
// (each function runs once per message; the ratio of the two is the layer's cost).

#include "aicpu/worker_chip_message_queue.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

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

constexpr uint64_t kDepth = 64, kArena = 64 * 128, kBytes = 64;

struct Host {
    uint8_t *payload = nullptr;
    uint8_t *counters = nullptr;
    l3l2q_l3_queue *queue = nullptr;
    uint64_t scalars[12] = {};

    Host() {
        l3l2q_layout layout;
        CHECK(l3l2q_layout_compute(kDepth, kArena, kArena, &layout, nullptr) == L3L2Q_STATUS_OK);
        payload = static_cast<uint8_t *>(std::aligned_alloc(64, layout.payload_bytes));
        counters = static_cast<uint8_t *>(std::aligned_alloc(64, L3L2Q_COUNTER_BYTES));
        std::memset(counters, 0, L3L2Q_COUNTER_BYTES);
        const l3l2q_region_descriptor region{worker_chip_orch_comm_magic_version(), 1, reinterpret_cast<uint64_t>(payload),
                                             layout.payload_bytes, reinterpret_cast<uint64_t>(counters),
                                             L3L2Q_COUNTER_BYTES};
        const l3l2q_l3_config config{kDepth, kArena, kArena, 0};
        CHECK(l3l2q_l3_queue_create_mapped(&region, &config, &queue, nullptr) == L3L2Q_STATUS_OK);
        CHECK(l3l2q_l3_task_scalars(queue, scalars, 12) == L3L2Q_STATUS_OK);
    }
    ~Host() {
        l3l2q_l3_queue_free(&queue);
        std::free(payload);
        std::free(counters);
    }
};

}  // namespace

// One L2 message through the C API: take the input, answer it with its 64
// bytes, release it.
extern "C" __attribute__((noinline)) bool compat_cost_l2_step_c(l3l2q_l2_endpoint *ep) {
    l3l2q_message in;
    if (l3l2q_l2_try_peek(ep, &in) != L3L2Q_STATUS_OK) return false;
    l3l2q_reservation out;
    if (l3l2q_l2_try_reserve(ep, in.payload_nbytes, &out) != L3L2Q_STATUS_OK) return false;
    std::memcpy(out.data, in.data, in.payload_nbytes);
    if (l3l2q_l2_publish(ep, &out, L3L2Q_OPCODE_DATA, in.payload_nbytes) != L3L2Q_STATUS_OK) return false;
    return l3l2q_l2_release(ep, &in) == L3L2Q_STATUS_OK;
}

// The same through the drop-in headers.
extern "C" __attribute__((noinline)) bool compat_cost_l2_step_compat(WorkerChipQueueEndpoint<1> *ep) {
    WorkerChipQueueInputHandle in;
    if (!ep->input().try_peek(in)) return false;
    WorkerChipQueueOutputReservation out;
    if (!ep->output().try_reserve(in.payload_nbytes, out)) return false;
    std::memcpy(reinterpret_cast<void *>(out.payload.gm_addr), reinterpret_cast<const void *>(in.payload.gm_addr),
                in.payload_nbytes);
    if (!ep->output().publish(out, WorkerChipQueueOpcode::DATA)) return false;
    return ep->input().release(in);
}

int main(int argc, char **argv) {
    uint64_t count = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
    if (std::getenv("L3L2Q_CTEST_QUICK") != nullptr && argc <= 1) count = 200;

    Host c_host, compat_host;
    l3l2q_l2_endpoint *c_ep = nullptr;
    const l3l2q_l2_config config{1, 0};
    CHECK(l3l2q_l2_endpoint_create(c_host.scalars, 12, &config, &c_ep, nullptr) == L3L2Q_STATUS_OK);
    WorkerChipOrchRegionDesc region;
    WorkerChipQueueArgs args;
    std::memcpy(&region, compat_host.scalars, sizeof region);
    std::memcpy(&args, compat_host.scalars + 6, sizeof args);
    WorkerChipQueueEndpoint<1> compat_ep(region, args);
    CHECK(compat_ep.error().kind == WorkerChipQueueErrorKind::NONE);

    uint8_t msg[kBytes], got_c[kBytes], got_compat[kBytes];
    for (uint64_t i = 0; i < count && failures == 0; ++i) {
        for (uint64_t k = 0; k < kBytes; ++k) msg[k] = static_cast<uint8_t>(i * 13 + k);
        CHECK(l3l2q_l3_try_enqueue(c_host.queue, L3L2Q_OPCODE_DATA, msg, kBytes) == L3L2Q_STATUS_OK);
        CHECK(l3l2q_l3_try_enqueue(compat_host.queue, L3L2Q_OPCODE_DATA, msg, kBytes) == L3L2Q_STATUS_OK);
        CHECK(compat_cost_l2_step_c(c_ep));
        CHECK(compat_cost_l2_step_compat(&compat_ep));
        uint64_t op_c = 0, op_compat = 0;
        size_t len_c = 0, len_compat = 0;
        CHECK(l3l2q_l3_try_dequeue_into(c_host.queue, got_c, kBytes, &op_c, &len_c) == L3L2Q_STATUS_OK);
        CHECK(l3l2q_l3_try_dequeue_into(compat_host.queue, got_compat, kBytes, &op_compat, &len_compat) == L3L2Q_STATUS_OK);
        CHECK(op_c == L3L2Q_OPCODE_DATA && op_compat == op_c && len_c == kBytes && len_compat == kBytes);
        CHECK(std::memcmp(got_c, msg, kBytes) == 0 && std::memcmp(got_compat, msg, kBytes) == 0);
    }
    // Both regions ended in the same counter state.
    CHECK(std::memcmp(c_host.counters, compat_host.counters, L3L2Q_COUNTER_BYTES) == 0);
    CHECK(l3l2q_l2_endpoint_free(&c_ep) == L3L2Q_STATUS_OK);
    if (failures != 0) {
        std::fprintf(stderr, "compat_cost: %d failures\n", failures);
        return 1;
    }
    std::printf("compat_cost: %llu messages of %llu B through each path, same results\n",
                static_cast<unsigned long long>(count), static_cast<unsigned long long>(kBytes));
    return 0;
}
