//! Why a shared-memory operation failed, and how that maps to a status.

use super::*;

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
