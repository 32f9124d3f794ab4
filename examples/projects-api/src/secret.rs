//! The secret that signs download links and keys shared rate limits.

use std::io::Write as _;
use std::path::Path;

use crate::StartError;
use crate::state::{hex, random_bytes};

const ENV: &str = "PROJECTS_API_SIGNING_SECRET";

/// The secret from `PROJECTS_API_SIGNING_SECRET`, else from `file`, else a
/// fresh one written to `file` with owner-only permissions.
pub(crate) fn load_or_create(file: &Path) -> Result<Vec<u8>, StartError> {
    load(file, true)
}

/// The secret as [`load_or_create`] finds it, but a missing file is not
/// created: a throwaway secret stands in (`--print-routes`, which writes
/// nothing). A configured secret that is too short is still refused.
pub(crate) fn load_or_ephemeral(file: &Path) -> Result<Vec<u8>, StartError> {
    load(file, false)
}

fn load(file: &Path, create: bool) -> Result<Vec<u8>, StartError> {
    if let Ok(value) = std::env::var(ENV) {
        return check(value.into_bytes(), ENV);
    }
    match std::fs::read_to_string(file) {
        Ok(text) => check(text.trim().as_bytes().to_vec(), &file.display().to_string()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !create => {
            Ok(hex(&random_bytes()).into_bytes())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let secret = hex(&random_bytes());
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut out = options
                .open(file)
                .map_err(|e| StartError::new(format!("cannot create {}: {e}", file.display())))?;
            out.write_all(secret.as_bytes())
                .map_err(|e| StartError::new(format!("cannot write {}: {e}", file.display())))?;
            tracing::info!(file = %file.display(), "generated a new signing secret");
            Ok(secret.into_bytes())
        }
        Err(err) => Err(StartError::new(format!(
            "cannot read {}: {err}",
            file.display()
        ))),
    }
}

fn check(secret: Vec<u8>, source: &str) -> Result<Vec<u8>, StartError> {
    if secret.len() < 32 {
        return Err(StartError::new(format!(
            "{source}: the signing secret must be at least 32 bytes"
        )));
    }
    Ok(secret)
}
