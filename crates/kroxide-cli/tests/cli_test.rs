//! `kroxide test DIR` as a user runs it: graph tests planned offline.

#[path = "../../../examples/microservices.rs"]
#[allow(dead_code)]
mod microservices;

use kroxide_cli::graphtest::{run, Outcome, RunOptions};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kroxide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn examples(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(p)
}

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir()
        .join(format!("kroxide-cli-test-{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn webapp() -> String {
    examples("rgds/webapp.yaml").display().to_string()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_example_tests_pass() {
    let out = kroxide(&["test", examples("tests").to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("test result: ok. 11 passed; 0 failed; 0 updated; finished in"),
        "{stdout}"
    );
    for name in [
        "microservices.test.yaml::dev runs one replica of each backend, with debug logs ... ok",
        "microservices.test.yaml::an instance without a gateway cannot be deployed ... ok",
        "microservices.test.yaml::the whole dev plan ... ok",
        "webapp.test.yaml::the ingress is left out unless enabled ... ok",
    ] {
        assert!(stdout.contains(name), "{name}\n{stdout}");
    }
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

#[test]
fn the_example_rgd_is_the_rust_example_rendered() {
    let file = std::fs::read_to_string(examples("tests/microservices.rgd.yaml")).unwrap();
    let body: String = file
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let rendered = microservices::microservices_app().to_rgd_yaml().unwrap();
    assert!(
        body == rendered,
        "examples/tests/microservices.rgd.yaml is stale: render it again with \
         `cargo run --example microservices -- render` (keeping its comment)"
    );
}

#[test]
fn a_failing_expectation_exits_one_with_the_path_and_both_values() {
    let d = dir("failing");
    write(
        &d,
        "web.test.yaml",
        &format!(
            "name: three replicas\nrgd: {}\ninstance: {{spec: {{name: shop}}}}\nexpect:\n  resources:\n    - id: deployment\n      manifest: {{spec: {{replicas: 3}}}}\n  excluded: [service]\n  status: {{url: http://10.0.0.1}}\n---\nname: still fine\nrgd: {}\ninstance: {{spec: {{name: shop}}}}\nexpect: {{excluded: [ingress]}}\n",
            webapp(),
            webapp()
        ),
    );
    let out = kroxide(&["test", d.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("web.test.yaml::three replicas ... FAILED"),
        "{stdout}"
    );
    assert!(
        stdout.contains("web.test.yaml::still fine ... ok"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "resources.deployment.manifest.spec.replicas:\n  expected: 3\n  actual:   2\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("resources.service.action:\n  expected: \"skip\"\n  actual:   \"apply\""),
        "{stdout}"
    );
    // A status field that needs the cluster says so.
    assert!(
        stdout.contains(
            "status.url:\n  expected: \"http://10.0.0.1\"\n  actual:   (missing)\n  (pending:"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("test result: FAILED. 1 passed; 1 failed; 0 updated;"),
        "{stdout}"
    );

    // The same as JSON.
    let out = kroxide(&["test", d.to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["summary"]["passed"], 1);
    assert_eq!(v["summary"]["failed"], 1);
    let f = &v["tests"][0]["failures"][0];
    assert_eq!(f["kind"], "mismatch");
    assert_eq!(f["path"], "resources.deployment.manifest.spec.replicas");
    assert_eq!((&f["expected"], &f["actual"]), (&3.into(), &2.into()));
}

#[test]
fn errors_are_expected_or_reported() {
    let d = dir("errors");
    write(
        &d,
        "e.test.yaml",
        &format!(
            "name: refused as expected\nrgd: {w}\ninstance: {{spec: {{name: shop, replicas: 0}}}}\nexpect: {{error: less than the minimum}}\n---\nname: refused unexpectedly\nrgd: {w}\ninstance: {{spec: {{name: shop, replicas: 0}}}}\n---\nname: not refused\nrgd: {w}\ninstance: {{spec: {{name: shop}}}}\nexpect: {{error: less than the minimum}}\n---\nname: refused for another reason\nrgd: {w}\ninstance: {{spec: {{replicas: 2}}}}\nexpect: {{error: less than the minimum}}\n",
            w = webapp()
        ),
    );
    let out = kroxide(&["test", d.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("::refused as expected ... ok"), "{stdout}");
    assert!(
        stdout.contains("the plan failed:\n    the instance is invalid:\n      spec.replicas: 0 is less than the minimum 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "expected an error containing \"less than the minimum\"\n  but the plan succeeded"
        ),
        "{stdout}"
    );
    assert!(
        stdout
            .contains("but the plan failed with:\n    the instance is invalid:\n      spec.name:"),
        "{stdout}"
    );
    assert!(stdout.contains("1 passed; 3 failed"), "{stdout}");
}

#[test]
fn for_each_objects_are_picked_by_name() {
    let d = dir("foreach");
    write(
        &d,
        "workers.yaml",
        "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata: {name: workers}\nspec:\n  schema: {apiVersion: v1alpha1, kind: Workers, spec: {names: \"[]string\"}}\n  resources:\n    - id: workers\n      forEach: [{worker: \"${schema.spec.names}\"}]\n      template:\n        apiVersion: v1\n        kind: ConfigMap\n        metadata: {name: \"${worker}\"}\n        data: {role: \"${worker + '-role'}\"}\n",
    );
    write(
        &d,
        "w.test.yaml",
        "name: each worker has its role\nrgd: workers.yaml\ninstance: {spec: {names: [a, b]}}\nexpect:\n  resources:\n    - {id: workers, name: a, manifest: {data: {role: a-role}}}\n    - {id: workers, name: b, manifest: {data: {role: a-role}}}\n    - {id: workers, manifest: {}}\n    - {id: workers, name: c}\n",
    );
    let out = kroxide(&["test", d.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("resources.workers[name=b].manifest.data.role:\n  expected: \"a-role\"\n  actual:   \"b-role\""),
        "{stdout}"
    );
    assert!(!stdout.contains("[name=a]"), "{stdout}");
    assert!(
        stdout
            .contains("resources.workers: has 2 objects (forEach): say which with `name:` (a, b)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("resources.workers[name=c]: has no object named `c`"),
        "{stdout}"
    );
}

#[test]
fn a_changed_snapshot_fails_with_a_diff_and_update_rewrites_it() {
    let d = dir("snapshot");
    let rgd = write(
        &d,
        "rgds/web.yaml",
        &std::fs::read_to_string(webapp()).unwrap(),
    );
    write(
        &d,
        "tests/web.test.yaml",
        "name: shop plan\nrgd: ../rgds/web.yaml\ninstance: {spec: {name: shop}}\nsnapshot: snaps/shop.yaml\n",
    );
    let snap = d.join("tests/snaps/shop.yaml");
    let tests = d.join("tests");
    let tests = tests.to_str().unwrap();

    // Missing: a failure, until --update creates it.
    let out = kroxide(&["test", tests]);
    assert_eq!(out.status.code(), Some(1), "{:?}", text(&out));
    assert!(
        text(&out).0.contains("no snapshot file yet"),
        "{:?}",
        text(&out)
    );
    assert!(!snap.exists());
    let out = kroxide(&["test", tests, "--update"]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("::shop plan ... updated"), "{stdout}");
    assert!(stdout.contains("0 passed; 0 failed; 1 updated"), "{stdout}");

    // It holds what `kroxide plan` prints.
    let instance = write(&d, "shop.yaml", "spec: {name: shop}\n");
    let plan = kroxide(&[
        "plan",
        rgd.to_str().unwrap(),
        "-i",
        instance.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), text(&plan).0);

    // Changed: a unified diff from the snapshot to the plan.
    let changed = text(&plan).0.replace("replicas: 2", "replicas: 4");
    std::fs::write(&snap, &changed).unwrap();
    let out = kroxide(&["test", tests]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("the plan differs from the snapshot"),
        "{stdout}"
    );
    assert!(
        stdout.contains("-          replicas: 4\n+          replicas: 2\n"),
        "{stdout}"
    );
    assert!(stdout.contains("@@ "), "{stdout}");

    let out = kroxide(&["test", tests, "--update"]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert!(text(&out).0.contains("... updated"));
    assert_eq!(std::fs::read_to_string(&snap).unwrap(), text(&plan).0);
    let out = kroxide(&["test", tests]);
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 passed; 0 failed; 0 updated"), "{stdout}");
}

#[test]
fn secret_values_never_show() {
    let d = dir("secrets");
    let rgd = examples("tests/microservices.rgd.yaml");
    let dev = examples("microservices/dev.yaml");
    write(
        &d,
        "s.test.yaml",
        &format!(
            "name: wrong password\nrgd: {}\ninstance: {}\nexpect:\n  resources:\n    - id: dbSecrets\n      manifest: {{data: {{USER_DB_PASSWORD: d3Jvbmc=}}}}\nsnapshot: s.yaml\n",
            rgd.display(),
            dev.display()
        ),
    );
    let out = kroxide(&["test", d.to_str().unwrap(), "--update"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("resources.dbSecrets.manifest.data.USER_DB_PASSWORD:\n  expected: \"d3Jvbmc=\"\n  actual:   \"<redacted: use --show-secrets>\""),
        "{stdout}"
    );
    let snapshot = std::fs::read_to_string(d.join("s.yaml")).unwrap();
    let example_snapshot =
        std::fs::read_to_string(examples("tests/snapshots/microservices-dev.yaml")).unwrap();
    for text in [&stdout, &snapshot, &example_snapshot] {
        assert!(text.contains("<redacted: use --show-secrets>"), "{text}");
    }
    for text in [&stdout, &stderr, &snapshot, &example_snapshot] {
        assert!(!text.contains("dXNlcl9wYXNzd29yZA=="), "{text}");
        assert!(!text.contains("user_password"), "{text}");
    }
}

#[test]
fn bad_test_files_exit_two_naming_the_file_and_field() {
    let d = dir("bad");
    write(
        &d,
        "typo.test.yaml",
        &format!(
            "name: a typo\nrgd: {}\ninstance: {{spec: {{name: shop}}}}\nexpect:\n  resources:\n    - id: deployment\n      manfest: {{spec: {{replicas: 2}}}}\n",
            webapp()
        ),
    );
    let out = kroxide(&["test", d.to_str().unwrap()]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stderr.contains("typo.test.yaml:7: document 1 (test `a typo`): expect.resources[0]: unknown field `manfest`"),
        "{stderr}"
    );
    assert!(stdout.contains("1 error;"), "{stdout}");

    for (name, body, says) in [
        (
            "top.test.yaml",
            "name: x\nsnapshots: a.yaml\n",
            "top.test.yaml:2: document 1 (test `x`): unknown field `snapshots`",
        ),
        ("yaml.test.yaml", "name: [x\n", "yaml.test.yaml"),
        (
            "noname.test.yaml",
            "rgd: a.yaml\n",
            "noname.test.yaml:1: document 1: missing field `name`",
        ),
        (
            "twice.test.yaml",
            "name: x\n---\nname: x\n",
            "another test of this file is named `x`",
        ),
        (
            "norgd.test.yaml",
            "name: x\ninstance: {spec: {}}\n",
            "norgd.test.yaml: test `x`: no `rgd:`",
        ),
        (
            "missing.test.yaml",
            "name: x\nrgd: nothere.yaml\n",
            "missing.test.yaml: test `x`: rgd: ",
        ),
        (
            "instance.test.yaml",
            &format!("name: x\nrgd: {}\ninstance: nothere.yaml\n", webapp()),
            "instance.test.yaml: test `x`: instance: ",
        ),
    ] {
        let d = dir(name);
        let f = write(&d, name, body);
        let out = kroxide(&["test", f.to_str().unwrap()]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stdout}{stderr}");
        assert!(stderr.contains(says), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }

    // A directory with no tests, or none at all.
    let empty = dir("empty");
    let out = kroxide(&["test", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("no test file (*.test.yaml)"));
    let out = kroxide(&["test", "/nonexistent/kroxide-tests"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out)
        .1
        .contains("/nonexistent/kroxide-tests: cannot read"));
}

#[test]
fn a_rust_graph_tests_files_without_rgd() {
    let graph = microservices::microservices_app();
    let rgd = graph.to_rgd().unwrap();
    let d = dir("rust");
    write(
        &d,
        "ms.test.yaml",
        &format!(
            "name: dev gateway\ninstance: {}\nexpect:\n  resources:\n    - id: gatewayDeployment\n      manifest: {{spec: {{replicas: 1}}}}\n",
            examples("microservices/dev.yaml").display()
        ),
    );
    let report = run(
        std::slice::from_ref(&d),
        RunOptions {
            update: false,
            graph: Some(&rgd),
        },
    );
    assert_eq!(report.passed(), 1, "{report:?}");
    assert!(report.is_ok());

    // The graph CLI of a Rust graph parses and runs `test`.
    let cli = <kroxide_cli::GraphCli as clap::Parser>::try_parse_from([
        "microservices",
        "test",
        d.to_str().unwrap(),
    ])
    .unwrap();
    assert_eq!(
        kroxide_cli::run_graph(&graph, cli.command),
        std::process::ExitCode::SUCCESS
    );

    // Without the Rust graph, the same file names no graph.
    let report = run(std::slice::from_ref(&d), RunOptions::default());
    let Outcome::Error(e) = &report.results[0].outcome else {
        panic!("{report:?}")
    };
    assert!(e.to_string().contains("no `rgd:`"), "{e}");
    assert_eq!(report.bad_input(), 1);
}
