//! Projects: every lookup is scoped to the owner (`WHERE id = ? AND owner_id = ?`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use guard_axum::extract::{Valid, ValidQuery};
use guard_axum::text::{multi_line, single_line};
use guard_axum::upload::StoreError;
use guard_axum::upload::{ObjectId, ObjectStore as _};
use guard_axum::{
    GuardError, Owned, OwnedResource, Owner, OwnerScope, Principal, Resource, secure_route,
};
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::AppState;

/// A project as the API shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Project {
    id: i64,
    title: String,
    description: Option<String>,
}

impl Project {
    /// The project's id.
    #[must_use]
    pub fn id(&self) -> i64 {
        self.id
    }
}

impl Resource for Project {
    const PARAM: &'static str = "project";
    type Id = i64;
}

/// The `owner_id` every project query is scoped by: the user's id.
///
/// Projects are owned by users (`projects.owner_id` references `users.id`);
/// this service has no tenants. A tenant-scoped principal is refused rather
/// than matched against user ids: tenant `3` is not user `3`.
pub(crate) fn owner_id(principal: &Principal) -> Result<i64, GuardError> {
    match principal.owner_scope() {
        OwnerScope::User(user) => user
            .parse()
            .map_err(|_| GuardError::internal("session holds a non-numeric user id")),
        OwnerScope::Tenant(_) => Err(GuardError::internal(
            "a tenant-scoped principal reached a user-owned store",
        )),
    }
}

impl OwnedResource<AppState> for Project {
    async fn load(
        state: &AppState,
        id: i64,
        owner: &Owner<'_>,
    ) -> Result<Option<Self>, GuardError> {
        let owner_id = owner_id(owner.principal())?;
        Ok(sqlx::query_as(
            "SELECT id, title, description FROM projects WHERE id = ? AND owner_id = ?",
        )
        .bind(id)
        .bind(owner_id)
        .fetch_optional(&state.db)
        .await?)
    }
}

/// `{title, description?}`: display text, so no control, invisible or
/// bidi characters (a title is one line).
#[derive(Debug, Deserialize, Validate)]
pub struct NewProject {
    #[validate(length(min = 1, max = 200), custom(function = "single_line"))]
    title: String,
    #[validate(length(max = 5000), custom(function = "multi_line"))]
    description: Option<String>,
}

/// `{title?, description?}`.
#[derive(Debug, Deserialize, Validate)]
pub struct ProjectChanges {
    #[validate(length(min = 1, max = 200), custom(function = "single_line"))]
    title: Option<String>,
    #[validate(length(max = 5000), custom(function = "multi_line"))]
    description: Option<String>,
}

/// `?after=&limit=`: the projects with an id above `after`, at most
/// `limit` of them (default and most [`PAGE_MAX`]). The next page starts
/// after the last id of this one.
#[derive(Debug, Deserialize, Validate)]
pub struct Page {
    #[validate(range(min = 0))]
    after: Option<i64>,
    #[validate(range(min = 1, max = PAGE_MAX))]
    limit: Option<u32>,
}

/// The most projects one page lists.
pub const PAGE_MAX: u32 = 100;

#[secure_route(auth, query = Page)]
pub async fn list(
    user: Principal,
    State(state): State<AppState>,
    ValidQuery(page): ValidQuery<Page>,
) -> Result<Json<Vec<Project>>, GuardError> {
    // Paged by id (the `projects_owner` index), never the whole table.
    let projects = sqlx::query_as(
        "SELECT id, title, description FROM projects WHERE owner_id = ? AND id > ? ORDER BY id LIMIT ?",
    )
    .bind(owner_id(&user)?)
    .bind(page.after.unwrap_or(0))
    .bind(page.limit.unwrap_or(PAGE_MAX))
    .fetch_all(&state.db)
    .await?;
    Ok(Json(projects))
}

#[secure_route(auth, rate = "30/min", body = NewProject)]
pub async fn create(
    user: Principal,
    State(state): State<AppState>,
    Valid(body): Valid<NewProject>,
) -> Result<(StatusCode, Json<Project>), GuardError> {
    let owner = owner_id(&user)?;
    // The owner is the session's principal; the body cannot name one. The
    // quota is checked in the insert itself: SQLite runs one write at a
    // time, so two requests cannot both take the last place.
    let project = sqlx::query_as(
        "INSERT INTO projects (owner_id, title, description) \
         SELECT ?1, ?2, ?3 WHERE (SELECT COUNT(*) FROM projects WHERE owner_id = ?1) < ?4 \
         RETURNING id, title, description",
    )
    .bind(owner)
    .bind(body.title)
    .bind(body.description)
    .bind(state.quotas.projects)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(quota_exceeded)?;
    Ok((StatusCode::CREATED, Json(project)))
}

/// What an account past one of its quotas gets: 403
/// `{"error":"quota_exceeded"}`.
pub(crate) fn quota_exceeded() -> GuardError {
    GuardError::forbidden().with_code("quota_exceeded")
}

#[secure_route(auth, owner = "project")]
pub async fn show(Owned(project): Owned<Project>) -> Json<Project> {
    Json(project)
}

#[secure_route(auth, owner = "project", body = ProjectChanges)]
pub async fn update(
    user: Principal,
    State(state): State<AppState>,
    Owned(project): Owned<Project>,
    Valid(changes): Valid<ProjectChanges>,
) -> Result<Json<Project>, GuardError> {
    // Scoped again in the write itself, not only by the lookup before it.
    let updated: Option<Project> = sqlx::query_as(
        "UPDATE projects SET title = COALESCE(?, title), description = COALESCE(?, description) \
         WHERE id = ? AND owner_id = ? RETURNING id, title, description",
    )
    .bind(changes.title)
    .bind(changes.description)
    .bind(project.id)
    .bind(owner_id(&user)?)
    .fetch_optional(&state.db)
    .await?;
    updated.map(Json).ok_or_else(GuardError::not_found)
}

#[secure_route(auth, owner = "project")]
pub async fn remove(
    user: Principal,
    State(state): State<AppState>,
    Owned(project): Owned<Project>,
) -> Result<StatusCode, GuardError> {
    let files: Vec<String> = sqlx::query_scalar("SELECT id FROM files WHERE project_id = ?")
        .bind(project.id)
        .fetch_all(&state.db)
        .await?;
    // The rows go first (files cascade), so no link can be issued for an
    // object being deleted; then the stored objects themselves.
    sqlx::query("DELETE FROM projects WHERE id = ? AND owner_id = ?")
        .bind(project.id)
        .bind(owner_id(&user)?)
        .execute(&state.db)
        .await?;
    for id in files {
        let id: ObjectId = id
            .parse()
            .map_err(|_| GuardError::internal("stored file id is malformed"))?;
        match state.store.delete(id).await {
            // Already gone (a concurrent delete): nothing left to do.
            Ok(()) | Err(StoreError::NotFound) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_id_is_the_user_id_and_a_tenant_scope_is_refused() {
        assert_eq!(owner_id(&Principal::new("42")).ok(), Some(42));
        // A tenant id that happens to be numeric must not stand in for a
        // user id: the lookup fails closed instead of matching user 7's rows.
        let member = Principal::new("42").with_tenant("7");
        assert!(owner_id(&member).is_err());
        assert!(owner_id(&Principal::new("not-a-number")).is_err());
    }
}
