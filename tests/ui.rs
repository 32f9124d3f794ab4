//! Compile-fail and compile-pass tests of `#[secure_route]` and the guarded
//! router. Regenerate the `.stderr` files with `TRYBUILD=overwrite` and read
//! the diff.

#[test]
fn secure_route() {
    let t = trybuild::TestCases::new();
    t.pass("ui/secure_route/pass/*.rs");
    t.compile_fail("ui/secure_route/fail/*.rs");
}
