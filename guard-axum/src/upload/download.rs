//! Downloads through signed URLs: [`signed_download_url`] hands a link out,
//! [`download_response`] answers it.

use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::response::Response;
use guard_core::GuardError;
use guard_core::upload::{
    ObjectId, StoreError, UrlSigner, content_disposition_attachment, file_name_for_kind,
};
use http::{HeaderValue, StatusCode, header};

use super::ObjectStore;
use super::extract::error_chain;

/// What a download is allowed to do if a browser renders it anyway: nothing
/// (no script, no plugins, no requests, an opaque origin). It only matters
/// for kinds that carry script (SVG, HTML) that a route chose to allow.
const DOWNLOAD_CSP: &str = "default-src 'none'; sandbox";

/// A link to `object` valid for `ttl` from `now` (unix seconds), and the
/// moment it expires.
///
/// The link is `base` (trailing slashes dropped), `/`, and a URL-safe token
/// (see [`UrlSigner::sign`]); route `"{base}/{token}"` to a handler that
/// calls [`download_response`]. With `principal` (the stable id of the
/// authenticated principal, `Principal::id`), only that principal can use
/// it; with `None`, anyone holding it can, until it expires. `ttl` is rounded
/// up to whole seconds, and is at least one.
///
/// ```
/// use std::time::Duration;
/// use guard_axum::upload::signed_download_url;
/// use guard_core::upload::{ObjectId, UrlSigner};
///
/// let signer = UrlSigner::new(b"a 32-byte-or-longer secret from config!")?;
/// let (url, expires_at) = signed_download_url(
///     &signer, "/files/", ObjectId::random(), Duration::from_secs(600), 1_700_000_000, Some("user-42"),
/// );
/// assert!(url.starts_with("/files/"));
/// assert_eq!(expires_at, 1_700_000_600);
/// # Ok::<(), guard_core::upload::SignerConfigError>(())
/// ```
#[must_use]
pub fn signed_download_url(
    signer: &UrlSigner,
    base: &str,
    object: ObjectId,
    ttl: Duration,
    now: u64,
    principal: Option<&str>,
) -> (String, u64) {
    let secs = ttl
        .as_secs()
        .saturating_add(u64::from(ttl.subsec_nanos() > 0));
    let expires_at = now.saturating_add(secs.max(1));
    let token = signer.sign(object, expires_at, principal);
    (
        format!("{}/{token}", base.trim_end_matches('/')),
        expires_at,
    )
}

/// The current time in unix seconds, for [`signed_download_url`] and
/// [`download_response`] (a clock before 1970 reads as 0).
#[must_use]
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Answers a download link: the stored file, streamed, if `token` was signed
/// by `signer`, has not expired at `now`, and is unbound or bound to
/// `principal`.
///
/// The response is 200 with `Content-Type` the kind the bytes sniffed as at
/// upload (never what the client claimed), `Content-Disposition: attachment`
/// with the sanitized name and that kind's extension (`invoice.html` that
/// sniffed as a PNG downloads as `invoice.png`), `X-Content-Type-Options: nosniff`,
/// `Content-Security-Policy: default-src 'none'; sandbox`,
/// `Cache-Control: private, no-store` and `Content-Length`.
///
/// # Errors
///
/// A malformed, tampered, expired or another principal's token, and a token
/// for an object that no longer exists, are all the same 404
/// `{"error":"not_found"}` (the reason is logged at debug level). A store
/// failure is the generic 500.
pub async fn download_response(
    store: &dyn ObjectStore,
    signer: &UrlSigner,
    token: &str,
    now: u64,
    principal: Option<&str>,
) -> Result<Response, GuardError> {
    let id = signer.verify(token, now, principal).map_err(|reason| {
        tracing::debug!(%reason, "download token refused");
        GuardError::not_found()
    })?;
    let opened = store.open(id).await.map_err(|error| match error {
        StoreError::NotFound => {
            tracing::debug!(object = %id, "download of an object that is gone");
            GuardError::not_found()
        }
        other => GuardError::internal(error_chain(&other)),
    })?;
    let meta = opened.meta;
    // The extension is the sniffed kind's whatever the metadata says: a
    // store written by an older version, or by hand, cannot name a PNG
    // `invoice.html`.
    let name = file_name_for_kind(&meta.display_name, meta.kind);
    let disposition = HeaderValue::from_str(&content_disposition_attachment(&name))
        .map_err(|e| GuardError::internal(format_args!("content-disposition: {e}")))?;

    let mut response = Response::new(Body::from_stream(opened.body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(meta.kind.content_type()),
    );
    headers.insert(header::CONTENT_DISPOSITION, disposition);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(meta.size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(DOWNLOAD_CSP),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> UrlSigner {
        UrlSigner::new(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    #[test]
    fn links_join_the_base_and_round_the_ttl_up() {
        let id = ObjectId::random();
        let cases: &[(&str, Duration, u64)] = &[
            ("/files", Duration::from_secs(60), 1_060),
            ("/files/", Duration::from_millis(1_500), 1_002),
            ("https://cdn.example/d//", Duration::ZERO, 1_001),
            ("", Duration::from_nanos(1), 1_001),
        ];
        for (base, ttl, expiry) in cases {
            let (url, expires_at) = signed_download_url(&signer(), base, id, *ttl, 1_000, None);
            assert_eq!(expires_at, *expiry, "{base} {ttl:?}");
            let token = url.rsplit('/').next().unwrap();
            assert_eq!(url, format!("{}/{token}", base.trim_end_matches('/')));
            assert_eq!(signer().verify(token, *expiry - 1, None), Ok(id));
            assert!(signer().verify(token, *expiry, None).is_err());
        }
    }

    #[test]
    fn a_link_never_outlives_u64_time() {
        let (_, expires_at) = signed_download_url(
            &signer(),
            "/f",
            ObjectId::random(),
            Duration::MAX,
            u64::MAX - 1,
            None,
        );
        assert_eq!(expires_at, u64::MAX);
    }
}
