//! Compile-fail and compile-pass tests of `#[secure_route]`, the guarded
//! router and `#[secure_server_fn]`. Regenerate the `.stderr` files with `TRYBUILD=overwrite` and read
//! the diff.

#[test]
fn secure_route() {
    let t = trybuild::TestCases::new();
    t.pass("ui/secure_route/pass/*.rs");
    t.compile_fail("ui/secure_route/fail/*.rs");
}

/// `#[secure_server_fn]`'s misuse (the macro `guard_leptos` re-exports):
/// each is an error on the offending token that names the fix. They live
/// here rather than in guard-leptos so that trybuild does not build Leptos
/// a second time: a refused function is emitted without `#[server]`.
#[test]
fn secure_server_fn() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/secure_server_fn/fail/*.rs");
}
