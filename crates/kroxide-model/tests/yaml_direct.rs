//! The direct YAML reader (events straight to JSON) gives what serde-saphyr
//! gives, or leaves the text to serde-saphyr: on every YAML file of the
//! project and of ../shared, on a table of scalars whose type is easy to get
//! wrong, and on generated documents.

use kroxide_model::check_direct_reader;
use proptest::prelude::*;
use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// Every YAML file the project and ../shared hold: both readers agree, and
/// the direct reader takes most of them (else it would speed up nothing).
#[test]
fn both_readers_agree_on_every_yaml_file_here() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["examples", "crates", "../shared/kro", "../shared/seed"] {
        yaml_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "only {} YAML files found", files.len());
    let mut direct = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        match check_direct_reader(&f.display().to_string(), &text) {
            Ok(true) => direct += 1,
            Ok(false) => {}
            Err(e) => panic!("{}: {e}", f.display()),
        }
    }
    assert!(
        direct * 10 >= files.len() * 8,
        "the direct reader took {direct} of {} files",
        files.len()
    );
}

/// Scalars whose YAML type depends on details: as values and as keys, plain
/// and quoted, both readers agree (the direct reader may leave them).
const SCALARS: &[&str] = &[
    "",
    "~",
    "null",
    "Null",
    "NULL",
    "nULL",
    "true",
    "True",
    "TRUE",
    "tRUE",
    "false",
    "yes",
    "Yes",
    "YES",
    "no",
    "No",
    "y",
    "Y",
    "n",
    "N",
    "on",
    "On",
    "ON",
    "off",
    "OFF",
    "0",
    "-0",
    "+0",
    "1",
    "-1",
    "+1",
    "01",
    "-01",
    "007",
    "0x1F",
    "0X1F",
    "0o17",
    "0O17",
    "0b101",
    "0B101",
    "1_000",
    "_1",
    "1__0",
    "12345678901234567",
    "123456789012345678",
    "1234567890123456789",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "1.5",
    "-1.5",
    "+1.5",
    "0.5",
    "00.5",
    "1.",
    ".5",
    "-.5",
    "1e3",
    "1E3",
    "1e+3",
    "-1e-3",
    "1e999",
    "-1e999",
    ".inf",
    "-.inf",
    "+.inf",
    ".Inf",
    ".INF",
    ".nan",
    ".NaN",
    "-.nan",
    "+.nan",
    "inf",
    "-inf",
    "infinity",
    "nan",
    "NaN",
    "1.2.3",
    "2026-01-01",
    "2026-01-01T00:00:00Z",
    "12:30",
    "1:2:3",
    "10Gi",
    "500m",
    "100Mi",
    "80/TCP",
    "1d",
    "1e",
    "0x",
    "0xG",
    "-v",
    "--x",
    "+x",
    "-",
    "a",
    "nginx:1.27",
    "${schema.spec.name}",
    "${a}-${b}",
    "<<",
    "=",
    "@x",
    "`x",
    "x y",
    "1 2",
    "a: b",
    "#",
    "é",
    "1é",
    "-é",
    "0.1.2",
    "1-2",
    "1+2",
    "1_",
    "1_.5",
    ".e5",
    ".E5",
    ".5e3",
    ".a",
    ".status.state",
    "./x",
    "../x",
    "10.0.0.7",
    "-.x",
    "+.x",
    ".1.2",
    "1..2",
    ".",
    "..",
    "-.",
    "+.",
    "1e5.5",
    ".infx",
    ".inf.x",
    "-1.5.x",
    "1.5x",
    "1.5e",
    "0.",
    "-0.0",
];

/// Scalars as graphs hold them.
const COMMON: &[&str] = &[
    "x",
    "web",
    "${schema.spec.name}",
    "${a.b}-c",
    "80",
    "-3",
    "1.5",
    "true",
    "false",
    "nginx:1.27",
    "500m",
    "a b",
    "http://x/y",
    ".status.x",
    "10.0.0.7",
    "/",
    "app.kubernetes.io/name",
];

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[test]
fn both_readers_agree_on_tricky_scalars() {
    for s in SCALARS {
        let plain_ok = !s.is_empty() && !s.starts_with(['#', '@', '`', '-']) && !s.contains(": ");
        let mut docs = vec![
            format!("v: {}\n", quoted(s)),
            format!("{}: v\n", quoted(s)),
            format!("- {}\n", quoted(s)),
            format!("v: '{}'\n", s.replace('\'', "''")),
            format!("v: |\n  {s}\n"),
        ];
        if plain_ok {
            docs.push(format!("v: {s}\n"));
            docs.push(format!("{s}: v\n"));
            docs.push(format!("- {s}\n"));
            docs.push(format!("[{s}]\n"));
            docs.push(format!("{s}\n"));
            docs.push(format!("a: {s}\n{s}: 1\n"));
        }
        for d in docs {
            if let Err(e) = check_direct_reader("t.yaml", &d) {
                panic!("{d:?}: {e}");
            }
        }
    }
}

/// The direct reader takes plain documents: a graph's common scalars.
#[test]
fn the_direct_reader_takes_common_documents() {
    let doc = "a: 1\nb: -2\nc: 1.5\nd: true\ne: on\nf: ~\ng: x\nh: 500m\ni: '1'\nj: |\n  x\nk: [1, {l: m}]\n'80': x\n---\n- x\n...\n";
    assert_eq!(check_direct_reader("t.yaml", doc), Ok(true));
    for needs_serde in [
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "<<: {a: 1}\n",
        "a: 0x1F\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: [\n",
        "80: x\n",
        "on: x\n",
        // serde-saphyr takes `"n"` and `n` (the boolean) for one key once
        // a map has a key that is not a string (found by the proptest).
        "a:\n  -\n    1: \"\"\n    \"n\": \"\"\n    n: \"\"\n",
    ] {
        assert_eq!(
            check_direct_reader("t.yaml", needs_serde),
            Ok(false),
            "{needs_serde:?}"
        );
    }
}

/// Generated documents: nested block and flow maps and lists of tricky
/// scalars, repeated keys, several documents, comments.
fn node(depth: u32) -> BoxedStrategy<Node> {
    let leaf = prop_oneof![
        1 => prop::sample::select(SCALARS),
        3 => prop::sample::select(COMMON),
    ]
    .prop_map(|s| Node::Scalar(s.to_string()));
    if depth == 0 {
        return leaf.boxed();
    }
    let key = prop::sample::select(&["a", "b", "on", "1", "x y", "n", "<<", "c"][..]);
    prop_oneof![
        3 => leaf,
        1 => prop::collection::vec(node(depth - 1), 0..4).prop_map(Node::Seq),
        2 => prop::collection::vec((key, any::<u8>(), node(depth - 1)), 0..4)
            .prop_map(|v| Node::Map(v.into_iter().map(|(k, q, n)| (k.to_string(), q % 4, n)).collect())),
    ]
    .boxed()
}

#[derive(Clone, Debug)]
enum Node {
    Scalar(String),
    Seq(Vec<Node>),
    /// Key, its style (0 plain, 1 double, 2 single, 3 plain), value.
    Map(Vec<(String, u8, Node)>),
}

fn scalar(s: &str, style: u8) -> String {
    let plain_ok = !s.is_empty()
        && !s.starts_with([
            '#', '@', '`', '-', '[', '{', '&', '*', '!', '|', '>', '%', '\'', '"',
        ])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':');
    match style {
        1 => quoted(s),
        2 => format!("'{}'", s.replace('\'', "''")),
        _ if plain_ok => s.to_string(),
        _ => quoted(s),
    }
}

fn block(n: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match n {
        Node::Scalar(s) => {
            out.push(' ');
            out.push_str(&scalar(s, 0));
            out.push('\n');
        }
        Node::Seq(items) if items.is_empty() => out.push_str(" []\n"),
        Node::Map(entries) if entries.is_empty() => out.push_str(" {}\n"),
        Node::Seq(items) => {
            out.push('\n');
            for i in items {
                out.push_str(&pad);
                out.push('-');
                block(i, indent + 2, out);
            }
        }
        Node::Map(entries) => {
            out.push('\n');
            for (k, style, v) in entries {
                out.push_str(&pad);
                out.push_str(&scalar(k, *style));
                out.push(':');
                block(v, indent + 2, out);
            }
        }
    }
}

fn flow(n: &Node, out: &mut String) {
    match n {
        Node::Scalar(s) => out.push_str(&quoted(s)),
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(item, out);
            }
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, (k, style, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&scalar(k, *style));
                out.push_str(": ");
                flow(v, out);
            }
            out.push('}');
        }
    }
}

/// How many generated streams the direct reader took.
static DIRECT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]
    #[test]
    fn both_readers_agree_on_generated_documents(
        docs in prop::collection::vec((node(4), any::<bool>(), any::<bool>()), 1..4)
    ) {
        let mut text = String::new();
        for (n, as_flow, comment) in &docs {
            text.push_str("---");
            if *comment {
                text.push_str(" # a comment");
            }
            if *as_flow {
                text.push(' ');
                flow(n, &mut text);
                text.push('\n');
            } else {
                block(n, 0, &mut text);
            }
        }
        let direct = check_direct_reader("gen.yaml", &text);
        if let Err(e) = &direct {
            prop_assert!(false, "{text}\n{e}");
        }
        if direct == Ok(true) {
            DIRECT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// The generated streams exercise the direct reader, not only serde-saphyr.
#[test]
fn generated_documents_reach_the_direct_reader() {
    both_readers_agree_on_generated_documents();
    let direct = DIRECT.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        direct >= 500,
        "the direct reader took {direct} of 2,048 generated streams"
    );
}

/// A text large enough to be parsed on a second thread: both readers agree,
/// and an alias or a syntax error at its very end still sends it to
/// serde-saphyr (which then gives the error).
#[test]
fn large_texts_are_read_alike_and_left_at_their_end() {
    let mut text = String::from("items:\n");
    for i in 0..4_000 {
        let s = SCALARS[i % SCALARS.len()];
        text.push_str(&format!(
            "- {{name: item{i}, v: {}, m: {i}, m: again}}\n",
            quoted(s)
        ));
    }
    assert!(text.len() > 128 * 1024);
    assert_eq!(check_direct_reader("big.yaml", &text), Ok(true));
    let docs = kroxide_model::load_documents("big.yaml", &text).unwrap();
    assert_eq!(docs[0].0["items"].as_array().unwrap().len(), 4_000);
    assert_eq!(
        docs[0].1.warnings().len(),
        4_000,
        "a duplicate-key warning per item"
    );

    let aliased = format!("{text}last: &a [1]\nagain: *a\n");
    assert_eq!(check_direct_reader("big.yaml", &aliased), Ok(false));
    let docs = kroxide_model::load_documents("big.yaml", &aliased).unwrap();
    assert_eq!(docs[0].0["again"], serde_json::json!([1]));

    let broken = format!("{text}last: [1\n");
    assert_eq!(check_direct_reader("big.yaml", &broken), Ok(false));
    let err = kroxide_model::load_documents("big.yaml", &broken).unwrap_err();
    assert!(err.to_string().contains("big.yaml"), "{err}");
}
