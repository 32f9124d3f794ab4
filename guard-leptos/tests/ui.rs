//! Compile-fail cases of `#[secure_server_fn]`: each misuse is an error on
//! the offending token that names the fix. Regenerate the `.stderr` files
//! with `TRYBUILD=overwrite cargo test -p guard-leptos --test ui` and read
//! the diff.

#[test]
fn secure_server_fn_misuse() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/fail/*.rs");
}
