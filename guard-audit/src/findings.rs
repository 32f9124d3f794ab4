//! What the checks produce: per-endpoint verdicts and findings, and the
//! rule table (stable ids, CWE, default level) every output reads.

use std::path::PathBuf;

use guard_core::report::CheckVerdict;

/// A SARIF result level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `note`.
    Note,
    /// `warning`.
    Warning,
    /// `error`.
    Error,
}

impl Level {
    /// The SARIF spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Note => "note",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// How bad a finding is; `--fail-on` compares against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Informational.
    Low,
    /// Worth fixing.
    Medium,
    /// Fix before launch.
    High,
    /// Exploitable as written.
    Critical,
}

impl Severity {
    /// The lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// The GitHub code-scanning `security-severity` score.
    #[must_use]
    pub fn score(self) -> &'static str {
        match self {
            Self::Low => "3.0",
            Self::Medium => "5.5",
            Self::High => "8.0",
            Self::Critical => "9.5",
        }
    }

    /// The SARIF level of a finding of this severity.
    #[must_use]
    pub fn level(self) -> Level {
        match self {
            Self::Low => Level::Note,
            Self::Medium => Level::Warning,
            Self::High | Self::Critical => Level::Error,
        }
    }

    /// Parses `low|medium|high|critical`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "low" => Some(Self::Low),
            "medium" => Some(Self::Medium),
            "high" => Some(Self::High),
            "critical" => Some(Self::Critical),
            _ => None,
        }
    }
}

/// One check's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The stable id (`GA-AUTH-001`).
    pub id: &'static str,
    /// A short PascalCase name (SARIF `name`).
    pub name: &'static str,
    /// One sentence: what the rule finds.
    pub short: &'static str,
    /// What to do about it.
    pub help: &'static str,
    /// The CWE ids.
    pub cwe: &'static [u32],
    /// The severity a finding has unless the check raises or lowers it.
    pub default: Severity,
}

/// Every rule, in id order.
pub const RULES: &[Rule] = &[
    Rule {
        id: "GA-UNK-000",
        name: "UnknownEndpoint",
        short: "An endpoint or file the scan could not read; its guards are unknown.",
        help: "Make the handler resolvable (a plain fn path), or suppress with a reason after checking it by hand.",
        cwe: &[],
        default: Severity::Medium,
    },
    Rule {
        id: "GA-AUTH-001",
        name: "MissingAuthentication",
        short: "A route with no authentication: no auth extractor, no auth layer before it, no guard call in its body.",
        help: "Require a session or token (an auth extractor or a layer added after the route), or declare it public with a reason.",
        cwe: &[306],
        default: Severity::Medium,
    },
    Rule {
        id: "GA-AUTHZ-002",
        name: "InsecureDirectObjectReference",
        short: "A handler loads or changes a record by a path id with no owner, tenant or user predicate and no access check.",
        help: "Scope the query by the principal (`WHERE id = ? AND owner_id = ?`) and answer 404 for what is not theirs.",
        cwe: &[639, 862],
        default: Severity::High,
    },
    Rule {
        id: "GA-INPUT-003",
        name: "UnvalidatedInput",
        short: "A Json, Form or Query body whose type is not validated or accepts unknown fields.",
        help: "Derive `validator::Validate` (or garde) and call it, or use a validating extractor; add `#[serde(deny_unknown_fields)]`.",
        cwe: &[20],
        default: Severity::Medium,
    },
    Rule {
        id: "GA-CORS-004",
        name: "CredentialedPermissiveCors",
        short: "CORS allows credentials for any or a mirrored origin.",
        help: "List the allowed origins exactly; never combine credentials with a mirrored or any origin.",
        cwe: &[942, 346],
        default: Severity::High,
    },
    Rule {
        id: "GA-CORS-005",
        name: "PermissiveCors",
        short: "CORS allows any origin (without credentials).",
        help: "List the allowed origins unless the API is meant to be read from any site.",
        cwe: &[942],
        default: Severity::Low,
    },
    Rule {
        id: "GA-SSRF-006",
        name: "ServerSideRequestForgery",
        short: "An outbound request whose URL comes from request data.",
        help: "Fix the scheme and host in code, or fetch through an SSRF-safe client that refuses private and metadata addresses.",
        cwe: &[918],
        default: Severity::High,
    },
    Rule {
        id: "GA-ERR-007",
        name: "ErrorDetailInResponse",
        short: "An internal error's text reaches the client.",
        help: "Log the detail under an error id and answer a fixed generic body.",
        cwe: &[209],
        default: Severity::Medium,
    },
    Rule {
        id: "GA-BODY-008",
        name: "UnboundedBody",
        short: "A body limit disabled or very large, or a raw body stream read with no limit.",
        help: "Keep axum's default limit or set `RequestBodyLimitLayer` to what the route needs.",
        cwe: &[770, 400],
        default: Severity::Medium,
    },
    Rule {
        id: "GA-UPLOAD-009",
        name: "UncheckedUpload",
        short: "A multipart upload with no size check, no content sniffing, or the client's file name in a path.",
        help: "Cap the size, sniff the type from the bytes (`infer`), and store under a generated name.",
        cwe: &[434, 22],
        default: Severity::High,
    },
    Rule {
        id: "GA-RATE-010",
        name: "MissingRateLimit",
        short: "A login, signup, reset, upload or expensive route with no rate limit.",
        help: "Add a per-IP and per-account limit (tower_governor, or `rate = ...` in `#[secure_route]`).",
        cwe: &[307, 770],
        default: Severity::Medium,
    },
    Rule {
        id: "GA-HDR-011",
        name: "MissingSecurityHeaders",
        short: "Responses carry no security headers (HSTS, nosniff, frame options, CSP).",
        help: "Add tower-http `SetResponseHeaderLayer`s for the headers, or use `GuardedRouter`.",
        cwe: &[693, 1021],
        default: Severity::Low,
    },
    Rule {
        id: "GA-LAYER-012",
        name: "LayerOrder",
        short: "An auth or limit layer added before the routes it appears meant to cover, which it does not wrap.",
        help: "Call `.layer(...)`/`.route_layer(...)` after the routes it must wrap: axum layers wrap only earlier routes.",
        cwe: &[696, 863],
        default: Severity::High,
    },
];

/// The rule of an id.
#[must_use]
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// A verdict state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// A guard was found.
    Guarded,
    /// No guard: a finding was raised.
    Unguarded,
    /// The scan could not tell.
    Unknown,
}

impl Verdict {
    /// `"guarded"`, `"unguarded"` or `"unknown"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Guarded => "guarded",
            Self::Unguarded => "unguarded",
            Self::Unknown => "unknown",
        }
    }
}

/// A place in the scanned source.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The file, relative to the workspace root.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule id.
    pub rule: &'static str,
    /// Its severity (the rule's default, raised or lowered by the check).
    pub severity: Severity,
    /// What is wrong here, naming the route and the construct.
    pub message: String,
    /// Where.
    pub location: Location,
    /// The endpoint, as `(METHOD, path)`, where the finding is about one.
    pub endpoint: Option<(String, String)>,
    /// The suppression's reason where a configured suppression matched.
    pub suppressed: Option<String>,
}

/// Everything the checks produced.
#[derive(Debug, Default)]
pub struct Results {
    /// Per endpoint (index into [`crate::checks::Ctx::endpoints`]), the
    /// verdict of each check that applies to it.
    pub verdicts: Vec<Vec<CheckVerdict>>,
    /// Every finding, endpoint-bound or not.
    pub findings: Vec<Finding>,
}

impl Results {
    /// Results for `endpoints` endpoints, nothing found yet.
    #[must_use]
    pub fn new(endpoints: usize) -> Self {
        Self {
            verdicts: vec![Vec::new(); endpoints],
            findings: Vec::new(),
        }
    }

    /// Records a check's verdict on an endpoint (the last one per rule wins).
    pub fn verdict(
        &mut self,
        endpoint: usize,
        rule: &str,
        verdict: Verdict,
        reason: impl Into<String>,
    ) {
        let Some(list) = self.verdicts.get_mut(endpoint) else {
            return;
        };
        let reason = reason.into();
        if let Some(v) = list.iter_mut().find(|v| v.rule == rule) {
            v.verdict = verdict.as_str();
            v.reason = reason;
        } else {
            list.push(CheckVerdict {
                rule: rule.to_owned(),
                verdict: verdict.as_str(),
                reason,
            });
        }
    }

    /// The verdict a check gave an endpoint, if any.
    #[must_use]
    pub fn verdict_of(&self, endpoint: usize, rule: &str) -> Option<&CheckVerdict> {
        self.verdicts.get(endpoint)?.iter().find(|v| v.rule == rule)
    }

    /// Records a finding.
    pub fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }
}
