/* capi_bench.c: the ratio table's C-API contenders (benches/ratios.rs).
 *
 * The same workloads as the Rust-API contenders of benches/common/mod.rs,
 * written as a C caller writes them: through libl3l2q.so, on two threads
 * pinned to CPU 0 (L3, producer) and CPU 1 (L2, consumer), timed from both
 * threads being ready until the last message is consumed.
 *
 * benches/ratios.rs compiles this file against the libl3l2q.so of its own
 * build, starts it once, and sends it one command per run on stdin:
 *
 *   WORKLOAD SIZE N    ->  prints the elapsed nanoseconds, one line
 *
 * WORKLOAD is `single` (try_enqueue / try_peek + read + release), `batch`
 * (try_enqueue_batch / try_peek_batch + read + release_batch, 32 per
 * call), `consume` (try_enqueue_batch / try_consume, 32 per call) or `rt`
 * (round trips: L3 enqueues, L2 echoes in place, L3 peeks, copies out and
 * releases). Any failure prints `error ...` and exits 1. The process
 * inherits the bench's scheduling policy (SCHED_FIFO when granted).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET */
#endif
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "l3l2q.h"

/* Same shapes as benches/common/mod.rs (`shape`). */
#define SMALL_ARENA (64u * 1024u)
#define SMALL_DEPTH 1024u
#define PAGE_ARENA (256u * 1024u)
#define PAGE_DEPTH 64u
#define BATCH 32u
#define WINDOW 64u
#define MAX_SIZE 4096u

static void fail(const char *what) {
    printf("error %s\n", what);
    fflush(stdout);
    exit(1);
}

static void die(const char *what, l3l2q_status s) {
    printf("error %s: %s\n", what, l3l2q_status_str(s));
    fflush(stdout);
    exit(1);
}

/* Rust's std::hint::spin_loop. */
static inline void spin_loop(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("isb" ::: "memory");
#endif
}

/* Reads every byte as little-endian u64 words plus a tail and folds them
 * (benches/common/mod.rs `touch`), so the read cannot be optimised away. */
static inline uint64_t touch(const uint8_t *p, uint64_t len) {
    uint64_t acc = 0, i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        acc += w;
    }
    for (; i < len; i++) acc += p[i];
    return acc;
}

/* Keeps results alive (Rust's black_box). */
static volatile uint64_t sink;

static void pin(int cpu) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpu >= cpus) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ------------------------------------------------------------ a region */

/* A region's memory, allocated and touched once and reused by every run. */
typedef struct {
    uint8_t *payload;
    uint8_t *counters;
    l3l2q_layout layout;
} region;

static void *zeroed_pages(size_t bytes) {
    size_t rounded = (bytes + 4095u) & ~(size_t)4095u;
    void *p = aligned_alloc(4096, rounded);
    if (p == NULL) fail("out of memory");
    memset(p, 0, rounded); /* faults the pages in now, not in a timed run */
    return p;
}

static region region_new(uint64_t depth, uint64_t input_arena, uint64_t output_arena) {
    region r;
    l3l2q_violation v;
    l3l2q_status s = l3l2q_layout_compute(depth, input_arena, output_arena, &r.layout, &v);
    if (s != L3L2Q_STATUS_OK) die("layout", s);
    r.payload = zeroed_pages(r.layout.payload_bytes);
    r.counters = zeroed_pages(L3L2Q_COUNTER_BYTES);
    return r;
}

/* A fresh L3 queue (counters zeroed) and L2 endpoint over the region. */
static void pair(const region *r, l3l2q_l3_queue **q, l3l2q_l2_endpoint **ep) {
    l3l2q_region_descriptor d;
    l3l2q_status s = l3l2q_magic_version_pack(L3L2Q_REGION_MAGIC, L3L2Q_REGION_ABI_MAJOR,
                                              L3L2Q_REGION_ABI_MINOR, &d.magic_version);
    if (s != L3L2Q_STATUS_OK) die("magic", s);
    d.region_id = 1;
    d.payload_base = (uint64_t)(uintptr_t)r->payload;
    d.payload_bytes = r->layout.payload_bytes;
    d.counter_base = (uint64_t)(uintptr_t)r->counters;
    d.counter_bytes = L3L2Q_COUNTER_BYTES;
    l3l2q_l3_config c = {
        .depth = r->layout.depth,
        .input_arena_bytes = r->layout.input_arena_bytes,
        .output_arena_bytes = r->layout.output_arena_bytes,
        .initial_count = 0,
    };
    l3l2q_violation v;
    s = l3l2q_l3_queue_create_mapped(&d, &c, q, &v);
    if (s != L3L2Q_STATUS_OK) die("queue", s);
    uint64_t scalars[L3L2Q_TASK_SCALARS];
    s = l3l2q_l3_task_scalars(*q, scalars, L3L2Q_TASK_SCALARS);
    if (s != L3L2Q_STATUS_OK) die("scalars", s);
    l3l2q_l2_config lc = {.max_inflight = WINDOW, .initial_count = 0};
    s = l3l2q_l2_endpoint_create(scalars, L3L2Q_TASK_SCALARS, &lc, ep, &v);
    if (s != L3L2Q_STATUS_OK) die("endpoint", s);
}

/* ------------------------------------------------------------ two threads */

typedef struct {
    _Alignas(64) atomic_bool v;
} flag;

typedef struct run run;
typedef void (*side_fn)(run *);

/* One timed run: the queue pair, the workload's parameters, the flags. */
struct run {
    l3l2q_l3_queue *q;
    l3l2q_l2_endpoint *ep;
    uint64_t size;
    uint64_t n;
    const uint8_t *src;
    side_fn producer;
    side_fn consumer;
    flag ready, go, done;
    uint64_t elapsed_ns;
};

static void *consumer_thread(void *arg) {
    run *r = arg;
    pin(1);
    atomic_store_explicit(&r->ready.v, true, memory_order_release);
    while (!atomic_load_explicit(&r->go.v, memory_order_acquire)) spin_loop();
    r->consumer(r);
    atomic_store_explicit(&r->done.v, true, memory_order_release);
    return NULL;
}

static void *producer_thread(void *arg) {
    run *r = arg;
    pin(0);
    while (!atomic_load_explicit(&r->ready.v, memory_order_acquire)) spin_loop();
    uint64_t start = now_ns();
    atomic_store_explicit(&r->go.v, true, memory_order_release);
    r->producer(r);
    while (!atomic_load_explicit(&r->done.v, memory_order_acquire)) spin_loop();
    r->elapsed_ns = now_ns() - start;
    return NULL;
}

/* benches/common/mod.rs `two_threads`: each thread is created already on
 * its CPU (a thread inherits its creator's affinity; under SCHED_FIFO a
 * thread created on a CPU where another spins would never get to move). */
static uint64_t two_threads(run *r) {
    atomic_init(&r->ready.v, false);
    atomic_init(&r->go.v, false);
    atomic_init(&r->done.v, false);
    pthread_t consumer, producer;
    pin(1);
    if (pthread_create(&consumer, NULL, consumer_thread, r) != 0) fail("thread");
    pin(0);
    if (pthread_create(&producer, NULL, producer_thread, r) != 0) fail("thread");
    pthread_join(producer, NULL);
    pthread_join(consumer, NULL);
    return r->elapsed_ns;
}

/* ------------------------------------------------------------ workloads */

/* L3: n copies of src, one try_enqueue each. */
static void enqueue_single(run *r) {
    for (uint64_t sent = 0; sent < r->n;) {
        l3l2q_status s = l3l2q_l3_try_enqueue(r->q, L3L2Q_OPCODE_DATA, r->src, r->size);
        if (s == L3L2Q_STATUS_OK) {
            sent++;
        } else if (s == L3L2Q_STATUS_NO_PROGRESS) {
            spin_loop();
        } else {
            die("enqueue", s);
        }
    }
}

/* L3: n copies of src, up to BATCH per try_enqueue_batch. */
static void enqueue_batches(run *r) {
    l3l2q_byte_slice batch[BATCH];
    for (unsigned i = 0; i < BATCH; i++) batch[i] = (l3l2q_byte_slice){.data = r->src, .len = r->size};
    for (uint64_t sent = 0; sent < r->n;) {
        size_t k = r->n - sent < BATCH ? (size_t)(r->n - sent) : BATCH, done = 0;
        l3l2q_status s = l3l2q_l3_try_enqueue_batch(r->q, L3L2Q_OPCODE_DATA, batch, k, &done);
        if (s == L3L2Q_STATUS_OK) {
            sent += done;
        } else if (s == L3L2Q_STATUS_NO_PROGRESS) {
            spin_loop();
        } else {
            die("enqueue batch", s);
        }
    }
}

/* L2: try_peek, read every byte in place, release. */
static void peek_single(run *r) {
    uint64_t acc = 0;
    for (uint64_t got = 0; got < r->n;) {
        l3l2q_message m;
        l3l2q_status s = l3l2q_l2_try_peek(r->ep, &m);
        if (s == L3L2Q_STATUS_OK) {
            if (m.payload_nbytes != r->size) fail("peek: size");
            acc += touch(m.data, m.payload_nbytes);
            s = l3l2q_l2_release(r->ep, &m);
            if (s != L3L2Q_STATUS_OK) die("release", s);
            got++;
        } else if (s == L3L2Q_STATUS_NO_PROGRESS) {
            spin_loop();
        } else {
            die("peek", s);
        }
    }
    sink = acc;
}

/* L2: try_peek_batch, read every byte in place, release_batch. */
static void peek_batches(run *r) {
    uint64_t acc = 0;
    l3l2q_message out[BATCH];
    for (uint64_t got = 0; got < r->n;) {
        size_t k = 0;
        l3l2q_status s = l3l2q_l2_try_peek_batch(r->ep, out, BATCH, &k);
        if (s == L3L2Q_STATUS_OK) {
            for (size_t i = 0; i < k; i++) {
                if (out[i].payload_nbytes != r->size) fail("peek batch: size");
                acc += touch(out[i].data, out[i].payload_nbytes);
            }
            s = l3l2q_l2_release_batch(r->ep, out, k);
            if (s != L3L2Q_STATUS_OK) die("release batch", s);
            got += k;
        } else if (s == L3L2Q_STATUS_NO_PROGRESS) {
            spin_loop();
        } else {
            die("peek batch", s);
        }
    }
    sink = acc;
}

typedef struct {
    uint64_t acc;
    uint64_t size;
} visit_ctx;

static void visit(void *ctx, const l3l2q_message *m) {
    visit_ctx *c = ctx;
    if (m->payload_nbytes != c->size) fail("consume: size");
    c->acc += touch(m->data, m->payload_nbytes);
}

/* L2: try_consume up to BATCH at a time, reading every byte in place. */
static void consume_batches(run *r) {
    visit_ctx c = {.acc = 0, .size = r->size};
    for (uint64_t got = 0; got < r->n;) {
        size_t k = 0;
        l3l2q_status s = l3l2q_l2_try_consume(r->ep, BATCH, visit, &c, &k);
        if (s == L3L2Q_STATUS_OK) {
            got += k;
        } else if (s == L3L2Q_STATUS_NO_PROGRESS) {
            spin_loop();
        } else {
            die("consume", s);
        }
    }
    sink = c.acc;
}

/* L3 of a round trip: enqueue one, wait for its echo, copy it out, release. */
static void round_trip_l3(run *r) {
    uint8_t dst[MAX_SIZE];
    for (uint64_t i = 0; i < r->n; i++) {
        l3l2q_status s;
        while ((s = l3l2q_l3_try_enqueue(r->q, L3L2Q_OPCODE_DATA, r->src, r->size)) != L3L2Q_STATUS_OK) {
            if (s != L3L2Q_STATUS_NO_PROGRESS) die("enqueue", s);
            spin_loop();
        }
        l3l2q_message m;
        while ((s = l3l2q_l3_try_peek(r->q, &m)) != L3L2Q_STATUS_OK) {
            if (s != L3L2Q_STATUS_NO_PROGRESS) die("l3 peek", s);
            spin_loop();
        }
        size_t len = 0;
        s = l3l2q_l3_read_into(r->q, &m, dst, sizeof dst, &len);
        if (s != L3L2Q_STATUS_OK || len != r->size) die("read_into", s);
        s = l3l2q_l3_release(r->q, &m);
        if (s != L3L2Q_STATUS_OK) die("l3 release", s);
    }
    sink = dst[0];
}

/* L2 of a round trip: peek, reserve, copy the input in place into the
 * output, publish, release. */
static void round_trip_l2(run *r) {
    for (uint64_t i = 0; i < r->n; i++) {
        l3l2q_message m;
        l3l2q_status s;
        while ((s = l3l2q_l2_try_peek(r->ep, &m)) != L3L2Q_STATUS_OK) {
            if (s != L3L2Q_STATUS_NO_PROGRESS) die("peek", s);
            spin_loop();
        }
        l3l2q_reservation res;
        s = l3l2q_l2_try_reserve(r->ep, m.payload_nbytes, &res);
        if (s != L3L2Q_STATUS_OK) die("reserve (one message in flight always fits)", s);
        memcpy(res.data, m.data, m.payload_nbytes);
        s = l3l2q_l2_publish(r->ep, &res, L3L2Q_OPCODE_DATA, m.payload_nbytes);
        if (s != L3L2Q_STATUS_OK) die("publish", s);
        s = l3l2q_l2_release(r->ep, &m);
        if (s != L3L2Q_STATUS_OK) die("release", s);
    }
}

int main(void) {
    region small = region_new(SMALL_DEPTH, SMALL_ARENA, 64);
    region page = region_new(PAGE_DEPTH, PAGE_ARENA, 64);
    region rt = region_new(SMALL_DEPTH, SMALL_ARENA, SMALL_ARENA);
    static uint8_t src[MAX_SIZE];
    memset(src, 0x5a, sizeof src);

    char what[32];
    uint64_t size, n;
    while (scanf("%31s %" SCNu64 " %" SCNu64, what, &size, &n) == 3) {
        if (size == 0 || size > MAX_SIZE) fail("size out of range");
        run r = {.size = size, .n = n, .src = src};
        const region *shape = size > 64 ? &page : &small;
        if (strcmp(what, "single") == 0) {
            r.producer = enqueue_single;
            r.consumer = peek_single;
        } else if (strcmp(what, "batch") == 0) {
            r.producer = enqueue_batches;
            r.consumer = peek_batches;
        } else if (strcmp(what, "consume") == 0) {
            r.producer = enqueue_batches;
            r.consumer = consume_batches;
        } else if (strcmp(what, "rt") == 0) {
            r.producer = round_trip_l3;
            r.consumer = round_trip_l2;
            shape = &rt;
        } else {
            fail("unknown workload");
        }
        pair(shape, &r.q, &r.ep);
        uint64_t ns = two_threads(&r);
        l3l2q_l2_endpoint_free(&r.ep);
        l3l2q_l3_queue_free(&r.q);
        printf("%" PRIu64 "\n", ns);
        fflush(stdout);
    }
    return 0;
}
