//! Graph tests: what a graph renders and reports for an instance, checked
//! offline in milliseconds (`kroxide test DIR`).
//!
//! A graph is code, and like code it needs tests that run on every change
//! without a cluster: "with this spec the user service has 3 replicas", "the
//! ingress is left out unless enabled", "the status says healthy once the
//! Deployments are ready", "a spec without a gateway is refused". A test
//! names an RGD file (or, from a graph written in Rust, uses that graph), an
//! instance, optionally observed objects, and what it expects: fragments of
//! the planned manifests, resources excluded by `includeWhen`, a fragment of
//! the status, an error, or a snapshot of the whole plan. The plan is the
//! one `kroxide plan` prints ([`kroxide_semantics::plan::Planner`]), so a
//! passing test says what a deploy would apply.
//!
//! # Test files
//!
//! Files named `*.test.yaml` (found recursively, in sorted order), each
//! holding one test per YAML document:
//!
//! ```yaml
//! name: dev instance is healthy when ready   # required, unique in its file
//! rgd: ../rgds/webapp.yaml                   # relative to this file; omitted: the Rust graph
//! graph: webapp                              # which RGD, when the file holds several
//! instance: {spec: {name: web}}              # inline object or spec, or a file path
//! namespace: default                         # when the instance names none
//! observed: {deployment: {status: {availableReplicas: 2}}}  # inline, or a file path
//! assumeReady: true                          # as `kroxide plan --assume-ready`
//! expect:
//!   resources:                               # fragments of planned manifests
//!     - id: deployment
//!       name: web                            # for a forEach collection: which object
//!       manifest: {spec: {replicas: 2}}
//!   excluded: [ingress]                      # left out by includeWhen
//!   status: {ready: true}                    # a fragment of the status
//!   error: "spec.name"                       # instead: the plan fails with this text
//! snapshot: snapshots/web.yaml               # the whole plan, as `kroxide plan` prints it
//! ```
//!
//! A fragment matches when it is a **subset** of the actual value: a map
//! when each of its keys matches the actual map's value for that key (the
//! actual map may have more keys); a list when the actual list has the same
//! length and each item matches the item at the same position; `null` when
//! the actual value is `null` or missing; any other scalar when it is equal
//! (numbers by value: `2` matches `2.0`). Fragments are compared with the
//! real Secret values, so a test can check what a Secret holds; everything
//! printed (differences, errors, snapshots) has them masked as `plan`
//! masks them.
//!
//! A plan that fails (the graph or the instance is invalid, a resource's
//! expression fails, a status field's expression fails) fails the test
//! unless the test expects it with `expect.error`. A snapshot is the plan
//! exactly as `kroxide plan -o yaml` prints it; with
//! [`RunOptions::update`] a snapshot that differs is rewritten (a missing
//! one created) even when another expectation of the test fails.

use crate::{redact_inputs, redact_plan};
use kroxide_model::{
    load_documents, load_file_typed, FieldPath, LoadedRgd, ResourceGraphDefinition,
};
use kroxide_semantics::plan::{Action, Observed, Plan, PlanError, PlanOptions, Planner};
use kroxide_semantics::redact::Redactor;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A test file, or something it names, that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    /// A test file or directory cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A directory with no test file in it.
    #[error("{}: no test file (*.test.yaml) in this directory", path.display())]
    NoTests {
        /// The directory.
        path: PathBuf,
    },
    /// A test file that is not YAML.
    #[error("{0}")]
    Yaml(#[from] kroxide_model::LoadError),
    /// A test document that does not have the test format (a missing
    /// `name`, an unknown field, a value of the wrong type...).
    #[error("{file}{}: document {document}{}: {message}", fmt_line(*line), fmt_test(test))]
    Format {
        /// The test file.
        file: String,
        /// 1-based index of the document in the file.
        document: usize,
        /// 1-based line of the offending field, when known.
        line: Option<u32>,
        /// The test's name, when it has one.
        test: Option<String>,
        /// What is wrong (with the field's path).
        message: String,
    },
    /// A test that cannot run: its RGD, instance or observed objects are
    /// missing or unreadable, or it names no graph.
    #[error("{file}: test `{test}`: {message}")]
    Setup {
        /// The test file.
        file: String,
        /// The test's name.
        test: String,
        /// What is wrong (naming the file it is about).
        message: String,
    },
}

fn fmt_line(line: Option<u32>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

fn fmt_test(test: &Option<String>) -> String {
    test.as_ref()
        .map(|t| format!(" (test `{t}`)"))
        .unwrap_or_default()
}

/// A YAML value given inline, or the path of a file that holds it.
#[derive(Clone, Debug, PartialEq)]
pub enum Input {
    /// A file, relative paths resolved against the test file's directory.
    File(PathBuf),
    /// The value written in the test (`null` when omitted).
    Inline(Value),
}

/// What a test expects of the plan (`expect:`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    /// Fragments of planned manifests.
    #[serde(default)]
    pub resources: Vec<ExpectResource>,
    /// Ids of resources that `includeWhen` (theirs or a dependency's) leaves out.
    #[serde(default)]
    pub excluded: Vec<String>,
    /// A fragment of the status KRO would report.
    #[serde(default)]
    pub status: Option<Value>,
    /// Instead of the above: the plan must fail with a message containing this.
    #[serde(default)]
    pub error: Option<String>,
}

/// One expected resource (`expect.resources[i]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectResource {
    /// The resource id.
    pub id: String,
    /// For a `forEach` collection: the `metadata.name` of the object meant.
    #[serde(default)]
    pub name: Option<String>,
    /// A fragment of the planned object; omitted, the resource need only be
    /// planned (not excluded, resolved).
    #[serde(default)]
    pub manifest: Option<Value>,
}

/// One test, as read from a test file.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphTest {
    /// The test's name (unique in its file).
    pub name: String,
    /// The test file.
    pub file: PathBuf,
    /// 1-based index of the document in the file.
    pub document: usize,
    /// The RGD file; `None`: the graph the runner was given
    /// ([`RunOptions::graph`]).
    pub rgd: Option<PathBuf>,
    /// Which RGD of the file (by `metadata.name`), when it holds several.
    pub graph: Option<String>,
    /// The instance: a whole object or just its spec (`Null`: an empty spec).
    pub instance: Input,
    /// Namespace of the instance when it names none (`default`).
    pub namespace: Option<String>,
    /// Live objects, or a map `resourceId: {status: ...}` (`plan --observed`).
    pub observed: Option<Input>,
    /// Fill in what controllers would set (`plan --assume-ready`).
    pub assume_ready: bool,
    /// What the plan must show.
    pub expect: Expect,
    /// The file holding the expected plan.
    pub snapshot: Option<PathBuf>,
}

/// The document as written, before paths are resolved.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTest {
    name: String,
    #[serde(default)]
    rgd: Option<String>,
    #[serde(default)]
    graph: Option<String>,
    #[serde(default)]
    instance: Value,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    observed: Option<Value>,
    #[serde(default)]
    assume_ready: bool,
    #[serde(default)]
    expect: Value,
    #[serde(default)]
    snapshot: Option<String>,
}

/// Options of a run.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions<'a> {
    /// Rewrite snapshot files that differ from the plan (and create missing ones).
    pub update: bool,
    /// The graph of tests that name no `rgd:` (a graph written in Rust).
    pub graph: Option<&'a ResourceGraphDefinition>,
}

/// Why a test failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Failure {
    /// A value of the plan differs from the expected fragment.
    #[serde(rename_all = "camelCase")]
    Mismatch {
        /// `resources.userDeployment.manifest.spec.replicas`, `status.ready`.
        path: String,
        /// The expected fragment there.
        expected: Value,
        /// The plan's value there; `None`: the plan has no such field.
        actual: Option<Value>,
        /// What else is known (why a status field is pending).
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// An expected resource is not there as expected (unknown id,
    /// excluded, not resolved, several objects and no `name`).
    #[serde(rename_all = "camelCase")]
    Resource {
        /// `resources.<id>` (`[name=...]` for one object of a collection).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The plan failed and the test expected no error.
    #[serde(rename_all = "camelCase")]
    PlanFailed {
        /// The planner's message (Secret values masked).
        message: String,
    },
    /// The test expected an error: the plan succeeded (`actual` is `None`)
    /// or failed with another message.
    #[serde(rename_all = "camelCase")]
    ErrorExpected {
        /// The text the error must contain.
        expected: String,
        /// The plan's error, if it failed.
        actual: Option<String>,
    },
    /// The plan differs from the snapshot file (or there is none).
    #[serde(rename_all = "camelCase")]
    Snapshot {
        /// The snapshot file.
        file: PathBuf,
        /// Unified diff from the snapshot to the plan.
        diff: String,
    },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Mismatch {
                path,
                expected,
                actual,
                note,
            } => {
                writeln!(f, "{path}:")?;
                writeln!(f, "  expected: {}", show(expected))?;
                match actual {
                    Some(a) => writeln!(f, "  actual:   {}", show(a))?,
                    None => writeln!(f, "  actual:   (missing)")?,
                }
                if let Some(n) = note {
                    writeln!(f, "  ({n})")?;
                }
                Ok(())
            }
            Failure::Resource { path, message } => writeln!(f, "{path}: {message}"),
            Failure::PlanFailed { message } => {
                writeln!(f, "the plan failed:")?;
                writeln!(f, "{}", indent(message))
            }
            Failure::ErrorExpected { expected, actual } => {
                writeln!(f, "expected an error containing {expected:?}")?;
                match actual {
                    None => writeln!(f, "  but the plan succeeded"),
                    Some(a) => {
                        writeln!(f, "  but the plan failed with:")?;
                        writeln!(f, "{}", indent(a))
                    }
                }
            }
            Failure::Snapshot { file, diff } => {
                writeln!(
                    f,
                    "the plan differs from the snapshot {} (`--update` rewrites it):",
                    file.display()
                )?;
                f.write_str(diff)?;
                if !diff.ends_with('\n') {
                    writeln!(f)?;
                }
                Ok(())
            }
        }
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A value on one line: JSON (strings quoted, so `"2"` and `2` differ).
fn show(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// How a test ended.
#[derive(Debug)]
pub enum Outcome {
    /// Every expectation holds.
    Passed,
    /// Passed after `--update` rewrote (or created) its snapshot.
    Updated,
    /// Some expectations do not hold: each one's failure.
    Failed(Vec<Failure>),
    /// The test could not run (bad input, not a test failure).
    Error(TestError),
}

/// One test's result.
#[derive(Debug)]
pub struct TestResult {
    /// The test file.
    pub file: PathBuf,
    /// The test's name.
    pub name: String,
    /// How it ended.
    pub outcome: Outcome,
}

/// The results of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Tests in file order, files in sorted order.
    pub results: Vec<TestResult>,
    /// Test files that could not be read, or not as tests (no test of them ran).
    pub errors: Vec<TestError>,
    /// How long the whole run took (reading files included).
    pub elapsed: Duration,
}

impl Report {
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.outcome)).count()
    }
    /// How many tests passed (not counting updated ones).
    pub fn passed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Passed))
    }
    /// How many tests failed.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed(_)))
    }
    /// How many tests passed once their snapshot was rewritten.
    pub fn updated(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Updated))
    }
    /// Bad input: files and tests that could not run.
    pub fn bad_input(&self) -> usize {
        self.errors.len() + self.count(|o| matches!(o, Outcome::Error(_)))
    }
    /// Every test passed (or was updated) and there was no bad input.
    pub fn is_ok(&self) -> bool {
        self.failed() == 0 && self.bad_input() == 0
    }
}

/// Finds the test files (`*.test.yaml`) under `paths`, recursively; each
/// path's are sorted. A path that is a file is taken whatever its name.
pub fn find_test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, TestError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| io(p, e))?;
        if meta.is_file() {
            out.push(p.clone());
            continue;
        }
        let mut found = Vec::new();
        walk(p, &mut found)?;
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), TestError> {
    for e in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
        let e = e.map_err(|e| io(dir, e))?;
        let path = e.path();
        // Symbolic links to directories are not followed (no loops).
        let ty = e.file_type().map_err(|e| io(&path, e))?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if e.file_name().to_string_lossy().ends_with(".test.yaml") {
            out.push(path);
        }
    }
    Ok(())
}

fn io(path: &Path, source: std::io::Error) -> TestError {
    TestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads the tests of one test file (one per YAML document). Any document
/// that is not a test makes the file an error.
pub fn load_tests(file: &Path) -> Result<Vec<GraphTest>, TestError> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| io(file, e))?;
    let docs = load_documents(&name, &text)?;
    if docs.is_empty() {
        return Err(TestError::Format {
            file: name,
            document: 1,
            line: None,
            test: None,
            message: "no test in this file".into(),
        });
    }
    let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
    let mut tests: Vec<GraphTest> = Vec::new();
    for (i, (doc, source)) in docs.into_iter().enumerate() {
        let document = i + 1;
        let test_name = doc.get("name").and_then(Value::as_str).map(String::from);
        let err = |at: &FieldPath, message: String| TestError::Format {
            file: name.clone(),
            document,
            line: source.locate(at).map(|l| l.line),
            test: test_name.clone(),
            message,
        };
        let t = parse_test(&doc, &dir).map_err(|(at, m)| err(&at, m))?;
        if tests.iter().any(|x| x.name == t.name) {
            return Err(err(
                &FieldPath::root().key("name"),
                format!("another test of this file is named `{}`", t.name),
            ));
        }
        tests.push(GraphTest {
            file: file.to_path_buf(),
            document,
            ..t
        });
    }
    Ok(tests)
}

type FormatError = (FieldPath, String);

/// Reads one test document; an error says where (the field) and what.
fn parse_test(doc: &Value, dir: &Path) -> Result<GraphTest, FormatError> {
    if !doc.is_object() {
        return Err((
            FieldPath::root(),
            "a test is a map (name, rgd, instance, expect...)".into(),
        ));
    }
    let root = FieldPath::root();
    let raw: RawTest = from_value(doc, &root)?;
    if raw.name.trim().is_empty() {
        return Err((root.key("name"), "the test's name is empty".into()));
    }
    let expect_at = root.key("expect");
    let expect: Expect = if raw.expect.is_null() {
        Expect::default()
    } else {
        // Each layer on its own, so that an error says where it is.
        let mut e = raw.expect.clone();
        let resources = e.as_object_mut().and_then(|m| m.remove("resources"));
        let mut expect: Expect = from_value(&e, &expect_at)?;
        if let Some(list) = resources.filter(|r| !r.is_null()) {
            let at = expect_at.key("resources");
            let Value::Array(items) = list else {
                return Err((
                    at,
                    "expected a list of resources (id, name, manifest)".into(),
                ));
            };
            for (i, item) in items.iter().enumerate() {
                expect.resources.push(from_value(item, &at.index(i))?);
            }
        }
        expect
    };
    if expect.error.is_some() {
        let mut others = Vec::new();
        if !expect.resources.is_empty() {
            others.push("expect.resources");
        }
        if !expect.excluded.is_empty() {
            others.push("expect.excluded");
        }
        if expect.status.is_some() {
            others.push("expect.status");
        }
        if raw.snapshot.is_some() {
            others.push("snapshot");
        }
        if !others.is_empty() {
            return Err((
                expect_at.key("error"),
                format!(
                    "a test that expects an error has no plan to check: remove {}",
                    others.join(", ")
                ),
            ));
        }
    }
    let instance = match raw.instance {
        Value::String(s) => Input::File(resolve(dir, &s)),
        v @ (Value::Object(_) | Value::Null) => Input::Inline(v),
        _ => {
            return Err((
                root.key("instance"),
                "expected a file path, or the instance (an object or its spec) inline".into(),
            ))
        }
    };
    let observed = match raw.observed {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Input::File(resolve(dir, &s))),
        Some(v @ (Value::Object(_) | Value::Array(_))) => Some(Input::Inline(v)),
        Some(_) => {
            return Err((
                root.key("observed"),
                "expected a file path, a map `resourceId: {status: ...}`, or a list of objects"
                    .into(),
            ))
        }
    };
    Ok(GraphTest {
        name: raw.name,
        file: PathBuf::new(),
        document: 0,
        rgd: raw.rgd.map(|r| resolve(dir, &r)),
        graph: raw.graph,
        instance,
        namespace: raw.namespace,
        observed,
        assume_ready: raw.assume_ready,
        expect,
        snapshot: raw.snapshot.map(|s| resolve(dir, &s)),
    })
}

/// `rel` from the directory `dir`, `..` taken off lexically
/// (`tests/../rgds/a.yaml` is `rgds/a.yaml`), so that messages show it short.
fn resolve(dir: &Path, rel: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in dir.join(rel).components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `v` as a `T`; an error is placed at the field it is about (serde names
/// an unknown field, not a field of the wrong type: that one is found by
/// leaving each field out in turn).
fn from_value<T: serde::de::DeserializeOwned>(v: &Value, at: &FieldPath) -> Result<T, FormatError> {
    T::deserialize(v).map_err(|e| {
        let msg = e.to_string();
        let unknown = msg
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .map(String::from);
        let field = unknown.or_else(|| {
            if msg.starts_with("missing field") {
                return None;
            }
            let m = v.as_object()?;
            m.keys()
                .find(|k| {
                    let mut probe = m.clone();
                    probe.remove(k.as_str());
                    match T::deserialize(&Value::Object(probe)) {
                        Ok(_) => true,
                        Err(e) => e.to_string() == format!("missing field `{k}`"),
                    }
                })
                .cloned()
        });
        match field {
            Some(k) if !msg.starts_with("unknown field") => {
                let place = at.key(k.as_str());
                (place.clone(), format!("{place}: {msg}"))
            }
            Some(k) => (at.key(k.as_str()), prefixed(at, &msg)),
            None => (at.clone(), prefixed(at, &msg)),
        }
    })
}

/// `msg` after the path `at` (none at the top).
fn prefixed(at: &FieldPath, msg: &str) -> String {
    if at.is_root() {
        msg.to_string()
    } else {
        format!("{at}: {msg}")
    }
}

/// One difference between a fragment and the actual value.
#[derive(Clone, Debug, PartialEq)]
pub struct Difference {
    /// Where, from the top of the compared values.
    pub path: FieldPath,
    /// The expected fragment there.
    pub expected: Value,
    /// The actual value there; `None`: missing.
    pub actual: Option<Value>,
}

/// The places where `actual` does not match the fragment `expected` (see
/// the module documentation for what matches); empty when it matches.
///
/// ```
/// use kroxide_cli::graphtest::differences;
/// use serde_json::json;
/// let actual = json!({"spec": {"replicas": 2, "paused": false}});
/// assert!(differences(&json!({"spec": {"replicas": 2}}), &actual).is_empty());
/// let d = differences(&json!({"spec": {"replicas": 3}}), &actual);
/// assert_eq!(d[0].path.to_string(), "spec.replicas");
/// assert_eq!(d[0].actual, Some(json!(2)));
/// ```
pub fn differences(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_into(expected, Some(actual), &FieldPath::root(), &mut out);
    out
}

/// Whether `expected` is a fragment of `actual` (no [`differences`]).
pub fn is_subset(expected: &Value, actual: &Value) -> bool {
    differences(expected, actual).is_empty()
}

fn diff_into(expected: &Value, actual: Option<&Value>, at: &FieldPath, out: &mut Vec<Difference>) {
    let differ = |out: &mut Vec<Difference>| {
        out.push(Difference {
            path: at.clone(),
            expected: expected.clone(),
            actual: actual.cloned(),
        })
    };
    match (expected, actual) {
        (Value::Null, None | Some(Value::Null)) => {}
        (_, None) => differ(out),
        (Value::Object(e), Some(Value::Object(a))) => {
            for (k, v) in e {
                diff_into(v, a.get(k), &at.key(k.as_str()), out);
            }
        }
        (Value::Array(e), Some(Value::Array(a))) => {
            if e.len() != a.len() {
                differ(out);
            } else {
                for (i, (x, y)) in e.iter().zip(a).enumerate() {
                    diff_into(x, Some(y), &at.index(i), out);
                }
            }
        }
        (Value::Number(x), Some(Value::Number(y))) => {
            let same = x == y || matches!((x.as_f64(), y.as_f64()), (Some(p), Some(q)) if p == q);
            if !same {
                differ(out);
            }
        }
        (e, Some(a)) => {
            if e != a {
                differ(out);
            }
        }
    }
}

/// `prefix` followed by `path` (`resources.web.manifest` + `spec.replicas`).
fn under(prefix: &str, path: &FieldPath) -> String {
    let p = path.to_string();
    if p.is_empty() {
        prefix.to_string()
    } else if p.starts_with('[') {
        format!("{prefix}{p}")
    } else {
        format!("{prefix}.{p}")
    }
}

/// The RGD files that tests name, each read once.
#[derive(Debug, Default)]
pub struct Graphs {
    files: HashMap<PathBuf, Result<Vec<LoadedRgd>, String>>,
}

impl Graphs {
    /// Reads the RGD files that `tests` name and that are not read yet.
    pub fn read<'t>(&mut self, tests: impl IntoIterator<Item = &'t GraphTest>) {
        for p in tests.into_iter().filter_map(|t| t.rgd.as_ref()) {
            self.files.entry(p.clone()).or_insert_with(|| {
                // The KRO version the command line targets (v0.9.3 unless told).
                let mut docs = load_file_typed(p).map_err(|e| e.to_string())?;
                for d in &mut docs {
                    d.rgd.kro_version = crate::kro_version();
                }
                Ok(docs)
            });
        }
    }
}

/// Runs tests. Each graph is validated once, however many tests plan it.
pub struct Runner<'a> {
    opts: RunOptions<'a>,
    graphs: &'a Graphs,
    /// By the address of the graph (in `graphs` or `opts.graph`).
    planners: HashMap<usize, Result<Planner<'a>, PlanError>>,
}

impl<'a> Runner<'a> {
    /// A runner of tests whose RGD files are in `graphs` ([`Graphs::read`]).
    pub fn new(opts: RunOptions<'a>, graphs: &'a Graphs) -> Self {
        Runner {
            opts,
            graphs,
            planners: HashMap::new(),
        }
    }

    /// Runs one test.
    pub fn run(&mut self, t: &GraphTest) -> Outcome {
        let setup = |message: String| {
            Outcome::Error(TestError::Setup {
                file: t.file.display().to_string(),
                test: t.name.clone(),
                message,
            })
        };
        let rgd: &ResourceGraphDefinition = match &t.rgd {
            Some(path) => {
                let docs = match self.graphs.files.get(path) {
                    Some(Ok(d)) => d,
                    Some(Err(e)) => return setup(format!("rgd: {e}")),
                    None => {
                        return setup(format!(
                            "rgd {}: not read (see `Graphs::read`)",
                            path.display()
                        ))
                    }
                };
                match pick(docs.iter().map(|d| &d.rgd), t.graph.as_deref()) {
                    Ok(r) => r,
                    Err(m) => return setup(format!("rgd {}: {m}", path.display())),
                }
            }
            None => match self.opts.graph {
                Some(g) => match pick(std::iter::once(g), t.graph.as_deref()) {
                    Ok(r) => r,
                    Err(m) => return setup(m),
                },
                None => {
                    return setup(
                        "no `rgd:` (the path of the ResourceGraphDefinition file to plan)".into(),
                    )
                }
            },
        };
        let instance = match &t.instance {
            Input::Inline(v) => v.clone(),
            Input::File(p) => match read_yaml(p) {
                Ok(mut d) if d.len() == 1 => d.remove(0),
                Ok(d) => {
                    return setup(format!(
                        "instance {}: expected one document, found {}",
                        p.display(),
                        d.len()
                    ))
                }
                Err(e) => return setup(format!("instance: {e}")),
            },
        };
        let observed = match &t.observed {
            None => Observed::default(),
            Some(Input::Inline(Value::Array(docs))) => Observed::from_documents(docs.clone()),
            Some(Input::Inline(v)) => Observed::from_documents([v.clone()]),
            Some(Input::File(p)) => match read_yaml(p) {
                Ok(d) => Observed::from_documents(d),
                Err(e) => return setup(format!("observed: {e}")),
            },
        };
        let opts = PlanOptions {
            namespace: t.namespace.clone().unwrap_or_else(|| "default".into()),
            assume_ready: t.assume_ready,
            observed,
        };
        let planner = self
            .planners
            .entry(rgd as *const ResourceGraphDefinition as usize)
            .or_insert_with(|| Planner::new(rgd));
        let planned = match planner {
            Ok(p) => p.plan(&instance, &opts),
            Err(e) => Err(e.clone()),
        };
        let (plan, failure) = match planned {
            Err(e) => (
                None,
                Some(redact_inputs(rgd, &instance, false, &e.to_string())),
            ),
            Ok(p) => {
                let mut masked = p.clone();
                let redactor = redact_plan(&mut masked);
                let failure = plan_failure(&masked);
                (Some((p, masked, redactor)), failure)
            }
        };
        if let Some(expected) = &t.expect.error {
            return match failure {
                Some(m) if m.contains(expected.as_str()) => Outcome::Passed,
                actual => Outcome::Failed(vec![Failure::ErrorExpected {
                    expected: expected.clone(),
                    actual,
                }]),
            };
        }
        let (plan, masked, redactor) = match (plan, failure) {
            (Some(p), None) => p,
            // No plan always comes with a message.
            (_, message) => {
                return Outcome::Failed(vec![Failure::PlanFailed {
                    message: message.unwrap_or_default(),
                }])
            }
        };
        let mut failures = check(&t.expect, &plan, &redactor);
        let mut updated = false;
        if let Some(file) = &t.snapshot {
            match snapshot(file, &masked, self.opts.update) {
                Ok(SnapshotCheck::Same) => {}
                Ok(SnapshotCheck::Written) => updated = true,
                Ok(SnapshotCheck::Differs(diff)) => failures.push(Failure::Snapshot {
                    file: file.clone(),
                    diff: redactor.redact_str(&diff),
                }),
                Err(e) => return setup(e),
            }
        }
        if !failures.is_empty() {
            Outcome::Failed(failures)
        } else if updated {
            Outcome::Updated
        } else {
            Outcome::Passed
        }
    }
}

/// Compares the plan `masked` with the snapshot `file`; rewrites it when
/// `update`.
fn snapshot(file: &Path, masked: &Plan, update: bool) -> Result<SnapshotCheck, String> {
    let text = kroxide_model::to_yaml(masked)
        .map_err(|e| format!("cannot write the plan as YAML: {e}"))?;
    let old = match std::fs::read_to_string(file) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(format!("snapshot {}: cannot read: {e}", file.display())),
    };
    if old.as_deref() == Some(text.as_str()) {
        return Ok(SnapshotCheck::Same);
    }
    if update {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("snapshot {}: cannot write: {e}", dir.display()))?;
        }
        std::fs::write(file, &text)
            .map_err(|e| format!("snapshot {}: cannot write: {e}", file.display()))?;
        return Ok(SnapshotCheck::Written);
    }
    let Some(old) = old else {
        return Ok(SnapshotCheck::Differs(
            "(no snapshot file yet: `--update` creates it)\n".into(),
        ));
    };
    let diff = similar::TextDiff::from_lines(&old, &text);
    let name = file.display().to_string();
    Ok(SnapshotCheck::Differs(
        diff.unified_diff()
            .context_radius(3)
            .header(&name, "plan")
            .to_string(),
    ))
}

enum SnapshotCheck {
    Same,
    Written,
    Differs(String),
}

/// The one graph of `graphs` named `name`, or the only one.
fn pick<'g>(
    mut graphs: impl Iterator<Item = &'g ResourceGraphDefinition>,
    name: Option<&str>,
) -> Result<&'g ResourceGraphDefinition, String> {
    let all: Vec<&ResourceGraphDefinition> = graphs.by_ref().collect();
    let names = || {
        all.iter()
            .map(|g| format!("`{}`", g.name()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match name {
        Some(n) => all
            .iter()
            .find(|g| g.name() == n)
            .copied()
            .ok_or_else(|| format!("no graph named `{n}` (there is {})", names())),
        None if all.len() == 1 => Ok(all[0]),
        None => Err(format!(
            "holds {} graphs ({}): name one with `graph:`",
            all.len(),
            names()
        )),
    }
}

fn read_yaml(p: &Path) -> Result<Vec<Value>, String> {
    let text =
        std::fs::read_to_string(p).map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
    load_documents(&p.display().to_string(), &text)
        .map(|d| d.into_iter().map(|(v, _)| v).collect())
        .map_err(|e| e.to_string())
}

/// Why a plan counts as failed, as `kroxide plan` exits 1: a resource whose
/// expression failed, a status field whose expression failed.
fn plan_failure(p: &Plan) -> Option<String> {
    let mut lines = Vec::new();
    for r in p.resources.iter().filter(|r| r.action == Action::Fail) {
        lines.push(format!(
            "resource `{}`: {}",
            r.id,
            r.reason.as_deref().unwrap_or("failed")
        ));
    }
    for (field, why) in &p.errors {
        lines.push(format!("{field}: {why}"));
    }
    (!lines.is_empty()).then(|| lines.join("\n"))
}

/// The failures of `plan` against `expect`, values masked by `redactor`.
fn check(expect: &Expect, plan: &Plan, redactor: &Redactor) -> Vec<Failure> {
    let mut out = Vec::new();
    let masked = |v: &Value| {
        let mut v = v.clone();
        redactor.redact_value(&mut v);
        v
    };
    let mismatches = |prefix: &str,
                      expected: &Value,
                      actual: &Value,
                      out: &mut Vec<Failure>,
                      note: &dyn Fn(&str) -> Option<String>| {
        for d in differences(expected, actual) {
            let path = under(prefix, &d.path);
            out.push(Failure::Mismatch {
                note: if d.actual.is_none() {
                    note(&path)
                } else {
                    None
                },
                path,
                expected: masked(&d.expected),
                actual: d.actual.as_ref().map(masked),
            });
        }
    };
    for e in &expect.resources {
        let mut at = format!("resources.{}", FieldPath::root().key(e.id.as_str()));
        let Some(r) = plan.resource(&e.id) else {
            out.push(Failure::Resource {
                path: at,
                message: format!("the graph has no resource `{}`", e.id),
            });
            continue;
        };
        if r.action == Action::Skip {
            out.push(Failure::Resource {
                path: at,
                message: format!(
                    "is excluded: {}",
                    redactor.redact_str(r.reason.as_deref().unwrap_or("includeWhen is false"))
                ),
            });
            continue;
        }
        let object = match &e.name {
            Some(n) => {
                at = format!("{at}[name={n}]");
                r.objects
                    .iter()
                    .find(|o| kroxide_model::meta_str(o, "name") == Some(n.as_str()))
            }
            None if r.objects.len() <= 1 => r.objects.first(),
            None => {
                let names: Vec<&str> = r
                    .objects
                    .iter()
                    .filter_map(|o| kroxide_model::meta_str(o, "name"))
                    .collect();
                out.push(Failure::Resource {
                    path: at,
                    message: format!(
                        "has {} objects (forEach): say which with `name:` ({})",
                        r.objects.len(),
                        names.join(", ")
                    ),
                });
                continue;
            }
        };
        let Some(object) = object else {
            let why = match (&e.name, &r.reason) {
                (Some(n), _) if !r.objects.is_empty() => format!("has no object named `{n}`"),
                (_, Some(reason)) => format!("has no object yet: {}", redactor.redact_str(reason)),
                _ => "has no object".to_string(),
            };
            out.push(Failure::Resource {
                path: at,
                message: why,
            });
            continue;
        };
        if let Some(m) = &e.manifest {
            mismatches(&format!("{at}.manifest"), m, object, &mut out, &|_| None);
        }
    }
    for id in &expect.excluded {
        let at = format!("resources.{}", FieldPath::root().key(id.as_str()));
        match plan.resource(id) {
            None => out.push(Failure::Resource {
                path: at,
                message: format!("the graph has no resource `{id}`"),
            }),
            Some(r) if r.action == Action::Skip => {}
            Some(r) => out.push(Failure::Mismatch {
                path: format!("{at}.action"),
                expected: Value::String("skip".into()),
                actual: serde_json::to_value(&r.action).ok(),
                note: Some("expected excluded by includeWhen".into()),
            }),
        }
    }
    if let Some(status) = &expect.status {
        let pending = |path: &str| {
            plan.pending
                .get(path)
                .map(|why| format!("pending: {}", redactor.redact_str(why)))
        };
        mismatches("status", status, &plan.status, &mut out, &pending);
    }
    out
}

/// Finds the test files under `paths` and runs them all.
///
/// ```
/// use kroxide_cli::graphtest::{run, RunOptions};
/// let dir = std::env::temp_dir().join(format!("kroxide-graphtest-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("app.yaml"), r#"
/// apiVersion: kro.run/v1alpha1
/// kind: ResourceGraphDefinition
/// metadata: {name: app}
/// spec:
///   schema: {apiVersion: v1alpha1, kind: App, spec: {name: string, replicas: integer | default=2}}
///   resources:
///     - id: web
///       template:
///         apiVersion: apps/v1
///         kind: Deployment
///         metadata: {name: "${schema.spec.name}"}
///         spec:
///           replicas: ${schema.spec.replicas}
///           selector: {matchLabels: {app: web}}
///           template:
///             metadata: {labels: {app: web}}
///             spec: {containers: [{name: web, image: nginx}]}
/// "#).unwrap();
/// std::fs::write(dir.join("app.test.yaml"), r#"
/// name: replicas default to 2
/// rgd: app.yaml
/// instance: {spec: {name: shop}}
/// expect:
///   resources:
///     - id: web
///       manifest: {metadata: {name: shop}, spec: {replicas: 2}}
/// ---
/// name: three replicas
/// rgd: app.yaml
/// instance: {spec: {name: shop, replicas: 3}}
/// expect:
///   resources: [{id: web, manifest: {spec: {replicas: 2}}}]
/// "#).unwrap();
/// let report = run(&[dir.clone()], RunOptions::default());
/// assert_eq!((report.passed(), report.failed()), (1, 1));
/// let kroxide_cli::graphtest::Outcome::Failed(f) = &report.results[1].outcome else { panic!() };
/// assert!(f[0].to_string().contains("resources.web.manifest.spec.replicas"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn run(paths: &[PathBuf], opts: RunOptions<'_>) -> Report {
    let start = Instant::now();
    let mut report = Report::default();
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for p in paths {
        match find_test_files(std::slice::from_ref(p)) {
            Ok(f) if f.is_empty() => report.errors.push(TestError::NoTests { path: p.clone() }),
            Ok(f) => files.extend(f.into_iter().filter(|f| seen.insert(f.clone()))),
            Err(e) => report.errors.push(e),
        }
    }
    let mut tests = Vec::new();
    for f in files {
        match load_tests(&f) {
            Ok(t) => tests.extend(t),
            Err(e) => report.errors.push(e),
        }
    }
    let mut graphs = Graphs::default();
    graphs.read(&tests);
    let mut runner = Runner::new(opts, &graphs);
    for t in tests {
        let outcome = runner.run(&t);
        report.results.push(TestResult {
            file: t.file,
            name: t.name,
            outcome,
        });
    }
    report.elapsed = start.elapsed();
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(expected: Value, actual: Value) -> Vec<String> {
        differences(&expected, &actual)
            .iter()
            .map(|d| d.path.to_string())
            .collect()
    }

    #[test]
    fn maps_match_on_the_expected_keys_only() {
        let actual = json!({"a": 1, "b": {"c": "x", "d": true}});
        assert!(is_subset(&json!({}), &actual));
        assert!(is_subset(&json!({"b": {"c": "x"}}), &actual));
        assert!(is_subset(&actual.clone(), &actual));
        assert_eq!(paths(json!({"b": {"c": "y"}}), actual.clone()), ["b.c"]);
        assert_eq!(paths(json!({"e": 1, "a": 2}), actual), ["e", "a"]);
    }

    #[test]
    fn lists_match_item_by_item_with_the_same_length() {
        let actual = json!({"l": [{"n": 1, "x": 0}, {"n": 2}]});
        assert!(is_subset(&json!({"l": [{"n": 1}, {}]}), &actual));
        assert_eq!(paths(json!({"l": [{"n": 1}]}), actual.clone()), ["l"]);
        assert_eq!(paths(json!({"l": [{}, {}, {}]}), actual.clone()), ["l"]);
        assert_eq!(
            paths(json!({"l": [{}, {"n": 3}]}), actual.clone()),
            ["l[1].n"]
        );
        // Order matters.
        assert_eq!(
            paths(json!({"l": [{"n": 2}, {"n": 1}]}), actual),
            ["l[0].n", "l[1].n"]
        );
    }

    #[test]
    fn scalars_are_equal_numbers_by_value_and_types_differ() {
        assert!(is_subset(&json!(2), &json!(2.0)));
        assert!(is_subset(&json!("a"), &json!("a")));
        assert!(!is_subset(&json!(2), &json!("2")));
        assert!(!is_subset(&json!(true), &json!("true")));
        assert!(!is_subset(&json!(1), &json!(2)));
        assert!(!is_subset(&json!({"a": 1}), &json!([1])));
        assert!(!is_subset(&json!([]), &json!({})));
    }

    #[test]
    fn null_matches_null_or_missing() {
        assert!(is_subset(&json!({"a": null}), &json!({})));
        assert!(is_subset(&json!({"a": null}), &json!({"a": null})));
        assert!(!is_subset(&json!({"a": null}), &json!({"a": 0})));
        let d = differences(&json!({"a": {"b": 1}}), &json!({}));
        assert_eq!(d[0].path.to_string(), "a");
        assert_eq!(d[0].actual, None);
    }

    #[test]
    fn paths_with_dots_are_quoted_under_a_prefix() {
        let d = differences(
            &json!({"metadata": {"labels": {"app.kubernetes.io/name": "x"}}}),
            &json!({"metadata": {"labels": {}}}),
        );
        assert_eq!(
            under("resources.web.manifest", &d[0].path),
            r#"resources.web.manifest.metadata.labels["app.kubernetes.io/name"]"#
        );
        assert_eq!(under("status", &FieldPath::root()), "status");
    }

    #[test]
    fn unknown_fields_are_refused_where_they_are() {
        let dir = Path::new("t");
        let e = parse_test(&json!({"name": "x", "snapshots": "a"}), dir).unwrap_err();
        assert_eq!(e.0.to_string(), "snapshots");
        assert!(e.1.contains("unknown field `snapshots`"), "{}", e.1);
        let e = parse_test(&json!({"name": "x", "expect": {"statuses": {}}}), dir).unwrap_err();
        assert_eq!(e.0.to_string(), "expect.statuses");
        assert!(
            e.1.starts_with("expect: unknown field `statuses`"),
            "{}",
            e.1
        );
        let e = parse_test(
            &json!({"name": "x", "expect": {"resources": [{"id": "a", "manfest": {}}]}}),
            dir,
        )
        .unwrap_err();
        assert_eq!(e.0.to_string(), "expect.resources[0].manfest");
        let e = parse_test(&json!({"rgd": "a.yaml"}), dir).unwrap_err();
        assert!(e.1.contains("missing field `name`"), "{}", e.1);
        // A value of the wrong type, at its field.
        let e = parse_test(&json!({"name": "x", "assumeReady": "yes"}), dir).unwrap_err();
        assert_eq!(e.0.to_string(), "assumeReady");
        assert!(
            e.1.starts_with("assumeReady: invalid type: string"),
            "{}",
            e.1
        );
        let e = parse_test(&json!({"name": "x", "expect": {"excluded": "web"}}), dir).unwrap_err();
        assert_eq!(e.0.to_string(), "expect.excluded");
        assert!(e.1.starts_with("expect.excluded: invalid type"), "{}", e.1);
    }

    #[test]
    fn paths_are_relative_to_the_test_file_and_errors_exclude_the_rest() {
        let t = parse_test(
            &json!({"name": "x", "rgd": "../r.yaml", "instance": "i.yaml", "snapshot": "s/x.yaml"}),
            Path::new("tests"),
        )
        .unwrap();
        assert_eq!(t.rgd, Some(PathBuf::from("r.yaml")));
        assert_eq!(t.instance, Input::File(PathBuf::from("tests/i.yaml")));
        assert_eq!(t.snapshot, Some(PathBuf::from("tests/s/x.yaml")));
        let e = parse_test(
            &json!({"name": "x", "expect": {"error": "bad", "status": {"a": 1}}}),
            Path::new("tests"),
        )
        .unwrap_err();
        assert!(e.1.contains("remove expect.status"), "{}", e.1);
        assert!(parse_test(&json!({"name": "x", "instance": 3}), Path::new(".")).is_err());
    }
}
