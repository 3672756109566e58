//! A region in POSIX shared memory, shared by two processes: one creates
//! it by name, the other opens it by name (`shm_open` + `ftruncate` +
//! `mmap`). Unix only.
//!
//! # Object format (version 1)
//!
//! | offset | bytes | contents |
//! |--------|-------|----------|
//! | 0 | 4096 | header page: the header below, rest zero |
//! | 4096 | 4096 | counter range: 384 bytes (six counters, SPEC section 3), zero padding to 4096 |
//! | 8192 | `payload_bytes` | payload range: rings then arenas (SPEC section 3) |
//!
//! The object is `8192 + payload_bytes` rounded up to the page size. Every
//! part sits at a fixed offset from the start of the mapping, which is page
//! aligned, so the counter base is 64-byte (indeed page) aligned in every
//! process.
//!
//! The header is 17 little-endian u64 words, so an opener (or the read-only
//! [`ShmReadOnly`] view used by `examples/inspect.rs`) finds everything
//! without out-of-band information:
//!
//! | word | offset | field |
//! |------|--------|-------|
//! | 0 | 0 | magic [`L3L2Q_SHM_MAGIC`] (the bytes `"L3L2QSHM"`), written last |
//! | 1 | 8 | format version, 1 |
//! | 2 | 16 | header bytes, 4096 |
//! | 3 | 24 | total object bytes the creator sized |
//! | 4 | 32 | counter offset (4096) |
//! | 5 | 40 | counter bytes (384) |
//! | 6 | 48 | payload offset (8192) |
//! | 7 | 56 | payload bytes |
//! | 8 | 64 | region id (non-zero) |
//! | 9 | 72 | creator process id, written first |
//! | 10 | 80 | creation time, ns since the Unix epoch |
//! | 11..17 | 88 | the six queue arguments (SPEC section 2) |
//!
//! The creator writes the process id first, then every other field, then
//! the magic with release ordering. An opener that sees magic 0 (or an
//! object smaller than the header) reports [`ShmError::NotReady`], which is
//! transient; any other magic, or any field that breaks a rule (offsets or
//! sizes outside the object as `fstat` reports it, sizes that disagree with
//! the layout the queue arguments imply), is [`ShmError::BadHeader`]. The
//! opener never trusts the header's sizes over the object's real size.
//!
//! # Addresses are per process
//!
//! A [`RegionDescriptor`] holds addresses, and each process maps the object
//! at its own address. [`ShmRegion::descriptor`] is therefore valid only in
//! the process that produced it: the creator's descriptor names the
//! creator's mapping, the opener's names the opener's. The L2 side obtains
//! its own by opening the object by name: [`ShmRegion::open`] reads the
//! header and builds the descriptor (and [`ShmRegion::task_scalars`]) from
//! its own mapping. When the L2 side is instead handed the L3 side's twelve
//! task scalars, they carry L3's addresses: [`ShmRegion::rebase_task_scalars`]
//! checks that they describe this object and replaces scalars 2
//! (`payload_base`) and 4 (`counter_base`) with this process's addresses.
//! Offsets inside the region (slots, arenas, counters) are the same in
//! every process; only those two fields differ.
//!
//! # Lifetime and clean-up
//!
//! [`ShmRegion`] owns its mapping and implements [`Region`], so a queue or
//! endpoint built over it (`L3Queue::create(shm, ..)`,
//! `L2Endpoint::with_region(shm, ..)`) keeps the memory mapped for exactly as
//! long as it lives. Dropping an opener only unmaps. Dropping the creator
//! unmaps and unlinks the name, but only if the name still refers to the
//! object it created (same device and inode), so a creator whose name was
//! reclaimed by a newer run never removes the newer object. Peers that
//! still have the object mapped keep working after the unlink.
//!
//! # Stale names
//!
//! A creator that crashed leaves its name behind. Creation always uses
//! `O_EXCL`, so a name in use is never silently shared: with
//! [`CreateMode::Exclusive`] it fails with [`ShmError::AlreadyExists`],
//! naming the object, the process that created it and whether that process
//! still runs. [`CreateMode::ReclaimStale`] unlinks the old object and
//! creates a fresh one, but only when its header names a creator process
//! that no longer exists; a live creator, a foreign object or one without a
//! readable creator id is refused. (Liveness is `kill(pid, 0)`, and on
//! Linux a zombie awaiting its parent's `wait` counts as gone: it assumes
//! both processes share a PID namespace, and a reused PID only makes
//! reclaim refuse.) [`ShmRegion::unlink`] removes a name unconditionally.
//!
//! # Hazards
//!
//! A process that shrinks the object with `ftruncate` after it was mapped
//! makes later accesses fault with `SIGBUS`; no check in a library can
//! prevent that. Keep the object's permissions (mode 0600, owner only) as
//! created.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering, fence};
use std::ffi::CString;
use std::fmt;

use super::{Fault, MappedRegion, Region, range_fits};
use crate::abi::*;
use crate::error::Status;
use crate::layout::{QUEUE_MAGIC_VERSION, Violation, validate_queue};

mod error;
mod header;
mod os;
mod read_only;
#[cfg(test)]
mod tests;

pub use error::ShmError;
pub use header::ShmHeader;
pub use os::unique_name;
pub use read_only::ShmReadOnly;

use header::{read_header, write_header};
use os::{
    Mapping, c_name, errno, map_existing, page_bytes, probe, shm_open, system_error, this_pid,
};

/// Magic of a shared-memory object: the bytes `"L3L2QSHM"` read as a
/// little-endian u64.
pub const L3L2Q_SHM_MAGIC: u64 = 0x4D48_5351_324C_334C;
/// Version of the object format described in this module.
pub const L3L2Q_SHM_FORMAT_VERSION: u64 = 1;
/// Bytes of the header page at the start of the object.
pub const L3L2Q_SHM_HEADER_BYTES: u64 = 4096;
/// Offset of the counter range in the object.
pub const L3L2Q_SHM_COUNTER_OFFSET: u64 = 4096;
/// Offset of the payload range in the object (the counter range is padded
/// to 4096 bytes).
pub const L3L2Q_SHM_PAYLOAD_OFFSET: u64 = 8192;
/// Longest accepted name, including the leading slash.
pub const L3L2Q_SHM_NAME_MAX: usize = 255;

/// What [`ShmRegion::create`] does when the name is already in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateMode {
    /// Fail with [`ShmError::AlreadyExists`].
    Exclusive,
    /// Unlink the old object and create afresh when its recorded creator no
    /// longer runs; otherwise fail as [`CreateMode::Exclusive`].
    ReclaimStale,
}

/// How to create a shared-memory queue region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShmConfig {
    /// Ring capacity per direction: a power of two in `1..=2^30`.
    pub depth: u64,
    /// Input arena bytes: a positive multiple of 64.
    pub input_arena_bytes: u64,
    /// Output arena bytes: a positive multiple of 64.
    pub output_arena_bytes: u64,
    /// Region id carried into every error; 0 picks this process's id.
    pub region_id: u64,
    /// What to do with a name that is already in use.
    pub mode: CreateMode,
}

impl ShmConfig {
    /// A configuration with [`CreateMode::Exclusive`] and a region id
    /// taken from the process id.
    pub fn new(depth: u64, input_arena_bytes: u64, output_arena_bytes: u64) -> ShmConfig {
        ShmConfig {
            depth,
            input_arena_bytes,
            output_arena_bytes,
            region_id: 0,
            mode: CreateMode::Exclusive,
        }
    }
}

/// Which side of the object a [`ShmRegion`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmRole {
    /// Created the object; unlinks the name when dropped.
    Creator,
    /// Opened an existing object; only unmaps when dropped.
    Opener,
}

/// A queue region in POSIX shared memory, mapped in this process. See the
/// module docs for the object format, per-process addresses and clean-up.
#[derive(Debug)]
pub struct ShmRegion {
    inner: MappedRegion,
    header: ShmHeader,
    descriptor: RegionDescriptor,
    layout: Layout,
    name: String,
    role: ShmRole,
    identity: (u64, u64),
    /// Owned for its drop (munmap), after `inner`, which points into it.
    #[allow(dead_code)]
    map: Mapping,
}

// SAFETY: the mapping is shared memory by design and every access goes through bounds-checked copies or
// atomics (as for MappedRegion); the handle owns the mapping and nothing else is tied to the creating thread.
unsafe impl Send for ShmRegion {}

impl ShmRegion {
    /// Creates a shared-memory object `name`, sizes and maps it, and writes
    /// the header. The counters and payload start zeroed. Build the L3 queue
    /// over it with `L3Queue::create(shm, &descriptor, ..)` using
    /// [`ShmRegion::descriptor`] and the same depth and arenas.
    ///
    /// # Errors
    /// [`ShmError::InvalidName`], [`ShmError::Config`],
    /// [`ShmError::TooLarge`], [`ShmError::AlreadyExists`] (see
    /// [`CreateMode`]), or [`ShmError::System`]. Nothing is left behind on
    /// failure.
    pub fn create(name: &str, config: &ShmConfig) -> Result<ShmRegion, ShmError> {
        let c = c_name(name)?;
        let layout = Layout::compute(
            config.depth,
            config.input_arena_bytes,
            config.output_arena_bytes,
        )
        .map_err(ShmError::Config)?;
        let page = page_bytes();
        let total = L3L2Q_SHM_PAYLOAD_OFFSET
            .checked_add(layout.payload_bytes)
            .and_then(|t| t.checked_add(page - 1))
            .map(|t| t & !(page - 1))
            .filter(|t| *t <= isize::MAX as u64 && i64::try_from(*t).is_ok())
            .ok_or(ShmError::TooLarge)?;
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
        let fd = match shm_open(name, &c, flags) {
            Err(ShmError::AlreadyExists { .. }) => {
                let found = probe(name);
                let exists = ShmError::AlreadyExists {
                    name: name.to_owned(),
                    creator_pid: found.creator_pid,
                    creator_alive: found.creator_alive,
                };
                if config.mode != CreateMode::ReclaimStale
                    || !found.ours
                    || found.creator_alive != Some(false)
                {
                    return Err(exists);
                }
                // SAFETY: `c` is a valid NUL-terminated string.
                if unsafe { libc::shm_unlink(c.as_ptr()) } != 0 && errno() != libc::ENOENT {
                    return Err(system_error(name, "shm_unlink"));
                }
                shm_open(name, &c, flags)?
            }
            other => other?,
        };
        let (_, dev, ino) = fd.stat(name)?;
        let unlink = || {
            // SAFETY: `c` is a valid NUL-terminated string; the object is ours (created with O_EXCL just now).
            unsafe { libc::shm_unlink(c.as_ptr()) };
        };
        // SAFETY: ftruncate on a descriptor we own; `total` fits off_t (checked above).
        if unsafe { libc::ftruncate(fd.0, total as libc::off_t) } != 0 {
            let e = system_error(name, "ftruncate");
            unlink();
            return Err(e);
        }
        let map = match Mapping::new(&fd, total as usize, false, name) {
            Ok(m) => m,
            Err(e) => {
                unlink();
                return Err(e);
            }
        };
        drop(fd);
        let region_id = if config.region_id != 0 {
            config.region_id
        } else {
            this_pid().max(1)
        };
        let header = ShmHeader {
            format_version: L3L2Q_SHM_FORMAT_VERSION,
            header_bytes: L3L2Q_SHM_HEADER_BYTES,
            total_bytes: total,
            counter_offset: L3L2Q_SHM_COUNTER_OFFSET,
            counter_bytes: layout.counter_bytes,
            payload_offset: L3L2Q_SHM_PAYLOAD_OFFSET,
            payload_bytes: layout.payload_bytes,
            region_id,
            creator_pid: this_pid(),
            created_unix_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
            args: layout.queue_args(),
        };
        write_header(&map, &header);
        match Self::finish(map, header, name, ShmRole::Creator, (dev, ino)) {
            Ok(region) => Ok(region),
            Err(e) => {
                unlink();
                Err(e)
            }
        }
    }

    /// Opens the object `name` that another process created, maps it,
    /// validates its header and builds this process's descriptor.
    ///
    /// # Errors
    /// [`ShmError::InvalidName`], [`ShmError::NotFound`],
    /// [`ShmError::NotReady`] (transient: the creator is still writing the
    /// header), [`ShmError::BadHeader`], [`ShmError::TooLarge`] or
    /// [`ShmError::System`].
    pub fn open(name: &str) -> Result<ShmRegion, ShmError> {
        let (map, size, identity) = map_existing(name, false)?;
        let header = read_header(&map, size, name)?;
        Self::finish(map, header, name, ShmRole::Opener, identity)
    }

    fn finish(
        map: Mapping,
        header: ShmHeader,
        name: &str,
        role: ShmRole,
        identity: (u64, u64),
    ) -> Result<ShmRegion, ShmError> {
        let bad = |v: Violation| ShmError::BadHeader {
            name: name.to_owned(),
            reason: v.describe(),
        };
        // Offsets were checked against the mapping's length, so these additions stay inside it.
        let descriptor = RegionDescriptor::new(
            header.region_id,
            map.addr() + header.payload_offset,
            header.payload_bytes,
            map.addr() + header.counter_offset,
            header.counter_bytes,
        );
        let layout = validate_queue(&descriptor, &header.args).map_err(bad)?;
        // SAFETY: both ranges lie inside `map` (validated by read_header or written by create), which is
        // readable and writable and lives exactly as long as `inner` (both owned by the returned region).
        let inner = unsafe { MappedRegion::from_descriptor(&descriptor) }.map_err(bad)?;
        Ok(ShmRegion {
            inner,
            header,
            descriptor,
            layout,
            name: name.to_owned(),
            role,
            identity,
            map,
        })
    }

    /// Removes the name `name` unconditionally (processes that have it
    /// mapped keep working). For a stale object that
    /// [`CreateMode::ReclaimStale`] refuses to touch.
    ///
    /// # Errors
    /// [`ShmError::InvalidName`], [`ShmError::NotFound`] or
    /// [`ShmError::System`].
    pub fn unlink(name: &str) -> Result<(), ShmError> {
        let c = c_name(name)?;
        // SAFETY: `c` is a valid NUL-terminated string.
        if unsafe { libc::shm_unlink(c.as_ptr()) } == 0 {
            return Ok(());
        }
        Err(match errno() {
            libc::ENOENT => ShmError::NotFound {
                name: name.to_owned(),
            },
            _ => system_error(name, "shm_unlink"),
        })
    }

    /// The object's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this process created or opened the object.
    pub fn role(&self) -> ShmRole {
        self.role
    }

    /// The validated header.
    pub fn header(&self) -> &ShmHeader {
        &self.header
    }

    /// The descriptor of this process's mapping: its addresses are valid in
    /// this process only.
    pub fn descriptor(&self) -> &RegionDescriptor {
        &self.descriptor
    }

    /// The queue arguments recorded in the header.
    pub fn queue_args(&self) -> QueueArgs {
        self.header.args
    }

    /// The layout the header's arguments imply.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The twelve L2 task scalars for this process's mapping.
    pub fn task_scalars(&self) -> TaskScalars {
        TaskScalars::encode(&self.descriptor, &self.header.args)
    }

    /// Turns task scalars produced by another process for this object
    /// (for instance the L3 side's `L3Queue::task_scalars`) into scalars for
    /// this process: checks that every field but the two addresses matches
    /// this object, then replaces scalar 2 (`payload_base`) and scalar 4
    /// (`counter_base`) with this process's addresses.
    ///
    /// # Errors
    /// [`ShmError::ScalarsMismatch`] naming the first scalar that differs.
    pub fn rebase_task_scalars(&self, scalars: &TaskScalars) -> Result<TaskScalars, ShmError> {
        let own = self.task_scalars();
        let mut out = *scalars;
        for (index, (theirs, ours)) in scalars.scalars.iter().zip(own.scalars.iter()).enumerate() {
            match index {
                2 | 4 => out.scalars[index] = *ours,
                // Region ABI minor may differ (SPEC section 1): compare magic and major only.
                0 if theirs >> 16 == ours >> 16 => {}
                _ if theirs == ours => {}
                _ => return Err(ShmError::ScalarsMismatch { index }),
            }
        }
        Ok(out)
    }

    /// Whether the name still refers to the object this handle mapped.
    fn name_is_ours(&self) -> bool {
        let Ok(c) = c_name(&self.name) else {
            return false;
        };
        match shm_open(&self.name, &c, libc::O_RDONLY).and_then(|fd| fd.stat(&self.name)) {
            Ok((_, dev, ino)) => (dev, ino) == self.identity,
            Err(_) => false,
        }
    }
}

impl Drop for ShmRegion {
    fn drop(&mut self) {
        if self.role == ShmRole::Creator && self.name_is_ours() {
            if let Ok(c) = c_name(&self.name) {
                // SAFETY: `c` is a valid NUL-terminated string. (A name reclaimed between the check and this call
                // would be removed; reclaim only touches names whose creator is dead, which we are not.)
                unsafe { libc::shm_unlink(c.as_ptr()) };
            }
        }
        // `map` is unmapped when the fields drop; `inner` holds no resources.
    }
}

// SAFETY: every method forwards to the inner `MappedRegion` over this value's own mapping, which lives (and stays
// mapped) as long as the value does.
unsafe impl Region for ShmRegion {
    fn read_payload(&self, offset: u64, dst: &mut [u8]) -> Result<(), Fault> {
        self.inner.read_payload(offset, dst)
    }
    fn write_payload(&self, offset: u64, src: &[u8]) -> Result<(), Fault> {
        self.inner.write_payload(offset, src)
    }
    fn read_slot(&self, offset: u64) -> Result<DescriptorSlot, Fault> {
        self.inner.read_slot(offset)
    }
    fn write_slot(&self, offset: u64, slot: &DescriptorSlot) -> Result<(), Fault> {
        self.inner.write_slot(offset, slot)
    }
    fn load_counter(&self, offset: u64) -> Result<u32, Fault> {
        self.inner.load_counter(offset)
    }
    fn store_counter(&self, offset: u64, value: u32) -> Result<(), Fault> {
        self.inner.store_counter(offset, value)
    }
    fn move_payload(&self, from: u64, to: u64, len: u64) -> Result<(), Fault> {
        self.inner.move_payload(from, to, len)
    }
    fn payload_ptr(&self, offset: u64, len: u64) -> Option<NonNull<u8>> {
        self.inner.payload_ptr(offset, len)
    }
    fn flush_written(&self, offset: u64, len: u64) {
        self.inner.flush_written(offset, len)
    }
    fn refresh_for_read(&self, offset: u64, len: u64) {
        self.inner.refresh_for_read(offset, len)
    }
    fn prefetch_read(&self, offset: u64) {
        self.inner.prefetch_read(offset)
    }
}
