//! `#[derive(Schema)]` compiles for a crate that depends on `kroxide-dsl`
//! only (no `kroxide`), and every serde attribute SimpleSchema cannot
//! express is a compile error on the attribute.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
