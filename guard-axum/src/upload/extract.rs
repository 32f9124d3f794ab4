//! The [`Upload`] extractor: one file from a multipart body, streamed to the
//! store under the caps, typed by its bytes.

use std::num::NonZeroU64;

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request};
use guard_core::upload::{
    ByteSize, FileKind, NewObject, ObjectId, ObjectMeta, StoreError, StreamCheck, UploadRefusal,
};
use guard_core::{GuardError, Principal};
use http::{HeaderMap, header};

use super::{ObjectStore as _, ObjectWriter, UploadLimits, UploadStore};

/// A file uploaded in a `multipart/form-data` body, stored but not yet
/// committed: call [`commit`](Self::commit) once the handler has recorded
/// it. An upload that is not committed is deleted when the request ends.
///
/// The extractor reads the route's [`UploadLimits`] and [`UploadStore`]
/// from the request's extensions (the router or `#[secure_route(upload(...))]`
/// puts them there; without them it answers a generic 500 and logs the
/// wiring bug, never accepting the file). Then it:
///
/// 1. refuses a body that is not `multipart/form-data`: 415;
/// 2. refuses a declared `Content-Length` over
///    [`UploadLimits::body_limit`] before reading anything: 413;
/// 3. reads the parts in order, at most [`UploadLimits::parts`] of them
///    (413 past that). Other fields are read up to
///    [`UploadLimits::field_bytes`] (413 past that) and discarded;
/// 4. streams the file part to the store chunk by chunk, counting bytes: the
///    byte that passes [`UploadLimits::max_bytes`] stops the read, 413, and
///    the partial object is deleted before the response is sent;
/// 5. decides the type from the first bytes only
///    ([`TypeAllowlist::check`](guard_core::upload::TypeAllowlist::check)),
///    as soon as they have arrived: empty, unknown, not-allowed and polyglot
///    content is 415. The client's `Content-Type` and file name play no part;
/// 6. looks for markup and server-side script in every chunk, not only the
///    first bytes ([`StreamCheck`]): a PNG with `<script>` at byte 50,000 is
///    415 too, refused as soon as the marker has arrived;
/// 7. stages the object under a server-generated [`ObjectId`], with the
///    client's file name sanitized, given the sniffed kind's extension, as
///    display metadata only, and the authenticated principal, if any, as
///    owner.
///
/// A body that does not parse as multipart, holds no file part, or holds
/// two, is 400. Every refusal is the generic body of its status
/// (`{"error":"payload_too_large"}`, ...), and nothing is kept.
///
/// It reads the body, so it must be the handler's last extractor.
///
/// # Commit, or it is deleted
///
/// A staged object is durable but invisible: downloads of it are 404. Like
/// a database transaction, it is kept only if the handler commits it:
///
/// ```
/// use axum::Json;
/// use guard_axum::Upload;
/// use guard_core::GuardError;
///
/// async fn upload(mut file: Upload) -> Result<Json<String>, GuardError> {
///     // ... record `file.id`, `file.display_name`, `file.kind` ...
///     let id = file.commit().await?;
///     Ok(Json(id.to_string()))
/// }
/// ```
///
/// When the handler returns without committing (an error, an early
/// return), panics, or is cancelled (the client went away, a timeout), the
/// `Upload` is dropped and a task on the runtime deletes the staged object
/// ([`UploadStore::settle`] waits for those tasks). A process that dies
/// first leaves it staged, for
/// [`ObjectStore::sweep`](super::ObjectStore::sweep) to find.
///
/// When the handler records the upload somewhere else (a database row),
/// commit in the order that leaves nothing behind on any error path:
/// insert the row in a transaction, commit the upload, then commit the
/// transaction, deleting the object if that last step fails.
#[derive(Debug)]
#[non_exhaustive]
pub struct Upload {
    /// The server-generated name of the stored object.
    pub id: ObjectId,
    /// What the bytes sniffed as; what a download is served as.
    pub kind: FileKind,
    /// The length in bytes.
    pub size: u64,
    /// The client's file name, sanitized, with the extension of
    /// [`kind`](Self::kind) in place of the client's
    /// ([`file_name_for_kind`](guard_core::upload::file_name_for_kind)):
    /// `invoice.html` that sniffed as a PNG is `invoice.png`. For display
    /// and `Content-Disposition` only, never a path.
    pub display_name: String,
    /// The principal's id when the route is authenticated.
    pub owner: Option<String>,
    staged: Staged,
}

impl Upload {
    fn staged(meta: ObjectMeta, store: UploadStore) -> Self {
        Self {
            id: meta.id,
            kind: meta.kind,
            size: meta.size,
            display_name: meta.display_name.clone(),
            owner: meta.owner.clone(),
            staged: Staged {
                store,
                meta: Some(meta),
            },
        }
    }

    /// Keeps the upload: makes the object visible (downloads of it work
    /// from now on) and stops it being deleted when the request ends.
    /// Returns its id. Committing again does nothing.
    ///
    /// What is committed is what the extractor staged, whatever the
    /// handler did to this value's fields. Once started, a commit runs to
    /// its end even if the request is cancelled meanwhile.
    ///
    /// # Errors
    ///
    /// A generic 500 when the store fails (the detail is logged); the
    /// object is then deleted, as if never committed.
    pub async fn commit(&mut self) -> Result<ObjectId, GuardError> {
        let Some(meta) = self.staged.meta.take() else {
            return Ok(self.id);
        };
        let id = meta.id;
        let store = self.staged.store.clone();
        // A commit cut in half by a cancelled request would race the drop
        // guard's delete; a task finishes it, and cleans up if it fails.
        let commit = tokio::spawn(async move {
            let committed = store.commit(meta).await;
            if committed.is_err() {
                store.discard_in_background(id);
            }
            committed
        });
        match commit.await {
            Ok(Ok(())) => Ok(id),
            Ok(Err(error)) => Err(GuardError::internal(format_args!(
                "committing upload {id}: {}",
                error_chain(&error)
            ))),
            Err(join) => {
                // The task panicked: the object may still be staged.
                self.staged.store.discard_in_background(id);
                Err(GuardError::internal(format_args!(
                    "committing upload {id}: {join}"
                )))
            }
        }
    }
}

/// The staged object's claim on the store: deleted on drop unless
/// committed.
#[derive(Debug)]
struct Staged {
    store: UploadStore,
    /// `Some` until committed.
    meta: Option<ObjectMeta>,
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(meta) = self.meta.take() {
            self.store.discard_in_background(meta.id);
        }
    }
}

impl<S> FromRequest<S> for Upload
where
    S: Send + Sync,
{
    type Rejection = GuardError;

    async fn from_request(mut req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let extensions = req.extensions();
        let (Some(limits), Some(store)) = (
            extensions.get::<UploadLimits>().cloned(),
            extensions.get::<UploadStore>().cloned(),
        ) else {
            return Err(GuardError::internal(format_args!(
                "the Upload extractor ran without {} in the request extensions; the upload route is not wired",
                match (
                    extensions.get::<UploadLimits>(),
                    extensions.get::<UploadStore>()
                ) {
                    (None, None) => "UploadLimits and UploadStore",
                    (None, Some(_)) => "UploadLimits",
                    _ => "UploadStore",
                }
            )));
        };
        let owner = extensions.get::<Principal>().map(|p| p.id().to_owned());

        precheck(req.headers(), &limits)?;
        // The whole body is bounded by the envelope these limits need: not
        // axum's 2 MB default (which would cut a larger cap), not unbounded.
        DefaultBodyLimit::max(usize::try_from(limits.body_limit()).unwrap_or(usize::MAX))
            .apply(&mut req);
        let multipart = Multipart::from_request(req, state)
            .await
            .map_err(|_| refused(UploadRefusal::Malformed))?;
        receive(multipart, &limits, &store, owner).await
    }
}

/// What can be said from the headers alone: 415 for a body that is not
/// `multipart/form-data`, 400 for an unusable `Content-Length`, 413 for one
/// over the body limit.
fn precheck(headers: &HeaderMap, limits: &UploadLimits) -> Result<(), GuardError> {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            guard_core::validate::media_type(v).eq_ignore_ascii_case("multipart/form-data")
        });
    if !is_form {
        tracing::debug!("upload refused: the body is not multipart/form-data");
        return Err(GuardError::unsupported_media_type());
    }
    let mut lengths = headers.get_all(header::CONTENT_LENGTH).iter();
    let declared = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(value), None) => Some(
            value
                .to_str()
                .ok()
                .filter(|text| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|text| text.parse::<u64>().ok())
                // Request smuggling relies on lengths that parse differently.
                .ok_or_else(|| refused(UploadRefusal::Malformed))?,
        ),
        (Some(_), Some(_)) => return Err(refused(UploadRefusal::Malformed)),
    };
    if declared.is_some_and(|len| len > limits.body_limit()) {
        return Err(refused(UploadRefusal::TooLarge {
            limit: limits.max_bytes(),
        }));
    }
    Ok(())
}

/// Why [`receive`] stopped.
enum Failure {
    Refused(UploadRefusal),
    Store(StoreError),
}

impl From<UploadRefusal> for Failure {
    fn from(refusal: UploadRefusal) -> Self {
        Self::Refused(refusal)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// The file part as it arrived.
struct Received {
    kind: FileKind,
    client_name: String,
}

async fn receive(
    mut multipart: Multipart,
    limits: &UploadLimits,
    store: &UploadStore,
    owner: Option<String>,
) -> Result<Upload, GuardError> {
    let mut writer = None;
    let outcome = match read_parts(&mut multipart, limits, store, &mut writer).await {
        Ok(received) => match writer.take() {
            Some(writer) => {
                let object = NewObject::new(&received.client_name);
                let object = match owner {
                    Some(owner) => object.owner(owner),
                    None => object,
                };
                writer
                    .stage(received.kind, object)
                    .await
                    .map(|meta| Upload::staged(meta, store.clone()))
                    .map_err(Failure::from)
            }
            None => Err(Failure::Refused(UploadRefusal::MissingFile)),
        },
        Err(failure) => Err(failure),
    };
    if let Some(writer) = writer {
        // Deleted before the refusal is sent, so a client that sees the
        // status can rely on nothing being kept.
        writer.abort().await;
    }
    outcome.map_err(|failure| match failure {
        Failure::Refused(refusal) => refused(refusal),
        Failure::Store(StoreError::NotFound) => {
            GuardError::internal("upload store lost an object while writing it")
        }
        Failure::Store(error) => GuardError::internal(error_chain(&error)),
    })
}

/// Reads every part; the file part goes to a writer left in `writer`.
async fn read_parts(
    multipart: &mut Multipart,
    limits: &UploadLimits,
    store: &UploadStore,
    writer: &mut Option<Box<dyn ObjectWriter>>,
) -> Result<Received, Failure> {
    let mut parts: u32 = 0;
    let mut received = None;
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| multipart_refusal(&e, limits))?
    {
        parts = parts.saturating_add(1);
        if parts > limits.parts() {
            return Err(UploadRefusal::TooManyParts {
                limit: limits.parts(),
            }
            .into());
        }
        if field.name() != Some(limits.file_field()) {
            drain(&mut field, limits).await?;
            continue;
        }
        if received.is_some() {
            // Two files under one name: which one is "the" upload would be
            // the parser's choice, not the server's.
            tracing::debug!("upload refused: more than one file part");
            return Err(UploadRefusal::Malformed.into());
        }
        let client_name = field.file_name().unwrap_or_default().to_owned();
        let file = writer.insert(store.begin().await?);
        let kind = stream_file(&mut field, limits, file.as_mut()).await?;
        received = Some(Received { kind, client_name });
    }
    received.ok_or(Failure::Refused(UploadRefusal::MissingFile))
}

/// Streams the file part into `writer` under the cap, checking every chunk:
/// the type from its head, markup anywhere.
async fn stream_file(
    field: &mut Field<'_>,
    limits: &UploadLimits,
    writer: &mut dyn ObjectWriter,
) -> Result<FileKind, Failure> {
    let mut size: u64 = 0;
    let mut check = StreamCheck::new(limits.types());
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_refusal(&e, limits))?
    {
        size = size.saturating_add(chunk.len() as u64);
        if !limits.max_bytes().allows(size) {
            return Err(UploadRefusal::TooLarge {
                limit: limits.max_bytes(),
            }
            .into());
        }
        // Refuse as soon as the type or a marker is known, so refused
        // content is not read (or written) any further.
        check.push(&chunk)?;
        writer.write(chunk).await?;
    }
    Ok(check.finish()?)
}

/// Reads a non-file field to its end under its cap, keeping nothing.
async fn drain(field: &mut Field<'_>, limits: &UploadLimits) -> Result<(), Failure> {
    let mut size: u64 = 0;
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| multipart_refusal(&e, limits))?
    {
        size = size.saturating_add(chunk.len() as u64);
        if size > limits.field_bytes() {
            tracing::debug!(
                cap = limits.field_bytes(),
                "upload refused: a non-file field is over its cap"
            );
            let limit = NonZeroU64::new(limits.field_bytes())
                .map_or(limits.max_bytes(), ByteSize::from_bytes);
            return Err(UploadRefusal::TooLarge { limit }.into());
        }
    }
    Ok(())
}

/// A parse or read failure of the body: 413 when it is the body limit that
/// stopped it, 400 otherwise (including a client that went away: a 500
/// would blame the server for it).
fn multipart_refusal(error: &MultipartError, limits: &UploadLimits) -> UploadRefusal {
    tracing::debug!(error = %error, "multipart body refused");
    if error.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
        UploadRefusal::TooLarge {
            limit: limits.max_bytes(),
        }
    } else {
        UploadRefusal::Malformed
    }
}

/// The generic error of a refusal's status; the reason (which names only
/// what the bytes sniffed as, never client text) goes to the log.
fn refused(refusal: UploadRefusal) -> GuardError {
    let status = refusal.status();
    if status == http::StatusCode::UNSUPPORTED_MEDIA_TYPE {
        tracing::info!(reason = %refusal, "upload refused");
    } else {
        tracing::debug!(reason = %refusal, "upload refused");
    }
    match status {
        http::StatusCode::PAYLOAD_TOO_LARGE => GuardError::payload_too_large(),
        http::StatusCode::UNSUPPORTED_MEDIA_TYPE => GuardError::unsupported_media_type(),
        _ => GuardError::invalid_input(),
    }
}

/// `outer: inner: root`, for the log line of a store failure.
pub(super) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use guard_core::spec::UploadSpec;
    use http::HeaderValue;

    fn limits() -> UploadLimits {
        UploadLimits::from_spec(&UploadSpec {
            max_bytes: 1024,
            types: &["png"],
        })
        .unwrap()
    }

    fn headers(content_type: Option<&str>, length: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = content_type {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
        }
        if let Some(value) = length {
            headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn precheck_refuses_other_media_types_and_declared_oversize_bodies() {
        let limits = limits();
        let within = limits.body_limit().to_string();
        let over = (limits.body_limit() + 1).to_string();
        let cases: &[(Option<&str>, Option<&str>, Option<u16>)] = &[
            (Some("multipart/form-data; boundary=x"), None, None),
            (
                Some("Multipart/Form-Data ; boundary=x"),
                Some(&within),
                None,
            ),
            (
                Some("multipart/form-data; boundary=x"),
                Some(&over),
                Some(413),
            ),
            (
                Some("multipart/form-data; boundary=x"),
                Some("nonsense"),
                Some(400),
            ),
            (
                Some("multipart/form-data; boundary=x"),
                Some("+12"),
                Some(400),
            ),
            (Some("multipart/form-data; boundary=x"), Some(""), Some(400)),
            (Some("multipart/form-data; boundary=x"), Some("0"), None),
            (None, None, Some(415)),
            (Some("application/json"), None, Some(415)),
            (Some("image/png"), None, Some(415)),
            (Some("multipart/mixed; boundary=x"), None, Some(415)),
            (Some("multipart/form-datax; boundary=x"), None, Some(415)),
            (Some("text/plain; x=multipart/form-data"), None, Some(415)),
        ];
        for (content_type, length, status) in cases {
            let result = precheck(&headers(*content_type, *length), &limits);
            assert_eq!(
                result.err().map(|r| r.status().as_u16()),
                *status,
                "{content_type:?} {length:?}"
            );
        }
    }

    #[test]
    fn precheck_refuses_two_content_lengths() {
        let mut headers = headers(Some("multipart/form-data; boundary=x"), Some("10"));
        headers.append(header::CONTENT_LENGTH, HeaderValue::from_static("10"));
        let refused = precheck(&headers, &limits()).unwrap_err();
        assert_eq!(refused.status(), http::StatusCode::BAD_REQUEST);
    }

    #[test]
    fn refusals_map_to_the_generic_error_of_their_status() {
        let cases = [
            (
                UploadRefusal::TooManyParts { limit: 8 },
                "payload_too_large",
            ),
            (UploadRefusal::Empty, "unsupported_media_type"),
            (
                UploadRefusal::ActiveContent {
                    sniffed: FileKind::Png,
                },
                "unsupported_media_type",
            ),
            (UploadRefusal::MissingFile, "invalid_input"),
            (UploadRefusal::Malformed, "invalid_input"),
        ];
        for (refusal, code) in cases {
            let status = refusal.status();
            let error = refused(refusal);
            assert_eq!(error.status(), status);
            assert_eq!(error.code(), code);
        }
    }
}
