/* spec_wire.h: the l3l2q wire format restated from docs/SPEC.md sections 1-5
 * alone, with its own names, so the generated l3l2q.h can be checked
 * against an independent reading of the specification.
 *
 * Deliberately does NOT include l3l2q.h. Usable from C11 and C++17.
 * Nothing here may be derived from the library's header or sources. */

#ifndef SPEC_WIRE_H
#define SPEC_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* ---- Section 1: region descriptor (6 x u64) ---------------------------- */

/* "L3L2" */
#define SPEC_REGION_MAGIC UINT32_C(0x4C334C32)
#define SPEC_REGION_ABI_MAJOR 2u
#define SPEC_REGION_ABI_MINOR 0u
/* Major 3 keeps the identical six-field layout and may be accepted. */
#define SPEC_REGION_ABI_MAJOR_ALT 3u

/* magic_version word: (magic << 32) | (major << 16) | minor */
#define SPEC_MAGIC_VERSION(magic, major, minor)                                    \
    ((((uint64_t)(magic)) << 32) | ((((uint64_t)(major)) & UINT64_C(0xFFFF)) << 16) | \
     (((uint64_t)(minor)) & UINT64_C(0xFFFF)))
#define SPEC_MAGIC_OF(word) ((uint32_t)(((uint64_t)(word)) >> 32))
#define SPEC_MAJOR_OF(word) ((uint16_t)((((uint64_t)(word)) >> 16) & UINT64_C(0xFFFF)))
#define SPEC_MINOR_OF(word) ((uint16_t)(((uint64_t)(word)) & UINT64_C(0xFFFF)))

#define SPEC_REGION_WORD \
    SPEC_MAGIC_VERSION(SPEC_REGION_MAGIC, SPEC_REGION_ABI_MAJOR, SPEC_REGION_ABI_MINOR)

#define SPEC_REGION_DESCRIPTOR_WORDS 6u
/* counter_base alignment; counter_bytes granule */
#define SPEC_COUNTER_BASE_ALIGN 64u
#define SPEC_COUNTER_BYTES_GRANULE 4u

typedef struct spec_region_descriptor {
    uint64_t magic_version; /* #0 */
    uint64_t region_id;     /* #1, non-zero */
    uint64_t payload_base;  /* #2, non-zero, no alignment */
    uint64_t payload_bytes; /* #3, non-zero, base + bytes <= 2^64 - 1 */
    uint64_t counter_base;  /* #4, non-zero, 64-byte aligned */
    uint64_t counter_bytes; /* #5, non-zero multiple of 4, no overflow */
} spec_region_descriptor;

/* ---- Section 2: queue arguments and task scalars ----------------------- */

/* "L3Q2" */
#define SPEC_QUEUE_MAGIC UINT32_C(0x4C335132)
#define SPEC_QUEUE_ABI_MAJOR 1u
#define SPEC_QUEUE_ABI_MINOR 1u
/* L2 requires exact equality with this word. */
#define SPEC_QUEUE_WORD SPEC_MAGIC_VERSION(SPEC_QUEUE_MAGIC, SPEC_QUEUE_ABI_MAJOR, SPEC_QUEUE_ABI_MINOR)

#define SPEC_QUEUE_ARGS_WORDS 6u

typedef struct spec_queue_args {
    uint64_t magic_version;
    uint64_t depth;
    uint64_t input_arena_bytes;
    uint64_t output_arena_bytes;
    uint64_t payload_bytes;
    uint64_t counter_bytes;
} spec_queue_args;

/* Twelve u64 handed to L2: the six descriptor fields, then the six args. */
#define SPEC_TASK_SCALAR_COUNT 12u

typedef struct spec_task_scalars {
    spec_region_descriptor region; /* scalars 0..5 */
    spec_queue_args queue;         /* scalars 6..11 */
} spec_task_scalars;

/* ---- Section 3: layout ------------------------------------------------- */

#define SPEC_DEPTH_MIN UINT64_C(1)
#define SPEC_DEPTH_MAX (UINT64_C(1) << 30)
/* Arena sizes and arena offsets are multiples of / aligned to this. */
#define SPEC_ARENA_GRANULE UINT64_C(64)

/* The payload range as SPEC section 3 describes it, relative to
 * payload_base. Field order is this file's own choice. */
typedef struct spec_payload_layout {
    uint64_t input_ring_offset;   /* always 0 */
    uint64_t output_ring_offset;  /* depth * 32 */
    uint64_t input_arena_offset;  /* next 64-byte boundary after the rings */
    uint64_t output_arena_offset; /* next 64-byte boundary after input arena */
    uint64_t payload_bytes;       /* end of the output arena */
} spec_payload_layout;

/* Counter range: one i32 per 64-byte line, six lines. */
#define SPEC_COUNTER_LINE_BYTES 64u
#define SPEC_COUNTER_INPUT_TAIL_OFFSET 0u   /* written by L3 */
#define SPEC_COUNTER_INPUT_HEAD_OFFSET 64u  /* written by L2 */
#define SPEC_COUNTER_OUTPUT_TAIL_OFFSET 128u /* written by L2 */
#define SPEC_COUNTER_OUTPUT_HEAD_OFFSET 192u /* written by L3 */
#define SPEC_COUNTER_L3_ABORT_OFFSET 256u   /* written by L3 */
#define SPEC_COUNTER_L2_ABORT_OFFSET 320u   /* written by L2 */
#define SPEC_COUNTER_BYTES 384u

typedef struct spec_counter_line {
    int32_t value;
    uint8_t unused[SPEC_COUNTER_LINE_BYTES - sizeof(int32_t)];
} spec_counter_line;

typedef struct spec_counter_block {
    spec_counter_line input_desc_tail;
    spec_counter_line input_desc_head;
    spec_counter_line output_desc_tail;
    spec_counter_line output_desc_head;
    spec_counter_line l3_abort_flag;
    spec_counter_line l2_abort_flag;
} spec_counter_block;

/* ---- Section 4: descriptor slot ---------------------------------------- */

#define SPEC_SLOT_BYTES 32u

typedef struct spec_descriptor_slot {
    uint64_t seq;            /* @0: message number + 1 */
    uint64_t opcode;         /* @8 */
    uint64_t payload_offset; /* @16: relative to payload_base */
    uint64_t payload_nbytes; /* @24 */
} spec_descriptor_slot;

#define SPEC_OPCODE_INVALID 0u
#define SPEC_OPCODE_DATA 1u
#define SPEC_OPCODE_STOP 2u
#define SPEC_OPCODE_ERROR 3u

/* ---- Section 9: error kinds (numbers fixed by the spec) ---------------- */

#define SPEC_ERROR_KIND_NONE 0u
#define SPEC_ERROR_KIND_BAD_ARGUMENT 1u
#define SPEC_ERROR_KIND_BAD_DESCRIPTOR 2u
#define SPEC_ERROR_KIND_INVALID_DESCRIPTOR 3u
#define SPEC_ERROR_KIND_OUT_OF_SPACE 4u
#define SPEC_ERROR_KIND_OWNERSHIP 5u
#define SPEC_ERROR_KIND_REMOTE_ABORTED 6u
#define SPEC_ERROR_KIND_ENDPOINT_ERROR 7u
#define SPEC_ERROR_KIND_COUNT 8u

/* ---- Reference computations, straight from the spec text --------------- */

/* SPEC section 3. Returns 1 and fills *out on success; returns 0 and leaves
 * *out alone for an invalid depth/arena or any overflow. */
static inline int spec_reference_layout(uint64_t depth, uint64_t input_arena, uint64_t output_arena,
                                        spec_payload_layout *out) {
    const uint64_t max = UINT64_MAX;
    uint64_t ring, rings_end, in_off, in_end, out_off, total;
    if (depth < SPEC_DEPTH_MIN || depth > SPEC_DEPTH_MAX || (depth & (depth - 1)) != 0) return 0;
    if (input_arena == 0 || input_arena % SPEC_ARENA_GRANULE != 0) return 0;
    if (output_arena == 0 || output_arena % SPEC_ARENA_GRANULE != 0) return 0;
    ring = depth * SPEC_SLOT_BYTES;
    rings_end = ring + ring;
    if (rings_end > max - (SPEC_ARENA_GRANULE - 1)) return 0;
    in_off = (rings_end + SPEC_ARENA_GRANULE - 1) / SPEC_ARENA_GRANULE * SPEC_ARENA_GRANULE;
    if (input_arena > max - in_off) return 0;
    in_end = in_off + input_arena;
    if (in_end > max - (SPEC_ARENA_GRANULE - 1)) return 0;
    out_off = (in_end + SPEC_ARENA_GRANULE - 1) / SPEC_ARENA_GRANULE * SPEC_ARENA_GRANULE;
    if (output_arena > max - out_off) return 0;
    total = out_off + output_arena;
    out->input_ring_offset = 0;
    out->output_ring_offset = ring;
    out->input_arena_offset = in_off;
    out->output_arena_offset = out_off;
    out->payload_bytes = total;
    return 1;
}

/* SPEC section 5: fold a low-32 observation into a u64 count. Returns 1
 * and updates *local when 0 <= delta <= depth, else 0 (poison). */
static inline int spec_reference_fold(uint64_t *local, uint32_t observed, uint64_t depth) {
    uint32_t diff = (uint32_t)(observed - (uint32_t)*local);
    /* (i32) reinterpretation of diff, without implementation-defined casts */
    int64_t delta = diff <= UINT32_C(0x7FFFFFFF) ? (int64_t)diff : (int64_t)diff - (INT64_C(1) << 32);
    if (delta < 0 || (uint64_t)delta > depth) return 0;
    *local += (uint64_t)delta;
    return 1;
}

/* Little-endian u64 at any address (descriptors may be unaligned). */
static inline uint64_t spec_load_le64(const uint8_t *p) {
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

static inline void spec_store_le64(uint8_t *p, uint64_t v) {
    int i;
    for (i = 0; i < 8; ++i) p[i] = (uint8_t)(v >> (8 * i));
}

#endif /* SPEC_WIRE_H */
