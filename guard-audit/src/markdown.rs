//! The Markdown output: the text output's sections as headings, tables and
//! lists (for a pull-request comment or a job summary).

use std::fmt::Write as _;

use crate::Scan;
use crate::output::SEVERITIES;

/// A table cell: pipes escaped, newlines flattened.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A group's message, and for several findings the routes they are on.
fn with_routes(g: &crate::grouping::Group<'_>) -> String {
    match g.routes() {
        Some(routes) => {
            let routes: Vec<String> = routes.iter().map(|r| format!("`{r}`")).collect();
            format!("{}; routes: {}", g.message(), routes.join(", "))
        }
        None => g.message(),
    }
}

impl Scan {
    /// The Markdown output.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        let mut out = String::from("# guard-audit report\n\n");
        for (root, report) in &self.tables {
            let _ = writeln!(out, "## Router `{root}`\n");
            out.push_str(&report.render(guard_core::report::ReportFormat::Markdown));
            out.push('\n');
            for r in &report.routes {
                let _ = write!(
                    out,
                    "- `{} {}` at `{}`",
                    r.method,
                    r.path,
                    r.source.as_deref().unwrap_or("?")
                );
                if !r.layers.is_empty() {
                    let layers: Vec<String> = r.layers.iter().map(|l| format!("`{l}`")).collect();
                    let _ = write!(out, "; layers: {}", layers.join(", "));
                }
                if let Some(u) = &r.unknown {
                    let _ = write!(out, "; unknown: {u}");
                }
                out.push('\n');
                for c in &r.checks {
                    let _ = writeln!(out, "  - {} **{}**: {}", c.rule, c.verdict, c.reason);
                }
            }
            out.push('\n');
        }
        let sorted = self.sorted_findings();
        if !sorted.is_empty() {
            out.push_str("## Findings\n\n");
            for severity in SEVERITIES {
                let group: Vec<_> = sorted
                    .iter()
                    .filter(|f| f.suppressed.is_none() && f.severity == severity)
                    .copied()
                    .collect();
                if group.is_empty() {
                    continue;
                }
                let _ = writeln!(out, "### {} ({})\n", severity.as_str(), group.len());
                out.push_str("| rule | severity | location | message |\n|---|---|---|---|\n");
                for g in crate::grouping::group(&group) {
                    let f = g.findings[0];
                    let _ = writeln!(
                        out,
                        "| {} | {} | `{}` | {} |",
                        f.rule,
                        f.severity.as_str(),
                        crate::grouping::location(&g),
                        cell(&with_routes(&g))
                    );
                }
                out.push('\n');
            }
            let suppressed: Vec<_> = sorted
                .iter()
                .filter(|f| f.suppressed.is_some())
                .copied()
                .collect();
            if !suppressed.is_empty() {
                let _ = writeln!(out, "### suppressed ({})\n", suppressed.len());
                out.push_str(
                    "| rule | severity | location | message | reason |\n|---|---|---|---|---|\n",
                );
                for g in crate::grouping::group(&suppressed) {
                    let f = g.findings[0];
                    let _ = writeln!(
                        out,
                        "| {} | {} | `{}` | {} | {} |",
                        f.rule,
                        f.severity.as_str(),
                        crate::grouping::location(&g),
                        cell(&with_routes(&g)),
                        cell(f.suppressed.as_deref().unwrap_or_default())
                    );
                }
                out.push('\n');
            }
        }
        if !self.warnings.is_empty() {
            out.push_str("## Warnings\n\n");
            for w in &self.warnings {
                let _ = writeln!(out, "- {w}");
            }
            out.push('\n');
        }
        if !self.gaps.is_empty() {
            out.push_str("## NOT PARSED\n\n");
            for g in &self.gaps {
                let _ = writeln!(out, "- `{}`: {}", self.gap_file(g), g.error);
            }
            out.push('\n');
        }
        let _ = writeln!(out, "**Totals**: {}", self.summary());
        out
    }
}
