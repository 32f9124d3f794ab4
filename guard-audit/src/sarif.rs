//! The SARIF 2.1.0 output (GitHub code scanning and other SARIF viewers).
//!
//! One run; `tool.driver.rules` is [`crate::findings::RULES`] in order, so a
//! result's `ruleIndex` is its rule's index there. Locations are relative to
//! `%SRCROOT%`, the scanned workspace's root (`originalUriBaseIds`). Files
//! that did not parse are `toolExecutionNotifications` of level `error`,
//! configuration warnings `toolConfigurationNotifications` of level
//! `warning`.
//!
//! `partialFingerprints.primaryLocationLineHash` is the first 16 bytes, in
//! hex, of the SHA-256 of `rule id NUL file NUL trimmed source line NUL
//! occurrence`, where the occurrence counts the earlier findings with the
//! same rule, file and line text. It does not contain the line number, so
//! a finding keeps its fingerprint when lines above it are added or
//! removed.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Scan;
use crate::config::{Kind, scan_path, slashed};
use crate::findings::{Finding, RULES, Rule};

/// The SARIF version written.
pub const VERSION: &str = "2.1.0";

/// The schema URI in the `$schema` property.
pub const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The tool's `informationUri`: the package's repository where Cargo.toml
/// sets one.
#[must_use]
pub fn information_uri() -> &'static str {
    match env!("CARGO_PKG_REPOSITORY") {
        "" => "urn:guard-audit",
        uri => uri,
    }
}

/// How sure a rule's findings are: `high` where the construct is read
/// directly (layers, CORS, body limits, an unparsed file), `medium` where
/// the check reasons over handler bodies and extractors.
#[must_use]
pub fn precision(rule: &Rule) -> &'static str {
    match rule.id {
        "GA-UNK-000" | "GA-CORS-004" | "GA-CORS-005" | "GA-BODY-008" | "GA-HDR-011"
        | "GA-LAYER-012" => "high",
        _ => "medium",
    }
}

fn cwe_link(id: u32) -> String {
    format!("[CWE-{id}](https://cwe.mitre.org/data/definitions/{id}.html)")
}

fn rule_json(rule: &Rule) -> Value {
    let mut tags = vec!["security".to_owned()];
    tags.extend(rule.cwe.iter().map(|c| format!("external/cwe/cwe-{c}")));
    let cwes: Vec<String> = rule.cwe.iter().map(|c| format!("CWE-{c}")).collect();
    let full = if cwes.is_empty() {
        rule.short.to_owned()
    } else {
        format!("{} ({})", rule.short, cwes.join(", "))
    };
    let links: Vec<String> = rule.cwe.iter().map(|c| cwe_link(*c)).collect();
    let markdown = if links.is_empty() {
        format!("**{}**: {}\n\n{}", rule.id, rule.short, rule.help)
    } else {
        format!(
            "**{}**: {}\n\n{}\n\nSee {}.",
            rule.id,
            rule.short,
            rule.help,
            links.join(", ")
        )
    };
    json!({
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.short},
        "fullDescription": {"text": full},
        "help": {"text": rule.help, "markdown": markdown},
        "defaultConfiguration": {"level": rule.default.level().as_str()},
        "properties": {
            "tags": tags,
            "security-severity": rule.default.score(),
            "precision": precision(rule),
        },
    })
}

/// A relative path as a URI reference (`/` separators, unsafe bytes
/// percent-encoded).
fn uri_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `artifactLocation` of a file: relative to `%SRCROOT%` where it is
/// inside the workspace, an absolute `file://` URI otherwise.
fn artifact(root: &Path, file: &Path) -> Value {
    match file.strip_prefix(root) {
        Ok(rel) => json!({"uri": uri_path(&slashed(rel)), "uriBaseId": "%SRCROOT%"}),
        Err(_) if file.is_absolute() => {
            json!({"uri": format!("file://{}", uri_path(&slashed(file)))})
        }
        Err(_) => json!({"uri": uri_path(&slashed(file)), "uriBaseId": "%SRCROOT%"}),
    }
}

/// The fingerprint of a finding (see the module docs).
#[must_use]
pub fn line_hash(rule: &str, file: &str, line_text: &str, occurrence: usize) -> String {
    let mut h = Sha256::new();
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(file.as_bytes());
    h.update([0]);
    h.update(line_text.trim().as_bytes());
    h.update([0]);
    h.update(occurrence.to_string().as_bytes());
    hex::encode(&h.finalize()[..16])
}

impl Scan {
    /// Each finding's fingerprint, in [`Scan::findings`] order.
    #[must_use]
    pub fn fingerprints(&self) -> Vec<String> {
        let mut texts: HashMap<&Path, Vec<String>> = HashMap::new();
        let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
        self.findings
            .iter()
            .map(|f| {
                let lines = texts.entry(f.location.file.as_path()).or_insert_with(|| {
                    crate::load::read_source(&scan_path(&self.root, &f.location.file))
                        .map(|t| t.lines().map(str::to_owned).collect())
                        .unwrap_or_default()
                });
                let text = f
                    .location
                    .line
                    .checked_sub(1)
                    .and_then(|i| lines.get(i))
                    .map_or("", |l| l.trim())
                    .to_owned();
                let file = slashed(&f.location.file);
                let n = seen
                    .entry((f.rule.to_owned(), file.clone(), text.clone()))
                    .or_insert(0);
                let hash = line_hash(f.rule, &file, &text, *n);
                *n += 1;
                hash
            })
            .collect()
    }

    fn result_json(&self, i: usize, f: &Finding, fingerprint: &str) -> Value {
        let index = RULES.iter().position(|r| r.id == f.rule);
        let mut result = json!({
            "ruleId": f.rule,
            "level": f.severity.level().as_str(),
            "message": {"text": f.message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": artifact(&self.root, &f.location.file),
                    "region": {
                        "startLine": f.location.line.max(1),
                        "startColumn": f.location.column.max(1),
                    },
                },
            }],
            "partialFingerprints": {"primaryLocationLineHash": fingerprint},
            "properties": {
                "security-severity": f.severity.score(),
                "severity": f.severity.as_str(),
            },
        });
        if let Some(index) = index {
            result["ruleIndex"] = json!(index);
        }
        if let Some(reason) = &f.suppressed {
            let kind = match self.suppressions.iter().find(|a| a.finding == i) {
                Some(a) if a.kind == Kind::InSource => "inSource",
                _ => "external",
            };
            result["suppressions"] = json!([{"kind": kind, "justification": reason}]);
        }
        result
    }

    /// The SARIF 2.1.0 log.
    #[must_use]
    pub fn to_sarif_value(&self) -> Value {
        let fingerprints = self.fingerprints();
        let results: Vec<Value> = self
            .findings
            .iter()
            .enumerate()
            .map(|(i, f)| self.result_json(i, f, &fingerprints[i]))
            .collect();
        let not_parsed: Vec<Value> = self
            .gaps
            .iter()
            .map(|g| {
                json!({
                    "level": "error",
                    "message": {"text": format!("{} was not parsed: {}", self.gap_file(g), g.error)},
                    "locations": [{"physicalLocation": {"artifactLocation": artifact(&self.root, &g.file)}}],
                })
            })
            .collect();
        let warnings: Vec<Value> = self
            .warnings
            .iter()
            .map(|w| json!({"level": "warning", "message": {"text": w}}))
            .collect();
        let mut root = uri_path(&slashed(&self.root));
        if !root.ends_with('/') {
            root.push('/');
        }
        if !root.starts_with('/') {
            root.insert(0, '/');
        }
        json!({
            "$schema": SCHEMA_URI,
            "version": VERSION,
            "runs": [{
                "tool": {"driver": {
                    "name": "guard-audit",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "informationUri": information_uri(),
                    "rules": RULES.iter().map(rule_json).collect::<Vec<_>>(),
                }},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": format!("file://{root}")}},
                "invocations": [{
                    // A file not parsed leaves the scan incomplete (exit
                    // status 3); each is an `error` notification here.
                    "executionSuccessful": self.gaps.is_empty(),
                    "toolExecutionNotifications": not_parsed,
                    "toolConfigurationNotifications": warnings,
                }],
                "results": results,
                "columnKind": "unicodeCodePoints",
            }],
        })
    }

    /// The SARIF 2.1.0 log, pretty-printed.
    #[must_use]
    pub fn to_sarif(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.to_sarif_value()).unwrap_or_default();
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_hash_depends_on_text_not_line_number() {
        let a = line_hash("GA-AUTH-001", "src/lib.rs", "  pub async fn h() {", 0);
        assert_eq!(
            a,
            line_hash("GA-AUTH-001", "src/lib.rs", "pub async fn h() {", 0)
        );
        assert_eq!(a.len(), 32);
        assert_ne!(
            a,
            line_hash("GA-AUTH-001", "src/lib.rs", "pub async fn h() {", 1)
        );
        assert_ne!(
            a,
            line_hash("GA-RATE-010", "src/lib.rs", "pub async fn h() {", 0)
        );
        assert_ne!(
            a,
            line_hash("GA-AUTH-001", "src/x.rs", "pub async fn h() {", 0)
        );
    }

    #[test]
    fn uris_are_relative_and_encoded() {
        let root = Path::new("/w/app");
        assert_eq!(
            artifact(root, Path::new("/w/app/src/a b.rs")),
            json!({"uri": "src/a%20b.rs", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            artifact(root, Path::new("src/lib.rs")),
            json!({"uri": "src/lib.rs", "uriBaseId": "%SRCROOT%"})
        );
        assert_eq!(
            artifact(root, Path::new("/elsewhere/lib.rs")),
            json!({"uri": "file:///elsewhere/lib.rs"})
        );
    }

    #[test]
    fn every_rule_has_tags_and_a_score() {
        for rule in RULES {
            let r = rule_json(rule);
            let tags = r["properties"]["tags"].as_array().map(Vec::len);
            assert_eq!(tags, Some(1 + rule.cwe.len()), "{}", rule.id);
            assert_eq!(r["properties"]["security-severity"], rule.default.score());
        }
        let auth = rule_json(&RULES[1]);
        assert_eq!(auth["properties"]["tags"][1], "external/cwe/cwe-306");
        assert_eq!(auth["defaultConfiguration"]["level"], "warning");
    }
}
