//! The page: rendered on the server, reading the todos through a direct
//! call of the guarded `list_todos` (the same checks as over HTTP).

use axum::extract::Request;
use axum::response::Html;
use guard_axum::secure_route;
use guard_leptos::ServerFns;
use leptos::prelude::*;
use server_fn::ServerFn as _;

use crate::accounts::Login;
use crate::todos::{AddTodo, DeleteTodo, Todo, ToggleTodo, list_todos};

#[component]
fn TodoList(todos: Vec<Todo>) -> impl IntoView {
    view! {
        <ul>
            {todos
                .into_iter()
                .map(|todo| {
                    view! {
                        <li>
                            {todo.title.clone()} {if todo.done { " (done)" } else { "" }}
                            <form method="post" action=ToggleTodo::PATH>
                                <input type="hidden" name="todo" value=todo.id.to_string() />
                                <button>"toggle"</button>
                            </form>
                            <form method="post" action=DeleteTodo::PATH>
                                <input type="hidden" name="todo" value=todo.id.to_string() />
                                <button>"delete"</button>
                            </form>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        <form method="post" action=AddTodo::PATH>
            <input name="title" />
            <button>"add"</button>
        </form>
    }
}

#[component]
fn SignIn() -> impl IntoView {
    view! {
        <form method="post" action=Login::PATH>
            <input name="email" type="email" />
            <input name="password" type="password" />
            <button>"log in"</button>
        </form>
    }
}

/// `GET /`: the todo list of the signed-in user, or the login form.
#[secure_route(public = "the app page; its data comes from guarded server functions")]
pub async fn page(request: Request) -> Html<String> {
    let (parts, _) = request.into_parts();
    let fns = parts.extensions.get::<ServerFns>().cloned();
    let owner = Owner::new();
    let todos = owner
        .with(|| {
            provide_context(parts);
            if let Some(fns) = &fns {
                fns.provide_context();
            }
            leptos::reactive::computed::ScopedFuture::new(list_todos())
        })
        .await;
    let html = owner.with(|| match todos {
        Ok(todos) => view! { <main><h1>"Todos"</h1><TodoList todos /></main> }.to_html(),
        Err(_) => view! { <main><h1>"Todos"</h1><SignIn /></main> }.to_html(),
    });
    Html(format!(
        "<!DOCTYPE html><html><head><title>todos</title></head><body>{html}</body></html>"
    ))
}
