//! Workspace-level tests live in `ui/` (trybuild) and `e2e/`.
