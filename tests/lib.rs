//! Workspace-level tests: the trybuild compile-fail and compile-pass cases in
//! `ui/` (run by `ui.rs`). End-to-end tests live with the example service
//! (`examples/projects-api/tests/`).
