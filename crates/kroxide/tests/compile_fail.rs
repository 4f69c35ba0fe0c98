//! Type mismatches in a graph do not compile.

#[test]
fn type_errors_do_not_compile() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/compile_fail/*.rs");
}
