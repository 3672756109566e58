//! Layout math, magic packing, descriptor and queue validation, and the
//! twelve L2 task scalars (SPEC sections 1-4).
//!
//! Everything here is pure: no memory outside the arguments is touched, so
//! a descriptor can be judged before anything it points at is read.

use crate::abi::*;

/// Which rule of SPEC sections 1-3 a descriptor, argument set or layout
/// request breaks. `Valid` (0) means none.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Every rule holds.
    Valid = 0,
    /// The region magic is not "L3L2".
    RegionMagic = 1,
    /// The region ABI major is neither 2 nor 3.
    RegionMajor = 2,
    /// `region_id` is zero.
    RegionIdZero = 3,
    /// `payload_base` is zero.
    PayloadBaseZero = 4,
    /// `payload_bytes` is zero.
    PayloadBytesZero = 5,
    /// `payload_base + payload_bytes` overflows u64.
    PayloadRangeOverflow = 6,
    /// `counter_base` is zero.
    CounterBaseZero = 7,
    /// `counter_base` is not 64-byte aligned.
    CounterBaseMisaligned = 8,
    /// `counter_bytes` is zero or not a multiple of 4.
    CounterBytesInvalid = 9,
    /// `counter_base + counter_bytes` overflows u64.
    CounterRangeOverflow = 10,
    /// The payload and counter ranges overlap.
    RangesOverlap = 11,
    /// The queue magic/ABI word is not exactly "L3Q2" 1.1.
    QueueMagic = 12,
    /// Depth is not a power of two in `1..=2^30`.
    Depth = 13,
    /// The input arena is zero or not a multiple of 64.
    InputArena = 14,
    /// The output arena is zero or not a multiple of 64.
    OutputArena = 15,
    /// The layout does not fit in u64.
    LayoutOverflow = 16,
    /// The args' `payload_bytes` differs from the computed layout.
    ArgsPayloadBytes = 17,
    /// The args' `counter_bytes` differs from the computed layout.
    ArgsCounterBytes = 18,
    /// The descriptor's `payload_bytes` differs from the args.
    DescriptorPayloadBytes = 19,
    /// The descriptor's `counter_bytes` differs from the args.
    DescriptorCounterBytes = 20,
    /// A region is smaller than the layout needs.
    RegionTooSmall = 21,
}

impl Violation {
    /// Static English text for diagnostics.
    pub fn describe(self) -> &'static str {
        self.describe_c().trim_end_matches('\0')
    }

    /// [`Violation::describe`] with a NUL terminator, for C.
    pub const fn describe_c(self) -> &'static str {
        match self {
            Violation::Valid => "valid\0",
            Violation::RegionMagic => "region magic is not L3L2\0",
            Violation::RegionMajor => "region ABI major is not 2 or 3\0",
            Violation::RegionIdZero => "region_id is zero\0",
            Violation::PayloadBaseZero => "payload_base is zero\0",
            Violation::PayloadBytesZero => "payload_bytes is zero\0",
            Violation::PayloadRangeOverflow => "payload_base + payload_bytes overflows\0",
            Violation::CounterBaseZero => "counter_base is zero\0",
            Violation::CounterBaseMisaligned => "counter_base is not 64-byte aligned\0",
            Violation::CounterBytesInvalid => "counter_bytes is zero or not a multiple of 4\0",
            Violation::CounterRangeOverflow => "counter_base + counter_bytes overflows\0",
            Violation::RangesOverlap => "payload and counter ranges overlap\0",
            Violation::QueueMagic => "queue magic/ABI is not L3Q2 1.1\0",
            Violation::Depth => "depth is not a power of two in 1..=2^30\0",
            Violation::InputArena => "input arena is zero or not a multiple of 64\0",
            Violation::OutputArena => "output arena is zero or not a multiple of 64\0",
            Violation::LayoutOverflow => "layout overflows u64\0",
            Violation::ArgsPayloadBytes => "args payload_bytes differs from the layout\0",
            Violation::ArgsCounterBytes => "args counter_bytes differs from the layout\0",
            Violation::DescriptorPayloadBytes => "descriptor payload_bytes differs from the args\0",
            Violation::DescriptorCounterBytes => "descriptor counter_bytes differs from the args\0",
            Violation::RegionTooSmall => "region is smaller than the layout needs\0",
        }
    }
}

/// Packs `(magic << 32) | (major << 16) | minor`.
pub const fn pack_magic_version(magic: u32, major: u16, minor: u16) -> u64 {
    ((magic as u64) << 32) | ((major as u64) << 16) | minor as u64
}

/// Splits a packed word into `(magic, major, minor)`.
pub const fn unpack_magic_version(word: u64) -> (u32, u16, u16) {
    ((word >> 32) as u32, (word >> 16) as u16, word as u16)
}

/// The region magic word this library writes.
pub const REGION_MAGIC_VERSION: u64 = pack_magic_version(
    L3L2Q_REGION_MAGIC,
    L3L2Q_REGION_ABI_MAJOR,
    L3L2Q_REGION_ABI_MINOR,
);
/// The only queue magic word L2 accepts.
pub const QUEUE_MAGIC_VERSION: u64 = pack_magic_version(
    L3L2Q_QUEUE_MAGIC,
    L3L2Q_QUEUE_ABI_MAJOR,
    L3L2Q_QUEUE_ABI_MINOR,
);

const fn align_up(value: u64, align: u64) -> Option<u64> {
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

fn arena_is_valid(bytes: u64) -> bool {
    bytes != 0 && bytes % L3L2Q_ARENA_ALIGN == 0
}

impl Layout {
    /// Computes the layout of SPEC section 3. Fails closed: any invalid
    /// argument or overflow yields the violated rule and no layout.
    ///
    /// # Errors
    /// [`Violation::Depth`], [`Violation::InputArena`],
    /// [`Violation::OutputArena`] or [`Violation::LayoutOverflow`].
    pub fn compute(
        depth: u64,
        input_arena_bytes: u64,
        output_arena_bytes: u64,
    ) -> Result<Layout, Violation> {
        if !depth.is_power_of_two() || depth > L3L2Q_DEPTH_MAX {
            return Err(Violation::Depth);
        }
        if !arena_is_valid(input_arena_bytes) {
            return Err(Violation::InputArena);
        }
        if !arena_is_valid(output_arena_bytes) {
            return Err(Violation::OutputArena);
        }
        let ring_bytes = depth * L3L2Q_SLOT_BYTES; // depth <= 2^30: cannot overflow
        let output_desc_offset = ring_bytes;
        let rings_end = output_desc_offset + ring_bytes;
        let input_arena_offset =
            align_up(rings_end, L3L2Q_ARENA_ALIGN).ok_or(Violation::LayoutOverflow)?;
        let input_arena_end = input_arena_offset
            .checked_add(input_arena_bytes)
            .ok_or(Violation::LayoutOverflow)?;
        let output_arena_offset =
            align_up(input_arena_end, L3L2Q_ARENA_ALIGN).ok_or(Violation::LayoutOverflow)?;
        let payload_bytes = output_arena_offset
            .checked_add(output_arena_bytes)
            .ok_or(Violation::LayoutOverflow)?;
        Ok(Layout {
            depth,
            input_desc_offset: 0,
            output_desc_offset,
            input_arena_offset,
            input_arena_bytes,
            output_arena_offset,
            output_arena_bytes,
            payload_bytes,
            counter_bytes: L3L2Q_COUNTER_BYTES,
        })
    }

    /// The queue arguments that describe this layout.
    pub fn queue_args(&self) -> QueueArgs {
        QueueArgs {
            magic_version: QUEUE_MAGIC_VERSION,
            depth: self.depth,
            input_arena_bytes: self.input_arena_bytes,
            output_arena_bytes: self.output_arena_bytes,
            payload_bytes: self.payload_bytes,
            counter_bytes: self.counter_bytes,
        }
    }
}

impl RegionDescriptor {
    /// Checks every rule of SPEC section 1, in table order, and names the
    /// first one broken.
    ///
    /// # Errors
    /// The first [`Violation`] found.
    pub fn validate(&self) -> Result<(), Violation> {
        let (magic, major, _minor) = unpack_magic_version(self.magic_version);
        if magic != L3L2Q_REGION_MAGIC {
            return Err(Violation::RegionMagic);
        }
        if major != L3L2Q_REGION_ABI_MAJOR && major != L3L2Q_REGION_ABI_MAJOR_COMPAT {
            return Err(Violation::RegionMajor);
        }
        if self.region_id == 0 {
            return Err(Violation::RegionIdZero);
        }
        if self.payload_base == 0 {
            return Err(Violation::PayloadBaseZero);
        }
        if self.payload_bytes == 0 {
            return Err(Violation::PayloadBytesZero);
        }
        let payload_end = self
            .payload_base
            .checked_add(self.payload_bytes)
            .ok_or(Violation::PayloadRangeOverflow)?;
        if self.counter_base == 0 {
            return Err(Violation::CounterBaseZero);
        }
        if self.counter_base % L3L2Q_COUNTER_ALIGN != 0 {
            return Err(Violation::CounterBaseMisaligned);
        }
        if self.counter_bytes == 0 || self.counter_bytes % 4 != 0 {
            return Err(Violation::CounterBytesInvalid);
        }
        let counter_end = self
            .counter_base
            .checked_add(self.counter_bytes)
            .ok_or(Violation::CounterRangeOverflow)?;
        if self.payload_base < counter_end && self.counter_base < payload_end {
            return Err(Violation::RangesOverlap);
        }
        Ok(())
    }

    /// A descriptor of this library's ABI for the given ranges.
    pub fn new(
        region_id: u64,
        payload_base: u64,
        payload_bytes: u64,
        counter_base: u64,
        counter_bytes: u64,
    ) -> Self {
        RegionDescriptor {
            magic_version: REGION_MAGIC_VERSION,
            region_id,
            payload_base,
            payload_bytes,
            counter_base,
            counter_bytes,
        }
    }
}

/// Checks queue arguments against the layout they imply and against the
/// descriptor's sizes, as L2 does at initialization (SPEC section 2). The
/// descriptor itself is validated first.
///
/// # Errors
/// The first [`Violation`] found.
pub fn validate_queue(
    descriptor: &RegionDescriptor,
    args: &QueueArgs,
) -> Result<Layout, Violation> {
    descriptor.validate()?;
    if args.magic_version != QUEUE_MAGIC_VERSION {
        return Err(Violation::QueueMagic);
    }
    let layout = Layout::compute(args.depth, args.input_arena_bytes, args.output_arena_bytes)?;
    if args.payload_bytes != layout.payload_bytes {
        return Err(Violation::ArgsPayloadBytes);
    }
    if args.counter_bytes != layout.counter_bytes {
        return Err(Violation::ArgsCounterBytes);
    }
    if descriptor.payload_bytes != args.payload_bytes {
        return Err(Violation::DescriptorPayloadBytes);
    }
    if descriptor.counter_bytes != args.counter_bytes {
        return Err(Violation::DescriptorCounterBytes);
    }
    Ok(layout)
}

impl TaskScalars {
    /// Encodes descriptor then args, in wire order.
    pub fn encode(descriptor: &RegionDescriptor, args: &QueueArgs) -> TaskScalars {
        let d = descriptor;
        let a = args;
        TaskScalars {
            scalars: [
                d.magic_version,
                d.region_id,
                d.payload_base,
                d.payload_bytes,
                d.counter_base,
                d.counter_bytes,
                a.magic_version,
                a.depth,
                a.input_arena_bytes,
                a.output_arena_bytes,
                a.payload_bytes,
                a.counter_bytes,
            ],
        }
    }

    /// Splits the scalars back into descriptor and args, unvalidated.
    pub fn decode(&self) -> (RegionDescriptor, QueueArgs) {
        let s = &self.scalars;
        (
            RegionDescriptor {
                magic_version: s[0],
                region_id: s[1],
                payload_base: s[2],
                payload_bytes: s[3],
                counter_base: s[4],
                counter_bytes: s[5],
            },
            QueueArgs {
                magic_version: s[6],
                depth: s[7],
                input_arena_bytes: s[8],
                output_arena_bytes: s[9],
                payload_bytes: s[10],
                counter_bytes: s[11],
            },
        )
    }
}

impl DescriptorSlot {
    /// The slot's wire bytes: four little-endian u64.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[0..8].copy_from_slice(&self.seq.to_le_bytes());
        out[8..16].copy_from_slice(&self.opcode.to_le_bytes());
        out[16..24].copy_from_slice(&self.payload_offset.to_le_bytes());
        out[24..32].copy_from_slice(&self.payload_nbytes.to_le_bytes());
        out
    }

    /// Reads a slot from its wire bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> DescriptorSlot {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        DescriptorSlot {
            seq: word(0),
            opcode: word(1),
            payload_offset: word(2),
            payload_nbytes: word(3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_layout_cases_match_the_spec() {
        for &(depth, input, output, out_desc, in_off, out_off, total) in &[
            (1u64, 64u64, 64u64, 32u64, 64u64, 128u64, 192u64),
            (4, 128, 192, 128, 256, 384, 576),
            (8, 192, 64, 256, 512, 704, 768),
        ] {
            let layout = Layout::compute(depth, input, output).unwrap();
            assert_eq!(layout.output_desc_offset, out_desc);
            assert_eq!(layout.input_arena_offset, in_off);
            assert_eq!(layout.output_arena_offset, out_off);
            assert_eq!(layout.payload_bytes, total);
            assert_eq!(layout.counter_bytes, 384);
        }
    }

    #[test]
    fn layout_rejects_bad_depth_and_arenas() {
        for depth in [0, 3, 6, (1 << 30) + 1, 1 << 31, u64::MAX] {
            assert_eq!(
                Layout::compute(depth, 64, 64),
                Err(Violation::Depth),
                "depth {depth}"
            );
        }
        assert!(Layout::compute(1 << 30, 64, 64).is_ok());
        assert_eq!(Layout::compute(1, 0, 64), Err(Violation::InputArena));
        assert_eq!(Layout::compute(1, 65, 64), Err(Violation::InputArena));
        assert_eq!(Layout::compute(1, 64, 32), Err(Violation::OutputArena));
    }

    #[test]
    fn layout_overflow_fails_closed() {
        // The largest multiple of 64.
        let huge = !63_u64;
        assert_eq!(Layout::compute(1, huge, 64), Err(Violation::LayoutOverflow));
        assert_eq!(Layout::compute(1, 64, huge), Err(Violation::LayoutOverflow));
        // 2^63 is a multiple of 64 (huge / 2 = 2^63 - 32 is not: an arena violation).
        assert_eq!(
            Layout::compute(1, 1 << 63, 1 << 63),
            Err(Violation::LayoutOverflow)
        );
        assert_eq!(Layout::compute(1, huge / 2, 64), Err(Violation::InputArena));
    }

    #[test]
    fn magic_round_trips() {
        let word = pack_magic_version(0x4C33_4C32, 2, 0);
        assert_eq!(word, 0x4C33_4C32_0002_0000);
        assert_eq!(unpack_magic_version(word), (0x4C33_4C32, 2, 0));
        assert_eq!(QUEUE_MAGIC_VERSION, 0x4C33_5132_0001_0001);
    }

    fn good_descriptor() -> RegionDescriptor {
        RegionDescriptor::new(7, 0x10_0000, 192, 0x20_0000, 384)
    }

    #[test]
    fn descriptor_rules_each_fail_on_their_own() {
        assert_eq!(good_descriptor().validate(), Ok(()));
        type Corrupt = fn(&mut RegionDescriptor);
        let cases: [(Corrupt, Violation); 12] = [
            (|d| d.magic_version ^= 1 << 40, Violation::RegionMagic),
            (
                |d| d.magic_version = pack_magic_version(L3L2Q_REGION_MAGIC, 4, 0),
                Violation::RegionMajor,
            ),
            (|d| d.region_id = 0, Violation::RegionIdZero),
            (|d| d.payload_base = 0, Violation::PayloadBaseZero),
            (|d| d.payload_bytes = 0, Violation::PayloadBytesZero),
            (
                |d| d.payload_base = u64::MAX - 10,
                Violation::PayloadRangeOverflow,
            ),
            (|d| d.counter_base = 0, Violation::CounterBaseZero),
            (|d| d.counter_base += 4, Violation::CounterBaseMisaligned),
            (|d| d.counter_bytes = 6, Violation::CounterBytesInvalid),
            (|d| d.counter_base = !63, Violation::CounterRangeOverflow),
            (
                |d| d.counter_base = 0x10_0000 + 64,
                Violation::RangesOverlap,
            ),
            (|d| d.payload_base = 0x20_0000 - 1, Violation::RangesOverlap),
        ];
        for (mutate, expected) in cases {
            let mut d = good_descriptor();
            mutate(&mut d);
            assert_eq!(d.validate(), Err(expected));
        }
        let mut minor = good_descriptor();
        minor.magic_version = pack_magic_version(L3L2Q_REGION_MAGIC, 3, 9);
        assert_eq!(minor.validate(), Ok(()));
    }

    #[test]
    fn queue_validation_compares_args_layout_and_descriptor() {
        let layout = Layout::compute(1, 64, 64).unwrap();
        let args = layout.queue_args();
        let d = good_descriptor();
        assert_eq!(validate_queue(&d, &args), Ok(layout));
        let mut a = args;
        a.magic_version = pack_magic_version(L3L2Q_QUEUE_MAGIC, 1, 0);
        assert_eq!(validate_queue(&d, &a), Err(Violation::QueueMagic));
        let mut a = args;
        a.payload_bytes += 64;
        assert_eq!(validate_queue(&d, &a), Err(Violation::ArgsPayloadBytes));
        let mut a = args;
        a.counter_bytes = 768;
        assert_eq!(validate_queue(&d, &a), Err(Violation::ArgsCounterBytes));
        let mut bigger = d;
        bigger.payload_bytes = 256;
        assert_eq!(
            validate_queue(&bigger, &args),
            Err(Violation::DescriptorPayloadBytes)
        );
        let mut more_counters = d;
        more_counters.counter_bytes = 512;
        assert_eq!(
            validate_queue(&more_counters, &args),
            Err(Violation::DescriptorCounterBytes)
        );
    }

    #[test]
    fn scalars_and_slots_round_trip() {
        let d = good_descriptor();
        let a = Layout::compute(4, 128, 192).unwrap().queue_args();
        let s = TaskScalars::encode(&d, &a);
        assert_eq!(s.scalars[1], 7);
        assert_eq!(s.scalars[7], 4);
        assert_eq!(s.decode(), (d, a));
        let slot = DescriptorSlot {
            seq: 0x0102,
            opcode: 3,
            payload_offset: 0xAABB,
            payload_nbytes: u64::MAX,
        };
        let bytes = slot.to_bytes();
        assert_eq!(&bytes[0..2], &[0x02, 0x01]);
        assert_eq!(bytes[8], 3);
        assert_eq!(DescriptorSlot::from_bytes(&bytes), slot);
    }
}
