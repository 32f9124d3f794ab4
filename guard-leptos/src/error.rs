//! [`GuardedError`]: the error type of a guarded server function, with a
//! fixed public body, an error id and the status a route would answer.

use std::collections::BTreeMap;
use std::fmt;

use axum::response::IntoResponse as _;
use guard_core::GuardError;
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

/// The private header that tells the server-function route the body is
/// already generic; removed before the response leaves.
pub(crate) const GENERIC_MARK: &str = "x-guard-leptos-generic";

/// What a guarded server function answers when it fails: exactly the body
/// a guarded route answers (`{"error":"not_found"}`, `{"error":"internal",
/// "error_id":"…"}`, a `fields` list for 400s), with the route's status
/// (400, 401, 403, 404, 413, 429 with `Retry-After`, 500).
///
/// Any error converts into it with `?`: a foreign error (SQL, I/O,
/// [`server_fn::ServerFnError`]) becomes the generic 500 and its text, with
/// its source chain, is logged scrubbed under the error id the client sees,
/// never sent. Deliberately not a `std::error::Error`, which is what lets the
/// blanket conversion exist (as for [`GuardError`]).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuardedError {
    error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fields: Option<BTreeMap<String, Vec<String>>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error_id: Option<String>,
    #[serde(skip, default = "internal_status")]
    status: u16,
    #[serde(skip)]
    retry_after: Option<u64>,
}

fn internal_status() -> u16 {
    500
}

impl GuardedError {
    /// The HTTP status this error answers with.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The public code (`"not_found"`, `"internal"`).
    #[must_use]
    pub fn code(&self) -> &str {
        &self.error
    }

    /// The error id of a 500, which the log line carries too.
    #[must_use]
    pub fn error_id(&self) -> Option<&str> {
        self.error_id.as_deref()
    }

    /// Seconds to wait, on a 429.
    #[must_use]
    pub fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// The exact body the client receives.
    #[must_use]
    pub fn public_body(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{{\"error\":\"{}\"}}", self.error))
    }

    /// Sets the status (and `Retry-After`) of the response this call
    /// answers, when it runs under `leptos_axum` (an HTTP call or a page
    /// render), and marks the body as generic.
    fn mark_response(&self) {
        let Some(options) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
            return;
        };
        options.set_status(self.status());
        options.insert_header(
            header::HeaderName::from_static(GENERIC_MARK),
            HeaderValue::from_static("1"),
        );
        if let Some(secs) = self.retry_after {
            options.insert_header(header::RETRY_AFTER, HeaderValue::from(secs));
        }
    }
}

impl GuardedError {
    fn from_guard(err: GuardError) -> Self {
        let body = err.public_body();
        let status = err.status().as_u16();
        let retry_after = err.retry_after_secs();
        // The one place a guard error becomes an answer: turning it into a
        // response logs its detail (scrubbed) under its error id, once.
        drop(err.into_response());
        let mut this: Self = serde_json::from_str(&body).unwrap_or_else(|_| Self {
            error: "internal".to_owned(),
            fields: None,
            error_id: None,
            status: 500,
            retry_after: None,
        });
        this.status = status;
        this.retry_after = retry_after;
        this.mark_response();
        this
    }
}

/// `?` on a [`GuardError`] keeps its status and body; on any other error
/// it is the generic 500, the detail logged under its id.
impl<E: Into<GuardError>> From<E> for GuardedError {
    fn from(err: E) -> Self {
        Self::from_guard(err.into())
    }
}

impl FromServerFnError for GuardedError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // The arguments did not decode: serde's message may quote the
            // input, so it goes to the log only.
            ServerFnErrorErr::Args(detail)
            | ServerFnErrorErr::MissingArg(detail)
            | ServerFnErrorErr::Deserialization(detail) => {
                tracing::debug!(%detail, "server function arguments refused");
                GuardError::invalid_input().into()
            }
            other => GuardError::internal(other).into(),
        }
    }
}

impl fmt::Debug for GuardedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedError")
            .field("status", &self.status)
            .field("error", &self.error)
            .field("fields", &self.fields)
            .field("error_id", &self.error_id)
            .finish()
    }
}

impl fmt::Display for GuardedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.error)?;
        if let Some(id) = &self.error_id {
            write!(f, " (error id {id})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

    use super::*;

    #[derive(Debug)]
    struct FakeSql;
    impl fmt::Display for FakeSql {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("no such column: todos.secret in SELECT * FROM todos")
        }
    }
    impl std::error::Error for FakeSql {}

    #[test]
    fn a_foreign_error_is_a_generic_500_with_an_id() {
        let err = GuardedError::from(FakeSql);
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = err.public_body();
        assert!(!body.contains("SELECT"), "{body}");
        assert!(
            body.starts_with(r#"{"error":"internal","error_id":""#),
            "{body}"
        );
        assert!(err.error_id().is_some());
    }

    #[test]
    fn guard_errors_keep_their_status_and_body() {
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
                GuardError::payload_too_large(),
                413,
                r#"{"error":"payload_too_large"}"#,
            ),
        ];
        for (err, status, body) in table {
            let err = GuardedError::from(err);
            assert_eq!(err.status().as_u16(), status);
            assert_eq!(err.public_body(), body);
        }
        let limited = GuardedError::from(GuardError::too_many_requests(
            std::time::Duration::from_secs(7),
        ));
        assert_eq!(limited.status().as_u16(), 429);
        assert_eq!(limited.retry_after_secs(), Some(7));
    }

    #[test]
    fn argument_errors_are_400_without_their_text() {
        let err = GuardedError::from_server_fn_error(ServerFnErrorErr::Args(
            "unknown variant `DROP TABLE`".to_owned(),
        ));
        assert_eq!(err.status().as_u16(), 400);
        assert!(!err.public_body().contains("DROP"));
        let other =
            GuardedError::from_server_fn_error(ServerFnErrorErr::ServerError("boom".to_owned()));
        assert_eq!(other.status().as_u16(), 500);
        assert!(!other.public_body().contains("boom"));
    }

    #[test]
    fn the_body_round_trips_for_the_client() {
        let err = GuardedError::from(GuardError::not_found());
        let back: GuardedError = serde_json::from_str(&err.public_body()).unwrap();
        assert_eq!(back.code(), "not_found");
    }
}
