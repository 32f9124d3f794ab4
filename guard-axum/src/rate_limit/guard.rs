//! [`RateGuard`]: the limits of one guarded route, checked per request by
//! the guards `#[secure_route]` wires.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use guard_core::principal::ACCOUNT_NAMESPACE;
use guard_core::rate::{
    BackendError, Decide, DecideResult, Decision, Policy, PolicyLimit, PolicySet, RateBackend,
    RateKey, ResolvedLimits, Verdict,
};
use guard_core::{GuardError, Principal};

use super::headers::{HeaderPlan, RateHeaders};
use super::layer::{FailMode, fail};

/// The limits of one route, with their state.
///
/// Per request, in the order of the request flow:
///
/// 1. [`RateGuard::precheck`] with the client IP key, before
///    authentication: a client already over its per-IP limit gets 429 before
///    any work, and nothing is counted.
/// 2. If the request is refused before step 3 (401, 400), [`RateGuard::charge`]
///    counts it against the per-IP limit: failed logins and bad tokens
///    are requests too.
/// 3. [`RateGuard::check`] once the account (after authentication) or the
///    identifier (after the body is decoded) is known: per IP, per account,
///    per identifier, the quota and the route-wide ceiling in **one** atomic
///    decision, so a refusal by one spends nothing in the others.
///
/// The per-IP limit of an IPv6 client is decided twice in each step: under
/// the client's key (its /64 by default) and under its /48, with
/// [`IPV6_48_FACTOR`](super::IPV6_48_FACTOR) times the allowance (policy
/// `ip48`), so the /64s of one /48 cannot each spend a whole budget. IPv4
/// clients are counted per address only.
#[derive(Clone)]
pub struct RateGuard {
    route: Arc<str>,
    limits: ResolvedLimits,
    set: Arc<dyn PolicySet>,
    plan: HeaderPlan,
    backend: Arc<dyn RateBackend>,
    fail_mode: FailMode,
    slots: Slots,
}

/// Each kind of limit's index in the set, if the route has it.
#[derive(Debug, Clone, Copy, Default)]
struct Slots {
    ip: Option<usize>,
    ip48: Option<usize>,
    account: Option<usize>,
    identifier: Option<usize>,
    quota: Option<usize>,
    route: Option<usize>,
    len: usize,
}

/// Whether a decision counts the request ([`PolicySet::check`]) or only
/// looks ([`PolicySet::peek`]).
#[derive(Clone, Copy)]
enum Ask {
    Check,
    Peek,
}

/// Policies per route: ip, ip48, account, identifier, quota, route.
const MAX_SLOTS: usize = 6;

/// The IPv6 network every /64 of which shares the `ip48` policy.
const IPV6_AGGREGATE_BITS: u8 = 48;

/// The one key of the route-wide ceiling: its policy counts nothing else.
const ROUTE_KEY: RateKey = RateKey::from_bytes([0; 16]);

impl fmt::Debug for RateGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateGuard")
            .field("route", &self.route)
            .field("limits", &self.limits.to_string())
            .field("backend", &self.backend.describe())
            .field("fail_mode", &self.fail_mode)
            .finish()
    }
}

/// A refusal by a [`RateGuard`]: the error (429, or 503 when the backend
/// failed closed) and the `RateLimit` headers to send with it.
#[derive(Debug)]
pub struct RateRefused(Box<Refusal>);

/// Boxed: a refusal is the rare path, and the `Result` stays small.
#[derive(Debug)]
struct Refusal {
    error: GuardError,
    headers: Option<RateHeaders>,
}

impl RateRefused {
    fn new(error: GuardError, headers: Option<RateHeaders>) -> Self {
        Self(Box::new(Refusal { error, headers }))
    }
}

impl RateRefused {
    /// The error: 429 with its `retry_after`, or 503.
    #[must_use]
    pub fn error(&self) -> &GuardError {
        &self.0.error
    }

    /// The `RateLimit` headers, for a 429.
    #[must_use]
    pub fn headers(&self) -> Option<&RateHeaders> {
        self.0.headers.as_ref()
    }

    /// The error alone, dropping the headers.
    #[must_use]
    pub fn into_error(self) -> GuardError {
        self.0.error
    }
}

impl IntoResponse for RateRefused {
    fn into_response(self) -> Response {
        let Refusal { error, headers } = *self.0;
        let mut response = error.into_response();
        if let Some(headers) = headers {
            headers.apply(response.headers_mut());
        }
        response
    }
}

impl RateGuard {
    /// The state for `limits` on `route` (`"POST /api/login"`, the scope of
    /// its keys in a shared store), failing closed.
    #[must_use]
    pub fn new(route: &str, limits: ResolvedLimits, backend: Arc<dyn RateBackend>) -> Self {
        let mut slots = Slots::default();
        let mut policies = Vec::with_capacity(MAX_SLOTS);
        let mut add = |slot: &mut Option<usize>, name: &'static str, limit: PolicyLimit| {
            *slot = Some(policies.len());
            policies.push(Policy::fixed_owned(name.into(), limit));
        };
        if let Some(ip) = limits.ip {
            add(&mut slots.ip, "ip", PolicyLimit::Rate(ip.value));
        }
        if let Some(ip48) = limits.ipv6_48() {
            add(&mut slots.ip48, "ip48", PolicyLimit::Rate(ip48));
        }
        if let Some(account) = limits.account {
            add(
                &mut slots.account,
                "account",
                PolicyLimit::Rate(account.value),
            );
        }
        if let Some(identifier) = limits.identifier {
            add(
                &mut slots.identifier,
                "identifier",
                PolicyLimit::Rate(identifier.value),
            );
        }
        if let Some(quota) = limits.quota {
            add(&mut slots.quota, "quota", PolicyLimit::Quota(quota.value));
        }
        if let Some(route) = limits.route {
            add(&mut slots.route, "route", PolicyLimit::Rate(route.value));
        }
        slots.len = policies.len();
        let plan = HeaderPlan::new(&policies);
        let set = backend.policy_set(route, policies);
        Self {
            route: route.into(),
            limits,
            set,
            plan,
            backend,
            fail_mode: FailMode::Closed,
            slots,
        }
    }

    /// What to answer when the backend fails (default [`FailMode::Closed`]).
    #[must_use]
    pub fn fail_mode(mut self, mode: FailMode) -> Self {
        self.fail_mode = mode;
        self
    }

    /// The limits in force, with their sources, for the route report.
    #[must_use]
    pub fn limits(&self) -> &ResolvedLimits {
        &self.limits
    }

    /// Whether the route has no limit (every check allows).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.len == 0
    }

    /// The key for an authenticated account id.
    #[must_use]
    pub fn account_key(&self, account_id: &str) -> RateKey {
        self.backend.identifier_key(ACCOUNT_NAMESPACE, account_id)
    }

    /// [`Self::account_key`] of `principal`'s id, which the in-process
    /// backend does not hash again for every request: the principal keeps
    /// it ([`Principal::account_key`]).
    #[must_use]
    pub fn principal_key(&self, principal: &Principal) -> RateKey {
        self.backend.account_key(principal)
    }

    /// The key for an identifier the route names (a login e-mail), already
    /// folded by [`RateKey::fold_identifier`] (trimmed, `str::to_lowercase`)
    /// so `Alice@Example.com ` and `alice@example.com` share one budget.
    #[must_use]
    pub fn folded_identifier_key(&self, folded: &str) -> RateKey {
        self.backend.identifier_key("identifier", folded)
    }

    /// [`Self::folded_identifier_key`] of [`RateKey::fold_identifier`]`(identifier)`.
    #[must_use]
    pub fn identifier_key(&self, identifier: &str) -> RateKey {
        self.folded_identifier_key(&RateKey::fold_identifier(identifier))
    }

    /// The per-IP keys of a request: the client's, and its /48's where the
    /// client is IPv6.
    fn put_ip(&self, keys: &mut [Option<RateKey>; MAX_SLOTS], ip: RateKey) {
        if let Some(k) = self.slots.ip.and_then(|s| keys.get_mut(s)) {
            *k = Some(ip);
        }
        if let Some(k) = self.slots.ip48.and_then(|s| keys.get_mut(s)) {
            *k = ip.ipv6_network(IPV6_AGGREGATE_BITS);
        }
    }

    /// Whether policy `i` takes part in the request's `RateLimit` headers:
    /// it applies (`applied`, a bit per policy with a key), and it is not
    /// the route-wide ceiling (whose state is every client's, not this
    /// one's).
    fn in_headers(&self, applied: u8, i: usize) -> bool {
        self.slots.route != Some(i) && applied & (1 << i) != 0
    }

    fn headers(&self, verdict: &Verdict, applied: u8) -> Option<RateHeaders> {
        if verdict.binding.is_some() && verdict.binding == self.slots.route {
            return None;
        }
        self.plan.headers(verdict, |i| self.in_headers(applied, i))
    }

    /// Whether the backend decides every request at once (the in-memory
    /// one, [`PolicySet::decides_at_once`]): then the `_now` forms of the
    /// three steps below decide in the call, with no future.
    pub(crate) fn decides_at_once(&self) -> bool {
        self.set.decides_at_once()
    }

    /// Step 1, before authentication: refuses a client already over its
    /// per-IP limit (429 with `Retry-After` and `RateLimit` headers; 503 if
    /// the backend fails closed). Counts nothing.
    ///
    /// The keys are laid out and the backend asked in the call; the future
    /// holds only the decision (it is part of every guarded handler's).
    ///
    /// # Errors
    ///
    /// [`RateRefused`] as above.
    pub fn precheck(
        &self,
        ip: RateKey,
    ) -> impl Future<Output = Result<(), RateRefused>> + Send + '_ {
        let decide = self.precheck_decide(ip);
        async move {
            let Some((decide, applied)) = decide else {
                return Ok(());
            };
            self.precheck_outcome(decide.await, applied)
        }
    }

    /// [`Self::precheck`] decided in the call, for a backend that
    /// [decides at once](Self::decides_at_once).
    pub(crate) fn precheck_now(&self, ip: RateKey) -> Result<(), RateRefused> {
        match self.precheck_decide(ip) {
            Some((decide, applied)) => self.precheck_outcome(now(decide), applied),
            None => Ok(()),
        }
    }

    fn precheck_decide(&self, ip: RateKey) -> Option<(Decide, u8)> {
        self.slots.ip.map(|_| {
            let mut keys = [None; MAX_SLOTS];
            self.put_ip(&mut keys, ip);
            self.decide(&keys, Ask::Peek)
        })
    }

    fn precheck_outcome(&self, result: DecideResult, applied: u8) -> Result<(), RateRefused> {
        // A peek that allows adds no headers (the check that follows
        // does), so they are built only for a refusal.
        if let Ok(verdict) = &result
            && verdict.decision.is_allowed()
        {
            return Ok(());
        }
        self.outcome(result, applied).map(drop)
    }

    /// Counts a request that was refused before [`RateGuard::check`] (a 401,
    /// a 400) against the per-IP limit, and returns the headers to add to
    /// that refusal. A backend failure is logged and otherwise ignored: the
    /// request is already refused.
    pub fn charge(&self, ip: RateKey) -> impl Future<Output = Option<RateHeaders>> + Send + '_ {
        let decide = self.charge_decide(ip);
        async move {
            let (decide, applied) = decide?;
            self.charge_outcome(decide.await, applied)
        }
    }

    /// [`Self::charge`] decided in the call, for a backend that
    /// [decides at once](Self::decides_at_once).
    pub(crate) fn charge_now(&self, ip: RateKey) -> Option<RateHeaders> {
        let (decide, applied) = self.charge_decide(ip)?;
        self.charge_outcome(now(decide), applied)
    }

    fn charge_decide(&self, ip: RateKey) -> Option<(Decide, u8)> {
        self.slots.ip.map(|_| {
            let mut keys = [None; MAX_SLOTS];
            self.put_ip(&mut keys, ip);
            self.decide(&keys, Ask::Check)
        })
    }

    fn charge_outcome(&self, result: DecideResult, applied: u8) -> Option<RateHeaders> {
        match result {
            Ok(verdict) => self.headers(&verdict, applied),
            Err(error) => {
                tracing::warn!(route = %self.route, %error, "could not count a refused request");
                None
            }
        }
    }

    /// Step 3: decides the request against every limit of the route at once
    /// and counts it in all of them only if all allow. `account` is the
    /// authenticated account's key ([`RateGuard::account_key`]), `identifier`
    /// the key of the identifier the route names ([`RateGuard::identifier_key`]);
    /// the quota counts per account, or per client IP without one; the
    /// route-wide ceiling counts every request under one key.
    ///
    /// # Errors
    ///
    /// [`RateRefused`]: 429 with `Retry-After` and `RateLimit` headers when
    /// a limit refuses; 503 when the backend fails and the guard fails closed.
    pub fn check(
        &self,
        ip: RateKey,
        account: Option<RateKey>,
        identifier: Option<RateKey>,
    ) -> impl Future<Output = Result<Option<RateHeaders>, RateRefused>> + Send + '_ {
        let decide = self.check_decide(ip, account, identifier);
        async move {
            let Some((decide, applied)) = decide else {
                return Ok(None);
            };
            self.outcome(decide.await, applied)
        }
    }

    /// [`Self::check`] decided in the call, for a backend that
    /// [decides at once](Self::decides_at_once).
    pub(crate) fn check_now(
        &self,
        ip: RateKey,
        account: Option<RateKey>,
        identifier: Option<RateKey>,
    ) -> Result<Option<RateHeaders>, RateRefused> {
        match self.check_decide(ip, account, identifier) {
            Some((decide, applied)) => self.outcome(now(decide), applied),
            None => Ok(None),
        }
    }

    fn check_decide(
        &self,
        ip: RateKey,
        account: Option<RateKey>,
        identifier: Option<RateKey>,
    ) -> Option<(Decide, u8)> {
        (!self.is_empty()).then(|| {
            let mut keys = [None; MAX_SLOTS];
            self.put_ip(&mut keys, ip);
            let mut put = |slot: Option<usize>, key: Option<RateKey>| {
                if let Some(k) = slot.and_then(|s| keys.get_mut(s)) {
                    *k = key;
                }
            };
            put(self.slots.account, account);
            put(self.slots.identifier, identifier);
            put(self.slots.quota, Some(account.unwrap_or(ip)));
            put(self.slots.route, Some(ROUTE_KEY));
            self.decide(&keys, Ask::Check)
        })
    }

    /// Asks the backend about the route's keys (`keys`, a slot per kind of
    /// limit), and which of them apply, a bit each.
    fn decide(&self, keys: &[Option<RateKey>; MAX_SLOTS], ask: Ask) -> (Decide, u8) {
        let keys = keys.get(..self.slots.len).unwrap_or_default();
        let applied = keys
            .iter()
            .enumerate()
            .filter(|(_, key)| key.is_some())
            .fold(0_u8, |applied, (i, _)| applied | (1 << i));
        let decide = match ask {
            Ask::Check => self.set.check(keys),
            Ask::Peek => self.set.peek(keys),
        };
        (decide, applied)
    }

    fn outcome(
        &self,
        result: DecideResult,
        applied: u8,
    ) -> Result<Option<RateHeaders>, RateRefused> {
        let verdict = match result {
            Ok(verdict) => verdict,
            Err(error) => {
                return match fail(self.fail_mode, &self.route, &error) {
                    Ok(()) => Ok(None),
                    Err(error) => Err(RateRefused::new(error, None)),
                };
            }
        };
        let headers = self.headers(&verdict, applied);
        match verdict.decision {
            Decision::Allowed { .. } => Ok(headers),
            Decision::Denied { retry_after } => {
                let policy = verdict
                    .binding
                    .and_then(|b| self.set.policies().get(b))
                    .map_or("", Policy::name);
                tracing::debug!(route = %self.route, policy, "rate limited");
                Err(RateRefused::new(
                    GuardError::too_many_requests(retry_after),
                    headers,
                ))
            }
        }
    }
}

/// The result of a decision from a backend that decides at once; one left
/// pending breaks that promise and is failed as a backend error (the
/// route's fail mode decides), never waited on in a synchronous pass.
fn now(decide: Decide) -> DecideResult {
    decide.into_ready().unwrap_or_else(|_| {
        Err(BackendError::new(
            "a backend that decides at once left a decision pending",
        ))
    })
}
