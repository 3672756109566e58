/* aicpu/worker_chip_orch_endpoint.h: the payload view handed out with input
 * handles and output reservations (l3l2q compatibility headers, see
 * common/worker_chip_orch_comm.h). */

#ifndef L3L2Q_COMPAT_AICPU_WORKER_CHIP_ORCH_ENDPOINT_H
#define L3L2Q_COMPAT_AICPU_WORKER_CHIP_ORCH_ENDPOINT_H

#include <cstdint>
#include <type_traits>

#include "../common/worker_chip_orch_comm.h"

/* A payload in place in this process: its address (0 when empty) and length. */
struct WorkerChipOrchPayloadView {
    uint64_t gm_addr;
    uint64_t nbytes;
};

static_assert(std::is_standard_layout<WorkerChipOrchPayloadView>::value &&
                  sizeof(WorkerChipOrchPayloadView) == 16,
              "two u64 fields");

#endif /* L3L2Q_COMPAT_AICPU_WORKER_CHIP_ORCH_ENDPOINT_H */
