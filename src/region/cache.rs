//! Data-cache maintenance for non-coherent device memory (aarch64 only,
//! behind the `aarch64-cache-maintenance` feature). On every other build the
//! functions compile to nothing: coherent memory needs no maintenance.

#[cfg(all(target_arch = "aarch64", feature = "aarch64-cache-maintenance"))]
mod imp {
    use core::arch::asm;

    /// Smallest data-cache line in bytes, from CTR_EL0.DminLine.
    fn line_bytes() -> usize {
        let ctr: u64;
        // SAFETY: reading CTR_EL0 is permitted at EL0 on Linux and has no side effects.
        unsafe { asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags)) };
        4usize << ((ctr >> 16) & 0xF)
    }

    /// Cleans (writes back) every line of `[ptr, ptr + len)` to the point of coherency.
    pub fn clean(ptr: *const u8, len: usize) {
        let line = line_bytes();
        let mut addr = (ptr as usize) & !(line - 1);
        let end = ptr as usize + len;
        while addr < end {
            // SAFETY: DC CVAC on an address of this process only writes back a cache line; it cannot fault
            // on a mapped address and the range comes from a region the caller validated.
            unsafe { asm!("dc cvac, {}", in(reg) addr, options(nostack, preserves_flags)) };
            addr += line;
        }
        // SAFETY: a barrier has no memory-safety preconditions.
        unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
    }

    /// Cleans and invalidates every line of `[ptr, ptr + len)` so the next read comes from memory.
    pub fn invalidate(ptr: *const u8, len: usize) {
        let line = line_bytes();
        let mut addr = (ptr as usize) & !(line - 1);
        let end = ptr as usize + len;
        while addr < end {
            // SAFETY: DC CIVAC writes back and drops one line of this process's mapping; data stays intact.
            unsafe { asm!("dc civac, {}", in(reg) addr, options(nostack, preserves_flags)) };
            addr += line;
        }
        // SAFETY: a barrier has no memory-safety preconditions.
        unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
    }

    // Runs on aarch64 only (under qemu-user in CI: .ci/aarch64.sh), so the
    // DC instructions execute at least once from a test of their own.
    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn maintenance_keeps_the_bytes_of_unaligned_multi_line_ranges() {
            let line = line_bytes();
            assert!(
                line.is_power_of_two() && (16..=2048).contains(&line),
                "{line}"
            );
            let mut buf: Vec<u8> = (0..4 * line + 7).map(|i| (i * 7 + 3) as u8).collect();
            let expect = buf.clone();
            // A range starting and ending mid-line, so the first and last
            // lines are only partly inside it.
            let (start, len) = (3, buf.len() - 5);
            clean(buf[start..].as_ptr(), len);
            invalidate(buf[start..].as_ptr(), len);
            assert_eq!(buf, expect);
            buf[start] ^= 0xFF;
            clean(buf[start..].as_ptr(), 1);
            invalidate(buf[start..].as_ptr(), 1);
            assert_eq!(buf[start], expect[start] ^ 0xFF);
            assert_eq!(buf[start + 1..], expect[start + 1..]);
        }
    }
}

#[cfg(not(all(target_arch = "aarch64", feature = "aarch64-cache-maintenance")))]
mod imp {
    /// No-op on coherent memory.
    #[inline(always)]
    pub fn clean(_ptr: *const u8, _len: usize) {}
    /// No-op on coherent memory.
    #[inline(always)]
    pub fn invalidate(_ptr: *const u8, _len: usize) {}
}

pub(crate) use imp::{clean, invalidate};
