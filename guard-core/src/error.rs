//! The error model: one type for every refusal.
//!
//! A [`GuardError`] has a status, a short public code and nothing else the
//! client can see. Internal failures get a fresh [`ErrorId`]; the client sees
//! `{"error":"internal","error_id":"…"}` and the detail goes to `tracing`,
//! scrubbed of secrets, under the same id. The detail is kept on the error
//! and logged once, when the error becomes a response, so an error that is
//! built and then discarded (replaced by another, or recovered from) leaves
//! no line in the log.
//!
//! Any `std::error::Error` converts into a `GuardError` with `?`, so a handler
//! can return sqlx, I/O or its own errors and still never leak their text:
//!
//! ```
//! use guard_core::GuardError;
//!
//! fn load() -> Result<String, GuardError> {
//!     let text = std::fs::read_to_string("/nonexistent/secret.toml")?; // becomes a generic 500
//!     Ok(text)
//! }
//! let err = load().unwrap_err();
//! assert_eq!(err.status(), 500);
//! assert!(!err.public_body().contains("nonexistent"));
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use http::StatusCode;
use serde::Serialize;

use crate::scrub::scrub;

/// The class of a refusal; it fixes the status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400: the request's path, query or body failed decoding or validation.
    InvalidInput,
    /// 401: no valid session or token.
    Unauthenticated,
    /// 403: authenticated, but without the role or permission the route needs.
    /// Never used for a resource the principal does not own (that is a 404).
    Forbidden,
    /// 404: no such route, or no such resource *for this principal*.
    NotFound,
    /// 405: the path exists, the method does not.
    MethodNotAllowed,
    /// 408: the request took too long.
    RequestTimeout,
    /// 413: the body (or an upload) is over its cap.
    PayloadTooLarge,
    /// 415: the body's type is not accepted.
    UnsupportedMediaType,
    /// 429: a rate limit or usage ceiling refused the request.
    TooManyRequests,
    /// 500: anything that went wrong inside; carries an [`ErrorId`].
    Internal,
    /// 502: an upstream the server called failed; carries an [`ErrorId`].
    BadGateway,
    /// 503: a dependency the guard needs (for example a shared rate-limit
    /// store) is unavailable and the route fails closed.
    Unavailable,
}

impl ErrorKind {
    /// The HTTP status of this kind.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::InvalidInput => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The default public code of this kind, the `"error"` member of the body.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::RequestTimeout => "request_timeout",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::TooManyRequests => "too_many_requests",
            Self::Internal => "internal",
            Self::BadGateway => "bad_gateway",
            Self::Unavailable => "unavailable",
        }
    }

    /// The kind a bare status maps to, for turning foreign rejections (axum's,
    /// tower-http's) into generic bodies. Unknown client errors become 400,
    /// unknown server errors 500.
    #[must_use]
    pub fn from_status(status: StatusCode) -> Self {
        match status.as_u16() {
            401 => Self::Unauthenticated,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            408 => Self::RequestTimeout,
            413 => Self::PayloadTooLarge,
            415 => Self::UnsupportedMediaType,
            429 => Self::TooManyRequests,
            502 => Self::BadGateway,
            503 => Self::Unavailable,
            400..=499 => Self::InvalidInput,
            _ => Self::Internal,
        }
    }
}

/// Identifies one internal error in the log and in the response body.
///
/// Always generated on the server (128 random bits); a client-sent request id
/// never replaces it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorId(uuid::Uuid);

impl ErrorId {
    /// A fresh random id.
    #[must_use]
    pub fn new() -> Self {
        Self(uuid::Uuid::new_v4())
    }
}

impl Default for ErrorId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ErrorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for ErrorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorId({self})")
    }
}

/// Marks a response whose body is already one of the model's generic
/// bodies, so layers that make foreign error responses generic leave it (and
/// its `fields` list) alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenericBody;

/// Per-field validation failures: field path → validation codes. Never values.
pub type FieldErrors = BTreeMap<String, Vec<Cow<'static, str>>>;

/// Every refusal the guards (or a handler) can answer with.
///
/// Deliberately not a `std::error::Error`: that is what lets every error type
/// convert into it with `?` (the same trick as `anyhow::Error`).
pub struct GuardError {
    kind: ErrorKind,
    code: &'static str,
    fields: Option<Box<FieldErrors>>,
    retry_after: Option<Duration>,
    error_id: Option<ErrorId>,
    /// The scrubbed detail of an internal error, logged when the error
    /// becomes a response; never sent.
    detail: Option<Box<str>>,
}

#[derive(Serialize)]
struct PublicBody<'a> {
    error: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a FieldErrors>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_id: Option<String>,
}

impl GuardError {
    /// A refusal of the given kind with its default public code.
    #[must_use]
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            code: kind.code(),
            fields: None,
            retry_after: None,
            error_id: None,
            detail: None,
        }
    }

    /// 400 `{"error":"invalid_input"}`.
    #[must_use]
    pub fn invalid_input() -> Self {
        Self::new(ErrorKind::InvalidInput)
    }

    /// 401 `{"error":"unauthenticated"}`.
    #[must_use]
    pub fn unauthenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated)
    }

    /// 403 `{"error":"forbidden"}`.
    #[must_use]
    pub fn forbidden() -> Self {
        Self::new(ErrorKind::Forbidden)
    }

    /// 404 `{"error":"not_found"}`: absent and not-yours look the same.
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(ErrorKind::NotFound)
    }

    /// 405 `{"error":"method_not_allowed"}`.
    #[must_use]
    pub fn method_not_allowed() -> Self {
        Self::new(ErrorKind::MethodNotAllowed)
    }

    /// 413 `{"error":"payload_too_large"}`.
    #[must_use]
    pub fn payload_too_large() -> Self {
        Self::new(ErrorKind::PayloadTooLarge)
    }

    /// 415 `{"error":"unsupported_media_type"}`.
    #[must_use]
    pub fn unsupported_media_type() -> Self {
        Self::new(ErrorKind::UnsupportedMediaType)
    }

    /// 429 `{"error":"too_many_requests"}` with `Retry-After`.
    #[must_use]
    pub fn too_many_requests(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorKind::TooManyRequests)
        }
    }

    /// 500 `{"error":"internal","error_id":"…"}`; the detail is kept,
    /// scrubbed, and logged under that id when the error becomes a response;
    /// it is never sent.
    #[must_use]
    pub fn internal(detail: impl fmt::Display) -> Self {
        Self::logged(ErrorKind::Internal, &detail)
    }

    /// 502 `{"error":"bad_gateway","error_id":"…"}`: an upstream failed; the
    /// detail is kept and logged like [`GuardError::internal`].
    #[must_use]
    pub fn bad_gateway(detail: impl fmt::Display) -> Self {
        Self::logged(ErrorKind::BadGateway, &detail)
    }

    /// 503 `{"error":"unavailable","error_id":"…"}`: a dependency of a guard is
    /// down and the route fails closed.
    #[must_use]
    pub fn unavailable(detail: impl fmt::Display) -> Self {
        Self::logged(ErrorKind::Unavailable, &detail)
    }

    /// 503 `{"error":"unavailable"}` with `Retry-After`: the server is at
    /// capacity for this kind of work (a bounded pool is full) and refuses
    /// at once rather than queue. Expected under load, so nothing is logged
    /// as an error and the body carries no error id.
    #[must_use]
    pub fn busy(retry_after: Duration) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorKind::Unavailable)
        }
    }

    fn logged(kind: ErrorKind, detail: &dyn fmt::Display) -> Self {
        // Scrubbed now, so the secrets in the text never outlive this call.
        let detail = scrub(&detail.to_string()).into_owned().into_boxed_str();
        Self {
            error_id: Some(ErrorId::new()),
            detail: Some(detail),
            ..Self::new(kind)
        }
    }

    /// Logs the detail of an internal error under its id; nothing for the
    /// others. Called once, by what turns the error into a response (which
    /// consumes it).
    #[cfg(feature = "axum")]
    fn log_detail(&self) {
        if let (Some(id), Some(detail)) = (self.error_id, self.detail.as_deref()) {
            tracing::error!(
                error_id = %id,
                status = self.status().as_u16(),
                detail = %detail,
                "request failed"
            );
        }
    }

    /// Replaces the public code (for example `url_not_allowed` for a 400).
    /// The code must be a fixed string of the app, never derived from input.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// Attaches per-field validation codes to a 400.
    #[must_use]
    pub fn with_fields(mut self, fields: FieldErrors) -> Self {
        if !fields.is_empty() {
            self.fields = Some(Box::new(fields));
        }
        self
    }

    /// The kind of refusal.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }

    /// The public code, the `"error"` member of the body.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Per-field validation codes, if any.
    #[must_use]
    pub fn fields(&self) -> Option<&FieldErrors> {
        self.fields.as_deref()
    }

    /// How long a refused client should wait (a 429, or a busy 503).
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// `Retry-After` in whole seconds, rounded up so a client that obeys it is
    /// never early.
    #[must_use]
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after.map(|d| {
            let secs = d.as_secs();
            if d.subsec_nanos() > 0 { secs + 1 } else { secs }.max(1)
        })
    }

    /// The id of an internal error, as logged and as sent.
    #[must_use]
    pub fn error_id(&self) -> Option<ErrorId> {
        self.error_id
    }

    /// The detail of an internal error, scrubbed of secrets: what is logged
    /// under [`error_id`](Self::error_id) when the error becomes a response.
    /// Never part of the body.
    #[must_use]
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The exact JSON body the client receives.
    #[must_use]
    pub fn public_body(&self) -> String {
        let body = PublicBody {
            error: self.code,
            fields: self.fields.as_deref(),
            error_id: self.error_id.map(|id| id.to_string()),
        };
        // Serializing a struct of strings and a string map cannot fail; fall
        // back to the bare code rather than panic.
        serde_json::to_string(&body).unwrap_or_else(|_| format!("{{\"error\":\"{}\"}}", self.code))
    }
}

impl fmt::Debug for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardError")
            .field("kind", &self.kind)
            .field("code", &self.code)
            .field("fields", &self.fields)
            .field("retry_after", &self.retry_after)
            .field("error_id", &self.error_id)
            .finish()
    }
}

impl fmt::Display for GuardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status().as_u16(), self.code)?;
        if let Some(id) = self.error_id {
            write!(f, " (error id {id})")?;
        }
        Ok(())
    }
}

/// Every error type becomes a generic 500 whose detail (with its source
/// chain) is logged, scrubbed, under a fresh error id.
impl<E> From<E> for GuardError
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn from(err: E) -> Self {
        Self::internal(Chain(&err))
    }
}

/// Displays an error followed by its sources: `outer: inner: root`.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(feature = "axum")]
mod axum_impl {
    use axum_core::body::Body;
    use axum_core::response::{IntoResponse, Response};
    use http::{HeaderValue, header};

    use super::{GenericBody, GuardError};

    impl IntoResponse for GuardError {
        fn into_response(self) -> Response {
            // The one place an error becomes a response, so its detail is
            // logged exactly once.
            self.log_detail();
            let mut res = Response::new(Body::from(self.public_body()));
            *res.status_mut() = self.status();
            res.extensions_mut().insert(GenericBody);
            let headers = res.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Some(secs) = self.retry_after_secs() {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            res
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("UNIQUE constraint failed: users.email (value 'alice@example.com')")]
    struct FakeSqlError;

    #[derive(Debug, thiserror::Error)]
    #[error("query failed")]
    struct Outer(#[source] FakeSqlError);

    #[test]
    fn each_kind_has_its_status_and_generic_body() {
        let table = [
            (
                GuardError::invalid_input(),
                400,
                r#"{"error":"invalid_input"}"#,
            ),
            (
                GuardError::unauthenticated(),
                401,
                r#"{"error":"unauthenticated"}"#,
            ),
            (GuardError::forbidden(), 403, r#"{"error":"forbidden"}"#),
            (GuardError::not_found(), 404, r#"{"error":"not_found"}"#),
            (
                GuardError::method_not_allowed(),
                405,
                r#"{"error":"method_not_allowed"}"#,
            ),
            (
                GuardError::payload_too_large(),
                413,
                r#"{"error":"payload_too_large"}"#,
            ),
            (
                GuardError::unsupported_media_type(),
                415,
                r#"{"error":"unsupported_media_type"}"#,
            ),
            (
                GuardError::too_many_requests(Duration::from_secs(3)),
                429,
                r#"{"error":"too_many_requests"}"#,
            ),
        ];
        for (err, status, body) in table {
            assert_eq!(err.status().as_u16(), status);
            assert_eq!(err.public_body(), body);
            assert_eq!(err.error_id(), None);
        }
    }

    #[test]
    fn foreign_errors_become_internal_with_an_id_and_no_text() {
        fn handler() -> Result<(), GuardError> {
            Err(Outer(FakeSqlError))?
        }
        let err = handler().unwrap_err();
        assert_eq!(err.status().as_u16(), 500);
        let id = err.error_id().expect("internal errors carry an id");
        assert_eq!(
            err.public_body(),
            format!(r#"{{"error":"internal","error_id":"{id}"}}"#)
        );
        assert!(!err.public_body().contains("UNIQUE"));
        assert!(!err.to_string().contains("UNIQUE"));
    }

    #[test]
    fn error_ids_are_fresh() {
        assert_ne!(
            GuardError::internal("x").error_id(),
            GuardError::internal("x").error_id()
        );
    }

    /// The events logged on this thread while `f` runs, each as its
    /// `error_id` and `detail` fields.
    fn events_during(f: impl FnOnce()) -> Vec<(String, String)> {
        use std::sync::{Arc, Mutex};
        use tracing::field::{Field, Visit};
        use tracing::span::{Attributes, Id, Record};
        use tracing::{Event, Metadata, subscriber::Interest};

        #[derive(Default)]
        struct Fields(String, String);
        impl Visit for Fields {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                match field.name() {
                    "error_id" => self.0 = format!("{value:?}"),
                    "detail" => self.1 = format!("{value:?}"),
                    _ => {}
                }
            }
        }

        /// Records every event; no spans.
        struct Recorder(Arc<Mutex<Vec<(String, String)>>>);
        impl tracing::Subscriber for Recorder {
            fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
                // Asked again on every event, whatever other tests' subscribers said.
                Interest::sometimes()
            }
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &Attributes<'_>) -> Id {
                Id::from_u64(1)
            }
            fn record(&self, _: &Id, _: &Record<'_>) {}
            fn record_follows_from(&self, _: &Id, _: &Id) {}
            fn event(&self, event: &Event<'_>) {
                let mut fields = Fields::default();
                event.record(&mut fields);
                if let Ok(mut events) = self.0.lock() {
                    events.push((fields.0, fields.1));
                }
            }
            fn enter(&self, _: &Id) {}
            fn exit(&self, _: &Id) {}
        }

        let events = Arc::new(Mutex::new(Vec::new()));
        tracing::subscriber::with_default(Recorder(Arc::clone(&events)), f);
        events.lock().map(|e| e.clone()).unwrap_or_default()
    }

    #[test]
    fn an_error_built_and_dropped_logs_nothing() {
        let events = events_during(|| {
            drop(GuardError::internal("password=hunter2 lost"));
            drop(GuardError::bad_gateway("upstream 500"));
            drop(GuardError::unavailable("store down"));
            drop(GuardError::from(Outer(FakeSqlError)));
            // Replaced by another error: the first one must leave no line.
            let replaced =
                Err::<(), _>(GuardError::internal("first")).map_err(|_| GuardError::forbidden());
            assert!(replaced.is_err());
        });
        assert_eq!(events, []);
    }

    #[test]
    fn the_detail_is_kept_scrubbed_on_the_error() {
        let err = GuardError::internal("login failed: password=hunter2");
        let detail = err.detail().expect("internal errors keep their detail");
        assert!(detail.contains("login failed"), "{detail}");
        assert!(!detail.contains("hunter2"), "{detail}");
        assert!(!err.public_body().contains("login"));
        assert_eq!(GuardError::forbidden().detail(), None);
        assert_eq!(GuardError::busy(Duration::from_secs(1)).detail(), None);
    }

    #[cfg(feature = "axum")]
    #[test]
    fn a_response_logs_its_error_once_under_the_bodys_id() {
        use axum_core::response::IntoResponse as _;

        let mut ids = Vec::new();
        let events = events_during(|| {
            for err in [
                GuardError::internal("password=hunter2 lost"),
                GuardError::bad_gateway("upstream answered 500"),
                GuardError::from(Outer(FakeSqlError)),
            ] {
                ids.push(
                    err.error_id()
                        .expect("internal errors carry an id")
                        .to_string(),
                );
                let response = err.into_response();
                assert!(response.status().is_server_error());
            }
            // Refusals that carry no detail log nothing.
            drop(GuardError::forbidden().into_response());
            drop(GuardError::busy(Duration::from_secs(1)).into_response());
        });
        let logged: Vec<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(logged, ids);
        let details: Vec<&str> = events.iter().map(|(_, d)| d.as_str()).collect();
        assert!(
            details[0].contains("password=[redacted] lost"),
            "{details:?}"
        );
        assert!(!details[0].contains("hunter2"), "{details:?}");
        assert_eq!(details[1], "upstream answered 500");
        assert!(
            details[2].starts_with("query failed: UNIQUE"),
            "{details:?}"
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        let secs = |d| GuardError::too_many_requests(d).retry_after_secs();
        assert_eq!(secs(Duration::from_millis(5_999)), Some(6));
        assert_eq!(secs(Duration::from_secs(6)), Some(6));
        assert_eq!(secs(Duration::ZERO), Some(1));
    }

    #[test]
    fn busy_is_a_generic_503_with_retry_after_and_no_error_id() {
        let busy = GuardError::busy(Duration::from_millis(1_500));
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.public_body(), r#"{"error":"unavailable"}"#);
        assert_eq!(busy.retry_after_secs(), Some(2));
        assert!(busy.error_id().is_none());
    }

    #[test]
    fn fields_list_codes_not_values() {
        let mut fields = FieldErrors::new();
        fields.insert("title".into(), vec!["length".into()]);
        let err = GuardError::invalid_input().with_fields(fields);
        assert_eq!(
            err.public_body(),
            r#"{"error":"invalid_input","fields":{"title":["length"]}}"#
        );
    }

    #[test]
    fn foreign_statuses_map_to_generic_kinds() {
        let table = [
            (400, ErrorKind::InvalidInput),
            (422, ErrorKind::InvalidInput),
            (404, ErrorKind::NotFound),
            (405, ErrorKind::MethodNotAllowed),
            (413, ErrorKind::PayloadTooLarge),
            (415, ErrorKind::UnsupportedMediaType),
            (500, ErrorKind::Internal),
            (501, ErrorKind::Internal),
        ];
        for (status, kind) in table {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(ErrorKind::from_status(status), kind, "{status}");
        }
    }
}
