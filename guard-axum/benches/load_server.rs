//! The server `scripts/load.sh` drives with wrk: one of the three routers of
//! `common` on a loopback address, on a single-threaded runtime (the script
//! pins it to one core and wrk to another), or with `workers` above 1 on a
//! multi-threaded runtime of that many workers (the script's second view,
//! server and wrk sharing both cores).
//!
//! ```text
//! load_server serve <bare|guarded|peer> 127.0.0.1:8081 [workers]
//! ```
//!
//! Run without `serve` (as `cargo bench` and `cargo test --benches` do), it
//! exits at once: it is a bench target only so that `cargo bench --no-run`
//! builds it with the release profile and the benches' dependencies.

mod common;

use std::net::{IpAddr, SocketAddr};

use common::App;

fn router(variant: &str) -> Result<App, String> {
    let db = common::Db::new();
    match variant {
        "bare" => Ok(common::bare(db)),
        "guarded" => common::guarded(db).map_err(|e| e.to_string()),
        "peer" => common::peer(db).map_err(str::to_owned),
        "guarded_peer_headers" => common::guarded_peer_headers(db).map_err(|e| e.to_string()),
        other => Err(format!(
            "unknown variant `{other}`: bare, guarded, peer or guarded_peer_headers"
        )),
    }
}

fn serve(variant: &str, addr: &str, workers: usize) -> Result<(), String> {
    let addr: SocketAddr = addr.parse().map_err(|e| format!("{addr}: {e}"))?;
    // Loopback only: this is a load target, never a service.
    if !matches!(addr.ip(), IpAddr::V4(ip) if ip.is_loopback()) {
        return Err(format!("{addr}: only 127.0.0.0/8 addresses are served"));
    }
    let app = router(variant)?;
    let runtime = match workers {
        0 | 1 => tokio::runtime::Builder::new_current_thread(),
        n => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(n);
            builder
        }
    }
    .enable_all()
    .build()
    .map_err(|e| e.to_string())?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("bind {addr}: {e}"))?;
        println!("serving {variant} on http://{addr} with {workers} worker(s)");
        // Each variant served as its own type: no `Either` on this path.
        match app {
            App::Left(router) => {
                axum::serve(
                    listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
            }
            App::Right(guarded) => {
                axum::serve(
                    listener,
                    guarded.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
            }
        }
        .map_err(|e| e.to_string())
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (command, variant, addr, workers) = match args.as_slice() {
        [command, variant, addr] => (command, variant, addr, "1"),
        [command, variant, addr, workers] => (command, variant, addr, workers.as_str()),
        _ => return,
    };
    if command != "serve" {
        return;
    }
    let Ok(workers) = workers.parse::<usize>() else {
        eprintln!("load_server: `{workers}` is not a worker count");
        std::process::exit(1);
    };
    if let Err(err) = serve(variant, addr, workers.max(1)) {
        eprintln!("load_server: {err}");
        std::process::exit(1);
    }
}
