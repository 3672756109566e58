//! Folding of low-32-bit counter observations into local u64 counts
//! (SPEC section 5).

/// Folds an observed low-32 value into `local`. The observation is valid
/// only when it lies `0..=depth` ahead of `local`; anything else is an
/// inconsistent peer and yields `None`.
///
/// The subtraction is done on `u32` and reinterpreted as `i32`, so the
/// result is right across the 2^31 and 2^32 boundaries of the raw value.
pub fn fold(local: u64, observed: u32, depth: u64) -> Option<u64> {
    let delta = observed.wrapping_sub(local as u32) as i32;
    if delta < 0 || delta as u64 > depth {
        return None;
    }
    local.checked_add(delta as u64)
}

#[cfg(test)]
mod tests {
    use super::fold;

    #[test]
    fn folds_within_depth_and_rejects_the_rest() {
        assert_eq!(fold(10, 10, 4), Some(10));
        assert_eq!(fold(10, 14, 4), Some(14));
        assert_eq!(fold(10, 15, 4), None);
        assert_eq!(fold(10, 9, 4), None);
    }

    #[test]
    fn crosses_2_pow_31_and_2_pow_32() {
        let below31 = (1u64 << 31) - 2;
        assert_eq!(fold(below31, (below31 + 3) as u32, 8), Some(below31 + 3));
        let below32 = (1u64 << 32) - 2;
        assert_eq!(fold(below32, 1, 8), Some((1u64 << 32) + 1));
        let high = (5u64 << 32) + 0xFFFF_FFF0;
        assert_eq!(fold(high, 0x0000_0004, 32), Some(high + 0x14));
        assert_eq!(fold(high, 0xFFFF_FFEF, 32), None);
    }

    #[test]
    fn full_depth_2_pow_30_is_accepted() {
        let depth = 1u64 << 30;
        assert_eq!(fold(0, depth as u32, depth), Some(depth));
        assert_eq!(fold(0, depth as u32 + 1, depth), None);
    }
}
