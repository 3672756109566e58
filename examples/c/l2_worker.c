/* l2_worker.c: an L2 worker loop in C, run as its own process.
 *
 *   usage: l2_worker SHM_NAME S0 S1 ... S11
 *
 * The L3 host (l3_host.c, l3_host.py) creates the shared-memory region
 * SHM_NAME with l3l2q_shm_create and passes the twelve L2 task scalars
 * (region descriptor, then queue arguments) on the command line, the way a
 * device task is started with its scalars. The worker answers every DATA or
 * ERROR input with one output of the same opcode and length whose ASCII
 * letters are upper-cased, and exits 0 once STOP is drained.
 *
 * Build:  cc -std=c11 -Iinclude examples/c/l2_worker.c -o l2_worker \
 *            $(pkg-config --cflags --libs l3l2q)      (see docs/PACKAGING.md)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nanosleep under -std=c11 */
#endif
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "l3l2q.h"

#define WAIT_NS 100000000ull /* 100 ms per peek */
#define IDLE_LIMIT 100       /* give up after 10 s without input */

int main(int argc, char **argv) {
    if (argc != 2 + L3L2Q_TASK_SCALARS) {
        fprintf(stderr, "usage: %s SHM_NAME S0 .. S11\n", argv[0]);
        return 2;
    }
    uint64_t scalars[L3L2Q_TASK_SCALARS];
    for (int i = 0; i < L3L2Q_TASK_SCALARS; i++) scalars[i] = strtoull(argv[2 + i], NULL, 0);

    /* Map the region the host created (retrying while its header is being written). */
    l3l2q_shm *shm = NULL;
    int32_t err = 0;
    l3l2q_status s;
    for (int tries = 0; (s = l3l2q_shm_open(argv[1], &shm, &err)) == L3L2Q_STATUS_NO_PROGRESS && tries < 1000; tries++) {
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    }
    if (s != L3L2Q_STATUS_OK) {
        fprintf(stderr, "l2_worker: open %s: %s (errno %d)\n", argv[1], l3l2q_status_str(s), (int)err);
        return 2;
    }

    /* The scalars carry the HOST's addresses: its mapping sits elsewhere in
     * its own address space. Addresses are per process, so replace scalar 2
     * (payload_base) and 4 (counter_base) with where the same bytes are
     * mapped here; the library checks that every other scalar (magic,
     * region id, sizes, queue arguments) matches the object first. */
    s = l3l2q_shm_rebase_task_scalars(shm, scalars, L3L2Q_TASK_SCALARS);
    if (s != L3L2Q_STATUS_OK) {
        fprintf(stderr, "l2_worker: the scalars do not describe %s: %s\n", argv[1], l3l2q_status_str(s));
        l3l2q_shm_free(&shm);
        return 2;
    }

    l3l2q_l2_config config = {.max_inflight = 1, .initial_count = 0};
    l3l2q_l2_endpoint *ep = NULL;
    l3l2q_violation violation = L3L2Q_VIOLATION_VALID;
    s = l3l2q_l2_endpoint_create(scalars, L3L2Q_TASK_SCALARS, &config, &ep, &violation);
    if (s != L3L2Q_STATUS_OK) {
        fprintf(stderr, "l2_worker: create: %s (%s)\n", l3l2q_status_str(s), l3l2q_violation_str(violation));
        l3l2q_shm_free(&shm);
        return 2;
    }

    int rc = 1, idle = 0;
    uint64_t handled = 0;
    for (;;) {
        l3l2q_message in;
        s = l3l2q_l2_peek(ep, &in, WAIT_NS);
        if (s == L3L2Q_STATUS_TIMEOUT && ++idle < IDLE_LIMIT) continue;
        if (s != L3L2Q_STATUS_OK) break; /* idle too long, poisoned or host aborted */
        idle = 0;
        if (in.opcode == L3L2Q_OPCODE_STOP) {
            s = l3l2q_l2_release(ep, &in); /* STOP must be released too */
            bool drained = false;
            if (s == L3L2Q_STATUS_OK && l3l2q_l2_drained(ep, &drained) == L3L2Q_STATUS_OK && drained) rc = 0;
            break;
        }
        /* Reply: same opcode and length, letters upper-cased, written in place. */
        l3l2q_reservation out;
        s = l3l2q_l2_reserve(ep, in.payload_nbytes, &out, 5 * 1000000000ull);
        if (s != L3L2Q_STATUS_OK) break;
        for (uint64_t i = 0; i < in.payload_nbytes; i++) {
            uint8_t c = in.data[i];
            out.data[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
        }
        if (l3l2q_l2_publish(ep, &out, in.opcode, in.payload_nbytes) != L3L2Q_STATUS_OK) break;
        if (l3l2q_l2_release(ep, &in) != L3L2Q_STATUS_OK) break;
        handled++;
    }

    if (rc != 0) {
        l3l2q_error_info e;
        l3l2q_l2_error(ep, &e);
        fprintf(stderr, "l2_worker: stopped on %s; error %s: %s\n", l3l2q_status_str(s),
                l3l2q_error_kind_str(e.kind), (const char *)e.message);
    } else {
        fprintf(stderr, "l2_worker: drained after %" PRIu64 " messages\n", handled);
    }
    l3l2q_l2_endpoint_free(&ep); /* first: the endpoint uses the mapping */
    l3l2q_shm_free(&shm);        /* unmaps (only the creator unlinks the name) */
    return rc;
}
