//! Todos, owned by the user who wrote them: every server function guarded.

use guard_axum::{GuardError, OwnedResource, Owner, OwnerScope, Resource};
use guard_leptos::{Context, GuardedError, secure_server_fn};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use validator::Validate;

use crate::Db;

/// One todo, as its owner sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Todo {
    /// Its id.
    pub id: i64,
    /// What to do.
    pub title: String,
    /// Whether it is done.
    pub done: bool,
}

impl Resource for Todo {
    const PARAM: &'static str = "todo";
    type Id = i64;
}

impl OwnedResource<Context> for Todo {
    async fn load(_: &Context, id: i64, owner: &Owner<'_>) -> Result<Option<Self>, GuardError> {
        let OwnerScope::User(user) = owner.scope() else {
            return Ok(None);
        };
        let db = Db::from_context()?;
        // One query with both conditions: absent and not-yours are one `None`.
        Ok(sqlx::query_as::<_, Todo>(
            "SELECT id, title, done FROM todos WHERE id = ? AND owner_id = ?",
        )
        .bind(id)
        .bind(user)
        .fetch_optional(&db.0)
        .await?)
    }
}

/// A rename, sent as JSON and checked by its `validator` rules. It needs no
/// `#[serde(deny_unknown_fields)]`: the guard decodes a JSON call strictly,
/// nested fields included.
#[derive(Clone, Debug, Serialize, Deserialize, Validate)]
pub struct TodoChanges {
    /// The new title.
    #[validate(length(min = 1, max = 200))]
    pub title: String,
}

/// The caller's todos.
#[secure_server_fn(auth)]
#[server]
pub async fn list_todos() -> Result<Vec<Todo>, GuardedError> {
    let user = guard_leptos::principal()?;
    let db = Db::from_context()?;
    Ok(sqlx::query_as::<_, Todo>(
        "SELECT id, title, done FROM todos WHERE owner_id = ? ORDER BY id",
    )
    .bind(user.id())
    .fetch_all(&db.0)
    .await?)
}

/// Adds a todo for the caller (the form codec, as a plain HTML form posts it).
#[secure_server_fn(auth, rate = "30/min", quota = "500/day")]
#[server]
pub async fn add_todo(title: String) -> Result<Todo, GuardedError> {
    let title = title.trim().to_owned();
    if title.is_empty() || title.chars().count() > 200 {
        return Err(GuardError::invalid_input().into());
    }
    let user = guard_leptos::principal()?;
    let db = Db::from_context()?;
    let id = sqlx::query("INSERT INTO todos (owner_id, title, done) VALUES (?, ?, 0)")
        .bind(user.id())
        .bind(&title)
        .execute(&db.0)
        .await?
        .last_insert_rowid();
    Ok(Todo {
        id,
        title,
        done: false,
    })
}

/// Marks one of the caller's todos done or not; another user's is a 404.
#[secure_server_fn(auth, owner = "todo")]
#[server]
pub async fn toggle_todo(todo: Owned<Todo>) -> Result<Todo, GuardedError> {
    let db = Db::from_context()?;
    let mut todo = todo.into_inner();
    todo.done = !todo.done;
    sqlx::query("UPDATE todos SET done = ? WHERE id = ?")
        .bind(todo.done)
        .bind(todo.id)
        .execute(&db.0)
        .await?;
    Ok(todo)
}

/// Renames one of the caller's todos (JSON codec, `validator` rules).
#[secure_server_fn(auth, owner = "todo", rate = "30/min")]
#[server(input = server_fn::codec::Json)]
pub async fn rename_todo(todo: Owned<Todo>, changes: TodoChanges) -> Result<Todo, GuardedError> {
    let db = Db::from_context()?;
    let mut todo = todo.into_inner();
    todo.title = changes.title;
    sqlx::query("UPDATE todos SET title = ? WHERE id = ?")
        .bind(&todo.title)
        .bind(todo.id)
        .execute(&db.0)
        .await?;
    Ok(todo)
}

/// Deletes one of the caller's todos: the official example's `delete_todo`
/// deleted any id; this one loads it within the caller's scope first.
#[secure_server_fn(auth, owner = "todo", rate = "30/min")]
#[server]
pub async fn delete_todo(todo: Owned<Todo>) -> Result<(), GuardedError> {
    let db = Db::from_context()?;
    sqlx::query("DELETE FROM todos WHERE id = ?")
        .bind(todo.id)
        .execute(&db.0)
        .await?;
    Ok(())
}

/// Every user's todos, for admins.
#[secure_server_fn(auth, roles = ["admin"])]
#[server]
pub async fn all_todos() -> Result<Vec<Todo>, GuardedError> {
    let db = Db::from_context()?;
    Ok(
        sqlx::query_as::<_, Todo>("SELECT id, title, done FROM todos ORDER BY id")
            .fetch_all(&db.0)
            .await?,
    )
}
