//! No heap allocation per message on either end, and no system call on
//! the L2 path.
//!
//! A counting global allocator counts allocations per thread; after a
//! warm-up, every message operation of the L3 queue and of the L2
//! endpoint, single and batch forms, runs thousands of times over a
//! `MappedRegion` and the count must not move. The system-call check runs
//! the L2 path in a forked child under seccomp strict mode, where any
//! system call other than read/write/exit kills the process.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;

use l3l2q::abi::*;
use l3l2q::region::MappedRegion;
use l3l2q::{Error, L2Endpoint, L3Queue, Message, Opcode, QueueConfig};

/// Counts every allocation (alloc, alloc_zeroed, realloc) made by the
/// current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn bump() {
    // try_with: a thread being torn down has no counter left; that is not a message path.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards to the system allocator unchanged; the counter is a const-initialised thread-local Cell
// without a destructor, so touching it allocates nothing and cannot recurse.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        bump();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        bump();
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

/// Runs `f` and returns how many allocations this thread made meanwhile.
fn count(f: impl FnOnce()) -> u64 {
    let before = allocations();
    f();
    allocations() - before
}

/// Page-aligned, zeroed payload and counter memory, mapped shared so a
/// forked child's writes reach the parent.
struct Memory {
    payload: *mut u8,
    counters: *mut u8,
    layout: Layout,
}

fn map_shared(bytes: usize) -> *mut u8 {
    // SAFETY: an anonymous shared mapping of a fresh range; no existing memory is affected.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap failed");
    p.cast()
}

// SAFETY: plain memory shared by the two ends exactly as device memory is, through the protocol.
unsafe impl Sync for Memory {}

impl Memory {
    fn new(depth: u64, input_arena: u64, output_arena: u64) -> Memory {
        let layout = Layout::compute(depth, input_arena, output_arena).unwrap();
        Memory {
            payload: map_shared(layout.payload_bytes as usize),
            counters: map_shared(L3L2Q_COUNTER_BYTES as usize),
            layout,
        }
    }

    fn descriptor(&self) -> RegionDescriptor {
        RegionDescriptor::new(
            3,
            self.payload as u64,
            self.layout.payload_bytes,
            self.counters as u64,
            L3L2Q_COUNTER_BYTES,
        )
    }

    /// An L3 queue and an L2 endpoint (window `window`) over this memory.
    fn pair(&self, window: u64) -> (L3Queue<MappedRegion>, L2Endpoint) {
        let descriptor = self.descriptor();
        // SAFETY: the memory outlives the queue and endpoint (every test drops them first).
        let region = unsafe { MappedRegion::from_descriptor(&descriptor) }.unwrap();
        let l3 = L3Queue::create(
            region,
            &descriptor,
            QueueConfig {
                depth: self.layout.depth,
                input_arena_bytes: self.layout.input_arena_bytes,
                output_arena_bytes: self.layout.output_arena_bytes,
            },
        )
        .unwrap();
        // SAFETY: as above.
        let l2 = unsafe { L2Endpoint::from_task_scalars(&l3.task_scalars(), window) }.unwrap();
        (l3, l2)
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: mapped in `new` with these sizes; nothing uses them any more.
        unsafe {
            libc::munmap(self.payload.cast(), self.layout.payload_bytes as usize);
            libc::munmap(self.counters.cast(), L3L2Q_COUNTER_BYTES as usize);
        }
    }
}

const BATCH: usize = 8;

/// One round of every message operation of both ends, in one thread:
/// single and batch forms, copy and zero-copy, plus the no-progress
/// answers of an empty queue and a full window.
fn one_round(
    l3: &mut L3Queue<MappedRegion>,
    l2: &mut L2Endpoint,
    round: u64,
    src: &[u8],
    dst: &mut [u8],
    out: &mut [Message; BATCH],
) {
    let n = (round % 200) as usize + 1;
    let payload = &src[..n];

    // L3 input: copy, batch copy, zero-copy commit, deferred commit + flush.
    l3.try_send(Opcode::Data, payload).unwrap();
    assert_eq!(
        l3.try_send_batch(Opcode::Data, [payload, &src[..3], &[]]),
        Ok(3)
    );
    let r = l3.try_reserve(n as u64).unwrap();
    l3.write_reserved(&r, 0, payload).unwrap();
    l3.publish(&r, Opcode::Error, n as u64).unwrap();
    let r = l3.try_reserve(8).unwrap();
    l3.write_reserved(&r, 0, &round.to_le_bytes()).unwrap();
    l3.publish_deferred(&r, Opcode::Data, 8).unwrap();
    l3.flush().unwrap();
    l3.send(Opcode::Data, payload, 1_000_000_000).unwrap();

    // L2 input: single peek/payload/release, batch peek/release, then consume.
    let m = l2.try_peek().unwrap();
    assert_eq!(l2.payload(&m), payload);
    l2.release(&m).unwrap();
    let k = l2.try_peek_batch(&mut out[..3]).unwrap();
    assert_eq!(k, 3);
    for m in &out[..k] {
        std::hint::black_box(l2.payload(m));
    }
    l2.release_batch(&out[..k]).unwrap();
    assert_eq!(
        l2.try_consume(8, |_, payload| _ = std::hint::black_box(payload)),
        Ok(3)
    );
    assert_eq!(l2.try_peek(), Err(Error::NoProgress));
    assert_eq!(l2.try_peek_batch(out), Err(Error::NoProgress));

    // L2 output: zero-copy publish, deferred publish + flush, copy and batch copy.
    let r = l2.try_reserve(n as u64).unwrap();
    l2.reserved_mut(&r).copy_from_slice(payload);
    l2.publish(&r, Opcode::Data, n as u64).unwrap();
    let r = l2.reserve(4, 1_000_000_000).unwrap();
    l2.write_reserved(&r, 0, &src[..4]).unwrap();
    l2.publish_deferred(&r, Opcode::Data, 4).unwrap();
    l2.flush().unwrap();
    l2.try_send(Opcode::Error, payload).unwrap();
    assert_eq!(l2.try_send_batch(Opcode::Data, [payload, payload]), Ok(2));

    // L3 output: peek/read_into/release, dequeue, batch peek/release.
    let m = l3.try_peek().unwrap();
    assert_eq!(l3.read_into(&m, dst), Ok(n));
    l3.release(&m).unwrap();
    let m = l3.peek(1_000_000_000).unwrap();
    assert_eq!(l3.read_into(&m, dst), Ok(4));
    l3.release(&m).unwrap();
    assert_eq!(l3.try_dequeue_into(dst), Ok((Opcode::Error, n)));
    let k = l3.try_peek_batch(out).unwrap();
    assert_eq!(k, 2);
    for m in &out[..k] {
        assert_eq!(l3.read_into(m, dst), Ok(n));
    }
    l3.release_batch(&out[..k]).unwrap();
    assert_eq!(l3.try_peek(), Err(Error::NoProgress));
    assert_eq!(l3.try_peek_batch(out), Err(Error::NoProgress));
}

#[test]
fn no_allocation_per_message_on_either_end() {
    let mem = Memory::new(16, 1024, 1024);
    let (mut l3, mut l2) = mem.pair(8);
    let src: Vec<u8> = (0..=255).collect();
    let mut dst = vec![0u8; 256];
    let mut out = [Message::EMPTY; BATCH];
    // Warm-up: anything lazily set up on first use (there should be nothing) happens here.
    for round in 0..10 {
        one_round(&mut l3, &mut l2, round, &src, &mut dst, &mut out);
    }
    // Wraps both arenas and both rings many times over.
    let allocated = count(|| {
        for round in 10..5_010 {
            one_round(&mut l3, &mut l2, round, &src, &mut dst, &mut out);
        }
    });
    assert_eq!(
        allocated, 0,
        "message operations allocated {allocated} times in 5000 rounds"
    );
    assert!(l3.error().is_none() && l2.error().is_none());
}

#[test]
fn the_counter_sees_allocations() {
    // The proof above is only as good as the counter: check it counts.
    let n = count(|| {
        std::hint::black_box(vec![1u8; 10]);
        std::hint::black_box(Box::new(5u64));
    });
    assert_eq!(n, 2);
}

#[test]
fn no_allocation_per_message_with_the_ends_on_two_threads() {
    const N: u64 = 200_000;
    let mem = Memory::new(64, 4096, 4096);
    let (mut l3, mut l2) = mem.pair(16);
    std::thread::scope(|s| {
        let consumer = s.spawn(move || {
            let mut out = [Message::EMPTY; BATCH];
            let mut got = 0u64;
            let allocated = count(|| {
                while got < N {
                    let k = if got % 2 == 0 {
                        match l2.try_peek() {
                            Ok(m) => {
                                out[0] = m;
                                1
                            }
                            Err(Error::NoProgress) => continue,
                            Err(e) => panic!("{e:?}"),
                        }
                    } else {
                        match l2.try_peek_batch(&mut out) {
                            Ok(k) => k,
                            Err(Error::NoProgress) => continue,
                            Err(e) => panic!("{e:?}"),
                        }
                    };
                    for m in &out[..k] {
                        assert_eq!(l2.payload(m)[..8], (m.seq - 1).to_le_bytes());
                    }
                    l2.release_batch(&out[..k]).unwrap();
                    got += k as u64;
                }
            });
            assert_eq!(allocated, 0, "L2 thread allocated");
        });
        let mut sent = 0u64;
        let mut buf = [[0u8; 64]; BATCH];
        let allocated = count(|| {
            while sent < N {
                let result = if sent % 3 == 0 {
                    l3.try_send(Opcode::Data, &sent.to_le_bytes()).map(|()| 1)
                } else {
                    let k = (BATCH as u64).min(N - sent) as usize;
                    for (j, b) in buf[..k].iter_mut().enumerate() {
                        b[..8].copy_from_slice(&(sent + j as u64).to_le_bytes());
                    }
                    l3.try_send_batch(Opcode::Data, buf[..k].iter().map(|b| &b[..]))
                };
                match result {
                    Ok(k) => sent += k as u64,
                    Err(Error::NoProgress) => std::hint::spin_loop(),
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
        assert_eq!(allocated, 0, "L3 thread allocated");
        consumer.join().unwrap();
    });
}

/// Whether the clock the blocking calls read is served by the vDSO here
/// (then reading it is no system call).
fn vdso_clock() -> bool {
    let source =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .unwrap_or_default();
    matches!(source.trim(), "tsc" | "kvm-clock" | "arch_sys_counter")
}

/// Installs a seccomp filter on this process that allows `exit` only and
/// kills the process on any other system call. (Strict mode would also
/// do, but on some kernels it breaks the vDSO clock, which is no system
/// call.) Returns false when the filter could not be installed.
#[cfg(target_os = "linux")]
fn forbid_system_calls() -> bool {
    // BPF_LD | BPF_W | BPF_ABS, BPF_JMP | BPF_JEQ | BPF_K, BPF_RET | BPF_K (linux/bpf_common.h).
    const BPF_LD_W_ABS: u16 = 0x20;
    const BPF_JMP_JEQ_K: u16 = 0x15;
    const BPF_RET_K: u16 = 0x06;
    const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
    const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
    let filter = [
        // Load seccomp_data.nr (offset 0).
        libc::sock_filter {
            code: BPF_LD_W_ABS,
            jt: 0,
            jf: 0,
            k: 0,
        },
        libc::sock_filter {
            code: BPF_JMP_JEQ_K,
            jt: 0,
            jf: 1,
            k: libc::SYS_exit as u32,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_ALLOW,
        },
        libc::sock_filter {
            code: BPF_RET_K,
            jt: 0,
            jf: 0,
            k: SECCOMP_RET_KILL_PROCESS,
        },
    ];
    let program = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr().cast_mut(),
    };
    // SAFETY: both prctl calls only change this process's own privileges and filter; `program` points at a
    // valid filter for the duration of the call (the kernel copies it).
    unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
            && libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER as libc::c_ulong,
                &program as *const libc::sock_fprog,
            ) == 0
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_l2_path_makes_no_system_call() {
    let mem = Memory::new(16, 1024, 1024);
    let (mut l3, mut l2) = mem.pair(4);
    let blocking = vdso_clock();
    // Fill the input side in the parent; the child only runs L2 operations.
    for i in 0..12u64 {
        l3.try_send(Opcode::Data, &i.to_le_bytes()).unwrap();
    }
    // SAFETY: the child runs only the L2 operations below (no allocation, no lock: proven by the test above)
    // on memory it inherited, then leaves with the raw exit system call.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        if !forbid_system_calls() {
            // SAFETY: raw exit of this child only.
            unsafe { libc::syscall(libc::SYS_exit, 3) };
        }
        // From here any system call but exit kills the process with SIGSYS.
        let mut ok = true;
        let mut out = [Message::EMPTY; 4];
        for _ in 0..3 {
            let k = l2.try_peek_batch(&mut out[..2]).unwrap_or(0);
            ok &= k == 2;
            for m in &out[..k] {
                ok &= l2.payload(m).len() == 8;
            }
            ok &= l2.release_batch(&out[..k]).is_ok();
            let mut lengths_ok = true;
            ok &= l2.try_consume(2, |_, payload| lengths_ok &= payload.len() == 8) == Ok(2)
                && lengths_ok;
            ok &= l2.try_send(Opcode::Data, b"result").is_ok();
            let r = l2.try_reserve(5);
            ok &= r.is_ok_and(|r| l2.publish_deferred(&r, Opcode::Data, 5).is_ok());
            ok &= l2
                .try_send_batch(Opcode::Data, [b"a".as_slice(), b"b"])
                .is_ok();
            ok &= l2.flush().is_ok();
        }
        ok &= l2.try_peek() == Err(Error::NoProgress);
        if blocking {
            // Blocking calls read the clock (vDSO here) and spin; a timeout is reached without a system call.
            ok &= l2.peek(200_000) == Err(Error::Timeout);
        }
        // SAFETY: raw exit (not exit_group, which the filter forbids) of this child only.
        unsafe { libc::syscall(libc::SYS_exit, if ok { 0 } else { 2 }) };
        unreachable!();
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        !libc::WIFSIGNALED(status),
        "the L2 path made a system call (killed by signal {})",
        libc::WTERMSIG(status)
    );
    assert!(libc::WIFEXITED(status));
    assert_ne!(libc::WEXITSTATUS(status), 3, "seccomp filter unavailable");
    assert_eq!(
        libc::WEXITSTATUS(status),
        0,
        "an L2 operation in the child failed"
    );
    // The child's outputs are in shared memory: 3 rounds of 4 messages reached L3.
    let mut got = 0;
    let mut dst = [0u8; 16];
    while l3.try_dequeue_into(&mut dst).is_ok() {
        got += 1;
    }
    assert_eq!(got, 12);
}

#[cfg(target_os = "linux")]
#[test]
fn the_filter_catches_a_system_call() {
    // The proof above is only as good as the filter: a real system call must kill the child.
    // SAFETY: the child makes one system call and exits; nothing else runs in it.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        if forbid_system_calls() {
            // SAFETY: getpid has no preconditions; the filter must kill us here.
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        // SAFETY: raw exit of this child only.
        unsafe { libc::syscall(libc::SYS_exit, 0) };
        unreachable!();
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFSIGNALED(status) && libc::WTERMSIG(status) == libc::SIGSYS,
        "status {status:#x}"
    );
}
