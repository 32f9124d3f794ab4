//! The `RateLimit-Policy` and `RateLimit` fields of the IETF httpapi draft
//! (draft-ietf-httpapi-ratelimit-headers, -08 and later), as structured-field
//! lists (RFC 9651):
//!
//! ```text
//! RateLimit-Policy: "ip";q=10;w=60, "quota";q=1000;w=86400
//! RateLimit: "ip";r=3;t=12
//! ```
//!
//! `RateLimit-Policy` lists every policy applied to the request: `q` is its
//! quota and `w` its window in seconds. For a rate, `q`/`w` state the rate as
//! written (`10/min` → `q=10;w=60`); the draft has no burst parameter, and
//! a burst larger than the count lets a quiet client send more than `q` at
//! once. `RateLimit` names the policy closest to refusing (the one that
//! refused, on a 429): `r` is what remains, `t` the seconds until the budget
//! is whole again (on a 429, until the next request would be allowed; always
//! rounded up).

use std::time::Duration;

use guard_core::rate::{Decision, Policy, PolicyLimit, Verdict};
use http::{HeaderMap, HeaderName, HeaderValue};

/// `RateLimit-Policy`.
pub static RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
/// `RateLimit`.
pub static RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The two header values to add to a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateHeaders {
    policy: HeaderValue,
    limit: HeaderValue,
}

impl RateHeaders {
    /// The `RateLimit-Policy` value.
    #[must_use]
    pub fn policy(&self) -> &HeaderValue {
        &self.policy
    }

    /// The `RateLimit` value.
    #[must_use]
    pub fn limit(&self) -> &HeaderValue {
        &self.limit
    }

    /// Sets both headers on `headers`, replacing earlier values (an inner
    /// limiter's headers are replaced by the outer one's).
    pub fn apply(self, headers: &mut HeaderMap) {
        // Moved, not cloned: a clone of a value built from a `Vec` would
        // allocate to share it, on every response.
        headers.insert(RATELIMIT_POLICY.clone(), self.policy);
        headers.insert(RATELIMIT.clone(), self.limit);
    }
}

/// Precomputed `RateLimit-Policy` values for a fixed list of policies, one
/// per subset of applicable policies (there are at most a handful), so a
/// request pays for no formatting but the `RateLimit` item.
#[derive(Debug, Clone)]
pub(crate) struct HeaderPlan {
    /// `"name";r=` for each policy, the fixed start of its `RateLimit`.
    prefixes: Vec<Box<[u8]>>,
    items: Vec<String>,
    /// Indexed by the bit mask of applicable policies, when small enough.
    by_mask: Vec<Option<HeaderValue>>,
}

/// Subsets are precomputed for up to this many policies (2^4 values).
const PRECOMPUTED: usize = 4;

impl HeaderPlan {
    pub(crate) fn new(policies: &[Policy]) -> Self {
        let items: Vec<String> = policies.iter().map(policy_item).collect();
        let prefixes = policies
            .iter()
            .map(|p| {
                format!("\"{}\";r=", p.name())
                    .into_bytes()
                    .into_boxed_slice()
            })
            .collect();
        let by_mask = if policies.len() <= PRECOMPUTED {
            (0..1_usize << policies.len())
                .map(|mask| join(&items, |i| mask & (1 << i) != 0))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            prefixes,
            items,
            by_mask,
        }
    }

    /// The headers for `verdict`, where `applies(i)` tells whether policy
    /// `i` took part. `None` when no policy did.
    pub(crate) fn headers(
        &self,
        verdict: &Verdict,
        applies: impl Fn(usize) -> bool,
    ) -> Option<RateHeaders> {
        let binding = verdict.binding?;
        let prefix = self.prefixes.get(binding)?;
        let policy = if self.by_mask.is_empty() {
            join(&self.items, &applies)?
        } else {
            let mask = (0..self.items.len())
                .filter(|&i| applies(i))
                .fold(0_usize, |mask, i| mask | (1 << i));
            self.by_mask.get(mask)?.clone()?
        };
        let (remaining, reset) = match verdict.decision {
            Decision::Allowed {
                remaining,
                reset_after,
            } => (remaining, reset_after),
            Decision::Denied { retry_after } => (0, retry_after),
        };
        // Written into one exactly sized buffer rather than with `format!`
        // (this runs on every response of a limited route); exact, so that
        // `Bytes` takes the allocation over instead of adding its own.
        let mut remaining_digits = itoa::Buffer::new();
        let remaining = remaining_digits.format(remaining).as_bytes();
        let mut reset_digits = itoa::Buffer::new();
        let reset = reset_digits.format(secs_up(reset)).as_bytes();
        let mut limit =
            Vec::with_capacity(prefix.len() + remaining.len() + RESET_KEY.len() + reset.len());
        limit.extend_from_slice(prefix);
        limit.extend_from_slice(remaining);
        limit.extend_from_slice(RESET_KEY);
        limit.extend_from_slice(reset);
        Some(RateHeaders {
            policy,
            limit: HeaderValue::from_maybe_shared(axum::body::Bytes::from(limit)).ok()?,
        })
    }
}

const RESET_KEY: &[u8] = b";t=";

fn policy_item(policy: &Policy) -> String {
    let (quota, window) = match policy.limit() {
        PolicyLimit::Rate(spec) => (spec.count().get(), spec.unit().as_secs()),
        PolicyLimit::Quota(spec) => (spec.count().get(), spec.unit().as_secs()),
    };
    format!("\"{}\";q={quota};w={window}", policy.name())
}

fn join(items: &[String], include: impl Fn(usize) -> bool) -> Option<HeaderValue> {
    let list: Vec<&str> = items
        .iter()
        .enumerate()
        .filter(|&(i, _)| include(i))
        .map(|(_, item)| item.as_str())
        .collect();
    if list.is_empty() {
        return None;
    }
    HeaderValue::from_str(&list.join(", ")).ok()
}

/// Whole seconds, rounded up: a client that waits `t` is never early.
pub(crate) fn secs_up(duration: Duration) -> u64 {
    let secs = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        secs.saturating_add(1)
    } else {
        secs
    }
}

#[cfg(test)]
mod tests {
    use guard_core::rate::{QuotaSpec, RateSpec};

    use super::*;

    fn policies() -> Vec<Policy> {
        vec![
            Policy::rate("ip", RateSpec::parse("10/min").unwrap()).unwrap(),
            Policy::rate("account", RateSpec::parse("5/s, burst = 20").unwrap()).unwrap(),
            Policy::quota("quota", QuotaSpec::parse("1000/day").unwrap()).unwrap(),
        ]
    }

    #[test]
    fn headers_list_the_applicable_policies_and_name_the_binding_one() {
        let plan = HeaderPlan::new(&policies());
        let allowed = Verdict {
            decision: Decision::Allowed {
                remaining: 3,
                reset_after: Duration::from_millis(11_200),
            },
            binding: Some(0),
        };
        let all = plan.headers(&allowed, |_| true).unwrap();
        assert_eq!(
            all.policy(),
            "\"ip\";q=10;w=60, \"account\";q=5;w=1, \"quota\";q=1000;w=86400"
        );
        assert_eq!(all.limit(), "\"ip\";r=3;t=12");

        let denied = Verdict {
            decision: Decision::Denied {
                retry_after: Duration::from_secs(3_600),
            },
            binding: Some(2),
        };
        let some = plan.headers(&denied, |i| i != 1).unwrap();
        assert_eq!(some.policy(), "\"ip\";q=10;w=60, \"quota\";q=1000;w=86400");
        assert_eq!(some.limit(), "\"quota\";r=0;t=3600");
    }

    #[test]
    fn no_binding_policy_means_no_headers() {
        let plan = HeaderPlan::new(&policies());
        let none = Verdict {
            decision: Decision::Allowed {
                remaining: u32::MAX,
                reset_after: Duration::ZERO,
            },
            binding: None,
        };
        assert_eq!(plan.headers(&none, |_| false), None);
    }

    #[test]
    fn many_policies_are_joined_on_demand() {
        let spec = RateSpec::parse("1/s").unwrap();
        let many: Vec<Policy> = ["a", "b", "c", "d", "e"]
            .into_iter()
            .map(|n| Policy::rate(n, spec).unwrap())
            .collect();
        let plan = HeaderPlan::new(&many);
        let verdict = Verdict {
            decision: Decision::Allowed {
                remaining: 0,
                reset_after: Duration::from_secs(1),
            },
            binding: Some(4),
        };
        let headers = plan.headers(&verdict, |i| i % 2 == 0).unwrap();
        assert_eq!(
            headers.policy(),
            "\"a\";q=1;w=1, \"c\";q=1;w=1, \"e\";q=1;w=1"
        );
        assert_eq!(headers.limit(), "\"e\";r=0;t=1");
    }

    #[test]
    fn seconds_round_up_and_zero_stays_zero() {
        let table = [
            (0, 0),
            (1, 1),
            (999_999_999, 1),
            (1_000_000_000, 1),
            (1_000_000_001, 2),
        ];
        for (nanos, secs) in table {
            assert_eq!(secs_up(Duration::from_nanos(nanos)), secs, "{nanos}");
        }
    }
}
