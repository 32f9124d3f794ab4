//! Near-identical findings collapsed for reading: the text and Markdown
//! outputs show findings with the same rule, severity, suppression and
//! message modulo the route as one entry listing the routes (ord gets 81
//! "authenticated only if ..." findings that differ only by route). JSON
//! and SARIF keep one result per endpoint (SARIF consumers need each
//! location).

use crate::findings::{Finding, Severity};

/// One entry of the findings list: a single finding, or several that
/// differ only by their endpoint.
#[derive(Debug)]
pub struct Group<'a> {
    /// The findings, in report order; the first one stands for the group.
    pub findings: Vec<&'a Finding>,
    /// The message with the route replaced by `{route}` (as written when
    /// the group holds one finding).
    template: String,
}

/// The route a finding's message names, as it is written there.
fn route(f: &Finding) -> Option<String> {
    f.endpoint.as_ref().map(|(m, p)| format!("{m} {p}"))
}

/// `f`'s message with its route (the first occurrence) replaced by
/// `{route}`; only endpoint findings group.
fn template(f: &Finding) -> Option<String> {
    let route = route(f)?;
    Some(f.message.replacen(&route, "{route}", 1))
}

impl Group<'_> {
    /// The number of findings in the group.
    #[must_use]
    pub fn len(&self) -> usize {
        self.findings.len()
    }

    /// Whether the group is empty (never, as built).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.findings.is_empty()
    }

    /// The message to show: the finding's own, or for a group the
    /// template with `{route}` replaced by `N routes`.
    #[must_use]
    pub fn message(&self) -> String {
        match self.findings.as_slice() {
            [one] => one.message.clone(),
            many => self
                .template
                .replacen("{route}", &format!("{} routes", many.len()), 1),
        }
    }

    /// The routes of a group of more than one finding, in report order
    /// (`None` for a single finding).
    #[must_use]
    pub fn routes(&self) -> Option<Vec<String>> {
        (self.findings.len() > 1).then(|| self.findings.iter().filter_map(|f| route(f)).collect())
    }
}

/// `findings` (in report order) grouped: an entry per distinct
/// (rule, severity, suppression, message modulo route), at the position
/// of its first finding.
#[must_use]
pub fn group<'a>(findings: &[&'a Finding]) -> Vec<Group<'a>> {
    let mut out: Vec<Group<'a>> = Vec::new();
    let mut index: std::collections::HashMap<(&str, Severity, Option<&str>, String), usize> =
        std::collections::HashMap::new();
    for &f in findings {
        let Some(t) = template(f) else {
            out.push(Group {
                findings: vec![f],
                template: f.message.clone(),
            });
            continue;
        };
        let key = (f.rule, f.severity, f.suppressed.as_deref(), t.clone());
        if let Some(&i) = index.get(&key) {
            out[i].findings.push(f);
        } else {
            index.insert(key, out.len());
            out.push(Group {
                findings: vec![f],
                template: t,
            });
        }
    }
    out
}

/// Routes joined with `, ` in lines of at most about `width` characters.
#[must_use]
pub fn wrap(routes: &[String], width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for r in routes {
        if !line.is_empty() && line.len() + r.len() + 2 > width {
            line.push(',');
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push_str(", ");
        }
        line.push_str(r);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Where a group is: the first finding's `file:line`, and `(+N more)`
/// for the others.
#[must_use]
pub fn location(g: &Group<'_>) -> String {
    let f = g.findings[0];
    let at = format!(
        "{}:{}",
        crate::config::slashed(&f.location.file),
        f.location.line
    );
    match g.len() {
        1 => at,
        n => format!("{at} (+{} more)", n - 1),
    }
}
