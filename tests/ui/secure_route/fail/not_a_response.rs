use guard_axum::secure_route;

struct Report {
    lines: Vec<String>,
}

#[secure_route(auth)]
async fn report() -> Report {
    Report { lines: Vec::new() }
}

fn main() {
    let _ = report().spec();
    let _ = report().call_unguarded();
}
