//! Where uploads go: the [`ObjectStore`] trait, the [`UploadStore`] handle
//! the router puts in the request's extensions, and the embedded default
//! over guard-core's [`LocalStore`].

use std::fmt;
use std::io::{self, Read as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use axum::body::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream};
use guard_core::upload::{
    FileKind, LocalStore, NewObject, ObjectId, ObjectMeta, PendingObject, StoreError, StoredObject,
};
use tokio::sync::Notify;

/// The bytes of a stored object, as a stream of chunks.
pub type ObjectStream = BoxStream<'static, Result<Bytes, io::Error>>;

/// A place uploads are written to and read back from, by server-generated
/// [`ObjectId`] only.
///
/// An object goes through three states: *written* by an [`ObjectWriter`]
/// as the upload arrives, *staged* ([`ObjectWriter::stage`]: durable, but
/// invisible to [`open`](Self::open)) when the upload is complete and
/// checked, and *committed* ([`commit`](Self::commit)) once the handler has
/// recorded it. A staged object that is not committed is
/// [`discard`](Self::discard)ed when its request ends, or found by
/// [`sweep`](Self::sweep) if the process died first.
///
/// Object-safe (boxed futures), so a router holds any implementation as an
/// [`UploadStore`]. Implementations must never derive a storage key from
/// anything the client sent, and must not make an object visible before
/// [`commit`](Self::commit).
///
/// Errors are guard-core's [`StoreError`]: [`StoreError::NotFound`] answers
/// 404, everything else a generic 500 with the detail logged.
pub trait ObjectStore: fmt::Debug + Send + Sync + 'static {
    /// Starts a new object. What is written stays invisible until
    /// [`commit`](Self::commit), and is removed if the writer is aborted or
    /// dropped.
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn ObjectWriter>, StoreError>>;

    /// Makes a staged object visible: `meta` is what
    /// [`ObjectWriter::stage`] returned. [`StoreError::NotFound`] when
    /// nothing is staged under `meta.id` (discarded or swept meanwhile).
    fn commit(&self, meta: ObjectMeta) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Deletes a staged object that will not be committed; a committed one
    /// is left alone ([`StoreError::NotFound`]).
    fn discard(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>>;

    /// A committed object's metadata and its bytes.
    fn open(&self, id: ObjectId) -> BoxFuture<'_, Result<OpenedObject, StoreError>>;

    /// Deletes a committed object.
    fn delete(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Deletes what uploads left behind and last changed before `cutoff`:
    /// staged objects never committed (a crash between an upload and its
    /// handler's commit) and half-written ones. Committed objects are never
    /// touched. Returns how many it removed.
    ///
    /// Run it now and then (at start-up, hourly) with a cutoff well before
    /// any request still in progress, say an hour ago.
    fn sweep(&self, cutoff: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>>;
}

/// An object being written, chunk by chunk, as the upload arrives.
pub trait ObjectWriter: Send {
    /// Appends a chunk. The caller enforces the size cap before calling.
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Makes the object durable under a fresh random [`ObjectId`], staged:
    /// invisible until [`ObjectStore::commit`] with the returned metadata,
    /// built with [`ObjectMeta::new`] from the sniffed `kind` and the
    /// (sanitized) display name and owner in `object`.
    fn stage(
        self: Box<Self>,
        kind: FileKind,
        object: NewObject,
    ) -> BoxFuture<'static, Result<ObjectMeta, StoreError>>;

    /// Discards everything written, and returns once it is gone.
    fn abort(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// A committed object opened for reading: its metadata, and its bytes as a
/// stream of exactly `meta.size` bytes (or an error).
pub struct OpenedObject {
    /// The object's metadata.
    pub meta: ObjectMeta,
    /// The object's bytes.
    pub body: ObjectStream,
}

impl fmt::Debug for OpenedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedObject")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

/// The store an upload route writes to, shared by reference count: the
/// value the router inserts into every request's extensions (for example
/// with `axum::Extension(store)`), and that the [`Upload`](super::Upload)
/// extractor requires (without it, a generic 500 and a log line).
///
/// ```
/// use guard_axum::upload::UploadStore;
/// use guard_core::upload::LocalStore;
///
/// # let dir = std::env::temp_dir().join(format!("guard-doc-{}", std::process::id()));
/// // A private directory outside anything a static-file route serves.
/// let store = UploadStore::new(LocalStore::new(&dir)?);
/// # std::fs::remove_dir_all(dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct UploadStore {
    store: Arc<dyn ObjectStore>,
    discards: Arc<Discards>,
}

impl UploadStore {
    /// Shares `store`.
    #[must_use]
    pub fn new(store: impl ObjectStore) -> Self {
        Self::from_arc(Arc::new(store))
    }

    /// Shares a store that is already behind an `Arc`.
    #[must_use]
    pub fn from_arc(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            store,
            discards: Arc::default(),
        }
    }

    /// Waits until every deletion of an uncommitted upload that a request
    /// handed to the runtime (see [`Upload`](super::Upload)) has finished.
    ///
    /// Call it at graceful shutdown, once the server has stopped taking
    /// requests, so the process exits with nothing staged for
    /// [`sweep`](ObjectStore::sweep) to find.
    pub async fn settle(&self) {
        loop {
            let idle = self.discards.idle.notified();
            let mut idle = std::pin::pin!(idle);
            idle.as_mut().enable();
            if self.discards.running.load(Ordering::Acquire) == 0 {
                return;
            }
            idle.await;
        }
    }

    /// Deletes the staged object `id` on the runtime, for a drop guard that
    /// cannot wait. Without a runtime it is left to the sweep.
    pub(super) fn discard_in_background(&self, id: ObjectId) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                object = %id,
                "an uncommitted upload was dropped outside a runtime; it stays staged until a sweep"
            );
            return;
        };
        let running = Running::start(&self.discards);
        let store = self.clone();
        runtime.spawn(async move {
            let _running = running;
            match store.discard(id).await {
                Ok(()) => tracing::debug!(object = %id, "uncommitted upload deleted"),
                // Committed or swept meanwhile: nothing of ours to delete.
                Err(StoreError::NotFound) => {}
                Err(error) => tracing::warn!(
                    object = %id,
                    error = %super::extract::error_chain(&error),
                    "could not delete an uncommitted upload; the sweep will"
                ),
            }
        });
    }
}

/// The background deletions of one [`UploadStore`], for
/// [`UploadStore::settle`].
#[derive(Debug, Default)]
struct Discards {
    running: AtomicUsize,
    idle: Notify,
}

/// One running deletion; counted down when its task ends or is dropped
/// with the runtime.
struct Running(Arc<Discards>);

impl Running {
    fn start(discards: &Arc<Discards>) -> Self {
        discards.running.fetch_add(1, Ordering::AcqRel);
        Self(discards.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Forwards to the shared store, so an `UploadStore` goes wherever a
/// `&dyn ObjectStore` does.
impl ObjectStore for UploadStore {
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn ObjectWriter>, StoreError>> {
        self.store.begin()
    }

    fn commit(&self, meta: ObjectMeta) -> BoxFuture<'_, Result<(), StoreError>> {
        self.store.commit(meta)
    }

    fn discard(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        self.store.discard(id)
    }

    fn open(&self, id: ObjectId) -> BoxFuture<'_, Result<OpenedObject, StoreError>> {
        self.store.open(id)
    }

    fn delete(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        self.store.delete(id)
    }

    fn sweep(&self, cutoff: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        self.store.sweep(cutoff)
    }
}

impl fmt::Debug for UploadStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UploadStore").field(&self.store).finish()
    }
}

/// How much the local writer gathers before one blocking write, and how
/// much the reader reads per chunk: large enough that the thread hop is
/// cheap beside the I/O, small enough to bound memory per request.
const IO_CHUNK: usize = 64 * 1024;

/// The embedded default: a private local directory. Every file-system call
/// runs on tokio's blocking pool, one short call at a time, so a slow client
/// holds no thread while the server waits for it.
impl ObjectStore for LocalStore {
    fn begin(&self) -> BoxFuture<'_, Result<Box<dyn ObjectWriter>, StoreError>> {
        let store = self.clone();
        Box::pin(async move {
            let pending = blocking(move || store.begin()).await??;
            Ok(Box::new(LocalWriter {
                pending: Some(pending),
                buf: Vec::new(),
            }) as Box<dyn ObjectWriter>)
        })
    }

    fn commit(&self, meta: ObjectMeta) -> BoxFuture<'_, Result<(), StoreError>> {
        let store = self.clone();
        Box::pin(async move { blocking(move || store.commit(&meta)).await? })
    }

    fn discard(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        let store = self.clone();
        Box::pin(async move { blocking(move || store.discard(id)).await? })
    }

    fn sweep(&self, cutoff: SystemTime) -> BoxFuture<'_, Result<usize, StoreError>> {
        let store = self.clone();
        Box::pin(async move { blocking(move || store.sweep(cutoff)).await? })
    }

    fn open(&self, id: ObjectId) -> BoxFuture<'_, Result<OpenedObject, StoreError>> {
        let store = self.clone();
        Box::pin(async move {
            let StoredObject { meta, file, .. } = blocking(move || store.open(id)).await??;
            let body = read_stream(file, meta.size);
            Ok(OpenedObject { meta, body })
        })
    }

    fn delete(&self, id: ObjectId) -> BoxFuture<'_, Result<(), StoreError>> {
        let store = self.clone();
        Box::pin(async move { blocking(move || store.delete(id)).await? })
    }
}

/// Writes to a [`PendingObject`] from async code.
#[derive(Debug)]
struct LocalWriter {
    /// `None` only while a blocking call holds it, or once finished.
    pending: Option<PendingObject>,
    buf: Vec<u8>,
}

impl LocalWriter {
    async fn flush(&mut self) -> Result<(), StoreError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut pending = self.pending.take().ok_or_else(finished)?;
        let buf = std::mem::take(&mut self.buf);
        // If this future is dropped mid-call, the blocking task still ends
        // and drops `pending` with its output, which deletes the temp file.
        let (pending, mut buf, written) = blocking(move || {
            let written = pending.write_chunk(&buf);
            (pending, buf, written)
        })
        .await?;
        self.pending = Some(pending);
        buf.clear();
        self.buf = buf;
        written
    }
}

impl ObjectWriter for LocalWriter {
    fn write(&mut self, chunk: Bytes) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            self.buf.extend_from_slice(&chunk);
            if self.buf.len() >= IO_CHUNK {
                self.flush().await?;
            }
            Ok(())
        })
    }

    fn stage(
        mut self: Box<Self>,
        kind: FileKind,
        object: NewObject,
    ) -> BoxFuture<'static, Result<ObjectMeta, StoreError>> {
        Box::pin(async move {
            self.flush().await?;
            let pending = self.pending.take().ok_or_else(finished)?;
            blocking(move || pending.stage(kind, object)).await?
        })
    }

    fn abort(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        let pending = self.pending.take();
        Box::pin(async move {
            if let Some(pending) = pending {
                // Dropping a pending object deletes its temp file.
                let _ = blocking(move || pending.abort()).await;
            }
        })
    }
}

impl Drop for LocalWriter {
    /// A writer dropped without commit or abort (the client went away
    /// mid-upload) still deletes its temp file, off the async thread when
    /// there is a runtime.
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn_blocking(move || pending.abort());
                }
                Err(_) => pending.abort(),
            }
        }
    }
}

/// Streams `len` bytes of `file`, one blocking read per chunk. A file
/// shorter than its metadata says ends the stream with an error, so a
/// response never claims a length it does not send.
fn read_stream(file: std::fs::File, len: u64) -> ObjectStream {
    Box::pin(stream::unfold(Some((file, len)), |state| async move {
        let (mut file, remaining) = state?;
        if remaining == 0 {
            return None;
        }
        let want = usize::try_from(remaining).map_or(IO_CHUNK, |r| r.min(IO_CHUNK));
        let read = blocking(move || {
            let mut buf = vec![0; want];
            let n = file.read(&mut buf)?;
            buf.truncate(n);
            Ok::<_, io::Error>((file, buf))
        })
        .await;
        match read {
            Ok(Ok((_, buf))) if buf.is_empty() => Some((
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "stored object is shorter than its metadata",
                )),
                None,
            )),
            Ok(Ok((file, buf))) => {
                let left = remaining.saturating_sub(buf.len() as u64);
                Some((Ok(Bytes::from(buf)), Some((file, left))))
            }
            Ok(Err(e)) => Some((Err(e), None)),
            Err(StoreError::Io { source, .. }) => Some((Err(source), None)),
            Err(other) => Some((Err(io::Error::other(other)), None)),
        }
    }))
}

/// Runs a blocking store call on tokio's blocking pool.
async fn blocking<T, F>(call: F) -> Result<T, StoreError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(call)
        .await
        .map_err(|e| StoreError::Io {
            action: "running a blocking store call",
            source: io::Error::other(e),
        })
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
    use futures_util::StreamExt as _;

    fn temp_store() -> (LocalStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("guard-axum-store-{}", ObjectId::random()));
        (LocalStore::new(&dir).unwrap(), dir)
    }

    fn entries(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    async fn read_all(store: &UploadStore, id: ObjectId) -> (ObjectMeta, Vec<u8>) {
        let opened = store.open(id).await.unwrap();
        let mut bytes = Vec::new();
        let mut body = opened.body;
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.unwrap());
        }
        (opened.meta, bytes)
    }

    #[tokio::test]
    async fn writes_chunks_and_reads_them_back_under_a_server_id() {
        let (local, dir) = temp_store();
        let store = UploadStore::new(local);
        // Larger than one I/O chunk, sent in odd sizes, to cross every
        // buffering boundary.
        let content: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut writer = store.begin().await.unwrap();
        for piece in content.chunks(7_777) {
            writer.write(Bytes::copy_from_slice(piece)).await.unwrap();
        }
        let meta = writer
            .stage(FileKind::Zip, NewObject::new("../../a.zip").owner("u1"))
            .await
            .unwrap();
        assert_eq!(meta.size, 200_000);
        assert_eq!(meta.display_name, "a.zip");
        // Staged: on disk, invisible.
        assert_eq!(entries(&dir), [meta.id.to_string()]);
        assert!(matches!(
            store.open(meta.id).await,
            Err(StoreError::NotFound)
        ));
        store.commit(meta.clone()).await.unwrap();
        assert_eq!(
            entries(&dir),
            [meta.id.to_string(), format!("{}.json", meta.id)]
        );

        let (read_meta, bytes) = read_all(&store, meta.id).await;
        assert_eq!(read_meta, meta);
        assert_eq!(bytes, content);

        store.delete(meta.id).await.unwrap();
        assert!(entries(&dir).is_empty());
        assert!(matches!(
            store.open(meta.id).await,
            Err(StoreError::NotFound)
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn abort_and_drop_leave_nothing_behind() {
        let (local, dir) = temp_store();
        let store = UploadStore::new(local);

        let mut aborted = store.begin().await.unwrap();
        aborted
            .write(Bytes::from(vec![1; IO_CHUNK + 1]))
            .await
            .unwrap();
        aborted.abort().await;
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

        let mut dropped = store.begin().await.unwrap();
        dropped
            .write(Bytes::from(vec![1; IO_CHUNK * 2]))
            .await
            .unwrap();
        drop(dropped);
        // The drop hands the deletion to the blocking pool; give it a moment.
        for _ in 0..100 {
            if entries(&dir).is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_background_discard_deletes_a_staged_object_and_settle_waits_for_it() {
        let (local, dir) = temp_store();
        let store = UploadStore::new(local);
        let mut writer = store.begin().await.unwrap();
        writer.write(Bytes::from_static(b"staged")).await.unwrap();
        let staged = writer
            .stage(FileKind::Txt, NewObject::new("a"))
            .await
            .unwrap();
        let mut writer = store.begin().await.unwrap();
        writer.write(Bytes::from_static(b"kept")).await.unwrap();
        let kept = writer
            .stage(FileKind::Txt, NewObject::new("b"))
            .await
            .unwrap();
        store.commit(kept.clone()).await.unwrap();

        store.discard_in_background(staged.id);
        // A committed object is not the discard's to delete.
        store.discard_in_background(kept.id);
        store.settle().await;
        assert_eq!(
            entries(&dir),
            [kept.id.to_string(), format!("{}.json", kept.id)]
        );
        // Nothing running: settle returns at once.
        store.settle().await;
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_truncated_blob_ends_its_stream_with_an_error() {
        let (local, dir) = temp_store();
        let store = UploadStore::new(local);
        let mut writer = store.begin().await.unwrap();
        writer
            .write(Bytes::from_static(b"hello world"))
            .await
            .unwrap();
        let meta = writer
            .stage(FileKind::Txt, NewObject::new("a.txt"))
            .await
            .unwrap();
        store.commit(meta.clone()).await.unwrap();
        std::fs::write(dir.join(meta.id.to_string()), b"hello").unwrap();

        let mut body = store.open(meta.id).await.unwrap().body;
        assert_eq!(&body.next().await.unwrap().unwrap()[..], b"hello");
        let error = body.next().await.unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(body.next().await.is_none());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
