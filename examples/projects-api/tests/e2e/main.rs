#![allow(clippy::unwrap_used)]
//! End-to-end attack tests: the real service on a real loopback listener,
//! driven over HTTP with a real client. Every refusal is checked for its
//! exact status and body, and for what did *not* happen behind it (the
//! project list unchanged, nothing in the upload directory, no connection
//! reaching a local listener).
//!
//! Every answer any test sees is checked for the security headers by the
//! harness (`common::App::send`).

#[path = "../common/mod.rs"]
mod common;
mod support;

mod accounts;
mod brute_force;
mod connections;
mod csrf;
mod headers_and_report;
mod idor;
mod link_preview;
mod quotas;
mod strict_bodies;
mod uploads;
