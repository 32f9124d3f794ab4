//! The value grammars shared with the runtime, compiled into the macro from
//! guard-core's own files so a spec the macro accepts is exactly one the
//! runtime parses (the files need nothing but `core`).

#[allow(dead_code, unreachable_pub, clippy::all)]
#[path = "../../guard-core/src/rate/spec.rs"]
pub(crate) mod rate;

#[allow(dead_code, unreachable_pub, clippy::all)]
#[path = "../../guard-core/src/upload/size.rs"]
pub(crate) mod size;

/// The upload type names `guard_core::upload::FileKind::from_name` accepts.
pub(crate) const FILE_KINDS: &[&str] = &[
    "png", "jpeg", "jpg", "gif", "webp", "pdf", "zip", "txt", "svg", "html",
];
