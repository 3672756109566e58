//! The read-only view of a live object, for diagnostics.

use super::os::process_alive;
use super::*;

/// A read-only view of a live shared-memory queue, for diagnostics
/// (`examples/inspect.rs`). The object is opened `O_RDONLY` and mapped
/// `PROT_READ`, so this view cannot write even by mistake: a write would
/// fault. Every value it returns comes from shared memory a possibly
/// broken peer writes; treat it as untrusted.
#[derive(Debug)]
pub struct ShmReadOnly {
    header: ShmHeader,
    layout: Layout,
    object_bytes: u64,
    name: String,
    map: Mapping,
}

// SAFETY: a read-only mapping owned by this value; moving it between threads shares nothing.
unsafe impl Send for ShmReadOnly {}

impl ShmReadOnly {
    /// Opens and maps `name` read-only and validates its header.
    ///
    /// # Errors
    /// As [`ShmRegion::open`].
    pub fn open(name: &str) -> Result<ShmReadOnly, ShmError> {
        let (map, size, _) = map_existing(name, true)?;
        let header = read_header(&map, size, name)?;
        let layout = Layout::compute(
            header.args.depth,
            header.args.input_arena_bytes,
            header.args.output_arena_bytes,
        )
        .map_err(|v| ShmError::BadHeader {
            name: name.to_owned(),
            reason: v.describe(),
        })?;
        Ok(ShmReadOnly {
            header,
            layout,
            object_bytes: size,
            name: name.to_owned(),
            map,
        })
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The validated header.
    pub fn header(&self) -> &ShmHeader {
        &self.header
    }

    /// The layout the header's arguments imply.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The object's size as `fstat` reported it when opened.
    pub fn object_bytes(&self) -> u64 {
        self.object_bytes
    }

    /// Whether the creator process recorded in the header still runs
    /// (`None` when unknown).
    pub fn creator_alive(&self) -> Option<bool> {
        process_alive(self.header.creator_pid)
    }

    /// Loads the 32-bit counter at counter offset `offset` (a multiple of
    /// 4 inside the counter range), followed by an acquire fence; `None`
    /// for any other offset.
    pub fn load_counter(&self, offset: u64) -> Option<u32> {
        if offset % 4 != 0 || !range_fits(offset, 4, self.header.counter_bytes) {
            return None;
        }
        // SAFETY: counter_offset + counter_bytes <= total_bytes <= mapping length (read_header), the offset is
        // inside the counter range and 4-aligned, and the counter base is 64-aligned from a page-aligned
        // mapping. A volatile load needs no write permission; the peer's stores are single aligned u32
        // stores, so the value is one of them.
        let value = unsafe {
            self.map
                .base
                .as_ptr()
                .add((self.header.counter_offset + offset) as usize)
                .cast::<u32>()
                .read_volatile()
        };
        fence(Ordering::Acquire);
        Some(u32::from_le(value))
    }

    /// Copies `dst.len()` bytes from payload offset `offset`; `false` when
    /// the range is outside the payload range (nothing copied).
    pub fn read_payload(&self, offset: u64, dst: &mut [u8]) -> bool {
        if !range_fits(offset, dst.len() as u64, self.header.payload_bytes) {
            return false;
        }
        // SAFETY: the range lies inside the payload range, which lies inside the mapping (read_header); `dst`
        // is a Rust buffer that cannot overlap a read-only shared mapping. Concurrent writes by the peer can
        // only change the copied values, which the caller treats as untrusted.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.map
                    .base
                    .as_ptr()
                    .add((self.header.payload_offset + offset) as usize),
                dst.as_mut_ptr(),
                dst.len(),
            )
        };
        true
    }
}
