/*
 * The L3 queue over the callbacks backend, driven entirely from C: this
 * program implements the l3l2q_region_callbacks vtable over its own
 * "device memory" (aligned_alloc), creates the L3 queue with
 * l3l2q_l3_queue_create_callbacks, runs an L2 endpoint built from the L3
 * task scalars (the device view is the same memory, mapped) on a pthread,
 * exchanges messages with content checks both ways (ERROR mixed in, L2
 * window 4 releasing out of order), then STOP and drain. Finally it injects
 * callback failures: a failed counter_load is CALLBACK_FAILED without
 * poison; a failed payload_write poisons, raises the L3 abort flag (offset
 * 256) and is described by l3l2q_l3_error.
 *
 * Every wait is bounded; any failed check exits non-zero.
 */
#include "l3l2q.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond, ...)                                                          \
    do {                                                                          \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            exit(1);                                                              \
        }                                                                         \
    } while (0)

#define EXPECT(status, call)                                                      \
    do {                                                                          \
        enum l3l2q_status got_ = (call);                                          \
        CHECK(got_ == (status), "%s returned %d (%s), expected %d", #call,        \
              (int)got_, l3l2q_status_str((int32_t)got_), (int)(status));         \
    } while (0)

#define OK(call) EXPECT(L3L2Q_STATUS_OK, call)

enum { DEPTH = 16, IN_ARENA = 31 * 64, OUT_ARENA = 15 * 64, WINDOW = 4, MESSAGES = 20000 };
enum { REGION_ID = 0xC0FFEE };
static const double DEADLINE_S = 60.0;

/* ------------------------------------------------------------ device */

enum call_kind { PAYLOAD_WRITE, PAYLOAD_READ, COUNTER_STORE, COUNTER_LOAD, KINDS };

typedef struct device {
    uint8_t *payload;
    uint64_t payload_bytes;
    uint8_t *counters; /* L3L2Q_COUNTER_BYTES, 64-byte aligned */
    atomic_ulong calls[KINDS];
    atomic_ulong fail_at[KINDS]; /* 1-based call number that fails; 0: none */
} device;

static size_t round_up64(uint64_t n) { return (size_t)((n + 63) / 64 * 64); }

static void device_init(device *d, uint64_t payload_bytes) {
    memset(d, 0, sizeof *d);
    d->payload_bytes = payload_bytes;
    d->payload = aligned_alloc(64, round_up64(payload_bytes));
    d->counters = aligned_alloc(64, L3L2Q_COUNTER_BYTES);
    CHECK(d->payload && d->counters, "out of memory");
    memset(d->payload, 0x5A, round_up64(payload_bytes));
    memset(d->counters, 0xAB, L3L2Q_COUNTER_BYTES); /* the creator must zero them */
    for (int k = 0; k < KINDS; k++) {
        atomic_init(&d->calls[k], 0);
        atomic_init(&d->fail_at[k], 0);
    }
}

static void device_free(device *d) {
    free(d->payload);
    free(d->counters);
}

static _Atomic uint32_t *counter_at(const device *d, uint64_t offset) {
    return (_Atomic uint32_t *)(void *)(d->counters + offset);
}

static uint32_t counter(const device *d, uint64_t offset) {
    return atomic_load_explicit(counter_at(d, offset), memory_order_acquire);
}

static unsigned long total_calls(device *d) {
    unsigned long n = 0;
    for (int k = 0; k < KINDS; k++) n += atomic_load(&d->calls[k]);
    return n;
}

static void fail_next(device *d, enum call_kind kind) {
    atomic_store(&d->fail_at[kind], atomic_load(&d->calls[kind]) + 1);
}

static bool must_fail(device *d, enum call_kind kind) {
    unsigned long n = atomic_fetch_add(&d->calls[kind], 1) + 1;
    return atomic_load(&d->fail_at[kind]) == n;
}

static bool payload_range_ok(const device *d, uint64_t offset, size_t len) {
    return offset <= d->payload_bytes && len <= d->payload_bytes - offset;
}

static int32_t cb_payload_write(void *ctx, uint64_t offset, const uint8_t *src, size_t len) {
    device *d = ctx;
    if (must_fail(d, PAYLOAD_WRITE)) return -1;
    if (!payload_range_ok(d, offset, len)) return -2;
    if (len) memcpy(d->payload + offset, src, len);
    return 0;
}

static int32_t cb_payload_read(void *ctx, uint64_t offset, uint8_t *dst, size_t len) {
    device *d = ctx;
    if (must_fail(d, PAYLOAD_READ)) return -1;
    if (!payload_range_ok(d, offset, len)) return -2;
    if (len) memcpy(dst, d->payload + offset, len);
    return 0;
}

static int32_t cb_counter_store(void *ctx, uint64_t offset, uint32_t value) {
    device *d = ctx;
    if (must_fail(d, COUNTER_STORE)) return -1;
    if (offset % 4 != 0 || offset > L3L2Q_COUNTER_BYTES - 4) return -2;
    /* Release: the payload copies above happen before the peer sees the value. */
    atomic_store_explicit(counter_at(d, offset), value, memory_order_release);
    return 0;
}

static int32_t cb_counter_load(void *ctx, uint64_t offset, uint32_t *value) {
    device *d = ctx;
    if (must_fail(d, COUNTER_LOAD)) return -1;
    if (offset % 4 != 0 || offset > L3L2Q_COUNTER_BYTES - 4) return -2;
    *value = atomic_load_explicit(counter_at(d, offset), memory_order_acquire);
    return 0;
}

static l3l2q_region_callbacks vtable(device *d) {
    l3l2q_region_callbacks cb = {
        .ctx = d,
        .payload_write = cb_payload_write,
        .payload_read = cb_payload_read,
        .counter_store = cb_counter_store,
        .counter_load = cb_counter_load,
    };
    return cb;
}

static l3l2q_region_descriptor descriptor_of(const device *d) {
    l3l2q_region_descriptor r;
    OK(l3l2q_magic_version_pack(L3L2Q_REGION_MAGIC, L3L2Q_REGION_ABI_MAJOR, L3L2Q_REGION_ABI_MINOR, &r.magic_version));
    r.region_id = REGION_ID;
    r.payload_base = (uint64_t)(uintptr_t)d->payload;
    r.payload_bytes = d->payload_bytes;
    r.counter_base = (uint64_t)(uintptr_t)d->counters;
    r.counter_bytes = L3L2Q_COUNTER_BYTES;
    return r;
}

/* ------------------------------------------------------------ content */

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static void fill(uint8_t *buf, size_t len, uint64_t seed) {
    uint64_t s = splitmix(seed) | 1;
    for (size_t i = 0; i < len; i += 8) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t w = s * 0x2545F4914F6CDD1DULL;
        memcpy(buf + i, &w, len - i < 8 ? len - i : 8);
    }
}

/* Sizes 0..=arena: zero, exactly the arena, just below it, wrap-forcing, uniform. */
static size_t plan_len(uint64_t i, uint64_t salt, size_t arena) {
    uint64_t r = splitmix(i * 0x100000001B3ULL ^ salt);
    uint64_t v = r >> 8;
    switch (r % 10) {
    case 0: return 0;
    case 1: return arena;
    case 2: return arena - (size_t)(v % 64);
    case 3: return arena / 2 + 1 + (size_t)(v % 64);
    default: return (size_t)(v % (arena + 1));
    }
}

static uint64_t plan_op(uint64_t i, uint64_t salt) {
    return splitmix(i ^ salt ^ 0xE77ULL) % 11 == 0 ? L3L2Q_OPCODE_ERROR : L3L2Q_OPCODE_DATA;
}

#define IN_SALT 0x1111ULL
#define OUT_SALT 0x2222ULL

static uint64_t in_seed(uint64_t i) { return i * 2 + 1; }
static uint64_t out_seed(uint64_t k) { return ~k; }

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------ L2 task */

typedef struct l2_task {
    uint64_t scalars[L3L2Q_TASK_SCALARS];
    atomic_int host_failed;
    uint64_t inputs, errors, outputs, out_of_order;
    int ok;
} l2_task;

typedef struct l2_state {
    l2_task *task;
    struct l3l2q_l2_endpoint *ep;
    l3l2q_message held[WINDOW];
    uint64_t held_index[WINDOW];
    int nheld;
    bool stop_seen;
    l3l2q_message stop;
    uint8_t expect[IN_ARENA];
    uint8_t out[OUT_ARENA];
    double deadline;
} l2_state;

static void l2_check_input(l2_state *s, const l3l2q_message *m, uint64_t i) {
    size_t len = plan_len(i, IN_SALT, IN_ARENA);
    CHECK(m->opcode == plan_op(i, IN_SALT), "input %llu opcode %llu", (unsigned long long)i, (unsigned long long)m->opcode);
    CHECK(m->payload_nbytes == len, "input %llu length %llu != %zu", (unsigned long long)i, (unsigned long long)m->payload_nbytes, len);
    fill(s->expect, len, in_seed(i));
    CHECK(len == 0 || (m->data != NULL && memcmp(m->data, s->expect, len) == 0), "input %llu content", (unsigned long long)i);
}

static void l2_take(l2_state *s, const l3l2q_message *m) {
    if (m->opcode == L3L2Q_OPCODE_STOP) {
        CHECK(m->seq == MESSAGES + 1 && m->payload_nbytes == 0, "STOP is the last, empty input");
        CHECK(s->task->inputs == MESSAGES, "STOP after every input");
        l3l2q_message again;
        EXPECT(L3L2Q_STATUS_NO_PROGRESS, l3l2q_l2_try_peek(s->ep, &again));
        s->stop_seen = true;
        s->stop = *m;
        return;
    }
    uint64_t i = m->seq - 1;
    CHECK(i == s->task->inputs, "inputs in order: got %llu", (unsigned long long)i);
    l2_check_input(s, m, i);
    s->task->inputs++;
    s->task->errors += m->opcode == L3L2Q_OPCODE_ERROR;
    s->held[s->nheld] = *m;
    s->held_index[s->nheld] = i;
    s->nheld++;
}

static void l2_answer(l2_state *s, uint64_t answered) {
    uint64_t k = s->task->outputs;
    size_t len = plan_len(k, OUT_SALT, OUT_ARENA);
    fill(s->out, len, out_seed(k));
    if (len >= 8) memcpy(s->out, &answered, 8);
    l3l2q_reservation r;
    for (;;) {
        enum l3l2q_status st = l3l2q_l2_reserve(s->ep, len, &r, 20000);
        if (st == L3L2Q_STATUS_OK) break;
        CHECK(st == L3L2Q_STATUS_TIMEOUT, "L2 reserve: %s", l3l2q_status_str((int32_t)st));
        CHECK(now_s() < s->deadline && !atomic_load(&s->task->host_failed), "L2 output: hang");
        sched_yield();
    }
    CHECK(r.capacity == len && (len == 0 || r.data != NULL), "reservation");
    if (len) memcpy(r.data, s->out, len);
    OK(l3l2q_l2_publish(s->ep, &r, plan_op(k, OUT_SALT), len));
    s->task->outputs++;
}

static void *l2_main(void *arg) {
    l2_task *task = arg;
    static l2_state s; /* one L2 task per run */
    memset(&s, 0, sizeof s);
    s.task = task;
    s.deadline = now_s() + DEADLINE_S;
    l3l2q_l2_config cfg = {.max_inflight = WINDOW, .initial_count = 0};
    enum l3l2q_violation v = L3L2Q_VIOLATION_VALID;
    OK(l3l2q_l2_endpoint_create(task->scalars, L3L2Q_TASK_SCALARS, &cfg, &s.ep, &v));
    uint64_t round = 0;
    for (;;) {
        CHECK(now_s() < s.deadline && !atomic_load(&task->host_failed), "L2: hang");
        l3l2q_message m;
        while (s.nheld < WINDOW && !s.stop_seen) {
            enum l3l2q_status st = l3l2q_l2_try_peek(s.ep, &m);
            if (st == L3L2Q_STATUS_NO_PROGRESS) break;
            OK(st);
            l2_take(&s, &m);
        }
        if (s.nheld == 0) {
            if (s.stop_seen) break;
            enum l3l2q_status st = l3l2q_l2_peek(s.ep, &m, 20000);
            if (st == L3L2Q_STATUS_OK) {
                l2_take(&s, &m);
            } else {
                EXPECT(L3L2Q_STATUS_TIMEOUT, st);
                sched_yield();
            }
            continue;
        }
        /* Out of order: every other round release the second-oldest first. */
        int j = (s.nheld > 1 && (round++ & 1)) ? 1 : 0;
        l3l2q_message done = s.held[j];
        uint64_t i = s.held_index[j];
        l2_check_input(&s, &done, i); /* still intact while held */
        l2_answer(&s, i);
        OK(l3l2q_l2_release(s.ep, &done));
        task->out_of_order += j != 0;
        for (int x = j; x + 1 < s.nheld; x++) {
            s.held[x] = s.held[x + 1];
            s.held_index[x] = s.held_index[x + 1];
        }
        s.nheld--;
        if (s.stop_seen) {
            bool drained = true;
            OK(l3l2q_l2_drained(s.ep, &drained));
            CHECK(!drained, "not drained before STOP is released");
        }
    }
    bool drained = true;
    OK(l3l2q_l2_drained(s.ep, &drained));
    CHECK(!drained, "STOP acquired but not released");
    OK(l3l2q_l2_release(s.ep, &s.stop));
    OK(l3l2q_l2_drained(s.ep, &drained));
    CHECK(drained, "drained after STOP");
    l3l2q_error_info info;
    OK(l3l2q_l2_error(s.ep, &info));
    CHECK(info.kind == L3L2Q_ERROR_KIND_NONE, "L2 error: %s", (const char *)info.message);
    OK(l3l2q_l2_endpoint_free(&s.ep));
    task->ok = 1;
    return NULL;
}

/* ------------------------------------------------------------ L3 side */

static uint64_t received;
static bool answered[MESSAGES];

static int l3_receive(struct l3l2q_l3_queue *q) {
    static uint8_t buf[OUT_ARENA], expect[OUT_ARENA];
    int n = 0;
    for (;;) {
        uint64_t k = received;
        uint64_t opcode = 0;
        size_t len = 0;
        enum l3l2q_status st;
        if (k % 2 == 0) {
            st = l3l2q_l3_try_dequeue_into(q, buf, sizeof buf, &opcode, &len);
            if (st == L3L2Q_STATUS_NO_PROGRESS) return n;
            OK(st);
        } else {
            l3l2q_message m, again;
            st = l3l2q_l3_try_peek(q, &m);
            if (st == L3L2Q_STATUS_NO_PROGRESS) return n;
            OK(st);
            OK(l3l2q_l3_try_peek(q, &again));
            CHECK(again.seq == m.seq, "repeated peek returns the same message");
            CHECK(m.seq == k + 1, "outputs in order");
            CHECK(m.data == NULL, "a callback region has no in-place view");
            if (m.payload_nbytes > 0) {
                size_t small = 0;
                EXPECT(L3L2Q_STATUS_BUFFER_TOO_SMALL, l3l2q_l3_read_into(q, &m, buf, (size_t)m.payload_nbytes - 1, &small));
            }
            OK(l3l2q_l3_read_into(q, &m, buf, sizeof buf, &len));
            OK(l3l2q_l3_release(q, &m));
            opcode = m.opcode;
        }
        CHECK(opcode == plan_op(k, OUT_SALT), "output %llu opcode", (unsigned long long)k);
        CHECK(len == plan_len(k, OUT_SALT, OUT_ARENA), "output %llu length %zu", (unsigned long long)k, len);
        fill(expect, len, out_seed(k));
        if (len >= 8) {
            uint64_t who;
            memcpy(&who, buf, 8);
            CHECK(who < MESSAGES && !answered[who], "output %llu answers input %llu once", (unsigned long long)k, (unsigned long long)who);
            answered[who] = true;
            memcpy(expect, &who, 8);
        }
        CHECK(memcmp(buf, expect, len) == 0, "output %llu content", (unsigned long long)k);
        received++;
        n++;
    }
}

static enum l3l2q_status l3_send(struct l3l2q_l3_queue *q, uint64_t i, const uint8_t *payload, size_t len) {
    uint64_t op = plan_op(i, IN_SALT);
    if (i % 4 != 3) return l3l2q_l3_try_enqueue(q, op, payload, len);
    /* Copy-in reservation: reserve, write in two pieces, commit. */
    l3l2q_reservation r;
    enum l3l2q_status st = l3l2q_l3_try_reserve(q, len, &r);
    if (st != L3L2Q_STATUS_OK) return st;
    CHECK(r.data == NULL && r.capacity == len, "callback reservation has no pointer");
    size_t half = len / 2;
    OK(l3l2q_l3_write_reserved(q, &r, 0, payload, half));
    OK(l3l2q_l3_write_reserved(q, &r, half, payload + half, len - half));
    return l3l2q_l3_commit(q, &r, op, len);
}

static void exchange(void) {
    l3l2q_layout layout;
    enum l3l2q_violation v = L3L2Q_VIOLATION_VALID;
    OK(l3l2q_layout_compute(DEPTH, IN_ARENA, OUT_ARENA, &layout, &v));
    device d;
    device_init(&d, layout.payload_bytes);
    l3l2q_region_descriptor region = descriptor_of(&d);
    l3l2q_region_callbacks cb = vtable(&d);
    l3l2q_l3_config cfg = {.depth = DEPTH, .input_arena_bytes = IN_ARENA, .output_arena_bytes = OUT_ARENA, .initial_count = 0};
    struct l3l2q_l3_queue *q = NULL;

    /* Creation failures leave nothing behind and touch nothing. */
    l3l2q_region_callbacks missing = cb;
    missing.counter_load = NULL;
    EXPECT(L3L2Q_STATUS_BAD_ARGUMENT, l3l2q_l3_queue_create_callbacks(&region, &missing, &cfg, &q, &v));
    CHECK(q == NULL, "no handle on failure");
    l3l2q_l3_config bad = cfg;
    bad.depth = 12;
    EXPECT(L3L2Q_STATUS_BAD_DESCRIPTOR, l3l2q_l3_queue_create_callbacks(&region, &cb, &bad, &q, &v));
    CHECK(q == NULL && v == L3L2Q_VIOLATION_DEPTH, "violation %u", (unsigned)v);
    bad = cfg;
    bad.input_arena_bytes = IN_ARENA + 64;
    EXPECT(L3L2Q_STATUS_BAD_DESCRIPTOR, l3l2q_l3_queue_create_callbacks(&region, &cb, &bad, &q, &v));
    CHECK(q == NULL && v == L3L2Q_VIOLATION_REGION_TOO_SMALL, "violation %u", (unsigned)v);
    CHECK(total_calls(&d) == 0, "no callback before validation passed");
    CHECK(counter(&d, L3L2Q_INPUT_DESC_TAIL_OFFSET) == 0xABABABABu, "counters untouched");

    OK(l3l2q_l3_queue_create_callbacks(&region, &cb, &cfg, &q, &v));
    CHECK(q != NULL && v == L3L2Q_VIOLATION_VALID, "created");
    for (uint64_t off = 0; off < L3L2Q_COUNTER_BYTES; off += 64)
        CHECK(counter(&d, off) == 0, "counter %llu zeroed at creation", (unsigned long long)off);

    static l2_task task;
    memset(&task, 0, sizeof task);
    atomic_init(&task.host_failed, 0);
    OK(l3l2q_l3_task_scalars(q, task.scalars, L3L2Q_TASK_SCALARS));
    CHECK(task.scalars[1] == REGION_ID && task.scalars[2] == region.payload_base && task.scalars[4] == region.counter_base,
          "the L2 task gets the device view");
    CHECK(task.scalars[7] == DEPTH && task.scalars[10] == layout.payload_bytes, "queue args");
    pthread_t l2;
    CHECK(pthread_create(&l2, NULL, l2_main, &task) == 0, "pthread_create");

    static uint8_t payload[IN_ARENA];
    uint64_t sent = 0, prepared = UINT64_MAX, idle = 0;
    bool stopped = false;
    double deadline = now_s() + DEADLINE_S;
    while (!(stopped && received == MESSAGES)) {
        if (now_s() > deadline) {
            atomic_store(&task.host_failed, 1);
            CHECK(0, "L3: hang (sent %llu, received %llu)", (unsigned long long)sent, (unsigned long long)received);
        }
        int progressed = 0;
        while (sent < MESSAGES) {
            size_t len = plan_len(sent, IN_SALT, IN_ARENA);
            if (prepared != sent) {
                fill(payload, len, in_seed(sent));
                prepared = sent;
            }
            enum l3l2q_status st = l3_send(q, sent, payload, len);
            if (st == L3L2Q_STATUS_NO_PROGRESS) break;
            OK(st);
            sent++;
            progressed = 1;
        }
        if (sent == MESSAGES && !stopped) {
            enum l3l2q_status st = l3l2q_l3_try_request_stop(q);
            if (st == L3L2Q_STATUS_OK) {
                stopped = true;
                progressed = 1;
            } else {
                EXPECT(L3L2Q_STATUS_NO_PROGRESS, st);
            }
        }
        progressed |= l3_receive(q) > 0;
        if (progressed) {
            idle = 0;
        } else if (++idle % 32 == 0) {
            l3l2q_message m;
            enum l3l2q_status st = l3l2q_l3_peek(q, &m, 200000);
            CHECK(st == L3L2Q_STATUS_OK || st == L3L2Q_STATUS_TIMEOUT, "L3 peek: %s", l3l2q_status_str((int32_t)st));
        } else {
            sched_yield();
        }
    }
    CHECK(pthread_join(l2, NULL) == 0, "pthread_join");
    CHECK(task.ok, "L2 task failed");
    CHECK(task.inputs == MESSAGES && task.outputs == MESSAGES, "counts");
    CHECK(task.errors > 0 && task.out_of_order > 0, "ERROR inputs and out-of-order releases happened");
    CHECK(counter(&d, L3L2Q_INPUT_DESC_TAIL_OFFSET) == MESSAGES + 1 && counter(&d, L3L2Q_INPUT_DESC_HEAD_OFFSET) == MESSAGES + 1,
          "input ring fully released, STOP included");
    CHECK(counter(&d, L3L2Q_OUTPUT_DESC_TAIL_OFFSET) == MESSAGES && counter(&d, L3L2Q_OUTPUT_DESC_HEAD_OFFSET) == MESSAGES, "output ring");
    CHECK(counter(&d, L3L2Q_L3_ABORT_FLAG_OFFSET) == 0 && counter(&d, L3L2Q_L2_ABORT_FLAG_OFFSET) == 0, "no abort flag");

    /* After STOP the input side is closed without a single callback. */
    unsigned long calls = total_calls(&d);
    EXPECT(L3L2Q_STATUS_STOPPED, l3l2q_l3_try_enqueue(q, L3L2Q_OPCODE_DATA, payload, 8));
    EXPECT(L3L2Q_STATUS_STOPPED, l3l2q_l3_enqueue(q, L3L2Q_OPCODE_DATA, NULL, 0, 1000000));
    EXPECT(L3L2Q_STATUS_STOPPED, l3l2q_l3_try_request_stop(q));
    CHECK(total_calls(&d) == calls, "STOPPED touched the device");
    l3l2q_message m;
    EXPECT(L3L2Q_STATUS_NO_PROGRESS, l3l2q_l3_try_peek(q, &m));
    l3l2q_error_info info;
    OK(l3l2q_l3_error(q, &info));
    CHECK(info.kind == L3L2Q_ERROR_KIND_NONE, "L3 healthy");
    OK(l3l2q_l3_queue_free(&q));
    CHECK(q == NULL, "free clears the handle");
    printf("exchange: %d messages each way, %llu ERROR inputs, %llu out-of-order releases\n", MESSAGES,
           (unsigned long long)task.errors, (unsigned long long)task.out_of_order);
    device_free(&d);
}

static void injected_failures(void) {
    l3l2q_layout layout;
    enum l3l2q_violation v;
    OK(l3l2q_layout_compute(2, 256, 256, &layout, &v));
    device d;
    device_init(&d, layout.payload_bytes);
    l3l2q_region_descriptor region = descriptor_of(&d);
    l3l2q_region_callbacks cb = vtable(&d);
    l3l2q_l3_config cfg = {.depth = 2, .input_arena_bytes = 256, .output_arena_bytes = 256, .initial_count = 0};
    struct l3l2q_l3_queue *q = NULL;
    l3l2q_error_info info;

    /* A failed counter store while zeroing the counters: CALLBACK_FAILED, no queue. */
    fail_next(&d, COUNTER_STORE);
    EXPECT(L3L2Q_STATUS_CALLBACK_FAILED, l3l2q_l3_queue_create_callbacks(&region, &cb, &cfg, &q, &v));
    CHECK(q == NULL, "no handle");
    OK(l3l2q_l3_queue_create_callbacks(&region, &cb, &cfg, &q, &v));

    /* Fill the ring; the next enqueue must load the head first. */
    OK(l3l2q_l3_try_enqueue(q, L3L2Q_OPCODE_DATA, (const uint8_t *)"one", 3));
    OK(l3l2q_l3_try_enqueue(q, L3L2Q_OPCODE_ERROR, NULL, 0));
    fail_next(&d, COUNTER_LOAD);
    EXPECT(L3L2Q_STATUS_CALLBACK_FAILED, l3l2q_l3_try_enqueue(q, L3L2Q_OPCODE_DATA, (const uint8_t *)"two", 3));
    OK(l3l2q_l3_error(q, &info));
    CHECK(info.kind == L3L2Q_ERROR_KIND_NONE, "a failed load before any mutation does not poison");
    CHECK(counter(&d, L3L2Q_L3_ABORT_FLAG_OFFSET) == 0, "no abort flag");
    EXPECT(L3L2Q_STATUS_NO_PROGRESS, l3l2q_l3_try_enqueue(q, L3L2Q_OPCODE_DATA, (const uint8_t *)"two", 3));
    /* Play L2: release both inputs by storing the head. */
    atomic_store_explicit(counter_at(&d, L3L2Q_INPUT_DESC_HEAD_OFFSET), 2, memory_order_release);

    /* A failed payload write after placement: poison, flag 256, error record. */
    fail_next(&d, PAYLOAD_WRITE);
    EXPECT(L3L2Q_STATUS_POISONED, l3l2q_l3_try_enqueue(q, L3L2Q_OPCODE_DATA, (const uint8_t *)"hello", 5));
    CHECK(counter(&d, L3L2Q_L3_ABORT_FLAG_OFFSET) == 1, "poison raises the L3 abort flag at offset 256");
    CHECK(counter(&d, L3L2Q_L2_ABORT_FLAG_OFFSET) == 0, "not the L2 flag");
    CHECK(counter(&d, L3L2Q_INPUT_DESC_TAIL_OFFSET) == 2, "nothing published");
    OK(l3l2q_l3_error(q, &info));
    CHECK(info.kind == L3L2Q_ERROR_KIND_ENDPOINT_ERROR, "kind %u (%s)", info.kind, l3l2q_error_kind_str(info.kind));
    CHECK(info.region_id == REGION_ID, "region id %llu", (unsigned long long)info.region_id);
    CHECK(info.operation != L3L2Q_OPERATION_UNKNOWN, "operation recorded");
    size_t text = strnlen((const char *)info.message, L3L2Q_ERROR_MESSAGE_BYTES);
    CHECK(text > 0 && text < L3L2Q_ERROR_MESSAGE_BYTES, "NUL-terminated message");
    /* Fail fast afterwards, without touching the device. */
    unsigned long calls = total_calls(&d);
    l3l2q_message m;
    EXPECT(L3L2Q_STATUS_POISONED, l3l2q_l3_try_enqueue(q, L3L2Q_OPCODE_DATA, (const uint8_t *)"x", 1));
    EXPECT(L3L2Q_STATUS_POISONED, l3l2q_l3_try_peek(q, &m));
    EXPECT(L3L2Q_STATUS_POISONED, l3l2q_l3_request_stop(q, 1000000));
    CHECK(total_calls(&d) == calls, "a poisoned queue does not call back");
    OK(l3l2q_l3_queue_free(&q));
    OK(l3l2q_l3_queue_free(&q)); /* harmless twice through the same variable */
    printf("injected failures: %s\n", (const char *)info.message);
    device_free(&d);
}

int main(void) {
    exchange();
    injected_failures();
    printf("l3_callbacks: ok\n");
    return 0;
}
