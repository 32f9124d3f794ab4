//! Usage ceilings: at most `count` requests per key per fixed window.
//!
//! Windows are aligned to the clock: window `i` covers
//! `[i × period, (i + 1) × period)` nanoseconds, so with the
//! [`SystemClock`](super::SystemClock) a `day` quota resets at 00:00 UTC for
//! every key at once, and every process using the same clock agrees on the
//! boundary. Unlike a rate, nothing comes back before the window ends: this
//! is the ceiling that stops a runaway loop from running up a bill.
//!
//! # The bound, precisely
//!
//! `count` holds per *aligned* window, not per sliding one. Any span of one
//! period's length (`[t, t + period)`) overlaps at most two aligned windows,
//! so it admits at most **`2 × count`**, and that is reached: `200/day`
//! admits 200 at 23:59:59 and 200 more at 00:00:00, 400 within a second
//! (test `a_span_across_a_boundary_admits_at_most_twice_the_count`). Over a
//! longer span of `n` whole periods the most is `(n + 1) × count`. Size a
//! quota so that twice its count is an acceptable worst case, or pair it
//! with a rate (`rate = "10/min"`) that bounds the burst at the boundary.
//! A sliding window that never over-admits needs more than the one word of
//! state per key the store and the Redis script hold, so the quota stays a
//! fixed window and the route report states this bound on every quota row.

use std::time::Duration;

use super::QuotaSpec;
use super::gcra::Decision;
use super::limiter::{LimitRule, Limiter};
use super::store::Rule;

/// A key's usage: the window it was counted in and how much of it is spent,
/// packed into the store's one word as `window << 32 | used`. The window
/// number is kept modulo 2³², which wraps after 136 years of one-second
/// windows; only equality is ever compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Usage {
    window: u32,
    used: u32,
}

impl Usage {
    fn pack(self) -> u64 {
        (u64::from(self.window) << 32) | u64::from(self.used)
    }

    fn unpack(state: u64) -> Self {
        // Truncating casts take the halves, on purpose.
        Self {
            window: (state >> 32) as u32,
            used: state as u32,
        }
    }
}

/// The fixed-window rule of a [`QuotaLimiter`], pure: at most `count` per
/// clock-aligned window of one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedWindow {
    period_ns: u64,
    limit: u32,
}

impl FixedWindow {
    /// The rule enforcing `spec`.
    #[must_use]
    pub fn new(spec: QuotaSpec) -> Self {
        Self {
            period_ns: super::clock::duration_to_ns(spec.period()),
            limit: spec.count().get(),
        }
    }

    /// The window `now_ns` falls in, modulo 2³².
    fn window(&self, now_ns: u64) -> u32 {
        // Truncation is intended: see `Usage`.
        (now_ns / self.period_ns) as u32
    }

    /// Time from `now_ns` to the end of its window.
    fn until_reset(&self, now_ns: u64) -> Duration {
        let into_window = now_ns % self.period_ns;
        Duration::from_nanos(self.period_ns - into_window)
    }
}

impl LimitRule for FixedWindow {
    type Spec = QuotaSpec;

    fn from_spec(spec: QuotaSpec) -> Self {
        Self::new(spec)
    }
}

impl Rule for FixedWindow {
    fn decide(&self, state: Option<u64>, now_ns: u64) -> (Decision, Option<u64>) {
        let window = self.window(now_ns);
        let used = state
            .map(Usage::unpack)
            .filter(|u| u.window == window)
            .map_or(0, |u| u.used);
        let reset = self.until_reset(now_ns);
        if used < self.limit {
            let decision = Decision::Allowed {
                remaining: self.limit - used - 1,
                reset_after: reset,
            };
            let next = Usage {
                window,
                used: used + 1,
            };
            (decision, Some(next.pack()))
        } else {
            (Decision::Denied { retry_after: reset }, None)
        }
    }

    /// Usage from an earlier window is no usage at all.
    fn is_stale(&self, state: u64, now_ns: u64) -> bool {
        Usage::unpack(state).window != self.window(now_ns)
    }

    /// Under memory pressure, the least-used keys go first.
    fn rank(&self, state: u64) -> u64 {
        u64::from(Usage::unpack(state).used)
    }

    fn refusal(&self, now_ns: u64) -> Decision {
        Decision::Denied {
            retry_after: self.until_reset(now_ns),
        }
    }
}

/// A usage ceiling per key, in memory, with bounded memory.
///
/// At most `count` per aligned window, hence at most `2 × count` in any span
/// of one period's length across a window boundary (`200/day` admits 200 at
/// 23:59:59 and 200 more at 00:00:00); see [`QuotaSpec`](super::QuotaSpec).
///
/// A refusal is a [`Decision::Denied`] whose `retry_after` runs to the end of
/// the window; the face answers it with 429 and `Retry-After`. Memory is
/// bounded as for [`RateLimiter`](super::RateLimiter): at most
/// [`StoreConfig::key_limit`](super::StoreConfig::key_limit) keys; keys from
/// past windows are dropped by [`Limiter::sweep`] or when room is needed, and
/// beyond that the least-used keys are evicted first (an evicted key starts its window again from zero, so
/// the store must be sized for the accounts that hold a quota).
///
/// ```
/// use std::time::Duration;
/// use guard_core::rate::{Decision, QuotaLimiter, QuotaSpec, RateKey};
///
/// let quota = QuotaLimiter::new(QuotaSpec::parse("2/day")?);
/// let account = RateKey::for_identifier("account", "42");
/// let noon = 12 * 3_600 * 1_000_000_000;
/// assert!(quota.check(account, noon).is_allowed());
/// assert!(quota.check(account, noon).is_allowed());
/// assert_eq!(
///     quota.check(account, noon),
///     Decision::Denied { retry_after: Duration::from_secs(12 * 3_600) },
/// );
/// # Ok::<(), guard_core::rate::RateSpecError>(())
/// ```
pub type QuotaLimiter = Limiter<FixedWindow>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate::clock::{Clock, FakeClock};
    use crate::rate::{RateKey, StoreConfig};

    const SEC: u64 = 1_000_000_000;
    const DAY: u64 = 86_400 * SEC;

    fn quota(spec: &str) -> QuotaLimiter {
        QuotaLimiter::new(QuotaSpec::parse(spec).unwrap())
    }

    #[test]
    fn ceiling_holds_until_the_window_resets_then_refills_whole() {
        let q = quota("3/day");
        let clock = FakeClock::new(10 * DAY + 20 * 3_600 * SEC); // 20:00 on day 10
        let key = RateKey::for_identifier("account", "7");
        let remaining: Vec<Decision> = (0..3).map(|_| q.check(key, clock.now_ns())).collect();
        let four_hours = Duration::from_secs(4 * 3_600);
        assert_eq!(
            remaining,
            [2, 1, 0].map(|remaining| Decision::Allowed {
                remaining,
                reset_after: four_hours
            })
        );
        clock.advance(Duration::from_secs(3 * 3_600));
        assert_eq!(
            q.check(key, clock.now_ns()),
            Decision::Denied {
                retry_after: Duration::from_secs(3_600)
            }
        );
        // The last nanosecond of the window is still refused.
        clock.set(11 * DAY - 1);
        assert!(!q.check(key, clock.now_ns()).is_allowed());
        clock.set(11 * DAY);
        assert_eq!(
            q.check(key, clock.now_ns()),
            Decision::Allowed {
                remaining: 2,
                reset_after: Duration::from_secs(86_400)
            }
        );
    }

    /// The claimed bound, over a boundary, with a fake clock: `count` per
    /// aligned window, `2 × count` in a span of one period across the
    /// boundary (reached, so the bound is exact), never more.
    #[test]
    fn a_span_across_a_boundary_admits_at_most_twice_the_count() {
        const COUNT: usize = 200;
        let q = quota("200/day");
        let key = RateKey::for_identifier("account", "boundary");
        let midnight = 11 * DAY;
        let clock = FakeClock::new(midnight - SEC); // 23:59:59 on day 10
        let burst = |q: &QuotaLimiter, now| {
            (0..COUNT + 50)
                .filter(|_| q.check(key, now).is_allowed())
                .count()
        };

        // The whole count in the last second of one window...
        assert_eq!(burst(&q, clock.now_ns()), COUNT);
        assert!(!q.check(key, clock.now_ns()).is_allowed());
        // ...and the whole count again in the first instant of the next one:
        // 2 × 200 within one second, the worst case the docs state.
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now_ns(), midnight);
        assert_eq!(burst(&q, clock.now_ns()), COUNT);
        // Nothing more until the following midnight, 24 h after the first
        // second's requests were long in the past.
        clock.set(midnight + DAY - 1);
        assert!(!q.check(key, clock.now_ns()).is_allowed());

        // An eager client on an irregular schedule over three days: record
        // every admission and check both halves of the bound on all of them.
        let q = quota("200/day");
        let clock = FakeClock::new(10 * DAY);
        let mut admitted = Vec::new();
        let mut step: u64 = 12_345;
        while clock.now_ns() < 13 * DAY {
            for _ in 0..7 {
                if q.check(key, clock.now_ns()).is_allowed() {
                    admitted.push(clock.now_ns());
                }
            }
            // A pseudo-random step from 1 ms to about 17 minutes, so requests
            // land just before and just after every boundary.
            step = step
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            clock.advance(Duration::from_millis(1 + (step >> 33) % 1_000_000));
        }
        let mut worst = 0;
        for (i, &start) in admitted.iter().enumerate() {
            let in_span = admitted[i..]
                .iter()
                .take_while(|&&t| t < start + DAY)
                .count();
            worst = worst.max(in_span);
            let window = start / DAY;
            let in_window = admitted.iter().filter(|&&t| t / DAY == window).count();
            assert!(in_window <= COUNT, "window {window}: {in_window}");
        }
        assert!(worst <= 2 * COUNT, "{worst} in one 24 h span");
        // The schedule spends every window: more than the count did land
        // in some 24 h span, so the bound is the one that applies.
        assert!(worst > COUNT, "{worst}");
        assert_eq!(admitted.len(), 3 * COUNT);
    }

    #[test]
    fn peek_does_not_count() {
        let q = quota("1/h");
        let key = RateKey::for_identifier("account", "1");
        for _ in 0..5 {
            assert!(q.peek(key, 0).is_allowed());
        }
        assert!(q.check(key, 0).is_allowed());
        assert!(!q.peek(key, 0).is_allowed());
    }

    #[test]
    fn keys_are_independent() {
        let q = quota("1/day");
        let a = RateKey::for_identifier("account", "a");
        let b = RateKey::for_identifier("account", "b");
        assert!(q.check(a, 0).is_allowed());
        assert!(!q.check(a, 0).is_allowed());
        assert!(q.check(b, 0).is_allowed());
    }

    #[test]
    fn sweep_drops_keys_from_past_windows() {
        let q = quota("5/h");
        for n in 0..100 {
            let _ = q.check(RateKey::for_identifier("account", &n.to_string()), 0);
        }
        assert_eq!(q.len(), 100);
        assert_eq!(q.sweep(3_600 * SEC - 1), 0);
        assert_eq!(q.sweep(3_600 * SEC), 100);
        assert!(q.is_empty());
    }

    #[test]
    fn memory_stays_under_the_cap_under_key_churn() {
        let config = StoreConfig::new().max_keys(500).unwrap();
        let q = QuotaLimiter::with_config(QuotaSpec::parse("10/day").unwrap(), config);
        for n in 0..5_000 {
            let _ = q.check(RateKey::for_identifier("account", &n.to_string()), 0);
            assert!(q.len() <= q.max_keys());
        }
        assert!(q.max_keys() <= 500);
    }

    #[test]
    fn usage_packs_into_one_word_and_back() {
        for usage in [
            Usage { window: 0, used: 0 },
            Usage {
                window: u32::MAX,
                used: 1,
            },
            Usage {
                window: 7,
                used: u32::MAX,
            },
        ] {
            assert_eq!(Usage::unpack(usage.pack()), usage);
        }
        let rule = FixedWindow::new(QuotaSpec::parse("10/h").unwrap());
        let busy = Usage { window: 0, used: 9 }.pack();
        assert_eq!(rule.rank(busy), 9);
        assert!(!rule.is_stale(busy, 3_600 * SEC - 1));
        assert!(rule.is_stale(busy, 3_600 * SEC));
    }

    #[test]
    fn two_threads_on_one_key_never_exceed_the_ceiling() {
        let q = std::sync::Arc::new(quota("3000/day"));
        let key = RateKey::for_identifier("account", "shared");
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let q = std::sync::Arc::clone(&q);
                std::thread::spawn(move || {
                    (0..2_000).filter(|_| q.check(key, 0).is_allowed()).count()
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, 3000);
    }
}
