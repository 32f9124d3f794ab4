//! The embedded upload store: a private local directory.
//!
//! Layout, all in one flat directory:
//!
//! ```text
//! <root>/                  0700
//!   <object id>            0600  the bytes
//!   <object id>.json       0600  ObjectMeta; its presence is the commit point
//!   .tmp-<random>          0600  a write in progress
//! ```
//!
//! Names on disk are server-generated only. A write goes to a temp file in
//! the same directory, is fsynced and renamed into place (atomic on one file
//! system): the object is then *staged*, durable but invisible. Committing
//! it writes the metadata sidecar the same way and fsyncs the directory.
//! An upload is staged before the handler runs and committed only when the
//! handler has recorded it, so a failed request deletes a staged object and
//! a crash leaves at worst a temp file or a staged blob, both invisible to
//! readers and removed by [`LocalStore::sweep`].
//!
//! The calls are blocking `std::fs`; from async code run them on a blocking
//! thread (`tokio::task::spawn_blocking`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{FileKind, ObjectId};

mod meta;

pub use meta::{NewObject, ObjectMeta, StoreError, StoredObject};

const TEMP_PREFIX: &str = ".tmp-";
const META_SUFFIX: &str = ".json";

/// Uploads in a private directory on the local file system.
///
/// Keep the directory outside anything a web server or static-file route
/// serves: downloads go through a handler that checks a signed token and
/// sets safe headers. On Unix the directory is `0700` and every file `0600`;
/// elsewhere permissions are inherited from the parent directory.
///
/// Objects are read by [`ObjectId`] only, so no request can name a path.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (creating if needed) the store directory.
    ///
    /// A missing directory is created, with its missing parents, as `0700`.
    /// An existing one is tightened to `0700` if it is wider (with a
    /// warning in the log), since any other local user able to list it
    /// could read every upload.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotADirectory`] when `dir` is a file, or
    /// [`StoreError::Io`] when it cannot be created, resolved or tightened.
    pub fn new(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref();
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(dir)
            .map_err(io_error("creating the store directory"))?;

        let root = dir
            .canonicalize()
            .map_err(io_error("resolving the store directory"))?;
        let meta = fs::metadata(&root).map_err(io_error("reading the store directory"))?;
        if !meta.is_dir() {
            return Err(StoreError::NotADirectory { path: root });
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode != 0o700 {
                tracing::warn!(dir = %root.display(), mode = %format_args!("{mode:o}"), "tightening upload directory to 0700");
                fs::set_permissions(&root, fs::Permissions::from_mode(0o700))
                    .map_err(io_error("tightening the store directory to 0700"))?;
            }
        }
        Ok(Self { root })
    }

    /// The store directory, resolved to an absolute path.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Starts writing a new object: chunks go to a temp file, which is
    /// deleted if the [`PendingObject`] is dropped without
    /// [`stage`](PendingObject::stage) or [`commit`](PendingObject::commit).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the temp file cannot be created.
    pub fn begin(&self) -> Result<PendingObject, StoreError> {
        let (temp_path, file) = create_temp(&self.root, "")?;
        Ok(PendingObject {
            root: self.root.clone(),
            temp_path,
            file: Some(file),
            written: 0,
        })
    }

    /// Stores `bytes` in one call: [`begin`](Self::begin), one chunk,
    /// [`commit`](PendingObject::commit). For content already in memory.
    ///
    /// # Errors
    ///
    /// As [`begin`](Self::begin) and [`commit`](PendingObject::commit).
    pub fn put(
        &self,
        bytes: &[u8],
        kind: FileKind,
        object: NewObject,
    ) -> Result<ObjectMeta, StoreError> {
        let mut pending = self.begin()?;
        pending.write_chunk(bytes)?;
        pending.commit(kind, object)
    }

    /// Makes a staged object visible: writes its metadata sidecar, the
    /// commit point, and syncs the directory. `meta` is what
    /// [`PendingObject::stage`] returned.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when no blob is staged under `meta.id`
    /// (discarded, or swept), [`StoreError::Io`] when its size is not
    /// `meta.size`, when it is already committed, or when the file system
    /// refuses.
    pub fn commit(&self, meta: &ObjectMeta) -> Result<(), StoreError> {
        let size = match fs::metadata(self.blob_path(meta.id)) {
            Ok(blob) => blob.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => {
                return Err(StoreError::Io {
                    action: "finding a staged object",
                    source: e,
                });
            }
        };
        if size != meta.size {
            return Err(StoreError::Io {
                action: "committing an object",
                source: io::Error::other(format!(
                    "the staged object is {size} bytes, its metadata says {}",
                    meta.size
                )),
            });
        }
        // Metadata once written is not replaced: the commit is of what was
        // staged, once.
        if self.meta_path(meta.id).exists() {
            return Err(StoreError::Io {
                action: "committing an object",
                source: io::Error::from(io::ErrorKind::AlreadyExists),
            });
        }
        write_meta(&self.root, meta)?;
        sync_dir(&self.root)
    }

    /// Deletes a staged object that will not be committed (the request
    /// that uploaded it failed). A committed object is left alone.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when no object is staged under `id`
    /// (including one already committed), or [`StoreError::Io`].
    pub fn discard(&self, id: ObjectId) -> Result<(), StoreError> {
        if self.meta_path(id).exists() {
            return Err(StoreError::NotFound);
        }
        match fs::remove_file(self.blob_path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound),
            Err(e) => Err(StoreError::Io {
                action: "discarding a staged object",
                source: e,
            }),
        }
    }

    /// The metadata of a committed object.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] (404) when there is no such object,
    /// [`StoreError::CorruptMetadata`] or [`StoreError::Io`] (500) otherwise.
    pub fn meta(&self, id: ObjectId) -> Result<ObjectMeta, StoreError> {
        let bytes = match fs::read(self.meta_path(id)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => {
                return Err(StoreError::Io {
                    action: "reading object metadata",
                    source: e,
                });
            }
        };
        let meta: ObjectMeta = serde_json::from_slice(&bytes)
            .map_err(|source| StoreError::CorruptMetadata { id, source })?;
        if meta.id != id {
            return Err(StoreError::NotFound);
        }
        Ok(meta)
    }

    /// A committed object's metadata and its bytes, opened for reading.
    ///
    /// # Errors
    ///
    /// As [`meta`](Self::meta); a sidecar whose blob is gone is
    /// [`StoreError::NotFound`].
    pub fn open(&self, id: ObjectId) -> Result<StoredObject, StoreError> {
        let meta = self.meta(id)?;
        match File::open(self.blob_path(id)) {
            Ok(file) => Ok(StoredObject { meta, file }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound),
            Err(e) => Err(StoreError::Io {
                action: "opening a stored object",
                source: e,
            }),
        }
    }

    /// Deletes an object: the sidecar first, so it stops being visible
    /// before its bytes go.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] when there is no such object, or
    /// [`StoreError::Io`].
    pub fn delete(&self, id: ObjectId) -> Result<(), StoreError> {
        match fs::remove_file(self.meta_path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
            Err(e) => {
                return Err(StoreError::Io {
                    action: "deleting object metadata",
                    source: e,
                });
            }
        }
        match fs::remove_file(self.blob_path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Io {
                action: "deleting a stored object",
                source: e,
            }),
        }
    }

    /// Removes what uploads left behind and last changed before `cutoff`:
    /// temp files of interrupted writes, and staged blobs that were never
    /// committed (a process that died between storing an upload and its
    /// handler's commit, or a discard that could not run). Committed objects
    /// are never touched. Returns how many files it removed.
    ///
    /// Pass a cutoff well before any upload or request still in progress
    /// (say, an hour ago): a request's staged object is as old as its
    /// handler has been running.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] when the directory cannot be listed; files that
    /// vanish meanwhile are skipped.
    pub fn sweep(&self, cutoff: SystemTime) -> Result<usize, StoreError> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.root).map_err(io_error("listing the store directory"))? {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let leftover = name.starts_with(TEMP_PREFIX)
                || ObjectId::parse(name).is_ok_and(|id| !self.meta_path(id).exists());
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified < cutoff);
            if leftover && stale && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    fn blob_path(&self, id: ObjectId) -> PathBuf {
        self.root.join(id.to_string())
    }

    fn meta_path(&self, id: ObjectId) -> PathBuf {
        self.root.join(format!("{id}{META_SUFFIX}"))
    }
}

/// An object being written: chunks go to a private temp file.
///
/// Dropping it without [`commit`](Self::commit) deletes the temp file, so a
/// refused or interrupted upload leaves nothing behind.
#[derive(Debug)]
pub struct PendingObject {
    root: PathBuf,
    temp_path: PathBuf,
    /// `None` once committed (or after a failed commit): nothing to clean.
    file: Option<File>,
    written: u64,
}

impl PendingObject {
    /// Appends a chunk. Enforcing the size cap is the caller's job (check
    /// [`ByteSize::allows`](super::ByteSize::allows) against
    /// [`written`](Self::written) before writing).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`]; drop the object afterwards.
    pub fn write_chunk(&mut self, chunk: &[u8]) -> Result<(), StoreError> {
        let file = self.file.as_mut().ok_or_else(|| StoreError::Io {
            action: "writing a chunk",
            source: io::Error::other("pending object already finished"),
        })?;
        file.write_all(chunk).map_err(io_error("writing a chunk"))?;
        self.written = self.written.saturating_add(chunk.len() as u64);
        Ok(())
    }

    /// The number of bytes written so far.
    #[must_use]
    pub const fn written(&self) -> u64 {
        self.written
    }

    /// Makes the object durable under a fresh random [`ObjectId`], but not
    /// yet visible: *staged*, until [`LocalStore::commit`] with the returned
    /// metadata, deleted by [`LocalStore::discard`] or, if neither ever
    /// runs, by [`LocalStore::sweep`]. `kind` comes from
    /// [`TypeAllowlist::check`](super::TypeAllowlist::check) or
    /// [`StreamCheck`](super::StreamCheck); the display name is the client's,
    /// sanitized, with `kind`'s extension ([`file_name_for_kind`](crate::upload::file_name_for_kind)).
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`]; nothing is left then.
    pub fn stage(mut self, kind: FileKind, object: NewObject) -> Result<ObjectMeta, StoreError> {
        let Some(file) = self.file.take() else {
            return Err(StoreError::Io {
                action: "staging",
                source: io::Error::other("already finished"),
            });
        };
        let result = self.stage_file(file, kind, object);
        if result.is_err() {
            remove_quietly(&self.temp_path);
        }
        result
    }

    /// [`stage`](Self::stage) and commit at once: the object is visible
    /// when this returns. For content whose recording cannot fail after it
    /// is stored.
    ///
    /// # Errors
    ///
    /// As [`stage`](Self::stage) and [`LocalStore::commit`]; nothing is
    /// left then.
    pub fn commit(self, kind: FileKind, object: NewObject) -> Result<ObjectMeta, StoreError> {
        let store = LocalStore {
            root: self.root.clone(),
        };
        let meta = self.stage(kind, object)?;
        if let Err(e) = store.commit(&meta) {
            remove_quietly(&store.blob_path(meta.id));
            return Err(e);
        }
        Ok(meta)
    }

    /// Deletes the temp file now; the same as dropping, said explicitly.
    pub fn abort(self) {}

    fn stage_file(
        &self,
        file: File,
        kind: FileKind,
        object: NewObject,
    ) -> Result<ObjectMeta, StoreError> {
        file.sync_all().map_err(io_error("syncing an upload"))?;
        drop(file);
        let meta = ObjectMeta::new(ObjectId::random(), kind, self.written, object);
        // The directory is synced by the commit, which makes both renames
        // durable; a staged blob lost to a crash was never visible.
        fs::rename(&self.temp_path, self.root.join(meta.id.to_string()))
            .map_err(io_error("moving an upload into place"))?;
        Ok(meta)
    }
}

impl Drop for PendingObject {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            remove_quietly(&self.temp_path);
        }
    }
}

fn io_error(action: &'static str) -> impl FnOnce(io::Error) -> StoreError {
    move |source| StoreError::Io { action, source }
}

/// A new, owner-only file with a random name in `dir`. `create_new` also
/// refuses to follow a symlink planted at that name.
fn create_temp(dir: &Path, suffix: &str) -> Result<(PathBuf, File), StoreError> {
    let path = dir.join(format!("{TEMP_PREFIX}{}{suffix}", ObjectId::random()));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(&path)
        .map_err(io_error("creating a temp file"))?;
    Ok((path, file))
}

fn write_meta(root: &Path, meta: &ObjectMeta) -> Result<(), StoreError> {
    let json = serde_json::to_vec(meta).map_err(|source| StoreError::CorruptMetadata {
        id: meta.id,
        source,
    })?;
    let (temp_path, mut file) = create_temp(root, META_SUFFIX)?;
    let written = file
        .write_all(&json)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&temp_path, root.join(format!("{}{META_SUFFIX}", meta.id))));
    if let Err(source) = written {
        remove_quietly(&temp_path);
        return Err(StoreError::Io {
            action: "writing object metadata",
            source,
        });
    }
    Ok(())
}

/// Makes the renames durable. Directories cannot be opened for syncing on
/// every platform; where they cannot, the rename is as durable as the OS
/// makes it.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("syncing the store directory"))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn remove_quietly(path: &Path) {
    if let Err(e) = fs::remove_file(path)
        && e.kind() != io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove an upload temp file");
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::time::Duration;

    use super::*;
    use crate::upload::file_name_for_kind;

    /// A unique directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            Self(std::env::temp_dir().join(format!("guard-core-store-{}", ObjectId::random())))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    const MALICIOUS_NAMES: &[&str] = &[
        "../../etc/passwd",
        "..\\..\\win.ini",
        "%2e%2e%2f",
        "evil\0.png",
        "CON.txt",
        "invoice\u{202E}gpj.exe",
        "/absolute/path.png",
        "",
    ];

    #[test]
    fn stores_under_random_ids_never_the_client_name() {
        let dir = TempDir::new();
        let store = LocalStore::new(dir.0.join("uploads")).unwrap();
        let long = "n".repeat(5_000);
        for name in MALICIOUS_NAMES.iter().copied().chain([long.as_str()]) {
            let meta = store
                .put(b"content", FileKind::Txt, NewObject::new(name).owner("u1"))
                .unwrap();
            assert_eq!(meta.display_name, file_name_for_kind(name, FileKind::Txt));
            assert_eq!(store.open(meta.id).unwrap().meta, meta);
        }
        // Only ids and sidecars, all inside the store directory.
        let names = entries(store.root());
        assert_eq!(names.len(), 2 * (MALICIOUS_NAMES.len() + 1));
        for name in &names {
            let id = name.strip_suffix(META_SUFFIX).unwrap_or(name);
            assert!(ObjectId::parse(id).is_ok(), "unexpected file {name}");
        }
        // Nothing escaped next to the store.
        assert_eq!(entries(&dir.0), ["uploads"]);
    }

    #[test]
    fn writes_streams_in_chunks_and_reads_them_back() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let mut pending = store.begin().unwrap();
        for chunk in [&b"\x89PNG\r\n\x1a\n"[..], b"chunk two", b"", b"three"] {
            pending.write_chunk(chunk).unwrap();
        }
        assert_eq!(pending.written(), 22);
        let meta = pending
            .commit(
                FileKind::Png,
                NewObject::new("a/b/photo.png").owner("user-7"),
            )
            .unwrap();
        assert_eq!(
            (
                meta.display_name.as_str(),
                meta.kind,
                meta.size,
                meta.owner.as_deref()
            ),
            ("photo.png", FileKind::Png, 22, Some("user-7"))
        );
        let mut stored = store.open(meta.id).unwrap();
        let mut bytes = Vec::new();
        stored.file.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes, b"\x89PNG\r\n\x1a\nchunk twothree");
        assert_eq!(store.meta(meta.id).unwrap(), meta);
    }

    #[test]
    fn dropped_or_aborted_pending_objects_leave_no_file() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let mut pending = store.begin().unwrap();
        pending.write_chunk(b"partial upload").unwrap();
        assert_eq!(
            entries(store.root()).len(),
            1,
            "the temp file exists while writing"
        );
        drop(pending);
        assert!(entries(store.root()).is_empty());

        store.begin().unwrap().abort();
        assert!(entries(store.root()).is_empty());
    }

    #[test]
    fn unknown_and_deleted_ids_are_not_found() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        assert!(matches!(
            store.open(ObjectId::random()),
            Err(StoreError::NotFound)
        ));
        let meta = store
            .put(b"x", FileKind::Txt, NewObject::new("x.txt"))
            .unwrap();
        store.delete(meta.id).unwrap();
        assert!(matches!(store.open(meta.id), Err(StoreError::NotFound)));
        assert!(matches!(store.delete(meta.id), Err(StoreError::NotFound)));
        assert!(entries(store.root()).is_empty());
        assert_eq!(StoreError::NotFound.status(), http::StatusCode::NOT_FOUND);
    }

    #[test]
    fn sidecar_for_another_id_or_garbage_is_refused() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let a = store.put(b"a", FileKind::Txt, NewObject::new("a")).unwrap();
        let b = store.put(b"b", FileKind::Txt, NewObject::new("b")).unwrap();
        fs::copy(store.meta_path(a.id), store.meta_path(b.id)).unwrap();
        assert!(matches!(store.open(b.id), Err(StoreError::NotFound)));
        fs::write(store.meta_path(a.id), b"{not json").unwrap();
        let error = store.open(a.id).unwrap_err();
        assert!(matches!(error, StoreError::CorruptMetadata { .. }));
        assert_eq!(error.status(), http::StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn sweep_removes_only_stale_leftovers() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let kept = store
            .put(b"kept", FileKind::Txt, NewObject::new("kept.txt"))
            .unwrap();
        // A crash mid-write: the temp file is never cleaned by drop.
        let mut crashed = store.begin().unwrap();
        crashed.write_chunk(b"half").unwrap();
        std::mem::forget(crashed);
        // A crash between the blob and its sidecar.
        let orphan = store
            .put(b"orphan", FileKind::Txt, NewObject::new("o.txt"))
            .unwrap();
        fs::remove_file(store.meta_path(orphan.id)).unwrap();

        assert_eq!(
            store
                .sweep(SystemTime::now() - Duration::from_secs(3_600))
                .unwrap(),
            0
        );
        assert_eq!(entries(store.root()).len(), 4);
        assert_eq!(
            store
                .sweep(SystemTime::now() + Duration::from_secs(1))
                .unwrap(),
            2
        );
        let mut expected = vec![kept.id.to_string(), format!("{}.json", kept.id)];
        expected.sort();
        assert_eq!(entries(store.root()), expected);
    }

    #[test]
    fn a_staged_object_is_invisible_until_committed() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let mut pending = store.begin().unwrap();
        pending.write_chunk(b"hello").unwrap();
        let meta = pending
            .stage(FileKind::Txt, NewObject::new("notes.html"))
            .unwrap();
        assert_eq!(meta.display_name, "notes.txt");
        assert_eq!(entries(store.root()), [meta.id.to_string()]);
        assert!(matches!(store.open(meta.id), Err(StoreError::NotFound)));
        assert!(matches!(store.delete(meta.id), Err(StoreError::NotFound)));

        store.commit(&meta).unwrap();
        assert_eq!(store.meta(meta.id).unwrap(), meta);
        // Committed once: neither committed again nor discarded.
        assert!(matches!(store.commit(&meta), Err(StoreError::Io { .. })));
        assert!(matches!(store.discard(meta.id), Err(StoreError::NotFound)));
        assert_eq!(store.meta(meta.id).unwrap(), meta);
    }

    #[test]
    fn a_discarded_object_is_gone_and_cannot_be_committed() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let mut pending = store.begin().unwrap();
        pending.write_chunk(b"hello").unwrap();
        let meta = pending.stage(FileKind::Txt, NewObject::new("a")).unwrap();
        store.discard(meta.id).unwrap();
        assert!(entries(store.root()).is_empty());
        assert!(matches!(store.discard(meta.id), Err(StoreError::NotFound)));
        assert!(matches!(store.commit(&meta), Err(StoreError::NotFound)));
        assert!(entries(store.root()).is_empty());
    }

    #[test]
    fn a_commit_refuses_metadata_of_another_size() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let mut pending = store.begin().unwrap();
        pending.write_chunk(b"hello").unwrap();
        let mut meta = pending.stage(FileKind::Txt, NewObject::new("a")).unwrap();
        meta.size = 1_000_000;
        assert!(matches!(store.commit(&meta), Err(StoreError::Io { .. })));
        assert!(matches!(store.open(meta.id), Err(StoreError::NotFound)));
    }

    #[test]
    fn sweep_removes_a_back_dated_staged_object_and_keeps_committed_ones() {
        let dir = TempDir::new();
        let store = LocalStore::new(&dir.0).unwrap();
        let hour_ago = SystemTime::now() - Duration::from_secs(3_600);
        let back_date = |path: PathBuf| {
            let two_hours_ago = SystemTime::now() - Duration::from_secs(7_200);
            File::options()
                .write(true)
                .open(path)
                .unwrap()
                .set_modified(two_hours_ago)
                .unwrap();
        };
        let committed = store
            .put(b"kept", FileKind::Txt, NewObject::new("kept.txt"))
            .unwrap();
        let mut pending = store.begin().unwrap();
        pending.write_chunk(b"staged").unwrap();
        let staged = pending.stage(FileKind::Txt, NewObject::new("s")).unwrap();
        let mut young = store.begin().unwrap();
        young.write_chunk(b"young").unwrap();
        let young = young.stage(FileKind::Txt, NewObject::new("y")).unwrap();

        // Young, everything stays.
        assert_eq!(store.sweep(hour_ago).unwrap(), 0);
        // Two hours old: the never-committed one goes, the committed stays.
        back_date(store.blob_path(staged.id));
        back_date(store.blob_path(committed.id));
        back_date(store.meta_path(committed.id));
        assert_eq!(store.sweep(hour_ago).unwrap(), 1);
        let mut expected = vec![
            committed.id.to_string(),
            format!("{}.json", committed.id),
            young.id.to_string(),
        ];
        expected.sort();
        assert_eq!(entries(store.root()), expected);
        assert_eq!(store.meta(committed.id).unwrap(), committed);
        assert!(matches!(store.commit(&staged), Err(StoreError::NotFound)));
        store.commit(&young).unwrap();
    }

    #[test]
    fn refuses_a_file_as_the_store_directory() {
        let dir = TempDir::new();
        fs::create_dir_all(&dir.0).unwrap();
        let file = dir.0.join("not-a-dir");
        fs::write(&file, b"").unwrap();
        assert!(LocalStore::new(&file).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn directory_is_0700_and_files_are_0600() {
        use std::os::unix::fs::PermissionsExt;

        let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = TempDir::new();
        let store = LocalStore::new(dir.0.join("nested/uploads")).unwrap();
        assert_eq!(mode(store.root()), 0o700);

        let mut pending = store.begin().unwrap();
        pending.write_chunk(b"x").unwrap();
        let temp = store.root().join(&entries(store.root())[0]);
        assert_eq!(mode(&temp), 0o600);
        let meta = pending.commit(FileKind::Txt, NewObject::new("x")).unwrap();
        assert_eq!(mode(&store.blob_path(meta.id)), 0o600);
        assert_eq!(mode(&store.meta_path(meta.id)), 0o600);

        // An existing, too-open directory is tightened.
        let open = dir.0.join("open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o755)).unwrap();
        LocalStore::new(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
    }
}
