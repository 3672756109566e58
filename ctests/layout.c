/* layout.c (C11): the generated l3l2q.h against an independent reading of
 * docs/SPEC.md (spec_wire.h), at compile time, then the library's pure
 * functions and a wire-level round trip at run time (layout_checks.h). */

#include <stddef.h>

#include "l3l2q.h"
#include "spec_wire.h"
#include "layout_checks.h"

/* ---- struct sizes and every field offset ------------------------------ */

#define SAME_FIELD(lib, spec, field, at)                                                  \
    _Static_assert(offsetof(lib, field) == offsetof(spec, field), #lib "." #field " offset"); \
    _Static_assert(offsetof(spec, field) == (at), #spec "." #field " at " #at);             \
    _Static_assert(sizeof(((lib *)0)->field) == 8, #lib "." #field " is a u64")

/* Section 1: region descriptor, 6 x u64 */
_Static_assert(sizeof(l3l2q_region_descriptor) == sizeof(spec_region_descriptor), "descriptor size");
_Static_assert(sizeof(spec_region_descriptor) == SPEC_REGION_DESCRIPTOR_WORDS * 8, "descriptor is 6 x u64");
_Static_assert(_Alignof(l3l2q_region_descriptor) == _Alignof(spec_region_descriptor), "descriptor alignment");
SAME_FIELD(l3l2q_region_descriptor, spec_region_descriptor, magic_version, 0);
SAME_FIELD(l3l2q_region_descriptor, spec_region_descriptor, region_id, 8);
SAME_FIELD(l3l2q_region_descriptor, spec_region_descriptor, payload_base, 16);
SAME_FIELD(l3l2q_region_descriptor, spec_region_descriptor, payload_bytes, 24);
SAME_FIELD(l3l2q_region_descriptor, spec_region_descriptor, counter_base, 32);
SAME_FIELD(l3l2q_region_descriptor, spec_region_descriptor, counter_bytes, 40);

/* Section 2: queue args, 6 x u64 */
_Static_assert(sizeof(l3l2q_queue_args) == sizeof(spec_queue_args), "queue args size");
_Static_assert(sizeof(spec_queue_args) == SPEC_QUEUE_ARGS_WORDS * 8, "queue args are 6 x u64");
_Static_assert(_Alignof(l3l2q_queue_args) == _Alignof(spec_queue_args), "queue args alignment");
SAME_FIELD(l3l2q_queue_args, spec_queue_args, magic_version, 0);
SAME_FIELD(l3l2q_queue_args, spec_queue_args, depth, 8);
SAME_FIELD(l3l2q_queue_args, spec_queue_args, input_arena_bytes, 16);
SAME_FIELD(l3l2q_queue_args, spec_queue_args, output_arena_bytes, 24);
SAME_FIELD(l3l2q_queue_args, spec_queue_args, payload_bytes, 32);
SAME_FIELD(l3l2q_queue_args, spec_queue_args, counter_bytes, 40);

/* Section 2: twelve task scalars, descriptor then args */
_Static_assert(sizeof(l3l2q_task_scalars) == sizeof(spec_task_scalars), "task scalars size");
_Static_assert(sizeof(spec_task_scalars) == SPEC_TASK_SCALAR_COUNT * 8, "task scalars are 12 x u64");
_Static_assert(offsetof(l3l2q_task_scalars, scalars) == 0, "scalars start the struct");
_Static_assert(sizeof(((l3l2q_task_scalars *)0)->scalars) == SPEC_TASK_SCALAR_COUNT * 8, "12 u64 scalars");
_Static_assert(sizeof(((l3l2q_task_scalars *)0)->scalars[0]) == 8, "each scalar is a u64");
_Static_assert(offsetof(spec_task_scalars, region) == 0, "descriptor is scalars 0..5");
_Static_assert(offsetof(spec_task_scalars, queue) == 6 * 8, "args are scalars 6..11");
_Static_assert(offsetof(spec_task_scalars, queue.depth) == 7 * 8, "depth is scalar 7");

/* Section 4: descriptor slot, 32 bytes */
_Static_assert(sizeof(l3l2q_descriptor_slot) == sizeof(spec_descriptor_slot), "slot size");
_Static_assert(sizeof(spec_descriptor_slot) == SPEC_SLOT_BYTES, "slot is 32 bytes");
SAME_FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, seq, 0);
SAME_FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, opcode, 8);
SAME_FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, payload_offset, 16);
SAME_FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, payload_nbytes, 24);

/* Section 3 names the layout's quantities but not a struct: every one of
 * them must be a u64 so any valid layout is representable. */
#define LAYOUT_U64(field) _Static_assert(sizeof(((l3l2q_layout *)0)->field) == 8, "l3l2q_layout." #field " is a u64")
LAYOUT_U64(depth);
LAYOUT_U64(input_desc_offset);
LAYOUT_U64(output_desc_offset);
LAYOUT_U64(input_arena_offset);
LAYOUT_U64(input_arena_bytes);
LAYOUT_U64(output_arena_offset);
LAYOUT_U64(output_arena_bytes);
LAYOUT_U64(payload_bytes);
LAYOUT_U64(counter_bytes);
_Static_assert(sizeof(l3l2q_layout) == 9 * 8, "l3l2q_layout has no padding");

/* ---- constants --------------------------------------------------------- */

_Static_assert(L3L2Q_REGION_MAGIC == SPEC_REGION_MAGIC, "region magic");
_Static_assert(L3L2Q_REGION_MAGIC == 0x4C334C32, "region magic literal");
_Static_assert(L3L2Q_REGION_ABI_MAJOR == SPEC_REGION_ABI_MAJOR, "region major");
_Static_assert(L3L2Q_REGION_ABI_MINOR == SPEC_REGION_ABI_MINOR, "region minor");
_Static_assert(L3L2Q_REGION_ABI_MAJOR_COMPAT == SPEC_REGION_ABI_MAJOR_ALT, "region compatible major");
_Static_assert(L3L2Q_QUEUE_MAGIC == SPEC_QUEUE_MAGIC, "queue magic");
_Static_assert(L3L2Q_QUEUE_MAGIC == 0x4C335132, "queue magic literal");
_Static_assert(L3L2Q_QUEUE_ABI_MAJOR == SPEC_QUEUE_ABI_MAJOR, "queue major");
_Static_assert(L3L2Q_QUEUE_ABI_MINOR == SPEC_QUEUE_ABI_MINOR, "queue minor");
_Static_assert(L3L2Q_REGION_DESCRIPTOR_FIELDS == SPEC_REGION_DESCRIPTOR_WORDS, "descriptor fields");
_Static_assert(L3L2Q_QUEUE_ARGS_FIELDS == SPEC_QUEUE_ARGS_WORDS, "queue args fields");
_Static_assert(L3L2Q_TASK_SCALARS == SPEC_TASK_SCALAR_COUNT, "task scalars");
_Static_assert(L3L2Q_SLOT_BYTES == SPEC_SLOT_BYTES, "slot bytes");
_Static_assert(L3L2Q_SLOT_BYTES == 32, "slot bytes literal");
_Static_assert((uint64_t)L3L2Q_DEPTH_MAX == SPEC_DEPTH_MAX, "depth max");
_Static_assert((uint64_t)L3L2Q_DEPTH_MAX == UINT64_C(1073741824), "depth max is 2^30");
_Static_assert(L3L2Q_ARENA_ALIGN == SPEC_ARENA_GRANULE, "arena alignment");
_Static_assert(L3L2Q_COUNTER_ALIGN == SPEC_COUNTER_BASE_ALIGN, "counter base alignment");
_Static_assert(L3L2Q_COUNTER_STRIDE == SPEC_COUNTER_LINE_BYTES, "counter stride");
_Static_assert(L3L2Q_COUNTER_STRIDE == sizeof(spec_counter_line), "one counter per 64-byte line");
_Static_assert(L3L2Q_COUNTER_BYTES == SPEC_COUNTER_BYTES, "counter bytes");
_Static_assert(L3L2Q_COUNTER_BYTES == 384, "counter bytes literal");
_Static_assert(L3L2Q_COUNTER_BYTES == sizeof(spec_counter_block), "counter block size");

#define SAME_COUNTER(lib, spec, field, at)                                              \
    _Static_assert((lib) == (spec), #lib);                                              \
    _Static_assert((spec) == offsetof(spec_counter_block, field), #spec " vs block"); \
    _Static_assert((lib) == (at), #lib " literal")
SAME_COUNTER(L3L2Q_INPUT_DESC_TAIL_OFFSET, SPEC_COUNTER_INPUT_TAIL_OFFSET, input_desc_tail, 0);
SAME_COUNTER(L3L2Q_INPUT_DESC_HEAD_OFFSET, SPEC_COUNTER_INPUT_HEAD_OFFSET, input_desc_head, 64);
SAME_COUNTER(L3L2Q_OUTPUT_DESC_TAIL_OFFSET, SPEC_COUNTER_OUTPUT_TAIL_OFFSET, output_desc_tail, 128);
SAME_COUNTER(L3L2Q_OUTPUT_DESC_HEAD_OFFSET, SPEC_COUNTER_OUTPUT_HEAD_OFFSET, output_desc_head, 192);
SAME_COUNTER(L3L2Q_L3_ABORT_FLAG_OFFSET, SPEC_COUNTER_L3_ABORT_OFFSET, l3_abort_flag, 256);
SAME_COUNTER(L3L2Q_L2_ABORT_FLAG_OFFSET, SPEC_COUNTER_L2_ABORT_OFFSET, l2_abort_flag, 320);
_Static_assert(sizeof(((spec_counter_block *)0)->input_desc_tail.value) == 4, "counters are 32-bit");

_Static_assert(L3L2Q_OPCODE_INVALID == SPEC_OPCODE_INVALID && SPEC_OPCODE_INVALID == 0, "opcode INVALID");
_Static_assert(L3L2Q_OPCODE_DATA == SPEC_OPCODE_DATA && SPEC_OPCODE_DATA == 1, "opcode DATA");
_Static_assert(L3L2Q_OPCODE_STOP == SPEC_OPCODE_STOP && SPEC_OPCODE_STOP == 2, "opcode STOP");
_Static_assert(L3L2Q_OPCODE_ERROR == SPEC_OPCODE_ERROR && SPEC_OPCODE_ERROR == 3, "opcode ERROR");

_Static_assert(L3L2Q_ERROR_KIND_NONE == SPEC_ERROR_KIND_NONE, "kind NONE 0");
_Static_assert(L3L2Q_ERROR_KIND_BAD_ARGUMENT == SPEC_ERROR_KIND_BAD_ARGUMENT, "kind BAD_ARGUMENT 1");
_Static_assert(L3L2Q_ERROR_KIND_BAD_DESCRIPTOR == SPEC_ERROR_KIND_BAD_DESCRIPTOR, "kind BAD_DESCRIPTOR 2");
_Static_assert(L3L2Q_ERROR_KIND_INVALID_DESCRIPTOR == SPEC_ERROR_KIND_INVALID_DESCRIPTOR, "kind INVALID_DESCRIPTOR 3");
_Static_assert(L3L2Q_ERROR_KIND_OUT_OF_SPACE == SPEC_ERROR_KIND_OUT_OF_SPACE, "kind OUT_OF_SPACE 4");
_Static_assert(L3L2Q_ERROR_KIND_OWNERSHIP == SPEC_ERROR_KIND_OWNERSHIP, "kind OWNERSHIP 5");
_Static_assert(L3L2Q_ERROR_KIND_REMOTE_ABORTED == SPEC_ERROR_KIND_REMOTE_ABORTED, "kind REMOTE_ABORTED 6");
_Static_assert(L3L2Q_ERROR_KIND_ENDPOINT_ERROR == SPEC_ERROR_KIND_ENDPOINT_ERROR, "kind ENDPOINT_ERROR 7");
_Static_assert(SPEC_ERROR_KIND_ENDPOINT_ERROR == 7 && SPEC_ERROR_KIND_NONE == 0, "error kinds are 0..7");

/* The status and violation codes are the library's own (not wire values),
 * but OK / VALID must be 0 as the header promises. */
_Static_assert(L3L2Q_STATUS_OK == 0, "OK is 0");
_Static_assert(L3L2Q_VIOLATION_VALID == 0, "VALID is 0");

int main(void) {
    lc_run run = {"layout", 0, 0};
    lc_run_all(&run);
    return lc_finish(&run);
}
