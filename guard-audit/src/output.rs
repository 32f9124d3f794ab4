//! Rendering a [`Scan`]: text and JSON here, Markdown in
//! [`crate::markdown`], SARIF in [`crate::sarif`].

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::Scan;
use crate::config::{FailOn, slashed};
use crate::findings::{Finding, Severity};

/// The counts the totals line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Endpoints found.
    pub endpoints: usize,
    /// Endpoints whose handler resolved.
    pub resolved: usize,
    /// Endpoints whose handler did not.
    pub unknown: usize,
    /// Files not read or not parsed.
    pub not_parsed: usize,
    /// Unsuppressed findings by severity.
    pub critical: usize,
    /// Unsuppressed high findings.
    pub high: usize,
    /// Unsuppressed medium findings.
    pub medium: usize,
    /// Unsuppressed low findings.
    pub low: usize,
    /// Suppressed findings.
    pub suppressed: usize,
}

/// The severities, worst first.
pub(crate) const SEVERITIES: [Severity; 4] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
];

impl Scan {
    /// The endpoint and file counts:
    /// `N endpoints: R resolved, U unknown; F files not parsed`.
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

    /// Every count.
    #[must_use]
    pub fn counts(&self) -> Totals {
        let mut t = Totals {
            endpoints: self.resolved + self.unknown,
            resolved: self.resolved,
            unknown: self.unknown,
            not_parsed: self.gaps.len(),
            ..Totals::default()
        };
        for f in &self.findings {
            if f.suppressed.is_some() {
                t.suppressed += 1;
                continue;
            }
            match f.severity {
                Severity::Critical => t.critical += 1,
                Severity::High => t.high += 1,
                Severity::Medium => t.medium += 1,
                Severity::Low => t.low += 1,
            }
        }
        t
    }

    /// The totals line: [`Scan::totals`], then the unsuppressed findings
    /// by severity and the suppressed count.
    #[must_use]
    pub fn summary(&self) -> String {
        let t = self.counts();
        format!(
            "{}; findings: {} critical, {} high, {} medium, {} low; {} suppressed",
            self.totals(),
            t.critical,
            t.high,
            t.medium,
            t.low,
            t.suppressed
        )
    }

    /// Whether an unsuppressed finding trips the threshold.
    #[must_use]
    pub fn fails(&self, threshold: FailOn) -> bool {
        self.findings
            .iter()
            .any(|f| f.suppressed.is_none() && threshold.trips(f.severity))
    }

    /// The findings in report order: worst first, then by file, line, rule.
    #[must_use]
    pub fn sorted_findings(&self) -> Vec<&Finding> {
        let mut out: Vec<&Finding> = self.findings.iter().collect();
        out.sort_by(|a, b| {
            (b.severity, &a.location, a.rule).cmp(&(a.severity, &b.location, b.rule))
        });
        out
    }

    /// A gap's file, relative to the workspace root where it is inside it.
    #[must_use]
    pub fn gap_file(&self, gap: &crate::load::Gap) -> String {
        slashed(gap.file.strip_prefix(&self.root).unwrap_or(&gap.file))
    }

    /// The text output: per router root its table and each route's source,
    /// layers and verdicts; then the findings by severity, the warnings,
    /// the files not parsed and the totals line.
    #[must_use]
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (root, report) in &self.tables {
            let _ = writeln!(out, "== router {root} ==");
            out.push_str(&report.render(guard_core::report::ReportFormat::Text));
            out.push('\n');
            for r in &report.routes {
                let _ = write!(
                    out,
                    "{} {}  at {}",
                    r.method,
                    r.path,
                    r.source.as_deref().unwrap_or("?")
                );
                if !r.layers.is_empty() {
                    let _ = write!(out, "  layers: {}", r.layers.join(" | "));
                }
                if let Some(u) = &r.unknown {
                    let _ = write!(out, "  ({u})");
                }
                out.push('\n');
                for c in &r.checks {
                    let _ = writeln!(out, "    {} {}: {}", c.rule, c.verdict, c.reason);
                }
            }
            out.push('\n');
        }
        let sorted = self.sorted_findings();
        if !sorted.is_empty() {
            out.push_str("Findings\n");
            for severity in SEVERITIES {
                let group: Vec<_> = sorted
                    .iter()
                    .filter(|f| f.suppressed.is_none() && f.severity == severity)
                    .copied()
                    .collect();
                if group.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "  {} ({})", severity.as_str(), group.len());
                for g in crate::grouping::group(&group) {
                    let f = g.findings[0];
                    let _ = writeln!(
                        out,
                        "    {}  {}  {}  {}",
                        f.rule,
                        f.severity.as_str(),
                        crate::grouping::location(&g),
                        g.message()
                    );
                    for (n, line) in crate::grouping::wrap(&g.routes().unwrap_or_default(), 96)
                        .iter()
                        .enumerate()
                    {
                        let head = if n == 0 { "routes:" } else { "       " };
                        let _ = writeln!(out, "      {head} {line}");
                    }
                }
            }
            let suppressed: Vec<_> = sorted
                .iter()
                .filter(|f| f.suppressed.is_some())
                .copied()
                .collect();
            if !suppressed.is_empty() {
                let _ = writeln!(out, "  suppressed ({})", suppressed.len());
                for g in crate::grouping::group(&suppressed) {
                    let f = g.findings[0];
                    let _ = writeln!(
                        out,
                        "    {}  {}  {}  {}  [suppressed: {}]",
                        f.rule,
                        f.severity.as_str(),
                        crate::grouping::location(&g),
                        g.message(),
                        f.suppressed.as_deref().unwrap_or_default()
                    );
                    for (n, line) in crate::grouping::wrap(&g.routes().unwrap_or_default(), 96)
                        .iter()
                        .enumerate()
                    {
                        let head = if n == 0 { "routes:" } else { "       " };
                        let _ = writeln!(out, "      {head} {line}");
                    }
                }
            }
            out.push('\n');
        }
        for w in &self.warnings {
            let _ = writeln!(out, "WARNING {w}");
        }
        for g in &self.gaps {
            let _ = writeln!(out, "NOT PARSED {}: {}", self.gap_file(g), g.error);
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The JSON value of a finding.
    pub(crate) fn finding_json(f: &Finding) -> Value {
        json!({
            "rule": f.rule,
            "severity": f.severity.as_str(),
            "message": f.message,
            "file": slashed(&f.location.file),
            "line": f.location.line,
            "column": f.location.column,
            "endpoint": f.endpoint.as_ref().map(|(m, p)| json!({"method": m, "path": p})),
            "suppressed": f.suppressed,
        })
    }

    /// The JSON output (schema in the README):
    /// `{report, tables, findings, totals, not_parsed, roots, warnings}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let t = self.counts();
        let value = json!({
            "report": self.report,
            "tables": self.tables.iter().map(|(root, report)| json!({
                "root": root,
                "routes": report.routes,
            })).collect::<Vec<_>>(),
            "findings": self.sorted_findings().into_iter().map(Self::finding_json).collect::<Vec<_>>(),
            "totals": {
                "endpoints": t.endpoints,
                "resolved": t.resolved,
                "unknown": t.unknown,
                "files_not_parsed": t.not_parsed,
                "findings": {
                    "critical": t.critical,
                    "high": t.high,
                    "medium": t.medium,
                    "low": t.low,
                },
                "suppressed": t.suppressed,
            },
            "not_parsed": self.gaps.iter().map(|g| json!({
                "file": self.gap_file(g),
                "error": g.error,
            })).collect::<Vec<_>>(),
            "roots": self.roots,
            "warnings": self.warnings,
        });
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    }
}
