//! Uploads to a project, signed download links, and the downloads.
//!
//! Every upload is hostile: the cap is enforced while streaming, the type is
//! decided from the bytes (never the client's `Content-Type` or name) and
//! markup is looked for in all of them, the file is stored under a
//! server-generated id in a private directory, and the client's name is
//! kept, sanitized and with the sniffed type's extension, as display
//! metadata only. The object is kept only once its row is (see `upload`).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use guard_axum::extract::ValidPath;
use guard_axum::upload::{
    ObjectId, ObjectStore as _, download_response, signed_download_url, unix_now,
};
use guard_axum::{GuardError, Owned, OwnedResource, Owner, Resource, Upload, secure_route};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use validator::Validate;

use crate::AppState;
use crate::projects::{Project, owner_id};

/// How long a download link works.
const LINK_TTL: Duration = Duration::from_secs(300);

/// A stored file, as the API lists it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredFile {
    id: String,
    display_name: String,
    kind: String,
    size: i64,
}

impl Resource for StoredFile {
    const PARAM: &'static str = "file";
    type Id = ObjectId;
}

impl OwnedResource<AppState> for StoredFile {
    /// Scoped by the project in the path *and* the project's owner.
    async fn load(
        state: &AppState,
        id: ObjectId,
        owner: &Owner<'_>,
    ) -> Result<Option<Self>, GuardError> {
        let Some(Ok(project)) = owner.param("project").map(str::parse::<i64>) else {
            return Ok(None);
        };
        Ok(sqlx::query_as(
            "SELECT f.id, f.display_name, f.kind, f.size FROM files f JOIN projects p ON p.id = f.project_id \
             WHERE f.id = ? AND f.project_id = ? AND p.owner_id = ?",
        )
        .bind(id.to_string())
        .bind(project)
        .bind(owner_id(owner.principal())?)
        .fetch_optional(&state.db)
        .await?)
    }
}

#[secure_route(
    auth,
    owner = "project",
    rate = "30/min",
    upload(max = "5MiB", types = ["png", "jpeg", "pdf"])
)]
pub async fn upload(
    State(state): State<AppState>,
    Owned(project): Owned<Project>,
    mut file: Upload,
) -> Result<(StatusCode, Json<StoredFile>), GuardError> {
    // The row and the object exist together or not at all. The row goes in
    // inside a transaction, then the upload is committed, then the
    // transaction: an insert that fails returns with the upload
    // uncommitted (it is deleted as the request ends), a commit that fails
    // drops the transaction (the row is rolled back), and a transaction that
    // fails to commit deletes the object it was to name. No row is ever
    // visible before its object, so no link can point at nothing; the one
    // gap left, a crash between the two commits, leaves an object no one
    // can name or download.
    //
    // The account's storage quota is checked in the same insert (SQLite runs
    // one write at a time): an upload past it is refused and, uncommitted,
    // deleted as the request ends.
    let mut tx = state.db.begin().await?;
    let stored: StoredFile = sqlx::query_as(
        "INSERT INTO files (id, project_id, display_name, kind, size) \
         SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?5 + (SELECT COALESCE(SUM(f.size), 0) FROM files f \
         JOIN projects p ON p.id = f.project_id \
         WHERE p.owner_id = (SELECT owner_id FROM projects WHERE id = ?2)) <= ?6 \
         RETURNING id, display_name, kind, size",
    )
    .bind(file.id.to_string())
    .bind(project.id())
    .bind(&file.display_name)
    .bind(file.kind.name())
    .bind(i64::try_from(file.size).unwrap_or(i64::MAX))
    .bind(state.quotas.storage_bytes)
    .fetch_optional(&mut *tx)
    .await
    .map_err(|error| {
        // The project was deleted while the body streamed in (it was looked
        // up before): the same 404 as any project that is not there.
        let gone = error
            .as_database_error()
            .is_some_and(sqlx::error::DatabaseError::is_foreign_key_violation);
        if gone {
            GuardError::not_found()
        } else {
            error.into()
        }
    })?
    .ok_or_else(crate::projects::quota_exceeded)?;
    let id = file.commit().await?;
    if let Err(error) = tx.commit().await {
        if let Err(delete) = state.store.delete(id).await {
            tracing::warn!(object = %id, error = %delete, "could not delete the object of a file row that was rolled back");
        }
        return Err(error.into());
    }
    Ok((StatusCode::CREATED, Json(stored)))
}

#[secure_route(auth, owner = ["project", "file"])]
pub async fn link(
    State(state): State<AppState>,
    Owned(_project): Owned<Project>,
    Owned(file): Owned<StoredFile>,
) -> Result<Json<Value>, GuardError> {
    let id: ObjectId = file
        .id
        .parse()
        .map_err(|_| GuardError::internal("stored file id is malformed"))?;
    let (url, expires_at) =
        signed_download_url(&state.signer, "/files", id, LINK_TTL, unix_now(), None);
    Ok(Json(json!({"url": url, "expires_at": expires_at})))
}

/// The `{token}` of a signed download link: its signature is the check,
/// and any token that fails it is the same 404.
#[derive(Debug, Deserialize, Validate)]
pub struct Token {
    token: String,
}

/// A tampered, expired or unknown token is the same 404.
#[secure_route(public = "download by signed, expiring URL")]
pub async fn download(
    State(state): State<AppState>,
    ValidPath(Token { token }): ValidPath<Token>,
) -> Result<Response, GuardError> {
    download_response(&state.store, &state.signer, &token, unix_now(), None).await
}
