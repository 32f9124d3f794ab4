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
//! of the limiter key under a key derived from the configured shared secret
//! ([`derive_key`] with the label `guard-axum/rate-limit/redis-key-names/v1`):
//! client addresses and account ids are not stored in Redis in the clear,
//! and identifier keys ([`RateBackend::identifier_key`]) come from the same
//! derived key, so every instance configured with the secret computes the
//! same key. The names are MACs under a key of their own: whoever reads
//! Redis learns nothing usable against another use of the secret (the
//! download-link signer, say). The secret must be the same on every
//! instance and at least 32 bytes.
//!
//! # Checked at connect
//!
//! [`RedisBackend::connect`] refuses to start rather than run wrong:
//!
//! - **Redis 5.0 or later**, read from `INFO server`: the decision script
//!   writes after reading `TIME`, which Redis allows only when it
//!   replicates a script by its effects, the default from 5.0 on (before,
//!   the script fails with "Write commands not allowed after non
//!   deterministic commands").
//! - **One secret per prefix.** `<prefix>:secret-fingerprint` holds an
//!   HMAC of a fixed label under another key derived from the secret, set
//!   by the first instance to connect. An instance whose secret differs
//!   computes other key names, so its limits would silently not be shared:
//!   it is refused with [`RedisConfigError::SecretMismatch`]. To rotate the
//!   secret, stop every instance using the old one and delete that key.
//!   The key never expires; under an `allkeys-*` eviction policy Redis may
//!   still evict it, and the check then passes for whoever connects next.
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
use guard_core::secret::derive_key;
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

/// Stores ARGV[1] at KEYS[1] unless the key exists; returns what the key
/// holds afterwards. One atomic step, so two instances starting together
/// cannot both believe they were first.
const CLAIM_FINGERPRINT: &str = r"
local stored = redis.call('GET', KEYS[1])
if stored then return stored end
redis.call('SET', KEYS[1], ARGV[1])
return ARGV[1]
";

/// The label of the key that names Redis keys and identifier keys.
const KEY_NAMES_LABEL: &str = "guard-axum/rate-limit/redis-key-names/v1";
/// The label of the key that computes the secret's fingerprint.
const FINGERPRINT_LABEL: &str = "guard-axum/rate-limit/redis-fingerprint/v1";
/// What the fingerprint is the MAC of.
const FINGERPRINT_MESSAGE: &[u8] = b"guard-axum rate limits: one secret per Redis prefix";

/// The oldest Redis the decision script runs on: 5.0, where scripts are
/// replicated by their effects by default, so a script may write after
/// reading `TIME`.
const MIN_REDIS_VERSION: (u32, u32) = (5, 0);

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
    /// Redis refused or failed a start-up check (`INFO server`, the
    /// fingerprint script): an ACL without `INFO` or `EVAL`, a timeout.
    #[error("Redis refused the start-up check ({0})")]
    Check(&'static str, #[source] redis::RedisError),
    /// `INFO server` has no readable `redis_version`.
    #[error("could not read `redis_version` from Redis's `INFO server` ({0:?})")]
    UnknownVersion(String),
    /// Redis older than 5.0.
    #[error(
        "Redis {0} is too old: the rate-limit script writes after reading `TIME`, which \
         needs Redis 5.0 or later (scripts replicated by effects)"
    )]
    OldRedis(String),
    /// `<prefix>:secret-fingerprint` holds another secret's fingerprint.
    #[error(
        "this Redis is used by instances with a different secret: their limits would not be \
         shared (`{key}` holds another secret's fingerprint; use the same secret, another \
         prefix, or delete `{key}` once every instance with the old secret has stopped)"
    )]
    SecretMismatch {
        /// The fingerprint key.
        key: String,
    },
}

/// Rate-limit state in Redis, shared by every instance of the service.
///
/// One atomic Lua script per decision using Redis `TIME`; every key expires
/// when its state is spent (`PX` to the TAT, or to the quota window's end);
/// key names are an HMAC-SHA256 of the limiter key under a key derived from
/// the shared secret (no addresses or account ids in the clear; every
/// instance with the same secret computes the same keys); a failed decision
/// is a [`BackendError`] answered by the layer's
/// [`FailMode`](super::FailMode), 503 by default. Connecting refuses Redis
/// before 5.0 ([`RedisConfigError::OldRedis`]) and a prefix in use with
/// another secret ([`RedisConfigError::SecretMismatch`]: the first instance
/// to connect stores its secret's fingerprint at
/// `<prefix>:secret-fingerprint`; to rotate the secret, stop every instance
/// using the old one and delete that key). Redis Cluster is not supported
/// (one decision's keys span hash slots).
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

    /// Connects to `url` with [`RedisBackend::connection_config`] and the
    /// key prefix [`RedisBackend::DEFAULT_PREFIX`].
    ///
    /// # Errors
    ///
    /// [`RedisConfigError::ShortSecret`];
    /// [`RedisConfigError::Connect`] when the URL is malformed or Redis does
    /// not answer; the start-up checks' [`RedisConfigError::OldRedis`],
    /// [`RedisConfigError::UnknownVersion`],
    /// [`RedisConfigError::SecretMismatch`] and [`RedisConfigError::Check`].
    pub async fn connect(url: &str, shared_secret: &[u8]) -> Result<Self, RedisConfigError> {
        Self::connect_with_prefix(url, shared_secret, Self::DEFAULT_PREFIX).await
    }

    /// Connects to `url` with every key under `prefix`: separate prefixes
    /// keep separate services (and their secrets) apart in one Redis.
    ///
    /// # Errors
    ///
    /// As [`RedisBackend::connect`], and [`RedisConfigError::Prefix`]
    /// unless 1 to 64 of `A-Z a-z 0-9 _ - . :`.
    pub async fn connect_with_prefix(
        url: &str,
        shared_secret: &[u8],
        prefix: &str,
    ) -> Result<Self, RedisConfigError> {
        let hasher = KeyHasher::new(shared_secret)?;
        let prefix = checked_prefix(prefix)?;
        let client = redis::Client::open(url).map_err(RedisConfigError::Connect)?;
        let conn = ConnectionManager::new_with_config(client, Self::connection_config())
            .await
            .map_err(RedisConfigError::Connect)?;
        Self::start(conn, hasher, prefix).await
    }

    /// Uses an existing connection manager (configure its timeouts: a
    /// decision waits as long as the manager does), with the same checks as
    /// [`RedisBackend::connect_with_prefix`].
    ///
    /// # Errors
    ///
    /// As [`RedisBackend::connect_with_prefix`].
    pub async fn from_connection(
        conn: ConnectionManager,
        shared_secret: &[u8],
        prefix: &str,
    ) -> Result<Self, RedisConfigError> {
        let hasher = KeyHasher::new(shared_secret)?;
        let prefix = checked_prefix(prefix)?;
        Self::start(conn, hasher, prefix).await
    }

    /// What [`RateBackend::describe`] says of a backend with this prefix:
    /// for a report made without connecting (a `--print-routes`).
    #[must_use]
    pub fn describe_prefix(prefix: &str) -> String {
        format!("redis (prefix {prefix})")
    }

    /// The version check, then the secret's fingerprint claimed or compared.
    async fn start(
        mut conn: ConnectionManager,
        hasher: KeyHasher,
        prefix: Arc<str>,
    ) -> Result<Self, RedisConfigError> {
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .map_err(|e| RedisConfigError::Check("INFO server", e))?;
        check_version(&info)?;
        let key = format!("{prefix}:secret-fingerprint");
        let stored: String = Script::new(CLAIM_FINGERPRINT)
            .key(&key)
            .arg(&hasher.fingerprint)
            .invoke_async(&mut conn)
            .await
            .map_err(|e| RedisConfigError::Check("the secret fingerprint", e))?;
        if stored != hasher.fingerprint {
            return Err(RedisConfigError::SecretMismatch { key });
        }
        Ok(Self {
            conn,
            prefix,
            hasher: Arc::new(hasher),
        })
    }
}

fn checked_prefix(prefix: &str) -> Result<Arc<str>, RedisConfigError> {
    if !super::backend::is_policy_name(prefix) {
        return Err(RedisConfigError::Prefix(prefix.to_owned()));
    }
    Ok(prefix.into())
}

/// Refuses a Redis older than `MIN_REDIS_VERSION`, by the
/// `redis_version` line of `INFO server`.
fn check_version(info: &str) -> Result<(), RedisConfigError> {
    let version = info
        .lines()
        .find_map(|line| line.strip_prefix("redis_version:"))
        .map(str::trim)
        .ok_or_else(|| RedisConfigError::UnknownVersion("no redis_version line".to_owned()))?;
    let unknown = || RedisConfigError::UnknownVersion(version.to_owned());
    let mut parts = version.split('.');
    let mut number = || -> Result<u32, RedisConfigError> {
        let part = parts.next().ok_or_else(unknown)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(unknown());
        }
        part.parse().map_err(|_| unknown())
    };
    let (major, minor, _patch) = (number()?, number()?, number()?);
    if parts.next().is_some() {
        return Err(unknown());
    }
    if (major, minor) < MIN_REDIS_VERSION {
        return Err(RedisConfigError::OldRedis(version.to_owned()));
    }
    Ok(())
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
        Self::describe_prefix(&self.prefix)
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

/// HMAC-SHA256 (the `hmac` crate) under the key-names key derived from the
/// shared secret; the keyed state is computed once and cloned per key name.
/// Also holds the secret's fingerprint, under a second derived key.
struct KeyHasher {
    keyed: Hmac<Sha256>,
    fingerprint: String,
}

impl KeyHasher {
    fn new(secret: &[u8]) -> Result<Self, RedisConfigError> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(RedisConfigError::ShortSecret(secret.len()));
        }
        let names = derive_key(secret, KEY_NAMES_LABEL);
        let check = derive_key(secret, FINGERPRINT_LABEL);
        let fingerprint = mac(&keyed(check.expose()), &[FINGERPRINT_MESSAGE]);
        Ok(Self {
            keyed: keyed(names.expose()),
            fingerprint: hex(&fingerprint),
        })
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac(&self.keyed, parts)
    }
}

fn keyed(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length, so this never fails; the fallback
    // (an empty key) only keeps the function total.
    let keyed = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .or_else(|_| <Hmac<Sha256> as Mac>::new_from_slice(&[]));
    match keyed {
        Ok(keyed) => keyed,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

fn mac(keyed: &Hmac<Sha256>, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = keyed.clone();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(hex_digit(byte >> 4));
        out.push(hex_digit(byte & 0xf));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert_eq!(hex(&mac(&keyed(key), &[data])), want);
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
    fn key_names_use_a_derived_key_not_the_secret() {
        let secret = [7_u8; 32];
        let hasher = KeyHasher::new(&secret).unwrap();
        let parts: [&[u8]; 2] = [b"key", &[1; 16]];
        assert_eq!(
            hasher.mac(&parts),
            mac(
                &keyed(derive_key(&secret, KEY_NAMES_LABEL).expose()),
                &parts
            )
        );
        assert_ne!(hasher.mac(&parts), mac(&keyed(&secret), &parts));
        // The fingerprint is stable, 64 hex digits, and differs per secret.
        assert_eq!(
            hasher.fingerprint,
            KeyHasher::new(&secret).unwrap().fingerprint
        );
        assert_eq!(hasher.fingerprint.len(), 64);
        assert_ne!(
            hasher.fingerprint,
            KeyHasher::new(&[8; 32]).unwrap().fingerprint
        );
    }

    #[test]
    fn versions_before_5_are_refused_and_garbage_is_an_error() {
        let info = |version: &str| {
            format!(
                "# Server\r\nredis_git_sha1:00000000\r\nredis_version:{version}\r\nredis_mode:standalone\r\n"
            )
        };
        for ok in ["5.0.0", "5.0.14", "6.2.14", "7.2.4", "10.0.0"] {
            assert!(check_version(&info(ok)).is_ok(), "{ok}");
        }
        for old in ["4.0.14", "3.2.12", "2.8.24", "0.0.1"] {
            let err = check_version(&info(old)).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "Redis {old} is too old: the rate-limit script writes after reading `TIME`, \
                     which needs Redis 5.0 or later (scripts replicated by effects)"
                )
            );
        }
        for garbage in [
            "",
            "banana",
            "5",
            "5.0",
            "5.0.",
            "5..0",
            "v5.0.0",
            "5.0.0.1",
            "-5.0.0",
            "5.x.0",
            "99999999999.0.0",
        ] {
            let err = check_version(&info(garbage)).unwrap_err();
            assert!(
                matches!(err, RedisConfigError::UnknownVersion(_)),
                "{garbage}: {err}"
            );
        }
        for no_line in [
            "",
            "# Server\r\nredis_mode:standalone\r\n",
            "xredis_version:7.2.4",
        ] {
            assert!(matches!(
                check_version(no_line),
                Err(RedisConfigError::UnknownVersion(_))
            ));
        }
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
