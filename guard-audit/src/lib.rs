//! `cargo guard-audit`: the route-by-route report of an axum workspace,
//! read from its source without building it.
//!
//! What exists: workspace loading, the symbol table, router discovery and
//! `#[secure_route]` reading (see the README). The GA-* checks do not exist
//! yet.

pub mod load;
pub mod routes;
pub mod secure;
pub mod symbols;

use std::path::Path;

use guard_core::report::{RouteEntry, RouteReport};

use crate::routes::{Discovery, Handler};
use crate::symbols::Symbols;

/// The scan's result.
#[derive(Debug)]
pub struct Scan {
    /// The report in the framework's schema.
    pub report: RouteReport,
    /// Endpoints whose handler resolved.
    pub resolved: usize,
    /// Endpoints whose handler did not.
    pub unknown: usize,
    /// Files not read or not parsed.
    pub gaps: Vec<load::Gap>,
    /// The router roots found, by fn.
    pub roots: Vec<String>,
}

/// Scans the workspace of a manifest.
pub fn scan(manifest: &Path) -> Result<Scan, load::LoadError> {
    let ws = load::load(manifest)?;
    let syms = Symbols::build(&ws);
    let roots = Discovery::new(&syms).roots();
    let mut entries = Vec::new();
    let (mut resolved, mut unknown) = (0, 0);
    for root in &roots {
        for ep in &root.endpoints {
            let file = &ws.modules[ep.module].file;
            let shown = file.strip_prefix(&ws.root).unwrap_or(file);
            let mut entry = match &ep.handler {
                Handler::Resolved(item) => {
                    resolved += 1;
                    let declared = secure::declared(&syms, item);
                    let mut entry = declared.unwrap_or_else(|| RouteEntry {
                        unknown: Some(
                            "no #[secure_route]; auth checks are not built yet".to_owned(),
                        ),
                        ..blank()
                    });
                    entry.handler = syms.display(item);
                    entry
                }
                Handler::Closure => {
                    resolved += 1;
                    RouteEntry {
                        handler: "<closure>".to_owned(),
                        unknown: Some("closure handler; auth checks are not built yet".to_owned()),
                        ..blank()
                    }
                }
                Handler::Service(s) => {
                    resolved += 1;
                    RouteEntry {
                        handler: format!("service: {s}"),
                        unknown: Some("service endpoint".to_owned()),
                        ..blank()
                    }
                }
                Handler::Unknown(reason) => {
                    unknown += 1;
                    RouteEntry {
                        handler: "unknown".to_owned(),
                        unknown: Some(reason.clone()),
                        ..blank()
                    }
                }
            };
            entry.method.clone_from(&ep.method);
            entry.path.clone_from(&ep.path);
            entry.source = Some(format!("{}:{}", shown.display(), ep.line));
            entry.layers.clone_from(&ep.layers);
            entries.push(entry);
        }
    }
    Ok(Scan {
        report: RouteReport::new(Vec::new(), entries),
        resolved,
        unknown,
        gaps: ws.gaps.clone(),
        roots: roots.into_iter().map(|r| r.function).collect(),
    })
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
    }
}

impl Scan {
    /// The totals line.
    #[must_use]
    pub fn totals(&self) -> String {
        format!(
            "{} endpoints: {} resolved, {} unknown; {} files not parsed",
            self.resolved + self.unknown,
            self.resolved,
            self.unknown,
            self.gaps.len()
        )
    }

    /// The text output: the report table, each route's source and layers,
    /// the files not parsed and the totals line.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = self.report.render(guard_core::report::ReportFormat::Text);
        out.push('\n');
        for r in &self.report.routes {
            out.push_str(&format!(
                "{} {}  at {}",
                r.method,
                r.path,
                r.source.as_deref().unwrap_or("?")
            ));
            if !r.layers.is_empty() {
                out.push_str(&format!("  layers: {}", r.layers.join(" | ")));
            }
            if let Some(u) = &r.unknown {
                out.push_str(&format!("  ({u})"));
            }
            out.push('\n');
        }
        for g in &self.gaps {
            out.push_str(&format!("NOT PARSED {}: {}\n", g.file.display(), g.error));
        }
        out.push_str(&self.totals());
        out.push('\n');
        out
    }

    /// The JSON output: the report plus totals and gaps.
    #[must_use]
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "report": self.report,
            "roots": self.roots,
            "totals": {
                "resolved": self.resolved,
                "unknown": self.unknown,
                "files_not_parsed": self.gaps.len(),
            },
            "not_parsed": self.gaps.iter().map(|g| serde_json::json!({
                "file": g.file.display().to_string(),
                "error": g.error,
            })).collect::<Vec<_>>(),
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}
