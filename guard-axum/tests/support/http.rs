//! Sending one request through an app the way a client would, shared by
//! the integration test binaries that drive a `GuardedApp` or a plain
//! `Router` in process: a request builder, the socket peer the server
//! would have seen, and the reply read back whole.
//!
//! Each binary includes this file with
//! `#[path = "support/http.rs"] mod http_support;`.

// Each test binary uses a different subset of these helpers, and an
// unused one would fail clippy's `-D warnings` in the binaries that skip it.
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::BodyExt as _;
use tower::{Service, ServiceExt as _};

/// What came back: the status, every header, the body as text.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

/// Runs `request` through a clone of `app` and reads the whole reply.
pub(crate) async fn send<S>(app: &S, request: Request<Body>) -> Reply
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone,
{
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

/// A request builder for `method` and `uri`.
pub(crate) fn request(method: &str, uri: &str) -> http::request::Builder {
    Request::builder().method(method).uri(uri)
}

/// A request builder for `method` and `uri`, with `Authorization: Bearer
/// <key>` when there is a key.
pub(crate) fn request_as(method: &str, uri: &str, key: Option<&str>) -> http::request::Builder {
    let request = request(method, uri);
    match key {
        Some(key) => request.header(header::AUTHORIZATION, format!("Bearer {key}")),
        None => request,
    }
}

/// `request` as it arrives from a socket peer at `ip` (port 40000): the
/// `ConnectInfo` axum's `into_make_service_with_connect_info` would insert.
pub(crate) fn from_peer(mut request: Request<Body>, ip: impl Into<IpAddr>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip.into(), 40_000))));
    request
}
