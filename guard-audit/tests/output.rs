//! The outputs on real fixture scans and on a synthetic scan with a finding
//! of every rule: SARIF against the vendored 2.1.0 schema, the JSON's
//! documented keys, the text and Markdown sections, fingerprints that
//! survive line shifts.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::{Path, PathBuf};

use guard_audit::Scan;
use guard_audit::findings::{Finding, Location, RULES, Severity};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .join("Cargo.toml")
}

fn scan(name: &str) -> Scan {
    guard_audit::scan(&fixture(name)).unwrap()
}

fn escape_language_pattern(v: &mut Value) -> usize {
    match v {
        Value::String(s) if s == "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$" => {
            *s = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\\]?$".to_owned();
            1
        }
        Value::Array(a) => a.iter_mut().map(escape_language_pattern).sum(),
        Value::Object(o) => o.values_mut().map(escape_language_pattern).sum(),
        _ => 0,
    }
}

fn sarif_errors(log: &Value) -> Vec<String> {
    let mut schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    // The official schema's `language` patterns have a stray `]` (a
    // literal in ECMA-262, a syntax error for the Rust regex engine the
    // meta-schema check uses). The vendored file is kept as published; the
    // test escapes it. guard-audit never writes `language`.
    assert!(escape_language_pattern(&mut schema) >= 2);
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap();
    validator
        .iter_errors(log)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn finding(rule: &'static str, severity: Severity, file: &str, line: usize) -> Finding {
    Finding {
        rule,
        severity,
        message: format!("GET /x|y: {rule} here"),
        location: Location {
            file: PathBuf::from(file),
            line,
            column: 5,
        },
        endpoint: Some(("GET".to_owned(), "/x".to_owned())),
        suppressed: None,
    }
}

/// The broken_file scan plus one finding of every rule, the last one
/// suppressed.
fn every_rule() -> Scan {
    let mut s = scan("broken_file");
    // Only the unparsed file's finding, whatever the checks find in it.
    s.findings.retain(|f| f.rule == "GA-UNK-000");
    for (i, rule) in RULES.iter().enumerate() {
        s.findings
            .push(finding(rule.id, rule.default, "src/lib.rs", 1 + i % 7));
    }
    s.findings.last_mut().unwrap().suppressed = Some("reviewed".to_owned());
    s.warnings
        .push("guard-audit.toml suppress[0]: matched no finding".to_owned());
    s
}

#[test]
fn sarif_of_the_broken_file_fixture_is_valid() {
    let s = scan("broken_file");
    let log = s.to_sarif_value();
    assert_eq!(sarif_errors(&log), Vec::<String>::new());
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "guard-audit");
    assert_eq!(
        run["tool"]["driver"]["rules"].as_array().unwrap().len(),
        RULES.len()
    );
    let notes = run["invocations"][0]["toolExecutionNotifications"]
        .as_array()
        .unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0]["level"], "error");
    assert_eq!(
        notes[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/bad.rs"
    );
    let results = run["results"].as_array().unwrap();
    let unk: Vec<_> = results
        .iter()
        .filter(|r| r["ruleId"] == "GA-UNK-000")
        .collect();
    assert_eq!(unk.len(), 1, "{results:?}");
    assert_eq!(unk[0]["ruleIndex"], 0);
    assert_eq!(unk[0]["level"], "warning");
    assert_eq!(
        unk[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"],
        "%SRCROOT%"
    );
    assert!(
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"]
            .as_str()
            .unwrap()
            .ends_with("broken_file/")
    );
}

#[test]
fn sarif_with_every_rule_is_valid_and_complete() {
    let s = every_rule();
    let log = s.to_sarif_value();
    assert_eq!(sarif_errors(&log), Vec::<String>::new());
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    for (i, rule) in RULES.iter().enumerate() {
        let r = &rules[i];
        assert_eq!(r["id"], rule.id);
        assert_eq!(
            r["defaultConfiguration"]["level"],
            rule.default.level().as_str()
        );
        let tags: Vec<&str> = r["properties"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert!(tags.contains(&"security"), "{tags:?}");
        for cwe in rule.cwe {
            assert!(tags.contains(&format!("external/cwe/cwe-{cwe}").as_str()));
        }
        assert!(r["help"]["markdown"].as_str().unwrap().contains(rule.id));
    }
    let results = run["results"].as_array().unwrap();
    for rule in RULES {
        let r = results
            .iter()
            .find(|r| {
                r["ruleId"] == rule.id && r["message"]["text"].as_str().unwrap().contains("here")
            })
            .unwrap();
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(RULES[index].id, rule.id);
        assert_eq!(r["properties"]["security-severity"], rule.default.score());
        assert_eq!(
            r["locations"][0]["physicalLocation"]["region"]["startColumn"],
            5
        );
    }
    let suppressed: Vec<_> = results
        .iter()
        .filter(|r| r.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(suppressed[0]["suppressions"][0]["kind"], "external");
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "reviewed"
    );
    assert_eq!(
        run["invocations"][0]["toolConfigurationNotifications"][0]["level"],
        "warning"
    );
}

#[test]
fn the_schema_check_rejects_an_invalid_log() {
    let mut log = every_rule().to_sarif_value();
    log["runs"][0]["results"][0]["level"] = Value::from("fatal");
    assert!(!sarif_errors(&log).is_empty());
    let mut log = every_rule().to_sarif_value();
    log["runs"][0]["results"][0]["suppressions"] = serde_json::json!([{"kind": "ignored"}]);
    assert!(!sarif_errors(&log).is_empty());
}

#[test]
fn fingerprints_survive_lines_added_above() {
    let dir = std::env::temp_dir().join(format!("guard-audit-fp-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let body = "pub async fn a() {}\npub async fn b() {}\npub async fn a() {}\n";
    std::fs::write(dir.join("src/lib.rs"), body).unwrap();
    let mut s = scan("broken_file");
    s.root.clone_from(&dir);
    s.findings = vec![
        finding("GA-AUTH-001", Severity::Medium, "src/lib.rs", 1),
        finding("GA-AUTH-001", Severity::Medium, "src/lib.rs", 2),
        finding("GA-AUTH-001", Severity::Medium, "src/lib.rs", 3),
    ];
    let before = s.fingerprints();
    // The same text on lines 1 and 3 still gets two fingerprints.
    assert_ne!(before[0], before[2]);
    assert_ne!(before[0], before[1]);
    std::fs::write(dir.join("src/lib.rs"), format!("use x;\n\n{body}")).unwrap();
    for f in &mut s.findings {
        f.location.line += 2;
    }
    assert_eq!(s.fingerprints(), before);
    // Negative: a changed line is a different fingerprint.
    std::fs::write(
        dir.join("src/lib.rs"),
        format!("use x;\n\n{}", body.replace("fn b", "fn c")),
    )
    .unwrap();
    let changed = s.fingerprints();
    assert_eq!(changed[0], before[0]);
    assert_ne!(changed[1], before[1]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn json_has_the_documented_keys() {
    let s = every_rule();
    let v: Value = serde_json::from_str(&s.to_json()).unwrap();
    for key in [
        "report",
        "tables",
        "findings",
        "totals",
        "not_parsed",
        "roots",
        "warnings",
    ] {
        assert!(v.get(key).is_some(), "no {key}");
    }
    assert_eq!(v["tables"][0]["root"], "broken_file::app");
    assert_eq!(v["tables"][0]["routes"][0]["path"], "/ok");
    assert_eq!(v["not_parsed"][0]["file"], "src/bad.rs");
    let t = &v["totals"];
    assert_eq!(t["endpoints"], 1);
    assert_eq!(t["files_not_parsed"], 1);
    assert_eq!(t["suppressed"], 1);
    // Unsuppressed, by the rules' defaults: GA-UNK-000 twice (the gap and
    // the synthetic one), the last rule (GA-LAYER-012, high) suppressed.
    let by = |s: Severity| RULES.iter().filter(|r| r.default == s).count();
    assert_eq!(t["findings"]["high"], by(Severity::High) - 1);
    assert_eq!(t["findings"]["medium"], by(Severity::Medium) + 1);
    assert_eq!(t["findings"]["low"], by(Severity::Low));
    assert_eq!(t["findings"]["critical"], 0);
    // Worst first.
    assert_eq!(v["findings"][0]["severity"], "high");
    assert_eq!(v["findings"][0]["endpoint"]["method"], "GET");
}

#[test]
fn text_groups_findings_by_severity_and_shows_suppressed() {
    let mut s = scan("broken_file");
    s.findings.retain(|f| f.rule == "GA-UNK-000");
    s.findings
        .push(finding("GA-CORS-005", Severity::Low, "src/lib.rs", 2));
    s.findings
        .push(finding("GA-CORS-004", Severity::Critical, "src/lib.rs", 3));
    let mut hidden = finding("GA-AUTH-001", Severity::High, "src/lib.rs", 4);
    hidden.suppressed = Some("a public probe".to_owned());
    s.findings.push(hidden);
    let text = s.to_text();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no {needle} in\n{text}"))
    };
    assert!(at("== router broken_file::app ==") < at("Findings"));
    assert!(at("  critical (1)") < at("  medium (1)"));
    assert!(at("  medium (1)") < at("  low (1)"));
    assert!(at("  low (1)") < at("  suppressed (1)"));
    assert!(text.contains(
        "GA-AUTH-001  high  src/lib.rs:4  GET /x|y: GA-AUTH-001 here  [suppressed: a public probe]"
    ));
    assert!(
        !text.contains("  high ("),
        "the only high finding is suppressed:\n{text}"
    );
    assert!(text.contains("NOT PARSED src/bad.rs: parse:"));
    assert!(text.ends_with(
        "1 endpoints: 1 resolved, 0 unknown; 1 files not parsed; findings: 1 critical, 0 high, 1 medium, 1 low; 1 suppressed\n"
    ), "{text}");
    assert!(s.fails(guard_audit::config::FailOn::At(Severity::Critical)));
    s.findings.retain(|f| f.severity != Severity::Critical);
    assert!(
        !s.fails(guard_audit::config::FailOn::At(Severity::High)),
        "the high one is suppressed"
    );
    assert!(s.fails(guard_audit::config::FailOn::At(Severity::Medium)));
}

#[test]
fn each_route_shows_its_verdicts() {
    let mut s = scan("broken_file");
    s.tables[0].1.routes[0].checks = vec![guard_core::report::CheckVerdict {
        rule: "GA-AUTH-001".to_owned(),
        verdict: "unguarded",
        reason: "synthetic verdict reason".to_owned(),
    }];
    let text = s.to_text();
    assert!(
        text.contains(
            "GET /ok  at src/lib.rs:7\n    GA-AUTH-001 unguarded: synthetic verdict reason\n"
        ),
        "{text}"
    );
    let md = s.to_markdown();
    assert!(md.contains("- `GET /ok` at `src/lib.rs:7`\n  - GA-AUTH-001 **unguarded**: synthetic verdict reason\n"), "{md}");
    // Negative: no verdicts, no verdict lines.
    s.tables[0].1.routes[0].checks.clear();
    assert!(!s.to_text().contains("synthetic verdict reason"));
}

#[test]
fn markdown_has_a_section_per_part_and_escapes_cells() {
    let s = every_rule();
    let md = s.to_markdown();
    assert!(md.contains("## Router `broken_file::app`"), "{md}");
    assert!(md.contains("| method | path | access | guards | handler |"));
    assert!(md.contains("### high ("));
    assert!(md.contains("### suppressed (1)"));
    assert!(
        md.contains("GET /x\\|y: GA-AUTH-001 here"),
        "a pipe in a message is escaped"
    );
    assert!(!md.contains("GET /x|y"));
    assert!(md.contains("## NOT PARSED\n\n- `src/bad.rs`: parse:"));
    assert!(md.contains("## Warnings"));
    assert!(md.contains("**Totals**: 1 endpoints"));
}

#[test]
fn suppressions_from_config_and_source() {
    let s = scan("out_suppress");
    let of = |path: &str| {
        s.findings
            .iter()
            .find(|f| f.rule == "GA-UNK-000" && f.endpoint.as_ref().is_some_and(|(_, p)| p == path))
            .unwrap()
    };
    assert_eq!(
        of("/health").suppressed.as_deref(),
        Some("the probe answers a constant")
    );
    assert_eq!(
        of("/admin").suppressed.as_deref(),
        Some("admin handlers are generated; reviewed by hand")
    );
    assert_eq!(
        of("/metrics").suppressed,
        None,
        "an inline allow with no reason"
    );
    assert!(
        s.warnings
            .iter()
            .any(|w| w
                == "guard-audit.toml suppress[1]: suppression of GA-UNK-000 matched no finding"),
        "{:?}",
        s.warnings
    );
    assert!(s.warnings.iter().any(|w| w.starts_with("src/lib.rs:11: `guard-audit: allow(GA-UNK-000)` has no reason")), "{:?}", s.warnings);
    assert_eq!(s.fail_on, guard_audit::config::FailOn::At(Severity::Medium));
    let kinds: Vec<_> = s
        .suppressions
        .iter()
        .map(|a| (a.kind, a.origin.as_str()))
        .collect();
    assert!(kinds.contains(&(
        guard_audit::config::Kind::External,
        "guard-audit.toml suppress[0]"
    )));
    assert!(kinds.contains(&(guard_audit::config::Kind::InSource, "src/lib.rs:9")));
    let sarif = s.to_sarif_value();
    assert_eq!(sarif_errors(&sarif), Vec::<String>::new());
    let kinds: Vec<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["suppressions"][0]["kind"].as_str())
        .collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"inSource") && kinds.contains(&"external"));
}

#[test]
fn config_in_workspace_metadata() {
    let s = scan("out_metadata");
    assert_eq!(s.fail_on, guard_audit::config::FailOn::At(Severity::Low));
    let hook = s.findings.iter().find(|f| f.rule == "GA-UNK-000").unwrap();
    assert_eq!(
        hook.suppressed.as_deref(),
        Some("the handler lives in a generated crate")
    );
    assert!(
        s.config_file
            .as_ref()
            .unwrap()
            .ends_with("out_metadata/Cargo.toml")
    );
    // Negative: a workspace with no configuration.
    let plain = scan("broken_file");
    assert_eq!(plain.config_file, None);
    assert!(plain.findings.iter().all(|f| f.suppressed.is_none()));
}

#[test]
fn severity_override_and_invalid_config() {
    let options = guard_audit::Options {
        config: Some(fixture("out_suppress").with_file_name("severity.toml")),
        ..guard_audit::Options::default()
    };
    let s = guard_audit::scan_with(&fixture("out_suppress"), &options).unwrap();
    let unk: Vec<_> = s
        .findings
        .iter()
        .filter(|f| f.rule == "GA-UNK-000")
        .collect();
    assert_eq!(unk.len(), 3);
    assert!(unk.iter().all(|f| f.severity == Severity::Critical));
    // Negative: without the override they keep the rule's default.
    assert!(
        scan("out_suppress")
            .findings
            .iter()
            .filter(|f| f.rule == "GA-UNK-000")
            .all(|f| f.severity == Severity::Medium)
    );
    let bad = guard_audit::Options {
        config: Some(fixture("out_suppress").with_file_name("unknown_key.toml")),
        ..guard_audit::Options::default()
    };
    let e = guard_audit::scan_with(&fixture("out_suppress"), &bad).unwrap_err();
    assert!(e.to_string().contains("`exclude`: unknown key"), "{e}");
}
