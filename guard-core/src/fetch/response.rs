//! The response a fetch returns, and the body read that stops at the limit.

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use reqwest::Url;

use super::error::{FetchError, UpstreamError, from_reqwest};

/// What a successful [`SafeClient::get`](super::SafeClient::get) returns: a
/// 2xx response whose whole body fit in the client's limit.
///
/// `Debug` shows the body's length and the final URL's origin only.
#[non_exhaustive]
pub struct FetchedResponse {
    /// The final response's status (always 2xx).
    pub status: StatusCode,
    /// The final response's headers.
    pub headers: HeaderMap,
    /// The whole body, at most `max_response_bytes` long, as sent (the client
    /// asks for no compression and decodes none).
    pub body: Bytes,
    /// The URL that answered, after redirects; every hop to it was checked.
    pub final_url: Url,
}

impl fmt::Debug for FetchedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FetchedResponse")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .field(
                "final_origin",
                &self.final_url.origin().ascii_serialization(),
            )
            .finish_non_exhaustive()
    }
}

/// Reads the body into memory, failing as soon as it would pass `limit`.
///
/// A declared `Content-Length` over the limit fails before any byte is read;
/// a body without one (chunked, or delimited by close) is read chunk by chunk
/// and abandoned at the first chunk that crosses the limit. Dropping the
/// response then closes the connection, so the upstream cannot keep the
/// client reading.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Bytes, FetchError> {
    let too_large = || FetchError::from(UpstreamError::TooLarge { limit });
    let declared = response.content_length();
    if declared.is_some_and(|len| usize::try_from(len).map_or(true, |len| len > limit)) {
        return Err(too_large());
    }
    // Trust a declared length for the first allocation only up to a bound,
    // so a lying header cannot make the client reserve memory it never uses.
    let initial = declared
        .and_then(|len| usize::try_from(len).ok())
        .unwrap_or(0)
        .min(64 * 1024);
    let mut body = Vec::with_capacity(initial);
    while let Some(chunk) = response.chunk().await.map_err(from_reqwest)? {
        if chunk.len() > limit - body.len() {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_body_and_the_path() {
        let response = FetchedResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"secret body"),
            final_url: Url::parse("https://hooks.example.com/T0/SECRET?token=SECRET").unwrap(),
        };
        let debug = format!("{response:?}");
        assert!(debug.contains("https://hooks.example.com"), "{debug}");
        assert!(debug.contains("body_len: 11"), "{debug}");
        assert!(
            !debug.contains("SECRET") && !debug.contains("secret"),
            "{debug}"
        );
    }
}
