//! What the store records of an object and how it fails: the caller's
//! [`NewObject`], the [`ObjectMeta`] sidecar, an opened [`StoredObject`] and
//! [`StoreError`].

use std::fs::File;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::upload::{FileKind, ObjectId, file_name_for_kind, sanitize_file_name};

/// What the caller knows about a new object besides its bytes.
#[derive(Debug, Clone)]
#[must_use]
pub struct NewObject {
    display_name: String,
    owner: Option<String>,
}

impl NewObject {
    /// A new object with the file name the client sent; it is sanitized
    /// here (see [`sanitize_file_name`]) and is only ever a display name.
    pub fn new(client_file_name: &str) -> Self {
        Self {
            display_name: sanitize_file_name(client_file_name),
            owner: None,
        }
    }

    /// Records who uploaded it (a principal's stable id), for the
    /// application's authorization; the store itself does not check it.
    pub fn owner(self, owner: impl Into<String>) -> Self {
        Self {
            owner: Some(owner.into()),
            ..self
        }
    }

    /// The sanitized display name, before [`ObjectMeta::new`] gives it the
    /// sniffed kind's extension.
    #[must_use]
    pub fn display_name(&self) -> &str {
        &self.display_name
    }

    /// The recorded owner, if any.
    #[must_use]
    pub fn owner_id(&self) -> Option<&str> {
        self.owner.as_deref()
    }
}

/// A stored object's metadata, kept in its JSON sidecar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ObjectMeta {
    /// The server-generated name.
    pub id: ObjectId,
    /// The client's file name, sanitized, with the extension of `kind`
    /// ([`file_name_for_kind`]); for `Content-Disposition` only.
    pub display_name: String,
    /// What the bytes sniffed as; the download's `Content-Type`.
    pub kind: FileKind,
    /// The length in bytes.
    pub size: u64,
    /// Who uploaded it, if recorded.
    pub owner: Option<String>,
}

impl ObjectMeta {
    /// The metadata of an object a store has just made durable under the
    /// server-generated `id`: the display name and owner come from
    /// `object` (sanitized by [`NewObject::new`]; the name gets `kind`'s
    /// extension here), `kind` from sniffing, `size` from what was written.
    /// For stores outside this crate; the fields stay readable directly.
    #[must_use]
    pub fn new(id: ObjectId, kind: FileKind, size: u64, object: NewObject) -> Self {
        Self {
            id,
            display_name: file_name_for_kind(&object.display_name, kind),
            kind,
            size,
            owner: object.owner,
        }
    }
}

/// A committed object, opened for reading.
#[derive(Debug)]
#[non_exhaustive]
pub struct StoredObject {
    /// Its metadata.
    pub meta: ObjectMeta,
    /// Its bytes (`tokio::fs::File::from_std` to stream them).
    pub file: File,
}

/// A store operation that failed. [`NotFound`](Self::NotFound) is a 404 at
/// the route; everything else is a 500 whose detail stays in the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No committed object has this id.
    #[error("no stored object has this id")]
    NotFound,
    /// The store path exists and is not a directory.
    #[error("upload store path {} is not a directory", path.display())]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// An object's sidecar does not parse.
    #[error("metadata of stored object {id} does not parse")]
    CorruptMetadata {
        /// The object.
        id: ObjectId,
        /// The parse failure.
        #[source]
        source: serde_json::Error,
    },
    /// The file system refused.
    #[error("upload store failed {action}")]
    Io {
        /// What the store was doing.
        action: &'static str,
        /// The failure.
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    /// 404 for [`NotFound`](Self::NotFound), 500 otherwise.
    #[must_use]
    pub const fn status(&self) -> http::StatusCode {
        match self {
            Self::NotFound => http::StatusCode::NOT_FOUND,
            _ => http::StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
