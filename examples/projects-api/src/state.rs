//! Shared state: the database, the upload store, the URL signer, the
//! outbound fetch client, and the password hasher's dummy hash.

use std::sync::Arc;

use guard_axum::fetch::SafeClient;
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
    /// A real argon2 hash of a random password, verified against when the
    /// email is unknown so that "no such user" costs the same time as
    /// "wrong password" (no account enumeration by timing).
    pub dummy_hash: Arc<str>,
}

impl AppState {
    pub(crate) async fn new(
        db: SqlitePool,
        store: UploadStore,
        signer: UrlSigner,
        fetcher: SafeClient,
    ) -> Result<Self, StartError> {
        let dummy_hash = crate::accounts::hash_password(hex(&random_bytes()))
            .await
            .map_err(|e| StartError::new(format!("cannot initialise the password hasher: {e}")))?;
        Ok(Self {
            db,
            store,
            signer: Arc::new(signer),
            fetcher: Arc::new(fetcher),
            dummy_hash: dummy_hash.into(),
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

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
