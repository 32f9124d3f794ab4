//! Time for the limiters, as `u64` nanoseconds.
//!
//! Limiters take `now_ns` as an argument instead of reading a clock, so their
//! decisions are pure functions of state and time; the caller (the layer)
//! reads a [`Clock`] once per request. Tests use a [`FakeClock`] advanced by
//! hand instead of sleeping.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// A source of the current time in nanoseconds.
///
/// Implementations must never go backwards: a clock that jumps back makes a
/// GCRA limiter stricter for the length of the jump, and one that jumps
/// forward hands out budget early.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Nanoseconds since the clock's epoch.
    fn now_ns(&self) -> u64;
}

/// The system clock: monotonic, counted from the Unix epoch.
///
/// It reads the wall clock once, when created, and adds the monotonic time
/// elapsed since. So it never goes backwards when NTP steps the wall clock,
/// and fixed quota windows line up with wall-clock boundaries (a `day`
/// window starts at 00:00 UTC), give or take the drift since start-up.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    started: Instant,
    started_unix_ns: u64,
}

impl SystemClock {
    /// A clock anchored at the current wall-clock time.
    #[must_use]
    pub fn new() -> Self {
        let since_epoch = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Self {
            started: Instant::now(),
            started_unix_ns: duration_to_ns(since_epoch),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_ns(&self) -> u64 {
        self.started_unix_ns
            .saturating_add(duration_to_ns(self.started.elapsed()))
    }
}

/// A clock that moves only when told to. Clones share the same time, so a
/// test can hand one clone to the code under test and advance another.
///
/// ```
/// use std::time::Duration;
/// use guard_core::rate::{Clock, FakeClock};
///
/// let clock = FakeClock::new(0);
/// let seen_by_layer = clock.clone();
/// clock.advance(Duration::from_secs(6));
/// assert_eq!(seen_by_layer.now_ns(), 6_000_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct FakeClock {
    now: Arc<AtomicU64>,
}

impl FakeClock {
    /// A clock reading `start_ns`.
    #[must_use]
    pub fn new(start_ns: u64) -> Self {
        Self {
            now: Arc::new(AtomicU64::new(start_ns)),
        }
    }

    /// Moves the clock forward by `by` (saturating at `u64::MAX` ns).
    pub fn advance(&self, by: Duration) {
        let by = duration_to_ns(by);
        // fetch_update cannot fail with a closure that always returns Some.
        let _ = self
            .now
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// Sets the clock to `now_ns`. Setting it backwards is allowed, to test
    /// how a limiter copes with a misbehaving clock.
    pub fn set(&self, now_ns: u64) {
        self.now.store(now_ns, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now_ns(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) fn duration_to_ns(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_clones_share_time_and_advance_saturates() {
        let clock = FakeClock::new(5);
        let other = clock.clone();
        clock.advance(Duration::from_nanos(10));
        assert_eq!(other.now_ns(), 15);
        other.set(u64::MAX - 1);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now_ns(), u64::MAX);
    }

    #[test]
    fn system_clock_is_unix_based_and_monotonic() {
        let clock = SystemClock::new();
        let first = clock.now_ns();
        let second = clock.now_ns();
        assert!(second >= first);
        // After 2020-01-01 and before 2200: anchored at the Unix epoch, not at start-up.
        assert!(first > 1_577_836_800 * 1_000_000_000);
        assert!(first < 7_258_118_400 * 1_000_000_000);
    }

    #[test]
    fn arc_of_a_clock_is_a_clock() {
        let clock: Arc<dyn Clock> = Arc::new(FakeClock::new(42));
        assert_eq!(clock.now_ns(), 42);
    }
}
