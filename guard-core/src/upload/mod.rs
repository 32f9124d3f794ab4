//! Secure uploads: every upload is hostile.
//!
//! The pure parts the `upload(max = "5MiB", types = ["png", "pdf"])` guard is
//! made of, each usable on its own:
//!
//! | part | refuses | with |
//! |---|---|---|
//! | [`ByteSize`]: the cap's grammar, shared with the macro | bodies over the cap, cut off while streaming | 413 |
//! | [`TypeAllowlist::check`] over [`sniff()`]: the type from the bytes only | empty, unknown, not-allowed and polyglot content; SVG and HTML unless listed | 415 |
//! | [`sanitize_file_name`], [`content_disposition_attachment`] | path separators, `..`, control, bidi and zero-width characters, Windows reserved names, over-long names | (cleans, never refuses) |
//! | [`ObjectId`]: the server-generated storage name | any id that is not exactly 32 lowercase hex digits of a v4 UUID | 404 |
//! | [`LocalStore`]: a private directory, atomic owner-only writes | reads by anything but an [`ObjectId`] | 404 |
//! | [`UrlSigner`]: HMAC-SHA256 download tokens | tampered, expired, truncated or another principal's tokens | 404 |
//!
//! # The story of one upload
//!
//! ```
//! use guard_core::upload::{
//!     ByteSize, FileKind, LocalStore, NewObject, SniffBuffer, TypeAllowlist, UrlSigner,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = std::env::temp_dir().join(format!("guard-doc-{}", uuid::Uuid::new_v4().simple()));
//! let cap = ByteSize::parse("5MiB")?;
//! let types = TypeAllowlist::from_names(["png", "jpeg", "pdf"])?;
//! let store = LocalStore::new(&dir)?;
//!
//! // Stream the file part: count bytes against the cap, keep the head for
//! // sniffing, write chunks to a temp file that vanishes if we bail out.
//! let mut head = SniffBuffer::new();
//! let mut pending = store.begin()?;
//! for chunk in [&b"\x89PNG\r\n\x1a\n"[..], &b"\0\0\0\rIHDR..."[..]] {
//!     if !cap.allows(pending.written() + chunk.len() as u64) {
//!         return Err("413".into()); // `pending` is dropped: nothing is kept
//!     }
//!     head.push(chunk);
//!     pending.write_chunk(chunk)?;
//! }
//! let kind = types.check(head.as_bytes())?; // 415 unless the bytes are png, jpeg or pdf
//!
//! // The client's name is metadata only; the file is stored under a random id.
//! let stored = pending.commit(kind, NewObject::new("../../etc/passwd.png").owner("user-42"))?;
//! assert_eq!(stored.display_name, "passwd.png");
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
//! [`content_disposition_attachment`], and `X-Content-Type-Options: nosniff`.
//! Content is sniffed only in its first [`SNIFF_LEN`] bytes; those three
//! headers are what keep the rest of the file from being rendered as a page.
//! Serve allowed SVG or HTML from a separate, cookie-less origin.

mod id;
mod kind;
mod name;
mod refusal;
mod signed;
mod size;
mod sniff;
mod store;

pub use id::{InvalidObjectId, ObjectId};
pub use kind::{FileKind, TypeAllowlist, UnknownFileKind};
pub use name::{MAX_FILE_NAME_BYTES, content_disposition_attachment, sanitize_file_name};
pub use refusal::UploadRefusal;
pub use signed::{SignedUrlError, SignerConfigError, UrlSigner};
pub use size::{ByteSize, ByteSizeError};
pub use sniff::{SNIFF_LEN, SniffBuffer, sniff};
pub use store::{LocalStore, NewObject, ObjectMeta, PendingObject, StoreError, StoredObject};
