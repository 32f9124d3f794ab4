//! The route-by-route report of a router's security surface.
//!
//! A built router knows every route's [`RouteSpec`]; the report lays them
//! out as a text table (for the terminal), Markdown (for a review) or JSON
//! (for tools), plus the router-wide settings (authenticator, headers, CORS).
//! [`RouteReport::assert_snapshot`] lets an app's test pin the report in a
//! checked-in file, so a change to any route's guards shows up in review.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::rate::{QuotaSpec, RateUnit};
use crate::spec::{Access, RouteSpec};

/// One route of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteEntry {
    /// HTTP method, upper case.
    pub method: String,
    /// The route's path as given to the router (`/api/projects/{project}`).
    pub path: String,
    /// The handler function.
    pub handler: String,
    /// `"public"` or `"auth"`.
    pub access: &'static str,
    /// Why a public route is public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_reason: Option<String>,
    /// Roles of which the principal needs one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The permission the principal needs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    /// Path parameters loaded as owner-scoped resources.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub owner: Vec<String>,
    /// The strictly decoded body type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Identity fields the body may carry, by the route's explicit choice.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_identity_fields: Vec<String>,
    /// The strictly decoded query type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The body cap in bytes, where the route reads a body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_limit: Option<u64>,
    /// Rate limits in force, as `(scope, rate, source)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rates: Vec<RateEntry>,
    /// The upload cap and types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<UploadEntry>,
    /// Whether the route fetches user-supplied URLs (an outbound surface).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub fetch: bool,
    /// The cross-site request check: `"origin"` where unsafe requests
    /// must come from the service's own or a trusted origin (an unsafe
    /// method under a cookie authenticator: an `auth` route by
    /// [`CsrfPolicy::check`](crate::csrf::CsrfPolicy::check), a public one
    /// by [`CsrfPolicy::check_public`](crate::csrf::CsrfPolicy::check_public),
    /// which also lets clients with no browser headers through),
    /// `"none: <reason>"` where the route opted out; absent where no cookie
    /// carries the credential or the method is safe.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf: Option<String>,
    /// Where a static scan found the route (`src/lib.rs:42`); absent in
    /// the framework's own report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The layers a static scan found wrapping the route, innermost first;
    /// absent in the framework's own report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// Why a static scan could not tell the route's guards; absent in the
    /// framework's own report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    /// A static scan's verdict for each check on the route; absent in the
    /// framework's own report, whose guards are declared rather than
    /// inferred.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckVerdict>,
    /// `"server_fn"` for a Leptos server function; absent for a route
    /// handler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    /// The codec a server function's arguments arrive in (`"PostUrl"`,
    /// `"Json"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codec: Option<String>,
}

/// [`RouteEntry::kind`] of a Leptos server function.
pub const KIND_SERVER_FN: &str = "server_fn";

/// A static scan's verdict for one check (`GA-AUTH-001`, ...) on one route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckVerdict {
    /// The stable rule id.
    pub rule: String,
    /// `"guarded"`, `"unguarded"` or `"unknown"`.
    pub verdict: &'static str,
    /// Why: what guards the route, what is missing, or what the scan could
    /// not see.
    pub reason: String,
}

/// [`RouteEntry::csrf`] of a route whose unsafe requests are checked.
pub const CSRF_ORIGIN: &str = "origin";

/// One rate or quota in force on a route.
///
/// A quota row also states the worst case of its fixed window (see
/// [`QuotaSpec`]): the text and Markdown cell read
/// `quota: 200/day [fixed window: up to 400 (2×) in any 24 h span across a
/// window boundary]`, and the JSON object carries `"window": "fixed"`,
/// `"max_in_any_span"` (twice the count) and that sentence as `"bound"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateEntry {
    /// `"rate"`, `"rate_ip"`, `"rate_account"` or `"quota"`.
    pub kind: String,
    /// The canonical spec (`"10/min"`, `"5/s, burst = 10"`).
    pub spec: String,
    /// `"attribute"` or `"override"`.
    pub source: String,
}

impl RateEntry {
    /// For a quota row: the most requests its fixed windows can admit within
    /// one span of the window's length, and that span as text (`24 h`).
    fn quota_bound(&self) -> Option<(u64, &'static str)> {
        if self.kind != "quota" {
            return None;
        }
        let quota = QuotaSpec::parse(&self.spec).ok()?;
        let span = match quota.unit() {
            RateUnit::Second => "1 s",
            RateUnit::Minute => "1 min",
            RateUnit::Hour => "1 h",
            RateUnit::Day => "24 h",
        };
        Some((2 * u64::from(quota.count().get()), span))
    }

    /// The sentence a quota row carries: the fixed window's worst case.
    fn quota_note(&self) -> Option<String> {
        self.quota_bound().map(|(max, span)| {
            format!("fixed window: up to {max} (2×) in any {span} span across a window boundary")
        })
    }
}

impl Serialize for RateEntry {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let bound = self.quota_bound();
        let mut entry =
            serializer.serialize_struct("RateEntry", if bound.is_some() { 6 } else { 3 })?;
        entry.serialize_field("kind", &self.kind)?;
        entry.serialize_field("spec", &self.spec)?;
        entry.serialize_field("source", &self.source)?;
        if let Some((max, _)) = bound {
            entry.serialize_field("window", "fixed")?;
            entry.serialize_field("max_in_any_span", &max)?;
            entry.serialize_field("bound", &self.quota_note())?;
        }
        entry.end()
    }
}

/// An upload route's cap and types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadEntry {
    /// The cap in bytes.
    pub max_bytes: u64,
    /// Accepted file kinds.
    pub types: Vec<String>,
}

impl RouteEntry {
    /// The entry for one method of one path.
    #[must_use]
    pub fn new(method: &str, path: &str, spec: &RouteSpec) -> Self {
        let (access, public_reason, roles, permission) = match spec.access() {
            Access::Public { reason } => ("public", Some(reason.to_owned()), Vec::new(), None),
            Access::Authenticated { roles, permission } => (
                "auth",
                None,
                roles.iter().map(|r| (*r).to_owned()).collect(),
                permission.map(str::to_owned),
            ),
        };
        let owned = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let body = spec.body_spec();
        let limits = spec.rate_limits();
        let mut rates = Vec::new();
        let mut rate = |kind: &str, value: Option<String>| {
            if let Some(spec) = value {
                rates.push(RateEntry {
                    kind: kind.to_owned(),
                    spec,
                    source: "attribute".to_owned(),
                });
            }
        };
        rate("rate", limits.rate.map(|r| r.to_string()));
        rate("rate_ip", limits.per_ip.map(|r| r.to_string()));
        rate("rate_account", limits.per_account.map(|r| r.to_string()));
        rate(
            "rate_identifier",
            limits.per_identifier.map(|r| r.to_string()),
        );
        rate("quota", limits.quota.map(|r| r.to_string()));
        let reads_body =
            body.is_some() || spec.upload_spec().is_some() || spec.declared_body_limit().is_some();
        Self {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            handler: spec.handler().to_owned(),
            access,
            public_reason,
            roles,
            permission,
            owner: owned(spec.owner_params()),
            body: body.map(|b| b.type_name.to_owned()),
            allowed_identity_fields: body
                .map(|b| owned(b.allowed_identity_fields))
                .unwrap_or_default(),
            query: spec.query_type().map(str::to_owned),
            body_limit: reads_body.then(|| spec.effective_body_limit()),
            rates,
            upload: spec.upload_spec().map(|u| UploadEntry {
                max_bytes: u.max_bytes,
                types: owned(u.types),
            }),
            fetch: spec.fetches(),
            csrf: spec
                .csrf_exemption()
                .map(|reason| format!("none: {reason}")),
            source: None,
            layers: Vec::new(),
            unknown: None,
            checks: Vec::new(),
            kind: spec.server_fn_codec().map(|_| KIND_SERVER_FN),
            codec: spec.server_fn_codec().map(str::to_owned),
        }
    }

    fn access_cell(&self) -> String {
        match &self.public_reason {
            Some(reason) => format!("public: {reason}"),
            None => self.access.to_owned(),
        }
    }

    fn guards_cell(&self) -> String {
        let mut guards = Vec::new();
        if let Some(kind) = self.kind {
            match &self.codec {
                Some(codec) => guards.push(format!("{kind} (codec: {codec})")),
                None => guards.push(kind.to_owned()),
            }
        }
        if !self.roles.is_empty() {
            guards.push(format!("roles: {}", self.roles.join(" | ")));
        }
        if let Some(p) = &self.permission {
            guards.push(format!("permission: {p}"));
        }
        if !self.owner.is_empty() {
            guards.push(format!("owner: {}", self.owner.join(", ")));
        }
        if let Some(body) = &self.body {
            guards.push(format!("body: {body}"));
        }
        if !self.allowed_identity_fields.is_empty() {
            guards.push(format!(
                "identity fields allowed: {}",
                self.allowed_identity_fields.join(", ")
            ));
        }
        if let Some(query) = &self.query {
            guards.push(format!("query: {query}"));
        }
        if let Some(limit) = self.body_limit {
            guards.push(format!("body limit: {limit} B"));
        }
        for rate in &self.rates {
            let source = if rate.source == "attribute" {
                String::new()
            } else {
                format!(" ({})", rate.source)
            };
            let note = rate
                .quota_note()
                .map(|note| format!(" [{note}]"))
                .unwrap_or_default();
            guards.push(format!("{}: {}{source}{note}", rate.kind, rate.spec));
        }
        if let Some(upload) = &self.upload {
            guards.push(format!(
                "upload: {} B of {}",
                upload.max_bytes,
                upload.types.join(", ")
            ));
        }
        if self.fetch {
            guards.push("fetches user URLs".to_owned());
        }
        match self.csrf.as_deref() {
            Some(CSRF_ORIGIN) => guards.push("csrf: origin checked".to_owned()),
            Some(other) => match other.strip_prefix("none: ") {
                Some(reason) => guards.push(format!("csrf: none ({reason})")),
                None => guards.push(format!("csrf: {other}")),
            },
            None => {}
        }
        if guards.is_empty() {
            "-".to_owned()
        } else {
            guards.join("; ")
        }
    }

    fn cells(&self) -> [String; 5] {
        [
            self.method.clone(),
            self.path.clone(),
            self.access_cell(),
            self.guards_cell(),
            self.handler.clone(),
        ]
    }
}

const HEADINGS: [&str; 5] = ["METHOD", "PATH", "ACCESS", "GUARDS", "HANDLER"];

/// The security surface of a router.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouteReport {
    /// Router-wide settings, as `(name, value)`, in a fixed order.
    pub settings: Vec<(String, String)>,
    /// Every route, sorted by path then method.
    pub routes: Vec<RouteEntry>,
}

/// The report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// An aligned text table.
    Text,
    /// A Markdown table.
    Markdown,
    /// Pretty-printed JSON.
    Json,
}

impl RouteReport {
    /// A report of these routes and settings; routes are sorted.
    #[must_use]
    pub fn new(settings: Vec<(String, String)>, mut routes: Vec<RouteEntry>) -> Self {
        routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
        Self { settings, routes }
    }

    /// The route of this method and path, if any.
    #[must_use]
    pub fn route(&self, method: &str, path: &str) -> Option<&RouteEntry> {
        self.routes
            .iter()
            .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
    }

    /// The report in a format.
    #[must_use]
    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Text => self.to_text(),
            ReportFormat::Markdown => self.to_markdown(),
            ReportFormat::Json => self.to_json(),
        }
    }

    /// An aligned text table, one line per route, then the settings.
    #[must_use]
    pub fn to_text(&self) -> String {
        let rows: Vec<[String; 5]> = self.routes.iter().map(RouteEntry::cells).collect();
        let mut widths = HEADINGS.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let mut line = |cells: &[&str]| {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(cell.chars().count());
                text.push_str(cell);
                if i + 1 < cells.len() {
                    text.extend(std::iter::repeat_n(' ', pad + 2));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        };
        line(&HEADINGS);
        for row in &rows {
            line(&row.each_ref().map(String::as_str));
        }
        if !self.settings.is_empty() {
            out.push('\n');
            for (name, value) in &self.settings {
                let _ = writeln!(out, "{name}: {value}");
            }
        }
        out
    }

    /// A Markdown table, then the settings as a list.
    #[must_use]
    pub fn to_markdown(&self) -> String {
        fn cell(text: &str) -> String {
            text.replace('|', "\\|")
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| {} |",
            HEADINGS.map(|h| h.to_lowercase()).join(" | ")
        );
        let _ = writeln!(out, "|{}", "---|".repeat(HEADINGS.len()));
        for route in &self.routes {
            let cells = route.cells().map(|c| cell(&c));
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        if !self.settings.is_empty() {
            out.push('\n');
            for (name, value) in &self.settings {
                let _ = writeln!(out, "- **{}**: {}", cell(name), cell(value));
            }
        }
        out
    }

    /// Pretty-printed JSON: `{"settings": {...}, "routes": [...]}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        #[derive(Serialize)]
        struct Json<'a> {
            settings: serde_json::Map<String, serde_json::Value>,
            routes: &'a [RouteEntry],
        }
        let settings = self
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let json = Json {
            settings,
            routes: &self.routes,
        };
        let mut text = serde_json::to_string_pretty(&json).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Test helper: compares the report with a checked-in snapshot file and
    /// panics with both texts when they differ. With the environment variable
    /// `GUARD_SNAPSHOT=overwrite` it writes the file instead (then read the
    /// diff before committing it). A missing file is written the same way
    /// only under `overwrite`; otherwise it is a failure, so CI cannot pass
    /// by creating its own snapshot.
    ///
    /// # Panics
    ///
    /// When the snapshot differs or is missing; that is the test failing.
    pub fn assert_snapshot(&self, format: ReportFormat, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let actual = self.render(format);
        if std::env::var("GUARD_SNAPSHOT").as_deref() == Ok("overwrite") {
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(err) = std::fs::write(path, &actual) {
                panic!("cannot write snapshot {}: {err}", path.display());
            }
            return;
        }
        match std::fs::read_to_string(path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => panic!(
                "route report differs from {}\n--- expected\n{expected}\n--- actual\n{actual}\n\
                 (rerun with GUARD_SNAPSHOT=overwrite to accept, then review the diff)",
                path.display()
            ),
            Err(err) => panic!(
                "no route report snapshot at {} ({err}); rerun with GUARD_SNAPSHOT=overwrite to create it\n{actual}",
                path.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RouteReport {
        const HEALTH: RouteSpec = RouteSpec::public("health", "app", "health check");
        const ADMIN: RouteSpec = RouteSpec::authenticated("purge", "app")
            .roles(&["admin", "ops"])
            .permission("projects:purge");
        RouteReport::new(
            vec![("authenticator".into(), "session cookie".into())],
            vec![
                RouteEntry::new("post", "/admin/purge", &ADMIN),
                RouteEntry::new("get", "/healthz", &HEALTH),
            ],
        )
    }

    #[test]
    fn text_table_is_aligned_and_sorted() {
        let expected = "\
METHOD  PATH          ACCESS                GUARDS                                          HANDLER
POST    /admin/purge  auth                  roles: admin | ops; permission: projects:purge  purge
GET     /healthz      public: health check  -                                               health

authenticator: session cookie
";
        assert_eq!(sample().to_text(), expected);
    }

    #[test]
    fn markdown_escapes_pipes() {
        let md = sample().to_markdown();
        assert!(md.contains("| POST | /admin/purge | auth | roles: admin \\| ops; permission: projects:purge | purge |"));
        assert!(md.contains("- **authenticator**: session cookie"));
    }

    #[test]
    fn json_is_structured() {
        let json: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(
            json["routes"][0]["roles"],
            serde_json::json!(["admin", "ops"])
        );
        assert_eq!(json["routes"][1]["public_reason"], "health check");
        assert_eq!(json["settings"]["authenticator"], "session cookie");
    }

    #[test]
    fn quota_rows_state_the_fixed_window_bound_in_every_format() {
        use crate::rate::{QuotaSpec, RateSpec};
        use crate::spec::RateLimits;
        const LIMITS: RateLimits = RateLimits::new()
            .rate(match RateSpec::parse("10/min") {
                Ok(rate) => rate,
                Err(_) => panic!("rate"),
            })
            .quota(match QuotaSpec::parse("200/day") {
                Ok(quota) => quota,
                Err(_) => panic!("quota"),
            });
        const PREVIEW: RouteSpec = RouteSpec::authenticated("preview", "app").limits(LIMITS);
        let report = RouteReport::new(
            Vec::new(),
            vec![RouteEntry::new("post", "/preview", &PREVIEW)],
        );
        let note = "fixed window: up to 400 (2×) in any 24 h span across a window boundary";

        let text = report.to_text();
        assert!(
            text.contains(&format!("rate: 10/min; quota: 200/day [{note}]  preview")),
            "{text}"
        );
        // A rate row is a GCRA rate and carries no window note.
        assert!(!text.contains("10/min ["), "{text}");
        let md = report.to_markdown();
        assert!(
            md.contains(&format!(
                "| rate: 10/min; quota: 200/day [{note}] | preview |"
            )),
            "{md}"
        );

        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(
            json["routes"][0]["rates"],
            serde_json::json!([
                {"kind": "rate", "spec": "10/min", "source": "attribute"},
                {
                    "kind": "quota",
                    "spec": "200/day",
                    "source": "attribute",
                    "window": "fixed",
                    "max_in_any_span": 400,
                    "bound": note,
                },
            ])
        );

        for (spec, span, max) in [
            ("1/s", "1 s", 2),
            ("30/min", "1 min", 60),
            ("5/h", "1 h", 10),
            ("4294967295/day", "24 h", 8_589_934_590_u64),
        ] {
            let entry = RateEntry {
                kind: "quota".into(),
                spec: spec.into(),
                source: "override".into(),
            };
            assert_eq!(entry.quota_bound(), Some((max, span)), "{spec}");
        }
    }

    #[test]
    fn route_lookup_ignores_method_case() {
        assert_eq!(sample().route("get", "/healthz").unwrap().handler, "health");
        assert!(sample().route("GET", "/nope").is_none());
    }

    #[test]
    fn server_fn_rows_say_their_kind_and_codec_and_routes_do_not() {
        const DELETE: RouteSpec = RouteSpec::authenticated("delete_todo", "app")
            .owner(&["todo"])
            .server_fn("PostUrl");
        const ROUTE: RouteSpec = RouteSpec::authenticated("me", "app");
        let server_fn = RouteEntry::new("POST", "/api/delete_todo123", &DELETE);
        assert_eq!(server_fn.kind, Some(KIND_SERVER_FN));
        assert_eq!(server_fn.codec.as_deref(), Some("PostUrl"));
        assert!(
            server_fn
                .guards_cell()
                .starts_with("server_fn (codec: PostUrl); owner: todo")
        );
        let json = serde_json::to_value(&server_fn).unwrap();
        assert_eq!(json["kind"], "server_fn");
        let route = RouteEntry::new("GET", "/api/me", &ROUTE);
        assert_eq!((route.kind, route.codec.as_deref()), (None, None));
        let json = serde_json::to_value(&route).unwrap();
        assert!(json.get("kind").is_none() && json.get("codec").is_none());
        // A server function's `owner` names an argument, not a path segment.
        assert!(DELETE.check("POST", "/api/delete_todo123").is_empty());
        assert!(DELETE.server_fn_codec().is_some());
    }
}
