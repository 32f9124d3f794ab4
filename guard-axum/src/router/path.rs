//! The path rules axum 0.8 enforces by panicking, and how nested paths
//! join, checked and computed before the build.

/// `prefix` + `path`, as axum nests them (`/api` + `/` = `/api`).
pub(super) fn join(prefix: &str, path: &str) -> String {
    match path {
        "/" if !prefix.is_empty() => prefix.to_owned(),
        _ => format!("{prefix}{path}"),
    }
}

/// How the report shows a mounted service: its path and everything below.
pub(super) fn service_path(path: &str) -> String {
    format!("{}/{{*rest}}", path.trim_end_matches('/'))
}

/// What axum refuses (by panicking) in a `nest` or `nest_service` path.
pub(super) fn prefix_problem(prefix: &str) -> Option<String> {
    if prefix == "/" || prefix.is_empty() {
        return Some(format!(
            "cannot nest at `{prefix}`; use `merge` (or `fallback`) for the root"
        ));
    }
    if prefix.ends_with('/') {
        return Some(format!("nest path `{prefix}` must not end with `/`"));
    }
    if prefix.contains("{*") {
        return Some(format!("nest path `{prefix}` cannot contain a wildcard"));
    }
    path_problem(prefix)
}

/// A path with its parameter names erased: two paths of the same shape
/// conflict (axum panics on them).
pub(super) fn shape(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg.strip_prefix("{*") {
            Some(_) => "{*}",
            None if seg.starts_with('{') => "{}",
            None => seg,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The path rules axum 0.8 enforces by panicking, checked first so the
/// router reports them instead.
pub(super) fn path_problem(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return Some(format!("route path `{path}` must start with `/`"));
    }
    let mut names: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        if let Some(name) = segment
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .map(|name| name.trim_start_matches('*'))
        {
            // axum accepts it, and `Path` then sees one value under two
            // fields or refuses every request to the route.
            if names.contains(&name) {
                return Some(format!(
                    "route path `{path}` names the parameter `{name}` twice; give each its own name"
                ));
            }
            names.push(name);
        }
        if segment.starts_with(':') || segment.starts_with('*') {
            return Some(format!(
                "route path `{path}` uses the old `{segment}` syntax; axum 0.8 writes parameters as `{{name}}` and wildcards as `{{*name}}`"
            ));
        }
        let opens = segment.matches('{').count();
        let closes = segment.matches('}').count();
        if opens != closes
            || opens > 1
            || (opens == 1 && !(segment.starts_with('{') && segment.ends_with('}')))
        {
            return Some(format!(
                "route path `{path}`: segment `{segment}` must be a whole `{{name}}` parameter"
            ));
        }
    }
    None
}
