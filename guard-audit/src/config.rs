//! The scanned workspace's configuration and the suppressions.
//!
//! Read from `[workspace.metadata.guard-audit]` in the workspace's root
//! `Cargo.toml`, or from a `guard-audit.toml` beside it (both at once is an
//! error), or from the file `--config` names:
//!
//! ```toml
//! fail_on = "high"                 # low | medium | high | critical | none
//!
//! [severity]
//! "GA-CORS-005" = "medium"         # a rule's findings get this severity
//!
//! [[suppress]]
//! rule = "GA-AUTH-001"
//! path = "/health"                 # glob, `*` matches any run of characters
//! method = "GET"                   # optional
//! file = "src/x.rs"                # optional, glob
//! reason = "load balancer probe"   # required, non-empty
//! ```
//!
//! In source, a comment on the line above a handler fn (its attributes may
//! stand between) or above a route registration, or at the end of that
//! line: `// guard-audit: allow(GA-AUTH-001, reason = "…")`. A reason is
//! required there too; one without a reason suppresses nothing and is
//! listed as a warning.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::Scan;
use crate::findings::{self, Finding, Severity};

/// The `fail_on` threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailOn {
    /// Never fail on findings.
    #[default]
    None,
    /// Fail when an unsuppressed finding has at least this severity.
    At(Severity),
}

impl FailOn {
    /// Parses `low|medium|high|critical|none`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        if text.eq_ignore_ascii_case("none") {
            return Some(Self::None);
        }
        Severity::parse(text).map(Self::At)
    }

    /// Whether a finding of this severity trips the threshold.
    #[must_use]
    pub fn trips(self, severity: Severity) -> bool {
        match self {
            Self::None => false,
            Self::At(t) => severity >= t,
        }
    }
}

/// A configured suppression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The rule id.
    pub rule: &'static str,
    /// The route path glob.
    pub path: Option<String>,
    /// The HTTP method (case-insensitive).
    pub method: Option<String>,
    /// The finding's file glob, relative to the workspace root.
    pub file: Option<String>,
    /// Why.
    pub reason: String,
    /// Where it was written (`guard-audit.toml suppress[0]`).
    pub origin: String,
}

impl Suppression {
    /// Whether it covers a finding.
    #[must_use]
    pub fn matches(&self, finding: &Finding) -> bool {
        if finding.rule != self.rule {
            return false;
        }
        if self.path.is_some() || self.method.is_some() {
            let Some((method, path)) = &finding.endpoint else {
                return false;
            };
            if self.path.as_deref().is_some_and(|g| !glob(g, path)) {
                return false;
            }
            if self
                .method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(method))
            {
                return false;
            }
        }
        let file = slashed(&finding.location.file);
        self.file.as_deref().is_none_or(|g| glob(g, &file))
    }
}

/// How a suppression was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// In the configuration.
    External,
    /// A comment in the source.
    InSource,
}

/// A suppression that matched a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The index into [`Scan::findings`].
    pub finding: usize,
    /// How it was written.
    pub kind: Kind,
    /// Where (`guard-audit.toml suppress[0]`, `src/x.rs:12`).
    pub origin: String,
}

/// The configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub file: Option<PathBuf>,
    /// `fail_on`, if set.
    pub fail_on: Option<FailOn>,
    /// The suppressions, in file order.
    pub suppress: Vec<Suppression>,
    /// Severity overrides by rule id.
    pub severity: Vec<(&'static str, Severity)>,
}

/// An invalid configuration: the file and the key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

const TOP_KEYS: &str = "fail_on, severity, suppress";
const SUPPRESS_KEYS: &str = "rule, path, method, file, reason";

impl Config {
    /// Reads the configuration of the workspace at `root`, or the file
    /// `explicit` names (a `Cargo.toml` there is read for its
    /// `[workspace.metadata.guard-audit]`).
    ///
    /// # Errors
    ///
    /// A file that cannot be read or parsed, both places configured at
    /// once, or any invalid key or value.
    pub fn load(root: &Path, explicit: Option<&Path>) -> Result<Self, ConfigError> {
        if let Some(file) = explicit {
            let text = read(file)?;
            let table = parse(file, &text)?;
            let is_manifest = file.file_name().is_some_and(|n| n == "Cargo.toml");
            let table = if is_manifest {
                match metadata_table(file, &table)? {
                    Some(t) => t,
                    None => return Ok(Self::default()),
                }
            } else {
                table
            };
            return Self::from_table(file, &table);
        }
        let manifest = root.join("Cargo.toml");
        let in_manifest = match std::fs::read_to_string(&manifest) {
            Ok(text) => metadata_table(&manifest, &parse(&manifest, &text)?)?,
            Err(_) => None,
        };
        let side = root.join("guard-audit.toml");
        let side_exists = side.is_file();
        match (in_manifest, side_exists) {
            (Some(_), true) => Err(ConfigError(format!(
                "both {} has [workspace.metadata.guard-audit] and {} exists; keep one",
                manifest.display(),
                side.display()
            ))),
            (Some(t), false) => Self::from_table(&manifest, &t),
            (None, true) => {
                let text = read(&side)?;
                Self::from_table(&side, &parse(&side, &text)?)
            }
            (None, false) => Ok(Self::default()),
        }
    }

    /// The configuration in a TOML table (`file` names it in errors).
    ///
    /// # Errors
    ///
    /// An unknown key, an unknown rule id, a bad value, or a suppression
    /// without a non-empty reason.
    pub fn from_table(file: &Path, table: &toml::Table) -> Result<Self, ConfigError> {
        let at =
            |key: &str, what: String| ConfigError(format!("{}: `{key}`: {what}", file.display()));
        let mut config = Self {
            file: Some(file.to_path_buf()),
            ..Self::default()
        };
        for (key, value) in table {
            match key.as_str() {
                "fail_on" => {
                    let text = value.as_str().ok_or_else(|| {
                        at(
                            key,
                            "must be a string: low, medium, high, critical or none".into(),
                        )
                    })?;
                    config.fail_on = Some(FailOn::parse(text).ok_or_else(|| {
                        at(
                            key,
                            format!("`{text}` is not low, medium, high, critical or none"),
                        )
                    })?);
                }
                "severity" => {
                    let t = value
                        .as_table()
                        .ok_or_else(|| at(key, "must be a table of rule id = severity".into()))?;
                    for (id, level) in t {
                        let name = format!("severity.\"{id}\"");
                        let rule = known_rule(id).map_err(|e| at(&name, e))?;
                        let severity =
                            level.as_str().and_then(Severity::parse).ok_or_else(|| {
                                at(
                                    &name,
                                    "must be \"low\", \"medium\", \"high\" or \"critical\"".into(),
                                )
                            })?;
                        config.severity.push((rule, severity));
                    }
                }
                "suppress" => {
                    let list = value.as_array().ok_or_else(|| {
                        at(key, "must be an array of tables ([[suppress]])".into())
                    })?;
                    for (i, entry) in list.iter().enumerate() {
                        let name = format!("suppress[{i}]");
                        let t = entry
                            .as_table()
                            .ok_or_else(|| at(&name, "must be a table".into()))?;
                        config.suppress.push(suppression(file, &name, t)?);
                    }
                }
                other => {
                    return Err(at(
                        other,
                        format!("unknown key (expected one of {TOP_KEYS})"),
                    ));
                }
            }
        }
        Ok(config)
    }

    /// Applies the configuration and the source's inline suppressions to a
    /// scan's findings: severity overrides first, then the configured
    /// suppressions, then the inline ones. Records what matched and warns
    /// about what did not.
    pub fn apply(&self, scan: &mut Scan) {
        scan.fail_on = self.fail_on.unwrap_or_default();
        scan.config_file.clone_from(&self.file);
        for f in &mut scan.findings {
            if let Some((_, s)) = self.severity.iter().find(|(r, _)| *r == f.rule) {
                f.severity = *s;
            }
        }
        let mut used = vec![false; self.suppress.len()];
        for (i, f) in scan.findings.iter_mut().enumerate() {
            if f.suppressed.is_some() {
                continue;
            }
            if let Some((n, s)) = self.suppress.iter().enumerate().find(|(_, s)| s.matches(f)) {
                used[n] = true;
                f.suppressed = Some(s.reason.clone());
                scan.suppressions.push(Applied {
                    finding: i,
                    kind: Kind::External,
                    origin: s.origin.clone(),
                });
            }
        }
        for (s, used) in self.suppress.iter().zip(used) {
            if !used {
                scan.warnings.push(format!(
                    "{}: suppression of {} matched no finding",
                    s.origin, s.rule
                ));
            }
        }
        inline(scan);
    }
}

fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file)
        .map_err(|e| ConfigError(format!("{}: cannot read: {e}", file.display())))
}

fn parse(file: &Path, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError(format!("{}: not valid TOML: {e}", file.display())))
}

/// `[workspace.metadata.guard-audit]` of a manifest, if present.
fn metadata_table(file: &Path, manifest: &toml::Table) -> Result<Option<toml::Table>, ConfigError> {
    let value = manifest
        .get("workspace")
        .and_then(|w| w.get("metadata"))
        .and_then(|m| m.get("guard-audit"));
    match value {
        None => Ok(None),
        Some(toml::Value::Table(t)) => Ok(Some(t.clone())),
        Some(_) => Err(ConfigError(format!(
            "{}: `workspace.metadata.guard-audit` must be a table",
            file.display()
        ))),
    }
}

fn known_rule(id: &str) -> Result<&'static str, String> {
    findings::rule(id).map(|r| r.id).ok_or_else(|| {
        format!(
            "unknown rule id `{id}` (known: {})",
            findings::RULES
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn suppression(file: &Path, name: &str, t: &toml::Table) -> Result<Suppression, ConfigError> {
    let at = |key: &str, what: String| {
        ConfigError(format!("{}: `{name}.{key}`: {what}", file.display()))
    };
    let text = |key: &str| -> Result<Option<String>, ConfigError> {
        match t.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or_else(|| at(key, "must be a string".into())),
        }
    };
    if let Some(k) = t
        .keys()
        .find(|k| !SUPPRESS_KEYS.split(", ").any(|s| s == k.as_str()))
    {
        return Err(at(
            k,
            format!("unknown key (expected one of {SUPPRESS_KEYS})"),
        ));
    }
    let rule = text("rule")?.ok_or_else(|| at("rule", "a suppression needs a rule id".into()))?;
    let rule = known_rule(&rule).map_err(|e| at("rule", e))?;
    let reason = text("reason")?.unwrap_or_default();
    if reason.trim().is_empty() {
        return Err(at(
            "reason",
            "a suppression needs a non-empty reason".into(),
        ));
    }
    Ok(Suppression {
        rule,
        path: text("path")?,
        method: text("method")?,
        file: text("file")?,
        reason,
        origin: format!(
            "{} {name}",
            file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        ),
    })
}

/// `*` matches any run of characters (`/` included); the rest literally.
#[must_use]
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    true
}

/// A path with `/` separators.
pub(crate) fn slashed(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}

/// An inline `// guard-audit: allow(...)` comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow {
    /// The rule ids it names.
    pub rules: Vec<String>,
    /// Its reason, if it has a non-empty one.
    pub reason: Option<String>,
}

/// Parses the `guard-audit: allow(...)` comment in a line, if any.
#[must_use]
pub fn parse_allow(line: &str) -> Option<Allow> {
    let comment = &line[line.find("//")?..];
    let rest = comment.trim_start_matches('/').trim_start();
    let rest = rest.strip_prefix("guard-audit:")?.trim_start();
    let inner = rest.strip_prefix("allow(")?;
    let inner = &inner[..inner.rfind(')').unwrap_or(inner.len())];
    let (ids, reason) = match inner.find("reason") {
        Some(i) => {
            let after = inner[i + "reason".len()..].trim_start();
            let quoted = after.strip_prefix('=').map(str::trim_start);
            let reason = quoted
                .and_then(|q| q.strip_prefix('"'))
                .and_then(|q| q.find('"').map(|end| q[..end].trim().to_owned()))
                .filter(|r| !r.is_empty());
            (&inner[..i], reason)
        }
        None => (inner, None),
    };
    let rules = ids
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Some(Allow { rules, reason })
}

/// The lines a comment for the item at `line` (1-based) may be on: the
/// line itself (a trailing comment), then upward over comments and
/// attributes (a multi-line attribute included), stopping at anything else.
fn comment_lines(lines: &[String], line: usize) -> Vec<usize> {
    let mut out = Vec::new();
    if line == 0 || line > lines.len() {
        return out;
    }
    out.push(line - 1);
    let mut i = line - 1;
    let mut in_attr = false;
    while i > 0 {
        i -= 1;
        let t = lines[i].trim();
        if t.starts_with("//") {
            out.push(i);
        } else if t.starts_with("#[") {
            in_attr = false;
        } else if in_attr || t.ends_with(']') {
            in_attr = true;
        } else {
            break;
        }
    }
    out
}

/// Applies the inline suppressions to the findings no configured one
/// matched.
fn inline(scan: &mut Scan) {
    // Each file is read once; the closure hands out shared handles.
    let mut files: HashMap<PathBuf, Rc<Vec<String>>> = HashMap::new();
    let root = scan.root.clone();
    let mut lines_of = |file: &Path| -> Rc<Vec<String>> {
        Rc::clone(files.entry(file.to_path_buf()).or_insert_with(|| {
            Rc::new(
                crate::load::read_source(&scan_path(&root, file))
                    .map(|t| t.lines().map(str::to_owned).collect())
                    .unwrap_or_default(),
            )
        }))
    };
    let mut warned = std::collections::HashSet::new();
    for i in 0..scan.findings.len() {
        if scan.findings[i].suppressed.is_some() {
            continue;
        }
        let f = &scan.findings[i];
        let mut places = vec![(f.location.file.clone(), f.location.line)];
        if let Some((method, path)) = &f.endpoint {
            for r in scan
                .report
                .routes
                .iter()
                .filter(|r| &r.method == method && &r.path == path)
            {
                if let Some((file, line)) = r.source.as_deref().and_then(|s| s.rsplit_once(':'))
                    && let Ok(line) = line.parse()
                {
                    places.push((PathBuf::from(file), line));
                }
            }
        }
        let rule = f.rule;
        let mut hit = None;
        'places: for (file, line) in places {
            let lines = lines_of(&file);
            for n in comment_lines(&lines, line) {
                let Some(allow) = parse_allow(&lines[n]) else {
                    continue;
                };
                let at = format!("{}:{}", slashed(&file), n + 1);
                for id in &allow.rules {
                    if findings::rule(id).is_none() && warned.insert((at.clone(), id.clone())) {
                        scan.warnings.push(format!(
                            "{at}: `guard-audit: allow({id})` names an unknown rule id"
                        ));
                    }
                }
                if !allow.rules.iter().any(|r| r == rule) {
                    continue;
                }
                match allow.reason {
                    Some(reason) => {
                        hit = Some((reason, at));
                        break 'places;
                    }
                    None => {
                        if warned.insert((at.clone(), rule.to_owned())) {
                            scan.warnings.push(format!(
                                "{at}: `guard-audit: allow({rule})` has no reason; the finding is not suppressed"
                            ));
                        }
                    }
                }
            }
        }
        if let Some((reason, at)) = hit {
            scan.findings[i].suppressed = Some(reason);
            scan.suppressions.push(Applied {
                finding: i,
                kind: Kind::InSource,
                origin: at,
            });
        }
    }
}

/// A scan-relative (or absolute) file as a path to read.
pub(crate) fn scan_path(root: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        root.join(file)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

    use super::*;
    use crate::findings::Location;

    fn finding(rule: &'static str, method: &str, path: &str, file: &str) -> Finding {
        Finding {
            rule,
            severity: Severity::Medium,
            message: format!("{method} {path}: something"),
            location: Location {
                file: PathBuf::from(file),
                line: 3,
                column: 1,
            },
            endpoint: Some((method.to_owned(), path.to_owned())),
            suppressed: None,
        }
    }

    fn config(text: &str) -> Result<Config, ConfigError> {
        Config::from_table(Path::new("guard-audit.toml"), &text.parse().unwrap())
    }

    #[test]
    fn glob_star_matches_any_run() {
        assert!(glob("/health", "/health"));
        assert!(!glob("/health", "/healthz"));
        assert!(glob("/api/*", "/api/users/{id}"));
        assert!(glob("*/{id}", "/api/users/{id}"));
        assert!(glob("/a*c*e", "/abcde"));
        assert!(!glob("/a*c*e", "/abde"));
        assert!(!glob("/api/*", "/other"));
        assert!(glob("*", ""));
    }

    #[test]
    fn reads_every_key() {
        let c = config(
            r#"
            fail_on = "high"
            [severity]
            "GA-CORS-005" = "medium"
            [[suppress]]
            rule = "GA-AUTH-001"
            path = "/health"
            method = "get"
            file = "src/*.rs"
            reason = "probe"
            "#,
        )
        .unwrap();
        assert_eq!(c.fail_on, Some(FailOn::At(Severity::High)));
        assert_eq!(c.severity, vec![("GA-CORS-005", Severity::Medium)]);
        let s = &c.suppress[0];
        assert!(s.matches(&finding("GA-AUTH-001", "GET", "/health", "src/lib.rs")));
        assert!(!s.matches(&finding("GA-AUTH-001", "POST", "/health", "src/lib.rs")));
        assert!(!s.matches(&finding("GA-AUTH-001", "GET", "/healthz", "src/lib.rs")));
        assert!(!s.matches(&finding("GA-RATE-010", "GET", "/health", "src/lib.rs")));
        assert!(!s.matches(&finding("GA-AUTH-001", "GET", "/health", "other/lib.rs")));
        assert_eq!(s.origin, "guard-audit.toml suppress[0]");
    }

    #[test]
    fn a_path_suppression_does_not_cover_a_finding_without_endpoint() {
        let c =
            config("[[suppress]]\nrule = \"GA-UNK-000\"\npath = \"*\"\nreason = \"r\"").unwrap();
        let mut f = finding("GA-UNK-000", "GET", "/x", "src/bad.rs");
        assert!(c.suppress[0].matches(&f));
        f.endpoint = None;
        assert!(!c.suppress[0].matches(&f));
        let by_file =
            config("[[suppress]]\nrule = \"GA-UNK-000\"\nfile = \"src/bad.rs\"\nreason = \"r\"")
                .unwrap();
        assert!(by_file.suppress[0].matches(&f));
    }

    #[test]
    fn invalid_configurations_name_the_key() {
        let cases = [
            ("fail_onn = \"high\"", "`fail_onn`: unknown key"),
            ("fail_on = \"severe\"", "`fail_on`: `severe` is not"),
            (
                "[severity]\n\"GA-NOPE-1\" = \"low\"",
                "`severity.\"GA-NOPE-1\"`: unknown rule id",
            ),
            (
                "[severity]\n\"GA-CORS-005\" = \"loud\"",
                "`severity.\"GA-CORS-005\"`: must be",
            ),
            (
                "[[suppress]]\nrule = \"GA-AUTH-001\"",
                "`suppress[0].reason`: a suppression needs a non-empty reason",
            ),
            (
                "[[suppress]]\nrule = \"GA-AUTH-001\"\nreason = \"  \"",
                "`suppress[0].reason`",
            ),
            (
                "[[suppress]]\nrule = \"GA-AUTH-01\"\nreason = \"r\"",
                "`suppress[0].rule`: unknown rule id `GA-AUTH-01`",
            ),
            (
                "[[suppress]]\nrule = \"GA-AUTH-001\"\nreason = \"r\"\npth = \"/\"",
                "`suppress[0].pth`: unknown key",
            ),
            (
                "[[suppress]]\nreason = \"r\"",
                "`suppress[0].rule`: a suppression needs a rule id",
            ),
        ];
        for (text, want) in cases {
            let e = config(text).unwrap_err().to_string();
            assert!(e.contains(want), "{text:?}: {e}");
            assert!(e.starts_with("guard-audit.toml: "), "{e}");
        }
        // Negative: a valid one with no suppressions at all.
        assert_eq!(config("").unwrap().suppress, Vec::new());
    }

    #[test]
    fn fail_on_threshold() {
        assert!(FailOn::At(Severity::High).trips(Severity::Critical));
        assert!(FailOn::At(Severity::High).trips(Severity::High));
        assert!(!FailOn::At(Severity::High).trips(Severity::Medium));
        assert!(!FailOn::None.trips(Severity::Critical));
        assert_eq!(FailOn::parse("NONE"), Some(FailOn::None));
        assert_eq!(FailOn::parse("loud"), None);
    }

    #[test]
    fn parses_inline_allow_comments() {
        let a = parse_allow(r#"    // guard-audit: allow(GA-AUTH-001, reason = "probe, public")"#)
            .unwrap();
        assert_eq!(a.rules, vec!["GA-AUTH-001"]);
        assert_eq!(a.reason.as_deref(), Some("probe, public"));
        let two = parse_allow(
            r#".route("/x", get(h)) // guard-audit: allow(GA-AUTH-001, GA-RATE-010, reason="ok")"#,
        )
        .unwrap();
        assert_eq!(two.rules, vec!["GA-AUTH-001", "GA-RATE-010"]);
        let none = parse_allow("// guard-audit: allow(GA-AUTH-001)").unwrap();
        assert_eq!(none.reason, None);
        let empty = parse_allow(r#"// guard-audit: allow(GA-AUTH-001, reason = "")"#).unwrap();
        assert_eq!(empty.reason, None);
        assert_eq!(parse_allow("// an ordinary comment"), None);
        assert_eq!(parse_allow("let x = 1;"), None);
    }

    #[test]
    fn comment_lines_walk_over_attributes_only() {
        let lines: Vec<String> = [
            ".route(\"/a\", get(a))",
            "// guard-audit: allow(GA-AUTH-001, reason = \"x\")",
            "#[secure_route(",
            "    public = \"x\",",
            ")]",
            "/// docs",
            "pub async fn h() {}",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(comment_lines(&lines, 7), vec![6, 5, 1]);
        // The previous route's line is not read for the next one.
        assert_eq!(comment_lines(&lines, 1), vec![0]);
    }
}
