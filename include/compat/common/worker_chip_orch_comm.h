/* common/worker_chip_orch_comm.h: the region descriptor (SPEC 1) under the
 * names existing AICPU runtimes compile against, over l3l2q's C API.
 *
 * Part of l3l2q's drop-in compatibility headers (include/compat/): a runtime
 * written against the other implementation of this format switches to l3l2q
 * by putting this directory (and l3l2q.h's) on its include path and linking
 * libl3l2q. Header-only C++17; no exceptions, RTTI or heap. */

#ifndef L3L2Q_COMPAT_COMMON_WORKER_CHIP_ORCH_COMM_H
#define L3L2Q_COMPAT_COMMON_WORKER_CHIP_ORCH_COMM_H

#if !defined(__cplusplus) || __cplusplus < 201703L
#error "the l3l2q compatibility headers need C++17 or later"
#endif

#include <cstdint>
#include <type_traits>

#include "l3l2q.h"

static constexpr uint32_t WORKER_CHIP_ORCH_COMM_MAGIC = L3L2Q_REGION_MAGIC;
/* The other implementation writes region ABI 3.0; l3l2q accepts 2 and 3
 * (identical layout, SPEC 1), so descriptors built with these names validate. */
static constexpr uint16_t WORKER_CHIP_ORCH_COMM_ABI_MAJOR = L3L2Q_REGION_ABI_MAJOR_COMPAT;
static constexpr uint16_t WORKER_CHIP_ORCH_COMM_ABI_MINOR = 0;

static_assert(WORKER_CHIP_ORCH_COMM_MAGIC == 0x4C334C32u, "region magic is \"L3L2\"");
static_assert(WORKER_CHIP_ORCH_COMM_ABI_MAJOR == 3, "the names' region ABI major is 3");

/* constexpr because runtimes use it in constant expressions, which no C call
 * can be; worker_chip_orch_comm_magic_version() packs through the library. */
constexpr uint64_t worker_chip_orch_comm_pack_magic_version(uint32_t magic, uint16_t major,
                                                           uint16_t minor) {
    return (static_cast<uint64_t>(magic) << 32) | (static_cast<uint64_t>(major) << 16) |
           static_cast<uint64_t>(minor);
}

static inline uint64_t worker_chip_orch_comm_magic_version() {
    uint64_t word = 0;
    /* Cannot fail: the out-pointer is valid. */
    (void)l3l2q_magic_version_pack(WORKER_CHIP_ORCH_COMM_MAGIC, WORKER_CHIP_ORCH_COMM_ABI_MAJOR,
                                   WORKER_CHIP_ORCH_COMM_ABI_MINOR, &word);
    return word;
}

/* SPEC 1, field for field the same as l3l2q_region_descriptor. */
struct WorkerChipOrchRegionDesc {
    uint64_t magic_version;
    uint64_t region_id;
    uint64_t payload_base;
    uint64_t payload_bytes;
    uint64_t counter_base;
    uint64_t counter_bytes;
};

static_assert(std::is_standard_layout<WorkerChipOrchRegionDesc>::value &&
                  sizeof(WorkerChipOrchRegionDesc) == sizeof(l3l2q_region_descriptor),
              "six u64 fields, as SPEC 1");

#endif /* L3L2Q_COMPAT_COMMON_WORKER_CHIP_ORCH_COMM_H */
