/* l3_host.c: an L3 host in C that starts an L2 worker process and talks to
 * it through a POSIX shared-memory region.
 *
 *   usage: l3_host WORKER [COUNT]
 *
 * WORKER is the path of examples/c/l2_worker.c or examples/cpp/l2_worker.cpp
 * built as a program. The host creates the shared-memory object, builds the
 * queue over its own mapping, starts `WORKER SHM_NAME S0 .. S11` with the
 * twelve task scalars, sends COUNT requests (one of them an ERROR, one zero
 * bytes), checks every reply, publishes STOP and waits for the worker to
 * exit. Exit status 0 means every check passed.
 *
 * The region is a named POSIX shared-memory object made by l3l2q_shm_create.
 * The scalars handed over carry THIS process's addresses; the worker maps
 * the object itself and replaces scalars 2 and 4 with its own addresses.
 *
 * Build:  cc -std=c11 -Iinclude examples/c/l3_host.c -o l3_host \
 *            $(pkg-config --cflags --libs l3l2q)      (see docs/PACKAGING.md)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "l3l2q.h"

#define SECOND_NS 1000000000ull

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * SECOND_NS + (uint64_t)t.tv_nsec;
}

/* Request i: text of varying length; #5 is an ERROR, #7 has zero bytes. */
static size_t make_request(unsigned i, char *buf, uint64_t *opcode) {
    *opcode = i == 5 ? L3L2Q_OPCODE_ERROR : L3L2Q_OPCODE_DATA;
    if (i == 7) return 0;
    if (i == 5) return (size_t)sprintf(buf, "host-side error report #%u", i);
    return (size_t)sprintf(buf, "request %u from the l3 host %.*s", i, (int)(i % 40), "abcdefghijklmnopqrstuvwxyzabcdefghijklmn");
}

/* Sends `count` requests and checks the replies. Never blocks: it keeps
 * taking replies while it sends, so neither ring can fill up for good. */
static int exchange(l3l2q_l3_queue *q, unsigned count, pid_t worker) {
    char req[128], want[128], got[128];
    unsigned sent = 0, received = 0;
    const uint64_t deadline = now_ns() + 10 * SECOND_NS;
    while (received < count) {
        if (now_ns() > deadline) { fprintf(stderr, "l3_host: no progress for 10 s\n"); return 1; }
        if (sent < count) {
            uint64_t op;
            size_t n = make_request(sent, req, &op);
            l3l2q_status s = l3l2q_l3_try_enqueue(q, op, (const uint8_t *)req, n);
            if (s == L3L2Q_STATUS_OK) sent++;
            else if (s != L3L2Q_STATUS_NO_PROGRESS) { fprintf(stderr, "l3_host: enqueue: %s\n", l3l2q_status_str(s)); return 1; }
        }
        uint64_t op = 0;
        size_t len = 0;
        l3l2q_status s = l3l2q_l3_try_dequeue_into(q, (uint8_t *)got, sizeof got, &op, &len);
        if (s == L3L2Q_STATUS_NO_PROGRESS) {
            siginfo_t info = {0}; /* has the worker died? (WNOWAIT: leave it for wait_worker) */
            if (waitid(P_PID, (id_t)worker, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == worker) {
                fprintf(stderr, "l3_host: worker exited early\n");
                return 1;
            }
            usleep(50);
            continue;
        }
        if (s != L3L2Q_STATUS_OK) { fprintf(stderr, "l3_host: dequeue: %s\n", l3l2q_status_str(s)); return 1; }
        uint64_t want_op;
        size_t n = make_request(received, want, &want_op);
        for (size_t k = 0; k < n; k++) if (want[k] >= 'a' && want[k] <= 'z') want[k] -= 32;
        if (op != want_op || len != n || memcmp(got, want, n) != 0) {
            fprintf(stderr, "l3_host: reply %u wrong: op %llu, %zu bytes\n", received, (unsigned long long)op, len);
            return 1;
        }
        if (received == 0 || op == L3L2Q_OPCODE_ERROR) printf("reply %u (%s): %.*s\n", received, op == L3L2Q_OPCODE_ERROR ? "ERROR" : "DATA", (int)len, got);
        received++;
    }
    return 0;
}

/* Waits up to 10 s for the worker; kills it after that. */
static int wait_worker(pid_t pid) {
    int status = 0;
    for (int i = 0; i < 1000; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    fprintf(stderr, "l3_host: worker did not exit; killed\n");
    return 128;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s WORKER [COUNT]\n", argv[0]); return 2; }
    const unsigned count = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 0) : 1000;
    const l3l2q_l3_config config = {.depth = 8, .input_arena_bytes = 1024, .output_arena_bytes = 1024, .initial_count = 0};

    /* 1. The shared-memory region, sized for the queue; freeing it unlinks the name. */
    char name[64];
    snprintf(name, sizeof name, "/l3l2q-example-%d", (int)getpid());
    const l3l2q_shm_config shm_config = {.depth = config.depth, .input_arena_bytes = config.input_arena_bytes,
                                         .output_arena_bytes = config.output_arena_bytes, .region_id = 0,
                                         .reclaim_stale = true};
    l3l2q_shm *shm = NULL;
    l3l2q_violation violation = L3L2Q_VIOLATION_VALID;
    int32_t err = 0;
    l3l2q_status s = l3l2q_shm_create(name, &shm_config, &shm, &violation, &err);
    if (s != L3L2Q_STATUS_OK) {
        fprintf(stderr, "l3_host: shm_create %s: %s (errno %d)\n", name, l3l2q_status_str(s), (int)err);
        return 2;
    }

    /* 2. The queue over this process's mapping (it zeroes the counters). */
    l3l2q_region_descriptor region;
    l3l2q_shm_descriptor(shm, &region, NULL);
    l3l2q_l3_queue *q = NULL;
    s = l3l2q_l3_queue_create_mapped(&region, &config, &q, &violation);
    if (s != L3L2Q_STATUS_OK) {
        fprintf(stderr, "l3_host: create: %s (%s)\n", l3l2q_status_str(s), l3l2q_violation_str(violation));
        l3l2q_shm_free(&shm);
        return 2;
    }

    /* 3. Start the worker with the object's name and the task scalars. */
    uint64_t scalars[L3L2Q_TASK_SCALARS];
    l3l2q_l3_task_scalars(q, scalars, L3L2Q_TASK_SCALARS);
    char text[L3L2Q_TASK_SCALARS][24];
    char *args[2 + L3L2Q_TASK_SCALARS + 1] = {argv[1], name};
    for (int i = 0; i < L3L2Q_TASK_SCALARS; i++) {
        snprintf(text[i], sizeof text[i], "0x%llx", (unsigned long long)scalars[i]);
        args[2 + i] = text[i];
    }
    pid_t pid = fork();
    if (pid == 0) {
        execv(argv[1], args);
        perror("l3_host: exec");
        _exit(127);
    }

    /* 4. Talk, then STOP: it returns once STOP is published. */
    int rc = pid > 0 ? exchange(q, count, pid) : 1;
    if (rc == 0 && (s = l3l2q_l3_request_stop(q, 5 * SECOND_NS)) != L3L2Q_STATUS_OK) {
        fprintf(stderr, "l3_host: request_stop: %s\n", l3l2q_status_str(s));
        rc = 1;
    }
    if (rc != 0) {
        l3l2q_error_info e;
        l3l2q_l3_error(q, &e);
        fprintf(stderr, "l3_host: error record: %s: %s\n", l3l2q_error_kind_str(e.kind), (const char *)e.message);
        if (pid > 0) kill(pid, SIGKILL); /* we gave up: do not wait for its idle limit */
    }

    /* 5. Wait for the worker, then clean up: the queue before the region. */
    int worker_rc = pid > 0 ? wait_worker(pid) : 127;
    l3l2q_l3_queue_free(&q);
    l3l2q_shm_free(&shm); /* unmaps and unlinks the name */
    printf("l3_host: %u requests answered; worker exited with %d\n", rc == 0 ? count : 0, worker_rc);
    return rc != 0 || worker_rc != 0;
}
