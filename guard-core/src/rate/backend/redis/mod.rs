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
//! ([`derive_key`](crate::secret::derive_key) with the label
//! `guard-axum/rate-limit/redis-key-names/v1`):
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
//! [`BackendError`](super::BackendError); the layer or guard then applies its fail mode
//! (guard-axum's `FailMode`): 503 by default, or allow. With
//! [`RedisBackend::connection_config`] a decision gives up after about
//! 250 ms of connect or response timeout plus one retry.
//!
//! Redis Cluster is not supported: the keys of one decision live in
//! different hash slots.

mod keys;
mod script;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Policy, PolicySet, RateBackend, is_policy_name};
use crate::rate::RateKey;
use keys::KeyHasher;
use script::{CLAIM_FINGERPRINT, Params, RedisSet, script_args};

/// The oldest Redis the decision script runs on: 5.0, where scripts are
/// replicated by their effects by default, so a script may write after
/// reading `TIME`.
const MIN_REDIS_VERSION: (u32, u32) = (5, 0);

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
/// is a [`BackendError`](super::BackendError) answered by the layer's fail mode (guard-axum's
/// `FailMode`), 503 by default. Connecting refuses Redis
/// before 5.0 ([`RedisConfigError::OldRedis`]) and a prefix in use with
/// another secret ([`RedisConfigError::SecretMismatch`]: the first instance
/// to connect stores its secret's fingerprint at
/// `<prefix>:secret-fingerprint`; to rotate the secret, stop every instance
/// using the old one and delete that key). Redis Cluster is not supported
/// (one decision's keys span hash slots).
///
/// ```no_run
/// use guard_core::rate::{RateBackend, RedisBackend};
///
/// # async fn run(secret: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
/// let redis = RedisBackend::connect("redis://127.0.0.1/", secret).await?;
/// // Hand it to guard-axum: `RateLimitLayer::new(..).backend(redis)`.
/// assert_eq!(redis.describe(), "redis (prefix guard:rl)");
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
    if !is_policy_name(prefix) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
