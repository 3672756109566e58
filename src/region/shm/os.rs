//! The operating-system side: names, `shm_open`, `mmap`ed ranges, file
//! descriptors, and whether a recorded creator process still runs.

use super::header::{WORD_CREATOR_PID, WORD_MAGIC};
use super::*;

/// An `mmap`ed range, unmapped on drop.
#[derive(Debug)]
pub(super) struct Mapping {
    pub(super) base: NonNull<u8>,
    pub(super) len: usize,
}

impl Mapping {
    /// Maps `len` bytes of `fd` shared, readable and (unless `read_only`)
    /// writable.
    pub(super) fn new(
        fd: &Fd,
        len: usize,
        read_only: bool,
        name: &str,
    ) -> Result<Mapping, ShmError> {
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
    pub(super) fn word(&self, index: usize) -> u64 {
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

    pub(super) fn addr(&self) -> u64 {
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
pub(super) struct Fd(pub(super) libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

impl Fd {
    /// `(size, device, inode)` from `fstat`.
    pub(super) fn stat(&self, name: &str) -> Result<(u64, u64, u64), ShmError> {
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

pub(super) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub(super) fn system_error(name: &str, call: &'static str) -> ShmError {
    ShmError::System {
        name: name.to_owned(),
        call,
        errno: errno(),
    }
}

pub(super) fn c_name(name: &str) -> Result<CString, ShmError> {
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

pub(super) fn shm_open(name: &str, c: &CString, flags: libc::c_int) -> Result<Fd, ShmError> {
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

pub(super) fn page_bytes() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page)
        .ok()
        .filter(|p| p.is_power_of_two() && *p >= 4096)
        .unwrap_or(4096)
}

/// Whether process `pid` exists (`kill(pid, 0)`); `None` when unknown.
pub(super) fn process_alive(pid: u64) -> Option<bool> {
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
pub(super) fn is_zombie(pid: libc::pid_t) -> bool {
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

pub(super) fn this_pid() -> u64 {
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

/// Opens `name` and maps it whole, returning the mapping, its size and
/// `(device, inode)`.
pub(super) fn map_existing(
    name: &str,
    read_only: bool,
) -> Result<(Mapping, u64, (u64, u64)), ShmError> {
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
pub(super) struct Probe {
    pub(super) ours: bool,
    pub(super) creator_pid: Option<u32>,
    pub(super) creator_alive: Option<bool>,
}

/// Looks at an existing object read-only, without trusting it.
pub(super) fn probe(name: &str) -> Probe {
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
