//! The scan of a synthetic ~50,000-line axum workspace against the floor of
//! any scan: reading the same files and `syn::parse_file` on each.
//!
//! `cargo bench -p guard-audit --bench scan`

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

const CRATES: usize = 4;
const MODULES: usize = 25;
const HANDLERS: usize = 7;

/// One module: derives, handlers with extractors and sqlx queries, and a
/// router with method chains, a nested sub-router and layers.
fn module(m: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "use axum::extract::{{Json, Path, Query, State}};\n\
         use axum::routing::{{delete, get, post, put}};\n\
         use axum::Router;\n\
         use serde::{{Deserialize, Serialize}};\n\
         use tower_http::limit::RequestBodyLimitLayer;\n\
         use tower_http::trace::TraceLayer;\n\n\
         use crate::{{AppError, AppState, CurrentUser}};\n"
    );
    for h in 0..HANDLERS {
        let _ = write!(
            s,
            r#"
/// Record {h} of module {m}.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Record{h} {{
    pub id: i64,
    pub owner_id: i64,
    pub name: String,
    pub created_at: String,
}}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter{h} {{
    pub limit: Option<u32>,
    pub name: Option<String>,
}}

pub async fn show_{h}(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Record{h}>, AppError> {{
    let row = sqlx::query_as::<_, Record{h}>(
        "SELECT id, owner_id, name, created_at FROM records_{m}_{h} WHERE id = ? AND owner_id = ?",
    )
    .bind(id)
    .bind(user.id)
    .fetch_optional(&state.pool)
    .await?
    .ok_or(AppError::NotFound)?;
    Ok(Json(row))
}}

pub async fn list_{h}(
    State(state): State<AppState>,
    Query(filter): Query<Filter{h}>,
) -> Result<Json<Vec<Record{h}>>, AppError> {{
    let limit = i64::from(filter.limit.unwrap_or(50).min(200));
    let rows = sqlx::query_as::<_, Record{h}>("SELECT * FROM records_{m}_{h} LIMIT ?")
        .bind(limit)
        .fetch_all(&state.pool)
        .await?;
    Ok(Json(rows))
}}

pub async fn create_{h}(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(body): Json<Record{h}>,
) -> Result<Json<i64>, AppError> {{
    let id = sqlx::query("INSERT INTO records_{m}_{h} (owner_id, name) VALUES (?, ?)")
        .bind(user.id)
        .bind(&body.name)
        .execute(&state.pool)
        .await?
        .last_insert_rowid();
    Ok(Json(id))
}}

pub async fn remove_{h}(State(state): State<AppState>, Path(id): Path<i64>) -> Result<(), AppError> {{
    sqlx::query("DELETE FROM records_{m}_{h} WHERE id = ?").bind(id).execute(&state.pool).await?;
    Ok(())
}}
"#
        );
    }
    let _ = writeln!(s, "\nfn admin() -> Router<AppState> {{\n    Router::new()");
    for h in 0..HANDLERS / 2 {
        let _ = writeln!(s, "        .route(\"/r{h}/{{id}}\", delete(remove_{h}))");
    }
    let _ = writeln!(
        s,
        "        .route_layer(axum::middleware::from_fn(crate::require_admin))\n}}\n"
    );
    let _ = writeln!(
        s,
        "pub fn router() -> Router<AppState> {{\n    let r = Router::new()"
    );
    for h in 0..HANDLERS {
        let _ = writeln!(
            s,
            "        .route(\"/r{h}\", get(list_{h}).post(create_{h}))\n        .route(\"/r{h}/{{id}}\", get(show_{h}).put(create_{h}))"
        );
    }
    let _ = writeln!(
        s,
        "        .nest(\"/admin\", admin())\n        .layer(RequestBodyLimitLayer::new(64 * 1024));\n    \
         let r = r.route(\"/extra\", post(create_0).delete(remove_1));\n    \
         r.layer(TraceLayer::new_for_http())\n}}"
    );
    s
}

fn lib(c: usize) -> String {
    let mut s = String::from(
        "use axum::Router;\n\n\
         #[derive(Debug, Clone)]\npub struct AppState { pub pool: sqlx::SqlitePool }\n\
         #[derive(Debug)]\npub struct CurrentUser { pub id: i64 }\n\
         #[derive(Debug)]\npub enum AppError { NotFound, Db(sqlx::Error) }\n\
         impl From<sqlx::Error> for AppError { fn from(e: sqlx::Error) -> Self { Self::Db(e) } }\n\
         pub async fn require_admin(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response { next.run(req).await }\n\n",
    );
    for m in 0..MODULES {
        let _ = writeln!(s, "pub mod m{m};");
    }
    let _ = writeln!(
        s,
        "\npub fn app(state: AppState) -> Router {{\n    let api = Router::new()"
    );
    for m in 0..MODULES {
        if m % 3 == 0 {
            let _ = writeln!(s, "        .merge(m{m}::router())");
        } else {
            let _ = writeln!(s, "        .nest(\"/c{c}/m{m}\", m{m}::router())");
        }
    }
    let _ = writeln!(
        s,
        "        ;\n    Router::new().nest(\"/api\", api).with_state(state)\n}}"
    );
    s
}

/// Writes the workspace; returns its manifest and every `.rs` file.
fn generate(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let _ = std::fs::remove_dir_all(dir);
    let members: Vec<String> = (0..CRATES).map(|c| format!("\"svc{c}\"")).collect();
    std::fs::create_dir_all(dir).expect("temp dir");
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"2\"\nmembers = [{}]\n",
            members.join(", ")
        ),
    )
    .expect("write");
    let mut files = Vec::new();
    for c in 0..CRATES {
        let src = dir.join(format!("svc{c}/src"));
        std::fs::create_dir_all(&src).expect("mkdir");
        std::fs::write(
            dir.join(format!("svc{c}/Cargo.toml")),
            format!("[package]\nname = \"svc{c}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n"),
        )
        .expect("write");
        std::fs::write(src.join("lib.rs"), lib(c)).expect("write");
        files.push(src.join("lib.rs"));
        for m in 0..MODULES {
            let f = src.join(format!("m{m}.rs"));
            std::fs::write(&f, module(m)).expect("write");
            files.push(f);
        }
    }
    (dir.join("Cargo.toml"), files)
}

fn read_and_parse(files: &[PathBuf]) -> usize {
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            syn::parse_file(&text).expect("parse").items.len()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("guard-audit-bench-{}", std::process::id()));
    let (manifest, files) = generate(&dir);
    let lines: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).map_or(0, |t| t.lines().count()))
        .sum();
    let scan = guard_audit::scan(&manifest).expect("scan");
    eprintln!(
        "synthetic workspace: {} files, {lines} lines, {} endpoints ({} unknown), {} findings",
        files.len(),
        scan.resolved + scan.unknown,
        scan.unknown,
        scan.findings.len()
    );
    let mut group = c.benchmark_group("guard-audit scan (synthetic workspace)");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("read + syn::parse_file", |b| {
        b.iter(|| black_box(read_and_parse(&files)));
    });
    group.bench_function("guard_audit::scan", |b| {
        b.iter(|| black_box(guard_audit::scan(&manifest).expect("scan").findings.len()));
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
