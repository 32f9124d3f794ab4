//! Rate-limit decisions over Redis on loopback against the in-memory
//! backend, in the same run, and Redis's bytes per key. See the section
//! "Rate-limit decisions over Redis (loopback)" of BENCHMARKS.md.
//!
//! ```text
//! cargo bench -p guard-axum --features redis --bench redis            # ~1-2 min
//! cargo bench -p guard-axum --features redis --bench redis -- 100000keys
//! ```
//!
//! The bench starts its own `redis-server` (`--save '' --appendonly no`) on
//! a free 127.0.0.1 port and kills it when done; without the binary, or
//! without the `redis` feature, it prints a notice and exits 0 (CI only
//! builds benches, `--no-run`).
//!
//! Groups:
//!
//! 1. Bytes per key (printed first, on an empty server): `used_memory`
//!    and `DBSIZE` before and after 100,000 distinct keys decided once at
//!    `10/min`, the keys' `PTTL`, and how long until Redis holds none.
//! 2. `redis_decisions`: `PolicySet::check` per second, one policy, for
//!    `redis` and `memory`, 1 key and 100,000 keys (cycling, all present
//!    before timing), 1 task and 2 concurrent tasks on a 2-worker tokio
//!    runtime. The 2-task figure is the total of both.

#![allow(clippy::unwrap_used)] // a bench that cannot set up should stop loudly

// The launcher `tests/redis.rs` uses too.
#[cfg(feature = "redis")]
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

#[cfg(feature = "redis")]
mod bench {
    use std::hint::black_box;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use criterion::{BenchmarkId, Criterion, Throughput};
    use futures_util::StreamExt as _;
    use guard_axum::rate_limit::{MemoryBackend, Policy, PolicySet, RateBackend, RedisBackend};
    use guard_core::rate::{RateKey, RateSpec, StoreConfig};
    use tokio::runtime::Runtime;

    use crate::redis_server::RedisServer;

    const SECRET: &[u8] = b"a shared secret of at least 32 bytes, for the bench only";

    /// Keys for the bytes-per-key measurement and the cycling benches.
    const MANY: u64 = 100_000;

    /// The largest key count of the decision benches, as for the in-memory
    /// limiter. Writing them first takes about half a minute.
    const MILLION: u64 = 1_000_000;

    /// Every benched decision allows and every key outlives the run: one
    /// request per minute with a burst far beyond what a run can spend
    /// (Redis caps the tolerance at 2^52 µs, still ~75M requests per key).
    /// A refusal skips the write, so a mix would flatter the figure.
    const BENCH_SPEC: &str = "1/min, burst = 4294967295";

    /// The realistic spec whose keys the memory measurement holds: a key
    /// decided once lives 6 s (its TAT).
    const BYTES_SPEC: &str = "10/min";

    /// Distinct, well-spread 16-byte keys (splitmix64), as in `guards.rs`.
    fn key(n: u64) -> RateKey {
        let mix = |mut z: u64| {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let mut bytes = [0; 16];
        bytes[..8].copy_from_slice(&mix(n).to_le_bytes());
        bytes[8..].copy_from_slice(&mix(n ^ 0x5555_5555_5555_5555).to_le_bytes());
        RateKey::from_bytes(bytes)
    }

    fn runtime() -> Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    }

    fn policy_set(backend: &dyn RateBackend, scope: &str, spec: &str) -> Arc<dyn PolicySet> {
        let spec: RateSpec = spec.parse().unwrap();
        backend.policy_set(scope, vec![Policy::rate("ip", spec).unwrap()])
    }

    /// Decides `keys` (indices into `key`) with up to 256 in flight; panics
    /// on a refusal or a backend error, since the figures would be wrong.
    async fn touch(set: &Arc<dyn PolicySet>, keys: std::ops::Range<u64>) {
        futures_util::stream::iter(keys)
            .map(|n| {
                let set = set.clone();
                async move { set.check(&[Some(key(n))]).await }
            })
            .buffer_unordered(256)
            .for_each(|result| async move {
                assert!(result.unwrap().decision.is_allowed());
            })
            .await;
    }

    /// A raw command on its own connection (not the backend's).
    async fn command<T: redis::FromRedisValue>(
        conn: &mut redis::aio::MultiplexedConnection,
        args: &[&str],
    ) -> T {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query_async(conn).await.unwrap()
    }

    async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> i64 {
        let info: String = command(conn, &["INFO", "memory"]).await;
        info.lines()
            .find_map(|line| line.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }

    /// Group 1: Redis bytes per key, `PTTL`, expiry.
    fn bytes_per_key(rt: &Runtime, server: &RedisServer, backend: &RedisBackend) {
        rt.block_on(async {
            let client = redis::Client::open(server.url()).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let _: () = command(&mut conn, &["FLUSHALL"]).await;
            let set = policy_set(backend, "bytes", BYTES_SPEC);
            // Loads the script and warms the connection; the key it writes
            // is in the baseline (it expires with the others).
            touch(&set, u64::MAX - 1..u64::MAX).await;
            let before = used_memory(&mut conn).await;
            let keys_before: i64 = command(&mut conn, &["DBSIZE"]).await;
            let start = Instant::now();
            touch(&set, 0..MANY).await;
            let took = start.elapsed();
            let after = used_memory(&mut conn).await;
            let keys_after: i64 = command(&mut conn, &["DBSIZE"]).await;
            let added = keys_after - keys_before;
            println!(
                "redis bytes per key ({BYTES_SPEC}): {} keys added (DBSIZE {keys_before} -> \
                 {keys_after}) in {:.2} s; used_memory {before} -> {after} B: {:.1} B/key",
                added,
                took.as_secs_f64(),
                (after - before) as f64 / added.max(1) as f64,
            );
            let (_, sample): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(0)
                .arg("MATCH")
                .arg("guard:rl:bytes:*")
                .arg("COUNT")
                .arg(2000)
                .query_async(&mut conn)
                .await
                .unwrap();
            let mut pttls = Vec::with_capacity(sample.len());
            for name in &sample {
                pttls.push(command::<i64>(&mut conn, &["PTTL", name]).await);
            }
            let min = pttls.iter().min().copied().unwrap_or(-3);
            let max = pttls.iter().max().copied().unwrap_or(-3);
            let example = sample.first().map_or("", String::as_str);
            println!(
                "redis PTTL of {} sampled keys: {min}..={max} ms (e.g. {example}, {} bytes)",
                pttls.len(),
                example.len()
            );
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let held: i64 = command(&mut conn, &["DBSIZE"]).await;
                if held == 0 || Instant::now() > deadline {
                    let back = used_memory(&mut conn).await;
                    println!(
                        "redis after {:.1} s: DBSIZE {held}, used_memory {back} B",
                        start.elapsed().as_secs_f64()
                    );
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        });
    }

    /// Runs `iters` decisions on each of `tasks` tasks (task t on keys
    /// `t * iters ..`, modulo `keys`); returns the wall time.
    fn time_tasks(
        rt: &Runtime,
        set: &Arc<dyn PolicySet>,
        tasks: u64,
        keys: u64,
        iters: u64,
        failed: &Arc<AtomicU64>,
    ) -> Duration {
        rt.block_on(async {
            let start = Instant::now();
            let handles: Vec<_> = (0..tasks)
                .map(|t| {
                    let set = set.clone();
                    let failed = failed.clone();
                    tokio::spawn(async move {
                        let mut refused = 0;
                        for i in t * iters..(t + 1) * iters {
                            let verdict = set.check(&[Some(key(i % keys))]).await;
                            if !black_box(verdict).is_ok_and(|v| v.decision.is_allowed()) {
                                refused += 1;
                            }
                        }
                        failed.fetch_add(refused, Ordering::Relaxed);
                    })
                })
                .collect();
            for handle in handles {
                handle.await.unwrap();
            }
            start.elapsed()
        })
    }

    /// Group 2: decisions per second, Redis and memory side by side.
    fn decisions(c: &mut Criterion, rt: &Runtime, redis: &RedisBackend) {
        // Room for every key, so the memory store never evicts.
        let store = StoreConfig::new()
            .max_keys(usize::try_from(MILLION + MILLION / 4).unwrap())
            .unwrap();
        let memory = MemoryBackend::new().store_config(store);
        let backends: [(&str, &dyn RateBackend); 2] = [("redis", redis), ("memory", &memory)];
        let mut group = c.benchmark_group("redis_decisions");
        let failed = Arc::new(AtomicU64::new(0));
        for keys in [1, MANY, MILLION] {
            let sets: Vec<_> = backends
                .iter()
                .map(|(name, backend)| {
                    let set = policy_set(*backend, &format!("bench{keys}"), BENCH_SPEC);
                    // The steady state: every key present before timing.
                    rt.block_on(touch(&set, 0..keys));
                    (*name, set)
                })
                .collect();
            for tasks in [1_u64, 2] {
                group.throughput(Throughput::Elements(tasks));
                for (name, set) in &sets {
                    let id = BenchmarkId::new(*name, format!("{keys}keys/{tasks}t"));
                    group.bench_function(id, |b| {
                        b.iter_custom(|iters| time_tasks(rt, set, tasks, keys, iters, &failed));
                    });
                }
            }
        }
        group.finish();
        let failed = failed.load(Ordering::Relaxed);
        if failed > 0 {
            println!("WARNING: {failed} decisions refused or failed; the figures are suspect");
        } else {
            println!("every timed decision allowed");
        }
    }

    pub(crate) fn run() {
        let server = match RedisServer::spawn() {
            Ok(server) => server,
            Err(err) => {
                eprintln!(
                    "SKIPPED: could not start `redis-server` ({err}); install the Debian \
                     package `redis-server` to run this bench"
                );
                return;
            }
        };
        let rt = runtime();
        let redis = rt
            .block_on(RedisBackend::connect(&server.url(), SECRET))
            .unwrap();
        let args: Vec<String> = std::env::args().skip(1).collect();
        let listing = args.iter().any(|a| a == "--list" || a == "--test");
        if !listing {
            bytes_per_key(&rt, &server, &redis);
        }
        // Modest sample times: the suite stays around two minutes on two
        // shared cores. Raise them for publication.
        let mut c = Criterion::default()
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .sample_size(10)
            .configure_from_args();
        decisions(&mut c, &rt, &redis);
        c.final_summary();
    }
}

fn main() {
    #[cfg(feature = "redis")]
    bench::run();
    #[cfg(not(feature = "redis"))]
    eprintln!(
        "SKIPPED: the Redis bench needs the `redis` feature: \
         cargo bench -p guard-axum --features redis --bench redis"
    );
}
