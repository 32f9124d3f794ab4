//! The log of one test binary, captured: one global `tracing` subscriber
//! writing into one buffer. (Per-test `set_default` subscribers are flaky
//! when tests run in parallel: tracing caches each callsite's interest
//! globally.) Tests find their own lines by what they sent or received.
//!
//! Shared by `tests/hardening.rs` and `tests/fetch.rs`, each including
//! this file with `#[path = "support/log.rs"] mod log_support;` and using
//! all of it.

use std::io;
use std::sync::{Arc, Mutex, OnceLock};

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything logged so far.
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// The binary's log, installed on first use at `level` (later calls keep
/// the first level).
pub(crate) fn global_log(level: tracing::Level) -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(level)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    })
}
