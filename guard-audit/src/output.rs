//! Rendering a [`Scan`]: text, JSON (and, to come, Markdown and SARIF).

use crate::Scan;

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
