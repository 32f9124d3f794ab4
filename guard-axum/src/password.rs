//! Password hashing with bounded work: [`PasswordHasher`].
//!
//! Every sign-up and every login (an unknown e-mail included, so that it
//! costs what a known one does) runs Argon2id, tens of milliseconds of CPU
//! and 19 MiB each. Run unbounded on tokio's blocking pool, which also
//! serves file I/O, a flood of logins queues without end and starves the
//! rest of the service. [`PasswordHasher`] runs at most a fixed number of
//! hashes at once (by default one per core), lets at most a fixed number of
//! calls wait for a turn, each for a bounded time (by default none), and
//! answers every other call 503 `{"error":"unavailable"}` with
//! `Retry-After` at once, without starting any work.
//!
//! ```
//! use guard_axum::password::PasswordHasher;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), guard_axum::GuardError> {
//! let hasher = PasswordHasher::new();
//! let phc = hasher.hash("correct horse battery staple".to_owned()).await?;
//! assert!(hasher.verify("correct horse battery staple".to_owned(), &phc).await?);
//! assert!(!hasher.verify("wrong".to_owned(), &phc).await?);
//! // An unknown e-mail: the same work, and always `false`.
//! assert!(!hasher.verify_dummy("anything".to_owned()).await?);
//! # Ok(()) }
//! ```
//!
//! A concurrency bound is not a rate bound: put a per-IP limit and a
//! route-wide ceiling (`LimitOverride::rate_route`) on the routes that
//! hash, so a flood is refused before it reaches the hasher.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use guard_core::GuardError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Argon2id's cost: memory, iterations and lanes.
#[derive(Clone, PartialEq, Eq)]
pub struct HashParams(Params);

impl HashParams {
    /// OWASP's first recommendation for Argon2id (Password Storage Cheat
    /// Sheet): m = 19 MiB (19 456 KiB), t = 2 iterations, p = 1 lane, a
    /// 32-byte output. The default.
    #[must_use]
    pub fn owasp() -> Self {
        Self(Params::default())
    }

    /// `memory_kib` KiB, `iterations` passes, `lanes` lanes.
    ///
    /// # Errors
    ///
    /// [`HashParamsError`] for a cost Argon2 refuses (memory below 8 KiB
    /// per lane, zero iterations or lanes, …).
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self, HashParamsError> {
        Params::new(memory_kib, iterations, lanes, None)
            .map(Self)
            .map_err(|e| HashParamsError(e.to_string()))
    }

    /// Memory per hash in KiB.
    #[must_use]
    pub fn memory_kib(&self) -> u32 {
        self.0.m_cost()
    }

    /// Iterations.
    #[must_use]
    pub fn iterations(&self) -> u32 {
        self.0.t_cost()
    }

    /// Lanes.
    #[must_use]
    pub fn lanes(&self) -> u32 {
        self.0.p_cost()
    }
}

impl Default for HashParams {
    fn default() -> Self {
        Self::owasp()
    }
}

impl fmt::Debug for HashParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HashParams(argon2id m={} KiB, t={}, p={})",
            self.memory_kib(),
            self.iterations(),
            self.lanes()
        )
    }
}

/// Argon2 refused the parameters; the text says why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid argon2 parameters: {0}")]
pub struct HashParamsError(String);

/// Hashes and verifies passwords with Argon2id, at most
/// [`PasswordHasherBuilder::max_concurrent`] at once, on tokio's blocking
/// pool.
///
/// Each call takes a permit first. When none is free it may wait for one
/// if fewer than [`PasswordHasherBuilder::queue`]'s `max_waiting` calls are
/// already waiting, for at most its `wait`; otherwise (by default: at once)
/// it refuses with 503 `{"error":"unavailable"}` and `Retry-After`
/// ([`PasswordHasherBuilder::retry_after`], 1 s by default) without
/// starting any work. A permit is held until the hash is done, also when
/// the request that asked for it is gone, so at most that many hashes (and
/// that many times the memory cost) run at any time.
///
/// Cloning is one reference count; clones share the permits.
#[derive(Clone)]
pub struct PasswordHasher(Arc<Inner>);

struct Inner {
    params: Params,
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    /// One permit per call allowed to wait for a turn.
    waiting: Semaphore,
    max_waiting: usize,
    queue_wait: Duration,
    retry_after: Duration,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &HashParams(self.0.params.clone()))
            .field("max_concurrent", &self.0.max_concurrent)
            .field("max_waiting", &self.0.max_waiting)
            .field("queue_wait", &self.0.queue_wait)
            .field("retry_after", &self.0.retry_after)
            .finish()
    }
}

impl Default for PasswordHasher {
    fn default() -> Self {
        Self::new()
    }
}

/// Settings of a [`PasswordHasher`].
#[derive(Debug)]
#[must_use]
pub struct PasswordHasherBuilder {
    params: HashParams,
    permits: Option<Arc<Semaphore>>,
    max_concurrent: NonZeroUsize,
    max_waiting: usize,
    queue_wait: Duration,
    retry_after: Duration,
}

impl PasswordHasherBuilder {
    /// The Argon2id cost (default [`HashParams::owasp`]). Hashes stored
    /// with other parameters are verified with theirs.
    pub fn params(mut self, params: HashParams) -> Self {
        self.params = params;
        self
    }

    /// How many hashes may run at once (default: the number of cores,
    /// `std::thread::available_parallelism`).
    pub fn max_concurrent(mut self, permits: NonZeroUsize) -> Self {
        self.max_concurrent = permits;
        self.permits = None;
        self
    }

    /// Takes its permits from `permits` instead, shared with whatever else
    /// holds that semaphore (other CPU-heavy work; a test that holds the
    /// permits to see the hasher refuse). Replaces `max_concurrent`.
    pub fn semaphore(mut self, permits: Arc<Semaphore>) -> Self {
        self.permits = Some(permits);
        self
    }

    /// Lets up to `max_waiting` calls wait for a permit when all are taken,
    /// each for at most `wait`; any further call is refused at once
    /// (default `0`, zero: refused at once whenever every permit is
    /// taken). The queue bounds latency as well as memory: a call waits
    /// behind at most `max_waiting / max_concurrent` hashes.
    pub fn queue(mut self, max_waiting: usize, wait: Duration) -> Self {
        self.max_waiting = max_waiting;
        self.queue_wait = wait;
        self
    }

    /// The `Retry-After` of a refusal (default 1 s; sent in whole seconds,
    /// at least 1).
    pub fn retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The hasher.
    #[must_use]
    pub fn build(self) -> PasswordHasher {
        let (permits, max_concurrent) = match self.permits {
            Some(shared) => {
                let n = shared.available_permits();
                (shared, n)
            }
            None => {
                let n = self.max_concurrent.get();
                (Arc::new(Semaphore::new(n)), n)
            }
        };
        PasswordHasher(Arc::new(Inner {
            params: self.params.0,
            permits,
            max_concurrent,
            waiting: Semaphore::new(self.max_waiting.min(Semaphore::MAX_PERMITS)),
            max_waiting: self.max_waiting,
            queue_wait: self.queue_wait,
            retry_after: self.retry_after,
        }))
    }
}

impl PasswordHasher {
    /// OWASP parameters, one hash per core at most, refused at once when
    /// busy (see [`PasswordHasherBuilder`] for each default).
    #[must_use]
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Settings, from the defaults of [`PasswordHasher::new`].
    pub fn builder() -> PasswordHasherBuilder {
        PasswordHasherBuilder {
            params: HashParams::owasp(),
            permits: None,
            max_concurrent: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
            max_waiting: 0,
            queue_wait: Duration::ZERO,
            retry_after: Duration::from_secs(1),
        }
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) of `password`
    /// under a fresh random salt.
    ///
    /// # Errors
    ///
    /// 503 with `Retry-After` when every permit is taken (nothing done); 500
    /// if Argon2 fails.
    pub async fn hash(&self, password: String) -> Result<String, GuardError> {
        let argon2 = self.argon2();
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| GuardError::internal(format_args!("argon2 hash: {e}")))
        })
        .await
    }

    /// Whether `password` matches the stored PHC string `phc`, in constant
    /// time, with the parameters `phc` names.
    ///
    /// # Errors
    ///
    /// 503 with `Retry-After` when every permit is taken (nothing done);
    /// 500 when `phc` is not a PHC string.
    pub async fn verify(&self, password: String, phc: &str) -> Result<bool, GuardError> {
        let argon2 = self.argon2();
        let phc = phc.to_owned();
        self.run(move || {
            let parsed = PasswordHash::new(&phc)
                .map_err(|e| GuardError::internal(format_args!("stored password hash: {e}")))?;
            Ok(argon2.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }

    /// What [`Self::verify`] costs against a hash made with this hasher's
    /// parameters, for an identifier with no account: always `false`, so
    /// "no such user" takes as long as "wrong password" (no enumeration of
    /// accounts by timing). Refused when busy like every call, as a known
    /// account's verify would be.
    ///
    /// # Errors
    ///
    /// As for [`Self::verify`].
    pub async fn verify_dummy(&self, password: String) -> Result<bool, GuardError> {
        let argon2 = self.argon2();
        self.run(move || {
            // The work of a verify: one Argon2 computation of the same
            // cost and output length; the output is never compared.
            let mut output = [0_u8; Params::DEFAULT_OUTPUT_LEN];
            argon2
                .hash_password_into(password.as_bytes(), &[0_u8; 16], &mut output)
                .map_err(|e| GuardError::internal(format_args!("argon2 dummy verify: {e}")))?;
            std::hint::black_box(output);
            Ok(false)
        })
        .await
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.0.params.clone())
    }

    /// Runs `work` on the blocking pool under a permit, or refuses.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, GuardError> + Send + 'static,
    ) -> Result<T, GuardError> {
        let permit = self.permit().await?;
        tokio::task::spawn_blocking(move || {
            // Released when the work is done, not when the caller leaves.
            let _permit = permit;
            work()
        })
        .await?
    }

    async fn permit(&self) -> Result<OwnedSemaphorePermit, GuardError> {
        let permits = &self.0.permits;
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) if self.0.queue_wait.is_zero() => None,
            // A place in the queue, or refused at once: never unbounded.
            Err(_) => match self.0.waiting.try_acquire() {
                Ok(_place) => {
                    tokio::time::timeout(self.0.queue_wait, permits.clone().acquire_owned())
                        .await
                        .ok()
                        .and_then(Result::ok)
                }
                Err(_) => None,
            },
        };
        permit.ok_or_else(|| {
            tracing::debug!(
                max_concurrent = self.0.max_concurrent,
                "password hashing at capacity: refused with 503"
            );
            GuardError::busy(self.0.retry_after)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Argon2's minimum cost: these tests are about the bound, not the hash.
    fn cheap() -> PasswordHasherBuilder {
        PasswordHasher::builder().params(HashParams::new(8, 1, 1).unwrap())
    }

    #[test]
    fn the_default_parameters_are_owasps() {
        let params = HashParams::default();
        assert_eq!(
            (params.memory_kib(), params.iterations(), params.lanes()),
            (19 * 1024, 2, 1)
        );
        assert!(HashParams::new(1, 1, 1).is_err());
        assert!(HashParams::new(8, 0, 1).is_err());
    }

    #[tokio::test]
    async fn hashes_verify_and_a_dummy_never_matches() {
        let hasher = cheap().build();
        let phc = hasher.hash("correct horse".to_owned()).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{phc}");
        assert!(
            hasher
                .verify("correct horse".to_owned(), &phc)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("correct horsE".to_owned(), &phc)
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify_dummy("correct horse".to_owned())
                .await
                .unwrap()
        );
        // Two hashes of one password differ (fresh salts).
        assert_ne!(phc, hasher.hash("correct horse".to_owned()).await.unwrap());
    }

    #[tokio::test]
    async fn a_malformed_stored_hash_is_a_generic_500() {
        let hasher = cheap().build();
        let err = hasher
            .verify("pw".to_owned(), "not a phc string")
            .await
            .unwrap_err();
        assert_eq!(err.status(), 500);
        assert!(!err.public_body().contains("phc"));
    }

    #[tokio::test]
    async fn every_call_is_refused_at_once_while_the_permits_are_taken() {
        let permits = Arc::new(Semaphore::new(1));
        let hasher = cheap()
            .semaphore(permits.clone())
            .retry_after(Duration::from_secs(3))
            .build();
        let held = permits.clone().try_acquire_owned().unwrap();
        for refused in [
            hasher.hash("pw".to_owned()).await.unwrap_err(),
            hasher.verify("pw".to_owned(), "x").await.unwrap_err(),
            hasher.verify_dummy("pw".to_owned()).await.unwrap_err(),
        ] {
            assert_eq!(refused.status(), 503);
            assert_eq!(refused.public_body(), r#"{"error":"unavailable"}"#);
            assert_eq!(refused.retry_after_secs(), Some(3));
        }
        drop(held);
        assert!(hasher.hash("pw".to_owned()).await.is_ok());
        assert_eq!(permits.available_permits(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_bounded_queue_waits_at_most_its_wait() {
        let permits = Arc::new(Semaphore::new(1));
        let hasher = cheap()
            .semaphore(permits.clone())
            .queue(1, Duration::from_millis(50))
            .build();
        let held = permits.clone().try_acquire_owned().unwrap();
        // Paused time: the wait elapses without a real sleep.
        let refused = hasher.hash("pw".to_owned()).await.unwrap_err();
        assert_eq!(refused.status(), 503);
        // A permit freed within the wait is taken; while one call waits,
        // the queue (one place) is full and the next is refused at once.
        let waiting = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("pw".to_owned()).await }
        });
        tokio::task::yield_now().await;
        let over = hasher.verify_dummy("pw".to_owned()).await.unwrap_err();
        assert_eq!(over.status(), 503);
        drop(held);
        assert!(waiting.await.unwrap().is_ok());
    }
}
