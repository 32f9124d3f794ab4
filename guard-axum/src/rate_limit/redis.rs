//! [`RedisBackend`]: the same limits held across every instance of a
//! service, in one Redis (feature `redis`).
//!
//! # How it decides
//!
//! One Lua script call per decision (`EVALSHA`, loaded on first use) reads
//! every applicable policy's key, decides them all with the GCRA and
//! fixed-window rules that the in-memory backend applies, and writes only if
//! every policy allows: Redis runs a script atomically, so no other decision
//! on those keys interleaves, and a refusal by one policy spends nothing in
//! the others. Time is Redis's own `TIME`, in microseconds, so instances
//! whose clocks disagree still agree on every decision.
//!
//! # Bounded memory
//!
//! A GCRA key expires (`PX`) when its budget is whole again, at its TAT; a
//! quota key when its window ends. An expired key and a missing key mean
//! the same thing, so Redis holds only keys with live state.
//!
//! # Keys
//!
//! `<prefix>:<scope>:<policy>:<32 hex digits>`, the digits an HMAC-SHA256
//! under the configured shared secret of the limiter key: client addresses
//! and account ids are not stored in Redis in the clear, and identifier keys
//! ([`RateBackend::identifier_key`]) are derived from the same secret, so
//! every instance configured with it computes the same key. The secret must
//! be the same on every instance and at least 32 bytes.
//!
//! # When Redis is unreachable
//!
//! A decision that fails (connection refused, timeout, an error reply) is a
//! [`BackendError`]; the layer or guard then applies its
//! [`FailMode`](super::FailMode): 503 by default, or allow. With
//! [`RedisBackend::connection_config`] a decision gives up after about
//! 250 ms of connect or response timeout plus one retry.
//!
//! Redis Cluster is not supported: the keys of one decision live in
//! different hash slots.

use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use guard_core::rate::{Decision, RateKey, Verdict};
use hmac::{Hmac, Mac};
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::Sha256;

use super::backend::{BackendError, Decide, Policy, PolicyLimit, PolicySet, RateBackend};

/// The decision script; see the module docs. ARGV[1] is `1` to commit, `0`
/// to peek; then four values per key: kind (`g` GCRA, `q` quota) and three
/// integer parameters in microseconds (GCRA: interval, tolerance, burst;
/// quota: period, limit, unused). Returns `{allowed, index (1-based), remaining, wait_us}`.
/// Numbers written back are formatted with `%.0f`: Lua 5.1's `tostring`
/// keeps 14 digits, and a TAT in microseconds has 16.
const SCRIPT: &str = r"
local commit = ARGV[1] == '1'
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local pending = {}
local writes = {}
local deny_i, deny_wait = 0, -1
local allow_i, allow_rem, allow_reset = 0, -1, 0
for i = 1, #KEYS do
  local key = KEYS[i]
  local base = 1 + (i - 1) * 4
  local kind = ARGV[base + 1]
  local a = tonumber(ARGV[base + 2])
  local b = tonumber(ARGV[base + 3])
  local c = tonumber(ARGV[base + 4])
  local stored = pending[key]
  if stored == nil then stored = redis.call('GET', key) end
  local ok, rem, wait, value, ttl = false, 0, 0, nil, 0
  if kind == 'g' then
    local tat = nil
    if stored then tat = tonumber(stored) end
    if tat == nil or tat < now then tat = now end
    local new_tat = tat + a
    local debt = new_tat - now
    if debt <= b then
      ok = true
      rem = math.floor((b - debt) / a)
      if rem > c then rem = c end
      wait = debt
      value = string.format('%.0f', new_tat)
      ttl = math.ceil(debt / 1000)
    else
      wait = debt - b
    end
  else
    local window = math.floor(now / a)
    local reset = a - (now - window * a)
    local used = 0
    if stored then
      local w, u = string.match(stored, '^(%d+):(%d+)$')
      if w and tonumber(w) == window then used = tonumber(u) end
    end
    if used < b then
      ok = true
      rem = b - used - 1
      wait = reset
      value = string.format('%.0f:%.0f', window, used + 1)
      ttl = math.ceil(reset / 1000)
    else
      wait = reset
    end
  end
  if ok then
    pending[key] = value
    writes[#writes + 1] = {key, value, ttl}
    if allow_rem < 0 or rem < allow_rem then
      allow_i, allow_rem, allow_reset = i, rem, wait
    end
  elseif wait > deny_wait then
    deny_i, deny_wait = i, wait
  end
end
if deny_i > 0 then return {0, deny_i, 0, math.ceil(deny_wait)} end
if commit then
  for _, w in ipairs(writes) do
    redis.call('SET', w[1], w[2], 'PX', string.format('%.0f', w[3]))
  end
end
return {1, allow_i, allow_rem, math.ceil(allow_reset)}
";

static DECIDE: LazyLock<Script> = LazyLock::new(|| Script::new(SCRIPT));

/// Microsecond parameters are capped here so Lua's doubles stay exact
/// (2^52 µs is 142 years).
const MAX_US: u64 = 1 << 52;

/// The shortest shared secret accepted.
pub const MIN_SECRET_LEN: usize = 32;

/// A [`RedisBackend`] setting that cannot be right.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisConfigError {
    /// The shared secret is shorter than [`MIN_SECRET_LEN`] bytes.
    #[error("the rate-limit shared secret is {0} bytes; use at least 32 random bytes")]
    ShortSecret(usize),
    /// The key prefix is empty, too long or has characters outside
    /// `A-Z a-z 0-9 _ - . :`.
    #[error("invalid Redis key prefix {0:?}: use 1 to 64 of A-Z a-z 0-9 _ - . :")]
    Prefix(String),
    /// Redis refused the connection or the URL.
    #[error("could not connect to Redis")]
    Connect(#[source] redis::RedisError),
}

/// Rate-limit state in Redis, shared by every instance of the service.
///
/// One atomic Lua script per decision using Redis `TIME`; every key expires
/// when its state is spent (`PX` to the TAT, or to the quota window's end);
/// key names are an HMAC-SHA256 of the limiter key under the shared secret
/// (no addresses or account ids in the clear; every instance with the same
/// secret computes the same keys); a failed decision is a [`BackendError`]
/// answered by the layer's [`FailMode`](super::FailMode), 503 by default.
/// Redis Cluster is not supported (one decision's keys span hash slots).
///
/// ```no_run
/// use guard_axum::rate_limit::{RateLimitLayer, RedisBackend};
///
/// # async fn run(secret: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// let redis = RedisBackend::connect("redis://127.0.0.1/", secret).await?;
/// let layer = RateLimitLayer::new("10/min".parse()?).name("search")?.backend(redis);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisBackend {
    conn: ConnectionManager,
    prefix: Arc<str>,
    hasher: Arc<KeyHasher>,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// The key prefix when not configured.
    pub const DEFAULT_PREFIX: &'static str = "guard:rl";

    /// The connection settings [`RedisBackend::connect`] uses: 250 ms to
    /// connect and to answer, one reconnect retry after 20–100 ms, so a
    /// decision with Redis down fails in well under a second.
    #[must_use]
    pub fn connection_config() -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(250)))
            .set_response_timeout(Some(Duration::from_millis(250)))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(100))
    }

    /// Connects to `url` with [`RedisBackend::connection_config`].
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::ShortSecret`], or
    /// [`RedisConfigError::Connect`] when the URL is malformed or Redis does
    /// not answer.
    pub async fn connect(url: &str, shared_secret: &[u8]) -> Result<Self, RedisConfigError> {
        let hasher = KeyHasher::new(shared_secret)?;
        let client = redis::Client::open(url).map_err(RedisConfigError::Connect)?;
        let conn = ConnectionManager::new_with_config(client, Self::connection_config())
            .await
            .map_err(RedisConfigError::Connect)?;
        Ok(Self::with_hasher(conn, hasher))
    }

    /// Uses an existing connection manager (configure its timeouts: a
    /// decision waits as long as the manager does).
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::ShortSecret`].
    pub fn new(conn: ConnectionManager, shared_secret: &[u8]) -> Result<Self, RedisConfigError> {
        Ok(Self::with_hasher(conn, KeyHasher::new(shared_secret)?))
    }

    fn with_hasher(conn: ConnectionManager, hasher: KeyHasher) -> Self {
        Self {
            conn,
            prefix: Self::DEFAULT_PREFIX.into(),
            hasher: Arc::new(hasher),
        }
    }

    /// Prefixes every key (default `guard:rl`): separate prefixes keep
    /// separate services apart in one Redis.
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::Prefix`] unless 1 to 64 of `A-Z a-z 0-9 _ - . :`.
    pub fn prefix(mut self, prefix: &str) -> Result<Self, RedisConfigError> {
        if !super::backend::is_policy_name(prefix) {
            return Err(RedisConfigError::Prefix(prefix.to_owned()));
        }
        self.prefix = prefix.into();
        Ok(self)
    }
}

impl RateBackend for RedisBackend {
    fn policy_set(&self, scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        let params = policies
            .iter()
            .map(|policy| Params {
                key_prefix: format!("{}:{scope}:{}:", self.prefix, policy.name()),
                args: script_args(policy.limit()),
            })
            .collect();
        Arc::new(RedisSet {
            conn: self.conn.clone(),
            hasher: self.hasher.clone(),
            policies,
            params,
        })
    }

    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey {
        let len = u64::try_from(namespace.len())
            .unwrap_or(u64::MAX)
            .to_be_bytes();
        let mac = self.hasher.mac(&[
            b"identifier",
            &len,
            namespace.as_bytes(),
            identifier.as_bytes(),
        ]);
        let mut bytes = [0_u8; 16];
        bytes.copy_from_slice(mac.get(..16).unwrap_or(&[0; 16]));
        // The identifier tag: outside the IP key space, as in guard-core.
        bytes[0] = 0xff;
        RateKey::from_bytes(bytes)
    }

    fn describe(&self) -> String {
        format!("redis (prefix {})", self.prefix)
    }
}

/// A policy's key prefix and script parameters.
#[derive(Debug)]
struct Params {
    key_prefix: String,
    args: [String; 4],
}

fn script_args(limit: PolicyLimit) -> [String; 4] {
    match limit {
        PolicyLimit::Rate(spec) => {
            let interval_us = u64::try_from(spec.emission_interval().as_nanos().div_ceil(1_000))
                .unwrap_or(MAX_US)
                .clamp(1, MAX_US);
            let burst = spec.burst().get();
            let tolerance_us = interval_us.saturating_mul(u64::from(burst)).min(MAX_US);
            [
                "g".to_owned(),
                interval_us.to_string(),
                tolerance_us.to_string(),
                burst.to_string(),
            ]
        }
        PolicyLimit::Quota(spec) => [
            "q".to_owned(),
            (spec.unit().as_secs() * 1_000_000).to_string(),
            spec.count().get().to_string(),
            "0".to_owned(),
        ],
    }
}

struct RedisSet {
    conn: ConnectionManager,
    hasher: Arc<KeyHasher>,
    policies: Vec<Policy>,
    params: Vec<Params>,
}

impl fmt::Debug for RedisSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSet")
            .field("policies", &self.policies)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl RedisSet {
    fn decide(&self, keys: &[Option<RateKey>], commit: bool) -> Decide {
        if keys.len() != self.params.len() {
            return Decide::ready(Err(BackendError::new(format_args!(
                "{} keys given for {} policies",
                keys.len(),
                self.params.len()
            ))));
        }
        let mut invocation = DECIDE.prepare_invoke();
        invocation.arg(if commit { "1" } else { "0" });
        let mut index = Vec::with_capacity(keys.len());
        for (i, (params, key)) in self.params.iter().zip(keys).enumerate() {
            let Some(key) = key else { continue };
            let mac = self.hasher.mac(&[b"key", &key.to_bytes()]);
            let mut name = params.key_prefix.clone();
            for byte in mac.iter().take(16) {
                name.push(hex_digit(byte >> 4));
                name.push(hex_digit(byte & 0xf));
            }
            invocation.key(name);
            for arg in &params.args {
                invocation.arg(arg);
            }
            index.push(i);
        }
        if index.is_empty() {
            return Decide::ready(Ok(Verdict::combine([])));
        }
        // The invocation borrows only the static script, so it moves into a
        // 'static future with its own connection handle.
        let mut conn = self.conn.clone();
        let future = async move {
            let reply: Vec<i64> = invocation
                .invoke_async(&mut conn)
                .await
                .map_err(BackendError::new)?;
            verdict(&reply, &index)
        };
        Decide::pending(future)
    }
}

/// The script's reply as a verdict; anything unexpected is an error.
fn verdict(reply: &[i64], index: &[usize]) -> Result<Verdict, BackendError> {
    let &[allowed, at, remaining, wait_us] = reply else {
        return Err(BackendError::new(format_args!(
            "unexpected script reply {reply:?}"
        )));
    };
    let binding = usize::try_from(at)
        .ok()
        .and_then(|at| at.checked_sub(1))
        .and_then(|at| index.get(at).copied())
        .ok_or_else(|| BackendError::new(format_args!("unexpected script reply {reply:?}")))?;
    let wait = Duration::from_micros(u64::try_from(wait_us).unwrap_or(0));
    let decision = if allowed == 1 {
        Decision::Allowed {
            remaining: u32::try_from(remaining).unwrap_or(0),
            reset_after: wait,
        }
    } else {
        Decision::Denied { retry_after: wait }
    };
    Ok(Verdict {
        decision,
        binding: Some(binding),
    })
}

fn hex_digit(nibble: u8) -> char {
    char::from_digit(u32::from(nibble), 16).unwrap_or('0')
}

impl PolicySet for RedisSet {
    fn policies(&self) -> &[Policy] {
        &self.policies
    }

    fn check(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(keys, true)
    }

    fn peek(&self, keys: &[Option<RateKey>]) -> Decide {
        self.decide(keys, false)
    }
}

/// HMAC-SHA256 under the shared secret (the `hmac` crate); the keyed state
/// is computed once and cloned per key name.
struct KeyHasher {
    keyed: Hmac<Sha256>,
}

impl KeyHasher {
    fn new(secret: &[u8]) -> Result<Self, RedisConfigError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(RedisConfigError::ShortSecret(secret.len()));
        }
        Ok(Self::new_unchecked(secret))
    }

    fn new_unchecked(secret: &[u8]) -> Self {
        // HMAC takes keys of any length, so this never fails; the fallback
        // (an empty key) only keeps the function total.
        let keyed = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .or_else(|_| <Hmac<Sha256> as Mac>::new_from_slice(&[]));
        match keyed {
            Ok(keyed) => Self { keyed },
            Err(_) => unreachable!("HMAC accepts keys of every length"),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vectors() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        let table: [(&[u8], &[u8], &str); 3] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, data, want) in table {
            let mac = KeyHasher::new_unchecked(key).mac(&[data]);
            assert_eq!(hex(&mac), want);
        }
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(matches!(
            KeyHasher::new(&[7; 31]),
            Err(RedisConfigError::ShortSecret(31))
        ));
        assert!(KeyHasher::new(&[7; 32]).is_ok());
    }

    #[test]
    fn script_parameters_are_microseconds_and_capped() {
        let table = [
            ("10/min", ["g", "6000000", "60000000", "10"]),
            ("3/s", ["g", "333334", "1000002", "3"]),
            ("4294967295/s", ["g", "1", "4294967295", "4294967295"]),
            (
                "1/day, burst = 4294967295",
                ["g", "86400000000", "4503599627370496", "4294967295"],
            ),
        ];
        for (spec, want) in table {
            let args = script_args(PolicyLimit::Rate(spec.parse().unwrap()));
            assert_eq!(args, want.map(str::to_owned), "{spec}");
        }
        let quota = script_args(PolicyLimit::Quota("1000/day".parse().unwrap()));
        assert_eq!(quota, ["q", "86400000000", "1000", "0"].map(str::to_owned));
    }

    #[test]
    fn replies_map_to_verdicts_and_nonsense_is_an_error() {
        let index = [0, 2];
        let allowed = verdict(&[1, 2, 4, 1_500_000], &index).unwrap();
        assert_eq!(allowed.binding, Some(2));
        assert_eq!(
            allowed.decision,
            Decision::Allowed {
                remaining: 4,
                reset_after: Duration::from_millis(1_500)
            }
        );
        let denied = verdict(&[0, 1, 0, 7], &index).unwrap();
        assert_eq!(denied.binding, Some(0));
        assert_eq!(
            denied.decision.retry_after(),
            Some(Duration::from_micros(7))
        );
        for nonsense in [&[][..], &[1, 3, 0, 0], &[1, 0, 0, 0], &[1, 1, 0]] {
            assert!(verdict(nonsense, &index).is_err(), "{nonsense:?}");
        }
    }
}
