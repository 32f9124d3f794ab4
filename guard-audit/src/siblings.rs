//! Published siblings: a service split into crates that are published on
//! their own (`kellnr` depends on `kellnr-web-ui = "6.13.0"`, where its
//! handlers are) has no `path =` dependencies once it is fetched from a
//! registry, so following path dependencies alone finds the routes but not
//! the handlers. A non-path, non-dev dependency that names the same
//! `repository` as the package that depends on it is the same project's
//! code: it is loaded from cargo's registry cache like a path dependency.
//! Other registry crates (axum, sqlx, ...) are never loaded.

use std::path::{Path, PathBuf};

use cargo_metadata::semver::Version;
use cargo_metadata::{DependencyKind, Package};

/// A repository URL compared loosely: scheme, case, `.git` and trailing
/// slashes ignored.
fn normalized(url: &str) -> String {
    let url = url.trim().to_ascii_lowercase();
    let url = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or(&url);
    let url = url.trim_end_matches('/');
    url.strip_suffix(".git").unwrap_or(url).to_owned()
}

/// The registry source directories (`$CARGO_HOME/registry/src/*`).
#[must_use]
pub fn registry_dirs() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(home) = home else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(home.join("registry").join("src")) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect()
}

/// The newest unpacked `name-version` directory in `dir` whose version
/// the requirement accepts.
fn newest_match(
    dir: &Path,
    name: &str,
    req: &cargo_metadata::semver::VersionReq,
) -> Option<(Version, PathBuf)> {
    let prefix = format!("{name}-");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let file = e.file_name();
            let version = Version::parse(file.to_str()?.strip_prefix(&prefix)?).ok()?;
            req.matches(&version).then(|| (version, e.path()))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
}

/// The manifests of `package`'s published siblings found in the registry
/// cache (the newest cached version each requirement accepts).
#[must_use]
pub fn manifests(package: &Package) -> Vec<PathBuf> {
    manifests_in(package, &registry_dirs())
}

/// The manifests of `package`'s published siblings found in these
/// registry source directories (each holding unpacked `name-version`
/// directories, like `$CARGO_HOME/registry/src/index.crates.io-*`).
#[must_use]
pub fn manifests_in(package: &Package, dirs: &[PathBuf]) -> Vec<PathBuf> {
    let Some(repo) = package.repository.as_deref().map(normalized) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for dep in &package.dependencies {
        if dep.path.is_some() || dep.kind == DependencyKind::Development {
            continue;
        }
        let Some((_, dir)) = dirs
            .iter()
            .filter_map(|d| newest_match(d, &dep.name, &dep.req))
            .max_by(|a, b| a.0.cmp(&b.0))
        else {
            continue;
        };
        let manifest = dir.join("Cargo.toml");
        // The sibling must say it is from the same repository.
        let same = std::fs::read_to_string(&manifest).is_ok_and(|text| {
            text.lines().any(|line| {
                let line = line.trim();
                line.strip_prefix("repository")
                    .map(str::trim_start)
                    .and_then(|l| l.strip_prefix('='))
                    .map(|v| normalized(v.trim().trim_matches('"')))
                    .is_some_and(|v| v == repo)
            })
        });
        if same || same_release(package, &manifest) {
            out.push(manifest);
        }
    }
    out
}

/// A sibling that names no `repository` at all (a workspace member
/// published without one) still is the same project's code when it is the
/// same release: the same version as `package` and the same non-empty
/// `authors`. A crate that names another repository is never taken.
fn same_release(package: &Package, manifest: &Path) -> bool {
    let Some(table) = std::fs::read_to_string(manifest)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
    else {
        return false;
    };
    let Some(pkg) = table.get("package").and_then(toml::Value::as_table) else {
        return false;
    };
    if pkg.contains_key("repository") || package.authors.is_empty() {
        return false;
    }
    // Read as TOML: cargo writes a published manifest's arrays one
    // element a line (`authors = [\n    "A <a@x>",\n]`).
    let version = pkg.get("version").and_then(toml::Value::as_str);
    let authors: Vec<&str> = pkg
        .get("authors")
        .and_then(toml::Value::as_array)
        .map(|a| a.iter().filter_map(toml::Value::as_str).collect())
        .unwrap_or_default();
    version == Some(package.version.to_string().as_str()) && authors == package.authors
}

#[cfg(test)]
mod tests {
    use super::normalized;

    #[test]
    fn repository_urls_compare_loosely() {
        assert_eq!(
            normalized("https://github.com/kellnr/kellnr.git/"),
            normalized("http://GitHub.com/kellnr/kellnr")
        );
        assert_ne!(
            normalized("https://github.com/kellnr/kellnr"),
            normalized("https://github.com/tokio-rs/axum")
        );
    }
}
