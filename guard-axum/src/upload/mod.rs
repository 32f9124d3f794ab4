//! Secure uploads, the axum face: the [`Upload`] extractor, the
//! [`ObjectStore`] it writes to, and signed download links.
//! With the `object-store` feature, `ObjectStoreBackend` keeps uploads in
//! S3, GCS or Azure through the `object_store` crate.
//!
//! Every upload is hostile. The extractor streams the file part to the store
//! chunk by chunk under the route's [`UploadLimits`] — cut off at the cap
//! (413), the number and size of other parts capped too (413), the type
//! decided from the bytes only and markup looked for in every one of them
//! (415), the client's name kept as sanitized display metadata with the
//! sniffed type's extension, the object named by a server-generated id.
//! The object is staged, invisible, until the handler calls
//! [`Upload::commit`]; an upload that is not committed is deleted when its
//! request ends, and [`ObjectStore::sweep`] removes what a crash left staged.
//! Downloads go through [`signed_download_url`] and [`download_response`]:
//! HMAC-signed, expiring, optionally bound to one principal; anything else
//! is 404.
//!
//! `#[secure_route(upload(max = "5MiB", types = ["png"]))]` puts the
//! route's [`UploadLimits`] in the request's extensions; the router puts the
//! [`UploadStore`] there. Without the macro, insert both yourself:
//!
//! ```
//! use std::time::Duration;
//!
//! use axum::extract::Path;
//! use axum::routing::{get, post};
//! use axum::{Extension, Json, Router};
//! use guard_axum::upload::{
//!     Upload, UploadLimits, UploadStore, download_response, signed_download_url, unix_now,
//! };
//! use guard_core::GuardError;
//! use guard_core::upload::{ByteSize, FileKind, LocalStore, TypeAllowlist, UrlSigner};
//!
//! #[derive(Clone)]
//! struct Links(UrlSigner);
//!
//! async fn upload(
//!     Extension(links): Extension<Links>,
//!     mut file: Upload,
//! ) -> Result<Json<String>, GuardError> {
//!     // Record the upload (a database row) first, then keep it.
//!     let id = file.commit().await?;
//!     let (url, _expires_at) =
//!         signed_download_url(&links.0, "/files", id, Duration::from_secs(600), unix_now(), None);
//!     Ok(Json(url))
//! }
//!
//! async fn download(
//!     Extension(store): Extension<UploadStore>,
//!     Extension(links): Extension<Links>,
//!     Path(token): Path<String>,
//! ) -> Result<axum::response::Response, GuardError> {
//!     download_response(&store, &links.0, &token, unix_now(), None).await
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("guard-doc-upload-{}", std::process::id()));
//! let limits = UploadLimits::new(
//!     ByteSize::parse("5MiB")?,
//!     TypeAllowlist::new(&[FileKind::Png, FileKind::Jpeg]),
//! )?;
//! let store = UploadStore::new(LocalStore::new(&dir)?);
//! let links = Links(UrlSigner::new(b"a 32-byte-or-longer secret from config!")?);
//! let app: Router = Router::new()
//!     .route("/upload", post(upload).layer(Extension(limits)))
//!     .route("/files/{token}", get(download))
//!     .layer(Extension(store))
//!     .layer(Extension(links));
//! # std::fs::remove_dir_all(dir)?;
//! # Ok(()) }
//! ```
//!
//! # Body limits
//!
//! The extractor sets the request's body limit itself, to
//! [`UploadLimits::body_limit`] (the file cap plus room for the other parts),
//! so axum's 2 MB `DefaultBodyLimit` neither cuts a larger cap nor leaves
//! the body unbounded. A body-limit layer in front of an upload route
//! (tower-http's `RequestBodyLimitLayer`, a router-wide JSON cap) must allow
//! at least that much, or it answers 413 first.
//!
//! # Security
//!
//! * Keep the store's directory outside anything a static-file route serves.
//! * The type is sniffed from the first bytes; markup is looked for in all
//!   of them, but a scan is not a parser, and the download headers are what
//!   keep a file from being rendered. Serve allowed SVG or HTML from a
//!   separate, cookie-less origin.
//! * The whole-file markup scan refuses about one file per 10 GB of random
//!   binary content (compressed image data) by a chance match.
//! * Run [`ObjectStore::sweep`] now and then (at start-up, hourly) with a
//!   cutoff an hour or more back, for uploads a crash left uncommitted, and
//!   [`UploadStore::settle`] at graceful shutdown.
//! * Fields other than the file are read under their cap and discarded:
//!   send metadata in a separate, validated request.

mod download;
mod extract;
mod limits;
#[cfg(feature = "object-store")]
mod object_store;
mod store;

#[cfg(feature = "object-store")]
pub use self::object_store::ObjectStoreBackend;
pub use download::{download_response, signed_download_url, unix_now};
pub use extract::Upload;
pub use guard_core::upload::{
    ByteSize, FileKind, LocalStore, ObjectId, ObjectMeta, StoreError, TypeAllowlist, UrlSigner,
};
pub use limits::{
    DEFAULT_FIELD_NAME, DEFAULT_MAX_FIELD_BYTES, DEFAULT_MAX_PARTS, UploadConfigError, UploadLimits,
};
pub use store::{ObjectStore, ObjectStream, ObjectWriter, OpenedObject, UploadStore};
