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

const WORD_MAGIC: usize = 0;
const WORD_VERSION: usize = 1;
const WORD_HEADER_BYTES: usize = 2;
const WORD_TOTAL_BYTES: usize = 3;
const WORD_COUNTER_OFFSET: usize = 4;
const WORD_COUNTER_BYTES: usize = 5;
const WORD_PAYLOAD_OFFSET: usize = 6;
const WORD_PAYLOAD_BYTES: usize = 7;
const WORD_REGION_ID: usize = 8;
const WORD_CREATOR_PID: usize = 9;
const WORD_CREATED_NS: usize = 10;
const WORD_ARGS: usize = 11;
const HEADER_WORDS: usize = WORD_ARGS + L3L2Q_QUEUE_ARGS_FIELDS;

/// Why a shared-memory operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShmError {
    /// The name is not `/` followed by 1 to 254 bytes without `/` or NUL.
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// Depth or arena sizes break a layout rule.
    Config(Violation),
    /// The object would not fit in this process's address space.
    TooLarge,
    /// A shared-memory object of this name exists; nothing was created.
    AlreadyExists {
        /// The name in use.
        name: String,
        /// The creator process its header records, when readable.
        creator_pid: Option<u32>,
        /// Whether that process still runs (`None` when unknown).
        creator_alive: Option<bool>,
    },
    /// No object of this name exists.
    NotFound {
        /// The name looked up.
        name: String,
    },
    /// The object exists but its creator has not finished writing the
    /// header; retrying shortly may succeed.
    NotReady {
        /// The name opened.
        name: String,
    },
    /// The object is not a valid l3l2q region (never retried).
    BadHeader {
        /// The name opened.
        name: String,
        /// The rule the header breaks.
        reason: &'static str,
    },
    /// Task scalars handed to [`ShmRegion::rebase_task_scalars`] do not
    /// describe this object.
    ScalarsMismatch {
        /// Index of the first scalar that differs.
        index: usize,
    },
    /// A system call failed.
    System {
        /// The name concerned.
        name: String,
        /// The call that failed.
        call: &'static str,
        /// `errno` after the call.
        errno: i32,
    },
}

impl ShmError {
    /// The C status for this error.
    pub fn status(&self) -> Status {
        match self {
            ShmError::InvalidName { .. } | ShmError::TooLarge => Status::BadArgument,
            ShmError::Config(_) | ShmError::BadHeader { .. } | ShmError::ScalarsMismatch { .. } => {
                Status::BadDescriptor
            }
            ShmError::AlreadyExists { .. } => Status::Exists,
            ShmError::NotFound { .. } => Status::NotFound,
            ShmError::NotReady { .. } => Status::NoProgress,
            ShmError::System { .. } => Status::SystemError,
        }
    }

    /// The OS error number behind a [`ShmError::System`], else 0.
    pub fn errno(&self) -> i32 {
        match self {
            ShmError::System { errno, .. } => *errno,
            _ => 0,
        }
    }
}

impl fmt::Display for ShmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShmError::InvalidName { name } => write!(
                f,
                "invalid shared-memory name {name:?}: want \"/\" and 1..=254 bytes without \"/\" or NUL"
            ),
            ShmError::Config(v) => write!(f, "invalid queue configuration: {}", v.describe()),
            ShmError::TooLarge => {
                f.write_str("shared-memory object too large for this address space")
            }
            ShmError::AlreadyExists {
                name,
                creator_pid,
                creator_alive,
            } => {
                write!(f, "shared-memory object {name} already exists")?;
                match (creator_pid, creator_alive) {
                    (Some(pid), Some(false)) => write!(
                        f,
                        " (stale: its creator, pid {pid}, is gone); reclaim it with CreateMode::ReclaimStale or remove /dev/shm{name}"
                    ),
                    (Some(pid), _) => write!(f, " (in use: its creator, pid {pid}, is running)"),
                    (None, _) => write!(
                        f,
                        " (creator unknown); remove it with ShmRegion::unlink or rm /dev/shm{name} if it is stale"
                    ),
                }
            }
            ShmError::NotFound { name } => write!(f, "no shared-memory object named {name}"),
            ShmError::NotReady { name } => write!(
                f,
                "shared-memory object {name} is not initialized yet (retry)"
            ),
            ShmError::BadHeader { name, reason } => write!(
                f,
                "shared-memory object {name} is not a valid l3l2q region: {reason}"
            ),
            ShmError::ScalarsMismatch { index } => write!(
                f,
                "task scalar {index} does not match this shared-memory region"
            ),
            ShmError::System { name, call, errno } => {
                write!(
                    f,
                    "{call}({name}) failed: {}",
                    std::io::Error::from_raw_os_error(*errno)
                )
            }
        }
    }
}

impl std::error::Error for ShmError {}

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

/// Which side of the object a [`ShmRegion`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmRole {
    /// Created the object; unlinks the name when dropped.
    Creator,
    /// Opened an existing object; only unmaps when dropped.
    Opener,
}

/// An `mmap`ed range, unmapped on drop.
#[derive(Debug)]
struct Mapping {
    base: NonNull<u8>,
    len: usize,
}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, readable and (unless `read_only`)
    /// writable.
    fn new(fd: &Fd, len: usize, read_only: bool, name: &str) -> Result<Mapping, ShmError> {
        let prot = if read_only {
            libc::PROT_READ
        } else {
            libc::PROT_READ | libc::PROT_WRITE
        };
        // SAFETY: a fresh shared mapping chosen by the kernel (null hint) of an open descriptor; it aliases
        // no Rust object, and the result is checked before use.
        let ptr =
            unsafe { libc::mmap(core::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.0, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(system_error(name, "mmap"));
        }
        let base = NonNull::new(ptr.cast::<u8>()).ok_or_else(|| system_error(name, "mmap"))?;
        Ok(Mapping { base, len })
    }

    /// Reads header word `index` (volatile: the creator may be writing it;
    /// works on a read-only mapping).
    fn word(&self, index: usize) -> u64 {
        debug_assert!((index + 1) * 8 <= self.len);
        // SAFETY: callers read only header words, and every mapping is at least one header page long
        // (checked before mapping); the base is page aligned, so the u64 is aligned. Volatile because another
        // process may write the word; it needs no write permission.
        u64::from_le(unsafe {
            self.base
                .as_ptr()
                .add(index * 8)
                .cast::<u64>()
                .read_volatile()
        })
    }

    fn addr(&self) -> u64 {
        self.base.as_ptr() as u64
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned; no reference into the mapping outlives its owner
        // (the ShmRegion or ShmReadOnly holding this Mapping).
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

/// An owned file descriptor, closed on drop.
#[derive(Debug)]
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

impl Fd {
    /// `(size, device, inode)` from `fstat`.
    fn stat(&self, name: &str) -> Result<(u64, u64, u64), ShmError> {
        let mut st = core::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: fstat writes a struct stat to the valid out-pointer on success; it is read only then.
        let rc = unsafe { libc::fstat(self.0, st.as_mut_ptr()) };
        if rc != 0 {
            return Err(system_error(name, "fstat"));
        }
        // SAFETY: fstat succeeded, so the struct is initialized.
        let st = unsafe { st.assume_init() };
        // st_dev/st_ino are u64 on Linux but narrower elsewhere.
        #[allow(clippy::unnecessary_cast)]
        Ok((
            u64::try_from(st.st_size).unwrap_or(0),
            st.st_dev as u64,
            st.st_ino as u64,
        ))
    }
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn system_error(name: &str, call: &'static str) -> ShmError {
    ShmError::System {
        name: name.to_owned(),
        call,
        errno: errno(),
    }
}

fn c_name(name: &str) -> Result<CString, ShmError> {
    let valid = name.len() >= 2
        && name.len() <= L3L2Q_SHM_NAME_MAX
        && name.starts_with('/')
        && !name[1..].contains('/')
        && name != "/."
        && name != "/..";
    let invalid = || ShmError::InvalidName {
        name: name.to_owned(),
    };
    if !valid {
        return Err(invalid());
    }
    CString::new(name).map_err(|_| invalid())
}

fn shm_open(name: &str, c: &CString, flags: libc::c_int) -> Result<Fd, ShmError> {
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let fd = unsafe { libc::shm_open(c.as_ptr(), flags, 0o600 as libc::mode_t) };
    if fd >= 0 {
        return Ok(Fd(fd));
    }
    Err(match errno() {
        libc::EEXIST => ShmError::AlreadyExists {
            name: name.to_owned(),
            creator_pid: None,
            creator_alive: None,
        },
        libc::ENOENT => ShmError::NotFound {
            name: name.to_owned(),
        },
        _ => system_error(name, "shm_open"),
    })
}

fn page_bytes() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page)
        .ok()
        .filter(|p| p.is_power_of_two() && *p >= 4096)
        .unwrap_or(4096)
}

/// Whether process `pid` exists (`kill(pid, 0)`); `None` when unknown.
fn process_alive(pid: u64) -> Option<bool> {
    let pid = libc::pid_t::try_from(pid).ok().filter(|p| *p > 0)?;
    // SAFETY: signal 0 performs only the existence and permission check; nothing is delivered.
    let rc = unsafe { libc::kill(pid, 0) };
    match (rc, errno()) {
        (0, _) | (_, libc::EPERM) => Some(!is_zombie(pid)),
        (_, libc::ESRCH) => Some(false),
        _ => None,
    }
}

/// Whether `pid` has exited but is not reaped yet (Linux `/proc`; a zombie
/// still answers `kill(pid, 0)`).
fn is_zombie(pid: libc::pid_t) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "pid (comm) S ...": the state follows the last ')', as comm may contain anything.
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .is_some_and(|state| state == 'Z' || state == 'X')
}

fn this_pid() -> u64 {
    u64::from(std::process::id())
}

/// A name unlikely to be in use: `/l3l2q-<tag>-<pid>-<nanoseconds>`, the
/// tag reduced to `[A-Za-z0-9_-]` and at most 64 bytes.
pub fn unique_name(tag: &str) -> String {
    let tag: String = tag
        .chars()
        .take(64)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!("/l3l2q-{tag}-{}-{nanos:x}", std::process::id())
}

/// Reads and validates the header of a mapping of `object_bytes` bytes.
fn read_header(map: &Mapping, object_bytes: u64, name: &str) -> Result<ShmHeader, ShmError> {
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

/// Opens `name` and maps it whole, returning the mapping, its size and
/// `(device, inode)`.
fn map_existing(name: &str, read_only: bool) -> Result<(Mapping, u64, (u64, u64)), ShmError> {
    let c = c_name(name)?;
    let fd = shm_open(
        name,
        &c,
        if read_only {
            libc::O_RDONLY
        } else {
            libc::O_RDWR
        },
    )?;
    let (size, dev, ino) = fd.stat(name)?;
    if size < L3L2Q_SHM_HEADER_BYTES {
        return Err(ShmError::NotReady {
            name: name.to_owned(),
        });
    }
    let len = usize::try_from(size)
        .ok()
        .filter(|l| *l <= isize::MAX as usize)
        .ok_or(ShmError::TooLarge)?;
    let map = Mapping::new(&fd, len, read_only, name)?;
    Ok((map, size, (dev, ino)))
}

/// What an existing object says about its creator.
#[derive(Debug, Clone, Copy)]
struct Probe {
    ours: bool,
    creator_pid: Option<u32>,
    creator_alive: Option<bool>,
}

/// Looks at an existing object read-only, without trusting it.
fn probe(name: &str) -> Probe {
    let unknown = Probe {
        ours: false,
        creator_pid: None,
        creator_alive: None,
    };
    let Ok((map, _, _)) = map_existing(name, true) else {
        return unknown;
    };
    let magic = map.word(WORD_MAGIC);
    fence(Ordering::Acquire);
    let pid = map.word(WORD_CREATOR_PID);
    let pid32 = u32::try_from(pid)
        .ok()
        .filter(|p| *p > 0 && i32::try_from(*p).is_ok());
    Probe {
        // A zero magic with a pid is a creator that died (or is still busy) before publishing the header.
        ours: pid32.is_some() && (magic == L3L2Q_SHM_MAGIC || magic == 0),
        creator_pid: pid32,
        creator_alive: pid32.and_then(|p| process_alive(u64::from(p))),
    }
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

/// Writes the header: creator pid first, magic last with release ordering.
fn write_header(map: &Mapping, header: &ShmHeader) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ShmConfig {
        ShmConfig {
            region_id: 77,
            ..ShmConfig::new(8, 1024, 1024)
        }
    }

    #[test]
    fn magic_spells_the_format_name() {
        assert_eq!(L3L2Q_SHM_MAGIC.to_le_bytes(), *b"L3L2QSHM");
    }

    #[test]
    fn names_are_checked() {
        for bad in ["", "/", "noslash", "/a/b", "/.", "/..", "/nul\0x"] {
            assert!(
                matches!(c_name(bad), Err(ShmError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        assert!(c_name(&format!("/{}", "x".repeat(L3L2Q_SHM_NAME_MAX))).is_err());
        assert!(c_name("/l3l2q-ok").is_ok());
        assert!(c_name(&unique_name("a b/c")).is_ok());
    }

    #[test]
    fn creator_and_opener_see_the_same_bytes_at_different_addresses() {
        let name = unique_name("unit-pair");
        let created = ShmRegion::create(&name, &config()).unwrap();
        let opened = ShmRegion::open(&name).unwrap();
        assert_eq!(created.role(), ShmRole::Creator);
        assert_eq!(opened.role(), ShmRole::Opener);
        let (c, o) = (created.descriptor(), opened.descriptor());
        assert_ne!(
            c.payload_base, o.payload_base,
            "two mappings, two addresses"
        );
        assert_eq!(
            (c.region_id, c.payload_bytes, c.counter_bytes),
            (o.region_id, o.payload_bytes, o.counter_bytes)
        );
        assert_eq!(
            c.payload_base - c.counter_base,
            4096,
            "payload follows the padded counter page"
        );
        assert_eq!(created.queue_args(), opened.queue_args());
        assert_eq!(opened.header().creator_pid, u64::from(std::process::id()));

        created.write_payload(100, b"hello").unwrap();
        created
            .store_counter(L3L2Q_L2_ABORT_FLAG_OFFSET, 9)
            .unwrap();
        let mut buf = [0u8; 5];
        opened.read_payload(100, &mut buf).unwrap();
        assert_eq!(&buf, b"hello");
        assert_eq!(opened.load_counter(L3L2Q_L2_ABORT_FLAG_OFFSET), Ok(9));

        let view = ShmReadOnly::open(&name).unwrap();
        assert_eq!(view.load_counter(L3L2Q_L2_ABORT_FLAG_OFFSET), Some(9));
        assert_eq!(view.load_counter(2), None);
        assert_eq!(view.load_counter(384), None);
        assert!(view.read_payload(100, &mut buf) && &buf == b"hello");
        assert!(!view.read_payload(view.header().payload_bytes - 2, &mut buf));
        assert_eq!(view.creator_alive(), Some(true));

        // Scalars from the creator become the opener's: fields 2 and 4 replaced, nothing else.
        let rebased = opened.rebase_task_scalars(&created.task_scalars()).unwrap();
        assert_eq!(rebased, opened.task_scalars());
        let mut foreign = created.task_scalars();
        foreign.scalars[7] = 16;
        assert_eq!(
            opened.rebase_task_scalars(&foreign),
            Err(ShmError::ScalarsMismatch { index: 7 })
        );

        drop(opened);
        drop(view);
        drop(created);
        assert!(
            matches!(ShmRegion::open(&name), Err(ShmError::NotFound { .. })),
            "creator unlinks on drop"
        );
    }

    #[test]
    fn exclusive_create_refuses_a_live_name_and_reclaim_refuses_a_live_creator() {
        let name = unique_name("unit-excl");
        let first = ShmRegion::create(&name, &config()).unwrap();
        let err = ShmRegion::create(&name, &config()).unwrap_err();
        let pid = std::process::id();
        assert_eq!(
            err,
            ShmError::AlreadyExists {
                name: name.clone(),
                creator_pid: Some(pid),
                creator_alive: Some(true)
            }
        );
        assert!(err.to_string().contains(&name));
        let reclaim = ShmConfig {
            mode: CreateMode::ReclaimStale,
            ..config()
        };
        assert!(matches!(
            ShmRegion::create(&name, &reclaim),
            Err(ShmError::AlreadyExists { .. })
        ));
        assert_eq!(err.status(), Status::Exists);

        // Force-unlink and recreate: the first creator's drop must leave the new object alone.
        ShmRegion::unlink(&name).unwrap();
        let second = ShmRegion::create(&name, &config()).unwrap();
        drop(first);
        assert!(
            ShmRegion::open(&name).is_ok(),
            "old creator removed the new object"
        );
        drop(second);
        assert!(matches!(
            ShmRegion::unlink(&name),
            Err(ShmError::NotFound { .. })
        ));
    }

    #[test]
    fn bad_config_creates_nothing() {
        let name = unique_name("unit-cfg");
        let err = ShmRegion::create(&name, &ShmConfig::new(3, 64, 64)).unwrap_err();
        assert_eq!(err, ShmError::Config(Violation::Depth));
        assert!(matches!(
            ShmRegion::open(&name),
            Err(ShmError::NotFound { .. })
        ));
    }

    /// Creates a raw object with `bytes` at offset 0 and the given size.
    fn raw_object(name: &str, size: u64, words: &[(usize, u64)]) {
        let c = c_name(name).unwrap();
        let fd = shm_open(name, &c, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL).unwrap();
        // SAFETY: our own fresh descriptor.
        assert_eq!(unsafe { libc::ftruncate(fd.0, size as libc::off_t) }, 0);
        if size >= 4096 {
            let map = Mapping::new(&fd, size as usize, false, name).unwrap();
            for &(i, v) in words {
                // SAFETY: i < 512 keeps the word inside the first page of the writable mapping.
                unsafe { map.base.as_ptr().add(i * 8).cast::<u64>().write(v.to_le()) };
            }
        }
    }

    #[test]
    fn garbage_objects_are_rejected_cleanly() {
        let empty = unique_name("unit-empty");
        raw_object(&empty, 0, &[]);
        assert!(matches!(
            ShmRegion::open(&empty),
            Err(ShmError::NotReady { .. })
        ));
        ShmRegion::unlink(&empty).unwrap();

        let unpublished = unique_name("unit-unpub");
        raw_object(&unpublished, 8192, &[(WORD_CREATOR_PID, 1)]);
        assert!(matches!(
            ShmReadOnly::open(&unpublished),
            Err(ShmError::NotReady { .. })
        ));
        ShmRegion::unlink(&unpublished).unwrap();

        // A valid header from a real object, then one field broken at a time.
        let name = unique_name("unit-src");
        let good = ShmRegion::create(&name, &config()).unwrap();
        let words: Vec<(usize, u64)> = (0..HEADER_WORDS).map(|i| (i, good.map.word(i))).collect();
        let total = good.header().total_bytes;
        drop(good);
        for (index, value) in [
            (WORD_MAGIC, 0x1234),
            (WORD_VERSION, 2),
            (WORD_HEADER_BYTES, 64),
            (WORD_TOTAL_BYTES, total + 4096),
            (WORD_COUNTER_OFFSET, 4100),
            (WORD_COUNTER_OFFSET, u64::MAX - 8),
            (WORD_PAYLOAD_OFFSET, 4096),
            (WORD_PAYLOAD_OFFSET, u64::MAX),
            (WORD_PAYLOAD_BYTES, 64),
            (WORD_REGION_ID, 0),
            (WORD_ARGS, 0),
            (WORD_ARGS + 1, 3),
            (WORD_ARGS + 2, 1 << 62),
            (WORD_ARGS + 5, 388),
        ] {
            let broken = unique_name("unit-bad");
            let mut w = words.clone();
            w[index].1 = value;
            raw_object(&broken, total, &w);
            let r = ShmRegion::open(&broken);
            assert!(
                matches!(r, Err(ShmError::BadHeader { .. })),
                "word {index} = {value:#x}: {r:?}"
            );
            assert!(matches!(
                ShmReadOnly::open(&broken),
                Err(ShmError::BadHeader { .. })
            ));
            ShmRegion::unlink(&broken).unwrap();
        }
    }
}
