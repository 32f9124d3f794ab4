//! Uploads in an object store (S3, GCS, Azure, ...) through the
//! `object_store` crate: [`ObjectStoreBackend`].

use std::collections::HashSet;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, StreamExt as _, TryStreamExt as _};
use guard_core::upload::{FileKind, NewObject, ObjectId, ObjectMeta, StoreError};
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutPayload, WriteMultipart};

use super::store::{ObjectStore, ObjectStream, ObjectWriter, OpenedObject};

/// The size of every part but the last: S3 refuses smaller ones, and R2
/// wants them all equal.
const PART_SIZE: usize = 5 * 1024 * 1024;

/// Parts in flight per upload before `write` waits: bounds the memory one
/// request holds to about `(PARTS_IN_FLIGHT + 1) * PART_SIZE`.
const PARTS_IN_FLIGHT: usize = 2;

/// A metadata object is a few hundred bytes; anything far larger is not
/// one of ours, and is not read into memory.
const MAX_META_BYTES: u64 = 64 * 1024;

/// Uploads in any `object_store` backend: S3, GCS, Azure Blob, or
/// `InMemory` for tests.
///
/// Each upload is two objects under `prefix`, both named by the
/// server-generated [`ObjectId`] only:
///
/// ```text
/// {prefix}/{object id}        the bytes, written with a multipart upload
/// {prefix}/{object id}.json   ObjectMeta; written last, it is the commit point
/// ```
///
/// The bytes stream through a multipart upload in 5 MiB parts (the minimum
/// S3 accepts), at most two parts in flight, so memory per upload stays
/// bounded whatever the cap. A completed multipart upload is the *staged*
/// object: the blob without its metadata, invisible. The object becomes
/// visible only when the handler commits it and its metadata is written;
/// [`open`] requires both. A refused, failed or dropped upload aborts its
/// multipart upload, so no part is left billed in the bucket; a process
/// that dies mid-upload cannot, so also give the bucket a lifecycle rule
/// that aborts incomplete multipart uploads after a day. A staged blob
/// whose request failed is deleted; one left by a crash before the commit
/// is found by [`sweep`], which deletes blobs without `.json` older than its
/// cutoff. The sweep lists the prefix and holds the ids of the committed
/// objects in memory (16 bytes each) while it runs.
///
/// This crate enables no cloud backend of `object_store` (nor its `fs`
/// one): the application does, in its own `Cargo.toml`
/// (`object_store = { version = "0.14", features = ["aws"] }`, or `gcp`,
/// `azure`), and passes the built store:
///
/// ```ignore
/// use std::sync::Arc;
/// use guard_axum::upload::{ObjectStoreBackend, UploadStore};
/// use object_store::aws::AmazonS3Builder;
///
/// // Credentials and region from the environment (AWS_ACCESS_KEY_ID, ...).
/// let s3 = AmazonS3Builder::from_env().with_bucket_name("uploads").build()?;
/// let store = UploadStore::new(ObjectStoreBackend::new(Arc::new(s3), "user-files"));
/// ```
///
/// Keep the bucket private: downloads go through
/// [`download_response`](super::download_response), which checks the
/// signed link and sets the safe headers; a public bucket or a
/// pre-signed URL of the store would skip both.
///
/// Errors: a missing object (or half of one) is [`StoreError::NotFound`]
/// (404); everything the backend reports otherwise is [`StoreError::Io`]
/// (500) with the backend's error as its source, for the log.
///
/// [`open`]: ObjectStore::open
/// [`sweep`]: ObjectStore::sweep
#[derive(Clone)]
pub struct ObjectStoreBackend {
    store: Arc<dyn object_store::ObjectStore>,
    prefix: Path,
}

impl ObjectStoreBackend {
    /// Stores uploads in `store` under `prefix` (`/`-separated; empty for
    /// the store's root). Each segment is percent-encoded as
    /// `object_store` requires, so `..` or an empty segment cannot name
    /// anything outside the prefix.
    #[must_use]
    pub fn new(store: Arc<dyn object_store::ObjectStore>, prefix: &str) -> Self {
        Self {
            store,
            prefix: Path::from(prefix),
        }
    }

    /// The prefix uploads are stored under, as `object_store` encodes it.
    #[must_use]
    pub fn prefix(&self) -> &str {
        self.prefix.as_ref()
    }

    fn blob_path(&self, id: ObjectId) -> Path {
        self.prefix.clone().join(id.to_string())
    }

    fn meta_path(&self, id: ObjectId) -> Path {
        self.prefix.clone().join(format!("{id}.json"))
    }

    async fn read_meta(&self, id: ObjectId) -> Result<ObjectMeta, StoreError> {
        let got = self
            .store
            .get(&self.meta_path(id))
            .await
            .map_err(store_error("reading object metadata"))?;
        if got.meta.size > MAX_META_BYTES {
            return Err(StoreError::Io {
                action: "reading object metadata",
                source: io::Error::other("metadata object is too large"),
            });
        }
        let bytes = got
            .bytes()
            .await
            .map_err(store_error("reading object metadata"))?;
        let meta: ObjectMeta = serde_json::from_slice(&bytes)
            .map_err(|source| StoreError::CorruptMetadata { id, source })?;
        // Metadata copied under another name does not vouch for this one.
        if meta.id != id {
            return Err(StoreError::NotFound);
        }
        Ok(meta)
    }
}

impl fmt::Debug for ObjectStoreBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStoreBackend")
            .field("store", &format_args!("{}", self.store))
            .field("prefix", &self.prefix.as_ref())
            .finish()
    }
}

impl ObjectStore for ObjectStoreBackend {
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn ObjectWriter>, StoreError>> {
        Box::pin(async move {
            // The id is fixed now because the blob's key is; it is random
            // and reaches no client before commit.
            let id = ObjectId::random();
            let upload = self
                .store
                .put_multipart(&self.blob_path(id))
                .await
                .map_err(store_error("starting a multipart upload"))?;
            Ok(Box::new(MultipartWriter {
                id,
                upload: Some(WriteMultipart::new_with_chunk_size(upload, PART_SIZE)),
                written: 0,
            }) as Box<dyn ObjectWriter>)
        })
    }

    fn commit(&self, meta: ObjectMeta) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let blob = self
                .store
                .head(&self.blob_path(meta.id))
                .await
                .map_err(store_error("finding a staged object"))?;
            if blob.size != meta.size {
                return Err(StoreError::Io {
                    action: "committing an object",
                    source: io::Error::other(format!(
                        "the staged object is {} bytes, its metadata says {}",
                        blob.size, meta.size
                    )),
                });
            }
            let meta_path = self.meta_path(meta.id);
            // Metadata once written is not replaced: the commit is of what
            // was staged, once.
            match self.store.head(&meta_path).await {
                Err(object_store::Error::NotFound { .. }) => {}
                Ok(_) => {
                    return Err(StoreError::Io {
                        action: "committing an object",
                        source: io::Error::from(io::ErrorKind::AlreadyExists),
                    });
                }
                Err(e) => return Err(store_error("finding object metadata")(e)),
            }
            let json = serde_json::to_vec(&meta).map_err(|e| StoreError::Io {
                action: "encoding object metadata",
                source: io::Error::other(e),
            })?;
            self.store
                .put(&meta_path, PutPayload::from(json))
                .await
                .map_err(store_error("writing object metadata"))?;
            Ok(())
        })
    }

    fn discard(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            match self.store.head(&self.meta_path(id)).await {
                // Committed: not ours to delete.
                Ok(_) => return Err(StoreError::NotFound),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(store_error("finding object metadata")(e)),
            }
            // S3 answers a delete of a missing key with success: ask first,
            // so an unknown id is NotFound on every backend.
            let blob = self.blob_path(id);
            self.store
                .head(&blob)
                .await
                .map_err(store_error("finding a staged object"))?;
            self.store
                .delete(&blob)
                .await
                .map_err(store_error("discarding a staged object"))
        })
    }

    fn sweep(&self, cutoff: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(async move {
            let cutoff_ms = cutoff
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let mut committed = HashSet::new();
            let mut stale = Vec::new();
            let prefix = (!self.prefix.as_ref().is_empty()).then_some(&self.prefix);
            let mut listing = self.store.list(prefix);
            while let Some(entry) = listing.next().await {
                let entry = entry.map_err(store_error("listing the store"))?;
                // Only `{prefix}/{id}` and `{prefix}/{id}.json` are ours.
                let mut parts = entry
                    .location
                    .prefix_match(&self.prefix)
                    .into_iter()
                    .flatten();
                let (Some(name), None) = (parts.next(), parts.next()) else {
                    continue;
                };
                let name = name.as_ref();
                if let Some(id) = name.strip_suffix(".json") {
                    if let Ok(id) = ObjectId::parse(id) {
                        committed.insert(id);
                    }
                } else if let Ok(id) = ObjectId::parse(name)
                    && entry.last_modified.timestamp_millis() < cutoff_ms
                {
                    stale.push(id);
                }
            }
            let mut removed = 0;
            for id in stale.into_iter().filter(|id| !committed.contains(id)) {
                // Committed since the listing: keep it. Only a staged blob
                // (no metadata) is discarded.
                match self.discard(id).await {
                    Ok(()) => removed += 1,
                    Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e),
                }
            }
            Ok(removed)
        })
    }

    fn open(&self, id: ObjectId) -> BoxFuture<'_, Result<OpenedObject, StoreError>> {
        Box::pin(async move {
            let meta = self.read_meta(id).await?;
            let got = self
                .store
                .get(&self.blob_path(id))
                .await
                .map_err(store_error("opening a stored object"))?;
            // A response must never claim a length it does not send.
            if got.meta.size != meta.size {
                return Err(StoreError::Io {
                    action: "opening a stored object",
                    source: io::Error::other(format!(
                        "stored object is {} bytes, its metadata says {}",
                        got.meta.size, meta.size
                    )),
                });
            }
            let body = exact_length(
                got.into_stream().map_err(io::Error::other).boxed(),
                meta.size,
            );
            Ok(OpenedObject { meta, body })
        })
    }

    fn delete(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            // S3 answers a delete of a missing key with success, so ask
            // first: an unknown id is 404 on every backend.
            let meta_path = self.meta_path(id);
            self.store
                .head(&meta_path)
                .await
                .map_err(store_error("finding object metadata"))?;
            // Metadata first, so the object stops being visible before its
            // bytes go.
            self.store
                .delete(&meta_path)
                .await
                .map_err(store_error("deleting object metadata"))?;
            match self.store.delete(&self.blob_path(id)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(store_error("deleting a stored object")(e)),
            }
        })
    }
}

/// An upload streaming into a multipart upload.
#[derive(Debug)]
struct MultipartWriter {
    id: ObjectId,
    /// `None` once completed or aborted: nothing left to clean up.
    upload: Option<WriteMultipart>,
    written: u64,
}

impl ObjectWriter for MultipartWriter {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let upload = self.upload.as_mut().ok_or_else(finished)?;
            // Wait for a part to finish before buffering more, so a fast
            // client cannot pile parts up in memory.
            upload
                .wait_for_capacity(PARTS_IN_FLIGHT)
                .await
                .map_err(store_error("uploading a part"))?;
            self.written = self.written.saturating_add(chunk.len() as u64);
            upload.put(chunk);
            Ok(())
        })
    }

    fn stage(
        mut self: Box<Self>,
        kind: FileKind,
        object: NewObject,
    ) -> BoxFuture<'static, Result<ObjectMeta, StoreError>> {
        let upload = self.upload.take();
        Box::pin(async move {
            let upload = upload.ok_or_else(finished)?;
            // `finish` aborts the multipart upload itself when it fails.
            upload
                .finish()
                .await
                .map_err(store_error("completing a multipart upload"))?;
            Ok(ObjectMeta::new(self.id, kind, self.written, object))
        })
    }

    fn abort(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        let upload = self.upload.take();
        let id = self.id;
        Box::pin(async move {
            if let Some(upload) = upload {
                abort_logged(upload, id).await;
            }
        })
    }
}

impl Drop for MultipartWriter {
    /// A writer dropped without commit or abort (the client went away
    /// mid-upload) still aborts its multipart upload, on the runtime if
    /// there is one; without one, the bucket's lifecycle rule has to.
    fn drop(&mut self) {
        if let Some(upload) = self.upload.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(abort_logged(upload, self.id));
                }
                Err(_) => tracing::warn!(
                    object = %self.id,
                    "upload writer dropped outside a runtime; multipart upload not aborted"
                ),
            }
        }
    }
}

async fn abort_logged(upload: WriteMultipart, id: ObjectId) {
    if let Err(e) = upload.abort().await {
        tracing::warn!(object = %id, error = %e, "aborting a multipart upload failed");
    }
}

/// Passes `body` through, ending it with an error if it sends more or
/// fewer than `len` bytes.
fn exact_length(body: ObjectStream, len: u64) -> ObjectStream {
    Box::pin(stream::unfold(Some((body, len)), |state| async move {
        let (mut body, remaining) = state?;
        match body.next().await {
            Some(Ok(chunk)) => match remaining.checked_sub(chunk.len() as u64) {
                Some(left) => Some((Ok(chunk), Some((body, left)))),
                None => Some((
                    Err(io::Error::other(
                        "stored object is longer than its metadata",
                    )),
                    None,
                )),
            },
            Some(Err(e)) => Some((Err(e), None)),
            None if remaining > 0 => Some((
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stored object is shorter than its metadata",
                )),
                None,
            )),
            None => None,
        }
    }))
}

/// Maps a backend error: a missing object is [`StoreError::NotFound`].
fn store_error(action: &'static str) -> impl FnOnce(object_store::Error) -> StoreError {
    move |error| match error {
        object_store::Error::NotFound { .. } => StoreError::NotFound,
        other => StoreError::Io {
            action,
            source: io::Error::other(other),
        },
    }
}

fn finished() -> StoreError {
    StoreError::Io {
        action: "writing an upload",
        source: io::Error::other("writer already finished"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::ObjectStore as _;
    use object_store::memory::InMemory;

    fn backend() -> (ObjectStoreBackend, Arc<InMemory>) {
        let memory = Arc::new(InMemory::new());
        (ObjectStoreBackend::new(memory.clone(), "uploads"), memory)
    }

    async fn collect(mut body: ObjectStream) -> (Vec<u8>, Option<io::Error>) {
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(e) => return (bytes, Some(e)),
            }
        }
        (bytes, None)
    }

    #[test]
    fn prefix_segments_are_encoded_not_interpreted() {
        let memory: Arc<dyn object_store::ObjectStore> = Arc::new(InMemory::new());
        for (prefix, expected) in [
            ("uploads", "uploads"),
            ("a/b/", "a/b"),
            ("", ""),
            ("../etc", "%2E%2E/etc"),
        ] {
            assert_eq!(
                ObjectStoreBackend::new(memory.clone(), prefix).prefix(),
                expected
            );
        }
    }

    #[tokio::test]
    async fn writes_parts_across_the_part_size_and_reads_them_back() {
        let (backend, _memory) = backend();
        let content: Vec<u8> = (0..(PART_SIZE * 2 + 12_345))
            .map(|i| (i % 251) as u8)
            .collect();
        let mut writer = backend.begin().await.unwrap();
        for piece in content.chunks(1_000_003) {
            writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        let meta = writer
            .stage(FileKind::Zip, NewObject::new("../x.zip").owner("u1"))
            .await
            .unwrap();
        backend.commit(meta.clone()).await.unwrap();
        assert_eq!(meta.size, content.len() as u64);
        assert_eq!(meta.display_name, "x.zip");
        assert_eq!(meta.owner.as_deref(), Some("u1"));

        let opened = backend.open(meta.id).await.unwrap();
        assert_eq!(opened.meta, meta);
        let (bytes, error) = collect(opened.body).await;
        assert!(error.is_none(), "{error:?}");
        assert_eq!(bytes, content);
    }

    #[tokio::test]
    async fn a_blob_without_metadata_or_metadata_without_a_blob_is_not_found() {
        let (backend, memory) = backend();
        let mut writer = backend.begin().await.unwrap();
        writer.write(Bytes::from_static(b"hello")).await.unwrap();
        let meta = writer
            .stage(FileKind::Txt, NewObject::new("a.txt"))
            .await
            .unwrap();
        backend.commit(meta.clone()).await.unwrap();

        memory.delete(&backend.blob_path(meta.id)).await.unwrap();
        assert!(matches!(
            backend.open(meta.id).await,
            Err(StoreError::NotFound)
        ));

        let orphan = ObjectId::random();
        memory
            .put(&backend.blob_path(orphan), PutPayload::from_static(b"x"))
            .await
            .unwrap();
        assert!(matches!(
            backend.open(orphan).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            backend.delete(orphan).await,
            Err(StoreError::NotFound)
        ));
    }

    #[tokio::test]
    async fn metadata_for_another_id_or_garbage_is_refused() {
        let (backend, memory) = backend();
        let mut writer = backend.begin().await.unwrap();
        writer.write(Bytes::from_static(b"hello")).await.unwrap();
        let meta = writer
            .stage(FileKind::Txt, NewObject::new("a.txt"))
            .await
            .unwrap();
        backend.commit(meta.clone()).await.unwrap();
        let json = memory
            .get(&backend.meta_path(meta.id))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();

        let copied = ObjectId::random();
        memory
            .put(&backend.meta_path(copied), PutPayload::from(json))
            .await
            .unwrap();
        memory
            .put(
                &backend.blob_path(copied),
                PutPayload::from_static(b"hello"),
            )
            .await
            .unwrap();
        assert!(matches!(
            backend.open(copied).await,
            Err(StoreError::NotFound)
        ));

        memory
            .put(&backend.meta_path(meta.id), PutPayload::from_static(b"{"))
            .await
            .unwrap();
        assert!(matches!(
            backend.open(meta.id).await,
            Err(StoreError::CorruptMetadata { .. })
        ));
    }

    #[tokio::test]
    async fn a_blob_whose_size_differs_from_its_metadata_is_refused() {
        let (backend, memory) = backend();
        let mut writer = backend.begin().await.unwrap();
        writer
            .write(Bytes::from_static(b"hello world"))
            .await
            .unwrap();
        let meta = writer
            .stage(FileKind::Txt, NewObject::new("a.txt"))
            .await
            .unwrap();
        backend.commit(meta.clone()).await.unwrap();
        for replaced in [&b"hello"[..], b"hello world, and more"] {
            memory
                .put(
                    &backend.blob_path(meta.id),
                    PutPayload::from(Bytes::copy_from_slice(replaced)),
                )
                .await
                .unwrap();
            assert!(matches!(
                backend.open(meta.id).await,
                Err(StoreError::Io { .. })
            ));
        }
    }

    #[tokio::test]
    async fn a_staged_object_is_invisible_until_committed_and_discard_spares_committed_ones() {
        let (backend, memory) = backend();
        let mut writer = backend.begin().await.unwrap();
        writer.write(Bytes::from_static(b"hello")).await.unwrap();
        let meta = writer
            .stage(FileKind::Txt, NewObject::new("a.html"))
            .await
            .unwrap();
        assert_eq!(meta.display_name, "a.txt");
        assert!(matches!(
            backend.open(meta.id).await,
            Err(StoreError::NotFound)
        ));
        let mut wrong = meta.clone();
        wrong.size = 6;
        assert!(matches!(
            backend.commit(wrong).await,
            Err(StoreError::Io { .. })
        ));
        backend.commit(meta.clone()).await.unwrap();
        assert_eq!(backend.open(meta.id).await.unwrap().meta, meta);
        assert!(matches!(
            backend.commit(meta.clone()).await,
            Err(StoreError::Io { .. })
        ));
        assert!(matches!(
            backend.discard(meta.id).await,
            Err(StoreError::NotFound)
        ));

        let mut writer = backend.begin().await.unwrap();
        writer.write(Bytes::from_static(b"bye")).await.unwrap();
        let staged = writer
            .stage(FileKind::Txt, NewObject::new("b"))
            .await
            .unwrap();
        backend.discard(staged.id).await.unwrap();
        assert!(matches!(
            backend.discard(staged.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            backend.commit(staged).await,
            Err(StoreError::NotFound)
        ));
        let keys: Vec<String> = memory
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        assert_eq!(keys.len(), 2, "{keys:?}");
    }

    #[tokio::test]
    async fn exact_length_errors_on_short_and_long_bodies() {
        let chunks = |parts: &[&'static [u8]]| -> ObjectStream {
            stream::iter(
                parts
                    .iter()
                    .map(|p| Ok(Bytes::from_static(p)))
                    .collect::<Vec<_>>(),
            )
            .boxed()
        };
        let (bytes, error) = collect(exact_length(chunks(&[b"ab", b"cd"]), 4)).await;
        assert_eq!((bytes.as_slice(), error.is_none()), (&b"abcd"[..], true));

        let (bytes, error) = collect(exact_length(chunks(&[b"ab"]), 4)).await;
        assert_eq!(bytes, b"ab");
        assert_eq!(error.unwrap().kind(), io::ErrorKind::UnexpectedEof);

        let (bytes, error) = collect(exact_length(chunks(&[b"ab", b"cde"]), 4)).await;
        assert_eq!(bytes, b"ab");
        assert!(error.is_some());
    }
}
