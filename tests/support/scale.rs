//! `L3L2Q_TEST_SCALE`: a fraction in (0, 1] of the messages the long
//! two-thread runs push, for slow targets (aarch64 under qemu-user in
//! .ci/aarch64.sh). Unset, every test runs at full size.

/// `base` scaled by `L3L2Q_TEST_SCALE`, at least `min(base, 1000)` so a
/// scaled run still wraps every ring and arena many times over.
pub fn scaled(base: u64) -> u64 {
    let scale = match std::env::var("L3L2Q_TEST_SCALE") {
        Ok(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| *s > 0.0 && *s <= 1.0)
            .unwrap_or_else(|| panic!("L3L2Q_TEST_SCALE={v} is not a fraction in (0, 1]")),
        Err(_) => return base,
    };
    ((base as f64 * scale) as u64).max(base.min(1000))
}
