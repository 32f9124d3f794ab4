//! The generic cell rate algorithm, as pure arithmetic on nanoseconds.
//!
//! A key's whole state is one number, its *theoretical arrival time* (TAT):
//! the time at which its budget will be full again if nothing more arrives.
//! With emission interval `T = period / count` and tolerance `τ = burst × T`,
//! a request at `now` is allowed when `max(TAT, now) + T − now ≤ τ`, and then
//! `TAT' = max(TAT, now) + T`. A TAT at or before `now` means a full budget,
//! which is why such a key can be forgotten without changing any decision.

use std::time::Duration;

use super::spec::RateSpec;
use super::store::Rule;

/// A limiter's verdict on one request.
///
/// Both variants carry what the IETF `RateLimit` headers need; the face turns
/// [`Decision::Denied`] into a 429 with `Retry-After` (rounded up to whole
/// seconds, never down to 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The request conforms and its cost has been counted (or, from a peek,
    /// would be).
    Allowed {
        /// Requests that could still be made right now.
        remaining: u32,
        /// Time until the budget is whole again (the `t` of `RateLimit`).
        reset_after: Duration,
    },
    /// The request is over the limit and has not been counted.
    Denied {
        /// Time until the same request would be allowed.
        retry_after: Duration,
    },
}

impl Decision {
    /// Whether the request may proceed.
    #[must_use]
    pub const fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// The wait a refusal asks for; `None` when allowed.
    #[must_use]
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Allowed { .. } => None,
            Self::Denied { retry_after } => Some(*retry_after),
        }
    }
}

/// GCRA parameters derived from a [`RateSpec`], in nanoseconds.
///
/// Pure: [`Gcra::decide`] reads a TAT and returns the decision and the TAT to
/// store, so the in-memory store and a shared store (Redis) apply one rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    interval_ns: u64,
    tolerance_ns: u64,
    burst: u32,
}

impl Gcra {
    /// The parameters for `spec`. Products too large for `u64` saturate,
    /// which can only make the limiter stricter than stated, after ~584 years.
    #[must_use]
    pub const fn new(spec: RateSpec) -> Self {
        let interval_ns = spec.emission_interval_ns();
        let burst = spec.burst().get();
        Self {
            interval_ns,
            tolerance_ns: interval_ns.saturating_mul(burst as u64),
            burst,
        }
    }

    /// The emission interval `T` in nanoseconds.
    #[must_use]
    pub const fn interval_ns(&self) -> u64 {
        self.interval_ns
    }

    /// The tolerance `τ = burst × T` in nanoseconds: how far a key's TAT may
    /// run ahead of `now`. A store can expire a key this long after its last
    /// write.
    #[must_use]
    pub const fn tolerance_ns(&self) -> u64 {
        self.tolerance_ns
    }

    /// Decides a request at `now_ns` for a key whose stored TAT is `tat`
    /// (`None` for a key never seen or forgotten). Returns the decision and,
    /// when allowed, the new TAT to store; a refusal changes nothing.
    #[must_use]
    pub fn decide(&self, tat: Option<u64>, now_ns: u64) -> (Decision, Option<u64>) {
        let start = tat.map_or(now_ns, |tat| tat.max(now_ns));
        let new_tat = start.saturating_add(self.interval_ns);
        let debt = new_tat - now_ns; // new_tat > start >= now_ns, as interval_ns >= 1
        if debt <= self.tolerance_ns {
            let remaining = (self.tolerance_ns - debt) / self.interval_ns;
            let remaining = u32::try_from(remaining).unwrap_or(u32::MAX).min(self.burst);
            let decision = Decision::Allowed {
                remaining,
                reset_after: Duration::from_nanos(debt),
            };
            (decision, Some(new_tat))
        } else {
            let decision = Decision::Denied {
                retry_after: Duration::from_nanos(debt - self.tolerance_ns),
            };
            (decision, None)
        }
    }

    /// Whether a stored TAT still carries state at `now_ns`. A TAT at or
    /// before `now` is a full budget, the same as no entry.
    #[must_use]
    pub const fn is_stale(tat: u64, now_ns: u64) -> bool {
        tat <= now_ns
    }
}

/// The store's view of GCRA: the state is the TAT.
impl Rule for Gcra {
    fn decide(&self, state: Option<u64>, now_ns: u64) -> (Decision, Option<u64>) {
        Gcra::decide(self, state, now_ns)
    }

    fn is_stale(&self, state: u64, now_ns: u64) -> bool {
        Gcra::is_stale(state, now_ns)
    }

    /// The further ahead the TAT, the more budget spent: evicted last.
    fn rank(&self, state: u64) -> u64 {
        state
    }

    fn refusal(&self, _now_ns: u64) -> Decision {
        Decision::Denied {
            retry_after: Duration::from_nanos(self.interval_ns),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn gcra(spec: &str) -> Gcra {
        Gcra::new(RateSpec::parse(spec).unwrap())
    }

    /// Runs `decide` `n` times at `now`, storing the TAT like a store would.
    fn spend(gcra: &Gcra, tat: &mut Option<u64>, now: u64, n: usize) -> Vec<Decision> {
        (0..n)
            .map(|_| {
                let (decision, new_tat) = gcra.decide(*tat, now);
                if new_tat.is_some() {
                    *tat = new_tat;
                }
                decision
            })
            .collect()
    }

    #[test]
    fn ten_per_minute_allows_a_burst_of_ten_then_one_every_six_seconds() {
        let g = gcra("10/min");
        let mut tat = None;
        let now = 1_000 * SEC;
        let burst = spend(&g, &mut tat, now, 10);
        let remaining: Vec<u32> = burst
            .iter()
            .map(|d| match d {
                Decision::Allowed { remaining, .. } => *remaining,
                Decision::Denied { .. } => panic!("denied inside the burst: {d:?}"),
            })
            .collect();
        assert_eq!(remaining, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
        assert_eq!(
            burst.last(),
            Some(&Decision::Allowed {
                remaining: 0,
                reset_after: Duration::from_secs(60)
            })
        );

        let eleventh = spend(&g, &mut tat, now, 1);
        assert_eq!(
            eleventh,
            [Decision::Denied {
                retry_after: Duration::from_secs(6)
            }]
        );

        // One nanosecond early is still too early.
        let early = spend(&g, &mut tat, now + 6 * SEC - 1, 1);
        assert_eq!(
            early,
            [Decision::Denied {
                retry_after: Duration::from_nanos(1)
            }]
        );
        let on_time = spend(&g, &mut tat, now + 6 * SEC, 2);
        assert!(on_time[0].is_allowed());
        assert_eq!(on_time[1].retry_after(), Some(Duration::from_secs(6)));
    }

    #[test]
    fn a_smaller_burst_caps_requests_at_once() {
        let g = gcra("5/s, burst = 2");
        let mut tat = None;
        let decisions = spend(&g, &mut tat, 0, 3);
        assert!(decisions[0].is_allowed() && decisions[1].is_allowed());
        assert_eq!(decisions[2].retry_after(), Some(Duration::from_millis(200)));
    }

    #[test]
    fn a_stale_tat_is_the_same_as_no_entry() {
        let g = gcra("10/min");
        let now = 500 * SEC;
        for stale in [0, now - 1, now] {
            assert!(Gcra::is_stale(stale, now));
            assert_eq!(
                g.decide(Some(stale), now),
                g.decide(None, now),
                "tat {stale}"
            );
        }
        assert!(!Gcra::is_stale(now + 1, now));
    }

    #[test]
    fn refusal_does_not_move_the_tat() {
        let g = gcra("1/min");
        let (first, tat) = g.decide(None, 0);
        assert!(first.is_allowed());
        let (second, unchanged) = g.decide(tat, 0);
        assert!(!second.is_allowed());
        assert_eq!(unchanged, None);
    }

    #[test]
    fn extreme_specs_neither_overflow_nor_panic() {
        for spec in [
            "4294967295/s",
            "1/day, burst = 4294967295",
            "4294967295/day, burst = 4294967295",
        ] {
            let g = gcra(spec);
            for now in [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX] {
                for tat in [None, Some(0), Some(now), Some(u64::MAX)] {
                    let _ = g.decide(tat, now);
                }
            }
        }
        // A saturated TAT refuses instead of wrapping round to "allowed".
        let g = gcra("1/s");
        assert!(!g.decide(Some(u64::MAX), 0).0.is_allowed());
    }
}
