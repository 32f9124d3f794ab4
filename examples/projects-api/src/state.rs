//! Shared state: the database pool and the password hasher's dummy hash.

use sqlx::SqlitePool;

use crate::StartError;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The SQLite pool.
    pub db: SqlitePool,
    /// A real argon2 hash of a random password, verified against when the
    /// email is unknown so that "no such user" costs the same time as
    /// "wrong password" (no account enumeration by timing).
    pub dummy_hash: std::sync::Arc<str>,
}

impl AppState {
    pub(crate) async fn new(db: SqlitePool) -> Result<Self, StartError> {
        let dummy_hash = crate::accounts::hash_password(uuid_like_secret())
            .await
            .map_err(|e| StartError::new(format!("cannot initialise the password hasher: {e}")))?;
        Ok(Self {
            db,
            dummy_hash: dummy_hash.into(),
        })
    }
}

fn uuid_like_secret() -> String {
    use argon2::password_hash::rand_core::{OsRng, RngCore as _};
    let mut bytes = [0_u8; 32];
    OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
