//! The C-API contenders: `benches/c/capi_bench.c`, compiled by the bench
//! against `libl3l2q.so` built from the same sources in the bench profile
//! (`lto = true`, `codegen-units = 1`; see [`library`]), started once and asked for one
//! timed run at a time over a pipe, so its runs interleave with the Rust
//! contenders' in every round.
//!
//! `CC` names the compiler (default `cc`); `L3L2Q_BENCH_CFLAGS` replaces
//! the default `-O2`.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

/// The workloads the C program knows (see its header comment).
#[derive(Clone, Copy, Debug)]
pub enum Workload {
    /// `try_enqueue` / `try_peek` + read + `release`.
    Single,
    /// `try_enqueue_batch` / `try_peek_batch` + read + `release_batch`.
    Batch,
    /// `try_enqueue_batch` / `try_consume`.
    Consume,
    /// One round trip at a time, L2 echoing in place.
    RoundTrip,
}

impl Workload {
    fn word(self) -> &'static str {
        match self {
            Workload::Single => "single",
            Workload::Batch => "batch",
            Workload::Consume => "consume",
            Workload::RoundTrip => "rt",
        }
    }
}

/// The running C program.
pub struct CApi {
    child: RefCell<(Child, ChildStdin, BufReader<ChildStdout>)>,
    /// The shared object it was linked against.
    pub library: PathBuf,
}

/// This build's `libl3l2q.so` as a C runtime gets it: the library alone,
/// built with the bench profile's settings (`lto = true`,
/// `codegen-units = 1`). Cargo builds the `.so` it leaves next to the
/// bench binary as a dependency, without LTO, so it is built once more
/// here with `cargo rustc` into a target directory of its own
/// (`<target>/capi-lto`); when nothing changed that is a no-op.
pub fn library() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let exe = std::env::current_exe().expect("current exe");
            // <target>/release/deps/<bench>
            let target = exe.ancestors().nth(3).expect("target dir").to_path_buf();
            let target_dir = target.join("capi-lto");
            let root = find_up("include/l3l2q.h")
                .ancestors()
                .nth(2)
                .expect("repository root")
                .to_path_buf();
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
            eprintln!(
                "building libl3l2q.so with the bench profile settings for the C API into {}",
                target_dir.display()
            );
            // `cargo rustc --profile bench` would build the library's unit
            // tests, so this is the release profile with the bench
            // profile's two settings (Cargo.toml, [profile.bench]).
            let status = Command::new(&cargo)
                .args(["rustc", "--quiet", "-p", "l3l2q", "--lib", "--release"])
                .args(["--crate-type", "cdylib"])
                .env("CARGO_PROFILE_RELEASE_LTO", "true")
                .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
                .arg("--manifest-path")
                .arg(root.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target_dir)
                .stdout(Stdio::null())
                .status()
                .unwrap_or_else(|e| panic!("run {cargo}: {e}"));
            assert!(status.success(), "building libl3l2q.so failed");
            let so = target_dir.join("release").join("libl3l2q.so");
            assert!(so.exists(), "{} not built", so.display());
            so
        })
        .clone()
}

/// The first of `relative` found in this package's directory or above it
/// (the benches may be their own package inside the repository).
fn find_up(relative: &str) -> PathBuf {
    let mut dir = Some(Path::new(env!("CARGO_MANIFEST_DIR")));
    while let Some(d) = dir {
        for candidate in [d.join(relative), d.join("benches").join(relative)] {
            if candidate.exists() {
                return candidate;
            }
        }
        dir = d.parent();
    }
    panic!("{relative} not found above {}", env!("CARGO_MANIFEST_DIR"));
}

impl CApi {
    /// Compiles the C program and starts it. Start it after the process
    /// chose its scheduling policy: the program inherits it.
    pub fn start() -> CApi {
        let source = find_up("c/capi_bench.c");
        let include = find_up("include/l3l2q.h")
            .parent()
            .expect("include dir")
            .to_path_buf();
        let lib = library();
        let dir = lib.parent().expect("library dir").join("capi-bench");
        std::fs::create_dir_all(&dir).expect("create build dir");
        // Link by SONAME through a link in our own directory, as a C
        // runtime would, and find it through the rpath.
        let soname = dir.join("libl3l2q.so.1");
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink(&lib, &soname).expect("soname link");
        let exe = dir.join("capi_bench");
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let cflags = std::env::var("L3L2Q_BENCH_CFLAGS").unwrap_or_else(|_| "-O2".into());
        let out = Command::new(&cc)
            .args(["-std=c11", "-Wall", "-Wextra", "-Werror"])
            .args(cflags.split_whitespace())
            .arg("-I")
            .arg(&include)
            .arg(&source)
            .arg("-o")
            .arg(&exe)
            .arg(format!("-L{}", dir.display()))
            .arg("-l:libl3l2q.so.1")
            .arg(format!("-Wl,-rpath,{}", dir.display()))
            .arg("-lpthread")
            .output()
            .unwrap_or_else(|e| panic!("run the C compiler `{cc}`: {e}"));
        assert!(
            out.status.success(),
            "compiling {} failed:\n{}{}",
            source.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let mut child = Command::new(&exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", exe.display()));
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        CApi {
            child: RefCell::new((child, stdin, stdout)),
            library: lib,
        }
    }

    /// One timed run of `n` messages (or round trips) of `size` bytes.
    pub fn run(&self, workload: Workload, size: usize, n: u64) -> Duration {
        let mut guard = self.child.borrow_mut();
        let (_, stdin, stdout) = &mut *guard;
        writeln!(stdin, "{} {size} {n}", workload.word()).expect("write to the C bench");
        stdin.flush().expect("flush to the C bench");
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read from the C bench");
        match line.trim().parse::<u64>() {
            Ok(ns) => Duration::from_nanos(ns),
            Err(_) => panic!("C bench, {workload:?} {size} B x {n}: {}", line.trim()),
        }
    }
}

impl Drop for CApi {
    fn drop(&mut self) {
        let (child, _, _) = self.child.get_mut();
        let _ = child.kill();
        let _ = child.wait();
    }
}

// ------------------------------------------------------------ in-process

use core::ffi::c_void;
use l3l2q::ffi::ByteSlice;
use l3l2q::ffi::l2::L2Config;
use l3l2q::ffi::l3::L3Config;
use l3l2q::{Message, RegionDescriptor, Reservation};
use std::ptr::null_mut;

/// `libl3l2q.so` of this build loaded into this process with `dlopen`,
/// its functions called through the addresses `dlsym` gives, as a C
/// caller calls them (never inlined into the caller, whatever LTO does to
/// the bench). Handles made by one library instance are used with the
/// same instance only. Statuses are read as plain integers.
pub struct Loaded {
    pub l3_queue_create_mapped: unsafe extern "C" fn(
        *const RegionDescriptor,
        *const L3Config,
        *mut *mut c_void,
        *mut u32,
    ) -> i32,
    pub l3_task_scalars: unsafe extern "C" fn(*mut c_void, *mut u64, usize) -> i32,
    pub l3_try_enqueue_batch:
        unsafe extern "C" fn(*mut c_void, u64, *const ByteSlice, usize, *mut usize) -> i32,
    pub l3_try_dequeue_into:
        unsafe extern "C" fn(*mut c_void, *mut u8, usize, *mut u64, *mut usize) -> i32,
    pub l3_queue_free: unsafe extern "C" fn(*mut *mut c_void) -> i32,
    pub l3_try_enqueue: unsafe extern "C" fn(*mut c_void, u64, *const u8, usize) -> i32,
    pub l3_try_peek: unsafe extern "C" fn(*mut c_void, *mut Message) -> i32,
    pub l3_read_into:
        unsafe extern "C" fn(*mut c_void, *const Message, *mut u8, usize, *mut usize) -> i32,
    pub l3_release: unsafe extern "C" fn(*mut c_void, *const Message) -> i32,
    pub l2_endpoint_create:
        unsafe extern "C" fn(*const u64, usize, *const L2Config, *mut *mut c_void, *mut u32) -> i32,
    pub l2_endpoint_free: unsafe extern "C" fn(*mut *mut c_void) -> i32,
    pub l2_try_peek: unsafe extern "C" fn(*mut c_void, *mut Message) -> i32,
    pub l2_release: unsafe extern "C" fn(*mut c_void, *const Message) -> i32,
    pub l2_try_peek_batch:
        unsafe extern "C" fn(*mut c_void, *mut Message, usize, *mut usize) -> i32,
    pub l2_release_batch: unsafe extern "C" fn(*mut c_void, *const Message, usize) -> i32,
    pub l2_try_consume: unsafe extern "C" fn(
        *mut c_void,
        usize,
        Option<unsafe extern "C" fn(*mut c_void, *const Message)>,
        *mut c_void,
        *mut usize,
    ) -> i32,
    pub l2_try_reserve: unsafe extern "C" fn(*mut c_void, u64, *mut Reservation) -> i32,
    pub l2_publish: unsafe extern "C" fn(*mut c_void, *const Reservation, u64, u64) -> i32,
}

/// A function pointer of type `F` from an address `dlsym` gave.
///
/// # Safety
/// `F` must be a function pointer type matching the function at `f`.
unsafe fn fn_from<F: Copy>(f: *mut c_void) -> F {
    assert_eq!(size_of::<F>(), size_of::<*mut c_void>());
    // SAFETY: same size (checked); the caller guarantees the type.
    unsafe { std::mem::transmute_copy(&f) }
}

impl Loaded {
    /// Loads this build's `libl3l2q.so` (see [`library`]).
    pub fn load() -> Loaded {
        let path = library();
        let cpath = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a NUL-terminated path; RTLD_LOCAL keeps its symbols out of the global namespace. The library has
        // no initialisers with preconditions.
        let lib = unsafe { libc::dlopen(cpath.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(!lib.is_null(), "dlopen {}", path.display());
        macro_rules! sym {
            ($name:literal) => {{
                let name = concat!($name, "\0");
                // SAFETY: `lib` is a live handle; the name is NUL-terminated.
                let f = unsafe { libc::dlsym(lib, name.as_ptr().cast()) };
                assert!(!f.is_null(), "{} not in {}", $name, path.display());
                // SAFETY: the exported function has the signature of the field it is assigned to (the same
                // declarations as include/l3l2q.h, with statuses and enums as their integer types).
                unsafe { fn_from(f) }
            }};
        }
        Loaded {
            l3_queue_create_mapped: sym!("l3l2q_l3_queue_create_mapped"),
            l3_task_scalars: sym!("l3l2q_l3_task_scalars"),
            l3_try_enqueue_batch: sym!("l3l2q_l3_try_enqueue_batch"),
            l3_try_dequeue_into: sym!("l3l2q_l3_try_dequeue_into"),
            l3_queue_free: sym!("l3l2q_l3_queue_free"),
            l3_try_enqueue: sym!("l3l2q_l3_try_enqueue"),
            l3_try_peek: sym!("l3l2q_l3_try_peek"),
            l3_read_into: sym!("l3l2q_l3_read_into"),
            l3_release: sym!("l3l2q_l3_release"),
            l2_endpoint_create: sym!("l3l2q_l2_endpoint_create"),
            l2_endpoint_free: sym!("l3l2q_l2_endpoint_free"),
            l2_try_peek: sym!("l3l2q_l2_try_peek"),
            l2_release: sym!("l3l2q_l2_release"),
            l2_try_peek_batch: sym!("l3l2q_l2_try_peek_batch"),
            l2_release_batch: sym!("l3l2q_l2_release_batch"),
            l2_try_consume: sym!("l3l2q_l2_try_consume"),
            l2_try_reserve: sym!("l3l2q_l2_try_reserve"),
            l2_publish: sym!("l3l2q_l2_publish"),
        }
    }
}

/// An L3 queue and L2 endpoint made through a [`Loaded`] library over one
/// of the benches' regions; both are freed on drop.
pub struct CPair<'a> {
    pub lib: &'a Loaded,
    pub l3: *mut c_void,
    pub l2: *mut c_void,
}

impl<'a> CPair<'a> {
    /// A fresh queue (counters zeroed) and endpoint with `window` over `region`.
    pub fn new(lib: &'a Loaded, region: &super::Ours, window: u64) -> CPair<'a> {
        let descriptor = region.descriptor();
        let layout = region.layout();
        let config = L3Config {
            depth: layout.depth,
            input_arena_bytes: layout.input_arena_bytes,
            output_arena_bytes: layout.output_arena_bytes,
            initial_count: 0,
        };
        let l2_config = L2Config {
            max_inflight: window,
            initial_count: 0,
        };
        let (mut l3, mut l2, mut violation) = (null_mut(), null_mut(), 0u32);
        let mut scalars = [0u64; l3l2q::abi::L3L2Q_TASK_SCALARS];
        // SAFETY: pointers to locals; the region's buffers outlive the pair (`region` is borrowed by the caller
        // for as long as it uses the pair).
        unsafe {
            assert_eq!(
                (lib.l3_queue_create_mapped)(&descriptor, &config, &mut l3, &mut violation),
                0
            );
            assert_eq!(
                (lib.l3_task_scalars)(l3, scalars.as_mut_ptr(), scalars.len()),
                0
            );
            assert_eq!(
                (lib.l2_endpoint_create)(
                    scalars.as_ptr(),
                    scalars.len(),
                    &l2_config,
                    &mut l2,
                    &mut violation
                ),
                0
            );
        }
        CPair { lib, l3, l2 }
    }
}

impl Drop for CPair<'_> {
    fn drop(&mut self) {
        // SAFETY: both handles are live and freed once.
        unsafe {
            (self.lib.l2_endpoint_free)(&mut self.l2);
            (self.lib.l3_queue_free)(&mut self.l3);
        }
    }
}
