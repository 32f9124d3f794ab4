//! Shared state: the database, the upload store, the URL signer, the
//! outbound fetch client, and the password hasher.

use std::sync::Arc;
use std::time::Duration;

use guard_axum::fetch::SafeClient;
use guard_axum::password::PasswordHasher;
use guard_axum::upload::{UploadStore, UrlSigner};
use sqlx::SqlitePool;

use crate::StartError;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The SQLite pool.
    pub db: SqlitePool,
    /// The private upload store.
    pub store: UploadStore,
    /// Signs and verifies download links.
    pub signer: Arc<UrlSigner>,
    /// The SSRF-guarded client for link previews.
    pub fetcher: Arc<SafeClient>,
    /// Argon2id at OWASP's cost, one hash per core at once; its
    /// `verify_dummy` makes "no such user" cost what "wrong password" does
    /// (no account enumeration by timing).
    pub hasher: PasswordHasher,
    /// What one account may keep.
    pub quotas: Quotas,
}

/// What one account may keep: checked in the same statement that writes,
/// so concurrent requests cannot pass it together.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    /// Projects it may own.
    pub projects: i64,
    /// Bytes of uploaded files it may keep, over all its projects.
    pub storage_bytes: i64,
}

impl Quotas {
    /// From the configured limits.
    #[must_use]
    pub fn new(projects: u32, storage_mib: u32) -> Self {
        Self {
            projects: i64::from(projects),
            storage_bytes: i64::from(storage_mib) * 1024 * 1024,
        }
    }
}

/// Calls that may wait for a hash when every core is hashing: about a
/// second of queue on two cores. Any more get 503 with `Retry-After` at once.
const HASH_QUEUE: usize = 64;
/// The longest a queued call waits before its 503.
const HASH_QUEUE_WAIT: Duration = Duration::from_secs(5);

impl AppState {
    pub(crate) async fn new(
        db: SqlitePool,
        store: UploadStore,
        signer: UrlSigner,
        fetcher: SafeClient,
        quotas: Quotas,
    ) -> Result<Self, StartError> {
        let hasher = PasswordHasher::builder()
            .queue(HASH_QUEUE, HASH_QUEUE_WAIT)
            .build();
        Ok(Self {
            db,
            store,
            signer: Arc::new(signer),
            fetcher: Arc::new(fetcher),
            hasher,
            quotas,
        })
    }
}

/// 32 bytes from the OS's generator.
pub(crate) fn random_bytes() -> [u8; 32] {
    use argon2::password_hash::rand_core::{OsRng, RngCore as _};
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// Lowercase hex text of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}
