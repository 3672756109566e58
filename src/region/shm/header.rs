//! The header page of the object (format version 1, see the module docs
//! of `region::shm`): written by the creator, validated by every opener.

use super::*;

pub(super) const WORD_MAGIC: usize = 0;
pub(super) const WORD_VERSION: usize = 1;
pub(super) const WORD_HEADER_BYTES: usize = 2;
pub(super) const WORD_TOTAL_BYTES: usize = 3;
pub(super) const WORD_COUNTER_OFFSET: usize = 4;
pub(super) const WORD_COUNTER_BYTES: usize = 5;
pub(super) const WORD_PAYLOAD_OFFSET: usize = 6;
pub(super) const WORD_PAYLOAD_BYTES: usize = 7;
pub(super) const WORD_REGION_ID: usize = 8;
pub(super) const WORD_CREATOR_PID: usize = 9;
pub(super) const WORD_CREATED_NS: usize = 10;
pub(super) const WORD_ARGS: usize = 11;
pub(super) const HEADER_WORDS: usize = WORD_ARGS + L3L2Q_QUEUE_ARGS_FIELDS;

/// The header of a shared-memory object, as validated by an opener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmHeader {
    /// Object format version (1).
    pub format_version: u64,
    /// Bytes of the header page.
    pub header_bytes: u64,
    /// Object bytes the creator sized.
    pub total_bytes: u64,
    /// Offset of the counter range in the object.
    pub counter_offset: u64,
    /// Bytes of the counter range.
    pub counter_bytes: u64,
    /// Offset of the payload range in the object.
    pub payload_offset: u64,
    /// Bytes of the payload range.
    pub payload_bytes: u64,
    /// Region id.
    pub region_id: u64,
    /// Process id of the creator.
    pub creator_pid: u64,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: u64,
    /// The queue arguments both sides use.
    pub args: QueueArgs,
}

/// Reads and validates the header of a mapping of `object_bytes` bytes.
pub(super) fn read_header(
    map: &Mapping,
    object_bytes: u64,
    name: &str,
) -> Result<ShmHeader, ShmError> {
    let bad = |reason| ShmError::BadHeader {
        name: name.to_owned(),
        reason,
    };
    if object_bytes < L3L2Q_SHM_HEADER_BYTES || (map.len as u64) < L3L2Q_SHM_HEADER_BYTES {
        return Err(ShmError::NotReady {
            name: name.to_owned(),
        });
    }
    match map.word(WORD_MAGIC) {
        0 => {
            return Err(ShmError::NotReady {
                name: name.to_owned(),
            });
        }
        L3L2Q_SHM_MAGIC => {}
        _ => return Err(bad("magic is not L3L2QSHM")),
    }
    // Pairs with the creator's release store of the magic: every other word is written.
    fence(Ordering::Acquire);
    let w: [u64; HEADER_WORDS] = core::array::from_fn(|i| map.word(i));
    let header = ShmHeader {
        format_version: w[WORD_VERSION],
        header_bytes: w[WORD_HEADER_BYTES],
        total_bytes: w[WORD_TOTAL_BYTES],
        counter_offset: w[WORD_COUNTER_OFFSET],
        counter_bytes: w[WORD_COUNTER_BYTES],
        payload_offset: w[WORD_PAYLOAD_OFFSET],
        payload_bytes: w[WORD_PAYLOAD_BYTES],
        region_id: w[WORD_REGION_ID],
        creator_pid: w[WORD_CREATOR_PID],
        created_unix_ns: w[WORD_CREATED_NS],
        args: QueueArgs {
            magic_version: w[WORD_ARGS],
            depth: w[WORD_ARGS + 1],
            input_arena_bytes: w[WORD_ARGS + 2],
            output_arena_bytes: w[WORD_ARGS + 3],
            payload_bytes: w[WORD_ARGS + 4],
            counter_bytes: w[WORD_ARGS + 5],
        },
    };
    if header.format_version != L3L2Q_SHM_FORMAT_VERSION {
        return Err(bad("unsupported format version"));
    }
    if header.header_bytes != L3L2Q_SHM_HEADER_BYTES {
        return Err(bad("header size is not 4096"));
    }
    if header.total_bytes > object_bytes || header.total_bytes > map.len as u64 {
        return Err(bad("object is smaller than its header says"));
    }
    if header.region_id == 0 {
        return Err(bad("region id is zero"));
    }
    let counter_end = header
        .counter_offset
        .checked_add(header.counter_bytes)
        .ok_or(bad("counter range overflows"))?;
    let payload_end = header
        .payload_offset
        .checked_add(header.payload_bytes)
        .ok_or(bad("payload range overflows"))?;
    if header.counter_offset < header.header_bytes
        || header.counter_offset % L3L2Q_COUNTER_ALIGN != 0
        || counter_end > header.total_bytes
    {
        return Err(bad("counter range is misplaced"));
    }
    if header.payload_offset < header.header_bytes || payload_end > header.total_bytes {
        return Err(bad("payload range is misplaced"));
    }
    if header.payload_offset < counter_end && header.counter_offset < payload_end {
        return Err(bad("payload and counter ranges overlap"));
    }
    if header.args.magic_version != QUEUE_MAGIC_VERSION {
        return Err(bad("queue magic/ABI is not L3Q2 1.1"));
    }
    let layout = Layout::compute(
        header.args.depth,
        header.args.input_arena_bytes,
        header.args.output_arena_bytes,
    )
    .map_err(|v| bad(v.describe()))?;
    if header.args.payload_bytes != layout.payload_bytes
        || header.payload_bytes != layout.payload_bytes
    {
        return Err(bad("payload size differs from the layout"));
    }
    if header.args.counter_bytes != layout.counter_bytes
        || header.counter_bytes != layout.counter_bytes
    {
        return Err(bad("counter size differs from the layout"));
    }
    Ok(header)
}

/// Writes the header: creator pid first, magic last with release ordering.
pub(super) fn write_header(map: &Mapping, header: &ShmHeader) {
    let put = |index: usize, value: u64| {
        // SAFETY: the mapping is writable and at least one header page long; index < HEADER_WORDS keeps the
        // aligned u64 inside it. Volatile because an opener may read the page concurrently.
        unsafe {
            map.base
                .as_ptr()
                .add(index * 8)
                .cast::<u64>()
                .write_volatile(value.to_le())
        };
    };
    put(WORD_CREATOR_PID, header.creator_pid);
    put(WORD_VERSION, header.format_version);
    put(WORD_HEADER_BYTES, header.header_bytes);
    put(WORD_TOTAL_BYTES, header.total_bytes);
    put(WORD_COUNTER_OFFSET, header.counter_offset);
    put(WORD_COUNTER_BYTES, header.counter_bytes);
    put(WORD_PAYLOAD_OFFSET, header.payload_offset);
    put(WORD_PAYLOAD_BYTES, header.payload_bytes);
    put(WORD_REGION_ID, header.region_id);
    put(WORD_CREATED_NS, header.created_unix_ns);
    let a = &header.args;
    for (i, v) in [
        a.magic_version,
        a.depth,
        a.input_arena_bytes,
        a.output_arena_bytes,
        a.payload_bytes,
        a.counter_bytes,
    ]
    .into_iter()
    .enumerate()
    {
        put(WORD_ARGS + i, v);
    }
    // SAFETY: word 0 is an aligned u64 inside the writable mapping; every access to it in any process is a
    // single aligned u64 load or store.
    let magic = unsafe { AtomicU64::from_ptr(map.base.as_ptr().cast::<u64>()) };
    // Release: an opener that sees the magic sees every word above.
    magic.store(L3L2Q_SHM_MAGIC.to_le(), Ordering::Release);
}
