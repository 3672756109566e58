//! Bounded waiting. Every blocking call is a loop of immediate attempts
//! paced by a [`Backoff`] and cut off at a deadline; `timeout_ns == 0`
//! means exactly one attempt.
//!
//! Policies:
//! - [`WaitPolicy::Spin`] (L2 on a device core): busy-polls with the CPU's
//!   spin hint and makes no system call; the clock is read every 32 polls
//!   (a vDSO read on Linux, not a system call).
//! - [`WaitPolicy::Backoff`] (L3 host): polls for about the first 20 us,
//!   then yields the core until about 200 us, then sleeps 50 us doubling to
//!   at most 1 ms, never past the deadline. An idle host costs a few
//!   wake-ups per millisecond instead of a busy core; the price is up to
//!   ~1 ms extra latency for a message arriving after a long idle period.

use std::time::{Duration, Instant};

use crate::error::Error;

/// How a blocking call waits between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitPolicy {
    /// Busy-poll only; no system calls (device side).
    Spin,
    /// Poll, then yield, then sleep with a growing interval (host side).
    Backoff,
}

const SPIN_PHASE: Duration = Duration::from_micros(20);
const YIELD_PHASE: Duration = Duration::from_micros(200);
const FIRST_SLEEP: Duration = Duration::from_micros(50);
const LONGEST_SLEEP: Duration = Duration::from_millis(1);
const POLLS_PER_CLOCK_READ: u32 = 32;

/// Paces the attempts of one blocking call.
#[derive(Debug)]
pub struct Backoff {
    policy: WaitPolicy,
    started: Instant,
    deadline: Instant,
    polls: u32,
    sleep: Duration,
}

impl Backoff {
    /// Starts waiting now for at most `timeout_ns`.
    pub fn new(policy: WaitPolicy, timeout_ns: u64) -> Backoff {
        let started = Instant::now();
        // A timeout too large for Instant is clamped to ~292 years: still finite.
        let deadline = started
            .checked_add(Duration::from_nanos(timeout_ns))
            .unwrap_or_else(|| started + Duration::from_secs(u64::MAX >> 5));
        Backoff {
            policy,
            started,
            deadline,
            polls: 0,
            sleep: FIRST_SLEEP,
        }
    }

    /// Pauses before the next attempt; `false` once the deadline passed.
    pub fn pause(&mut self) -> bool {
        self.polls = self.polls.wrapping_add(1);
        match self.policy {
            WaitPolicy::Spin => {
                core::hint::spin_loop();
                self.polls % POLLS_PER_CLOCK_READ != 0 || Instant::now() < self.deadline
            }
            WaitPolicy::Backoff => {
                let now = Instant::now();
                if now >= self.deadline {
                    return false;
                }
                let waited = now - self.started;
                if waited < SPIN_PHASE {
                    core::hint::spin_loop();
                } else if waited < YIELD_PHASE {
                    std::thread::yield_now();
                } else {
                    std::thread::sleep(self.sleep.min(self.deadline - now));
                    self.sleep = (self.sleep * 2).min(LONGEST_SLEEP);
                }
                true
            }
        }
    }
}

/// Runs `attempt` until it does anything but report no-progress, or the
/// deadline passes. The caller turns [`Error::Timeout`] into
/// [`Error::RemoteAborted`] when the peer's flag is set.
///
/// # Errors
/// Whatever `attempt` returns other than [`Error::NoProgress`], or
/// [`Error::Timeout`].
pub fn until<T>(
    policy: WaitPolicy,
    timeout_ns: u64,
    mut attempt: impl FnMut() -> Result<T, Error>,
) -> Result<T, Error> {
    let mut backoff = Backoff::new(policy, timeout_ns);
    loop {
        match attempt() {
            Err(Error::NoProgress) => {}
            done => return done,
        }
        if timeout_ns == 0 || !backoff.pause() {
            return Err(Error::Timeout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_timeout_makes_exactly_one_attempt() {
        let mut calls = 0;
        let r: Result<(), Error> = until(WaitPolicy::Backoff, 0, || {
            calls += 1;
            Err(Error::NoProgress)
        });
        assert_eq!(r, Err(Error::Timeout));
        assert_eq!(calls, 1);
    }

    #[test]
    fn returns_as_soon_as_an_attempt_succeeds() {
        let mut calls = 0;
        let r = until(WaitPolicy::Spin, 1_000_000_000, || {
            calls += 1;
            if calls < 5 {
                Err(Error::NoProgress)
            } else {
                Ok(calls)
            }
        });
        assert_eq!(r, Ok(5));
    }

    #[test]
    fn both_policies_stop_at_the_deadline() {
        for policy in [WaitPolicy::Spin, WaitPolicy::Backoff] {
            let start = Instant::now();
            let r: Result<(), Error> = until(policy, 3_000_000, || Err(Error::NoProgress));
            assert_eq!(r, Err(Error::Timeout));
            assert!(start.elapsed() >= Duration::from_millis(3));
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{policy:?} overshot"
            );
        }
    }

    #[test]
    fn huge_timeout_does_not_overflow() {
        let mut b = Backoff::new(WaitPolicy::Backoff, u64::MAX);
        assert!(b.pause());
    }
}
