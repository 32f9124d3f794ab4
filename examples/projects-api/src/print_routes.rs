//! What `--print-routes` builds in place of the service's resources, so
//! that it writes nothing (no secret file, no database, no upload
//! directory) and contacts no Redis, yet reports exactly what would be
//! served: the router is the same, only what it would reach is a stand-in.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use guard_axum::rate_limit::RateKey;
use guard_axum::rate_limit::{MemoryBackend, Policy, PolicySet, RateBackend, RedisBackend};
use guard_axum::upload::{ObjectId, ObjectStore, ObjectWriter, OpenedObject, UploadStore};
use guard_axum::upload::{ObjectMeta, StoreError};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// An upload store that stores nothing: the built router needs one, and
/// the report never calls it.
pub(crate) fn upload_store() -> UploadStore {
    UploadStore::new(NoStore)
}

/// Stands in for the [`RedisBackend`] `--redis` would connect: it
/// describes itself as that backend does, and decides in memory (the
/// router is never served).
pub(crate) fn redis_backend() -> Arc<dyn RateBackend> {
    Arc::new(ReportedRedis(MemoryBackend::new()))
}

#[derive(Debug)]
struct NoStore;

fn refused() -> StoreError {
    StoreError::Io {
        action: "in --print-routes (no upload store)",
        source: std::io::Error::other("--print-routes stores nothing"),
    }
}

impl ObjectStore for NoStore {
    fn begin(&self) -> Boxed<'_, Result<Box<dyn ObjectWriter>, StoreError>> {
        Box::pin(async { Err(refused()) })
    }

    fn commit(&self, _meta: ObjectMeta) -> Boxed<'_, Result<(), StoreError>> {
        Box::pin(async { Err(refused()) })
    }

    fn discard(&self, _id: ObjectId) -> Boxed<'_, Result<(), StoreError>> {
        Box::pin(async { Err(refused()) })
    }

    fn open(&self, _id: ObjectId) -> Boxed<'_, Result<OpenedObject, StoreError>> {
        Box::pin(async { Err(refused()) })
    }

    fn delete(&self, _id: ObjectId) -> Boxed<'_, Result<(), StoreError>> {
        Box::pin(async { Err(refused()) })
    }

    fn sweep(&self, _cutoff: SystemTime) -> Boxed<'_, Result<usize, StoreError>> {
        Box::pin(async { Ok(0) })
    }
}

#[derive(Debug)]
struct ReportedRedis(MemoryBackend);

impl RateBackend for ReportedRedis {
    fn policy_set(&self, scope: &str, policies: Vec<Policy>) -> Arc<dyn PolicySet> {
        self.0.policy_set(scope, policies)
    }

    fn identifier_key(&self, namespace: &str, identifier: &str) -> RateKey {
        self.0.identifier_key(namespace, identifier)
    }

    fn describe(&self) -> String {
        RedisBackend::describe_prefix(RedisBackend::DEFAULT_PREFIX)
    }
}
