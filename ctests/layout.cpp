// layout.cpp (C++17): the generated l3l2q.h, included from C++, against the
// independent reading of docs/SPEC.md in spec_wire.h. Compile-time: constexpr
// tables of sizes, offsets and constants; a constexpr evaluation of the
// spec's layout rule proves the worked cases. Run time: C++-specific table
// checks, then the shared checks of layout_checks.h.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "l3l2q.h"
#include "spec_wire.h"
#include "layout_checks.h"

namespace {

// ---- types: sizes, alignment, field offsets ----------------------------

struct Field {
    std::size_t lib;   // offset in the l3l2q type
    std::size_t spec;  // offset in the spec_wire.h type
    std::size_t wire;  // offset the spec states (u64 index * 8)
};

template <std::size_t N>
constexpr bool fields_agree(const std::array<Field, N> &fields) {
    for (const Field &f : fields)
        if (f.lib != f.spec || f.spec != f.wire) return false;
    return true;
}

template <typename Lib, typename Spec>
constexpr bool same_shape() {
    return sizeof(Lib) == sizeof(Spec) && alignof(Lib) == alignof(Spec) && std::is_standard_layout_v<Lib> &&
           std::is_trivially_copyable_v<Lib>;
}

#define FIELD(lib, spec, name, index) \
    Field { offsetof(lib, name), offsetof(spec, name), (index) * sizeof(std::uint64_t) }

constexpr std::array<Field, 6> descriptor_fields{{
    FIELD(l3l2q_region_descriptor, spec_region_descriptor, magic_version, 0),
    FIELD(l3l2q_region_descriptor, spec_region_descriptor, region_id, 1),
    FIELD(l3l2q_region_descriptor, spec_region_descriptor, payload_base, 2),
    FIELD(l3l2q_region_descriptor, spec_region_descriptor, payload_bytes, 3),
    FIELD(l3l2q_region_descriptor, spec_region_descriptor, counter_base, 4),
    FIELD(l3l2q_region_descriptor, spec_region_descriptor, counter_bytes, 5),
}};

constexpr std::array<Field, 6> queue_args_fields{{
    FIELD(l3l2q_queue_args, spec_queue_args, magic_version, 0),
    FIELD(l3l2q_queue_args, spec_queue_args, depth, 1),
    FIELD(l3l2q_queue_args, spec_queue_args, input_arena_bytes, 2),
    FIELD(l3l2q_queue_args, spec_queue_args, output_arena_bytes, 3),
    FIELD(l3l2q_queue_args, spec_queue_args, payload_bytes, 4),
    FIELD(l3l2q_queue_args, spec_queue_args, counter_bytes, 5),
}};

constexpr std::array<Field, 4> slot_fields{{
    FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, seq, 0),
    FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, opcode, 1),
    FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, payload_offset, 2),
    FIELD(l3l2q_descriptor_slot, spec_descriptor_slot, payload_nbytes, 3),
}};

#undef FIELD

static_assert(same_shape<l3l2q_region_descriptor, spec_region_descriptor>());
static_assert(same_shape<l3l2q_queue_args, spec_queue_args>());
static_assert(same_shape<l3l2q_descriptor_slot, spec_descriptor_slot>());
static_assert(same_shape<l3l2q_task_scalars, spec_task_scalars>());
static_assert(sizeof(spec_region_descriptor) == SPEC_REGION_DESCRIPTOR_WORDS * 8);
static_assert(sizeof(spec_queue_args) == SPEC_QUEUE_ARGS_WORDS * 8);
static_assert(sizeof(spec_descriptor_slot) == SPEC_SLOT_BYTES);
static_assert(fields_agree(descriptor_fields), "l3l2q_region_descriptor offsets differ from SPEC section 1");
static_assert(fields_agree(queue_args_fields), "l3l2q_queue_args offsets differ from SPEC section 2");
static_assert(fields_agree(slot_fields), "l3l2q_descriptor_slot offsets differ from SPEC section 4");

// Every field is exactly a u64.
static_assert(std::is_same_v<decltype(l3l2q_region_descriptor::magic_version), std::uint64_t>);
static_assert(std::is_same_v<decltype(l3l2q_region_descriptor::counter_bytes), std::uint64_t>);
static_assert(std::is_same_v<decltype(l3l2q_queue_args::depth), std::uint64_t>);
static_assert(std::is_same_v<decltype(l3l2q_descriptor_slot::payload_nbytes), std::uint64_t>);

// Twelve task scalars: descriptor (0..5) then args (6..11).
static_assert(std::is_same_v<decltype(l3l2q_task_scalars::scalars), std::uint64_t[SPEC_TASK_SCALAR_COUNT]>);
static_assert(offsetof(l3l2q_task_scalars, scalars) == 0);
static_assert(offsetof(spec_task_scalars, region) == 0);
static_assert(offsetof(spec_task_scalars, queue) == SPEC_REGION_DESCRIPTOR_WORDS * 8);

// SPEC section 3 names the layout's quantities but defines no struct: each
// must be a u64 so every valid layout is representable.
template <typename... T>
constexpr bool all_u64() {
    return (std::is_same_v<T, std::uint64_t> && ...);
}
static_assert(all_u64<decltype(l3l2q_layout::depth), decltype(l3l2q_layout::input_desc_offset),
                      decltype(l3l2q_layout::output_desc_offset), decltype(l3l2q_layout::input_arena_offset),
                      decltype(l3l2q_layout::input_arena_bytes), decltype(l3l2q_layout::output_arena_offset),
                      decltype(l3l2q_layout::output_arena_bytes), decltype(l3l2q_layout::payload_bytes),
                      decltype(l3l2q_layout::counter_bytes)>());

// ---- constants ----------------------------------------------------------

struct Constant {
    std::uint64_t lib, spec, literal;
};

constexpr std::array<Constant, 26> constants{{
    {L3L2Q_REGION_MAGIC, SPEC_REGION_MAGIC, 0x4C334C32},
    {L3L2Q_REGION_ABI_MAJOR, SPEC_REGION_ABI_MAJOR, 2},
    {L3L2Q_REGION_ABI_MINOR, SPEC_REGION_ABI_MINOR, 0},
    {L3L2Q_REGION_ABI_MAJOR_COMPAT, SPEC_REGION_ABI_MAJOR_ALT, 3},
    {L3L2Q_QUEUE_MAGIC, SPEC_QUEUE_MAGIC, 0x4C335132},
    {L3L2Q_QUEUE_ABI_MAJOR, SPEC_QUEUE_ABI_MAJOR, 1},
    {L3L2Q_QUEUE_ABI_MINOR, SPEC_QUEUE_ABI_MINOR, 1},
    {L3L2Q_REGION_DESCRIPTOR_FIELDS, SPEC_REGION_DESCRIPTOR_WORDS, 6},
    {L3L2Q_QUEUE_ARGS_FIELDS, SPEC_QUEUE_ARGS_WORDS, 6},
    {L3L2Q_TASK_SCALARS, SPEC_TASK_SCALAR_COUNT, 12},
    {L3L2Q_SLOT_BYTES, SPEC_SLOT_BYTES, 32},
    {static_cast<std::uint64_t>(L3L2Q_DEPTH_MAX), SPEC_DEPTH_MAX, std::uint64_t{1} << 30},
    {L3L2Q_ARENA_ALIGN, SPEC_ARENA_GRANULE, 64},
    {L3L2Q_COUNTER_ALIGN, SPEC_COUNTER_BASE_ALIGN, 64},
    {L3L2Q_COUNTER_STRIDE, sizeof(spec_counter_line), 64},
    {L3L2Q_COUNTER_BYTES, sizeof(spec_counter_block), 384},
    {L3L2Q_INPUT_DESC_TAIL_OFFSET, offsetof(spec_counter_block, input_desc_tail), 0},
    {L3L2Q_INPUT_DESC_HEAD_OFFSET, offsetof(spec_counter_block, input_desc_head), 64},
    {L3L2Q_OUTPUT_DESC_TAIL_OFFSET, offsetof(spec_counter_block, output_desc_tail), 128},
    {L3L2Q_OUTPUT_DESC_HEAD_OFFSET, offsetof(spec_counter_block, output_desc_head), 192},
    {L3L2Q_L3_ABORT_FLAG_OFFSET, offsetof(spec_counter_block, l3_abort_flag), 256},
    {L3L2Q_L2_ABORT_FLAG_OFFSET, offsetof(spec_counter_block, l2_abort_flag), 320},
    {L3L2Q_OPCODE_INVALID, SPEC_OPCODE_INVALID, 0},
    {L3L2Q_OPCODE_DATA, SPEC_OPCODE_DATA, 1},
    {L3L2Q_OPCODE_STOP, SPEC_OPCODE_STOP, 2},
    {L3L2Q_OPCODE_ERROR, SPEC_OPCODE_ERROR, 3},
}};

template <std::size_t N>
constexpr bool constants_agree(const std::array<Constant, N> &all) {
    for (const Constant &c : all)
        if (c.lib != c.spec || c.spec != c.literal) return false;
    return true;
}
static_assert(constants_agree(constants), "a header constant differs from docs/SPEC.md");

// The counter macros in spec_wire.h agree with its struct picture.
static_assert(SPEC_COUNTER_INPUT_TAIL_OFFSET == offsetof(spec_counter_block, input_desc_tail));
static_assert(SPEC_COUNTER_INPUT_HEAD_OFFSET == offsetof(spec_counter_block, input_desc_head));
static_assert(SPEC_COUNTER_OUTPUT_TAIL_OFFSET == offsetof(spec_counter_block, output_desc_tail));
static_assert(SPEC_COUNTER_OUTPUT_HEAD_OFFSET == offsetof(spec_counter_block, output_desc_head));
static_assert(SPEC_COUNTER_L3_ABORT_OFFSET == offsetof(spec_counter_block, l3_abort_flag));
static_assert(SPEC_COUNTER_L2_ABORT_OFFSET == offsetof(spec_counter_block, l2_abort_flag));
static_assert(SPEC_COUNTER_BYTES == sizeof(spec_counter_block));
static_assert(std::is_same_v<decltype(spec_counter_line::value), std::int32_t>);

// Error kinds 0..7, in spec order.
constexpr std::array<std::pair<l3l2q_error_kind, unsigned>, SPEC_ERROR_KIND_COUNT> error_kinds{{
    {L3L2Q_ERROR_KIND_NONE, SPEC_ERROR_KIND_NONE},
    {L3L2Q_ERROR_KIND_BAD_ARGUMENT, SPEC_ERROR_KIND_BAD_ARGUMENT},
    {L3L2Q_ERROR_KIND_BAD_DESCRIPTOR, SPEC_ERROR_KIND_BAD_DESCRIPTOR},
    {L3L2Q_ERROR_KIND_INVALID_DESCRIPTOR, SPEC_ERROR_KIND_INVALID_DESCRIPTOR},
    {L3L2Q_ERROR_KIND_OUT_OF_SPACE, SPEC_ERROR_KIND_OUT_OF_SPACE},
    {L3L2Q_ERROR_KIND_OWNERSHIP, SPEC_ERROR_KIND_OWNERSHIP},
    {L3L2Q_ERROR_KIND_REMOTE_ABORTED, SPEC_ERROR_KIND_REMOTE_ABORTED},
    {L3L2Q_ERROR_KIND_ENDPOINT_ERROR, SPEC_ERROR_KIND_ENDPOINT_ERROR},
}};

constexpr bool error_kinds_in_order() {
    for (std::size_t i = 0; i < error_kinds.size(); ++i)
        if (static_cast<unsigned>(error_kinds[i].first) != error_kinds[i].second || error_kinds[i].second != i)
            return false;
    return true;
}
static_assert(error_kinds_in_order(), "error kinds differ from SPEC section 9");

// ---- the layout rule, evaluated at compile time ------------------------

struct Placement {
    std::uint64_t out_desc, in_arena_off, out_arena_off, payload_bytes;
};

constexpr std::optional<std::uint64_t> align64(std::uint64_t v) {
    if (v > UINT64_MAX - 63) return std::nullopt;
    return (v + 63) / 64 * 64;
}

constexpr std::optional<Placement> place(std::uint64_t depth, std::uint64_t in_arena, std::uint64_t out_arena) {
    const bool pow2 = depth != 0 && (depth & (depth - 1)) == 0;
    if (!pow2 || depth > (std::uint64_t{1} << 30)) return std::nullopt;
    if (in_arena == 0 || in_arena % 64 != 0 || out_arena == 0 || out_arena % 64 != 0) return std::nullopt;
    const std::uint64_t ring = depth * 32;
    const auto in_off = align64(2 * ring);
    if (!in_off || in_arena > UINT64_MAX - *in_off) return std::nullopt;
    const auto out_off = align64(*in_off + in_arena);
    if (!out_off || out_arena > UINT64_MAX - *out_off) return std::nullopt;
    return Placement{ring, *in_off, *out_off, *out_off + out_arena};
}

struct WorkedCase {
    std::uint64_t depth, in_arena, out_arena;
    Placement want;
};

// SPEC section 3, verbatim.
constexpr std::array<WorkedCase, 3> worked{{
    {1, 64, 64, {32, 64, 128, 192}},
    {4, 128, 192, {128, 256, 384, 576}},
    {8, 192, 64, {256, 512, 704, 768}},
}};

constexpr bool same(const Placement &a, const Placement &b) {
    return a.out_desc == b.out_desc && a.in_arena_off == b.in_arena_off && a.out_arena_off == b.out_arena_off &&
           a.payload_bytes == b.payload_bytes;
}

constexpr bool worked_cases_follow_the_rule() {
    for (const WorkedCase &c : worked) {
        const auto p = place(c.depth, c.in_arena, c.out_arena);
        if (!p || !same(*p, c.want)) return false;
    }
    return true;
}
static_assert(worked_cases_follow_the_rule(), "the spec's worked cases follow its own layout rule");
static_assert(!place(0, 64, 64) && !place(3, 64, 64) && !place((std::uint64_t{1} << 30) + 1, 64, 64) &&
              !place(std::uint64_t{1} << 31, 64, 64));
static_assert(!place(1, 0, 64) && !place(1, 65, 64) && !place(1, 64, 100));
static_assert(!place(1, UINT64_MAX & ~std::uint64_t{63}, 64));
static_assert(place(std::uint64_t{1} << 30, 64, 64).has_value());

// Magic words, packed as the spec says.
static_assert(SPEC_REGION_WORD == 0x4C334C3200020000ull);
static_assert(SPEC_QUEUE_WORD == 0x4C33513200010001ull);

// ---- C++ run-time checks -------------------------------------------------

class Checks {
  public:
    explicit Checks(lc_run &run) : run_(run) {}

    void expect(bool ok, const char *what, int line) { lc_record(&run_, ok ? 1 : 0, __FILE__, line, what); }
    void expect_eq(std::uint64_t got, std::uint64_t want, const char *what, int line) {
        lc_record_u64(&run_, got, want, __FILE__, line, what);
    }

  private:
    lc_run &run_;
};

// The library against the constexpr rule for the worked cases and a table
// of further cases, including every field the header exposes.
void check_layouts(Checks &c) {
    constexpr std::array<std::array<std::uint64_t, 3>, 6> more{{
        {2, 64, 128}, {16, 4096, 64}, {64, 960, 1088}, {1024, 64, 64}, {1u << 20, 192, 192}, {1u << 30, 64, 128},
    }};
    auto compare = [&c](std::uint64_t depth, std::uint64_t in, std::uint64_t out, const Placement &want) {
        l3l2q_layout got{};
        l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
        c.expect_eq(l3l2q_layout_compute(depth, in, out, &got, &v), L3L2Q_STATUS_OK, "layout status", __LINE__);
        c.expect_eq(v, L3L2Q_VIOLATION_VALID, "layout violation", __LINE__);
        const std::array<std::pair<std::uint64_t, std::uint64_t>, 9> fields{{
            {got.depth, depth},
            {got.input_desc_offset, 0},
            {got.output_desc_offset, want.out_desc},
            {got.input_arena_offset, want.in_arena_off},
            {got.input_arena_bytes, in},
            {got.output_arena_offset, want.out_arena_off},
            {got.output_arena_bytes, out},
            {got.payload_bytes, want.payload_bytes},
            {got.counter_bytes, SPEC_COUNTER_BYTES},
        }};
        for (const auto &[g, w] : fields) c.expect_eq(g, w, "layout field", __LINE__);
    };
    for (const WorkedCase &w : worked) compare(w.depth, w.in_arena, w.out_arena, w.want);
    for (const auto &[depth, in, out] : more) {
        const auto want = place(depth, in, out);
        c.expect(want.has_value(), "constexpr rule accepts the case", __LINE__);
        if (want) compare(depth, in, out, *want);
    }
}

// Zeroing each descriptor field on its own breaks exactly the rule about it.
void check_descriptor_zero_fields(Checks &c) {
    l3l2q_region_descriptor good{};
    good.magic_version = SPEC_REGION_WORD;
    good.region_id = 9;
    good.payload_base = 0x7000'0003;
    good.payload_bytes = 768;
    good.counter_base = 0x8000'0000;
    good.counter_bytes = SPEC_COUNTER_BYTES;
    using Member = std::uint64_t l3l2q_region_descriptor::*;
    const std::array<std::pair<Member, l3l2q_violation>, 6> cases{{
        {&l3l2q_region_descriptor::magic_version, L3L2Q_VIOLATION_REGION_MAGIC},
        {&l3l2q_region_descriptor::region_id, L3L2Q_VIOLATION_REGION_ID_ZERO},
        {&l3l2q_region_descriptor::payload_base, L3L2Q_VIOLATION_PAYLOAD_BASE_ZERO},
        {&l3l2q_region_descriptor::payload_bytes, L3L2Q_VIOLATION_PAYLOAD_BYTES_ZERO},
        {&l3l2q_region_descriptor::counter_base, L3L2Q_VIOLATION_COUNTER_BASE_ZERO},
        {&l3l2q_region_descriptor::counter_bytes, L3L2Q_VIOLATION_COUNTER_BYTES_INVALID},
    }};
    l3l2q_violation v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
    c.expect_eq(l3l2q_region_descriptor_validate(&good, &v), L3L2Q_STATUS_OK, "good descriptor", __LINE__);
    c.expect_eq(v, L3L2Q_VIOLATION_VALID, "good descriptor violation", __LINE__);
    for (const auto &[member, want] : cases) {
        l3l2q_region_descriptor d = good;
        d.*member = 0;
        v = L3L2Q_VIOLATION_REGION_TOO_SMALL;
        c.expect_eq(l3l2q_region_descriptor_validate(&d, &v), L3L2Q_STATUS_BAD_DESCRIPTOR, "zeroed field status",
                    __LINE__);
        c.expect_eq(v, want, "zeroed field violation", __LINE__);
    }
}

// Encoded scalars, read through pointer-to-member tables in spec order.
void check_scalar_order(Checks &c) {
    using D = std::uint64_t l3l2q_region_descriptor::*;
    using A = std::uint64_t l3l2q_queue_args::*;
    constexpr std::array<D, 6> d_order{&l3l2q_region_descriptor::magic_version, &l3l2q_region_descriptor::region_id,
                                       &l3l2q_region_descriptor::payload_base,  &l3l2q_region_descriptor::payload_bytes,
                                       &l3l2q_region_descriptor::counter_base,  &l3l2q_region_descriptor::counter_bytes};
    constexpr std::array<A, 6> a_order{&l3l2q_queue_args::magic_version,      &l3l2q_queue_args::depth,
                                       &l3l2q_queue_args::input_arena_bytes,  &l3l2q_queue_args::output_arena_bytes,
                                       &l3l2q_queue_args::payload_bytes,      &l3l2q_queue_args::counter_bytes};
    l3l2q_region_descriptor d{};
    l3l2q_queue_args a{};
    for (std::size_t i = 0; i < 6; ++i) {
        d.*d_order[i] = 0xD0 + i;
        a.*a_order[i] = 0xA0 + i;
    }
    std::array<std::uint64_t, SPEC_TASK_SCALAR_COUNT> s{};
    c.expect_eq(l3l2q_task_scalars_encode(&d, &a, s.data(), s.size()), L3L2Q_STATUS_OK, "encode", __LINE__);
    for (std::size_t i = 0; i < 6; ++i) {
        c.expect_eq(s[i], d.*d_order[i], "descriptor scalar", __LINE__);
        c.expect_eq(s[6 + i], a.*a_order[i], "args scalar", __LINE__);
    }
    l3l2q_task_scalars as_struct{};
    std::memcpy(&as_struct, s.data(), sizeof as_struct);
    l3l2q_region_descriptor d2{};
    l3l2q_queue_args a2{};
    c.expect_eq(l3l2q_task_scalars_decode(as_struct.scalars, SPEC_TASK_SCALAR_COUNT, &d2, &a2), L3L2Q_STATUS_OK,
                "decode", __LINE__);
    c.expect(std::memcmp(&d, &d2, sizeof d) == 0 && std::memcmp(&a, &a2, sizeof a) == 0, "round trip", __LINE__);
}

// A runtime refusing a mismatched library compares exactly these.
void check_version(Checks &c) {
    l3l2q_version_info info{};
    c.expect_eq(l3l2q_version(&info), L3L2Q_STATUS_OK, "version", __LINE__);
    const std::string expected = std::to_string(L3L2Q_VERSION_MAJOR) + "." + std::to_string(L3L2Q_VERSION_MINOR) +
                                 "." + std::to_string(L3L2Q_VERSION_PATCH);
    c.expect(info.library != nullptr && expected == info.library, "version string", __LINE__);
    const std::array<std::pair<std::uint32_t, std::uint64_t>, 8> pairs{{
        {info.major, L3L2Q_VERSION_MAJOR},
        {info.minor, L3L2Q_VERSION_MINOR},
        {info.patch, L3L2Q_VERSION_PATCH},
        {info.c_abi_major, L3L2Q_C_ABI_MAJOR},
        {info.region_abi_major, SPEC_REGION_ABI_MAJOR},
        {info.region_abi_minor, SPEC_REGION_ABI_MINOR},
        {info.queue_abi_major, SPEC_QUEUE_ABI_MAJOR},
        {info.queue_abi_minor, SPEC_QUEUE_ABI_MINOR},
    }};
    for (const auto &[got, want] : pairs) c.expect_eq(got, want, "version field", __LINE__);
}

}  // namespace

int main() {
    lc_run run{"layout_cpp", 0, 0};
    Checks checks(run);
    check_layouts(checks);
    check_descriptor_zero_fields(checks);
    check_scalar_order(checks);
    check_version(checks);
    lc_run_all(&run);
    return lc_finish(&run);
}
