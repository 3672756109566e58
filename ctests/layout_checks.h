/* layout_checks.h: run-time checks of the l3l2q pure functions (SPEC
 * sections 1-5), their NULL-pointer behaviour and a wire-level round trip,
 * shared by ctests/layout.c (C11) and ctests/layout.cpp (C++17).
 *
 * Expected values come from spec_wire.h (an independent reading of
 * docs/SPEC.md) or are spelled out literally from the spec; never from the
 * library itself. Written in the common subset of C11 and C++17. */

#ifndef LAYOUT_CHECKS_H
#define LAYOUT_CHECKS_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "l3l2q.h"
#include "spec_wire.h"

/* ---- tiny check framework -------------------------------------------- */

typedef struct lc_run {
    const char *program;
    unsigned passed;
    unsigned failed;
} lc_run;

static inline void lc_record(lc_run *r, int ok, const char *file, int line, const char *what) {
    if (ok) {
        r->passed++;
    } else {
        r->failed++;
        printf("FAILED %s:%d: %s\n", file, line, what);
    }
}

static inline void lc_record_u64(lc_run *r, uint64_t got, uint64_t want, const char *file, int line,
                                 const char *what) {
    if (got == want) {
        r->passed++;
    } else {
        r->failed++;
        printf("FAILED %s:%d: %s: got %" PRIu64 " (0x%" PRIx64 "), want %" PRIu64 " (0x%" PRIx64 ")\n", file,
               line, what, got, got, want, want);
    }
}

#define LC_CHECK(r, cond) lc_record((r), (cond) ? 1 : 0, __FILE__, __LINE__, #cond)
#define LC_EQ(r, got, want) lc_record_u64((r), (uint64_t)(got), (uint64_t)(want), __FILE__, __LINE__, #got " == " #want)

/* Prints the summary line; returns the process exit code. */
static inline int lc_finish(const lc_run *r) {
    if (r->failed != 0) {
        printf("%s: %u of %u checks FAILED\n", r->program, r->failed, r->failed + r->passed);
        return 1;
    }
    printf("%s: %u checks passed\n", r->program, r->passed);
    return 0;
}

#define LC_PATTERN 0xA5

/* 1 when every byte of [p, p+n) equals `byte`. */
static inline int lc_all_bytes(const void *p, size_t n, uint8_t byte) {
    const uint8_t *b = (const uint8_t *)p;
    size_t i;
    for (i = 0; i < n; ++i)
        if (b[i] != byte) return 0;
    return 1;
}

/* The library's layout against the spec's reference computation. */
static inline void lc_expect_layout(lc_run *r, const l3l2q_layout *got, uint64_t depth, uint64_t in_arena,
                                    uint64_t out_arena, const spec_payload_layout *want) {
    LC_EQ(r, got->depth, depth);
    LC_EQ(r, got->input_desc_offset, want->input_ring_offset);
    LC_EQ(r, got->output_desc_offset, want->output_ring_offset);
    LC_EQ(r, got->input_arena_offset, want->input_arena_offset);
    LC_EQ(r, got->input_arena_bytes, in_arena);
    LC_EQ(r, got->output_arena_offset, want->output_arena_offset);
    LC_EQ(r, got->output_arena_bytes, out_arena);
    LC_EQ(r, got->payload_bytes, want->payload_bytes);
    LC_EQ(r, got->counter_bytes, SPEC_COUNTER_BYTES);
}

/* ---- SPEC section 3: layout ------------------------------------------ */

typedef struct lc_worked_case {
    uint64_t depth, in_arena, out_arena;
    uint64_t out_desc, in_arena_off, out_arena_off, payload_bytes;
} lc_worked_case;

static inline void lc_check_worked_layouts(lc_run *r) {
    /* Literally the three worked cases of SPEC section 3. */
    static const lc_worked_case cases[3] = {
        {1, 64, 64, 32, 64, 128, 192},
        {4, 128, 192, 128, 256, 384, 576},
        {8, 192, 64, 256, 512, 704, 768},
    };
    size_t i;
    for (i = 0; i < 3; ++i) {
        const lc_worked_case *c = &cases[i];
        spec_payload_layout want;
        l3l2q_layout got;
        l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
        memset(&got, LC_PATTERN, sizeof got);
        LC_EQ(r, l3l2q_layout_compute(c->depth, c->in_arena, c->out_arena, &got, &v), L3L2Q_STATUS_OK);
        LC_EQ(r, v, L3L2Q_VIOLATION_VALID);
        want.input_ring_offset = 0;
        want.output_ring_offset = c->out_desc;
        want.input_arena_offset = c->in_arena_off;
        want.output_arena_offset = c->out_arena_off;
        want.payload_bytes = c->payload_bytes;
        lc_expect_layout(r, &got, c->depth, c->in_arena, c->out_arena, &want);
        /* The reference computation agrees with the worked case too. */
        {
            spec_payload_layout ref;
            LC_CHECK(r, spec_reference_layout(c->depth, c->in_arena, c->out_arena, &ref) == 1);
            LC_CHECK(r, memcmp(&ref, &want, sizeof ref) == 0);
        }
    }
}

static inline void lc_check_layout_grid(lc_run *r) {
    /* Many valid combinations, including depth 2^30, against the reference. */
    static const uint64_t depths[] = {1, 2, 4, 16, 1024, UINT64_C(1) << 20, UINT64_C(1) << 30};
    static const uint64_t arenas[] = {64, 128, 192, 960, 4096, 64 * 1000003, UINT64_C(1) << 40};
    unsigned mismatches = 0, total = 0;
    size_t d, i, o;
    for (d = 0; d < sizeof depths / sizeof depths[0]; ++d)
        for (i = 0; i < sizeof arenas / sizeof arenas[0]; ++i)
            for (o = 0; o < sizeof arenas / sizeof arenas[0]; ++o) {
                spec_payload_layout want;
                l3l2q_layout got;
                l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
                int ok = spec_reference_layout(depths[d], arenas[i], arenas[o], &want);
                enum l3l2q_status st = l3l2q_layout_compute(depths[d], arenas[i], arenas[o], &got, &v);
                total++;
                if (!ok || st != L3L2Q_STATUS_OK || v != L3L2Q_VIOLATION_VALID || got.depth != depths[d] ||
                    got.input_desc_offset != 0 || got.output_desc_offset != want.output_ring_offset ||
                    got.input_arena_offset != want.input_arena_offset || got.input_arena_bytes != arenas[i] ||
                    got.output_arena_offset != want.output_arena_offset || got.output_arena_bytes != arenas[o] ||
                    got.payload_bytes != want.payload_bytes || got.counter_bytes != SPEC_COUNTER_BYTES) {
                    mismatches++;
                    printf("  layout mismatch depth=%" PRIu64 " in=%" PRIu64 " out=%" PRIu64 "\n", depths[d],
                           arenas[i], arenas[o]);
                }
            }
    LC_EQ(r, mismatches, 0);
    LC_EQ(r, total, 7 * 7 * 7);
    /* Exactly depth slots per ring, arenas 64-aligned (spot check). */
    {
        l3l2q_layout got;
        LC_EQ(r, l3l2q_layout_compute(UINT64_C(1) << 30, 64, 64, &got, NULL), L3L2Q_STATUS_OK);
        LC_EQ(r, got.output_desc_offset, (UINT64_C(1) << 30) * 32);
        LC_EQ(r, got.input_arena_offset, (UINT64_C(1) << 30) * 64);
        LC_EQ(r, got.payload_bytes, (UINT64_C(1) << 30) * 64 + 128);
    }
}

/* Expects a rejected layout request with `want` and an untouched output. */
static inline void lc_expect_layout_rejected(lc_run *r, uint64_t depth, uint64_t in_arena, uint64_t out_arena,
                                             l3l2q_violation want, int line) {
    l3l2q_layout got;
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    enum l3l2q_status st;
    spec_payload_layout ref;
    memset(&got, LC_PATTERN, sizeof got);
    st = l3l2q_layout_compute(depth, in_arena, out_arena, &got, &v);
    lc_record_u64(r, st, L3L2Q_STATUS_BAD_DESCRIPTOR, __FILE__, line, "rejected layout status");
    lc_record_u64(r, v, want, __FILE__, line, "rejected layout violation");
    lc_record(r, lc_all_bytes(&got, sizeof got, LC_PATTERN), __FILE__, line, "rejected layout left *out untouched");
    lc_record(r, spec_reference_layout(depth, in_arena, out_arena, &ref) == 0, __FILE__, line,
              "reference computation rejects it too");
    /* out_violation is optional. */
    st = l3l2q_layout_compute(depth, in_arena, out_arena, &got, NULL);
    lc_record_u64(r, st, L3L2Q_STATUS_BAD_DESCRIPTOR, __FILE__, line, "rejected layout status (no violation out)");
    lc_record(r, lc_all_bytes(&got, sizeof got, LC_PATTERN), __FILE__, line, "still untouched");
}

static inline void lc_check_layout_rejections(lc_run *r) {
    const uint64_t two30 = UINT64_C(1) << 30;
    const uint64_t huge = UINT64_MAX & ~UINT64_C(63);
    /* depth: not a power of two, zero, above 2^30 */
    lc_expect_layout_rejected(r, 0, 64, 64, L3L2Q_VIOLATION_DEPTH, __LINE__);
    lc_expect_layout_rejected(r, 3, 64, 64, L3L2Q_VIOLATION_DEPTH, __LINE__);
    lc_expect_layout_rejected(r, 6, 64, 64, L3L2Q_VIOLATION_DEPTH, __LINE__);
    lc_expect_layout_rejected(r, two30 + 1, 64, 64, L3L2Q_VIOLATION_DEPTH, __LINE__);
    lc_expect_layout_rejected(r, two30 << 1, 64, 64, L3L2Q_VIOLATION_DEPTH, __LINE__);
    lc_expect_layout_rejected(r, UINT64_C(1) << 63, 64, 64, L3L2Q_VIOLATION_DEPTH, __LINE__);
    lc_expect_layout_rejected(r, UINT64_MAX, 64, 64, L3L2Q_VIOLATION_DEPTH, __LINE__);
    /* arenas: zero, 65, not a multiple of 64 */
    lc_expect_layout_rejected(r, 4, 0, 64, L3L2Q_VIOLATION_INPUT_ARENA, __LINE__);
    lc_expect_layout_rejected(r, 4, 65, 64, L3L2Q_VIOLATION_INPUT_ARENA, __LINE__);
    lc_expect_layout_rejected(r, 4, 100, 64, L3L2Q_VIOLATION_INPUT_ARENA, __LINE__);
    lc_expect_layout_rejected(r, 4, 32, 64, L3L2Q_VIOLATION_INPUT_ARENA, __LINE__);
    lc_expect_layout_rejected(r, 4, 64, 0, L3L2Q_VIOLATION_OUTPUT_ARENA, __LINE__);
    lc_expect_layout_rejected(r, 4, 64, 65, L3L2Q_VIOLATION_OUTPUT_ARENA, __LINE__);
    lc_expect_layout_rejected(r, 4, 64, 1000, L3L2Q_VIOLATION_OUTPUT_ARENA, __LINE__);
    lc_expect_layout_rejected(r, 4, 64, UINT64_MAX, L3L2Q_VIOLATION_OUTPUT_ARENA, __LINE__);
    /* overflow: huge arenas; the output must stay byte-for-byte untouched */
    lc_expect_layout_rejected(r, 1, huge, 64, L3L2Q_VIOLATION_LAYOUT_OVERFLOW, __LINE__);
    lc_expect_layout_rejected(r, 1, 64, huge, L3L2Q_VIOLATION_LAYOUT_OVERFLOW, __LINE__);
    lc_expect_layout_rejected(r, two30, huge - two30 * 64 + 64, 64, L3L2Q_VIOLATION_LAYOUT_OVERFLOW, __LINE__);
    lc_expect_layout_rejected(r, 1, UINT64_C(1) << 63, UINT64_C(1) << 63, L3L2Q_VIOLATION_LAYOUT_OVERFLOW, __LINE__);
    lc_expect_layout_rejected(r, 1, huge / 2, 64, L3L2Q_VIOLATION_INPUT_ARENA, __LINE__); /* 2^63 - 32 */
    lc_expect_layout_rejected(r, 1, huge - 64, 64, L3L2Q_VIOLATION_LAYOUT_OVERFLOW, __LINE__);
    lc_expect_layout_rejected(r, 1, huge - 128, 128, L3L2Q_VIOLATION_LAYOUT_OVERFLOW, __LINE__);
    /* ...while the largest layout that still fits is accepted exactly */
    {
        l3l2q_layout got;
        spec_payload_layout want;
        const uint64_t in_arena = huge - 128; /* rings end at 64, input arena ends at huge - 64 */
        LC_CHECK(r, spec_reference_layout(1, in_arena, 64, &want) == 1);
        LC_EQ(r, l3l2q_layout_compute(1, in_arena, 64, &got, NULL), L3L2Q_STATUS_OK);
        lc_expect_layout(r, &got, 1, in_arena, 64, &want);
        LC_EQ(r, got.payload_bytes, huge);
    }
}

/* ---- SPEC sections 1-2: magic words ---------------------------------- */

static inline void lc_check_magic(lc_run *r) {
    uint64_t word = 0;
    uint32_t magic = 0;
    uint16_t major = 0, minor = 0;
    LC_EQ(r, l3l2q_magic_version_pack(SPEC_REGION_MAGIC, 2, 0, &word), L3L2Q_STATUS_OK);
    LC_EQ(r, word, UINT64_C(0x4C334C3200020000));
    LC_EQ(r, word, SPEC_REGION_WORD);
    LC_EQ(r, l3l2q_magic_version_pack(SPEC_QUEUE_MAGIC, 1, 1, &word), L3L2Q_STATUS_OK);
    LC_EQ(r, word, UINT64_C(0x4C33513200010001));
    LC_EQ(r, word, SPEC_QUEUE_WORD);
    LC_EQ(r, l3l2q_magic_version_pack(0xDEADBEEF, 0xFFFF, 0x1234, &word), L3L2Q_STATUS_OK);
    LC_EQ(r, word, UINT64_C(0xDEADBEEFFFFF1234));
    LC_EQ(r, l3l2q_magic_version_unpack(UINT64_C(0xDEADBEEFFFFF1234), &magic, &major, &minor), L3L2Q_STATUS_OK);
    LC_EQ(r, magic, 0xDEADBEEF);
    LC_EQ(r, major, 0xFFFF);
    LC_EQ(r, minor, 0x1234);
    LC_EQ(r, l3l2q_magic_version_unpack(SPEC_REGION_WORD | 7, &magic, &major, &minor), L3L2Q_STATUS_OK);
    LC_EQ(r, magic, SPEC_REGION_MAGIC);
    LC_EQ(r, major, SPEC_REGION_ABI_MAJOR);
    LC_EQ(r, minor, 7);
    LC_EQ(r, l3l2q_magic_version_unpack(SPEC_QUEUE_WORD, &magic, &major, &minor), L3L2Q_STATUS_OK);
    LC_EQ(r, magic, SPEC_QUEUE_MAGIC);
    LC_EQ(r, major, SPEC_QUEUE_ABI_MAJOR);
    LC_EQ(r, minor, SPEC_QUEUE_ABI_MINOR);
    /* "L3L2" / "L3Q2" in ASCII, most significant byte first */
    LC_EQ(r, (SPEC_REGION_MAGIC >> 24) & 0xFF, 'L');
    LC_EQ(r, (SPEC_REGION_MAGIC >> 16) & 0xFF, '3');
    LC_EQ(r, (SPEC_REGION_MAGIC >> 8) & 0xFF, 'L');
    LC_EQ(r, SPEC_REGION_MAGIC & 0xFF, '2');
    LC_EQ(r, (SPEC_QUEUE_MAGIC >> 8) & 0xFF, 'Q');
}

/* ---- SPEC section 1: region descriptor validation --------------------- */

/* A valid descriptor: payload and counter ranges apart, counter aligned. */
static inline l3l2q_region_descriptor lc_good_descriptor(void) {
    l3l2q_region_descriptor d;
    d.magic_version = SPEC_REGION_WORD;
    d.region_id = 7;
    d.payload_base = UINT64_C(0x100001); /* deliberately unaligned */
    d.payload_bytes = 576;
    d.counter_base = UINT64_C(0x200000);
    d.counter_bytes = SPEC_COUNTER_BYTES;
    return d;
}

static inline void lc_expect_descriptor(lc_run *r, const l3l2q_region_descriptor *d, l3l2q_violation want,
                                        int line) {
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    l3l2q_region_descriptor copy = *d;
    enum l3l2q_status st = l3l2q_region_descriptor_validate(d, &v);
    lc_record_u64(r, st, want == L3L2Q_VIOLATION_VALID ? L3L2Q_STATUS_OK : L3L2Q_STATUS_BAD_DESCRIPTOR, __FILE__,
                  line, "descriptor validation status");
    lc_record_u64(r, v, want, __FILE__, line, "descriptor validation violation");
    lc_record(r, memcmp(&copy, d, sizeof copy) == 0, __FILE__, line, "descriptor not modified");
}

#define LC_DESCRIPTOR_CASE(field_assignment, want)                 \
    do {                                                           \
        l3l2q_region_descriptor d_ = lc_good_descriptor();         \
        d_.field_assignment;                                       \
        lc_expect_descriptor(r, &d_, (want), __LINE__);            \
    } while (0)

static inline void lc_check_descriptor_rules(lc_run *r) {
    const uint64_t top = UINT64_MAX & ~UINT64_C(63);
    l3l2q_region_descriptor good = lc_good_descriptor();
    lc_expect_descriptor(r, &good, L3L2Q_VIOLATION_VALID, __LINE__);
    /* magic (each byte position), major, minor */
    LC_DESCRIPTOR_CASE(magic_version = 0, L3L2Q_VIOLATION_REGION_MAGIC);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_REGION_WORD ^ (UINT64_C(1) << 32), L3L2Q_VIOLATION_REGION_MAGIC);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_REGION_WORD ^ (UINT64_C(1) << 63), L3L2Q_VIOLATION_REGION_MAGIC);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_QUEUE_WORD, L3L2Q_VIOLATION_REGION_MAGIC);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 1, 0), L3L2Q_VIOLATION_REGION_MAJOR);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 4, 0), L3L2Q_VIOLATION_REGION_MAJOR);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 0, 0), L3L2Q_VIOLATION_REGION_MAJOR);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 0xFFFF, 0), L3L2Q_VIOLATION_REGION_MAJOR);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 2, 1), L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 2, 0xFFFF), L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 3, 0), L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 3, 9), L3L2Q_VIOLATION_VALID);
    /* region_id, payload range */
    LC_DESCRIPTOR_CASE(region_id = 0, L3L2Q_VIOLATION_REGION_ID_ZERO);
    LC_DESCRIPTOR_CASE(region_id = UINT64_MAX, L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(payload_base = 0, L3L2Q_VIOLATION_PAYLOAD_BASE_ZERO);
    LC_DESCRIPTOR_CASE(payload_base = 3, L3L2Q_VIOLATION_VALID); /* no alignment rule */
    LC_DESCRIPTOR_CASE(payload_bytes = 0, L3L2Q_VIOLATION_PAYLOAD_BYTES_ZERO);
    LC_DESCRIPTOR_CASE(payload_bytes = 1, L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(payload_base = UINT64_MAX - 10, L3L2Q_VIOLATION_PAYLOAD_RANGE_OVERFLOW);
    LC_DESCRIPTOR_CASE(payload_bytes = UINT64_MAX, L3L2Q_VIOLATION_PAYLOAD_RANGE_OVERFLOW);
    LC_DESCRIPTOR_CASE(payload_base = UINT64_MAX - 576, L3L2Q_VIOLATION_VALID); /* ends exactly at 2^64 - 1 */
    LC_DESCRIPTOR_CASE(payload_base = UINT64_MAX - 575, L3L2Q_VIOLATION_PAYLOAD_RANGE_OVERFLOW);
    /* counter range */
    LC_DESCRIPTOR_CASE(counter_base = 0, L3L2Q_VIOLATION_COUNTER_BASE_ZERO);
    LC_DESCRIPTOR_CASE(counter_base = UINT64_C(0x200004), L3L2Q_VIOLATION_COUNTER_BASE_MISALIGNED);
    LC_DESCRIPTOR_CASE(counter_base = UINT64_C(0x200020), L3L2Q_VIOLATION_COUNTER_BASE_MISALIGNED);
    LC_DESCRIPTOR_CASE(counter_base = UINT64_C(0x20003F), L3L2Q_VIOLATION_COUNTER_BASE_MISALIGNED);
    LC_DESCRIPTOR_CASE(counter_base = UINT64_C(0x200040), L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(counter_bytes = 0, L3L2Q_VIOLATION_COUNTER_BYTES_INVALID);
    LC_DESCRIPTOR_CASE(counter_bytes = 6, L3L2Q_VIOLATION_COUNTER_BYTES_INVALID);
    LC_DESCRIPTOR_CASE(counter_bytes = 385, L3L2Q_VIOLATION_COUNTER_BYTES_INVALID);
    LC_DESCRIPTOR_CASE(counter_bytes = 4, L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(counter_bytes = 388, L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(counter_base = top, L3L2Q_VIOLATION_COUNTER_RANGE_OVERFLOW);
    LC_DESCRIPTOR_CASE(counter_bytes = UINT64_MAX & ~UINT64_C(3), L3L2Q_VIOLATION_COUNTER_RANGE_OVERFLOW);
    /* overlap: counter inside payload, payload tail into counters, payload
     * containing the counters, and exact adjacency (allowed) both ways */
    LC_DESCRIPTOR_CASE(counter_base = UINT64_C(0x100040), L3L2Q_VIOLATION_RANGES_OVERLAP);
    LC_DESCRIPTOR_CASE(payload_base = UINT64_C(0x200000) - 1, L3L2Q_VIOLATION_RANGES_OVERLAP);
    LC_DESCRIPTOR_CASE(payload_base = UINT64_C(0x200000) + 383, L3L2Q_VIOLATION_RANGES_OVERLAP);
    LC_DESCRIPTOR_CASE(payload_base = UINT64_C(0x200000) + 384, L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(payload_base = UINT64_C(0x200000) - 576, L3L2Q_VIOLATION_VALID);
    LC_DESCRIPTOR_CASE(payload_base = UINT64_C(0x200000) - 575, L3L2Q_VIOLATION_RANGES_OVERLAP);
    {
        l3l2q_region_descriptor d = lc_good_descriptor();
        d.payload_base = UINT64_C(0x1FFF00);
        d.payload_bytes = 0x1000; /* wholly contains the counter range */
        lc_expect_descriptor(r, &d, L3L2Q_VIOLATION_RANGES_OVERLAP, __LINE__);
        d.payload_base = UINT64_C(0x200000);
        d.payload_bytes = 1; /* same start */
        lc_expect_descriptor(r, &d, L3L2Q_VIOLATION_RANGES_OVERLAP, __LINE__);
    }
    /* the optional out_violation may be NULL */
    LC_EQ(r, l3l2q_region_descriptor_validate(&good, NULL), L3L2Q_STATUS_OK);
    {
        l3l2q_region_descriptor d = lc_good_descriptor();
        d.region_id = 0;
        LC_EQ(r, l3l2q_region_descriptor_validate(&d, NULL), L3L2Q_STATUS_BAD_DESCRIPTOR);
    }
}

/* ---- SPEC section 2: queue validation (args vs layout vs descriptor) --- */

static inline l3l2q_queue_args lc_args_for(uint64_t depth, uint64_t in_arena, uint64_t out_arena) {
    spec_payload_layout ref;
    l3l2q_queue_args a;
    memset(&ref, 0, sizeof ref);
    (void)spec_reference_layout(depth, in_arena, out_arena, &ref);
    a.magic_version = SPEC_QUEUE_WORD;
    a.depth = depth;
    a.input_arena_bytes = in_arena;
    a.output_arena_bytes = out_arena;
    a.payload_bytes = ref.payload_bytes;
    a.counter_bytes = SPEC_COUNTER_BYTES;
    return a;
}

static inline void lc_expect_queue(lc_run *r, const l3l2q_region_descriptor *d, const l3l2q_queue_args *a,
                                   l3l2q_violation want, int line) {
    l3l2q_layout out;
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    enum l3l2q_status st;
    memset(&out, LC_PATTERN, sizeof out);
    st = l3l2q_queue_validate(d, a, &out, &v);
    lc_record_u64(r, st, want == L3L2Q_VIOLATION_VALID ? L3L2Q_STATUS_OK : L3L2Q_STATUS_BAD_DESCRIPTOR, __FILE__,
                  line, "queue validation status");
    lc_record_u64(r, v, want, __FILE__, line, "queue validation violation");
    if (want == L3L2Q_VIOLATION_VALID) {
        spec_payload_layout ref;
        lc_record(r, spec_reference_layout(a->depth, a->input_arena_bytes, a->output_arena_bytes, &ref), __FILE__,
                  line, "reference layout");
        lc_expect_layout(r, &out, a->depth, a->input_arena_bytes, a->output_arena_bytes, &ref);
    } else {
        lc_record(r, lc_all_bytes(&out, sizeof out, LC_PATTERN), __FILE__, line,
                  "rejected queue left *out_layout untouched");
    }
}

#define LC_QUEUE_CASE(target, assignment, want)                               \
    do {                                                                      \
        l3l2q_region_descriptor d_ = lc_good_descriptor();                    \
        l3l2q_queue_args a_ = lc_args_for(4, 128, 192);                       \
        d_.payload_bytes = a_.payload_bytes;                                  \
        target.assignment;                                                    \
        lc_expect_queue(r, &d_, &a_, (want), __LINE__);                       \
    } while (0)

static inline void lc_check_queue_rules(lc_run *r) {
    {
        l3l2q_region_descriptor d = lc_good_descriptor();
        l3l2q_queue_args a = lc_args_for(4, 128, 192);
        LC_EQ(r, a.payload_bytes, 576);
        d.payload_bytes = a.payload_bytes;
        lc_expect_queue(r, &d, &a, L3L2Q_VIOLATION_VALID, __LINE__);
        a = lc_args_for(1, 64, 64);
        d.payload_bytes = 192;
        lc_expect_queue(r, &d, &a, L3L2Q_VIOLATION_VALID, __LINE__);
    }
    /* the descriptor is judged first */
    LC_QUEUE_CASE(d_, region_id = 0, L3L2Q_VIOLATION_REGION_ID_ZERO);
    LC_QUEUE_CASE(d_, magic_version = SPEC_QUEUE_WORD, L3L2Q_VIOLATION_REGION_MAGIC);
    LC_QUEUE_CASE(d_, magic_version = SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, 3, 5), L3L2Q_VIOLATION_VALID);
    /* queue magic: exact equality, minor included */
    LC_QUEUE_CASE(a_, magic_version = SPEC_MAGIC_VERSION(SPEC_QUEUE_MAGIC, 1, 0), L3L2Q_VIOLATION_QUEUE_MAGIC);
    LC_QUEUE_CASE(a_, magic_version = SPEC_MAGIC_VERSION(SPEC_QUEUE_MAGIC, 1, 2), L3L2Q_VIOLATION_QUEUE_MAGIC);
    LC_QUEUE_CASE(a_, magic_version = SPEC_MAGIC_VERSION(SPEC_QUEUE_MAGIC, 2, 1), L3L2Q_VIOLATION_QUEUE_MAGIC);
    LC_QUEUE_CASE(a_, magic_version = SPEC_REGION_WORD, L3L2Q_VIOLATION_QUEUE_MAGIC);
    LC_QUEUE_CASE(a_, magic_version = 0, L3L2Q_VIOLATION_QUEUE_MAGIC);
    /* args' own layout parameters */
    LC_QUEUE_CASE(a_, depth = 3, L3L2Q_VIOLATION_DEPTH);
    LC_QUEUE_CASE(a_, depth = 0, L3L2Q_VIOLATION_DEPTH);
    LC_QUEUE_CASE(a_, input_arena_bytes = 100, L3L2Q_VIOLATION_INPUT_ARENA);
    LC_QUEUE_CASE(a_, output_arena_bytes = 0, L3L2Q_VIOLATION_OUTPUT_ARENA);
    LC_QUEUE_CASE(a_, input_arena_bytes = UINT64_MAX & ~UINT64_C(63), L3L2Q_VIOLATION_LAYOUT_OVERFLOW);
    /* args vs their computed layout */
    LC_QUEUE_CASE(a_, payload_bytes = 576 + 64, L3L2Q_VIOLATION_ARGS_PAYLOAD_BYTES);
    LC_QUEUE_CASE(a_, payload_bytes = 575, L3L2Q_VIOLATION_ARGS_PAYLOAD_BYTES);
    LC_QUEUE_CASE(a_, counter_bytes = 768, L3L2Q_VIOLATION_ARGS_COUNTER_BYTES);
    LC_QUEUE_CASE(a_, counter_bytes = 0, L3L2Q_VIOLATION_ARGS_COUNTER_BYTES);
    /* descriptor sizes vs args */
    LC_QUEUE_CASE(d_, payload_bytes = 640, L3L2Q_VIOLATION_DESCRIPTOR_PAYLOAD_BYTES);
    LC_QUEUE_CASE(d_, payload_bytes = 512, L3L2Q_VIOLATION_DESCRIPTOR_PAYLOAD_BYTES);
    LC_QUEUE_CASE(d_, counter_bytes = 512, L3L2Q_VIOLATION_DESCRIPTOR_COUNTER_BYTES);
    LC_QUEUE_CASE(d_, counter_bytes = 256, L3L2Q_VIOLATION_DESCRIPTOR_COUNTER_BYTES);
    /* the optional out_violation may be NULL */
    {
        l3l2q_region_descriptor d = lc_good_descriptor();
        l3l2q_queue_args a = lc_args_for(4, 128, 192);
        l3l2q_layout out;
        d.payload_bytes = a.payload_bytes;
        LC_EQ(r, l3l2q_queue_validate(&d, &a, &out, NULL), L3L2Q_STATUS_OK);
        LC_EQ(r, out.payload_bytes, 576);
        a.depth = 5;
        LC_EQ(r, l3l2q_queue_validate(&d, &a, &out, NULL), L3L2Q_STATUS_BAD_DESCRIPTOR);
    }
}

/* ---- SPEC section 2: the twelve task scalars -------------------------- */

static inline void lc_check_task_scalars(lc_run *r) {
    l3l2q_region_descriptor d, d2;
    l3l2q_queue_args a, a2;
    uint64_t s[SPEC_TASK_SCALAR_COUNT + 2];
    spec_task_scalars as_spec;
    size_t i;
    /* Twelve distinct values, so any misordering shows. */
    d.magic_version = UINT64_C(0x1111111111111101);
    d.region_id = UINT64_C(0x1111111111111102);
    d.payload_base = UINT64_C(0x1111111111111103);
    d.payload_bytes = UINT64_C(0x1111111111111104);
    d.counter_base = UINT64_C(0x1111111111111105);
    d.counter_bytes = UINT64_C(0x1111111111111106);
    a.magic_version = UINT64_C(0x2222222222222207);
    a.depth = UINT64_C(0x2222222222222208);
    a.input_arena_bytes = UINT64_C(0x2222222222222209);
    a.output_arena_bytes = UINT64_C(0x222222222222220A);
    a.payload_bytes = UINT64_C(0x222222222222220B);
    a.counter_bytes = UINT64_C(0x222222222222220C);
    memset(s, LC_PATTERN, sizeof s);
    LC_EQ(r, l3l2q_task_scalars_encode(&d, &a, s, SPEC_TASK_SCALAR_COUNT), L3L2Q_STATUS_OK);
    /* order: descriptor fields 0..5, then args 6..11 */
    LC_EQ(r, s[0], d.magic_version);
    LC_EQ(r, s[1], d.region_id);
    LC_EQ(r, s[2], d.payload_base);
    LC_EQ(r, s[3], d.payload_bytes);
    LC_EQ(r, s[4], d.counter_base);
    LC_EQ(r, s[5], d.counter_bytes);
    LC_EQ(r, s[6], a.magic_version);
    LC_EQ(r, s[7], a.depth);
    LC_EQ(r, s[8], a.input_arena_bytes);
    LC_EQ(r, s[9], a.output_arena_bytes);
    LC_EQ(r, s[10], a.payload_bytes);
    LC_EQ(r, s[11], a.counter_bytes);
    LC_CHECK(r, lc_all_bytes(&s[12], 2 * sizeof s[0], LC_PATTERN)); /* nothing past 12 */
    /* the same order, read through the independent struct */
    memcpy(&as_spec, s, sizeof as_spec);
    LC_EQ(r, as_spec.region.region_id, d.region_id);
    LC_EQ(r, as_spec.region.counter_bytes, d.counter_bytes);
    LC_EQ(r, as_spec.queue.magic_version, a.magic_version);
    LC_EQ(r, as_spec.queue.depth, a.depth);
    LC_EQ(r, as_spec.queue.counter_bytes, a.counter_bytes);
    /* decode is the exact inverse */
    memset(&d2, LC_PATTERN, sizeof d2);
    memset(&a2, LC_PATTERN, sizeof a2);
    LC_EQ(r, l3l2q_task_scalars_decode(s, SPEC_TASK_SCALAR_COUNT, &d2, &a2), L3L2Q_STATUS_OK);
    LC_CHECK(r, memcmp(&d, &d2, sizeof d) == 0);
    LC_CHECK(r, memcmp(&a, &a2, sizeof a) == 0);
    /* decode does not validate: garbage round-trips too */
    for (i = 0; i < SPEC_TASK_SCALAR_COUNT; ++i) s[i] = (uint64_t)i * UINT64_C(0x0101010101010101);
    LC_EQ(r, l3l2q_task_scalars_decode(s, SPEC_TASK_SCALAR_COUNT, &d2, &a2), L3L2Q_STATUS_OK);
    LC_EQ(r, d2.magic_version, 0);
    LC_EQ(r, d2.counter_bytes, s[5]);
    LC_EQ(r, a2.magic_version, s[6]);
    LC_EQ(r, a2.counter_bytes, s[11]);
    /* the count must be exactly twelve; nothing is written otherwise */
    memset(s, LC_PATTERN, sizeof s);
    LC_EQ(r, l3l2q_task_scalars_encode(&d, &a, s, 11), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, l3l2q_task_scalars_encode(&d, &a, s, 13), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, l3l2q_task_scalars_encode(&d, &a, s, 0), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_CHECK(r, lc_all_bytes(s, sizeof s, LC_PATTERN));
    memset(&d2, LC_PATTERN, sizeof d2);
    memset(&a2, LC_PATTERN, sizeof a2);
    LC_EQ(r, l3l2q_task_scalars_decode(s, 11, &d2, &a2), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, l3l2q_task_scalars_decode(s, 13, &d2, &a2), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_CHECK(r, lc_all_bytes(&d2, sizeof d2, LC_PATTERN));
    LC_CHECK(r, lc_all_bytes(&a2, sizeof a2, LC_PATTERN));
}

/* ---- SPEC section 4: descriptor slot codec ---------------------------- */

static inline void lc_check_slots(lc_run *r) {
    l3l2q_descriptor_slot slot, back;
    uint8_t wire[48];
    uint8_t expect[32];
    uint64_t storage[8]; /* 8-aligned; decode from deliberately odd offsets */
    uint8_t *raw = (uint8_t *)storage;
    size_t off, i;
    slot.seq = UINT64_C(0x0102030405060708);
    slot.opcode = SPEC_OPCODE_ERROR;
    slot.payload_offset = UINT64_C(0x1122334455667788);
    slot.payload_nbytes = UINT64_C(0xF0E0D0C0B0A09080);
    /* the expected bytes, built one by one from the spec (little-endian) */
    for (i = 0; i < 8; ++i) {
        expect[i] = (uint8_t)(8 - i);                     /* 08 07 06 ... 01 */
        expect[8 + i] = (uint8_t)(i == 0 ? 3 : 0);         /* opcode 3 */
        expect[16 + i] = (uint8_t)(0x88 - 0x11 * i);       /* 88 77 ... 11 */
        expect[24 + i] = (uint8_t)(0x80 + 0x10 * i);       /* 80 90 ... F0 */
    }
    memset(wire, LC_PATTERN, sizeof wire);
    LC_EQ(r, l3l2q_slot_encode(&slot, wire, sizeof wire), L3L2Q_STATUS_OK);
    LC_CHECK(r, memcmp(wire, expect, 32) == 0);
    LC_CHECK(r, lc_all_bytes(wire + 32, 16, LC_PATTERN)); /* only 32 bytes written */
    LC_EQ(r, spec_load_le64(wire + 0), slot.seq);
    LC_EQ(r, spec_load_le64(wire + 8), slot.opcode);
    LC_EQ(r, spec_load_le64(wire + 16), slot.payload_offset);
    LC_EQ(r, spec_load_le64(wire + 24), slot.payload_nbytes);
    /* too short: nothing written */
    memset(wire, LC_PATTERN, sizeof wire);
    LC_EQ(r, l3l2q_slot_encode(&slot, wire, 31), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, l3l2q_slot_encode(&slot, wire, 0), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_CHECK(r, lc_all_bytes(wire, sizeof wire, LC_PATTERN));
    /* decode from every misalignment 0..7 */
    for (off = 0; off < 8; ++off) {
        memset(raw, 0, sizeof storage);
        memcpy(raw + off, expect, 32);
        memset(&back, LC_PATTERN, sizeof back);
        LC_EQ(r, l3l2q_slot_decode(raw + off, 32, &back), L3L2Q_STATUS_OK);
        LC_CHECK(r, memcmp(&back, &slot, sizeof slot) == 0);
    }
    /* decode of a hand-built STOP slot (seq 2, zero bytes) from offset 3 */
    memset(raw, 0xEE, sizeof storage);
    spec_store_le64(raw + 3, 2);
    spec_store_le64(raw + 3 + 8, SPEC_OPCODE_STOP);
    spec_store_le64(raw + 3 + 16, 0);
    spec_store_le64(raw + 3 + 24, 0);
    LC_EQ(r, l3l2q_slot_decode(raw + 3, 40, &back), L3L2Q_STATUS_OK);
    LC_EQ(r, back.seq, 2);
    LC_EQ(r, back.opcode, SPEC_OPCODE_STOP);
    LC_EQ(r, back.payload_offset, 0);
    LC_EQ(r, back.payload_nbytes, 0);
    /* too short: nothing written */
    memset(&back, LC_PATTERN, sizeof back);
    LC_EQ(r, l3l2q_slot_decode(raw + 1, 31, &back), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, l3l2q_slot_decode(raw + 1, 0, &back), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_CHECK(r, lc_all_bytes(&back, sizeof back, LC_PATTERN));
}

/* ---- SPEC section 5: counter folding ---------------------------------- */

static inline void lc_expect_fold(lc_run *r, uint64_t local, uint32_t observed, uint64_t depth, int ok_expected,
                                  uint64_t want, int line) {
    uint64_t out = UINT64_C(0xA5A5A5A5A5A5A5A5);
    uint64_t ref = local;
    int ref_ok = spec_reference_fold(&ref, observed, depth);
    enum l3l2q_status st = l3l2q_counter_fold(local, observed, depth, &out);
    lc_record(r, ref_ok == ok_expected, __FILE__, line, "reference fold agrees with the case");
    if (ok_expected) {
        lc_record_u64(r, st, L3L2Q_STATUS_OK, __FILE__, line, "fold status");
        lc_record_u64(r, out, want, __FILE__, line, "folded count");
        lc_record_u64(r, ref, want, __FILE__, line, "reference folded count");
    } else {
        lc_record_u64(r, st, L3L2Q_STATUS_INCONSISTENT, __FILE__, line, "fold status (inconsistent)");
        lc_record_u64(r, out, UINT64_C(0xA5A5A5A5A5A5A5A5), __FILE__, line, "*out untouched");
    }
}

static inline void lc_check_counter_fold(lc_run *r) {
    const uint64_t b31 = UINT64_C(1) << 31, b32 = UINT64_C(1) << 32, d30 = UINT64_C(1) << 30;
    const uint64_t high = (UINT64_C(5) << 32) + UINT64_C(0xFFFFFFF0);
    uint64_t out;
    unsigned disagreements = 0;
    uint64_t local;
    /* plain cases */
    lc_expect_fold(r, 10, 10, 4, 1, 10, __LINE__);
    lc_expect_fold(r, 10, 14, 4, 1, 14, __LINE__);
    lc_expect_fold(r, 10, 15, 4, 0, 0, __LINE__);  /* too far ahead */
    lc_expect_fold(r, 10, 9, 4, 0, 0, __LINE__);   /* backward */
    lc_expect_fold(r, 0, 1, 1, 1, 1, __LINE__);
    lc_expect_fold(r, 0, 2, 1, 0, 0, __LINE__);
    /* across 2^31 */
    lc_expect_fold(r, b31 - 2, (uint32_t)(b31 + 1), 8, 1, b31 + 1, __LINE__);
    lc_expect_fold(r, b31 - 2, (uint32_t)(b31 + 6), 8, 1, b31 + 6, __LINE__);
    lc_expect_fold(r, b31 - 2, (uint32_t)(b31 + 7), 8, 0, 0, __LINE__);
    lc_expect_fold(r, b31 + 2, (uint32_t)(b31 - 1), 8, 0, 0, __LINE__);
    lc_expect_fold(r, b31, (uint32_t)b31, 8, 1, b31, __LINE__);
    /* across 2^32 */
    lc_expect_fold(r, b32 - 2, 1, 8, 1, b32 + 1, __LINE__);
    lc_expect_fold(r, b32 - 1, 0, 1, 1, b32, __LINE__);
    lc_expect_fold(r, b32 - 2, 7, 8, 0, 0, __LINE__);
    lc_expect_fold(r, b32 + 1, 0xFFFFFFFFu, 8, 0, 0, __LINE__);
    lc_expect_fold(r, high, 4, 32, 1, high + 0x14, __LINE__);
    lc_expect_fold(r, high, 0xFFFFFFEFu, 32, 0, 0, __LINE__);
    lc_expect_fold(r, high, 0x10, 32, 1, high + 0x20, __LINE__); /* exactly depth ahead */
    lc_expect_fold(r, high, 0x11, 32, 0, 0, __LINE__);
    /* full depth 2^30 and the i32 sign boundary */
    lc_expect_fold(r, 0, (uint32_t)d30, d30, 1, d30, __LINE__);
    lc_expect_fold(r, 0, (uint32_t)d30 + 1, d30, 0, 0, __LINE__);
    lc_expect_fold(r, 0, (uint32_t)b31, d30, 0, 0, __LINE__);
    lc_expect_fold(r, 0, 0xFFFFFFFFu, d30, 0, 0, __LINE__);
    lc_expect_fold(r, b32 * 7 + 5, (uint32_t)(5 + d30), d30, 1, b32 * 7 + 5 + d30, __LINE__);
    /* a sweep around the boundaries against the reference */
    for (local = b32 - 40; local < b32 + 40; ++local) {
        uint32_t k;
        for (k = 0; k < 48; ++k) {
            uint32_t obs = (uint32_t)local + k - 20;
            uint64_t ref = local;
            int ref_ok = spec_reference_fold(&ref, obs, 16);
            enum l3l2q_status st;
            out = 0;
            st = l3l2q_counter_fold(local, obs, 16, &out);
            if ((ref_ok ? st != L3L2Q_STATUS_OK || out != ref : st != L3L2Q_STATUS_INCONSISTENT)) disagreements++;
        }
    }
    LC_EQ(r, disagreements, 0);
    /* depth must itself be valid */
    out = 99;
    LC_EQ(r, l3l2q_counter_fold(0, 0, 0, &out), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, l3l2q_counter_fold(0, 0, 3, &out), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, l3l2q_counter_fold(0, 0, d30 * 2, &out), L3L2Q_STATUS_BAD_ARGUMENT);
    LC_EQ(r, out, 99);
}

/* ---- status / violation / error-kind text, version -------------------- */

static inline int lc_text_ok(const char *s) { return s != NULL && s[0] != '\0'; }

static inline void lc_check_strings(lc_run *r) {
    static const int32_t statuses[] = {
        L3L2Q_STATUS_OK,           L3L2Q_STATUS_NO_PROGRESS,     L3L2Q_STATUS_TIMEOUT,
        L3L2Q_STATUS_STOPPED,      L3L2Q_STATUS_BAD_ARGUMENT,    L3L2Q_STATUS_BUFFER_TOO_SMALL,
        L3L2Q_STATUS_BAD_DESCRIPTOR, L3L2Q_STATUS_CALLBACK_FAILED, L3L2Q_STATUS_INCONSISTENT,
        L3L2Q_STATUS_POISONED,     L3L2Q_STATUS_REMOTE_ABORTED,  L3L2Q_STATUS_PANIC,
    };
    static const int32_t unknown_statuses[] = {-1, 4, 9, 15, 29, 31, 9999, INT32_MIN, INT32_MAX};
    static const uint32_t unknown_codes[] = {22, 100, 0x80000000u, UINT32_MAX};
    const size_t ns = sizeof statuses / sizeof statuses[0];
    const char *unknown;
    size_t i, j;
    unsigned bad;

    unknown = l3l2q_status_str(9999);
    LC_CHECK(r, lc_text_ok(unknown));
    for (bad = 0, i = 0; i < sizeof unknown_statuses / sizeof unknown_statuses[0]; ++i)
        if (!lc_text_ok(l3l2q_status_str(unknown_statuses[i]))) bad++;
    LC_EQ(r, bad, 0);
    for (bad = 0, i = 0; i < ns; ++i) {
        const char *t = l3l2q_status_str(statuses[i]);
        if (!lc_text_ok(t) || (unknown && strcmp(t, unknown) == 0)) bad++;
        for (j = 0; j < i; ++j)
            if (t && strcmp(t, l3l2q_status_str(statuses[j])) == 0) bad++;
    }
    LC_EQ(r, bad, 0);

    unknown = l3l2q_violation_str(UINT32_MAX);
    LC_CHECK(r, lc_text_ok(unknown));
    for (bad = 0, i = 0; i <= (size_t)L3L2Q_VIOLATION_REGION_TOO_SMALL; ++i) {
        const char *t = l3l2q_violation_str((uint32_t)i);
        if (!lc_text_ok(t) || (unknown && strcmp(t, unknown) == 0)) bad++;
        for (j = 0; j < i; ++j)
            if (t && strcmp(t, l3l2q_violation_str((uint32_t)j)) == 0) bad++;
    }
    LC_EQ(r, bad, 0);
    for (bad = 0, i = 0; i < sizeof unknown_codes / sizeof unknown_codes[0]; ++i)
        if (!lc_text_ok(l3l2q_violation_str(unknown_codes[i]))) bad++;
    LC_EQ(r, bad, 0);

    unknown = l3l2q_error_kind_str(UINT32_MAX);
    LC_CHECK(r, lc_text_ok(unknown));
    for (bad = 0, i = 0; i < SPEC_ERROR_KIND_COUNT; ++i) {
        const char *t = l3l2q_error_kind_str((uint32_t)i);
        if (!lc_text_ok(t) || (unknown && strcmp(t, unknown) == 0)) bad++;
        for (j = 0; j < i; ++j)
            if (t && strcmp(t, l3l2q_error_kind_str((uint32_t)j)) == 0) bad++;
    }
    LC_EQ(r, bad, 0);
    for (bad = 0, i = 0; i < sizeof unknown_codes / sizeof unknown_codes[0]; ++i)
        if (!lc_text_ok(l3l2q_error_kind_str(unknown_codes[i] - 14))) bad++; /* 8, 86, ... */
    LC_EQ(r, bad, 0);

    /* operation names, number for number, in C (not only in the C++ wrapper) */
    {
        static const char *const operations[] = {"unknown", "create",       "peek",      "release", "reserve",
                                                 "publish", "enqueue", "request_stop", "read_into", "timeout"};
        LC_EQ(r, L3L2Q_OPERATION_TIMEOUT, 9);
        for (bad = 0, i = 0; i < sizeof operations / sizeof operations[0]; ++i) {
            const char *t = l3l2q_operation_str((uint32_t)i);
            if (t == NULL || strcmp(t, operations[i]) != 0) bad++;
        }
        LC_EQ(r, bad, 0);
        for (bad = 0, i = 0; i < sizeof unknown_codes / sizeof unknown_codes[0]; ++i) {
            const char *t = l3l2q_operation_str(unknown_codes[i] - 12); /* 10, 88, ... */
            if (t == NULL || strcmp(t, "unknown") != 0) bad++;
        }
        LC_EQ(r, bad, 0);
    }
}

static inline void lc_check_version(lc_run *r) {
    l3l2q_version_info v;
    char expect[64];
    memset(&v, 0, sizeof v);
    LC_EQ(r, l3l2q_version(&v), L3L2Q_STATUS_OK);
    LC_EQ(r, v.major, L3L2Q_VERSION_MAJOR);
    LC_EQ(r, v.minor, L3L2Q_VERSION_MINOR);
    LC_EQ(r, v.patch, L3L2Q_VERSION_PATCH);
    LC_EQ(r, v.c_abi_major, L3L2Q_C_ABI_MAJOR);
    LC_EQ(r, v.region_abi_major, SPEC_REGION_ABI_MAJOR);
    LC_EQ(r, v.region_abi_minor, SPEC_REGION_ABI_MINOR);
    LC_EQ(r, v.queue_abi_major, SPEC_QUEUE_ABI_MAJOR);
    LC_EQ(r, v.queue_abi_minor, SPEC_QUEUE_ABI_MINOR);
    snprintf(expect, sizeof expect, "%u.%u.%u", (unsigned)L3L2Q_VERSION_MAJOR, (unsigned)L3L2Q_VERSION_MINOR,
             (unsigned)L3L2Q_VERSION_PATCH);
    LC_CHECK(r, v.library != NULL && strcmp(v.library, expect) == 0);
}

/* ---- NULL pointers: BAD_ARGUMENT, nothing written ---------------------- */

static inline void lc_check_null_pure(lc_run *r) {
    const enum l3l2q_status BAD = L3L2Q_STATUS_BAD_ARGUMENT;
    l3l2q_region_descriptor d = lc_good_descriptor(), d_out;
    l3l2q_queue_args a = lc_args_for(4, 128, 192), a_out;
    l3l2q_layout lay;
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    l3l2q_descriptor_slot slot, slot_out;
    uint64_t s[SPEC_TASK_SCALAR_COUNT];
    uint8_t bytes[32];
    uint32_t magic = 0xA5A5A5A5u;
    uint16_t major = 0xA5A5, minor = 0xA5A5;
    d.payload_bytes = a.payload_bytes;
    memset(&slot, 0, sizeof slot);
    memset(s, 0, sizeof s);
    memset(bytes, 0, sizeof bytes);

    LC_EQ(r, l3l2q_version(NULL), BAD);
    LC_EQ(r, l3l2q_magic_version_pack(1, 2, 3, NULL), BAD);
    LC_EQ(r, l3l2q_magic_version_unpack(SPEC_QUEUE_WORD, NULL, &major, &minor), BAD);
    LC_EQ(r, l3l2q_magic_version_unpack(SPEC_QUEUE_WORD, &magic, NULL, &minor), BAD);
    LC_EQ(r, l3l2q_magic_version_unpack(SPEC_QUEUE_WORD, &magic, &major, NULL), BAD);
    LC_CHECK(r, magic == 0xA5A5A5A5u && major == 0xA5A5 && minor == 0xA5A5);

    LC_EQ(r, l3l2q_layout_compute(1, 64, 64, NULL, &v), BAD);
    LC_EQ(r, l3l2q_layout_compute(0, 64, 64, NULL, &v), BAD); /* NULL wins over a bad depth */
    LC_EQ(r, v, L3L2Q_VIOLATION_REGION_TOO_SMALL);

    LC_EQ(r, l3l2q_region_descriptor_validate(NULL, &v), BAD);
    LC_EQ(r, v, L3L2Q_VIOLATION_REGION_TOO_SMALL);

    memset(&lay, LC_PATTERN, sizeof lay);
    LC_EQ(r, l3l2q_queue_validate(NULL, &a, &lay, &v), BAD);
    LC_EQ(r, l3l2q_queue_validate(&d, NULL, &lay, &v), BAD);
    LC_EQ(r, l3l2q_queue_validate(&d, &a, NULL, &v), BAD);
    LC_CHECK(r, lc_all_bytes(&lay, sizeof lay, LC_PATTERN));
    LC_EQ(r, v, L3L2Q_VIOLATION_REGION_TOO_SMALL);

    memset(s, LC_PATTERN, sizeof s);
    LC_EQ(r, l3l2q_task_scalars_encode(NULL, &a, s, SPEC_TASK_SCALAR_COUNT), BAD);
    LC_EQ(r, l3l2q_task_scalars_encode(&d, NULL, s, SPEC_TASK_SCALAR_COUNT), BAD);
    LC_EQ(r, l3l2q_task_scalars_encode(&d, &a, NULL, SPEC_TASK_SCALAR_COUNT), BAD);
    LC_CHECK(r, lc_all_bytes(s, sizeof s, LC_PATTERN));
    memset(&d_out, LC_PATTERN, sizeof d_out);
    memset(&a_out, LC_PATTERN, sizeof a_out);
    LC_EQ(r, l3l2q_task_scalars_decode(NULL, SPEC_TASK_SCALAR_COUNT, &d_out, &a_out), BAD);
    LC_EQ(r, l3l2q_task_scalars_decode(s, SPEC_TASK_SCALAR_COUNT, NULL, &a_out), BAD);
    LC_EQ(r, l3l2q_task_scalars_decode(s, SPEC_TASK_SCALAR_COUNT, &d_out, NULL), BAD);
    LC_CHECK(r, lc_all_bytes(&d_out, sizeof d_out, LC_PATTERN));
    LC_CHECK(r, lc_all_bytes(&a_out, sizeof a_out, LC_PATTERN));

    memset(bytes, LC_PATTERN, sizeof bytes);
    LC_EQ(r, l3l2q_slot_encode(NULL, bytes, sizeof bytes), BAD);
    LC_CHECK(r, lc_all_bytes(bytes, sizeof bytes, LC_PATTERN));
    LC_EQ(r, l3l2q_slot_encode(&slot, NULL, 32), BAD);
    memset(&slot_out, LC_PATTERN, sizeof slot_out);
    LC_EQ(r, l3l2q_slot_decode(NULL, 32, &slot_out), BAD);
    LC_CHECK(r, lc_all_bytes(&slot_out, sizeof slot_out, LC_PATTERN));
    LC_EQ(r, l3l2q_slot_decode(bytes, sizeof bytes, NULL), BAD);

    LC_EQ(r, l3l2q_counter_fold(0, 1, 4, NULL), BAD);
    LC_EQ(r, l3l2q_counter_fold(0, 99, 4, NULL), BAD); /* NULL wins over inconsistency */
}

/* Every handle-taking function with a NULL handle, or with a NULL handle
 * slot for create/free: BAD_ARGUMENT and no output written. */
static inline void lc_check_null_handles(lc_run *r) {
    const enum l3l2q_status BAD = L3L2Q_STATUS_BAD_ARGUMENT;
    int sentinel_storage = 0;
    l3l2q_l2_endpoint *const ep_sentinel = (l3l2q_l2_endpoint *)(void *)&sentinel_storage;
    l3l2q_l3_queue *const q_sentinel = (l3l2q_l3_queue *)(void *)&sentinel_storage;
    l3l2q_l2_endpoint *ep = ep_sentinel;
    l3l2q_l3_queue *q = q_sentinel;
    l3l2q_l2_endpoint *ep_null = NULL;
    l3l2q_l3_queue *q_null = NULL;
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    l3l2q_region_descriptor d = lc_good_descriptor();
    l3l2q_l2_config l2cfg;
    l3l2q_l3_config l3cfg;
    l3l2q_region_callbacks cb;
    l3l2q_message msg;
    l3l2q_reservation res;
    l3l2q_error_info info;
    l3l2q_layout lay;
    uint64_t s[SPEC_TASK_SCALAR_COUNT];
    uint8_t buf[16];
    uint64_t opcode = 77;
    size_t len = 77;
    bool flag = true;

    l2cfg.max_inflight = 1;
    l2cfg.initial_count = 0;
    l3cfg.depth = 4;
    l3cfg.input_arena_bytes = 128;
    l3cfg.output_arena_bytes = 192;
    l3cfg.initial_count = 0;
    memset(&cb, 0, sizeof cb);
    memset(buf, 0, sizeof buf);
    memset(s, 0, sizeof s);
    memset(&msg, LC_PATTERN, sizeof msg);
    memset(&res, LC_PATTERN, sizeof res);
    memset(&info, LC_PATTERN, sizeof info);
    memset(&lay, LC_PATTERN, sizeof lay);

    /* create / free */
    LC_EQ(r, l3l2q_l2_endpoint_create(NULL, SPEC_TASK_SCALAR_COUNT, &l2cfg, &ep, &v), BAD);
    LC_EQ(r, l3l2q_l2_endpoint_create(s, SPEC_TASK_SCALAR_COUNT, NULL, &ep, &v), BAD);
    LC_EQ(r, l3l2q_l2_endpoint_create(s, SPEC_TASK_SCALAR_COUNT, &l2cfg, NULL, &v), BAD);
    LC_CHECK(r, ep == ep_sentinel);
    LC_EQ(r, l3l2q_l2_endpoint_free(NULL), BAD);
    LC_EQ(r, l3l2q_l2_endpoint_free(&ep_null), L3L2Q_STATUS_OK); /* NULL *handle: a no-op */
    LC_CHECK(r, ep_null == NULL);
    LC_EQ(r, l3l2q_l3_queue_create_mapped(NULL, &l3cfg, &q, &v), BAD);
    LC_EQ(r, l3l2q_l3_queue_create_mapped(&d, NULL, &q, &v), BAD);
    LC_EQ(r, l3l2q_l3_queue_create_mapped(&d, &l3cfg, NULL, &v), BAD);
    LC_EQ(r, l3l2q_l3_queue_create_callbacks(NULL, &cb, &l3cfg, &q, &v), BAD);
    LC_EQ(r, l3l2q_l3_queue_create_callbacks(&d, NULL, &l3cfg, &q, &v), BAD);
    LC_EQ(r, l3l2q_l3_queue_create_callbacks(&d, &cb, NULL, &q, &v), BAD);
    LC_EQ(r, l3l2q_l3_queue_create_callbacks(&d, &cb, &l3cfg, NULL, &v), BAD);
    /* callbacks present but every function pointer NULL */
    LC_EQ(r, l3l2q_l3_queue_create_callbacks(&d, &cb, &l3cfg, &q, &v), BAD);
    LC_CHECK(r, q == q_sentinel);
    LC_EQ(r, v, L3L2Q_VIOLATION_REGION_TOO_SMALL);
    LC_EQ(r, l3l2q_l3_queue_free(NULL), BAD);
    LC_EQ(r, l3l2q_l3_queue_free(&q_null), L3L2Q_STATUS_OK);
    LC_CHECK(r, q_null == NULL);

    /* L2 endpoint functions */
    LC_EQ(r, l3l2q_l2_try_peek(NULL, &msg), BAD);
    LC_EQ(r, l3l2q_l2_peek(NULL, &msg, 0), BAD);
    LC_EQ(r, l3l2q_l2_release(NULL, &msg), BAD);
    LC_EQ(r, l3l2q_l2_drained(NULL, &flag), BAD);
    LC_EQ(r, l3l2q_l2_remote_aborted(NULL, &flag), BAD);
    LC_EQ(r, l3l2q_l2_try_reserve(NULL, 8, &res), BAD);
    LC_EQ(r, l3l2q_l2_reserve(NULL, 8, &res, 0), BAD);
    LC_EQ(r, l3l2q_l2_publish(NULL, &res, SPEC_OPCODE_DATA, 0), BAD);
    LC_EQ(r, l3l2q_l2_error(NULL, &info), BAD);
    LC_EQ(r, l3l2q_l2_layout(NULL, &lay), BAD);

    /* L3 queue functions */
    LC_EQ(r, l3l2q_l3_task_scalars(NULL, s, SPEC_TASK_SCALAR_COUNT), BAD);
    LC_EQ(r, l3l2q_l3_layout(NULL, &lay), BAD);
    LC_EQ(r, l3l2q_l3_try_enqueue(NULL, SPEC_OPCODE_DATA, buf, 4), BAD);
    LC_EQ(r, l3l2q_l3_enqueue(NULL, SPEC_OPCODE_DATA, buf, 4, 0), BAD);
    LC_EQ(r, l3l2q_l3_try_request_stop(NULL), BAD);
    LC_EQ(r, l3l2q_l3_request_stop(NULL, 0), BAD);
    LC_EQ(r, l3l2q_l3_try_reserve(NULL, 8, &res), BAD);
    LC_EQ(r, l3l2q_l3_write_reserved(NULL, &res, 0, buf, 1), BAD);
    LC_EQ(r, l3l2q_l3_commit(NULL, &res, SPEC_OPCODE_DATA, 0), BAD);
    LC_EQ(r, l3l2q_l3_try_peek(NULL, &msg), BAD);
    LC_EQ(r, l3l2q_l3_peek(NULL, &msg, 0), BAD);
    LC_EQ(r, l3l2q_l3_read_into(NULL, &msg, buf, sizeof buf, &len), BAD);
    LC_EQ(r, l3l2q_l3_release(NULL, &msg), BAD);
    LC_EQ(r, l3l2q_l3_try_dequeue_into(NULL, buf, sizeof buf, &opcode, &len), BAD);
    LC_EQ(r, l3l2q_l3_dequeue_into(NULL, buf, sizeof buf, &opcode, &len, 0), BAD);
    LC_EQ(r, l3l2q_l3_error(NULL, &info), BAD);
    LC_EQ(r, l3l2q_l3_remote_aborted(NULL, &flag), BAD);

    LC_CHECK(r, lc_all_bytes(&msg, sizeof msg, LC_PATTERN));
    LC_CHECK(r, lc_all_bytes(&res, sizeof res, LC_PATTERN));
    LC_CHECK(r, lc_all_bytes(&info, sizeof info, LC_PATTERN));
    LC_CHECK(r, lc_all_bytes(&lay, sizeof lay, LC_PATTERN));
    LC_CHECK(r, lc_all_bytes(s, sizeof s, 0));
    LC_CHECK(r, lc_all_bytes(buf, sizeof buf, 0));
    LC_CHECK(r, opcode == 77 && len == 77 && flag);
}

/* ---- a real queue in this process: wire bytes, NULLs on live handles --- */

/* Payload and counters for depth 4, arenas 128/192: 576 + 384 bytes. The
 * payload base is deliberately odd (no alignment rule); counters 64-aligned. */
typedef struct lc_region {
    uint64_t storage[(2048 + 128) / 8];
    uint8_t *payload;
    uint8_t *counters;
} lc_region;

static inline void lc_region_init(lc_region *m) {
    uint8_t *raw = (uint8_t *)m->storage;
    uintptr_t at = (uintptr_t)raw;
    uintptr_t aligned = (at + 63) & ~(uintptr_t)63;
    memset(m->storage, 0x5A, sizeof m->storage); /* counters must be zeroed by the creator */
    m->counters = raw + (aligned - at);
    m->payload = m->counters + 512 + 1;
}

static inline int32_t lc_counter(const lc_region *m, size_t offset) {
    int32_t v;
    memcpy(&v, m->counters + offset, sizeof v);
    return v;
}

static inline spec_descriptor_slot lc_ring_slot(const lc_region *m, uint64_t ring_offset, uint64_t index) {
    spec_descriptor_slot s;
    const uint8_t *p = m->payload + ring_offset + index * SPEC_SLOT_BYTES;
    s.seq = spec_load_le64(p);
    s.opcode = spec_load_le64(p + 8);
    s.payload_offset = spec_load_le64(p + 16);
    s.payload_nbytes = spec_load_le64(p + 24);
    return s;
}

static inline void lc_check_live_queue(lc_run *r) {
    const enum l3l2q_status BAD = L3L2Q_STATUS_BAD_ARGUMENT;
    static lc_region m; /* static: large and needs to outlive nothing else */
    spec_payload_layout ref;
    l3l2q_region_descriptor d;
    l3l2q_l3_config l3cfg;
    l3l2q_l2_config l2cfg;
    l3l2q_l3_queue *q = NULL;
    l3l2q_l2_endpoint *ep = NULL;
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    uint64_t s[SPEC_TASK_SCALAR_COUNT];
    spec_task_scalars ts;
    l3l2q_layout lay;
    l3l2q_message msg;
    l3l2q_reservation res;
    l3l2q_error_info info;
    spec_descriptor_slot slot;
    uint8_t buf[64];
    uint64_t opcode = 0;
    size_t len = 0;
    bool drained = true;
    const uint8_t hello[5] = {'h', 'e', 'l', 'l', 'o'};

    lc_region_init(&m);
    LC_CHECK(r, spec_reference_layout(4, 128, 192, &ref) == 1);
    d.magic_version = SPEC_REGION_WORD;
    d.region_id = 42;
    d.payload_base = (uint64_t)(uintptr_t)m.payload;
    d.payload_bytes = ref.payload_bytes;
    d.counter_base = (uint64_t)(uintptr_t)m.counters;
    d.counter_bytes = SPEC_COUNTER_BYTES;
    l3cfg.depth = 4;
    l3cfg.input_arena_bytes = 128;
    l3cfg.output_arena_bytes = 192;
    l3cfg.initial_count = 0;
    LC_EQ(r, l3l2q_l3_queue_create_mapped(&d, &l3cfg, &q, &v), L3L2Q_STATUS_OK);
    LC_EQ(r, v, L3L2Q_VIOLATION_VALID);
    if (q == NULL) return;

    /* the creator zeroed all six counters */
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_INPUT_TAIL_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_INPUT_HEAD_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_OUTPUT_TAIL_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_OUTPUT_HEAD_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_L3_ABORT_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_L2_ABORT_OFFSET), 0);

    /* the task scalars are the descriptor then the args, as the spec says */
    LC_EQ(r, l3l2q_l3_task_scalars(q, s, SPEC_TASK_SCALAR_COUNT), L3L2Q_STATUS_OK);
    memcpy(&ts, s, sizeof ts);
    LC_CHECK(r, memcmp(&ts.region, &d, sizeof d) == 0);
    LC_EQ(r, ts.queue.magic_version, SPEC_QUEUE_WORD);
    LC_EQ(r, ts.queue.depth, 4);
    LC_EQ(r, ts.queue.input_arena_bytes, 128);
    LC_EQ(r, ts.queue.output_arena_bytes, 192);
    LC_EQ(r, ts.queue.payload_bytes, 576);
    LC_EQ(r, ts.queue.counter_bytes, SPEC_COUNTER_BYTES);
    LC_EQ(r, l3l2q_l3_layout(q, &lay), L3L2Q_STATUS_OK);
    lc_expect_layout(r, &lay, 4, 128, 192, &ref);

    l2cfg.max_inflight = 1;
    l2cfg.initial_count = 0;
    LC_EQ(r, l3l2q_l2_endpoint_create(s, SPEC_TASK_SCALAR_COUNT, &l2cfg, &ep, &v), L3L2Q_STATUS_OK);
    LC_EQ(r, v, L3L2Q_VIOLATION_VALID);
    if (ep == NULL) {
        l3l2q_l3_queue_free(&q);
        return;
    }
    memset(&lay, 0, sizeof lay);
    LC_EQ(r, l3l2q_l2_layout(ep, &lay), L3L2Q_STATUS_OK);
    lc_expect_layout(r, &lay, 4, 128, 192, &ref);

    /* NULL out/in pointers on live handles: BAD_ARGUMENT, nothing poisoned */
    LC_EQ(r, l3l2q_l3_task_scalars(q, NULL, SPEC_TASK_SCALAR_COUNT), BAD);
    LC_EQ(r, l3l2q_l3_layout(q, NULL), BAD);
    LC_EQ(r, l3l2q_l3_try_enqueue(q, SPEC_OPCODE_DATA, NULL, 4), BAD);
    LC_EQ(r, l3l2q_l3_enqueue(q, SPEC_OPCODE_DATA, NULL, 4, 0), BAD);
    LC_EQ(r, l3l2q_l3_try_reserve(q, 8, NULL), BAD);
    LC_EQ(r, l3l2q_l3_write_reserved(q, NULL, 0, buf, 1), BAD);
    LC_EQ(r, l3l2q_l3_commit(q, NULL, SPEC_OPCODE_DATA, 0), BAD);
    LC_EQ(r, l3l2q_l3_try_peek(q, NULL), BAD);
    LC_EQ(r, l3l2q_l3_peek(q, NULL, 0), BAD);
    LC_EQ(r, l3l2q_l3_read_into(q, NULL, buf, sizeof buf, &len), BAD);
    LC_EQ(r, l3l2q_l3_release(q, NULL), BAD);
    LC_EQ(r, l3l2q_l3_try_dequeue_into(q, NULL, sizeof buf, &opcode, &len), BAD);
    LC_EQ(r, l3l2q_l3_try_dequeue_into(q, buf, sizeof buf, NULL, &len), BAD);
    LC_EQ(r, l3l2q_l3_try_dequeue_into(q, buf, sizeof buf, &opcode, NULL), BAD);
    LC_EQ(r, l3l2q_l3_dequeue_into(q, buf, sizeof buf, NULL, &len, 0), BAD);
    LC_EQ(r, l3l2q_l3_error(q, NULL), BAD);
    LC_EQ(r, l3l2q_l2_try_peek(ep, NULL), BAD);
    LC_EQ(r, l3l2q_l2_peek(ep, NULL, 0), BAD);
    LC_EQ(r, l3l2q_l2_release(ep, NULL), BAD);
    LC_EQ(r, l3l2q_l2_drained(ep, NULL), BAD);
    LC_EQ(r, l3l2q_l2_try_reserve(ep, 8, NULL), BAD);
    LC_EQ(r, l3l2q_l2_reserve(ep, 8, NULL, 0), BAD);
    LC_EQ(r, l3l2q_l2_publish(ep, NULL, SPEC_OPCODE_DATA, 0), BAD);
    LC_EQ(r, l3l2q_l2_error(ep, NULL), BAD);
    LC_EQ(r, l3l2q_l2_layout(ep, NULL), BAD);
    LC_EQ(r, l3l2q_l2_remote_aborted(ep, NULL), BAD);
    LC_EQ(r, l3l2q_l3_remote_aborted(q, NULL), BAD);
    LC_EQ(r, opcode, 0);
    LC_EQ(r, len, 0);
    /* no shared state changed, neither side poisoned */
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_INPUT_TAIL_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_L3_ABORT_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_L2_ABORT_OFFSET), 0);
    memset(&info, LC_PATTERN, sizeof info);
    LC_EQ(r, l3l2q_l3_error(q, &info), L3L2Q_STATUS_OK);
    LC_EQ(r, info.kind, SPEC_ERROR_KIND_NONE);
    memset(&info, LC_PATTERN, sizeof info);
    LC_EQ(r, l3l2q_l2_error(ep, &info), L3L2Q_STATUS_OK);
    LC_EQ(r, info.kind, SPEC_ERROR_KIND_NONE);
    LC_EQ(r, l3l2q_l2_drained(ep, &drained), L3L2Q_STATUS_OK);
    LC_CHECK(r, !drained);
    /* the remote-abort query on a healthy pair: false, nothing recorded */
    drained = true;
    LC_EQ(r, l3l2q_l2_remote_aborted(ep, &drained), L3L2Q_STATUS_OK);
    LC_CHECK(r, !drained);
    drained = true;
    LC_EQ(r, l3l2q_l3_remote_aborted(q, &drained), L3L2Q_STATUS_OK);
    LC_CHECK(r, !drained);

    /* one input: the slot and payload bytes are exactly as SPEC 4 says */
    LC_EQ(r, l3l2q_l3_try_enqueue(q, SPEC_OPCODE_DATA, hello, sizeof hello), L3L2Q_STATUS_OK);
    slot = lc_ring_slot(&m, ref.input_ring_offset, 0);
    LC_EQ(r, slot.seq, 1);
    LC_EQ(r, slot.opcode, SPEC_OPCODE_DATA);
    LC_EQ(r, slot.payload_offset, ref.input_arena_offset);
    LC_EQ(r, slot.payload_nbytes, 5);
    LC_CHECK(r, memcmp(m.payload + ref.input_arena_offset, hello, 5) == 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_INPUT_TAIL_OFFSET), 1);
    memset(&msg, 0, sizeof msg);
    LC_EQ(r, l3l2q_l2_try_peek(ep, &msg), L3L2Q_STATUS_OK);
    LC_EQ(r, msg.seq, 1);
    LC_EQ(r, msg.opcode, SPEC_OPCODE_DATA);
    LC_EQ(r, msg.payload_offset, ref.input_arena_offset);
    LC_EQ(r, msg.payload_nbytes, 5);
    LC_CHECK(r, msg.data == m.payload + ref.input_arena_offset);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_INPUT_HEAD_OFFSET), 0);
    LC_EQ(r, l3l2q_l2_release(ep, &msg), L3L2Q_STATUS_OK);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_INPUT_HEAD_OFFSET), 1);

    /* one output of 3 bytes */
    memset(&res, 0, sizeof res);
    LC_EQ(r, l3l2q_l2_try_reserve(ep, 3, &res), L3L2Q_STATUS_OK);
    LC_EQ(r, res.payload_offset, ref.output_arena_offset);
    LC_CHECK(r, res.data == m.payload + ref.output_arena_offset);
    if (res.data != NULL && res.capacity >= 3) memcpy(res.data, "abc", 3);
    LC_EQ(r, l3l2q_l2_publish(ep, &res, SPEC_OPCODE_ERROR, 3), L3L2Q_STATUS_OK);
    slot = lc_ring_slot(&m, ref.output_ring_offset, 0);
    LC_EQ(r, slot.seq, 1);
    LC_EQ(r, slot.opcode, SPEC_OPCODE_ERROR);
    LC_EQ(r, slot.payload_offset, ref.output_arena_offset);
    LC_EQ(r, slot.payload_nbytes, 3);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_OUTPUT_TAIL_OFFSET), 1);
    memset(buf, 0, sizeof buf);
    LC_EQ(r, l3l2q_l3_try_dequeue_into(q, buf, sizeof buf, &opcode, &len), L3L2Q_STATUS_OK);
    LC_EQ(r, opcode, SPEC_OPCODE_ERROR);
    LC_EQ(r, len, 3);
    LC_CHECK(r, memcmp(buf, "abc", 3) == 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_OUTPUT_HEAD_OFFSET), 1);

    /* STOP: zero-byte, offset 0, seq 2 in slot 1 */
    LC_EQ(r, l3l2q_l3_try_request_stop(q), L3L2Q_STATUS_OK);
    slot = lc_ring_slot(&m, ref.input_ring_offset, 1);
    LC_EQ(r, slot.seq, 2);
    LC_EQ(r, slot.opcode, SPEC_OPCODE_STOP);
    LC_EQ(r, slot.payload_offset, 0);
    LC_EQ(r, slot.payload_nbytes, 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_INPUT_TAIL_OFFSET), 2);
    LC_EQ(r, l3l2q_l2_try_peek(ep, &msg), L3L2Q_STATUS_OK);
    LC_EQ(r, msg.opcode, SPEC_OPCODE_STOP);
    LC_EQ(r, l3l2q_l2_release(ep, &msg), L3L2Q_STATUS_OK);
    LC_EQ(r, l3l2q_l2_drained(ep, &drained), L3L2Q_STATUS_OK);
    LC_CHECK(r, drained);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_L3_ABORT_OFFSET), 0);
    LC_EQ(r, lc_counter(&m, SPEC_COUNTER_L2_ABORT_OFFSET), 0);

    LC_EQ(r, l3l2q_l2_endpoint_free(&ep), L3L2Q_STATUS_OK);
    LC_CHECK(r, ep == NULL);
    LC_EQ(r, l3l2q_l2_endpoint_free(&ep), L3L2Q_STATUS_OK); /* second free through the same variable */
    LC_EQ(r, l3l2q_l3_queue_free(&q), L3L2Q_STATUS_OK);
    LC_CHECK(r, q == NULL);
    LC_EQ(r, l3l2q_l3_queue_free(&q), L3L2Q_STATUS_OK);
}

/* ---- everything ---------------------------------------------------------- */

static inline void lc_run_all(lc_run *r) {
    lc_check_worked_layouts(r);
    lc_check_layout_grid(r);
    lc_check_layout_rejections(r);
    lc_check_magic(r);
    lc_check_descriptor_rules(r);
    lc_check_queue_rules(r);
    lc_check_task_scalars(r);
    lc_check_slots(r);
    lc_check_counter_fold(r);
    lc_check_strings(r);
    lc_check_version(r);
    lc_check_null_pure(r);
    lc_check_null_handles(r);
    lc_check_live_queue(r);
}

#endif /* LAYOUT_CHECKS_H */
