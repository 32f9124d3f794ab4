//! Secure uploads: every upload is hostile.
//!
//! The pure parts the `upload(max = "5MiB", types = ["png", "pdf"])` guard is
//! made of, each usable on its own:
//!
//! | part | refuses | with |
//! |---|---|---|
//! | [`ByteSize`]: the cap's grammar, shared with the macro | bodies over the cap, cut off while streaming | 413 |
//! | [`TypeAllowlist::check`] over [`sniff()`]: the type from the bytes only | empty, unknown, not-allowed and polyglot content; SVG and HTML unless listed | 415 |
//! | [`StreamCheck`]: the same check over a whole stream, chunk by chunk | markup or server-side script anywhere in the file, not only its head | 415 |
//! | [`sanitize_file_name`], [`file_name_for_kind`], [`content_disposition_attachment`] | path separators, `..`, control, bidi and zero-width characters, Windows reserved names, over-long names, an extension that is not the sniffed kind's | (cleans, never refuses) |
//! | [`ObjectId`]: the server-generated storage name | any id that is not exactly 32 lowercase hex digits of a v4 UUID | 404 |
//! | [`LocalStore`]: a private directory, atomic owner-only writes, staged until committed | reads by anything but an [`ObjectId`]; reads of staged objects | 404 |
//! | [`UrlSigner`]: HMAC-SHA256 download tokens | tampered, expired, truncated or another principal's tokens | 404 |
//!
//! # The story of one upload
//!
//! ```
//! use guard_core::upload::{ByteSize, LocalStore, NewObject, StreamCheck, TypeAllowlist, UrlSigner};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("guard-doc-{}", uuid::Uuid::new_v4().simple()));
//! let cap = ByteSize::parse("5MiB")?;
//! let types = TypeAllowlist::from_names(["png", "jpeg", "pdf"])?;
//! let store = LocalStore::new(&dir)?;
//!
//! // Stream the file part: count bytes against the cap, check every chunk
//! // (the type from the head, markup anywhere), write chunks to a temp file
//! // that vanishes if we bail out.
//! let mut check = StreamCheck::new(types);
//! let mut pending = store.begin()?;
//! for chunk in [&b"\x89PNG\r\n\x1a\n"[..], &b"\0\0\0\rIHDR..."[..]] {
//!     if !cap.allows(pending.written() + chunk.len() as u64) {
//!         return Err("413".into()); // `pending` is dropped: nothing is kept
//!     }
//!     check.push(chunk)?; // 415 for markup, as soon as it is seen
//!     pending.write_chunk(chunk)?;
//! }
//! let kind = check.finish()?; // 415 unless the bytes are png, jpeg or pdf
//!
//! // The client's name is metadata only; the file is stored under a random
//! // id, staged (invisible) until the application has recorded it.
//! let stored = pending.stage(kind, NewObject::new("../../etc/passwd.html").owner("user-42"))?;
//! assert_eq!(stored.display_name, "passwd.png"); // the sniffed kind's extension
//! assert!(store.open(stored.id).is_err()); // 404 until committed
//! store.commit(&stored)?;
//!
//! // Hand out a download link valid for ten minutes, for this user only.
//! let signer = UrlSigner::new(b"a 32-byte-or-longer secret from config!")?;
//! let now = 1_700_000_000;
//! let token = signer.sign(stored.id, now + 600, Some("user-42"));
//! assert_eq!(signer.verify(&token, now + 1, Some("user-42"))?, stored.id);
//! assert!(signer.verify(&token, now + 1, Some("user-43")).is_err()); // 404
//! # std::fs::remove_dir_all(dir)?;
//! # Ok(())
//! # }
//! ```
//!
//! # Serving a download
//!
//! Answer with the stored kind's [`FileKind::content_type`], the header from
//! [`content_disposition_attachment`] of [`file_name_for_kind`], and
//! `X-Content-Type-Options: nosniff`. The kind is sniffed from the first
//! [`SNIFF_LEN`] bytes; [`StreamCheck`] looks for markup in all of them,
//! but a scan is not a parser: those headers are what keep a file from
//! being rendered as a page. Serve allowed SVG or HTML from a separate,
//! cookie-less origin.
//!
//! A whole-file scan of random bytes (compressed image data) matches a
//! signature by chance about once per 10 GB, and refuses that upload: the
//! price of finding markup deep in a file.

mod id;
mod kind;
mod name;
mod refusal;
mod scan;
mod signed;
mod sniff;
mod store;

pub use guard_grammar::size::{ByteSize, ByteSizeError};
pub use id::{InvalidObjectId, ObjectId};
pub use kind::{FileKind, TypeAllowlist, UnknownFileKind};
pub use name::{
    MAX_FILE_NAME_BYTES, content_disposition_attachment, file_name_for_kind, sanitize_file_name,
};
pub use refusal::UploadRefusal;
pub use scan::StreamCheck;
pub use signed::{SignedUrlError, SignerConfigError, UrlSigner};
pub use sniff::{SNIFF_LEN, SniffBuffer, sniff};
pub use store::{LocalStore, NewObject, ObjectMeta, PendingObject, StoreError, StoredObject};
