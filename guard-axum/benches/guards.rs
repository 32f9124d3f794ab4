//! What a guard costs, side by side with a bare handler and with the stack
//! users assemble from peer crates. See BENCHMARKS.md at the repository root
//! for the figures and how to read them.
//!
//! ```text
//! cargo bench -p guard-axum --bench guards                 # everything (~4 min)
//! cargo bench -p guard-axum --bench guards -- route        # one group
//! GUARD_BENCH_MEMORY=skip cargo bench -p guard-axum --bench guards   # no memory report
//! ```
//!
//! Groups (each compares its variants in one run, so read the ratios):
//!
//! 1. `route_overhead`: `GET /projects/{id}`, bare vs guarded vs peer;
//!    `route_breakdown`: the guarded route built up one guard at a time
//!    (layers, + auth, + owner, + limits).
//! 2. `post_body`: strict decoding + validation vs `serde_json` +
//!    `validator`, 100 B and 16 KiB, through a router and decode alone.
//! 3. `rate_limit`: decisions per second, guard-core's `RateLimiter` vs
//!    governor's default keyed limiter, 1 / 100k / 1M keys, 1 and 2 threads.
//! 4. `owner_scope`: the owner-scoped 200 vs its two 404s.
//!
//! After the groups, a memory report (bytes per key, and a 10M-key flood
//! against a 1M-key cap) runs each measurement in a fresh child process so
//! resident-set deltas are not blurred by memory freed earlier.

#![allow(clippy::unwrap_used)] // a bench that cannot set up should stop loudly

mod common;

use std::hint::black_box;
use std::num::NonZeroU32;
use std::process::Command;
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use criterion::{BenchmarkId, Criterion, Throughput};
use guard_axum::extract::Valid;
use guard_core::rate::{Clock as _, RateKey, RateLimiter, RateSpec, StoreConfig, SystemClock};
use guard_core::validate::{StrictOptions, decode_json_strict};
use http::{Request, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tower::ServiceExt as _;
use validator::Validate;

use common::{
    ABSENT_PROJECT, ALICE_KEY, ALICE_PROJECT, App, BOB_PROJECT, Db, drain, expect, get_project,
    post_json,
};

/// Requests are built in batches outside the timed section.
const BATCH: u64 = 512;

fn runtime() -> Runtime {
    // The guarded router's timeout layer needs the time driver.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Times `router.oneshot(make())` and reading the whole response, `iters`
/// times; building the requests is not timed.
fn time_requests(
    rt: &Runtime,
    router: &App,
    iters: u64,
    make: &dyn Fn() -> Request<Body>,
) -> Duration {
    rt.block_on(async {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(BATCH);
            let requests: Vec<_> = (0..n).map(|_| make()).collect();
            let start = Instant::now();
            for request in requests {
                let response = match router.clone().oneshot(request).await {
                    Ok(response) => response,
                    Err(never) => match never {},
                };
                black_box(drain(response).await);
            }
            total += start.elapsed();
            left -= n;
        }
        total
    })
}

fn check(rt: &Runtime, router: &App, request: Request<Body>, status: StatusCode) {
    rt.block_on(expect(router, request, status)).unwrap();
}

// ------------------------------------------------------- 1. route overhead

fn route_overhead(c: &mut Criterion) {
    let rt = runtime();
    let db = Db::new();
    let routers = [
        ("bare", common::bare(db.clone())),
        ("guarded", common::guarded(db.clone()).unwrap()),
        ("peer", common::peer(db).unwrap()),
    ];
    let make = || get_project(ALICE_PROJECT, ALICE_KEY);
    let mut group = c.benchmark_group("route_overhead");
    for (name, router) in &routers {
        check(&rt, router, make(), StatusCode::OK);
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| time_requests(&rt, router, iters, &make));
        });
    }
    group.finish();
}

/// The guarded route with its guards added one at a time (see
/// `common::breakdown`): what the layers, authentication, the owner-scoped
/// load and the limits each cost, next to the bare route.
fn route_breakdown(c: &mut Criterion) {
    let rt = runtime();
    let db = Db::new();
    let mut routers = vec![("bare", common::bare(db.clone()))];
    for step in ["layers", "auth", "owner", "guarded"] {
        routers.push((step, common::breakdown(db.clone(), step).unwrap()));
    }
    let make = || get_project(ALICE_PROJECT, ALICE_KEY);
    let mut group = c.benchmark_group("route_breakdown");
    for (name, router) in &routers {
        check(&rt, router, make(), StatusCode::OK);
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| time_requests(&rt, router, iters, &make));
        });
    }
    group.finish();
}

// ------------------------------------------------------------ 2. POST body

/// The strict side: strict decoding refuses unknown and identity fields
/// itself.
#[derive(Debug, Deserialize, Validate)]
struct StrictDoc {
    #[validate(length(min = 1, max = 200))]
    title: String,
    #[serde(default)]
    note: String,
    #[validate(length(max = 16))]
    tags: Vec<String>,
    #[validate(nested, length(max = 1000))]
    items: Vec<StrictItem>,
}

// Serialize: validator's `length` on a Vec records the value.
#[derive(Debug, Deserialize, Serialize, Validate)]
struct StrictItem {
    #[validate(length(min = 1, max = 64))]
    name: String,
    #[validate(range(min = 1, max = 1000))]
    qty: u32,
}

/// The plain side: the same shape with serde's own unknown-field refusal.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct PlainDoc {
    #[validate(length(min = 1, max = 200))]
    title: String,
    #[serde(default)]
    note: String,
    #[validate(length(max = 16))]
    tags: Vec<String>,
    #[validate(nested, length(max = 1000))]
    items: Vec<PlainItem>,
}

// Serialize: validator's `length` on a Vec records the value.
#[derive(Debug, Deserialize, Serialize, Validate)]
#[serde(deny_unknown_fields)]
struct PlainItem {
    #[validate(length(min = 1, max = 64))]
    name: String,
    #[validate(range(min = 1, max = 1000))]
    qty: u32,
}

/// About 100 bytes.
const SMALL_BODY: &[u8] =
    br#"{"title":"Quarterly plan","note":"draft for review","tags":["q3","plan"],"items":[{"name":"a","qty":1}]}"#;

/// About 16 KiB: the same document with 500 items.
fn large_body() -> &'static [u8] {
    let items: Vec<String> = (0..500)
        .map(|i| format!(r#"{{"name":"item-number-{i:05}","qty":{}}}"#, i % 999 + 1))
        .collect();
    let body = format!(
        r#"{{"title":"Quarterly plan","note":"draft for review","tags":["q3","plan"],"items":[{}]}}"#,
        items.join(",")
    );
    Box::leak(body.into_bytes().into_boxed_slice())
}

async fn strict_create(Valid(doc): Valid<StrictDoc>) -> String {
    format!("{} {}", doc.items.len(), doc.note.len())
}

async fn plain_create(axum::Json(doc): axum::Json<PlainDoc>) -> Result<String, StatusCode> {
    doc.validate().map_err(|_| StatusCode::BAD_REQUEST)?;
    Ok(format!("{} {}", doc.items.len(), doc.note.len()))
}

fn post_body(c: &mut Criterion) {
    let rt = runtime();
    let router = App::Left(
        Router::new()
            .route("/strict", post(strict_create))
            .route("/plain", post(plain_create)),
    );
    let options = StrictOptions::new();
    let mut group = c.benchmark_group("post_body");
    for (size, body) in [("100B", SMALL_BODY), ("16KiB", large_body())] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        for (name, uri) in [("strict_router", "/strict"), ("plain_router", "/plain")] {
            let make = || post_json(uri, body);
            check(&rt, &router, make(), StatusCode::OK);
            group.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter_custom(|iters| time_requests(&rt, &router, iters, &make));
            });
        }
        decode_json_strict::<StrictDoc>(body, &options).unwrap();
        group.bench_function(BenchmarkId::new("strict_decode", size), |b| {
            b.iter(|| decode_json_strict::<StrictDoc>(black_box(body), &options).map(drop));
        });
        group.bench_function(BenchmarkId::new("plain_decode", size), |b| {
            b.iter(|| {
                serde_json::from_slice::<PlainDoc>(black_box(body))
                    .map_err(drop)
                    .and_then(|doc| doc.validate().map_err(drop))
            });
        });
    }
    group.finish();
}

// ------------------------------------------------------------ 3. rate limit

type Governor = governor::DefaultKeyedRateLimiter<[u8; 16]>;

/// Distinct, well-spread 16-byte keys (splitmix64), the same every run.
fn key(n: u64) -> [u8; 16] {
    let mix = |mut z: u64| {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&mix(n).to_le_bytes());
    bytes[8..].copy_from_slice(&mix(n ^ 0x5555_5555_5555_5555).to_le_bytes());
    bytes
}

/// A store with room for `keys` (and headroom, since keys do not spread
/// over the shards exactly evenly) so the steady state never evicts.
fn guard_limiter(keys: u64) -> RateLimiter {
    let cap = usize::try_from(keys + keys / 4).unwrap().max(1024);
    let config = StoreConfig::new().max_keys(cap).unwrap();
    RateLimiter::with_config(RateSpec::parse("1000000/s").unwrap(), config)
}

fn governor_limiter() -> Governor {
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000).unwrap());
    governor::RateLimiter::keyed(quota)
}

/// Runs `decide(i)` for `iters` consecutive `i` on each of `threads`
/// threads (thread t starting at `t * iters`); returns the wall time.
fn time_threads(threads: u64, iters: u64, decide: &(dyn Fn(u64) -> bool + Sync)) -> Duration {
    if threads == 1 {
        let start = Instant::now();
        for i in 0..iters {
            black_box(decide(i));
        }
        return start.elapsed();
    }
    let barrier = Barrier::new(usize::try_from(threads).unwrap() + 1);
    std::thread::scope(|scope| {
        let barrier = &barrier;
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    barrier.wait();
                    for i in t * iters..(t + 1) * iters {
                        black_box(decide(i));
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for handle in handles {
            handle.join().unwrap();
        }
        start.elapsed()
    })
}

/// The keys and both limiters, every key already present: the steady
/// state, not the inserts.
struct RateSetup {
    guard_keys: Vec<RateKey>,
    governor_keys: Vec<[u8; 16]>,
    guard: RateLimiter,
    governor: Governor,
    clock: SystemClock,
}

impl RateSetup {
    fn new(keys: u64) -> Self {
        let setup = Self {
            guard_keys: (0..keys).map(|n| RateKey::from_bytes(key(n))).collect(),
            governor_keys: (0..keys).map(key).collect(),
            guard: guard_limiter(keys),
            governor: governor_limiter(),
            clock: SystemClock::new(),
        };
        for (g, k) in setup.guard_keys.iter().zip(&setup.governor_keys) {
            assert!(setup.guard.check(*g, setup.clock.now_ns()).is_allowed());
            assert!(setup.governor.check_key(k).is_ok());
        }
        setup
    }
}

fn rate_limit(c: &mut Criterion) {
    let mut group = c.benchmark_group("rate_limit");
    group.sample_size(20);
    for keys in [1_u64, 100_000, 1_000_000] {
        // Built on first use, so a filtered run does not pay for it.
        let setup = OnceLock::new();
        let setup = || setup.get_or_init(|| RateSetup::new(keys));
        let index = move |i: u64| usize::try_from(i % keys).unwrap_or(0);
        for threads in [1_u64, 2] {
            group.throughput(Throughput::Elements(threads));
            let id = |name: &str| BenchmarkId::new(name, format!("{keys}keys/{threads}t"));
            group.bench_function(id("guard_core"), |b| {
                let s = setup();
                let decide = |i: u64| {
                    let key = s
                        .guard_keys
                        .get(index(i))
                        .copied()
                        .unwrap_or(RateKey::from_bytes([0; 16]));
                    s.guard.check(key, s.clock.now_ns()).is_allowed()
                };
                b.iter_custom(|iters| time_threads(threads, iters, &decide));
            });
            group.bench_function(id("governor"), |b| {
                let s = setup();
                let decide = |i: u64| {
                    s.governor_keys
                        .get(index(i))
                        .is_some_and(|key| s.governor.check_key(key).is_ok())
                };
                b.iter_custom(|iters| time_threads(threads, iters, &decide));
            });
        }
    }
    group.finish();
}

// ----------------------------------------------------------- 4. owner scope

fn owner_scope(c: &mut Criterion) {
    let rt = runtime();
    let router = common::guarded(Db::new()).unwrap();
    let mut group = c.benchmark_group("owner_scope");
    for (name, id, status) in [
        ("owned_200", ALICE_PROJECT, StatusCode::OK),
        ("not_owned_404", BOB_PROJECT, StatusCode::NOT_FOUND),
        ("absent_404", ABSENT_PROJECT, StatusCode::NOT_FOUND),
    ] {
        let make = move || get_project(id, ALICE_KEY);
        check(&rt, &router, make(), status);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| time_requests(&rt, &router, iters, &make));
        });
    }
    group.finish();
}

// ------------------------------------------------------------------ memory

/// The environment variable that makes this binary a memory-measuring child
/// (`guard:100000`, `governor:1000000`, `flood:10000000`,
/// `governor_flood:10000000`), or `skip`.
const MEMORY_VAR: &str = "GUARD_BENCH_MEMORY";

/// Resident set size in bytes, from `/proc/self/status` (Linux).
fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One measurement, in this (fresh) process; prints one line.
fn memory_child(spec: &str) -> Result<(), String> {
    let (what, count) = spec.split_once(':').ok_or("want what:count")?;
    let count: u64 = count.parse().map_err(|_| "bad count")?;
    let clock = SystemClock::new();
    let before = rss_bytes().ok_or("no /proc/self/status")?;
    match what {
        "guard" => {
            let limiter = guard_limiter(count);
            for n in 0..count {
                black_box(limiter.check(RateKey::from_bytes(key(n)), clock.now_ns()));
            }
            let after = rss_bytes().ok_or("no rss")?;
            println!(
                "guard_core RateLimiter, {count} keys (cap {}): {:.1} B/key resident, {:.1} B/key table estimate, {} keys held",
                limiter.max_keys(),
                per_key(after.saturating_sub(before), count),
                per_key(limiter.memory_estimate() as u64, count),
                limiter.len(),
            );
        }
        "governor" => {
            let limiter = governor_limiter();
            for n in 0..count {
                black_box(limiter.check_key(&key(n)).is_ok());
            }
            let after = rss_bytes().ok_or("no rss")?;
            println!(
                "governor DefaultKeyedRateLimiter, {count} keys: {:.1} B/key resident, {} keys held",
                per_key(after.saturating_sub(before), count),
                limiter.len(),
            );
        }
        "flood" => {
            let cap = 1_000_000;
            let config = StoreConfig::new()
                .max_keys(cap)
                .map_err(|e| e.to_string())?;
            let limiter = RateLimiter::with_config(
                RateSpec::parse("10/min").map_err(|e| e.to_string())?,
                config,
            );
            let mut most = 0;
            let start = Instant::now();
            for n in 0..count {
                black_box(limiter.check(RateKey::from_bytes(key(n)), clock.now_ns()));
                if n % 65_536 == 0 {
                    most = most.max(limiter.len());
                }
            }
            let elapsed = start.elapsed();
            most = most.max(limiter.len());
            let after = rss_bytes().ok_or("no rss")?;
            println!(
                "guard_core RateLimiter, {count} distinct keys into a {cap}-key cap: at most {most} keys held, {:.1} MiB resident ({:.1} B per cap key), {:.0} ns per new key",
                after.saturating_sub(before) as f64 / 1_048_576.0,
                per_key(after.saturating_sub(before), cap as u64),
                elapsed.as_nanos() as f64 / count as f64,
            );
        }
        "governor_flood" => {
            // governor has no cap: keys stay until `retain_recent` is called.
            let limiter = governor_limiter();
            let start = Instant::now();
            for n in 0..count {
                black_box(limiter.check_key(&key(n)).is_ok());
            }
            let elapsed = start.elapsed();
            let after = rss_bytes().ok_or("no rss")?;
            println!(
                "governor DefaultKeyedRateLimiter, {count} distinct keys (no cap): {} keys held, {:.1} MiB resident, {:.0} ns per new key",
                limiter.len(),
                after.saturating_sub(before) as f64 / 1_048_576.0,
                elapsed.as_nanos() as f64 / count as f64,
            );
        }
        _ => return Err(format!("unknown memory measurement `{what}`")),
    }
    Ok(())
}

fn per_key(bytes: u64, keys: u64) -> f64 {
    bytes as f64 / keys.max(1) as f64
}

/// Runs each memory measurement in a child process and prints its line.
fn memory_report() {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    println!("\nmemory (each line a fresh process; resident-set growth while filling):");
    for spec in [
        "guard:100000",
        "governor:100000",
        "guard:1000000",
        "governor:1000000",
        "flood:10000000",
        "governor_flood:10000000",
    ] {
        match Command::new(&exe).env(MEMORY_VAR, spec).output() {
            Ok(out) if out.status.success() => {
                print!("  {}", String::from_utf8_lossy(&out.stdout));
            }
            Ok(out) => println!("  {spec}: failed: {}", String::from_utf8_lossy(&out.stderr)),
            Err(err) => println!("  {spec}: could not run: {err}"),
        }
    }
}

/// The environment variable that runs a fixed number of requests of one
/// variant and exits, for a profiler: `route/guarded:20000`,
/// `route/bare:…`, `route/peer:…`, `route/bare_7_layers:…`,
/// `breakdown/{layers,auth,owner,guarded}:…`,
/// `owner/owned_200:…`, `owner/not_owned_404:…`, `owner/absent_404:…`,
/// `post/strict_100B:…`, `post/plain_16KiB:…` (see BENCHMARKS.md).
const PROFILE_VAR: &str = "GUARD_BENCH_PROFILE";

fn profile_run(spec: &str) -> Result<(), String> {
    let (what, count) = spec.split_once(':').ok_or("want what:count")?;
    let count: u64 = count.parse().map_err(|_| "bad count")?;
    let db = Db::new();
    let post_router = || {
        App::Left(
            Router::new()
                .route("/strict", post(strict_create))
                .route("/plain", post(plain_create)),
        )
    };
    let large = large_body();
    let (router, make): (App, Box<dyn Fn() -> Request<Body>>) = match what {
        "route/bare" => (
            common::bare(db),
            Box::new(|| get_project(ALICE_PROJECT, ALICE_KEY)),
        ),
        // The bare route under seven no-op `Router::layer` calls, as many
        // as the guarded router stacks: what axum's per-layer boxing costs.
        "route/bare_7_layers" => {
            let mut router = common::bare_router(db);
            for _ in 0..7 {
                router = router.layer(tower::util::MapRequestLayer::new(
                    |request: Request<Body>| request,
                ));
            }
            (
                App::Left(router),
                Box::new(|| get_project(ALICE_PROJECT, ALICE_KEY)),
            )
        }
        "route/guarded" | "owner/owned_200" => (
            common::guarded(db).map_err(|e| e.to_string())?,
            Box::new(|| get_project(ALICE_PROJECT, ALICE_KEY)),
        ),
        step if step.starts_with("breakdown/") => (
            common::breakdown(db, step.trim_start_matches("breakdown/"))?,
            Box::new(|| get_project(ALICE_PROJECT, ALICE_KEY)),
        ),
        "route/peer" => (
            common::peer(db).map_err(str::to_owned)?,
            Box::new(|| get_project(ALICE_PROJECT, ALICE_KEY)),
        ),
        "owner/not_owned_404" => (
            common::guarded(db).map_err(|e| e.to_string())?,
            Box::new(|| get_project(BOB_PROJECT, ALICE_KEY)),
        ),
        "owner/absent_404" => (
            common::guarded(db).map_err(|e| e.to_string())?,
            Box::new(|| get_project(ABSENT_PROJECT, ALICE_KEY)),
        ),
        "post/strict_100B" => (post_router(), Box::new(|| post_json("/strict", SMALL_BODY))),
        "post/plain_100B" => (post_router(), Box::new(|| post_json("/plain", SMALL_BODY))),
        "post/strict_16KiB" => (post_router(), Box::new(move || post_json("/strict", large))),
        "post/plain_16KiB" => (post_router(), Box::new(move || post_json("/plain", large))),
        other => return Err(format!("unknown profile target `{other}`")),
    };
    let elapsed = time_requests(&runtime(), &router, count, &*make);
    println!(
        "{what}: {count} requests, {:.0} ns each",
        elapsed.as_nanos() as f64 / count.max(1) as f64
    );
    Ok(())
}

fn config() -> Criterion {
    // Modest sample times: the whole suite runs in a few minutes on two
    // cores. Raise them (or pass --measurement-time) for publication.
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
        .configure_from_args()
}

fn main() {
    match std::env::var(MEMORY_VAR).as_deref() {
        Ok("skip") => {}
        Ok(spec) => {
            if let Err(err) = memory_child(spec) {
                eprintln!("{err}");
                std::process::exit(1);
            }
            return;
        }
        Err(_) => {}
    }
    if let Ok(spec) = std::env::var(PROFILE_VAR) {
        if let Err(err) = profile_run(&spec) {
            eprintln!("{err}");
            std::process::exit(1);
        }
        return;
    }
    let mut c = config();
    route_overhead(&mut c);
    route_breakdown(&mut c);
    post_body(&mut c);
    rate_limit(&mut c);
    owner_scope(&mut c);
    c.final_summary();
    // Only for a real `cargo bench` run, not `--list` or test mode, and
    // only when no filter narrowed the run to other groups (the filter
    // `memory` asks for it alone).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let real_run =
        args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--list" || a == "--test");
    let wanted = filters.is_empty() || filters.iter().any(|f| f.as_str() == "memory");
    if real_run && wanted && std::env::var(MEMORY_VAR).is_err() {
        memory_report();
    }
}
