//! `cargo guard-audit`: the route-by-route report of an axum workspace,
//! read from its source without building it.
//!
//! The pipeline: [`load`] the workspace, build the [`symbols`] table, find
//! the router roots and their endpoints ([`routes`]), read declared guards
//! ([`secure`]), run the [`checks`] into [`findings`], apply the
//! [`config`] (severity overrides, suppressions), render ([`output`],
//! [`markdown`], [`sarif`]).

pub mod checks;
pub mod config;
pub mod findings;
pub mod grouping;
pub mod load;
pub mod macros;
pub mod markdown;
pub mod output;
pub mod routes;
pub mod sarif;
pub mod secure;
pub mod siblings;
pub mod symbols;
pub mod target_cfg;

use std::path::{Path, PathBuf};

use guard_core::report::{RouteEntry, RouteReport};

use crate::checks::Ctx;
use crate::findings::{Finding, Location, Results, Severity};
use crate::routes::{Discovery, Handler};
use crate::symbols::Symbols;

/// The scan's result.
#[derive(Debug)]
pub struct Scan {
    /// The report in the framework's schema: every root's routes.
    pub report: RouteReport,
    /// One report per router root, named by the fn it is built in.
    pub tables: Vec<(String, RouteReport)>,
    /// Every finding of every check, suppressed ones included (marked).
    pub findings: Vec<Finding>,
    /// Endpoints whose handler resolved.
    pub resolved: usize,
    /// Endpoints whose handler did not.
    pub unknown: usize,
    /// Files not read or not parsed.
    pub gaps: Vec<load::Gap>,
    /// The router roots found, by fn.
    pub roots: Vec<String>,
    /// The workspace root: finding and route files are relative to it.
    pub root: PathBuf,
    /// Files parsed.
    pub files: usize,
    /// Crates loaded.
    pub crates: usize,
    /// Which findings a suppression matched, and where it was written.
    pub suppressions: Vec<config::Applied>,
    /// Configuration and suppression problems that did not stop the scan
    /// (a suppression that matched nothing, an inline one with no reason).
    pub warnings: Vec<String>,
    /// The configured `fail_on` threshold (`--fail-on` overrides it).
    pub fail_on: config::FailOn,
    /// Where the configuration was read from, if anywhere.
    pub config_file: Option<PathBuf>,
}

/// How to scan.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The configuration file; `None` looks for
    /// `[workspace.metadata.guard-audit]` in the workspace's root
    /// `Cargo.toml` and for a `guard-audit.toml` beside it.
    pub config: Option<PathBuf>,
    /// The registry source directories published siblings are looked for
    /// in (each holds unpacked `name-version` directories); `None` means
    /// cargo's (`$CARGO_HOME/registry/src/*`).
    pub registry: Option<Vec<PathBuf>>,
}

/// Why a scan could not run.
#[derive(Debug)]
pub enum Error {
    /// The workspace could not be loaded.
    Load(load::LoadError),
    /// The configuration is invalid.
    Config(config::ConfigError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Load(e) => write!(f, "{e}"),
            Self::Config(e) => write!(f, "invalid configuration: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// Scans the workspace of a manifest with the configuration found beside
/// it (an invalid one is a [`load::LoadError`] naming the key).
pub fn scan(manifest: &Path) -> Result<Scan, load::LoadError> {
    scan_with(manifest, &Options::default()).map_err(|e| match e {
        Error::Load(e) => e,
        Error::Config(e) => load::LoadError(format!("invalid configuration: {e}")),
    })
}

/// The stack the scan runs on: deep (but within the limits of
/// [`load::MAX_GROUP_DEPTH`] and [`load::MAX_TREE_DEPTH`]) code is parsed
/// and walked recursively. Only the pages used are committed.
pub const SCAN_STACK_BYTES: usize = 512 << 20;

/// Scans the workspace of a manifest with these options (on a thread with
/// a [`SCAN_STACK_BYTES`] stack).
pub fn scan_with(manifest: &Path, options: &Options) -> Result<Scan, Error> {
    std::thread::scope(|s| {
        match std::thread::Builder::new()
            .name("guard-audit-scan".to_owned())
            .stack_size(SCAN_STACK_BYTES)
            .spawn_scoped(s, || scan_on_this_thread(manifest, options))
        {
            Ok(handle) => match handle.join() {
                Ok(result) => result,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            // No thread could be started: scan here, on the caller's stack.
            Err(_) => scan_on_this_thread(manifest, options),
        }
    })
}

fn scan_on_this_thread(manifest: &Path, options: &Options) -> Result<Scan, Error> {
    let ws = match &options.registry {
        Some(dirs) => load::load_with(manifest, dirs),
        None => load::load(manifest),
    }
    .map_err(Error::Load)?;
    let config =
        config::Config::load(&ws.root, options.config.as_deref()).map_err(Error::Config)?;
    let syms = Symbols::build(&ws);
    let mut roots = Discovery::new(&syms).roots();
    for ep in roots.iter_mut().flat_map(|r| r.endpoints.iter_mut()) {
        if ep.path.chars().any(hidden_char) {
            ep.path = shown_path(&ep.path);
        }
    }
    let ctx = Ctx::new(&ws, &syms, &roots);
    let mut results = Results::new(ctx.endpoints.len());
    checks::run(&ctx, &mut results);
    let mut tables: Vec<(String, Vec<RouteEntry>)> = roots
        .iter()
        .map(|r| (r.function.clone(), Vec::new()))
        .collect();
    let (mut resolved, mut unknown) = (0, 0);
    for (i, ep) in ctx.endpoints.iter().enumerate() {
        let mut entry = match &ep.handler {
            Handler::Resolved(item) => {
                resolved += 1;
                let declared = secure::declared(&syms, item);
                let mut entry = declared.unwrap_or_else(|| RouteEntry {
                    access: inferred_access(&results, i),
                    ..blank()
                });
                entry.handler = syms.display(item);
                entry
            }
            Handler::Closure => {
                resolved += 1;
                RouteEntry {
                    handler: "<closure>".to_owned(),
                    access: inferred_access(&results, i),
                    ..blank()
                }
            }
            Handler::Service(s) => {
                resolved += 1;
                RouteEntry {
                    handler: format!("service: {s}"),
                    access: inferred_access(&results, i),
                    ..blank()
                }
            }
            Handler::Unknown(reason) => {
                unknown += 1;
                results.finding(ctx_unknown(&ctx, i, reason));
                RouteEntry {
                    handler: "unknown".to_owned(),
                    unknown: Some(reason.clone()),
                    ..blank()
                }
            }
        };
        entry.method.clone_from(&ep.method);
        entry.path.clone_from(&ep.path);
        entry.source = Some(format!("{}:{}", ctx.file(ep.module).display(), ep.line));
        entry.layers = ep.layers.iter().map(routes::Layer::shown).collect();
        if let Some(c) = &ep.condition {
            entry.layers.insert(0, format!("[route only if {c}]"));
        }
        entry.checks = std::mem::take(&mut results.verdicts[i]);
        tables[ctx.endpoint_root[i]].1.push(entry);
    }
    for gap in &ws.gaps {
        let file = gap.file.strip_prefix(&ws.root).unwrap_or(&gap.file);
        results.finding(Finding {
            rule: "GA-UNK-000",
            severity: Severity::Medium,
            message: format!(
                "{} was not parsed ({}); routes and checks in it are unknown",
                file.display(),
                gap.error
            ),
            location: Location {
                file: file.to_path_buf(),
                line: 1,
                column: 1,
            },
            endpoint: None,
            suppressed: None,
        });
    }
    let all = tables.iter().flat_map(|(_, e)| e.iter().cloned()).collect();
    let files: std::collections::HashSet<_> = ws.modules.iter().map(|m| &m.file).collect();
    let crates: std::collections::HashSet<_> = ws.modules.iter().map(|m| &m.krate).collect();
    let mut scan = Scan {
        report: RouteReport::new(Vec::new(), all),
        tables: tables
            .into_iter()
            .map(|(name, entries)| (name, RouteReport::new(Vec::new(), entries)))
            .collect(),
        findings: results.findings,
        resolved,
        unknown,
        gaps: ws.gaps.clone(),
        roots: roots.into_iter().map(|r| r.function).collect(),
        root: ws.root.clone(),
        files: files.len(),
        crates: crates.len(),
        suppressions: Vec::new(),
        warnings: Vec::new(),
        fail_on: config::FailOn::None,
        config_file: None,
    };
    config.apply(&mut scan);
    Ok(scan)
}

/// A character that would break or disguise a text line: a control
/// character (a newline in a route path would start a forged report line)
/// or a bidirectional-text control (U+202E reverses what follows).
fn hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A route path as every output shows it: [`hidden_char`]s written as
/// Rust escapes (`\n`, `\u{202e}`), everything else as it is.
#[must_use]
pub fn shown_path(path: &str) -> String {
    path.chars()
        .map(|c| {
            if hidden_char(c) {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The report's access column from the GA-AUTH-001 verdict.
fn inferred_access(results: &Results, endpoint: usize) -> &'static str {
    match results
        .verdict_of(endpoint, "GA-AUTH-001")
        .map(|v| v.verdict)
    {
        Some("guarded") => "auth",
        Some("unguarded") => "public",
        _ => "unknown",
    }
}

/// The GA-UNK-000 finding of an endpoint whose handler did not resolve.
fn ctx_unknown(ctx: &Ctx<'_, '_>, endpoint: usize, reason: &str) -> Finding {
    let ep = ctx.endpoints[endpoint];
    ctx.endpoint_finding(
        endpoint,
        "GA-UNK-000",
        Severity::Medium,
        format!(
            "{} {}: handler not resolved ({reason}); its guards are unknown",
            ep.method, ep.path
        ),
    )
}

/// An entry with nothing declared: access `unknown`.
fn blank() -> RouteEntry {
    RouteEntry {
        method: String::new(),
        path: String::new(),
        handler: String::new(),
        access: "unknown",
        public_reason: None,
        roles: Vec::new(),
        permission: None,
        owner: Vec::new(),
        body: None,
        allowed_identity_fields: Vec::new(),
        query: None,
        body_limit: None,
        rates: Vec::new(),
        upload: None,
        fetch: false,
        csrf: None,
        source: None,
        layers: Vec::new(),
        unknown: None,
        checks: Vec::new(),
        kind: None,
        codec: None,
    }
}
