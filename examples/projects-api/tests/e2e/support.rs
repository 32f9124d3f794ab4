//! The exact answers and request bodies the sections share.

use serde_json::json;

use crate::common::Reply;

pub(crate) const UNAUTHENTICATED: &str = r#"{"error":"unauthenticated"}"#;
pub(crate) const NOT_FOUND: &str = r#"{"error":"not_found"}"#;
pub(crate) const INVALID_INPUT: &str = r#"{"error":"invalid_input"}"#;
pub(crate) const PAYLOAD_TOO_LARGE: &str = r#"{"error":"payload_too_large"}"#;
pub(crate) const UNSUPPORTED_MEDIA_TYPE: &str = r#"{"error":"unsupported_media_type"}"#;
pub(crate) const TOO_MANY_REQUESTS: &str = r#"{"error":"too_many_requests"}"#;
pub(crate) const URL_NOT_ALLOWED: &str = r#"{"error":"url_not_allowed"}"#;

/// A request body: its content type and bytes.
pub(crate) type Body<'a> = (&'a str, Vec<u8>);

/// A syntactically valid object id (32 lowercase hex digits of a v4 UUID)
/// that no upload was given.
pub(crate) const UNKNOWN_OBJECT_ID: &str = "0f8fad5bd9cb469fa16570867728950e";

pub(crate) fn fields(pairs: &[(&str, &str)]) -> String {
    let inner: Vec<String> = pairs
        .iter()
        .map(|(field, code)| format!(r#""{field}":["{code}"]"#))
        .collect();
    format!(
        r#"{{"error":"invalid_input","fields":{{{}}}}}"#,
        inner.join(",")
    )
}

#[track_caller]
pub(crate) fn assert_retry_after(reply: &Reply, max_seconds: u64) {
    let seconds: u64 = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", reply.headers))
        .parse()
        .unwrap();
    assert!(
        (1..=max_seconds).contains(&seconds),
        "Retry-After: {seconds}"
    );
}

pub(crate) fn preview_body(url: &str) -> String {
    json!({ "url": url }).to_string()
}
