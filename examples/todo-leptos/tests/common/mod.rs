//! The app on a real loopback listener, a plain-HTTP client, cookies by
//! hand, and form / JSON calls of server functions.

#![allow(clippy::unwrap_used, dead_code, unreachable_pub)] // test harness

use std::net::SocketAddr;
use std::sync::Arc;

use guard_axum::rate_limit::RateBackend;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;
use todo_leptos::{App, Config, app};

pub const ADMIN: &str = "admin@example.com";
pub const PASSWORD: &str = "correct horse battery";

/// A running instance.
pub struct Running {
    pub base: String,
    pub origin: String,
    pub client: reqwest::Client,
    pub built: Arc<App>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// One answer, read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

pub fn http_client() -> reqwest::Client {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

pub async fn start(backend: Option<Arc<dyn RateBackend>>) -> Running {
    start_with(Config {
        rate_backend: backend,
        ..test_config()
    })
    .await
}

/// The tests' configuration: in memory, plain HTTP, one admin.
pub fn test_config() -> Config {
    Config {
        database: "sqlite::memory:".to_owned(),
        insecure_cookies: true,
        admin_emails: vec![ADMIN.to_owned()],
        admin_password: Some(PASSWORD.to_owned()),
        ..Config::default()
    }
}

pub async fn start_with(config: Config) -> Running {
    let built = app(config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = built
        .app
        .clone()
        .into_make_service_with_connect_info::<SocketAddr>();
    let server = tokio::spawn(async move {
        axum::serve(listener, service).await.unwrap();
    });
    Running {
        base: format!("http://{addr}"),
        origin: format!("http://{addr}"),
        client: http_client(),
        built: Arc::new(built),
        server,
    }
}

impl Running {
    /// A form post (the default codec), same-origin, with the cookie if any.
    pub async fn form(&self, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Answer {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        self.send(
            path,
            cookie,
            "application/x-www-form-urlencoded",
            body,
            &[("origin", &self.origin)],
        )
        .await
    }

    /// A JSON post, same-origin.
    pub async fn json(&self, path: &str, cookie: Option<&str>, body: &Value) -> Answer {
        self.send(
            path,
            cookie,
            "application/json",
            body.to_string(),
            &[("origin", &self.origin)],
        )
        .await
    }

    pub async fn send(
        &self,
        path: &str,
        cookie: Option<&str>,
        content_type: &str,
        body: String,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        for (name, value) in headers {
            request = request.header(*name, HeaderValue::from_str(value).unwrap());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap();
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Answer {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await.unwrap();
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    /// Signs up and logs in; the session cookie (`sid=…`).
    pub async fn user(&self, email: &str) -> String {
        self.sign_up_and_log_in(email, PASSWORD).await.unwrap()
    }

    /// Signs up (asserting the generic 200) and logs in with `password`;
    /// the session cookie (`sid=…`), or the login's status and body.
    pub async fn sign_up_and_log_in(&self, email: &str, password: &str) -> Result<String, String> {
        let credentials = [("email", email), ("password", password)];
        let signup = self.form(paths::SIGNUP, None, &credentials).await;
        assert_eq!(signup.status, 200, "{signup:?}");
        self.log_in(email, password).await
    }

    /// Logs in; the session cookie (`sid=…`), or the status and body.
    pub async fn log_in(&self, email: &str, password: &str) -> Result<String, String> {
        let credentials = [("email", email), ("password", password)];
        let login = self.form(paths::LOGIN, None, &credentials).await;
        if login.status != 200 {
            return Err(format!("{} {}", login.status, login.body));
        }
        let cookie = login
            .headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("sid="))
            .unwrap();
        Ok(cookie.split(';').next().unwrap().to_owned())
    }

    /// Adds a todo as `cookie`; its id.
    pub async fn add(&self, cookie: &str, title: &str) -> i64 {
        let added = self
            .form(paths::ADD, Some(cookie), &[("title", title)])
            .await;
        assert_eq!(added.status, 200, "{added:?}");
        added.json()["id"].as_i64().unwrap()
    }
}

/// The server functions' paths, as `#[server]` computed them.
pub mod paths {
    use server_fn::ServerFn as _;
    use todo_leptos::accounts::{Login, Logout, Signup};
    use todo_leptos::todos::{AddTodo, AllTodos, DeleteTodo, ListTodos, RenameTodo, ToggleTodo};

    pub const SIGNUP: &str = Signup::PATH;
    pub const LOGIN: &str = Login::PATH;
    pub const LOGOUT: &str = Logout::PATH;
    pub const LIST: &str = ListTodos::PATH;
    pub const ADD: &str = AddTodo::PATH;
    pub const TOGGLE: &str = ToggleTodo::PATH;
    pub const RENAME: &str = RenameTodo::PATH;
    pub const DELETE: &str = DeleteTodo::PATH;
    pub const ALL: &str = AllTodos::PATH;
}
