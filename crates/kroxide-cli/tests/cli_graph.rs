//! `kroxide graph`, `schema`, `completions` and `man` as a user runs them.
//!
//! The expectations are derived from the graph below (and, for the waves,
//! from `kroxide validate --order` on it), not from a recorded output.

use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};

/// Six resources: a ConfigMap and an external Secret (wave 1), a Deployment
/// that reads both (wave 2), a Service and a forEach collection that read
/// the Deployment (wave 3), and a conditional ConfigMap that reads the
/// Service (wave 4).
const SHOP: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: shop
spec:
  schema:
    apiVersion: v1alpha1
    kind: Shop
    spec:
      name: string | required=true description="The shop's name"
      replicas: integer | default=2 minimum=1 maximum=10
      tier: string | enum="free,pro" default="free"
      monitoring: boolean | default=false
      workers: "[]string | uniqueItems=true"
  resources:
    - id: config
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.spec.name}-config
        data:
          tier: ${schema.spec.tier}
    - id: credentials
      externalRef:
        apiVersion: v1
        kind: Secret
        metadata:
          name: shop-credentials
    - id: deployment
      template:
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: ${schema.spec.name}
        spec:
          replicas: ${schema.spec.replicas}
          selector:
            matchLabels:
              app: ${schema.spec.name}
          template:
            metadata:
              labels:
                app: ${schema.spec.name}
            spec:
              containers:
                - name: web
                  image: nginx
                  env:
                    - name: CONFIG
                      value: ${config.metadata.name}
                    - name: SECRET
                      value: ${credentials.metadata.name}
    - id: service
      template:
        apiVersion: v1
        kind: Service
        metadata:
          name: ${schema.spec.name}
        spec:
          selector: ${deployment.spec.selector.matchLabels}
          ports:
            - port: 80
    - id: monitor
      includeWhen:
        - ${schema.spec.monitoring}
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.spec.name}-monitor
        data:
          target: ${service.metadata.name}
          port: ${string(service.spec.ports[0].port)}
    - id: workers
      forEach:
        - worker: ${schema.spec.workers}
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.spec.name}-${worker}
        data:
          deployment: ${deployment.metadata.name}
"#;

/// Who reads what, and the paths read, as written in [`SHOP`].
fn shop_edges() -> Vec<(&'static str, &'static str, Vec<&'static str>)> {
    vec![
        ("deployment", "config", vec!["metadata.name"]),
        ("deployment", "credentials", vec!["metadata.name"]),
        ("service", "deployment", vec!["spec.selector.matchLabels"]),
        ("workers", "deployment", vec!["metadata.name"]),
        (
            "monitor",
            "service",
            vec!["metadata.name", "spec.ports[0].port"],
        ),
    ]
}

fn kroxide(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kroxide"))
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kroxide-cli-graph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    // Tests run at once and write the same files: write aside, then rename
    // (atomic), so no test reads a file another is halfway through writing.
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let aside = dir.join(format!(".{name}.{n}"));
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, &p).unwrap();
    p
}

fn shop() -> String {
    temp("shop.yaml", SHOP).display().to_string()
}

/// Stdout of a run that must succeed.
fn ok(args: &[&str]) -> String {
    let out = kroxide(args);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The waves `kroxide validate --order` prints for `file`.
fn validated_waves(file: &str) -> Vec<BTreeSet<String>> {
    let out = ok(&["validate", "--order", file]);
    let waves: Vec<BTreeSet<String>> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("wave "))
        .map(|l| {
            let (_, ids) = l.split_once(": ").unwrap();
            ids.split(", ").map(String::from).collect()
        })
        .collect();
    assert_eq!(waves.len(), 4, "{out}");
    waves
}

/// The node ids inside each `begin ... end` block, in order.
fn blocks(
    text: &str,
    begin: &str,
    end: &str,
    id_of: impl Fn(&str) -> Option<String>,
) -> Vec<BTreeSet<String>> {
    let mut out = Vec::new();
    let mut cur: Option<BTreeSet<String>> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with(begin) {
            cur = Some(BTreeSet::new());
        } else if line == end {
            if let Some(c) = cur.take() {
                out.push(c);
            }
        } else if let Some(c) = cur.as_mut() {
            if let Some(id) = id_of(line) {
                c.insert(id);
            }
        }
    }
    out
}

#[test]
fn mermaid_groups_resources_by_wave_and_labels_edges_with_the_paths_read() {
    let f = shop();
    let out = ok(&["graph", &f]);
    assert!(out.contains("flowchart BT\n"), "{out}");
    // Each wave is a subgraph holding exactly the resources of that wave.
    let waves = blocks(&out, "subgraph wave", "end", |l| {
        l.strip_prefix("r_").map(|s| {
            s.split(|c: char| !c.is_ascii_alphanumeric())
                .next()
                .unwrap()
                .to_string()
        })
    });
    assert_eq!(waves, validated_waves(&f), "{out}");
    for (i, _) in waves.iter().enumerate() {
        assert!(
            out.contains(&format!("subgraph wave{} [\"wave {}\"]", i + 1, i + 1)),
            "{out}"
        );
    }
    // Kinds and markers.
    assert!(out.contains("r_config[\"config<br/>ConfigMap\"]"), "{out}");
    assert!(
        out.contains("r_credentials([\"credentials<br/>Secret<br/>(externalRef)\"]):::external"),
        "{out}"
    );
    assert!(
        out.contains("r_workers[[\"workers<br/>ConfigMap<br/>(forEach)\"]]"),
        "{out}"
    );
    assert!(
        out.contains("r_monitor[\"monitor<br/>ConfigMap<br/>(includeWhen)\"]:::conditional"),
        "{out}"
    );
    // One edge per dependency, from the reader to what it reads.
    let edges: Vec<&str> = out.lines().filter(|l| l.contains("-->")).collect();
    assert_eq!(edges.len(), shop_edges().len(), "{out}");
    for (from, to, reads) in shop_edges() {
        let line = format!("  r_{from} -->|\"{}\"| r_{to}", reads.join("<br/>"));
        assert!(edges.contains(&line.as_str()), "no `{line}` in\n{out}");
    }
    // No instance node unless asked for.
    assert!(!out.contains("s_schema"), "{out}");
}

#[test]
fn schema_option_adds_the_instance_and_the_spec_fields_read() {
    let out = ok(&["graph", &shop(), "--schema"]);
    assert!(
        out.contains("s_schema[(\"schema<br/>Shop\")]:::instance"),
        "{out}"
    );
    for (id, reads) in [
        ("config", "spec.name<br/>spec.tier"),
        ("deployment", "spec.name<br/>spec.replicas"),
        ("service", "spec.name"),
        ("monitor", "spec.monitoring<br/>spec.name"),
        // The iterator `worker` is not the schema; `schema.spec.workers` is.
        ("workers", "spec.name<br/>spec.workers"),
    ] {
        let line = format!("  r_{id} -.->|\"{reads}\"| s_schema");
        assert!(out.contains(&line), "no `{line}` in\n{out}");
    }
    // `credentials` reads nothing from the instance.
    assert!(!out.contains("r_credentials -.->"), "{out}");
}

#[test]
fn dot_ranks_each_wave_and_names_the_reading_fields() {
    let f = shop();
    let out = ok(&["graph", &f, "--format", "dot"]);
    assert!(out.contains("digraph \"shop\" {"), "{out}");
    assert!(out.contains("rankdir=BT;"), "{out}");
    let waves = blocks(&out, "subgraph cluster_wave", "}", |l| {
        l.strip_prefix('"')
            .and_then(|s| s.split_once('"'))
            .map(|(id, _)| id.to_string())
    });
    assert_eq!(waves, validated_waves(&f), "{out}");
    assert_eq!(out.matches("rank=same;").count(), 4, "{out}");
    assert!(out.contains("\"credentials\" [label=\"credentials\\nSecret\\n(externalRef)\", style=\"rounded,filled\", fillcolor=\"#eeeeee\"];"), "{out}");
    assert!(out.contains("\"monitor\" [label=\"monitor\\nConfigMap\\n(includeWhen)\", style=\"rounded,dashed\"];"), "{out}");
    assert!(out.contains("\"workers\" [label=\"workers\\nConfigMap\\n(forEach)\", style=\"rounded\", peripheries=2];"), "{out}");
    let edges: Vec<&str> = out.lines().filter(|l| l.contains(" -> ")).collect();
    assert_eq!(edges.len(), shop_edges().len(), "{out}");
    for (from, to, reads) in shop_edges() {
        let start = format!("  \"{from}\" -> \"{to}\" [label=\"{}\"", reads.join("\\n"));
        assert!(
            edges.iter().any(|l| l.starts_with(&start)),
            "no `{start}` in\n{out}"
        );
    }
    // The tooltip names the field that reads (the env var's value).
    assert!(
        out.contains("\"deployment\" -> \"config\" [label=\"metadata.name\", tooltip=\"spec.template.spec.containers[0].env[0].value\"];"),
        "{out}"
    );
}

#[test]
fn svg_is_well_formed_with_one_node_per_resource_and_one_arrow_per_edge() {
    let out = ok(&["graph", &shop(), "--format", "svg"]);
    let doc = roxmltree::Document::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let with_class = |class: &str| -> Vec<roxmltree::Node> {
        doc.descendants()
            .filter(|n| n.attribute("class") == Some(class))
            .collect()
    };
    let nodes: BTreeSet<&str> = with_class("resource")
        .iter()
        .map(|n| n.attribute("data-id").unwrap())
        .collect();
    assert_eq!(
        nodes,
        BTreeSet::from([
            "config",
            "credentials",
            "deployment",
            "service",
            "monitor",
            "workers"
        ])
    );
    assert_eq!(with_class("resource").len(), 6);
    // The picture is as tall as its lowest shape (plus a margin), not more.
    let height: f64 = root.attribute("height").unwrap().parse().unwrap();
    let lowest = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect"))
        .map(|n| {
            n.attribute("y").unwrap().parse::<f64>().unwrap()
                + n.attribute("height").unwrap().parse::<f64>().unwrap()
        })
        .fold(0f64, f64::max);
    assert!(
        height >= lowest && height <= lowest + 20.0,
        "height {height}, lowest shape at {lowest}"
    );
    let edges: BTreeSet<(&str, &str)> = with_class("edge")
        .iter()
        .map(|n| {
            (
                n.attribute("data-from").unwrap(),
                n.attribute("data-to").unwrap(),
            )
        })
        .collect();
    let expected: BTreeSet<(&str, &str)> = shop_edges().iter().map(|(f, t, _)| (*f, *t)).collect();
    assert_eq!(edges, expected);
    // Node labels carry the kind and the wave; edge labels the paths read.
    let text: String = doc
        .descendants()
        .filter(|n| n.is_text())
        .filter_map(|n| n.text())
        .collect::<Vec<_>>()
        .join("|");
    for s in [
        "deployment",
        "Deployment",
        "wave 2",
        "(forEach)",
        "(includeWhen)",
        "(externalRef)",
        "spec.selector.matchLabels",
        "spec.ports[0].port",
    ] {
        assert!(text.contains(s), "no {s:?} in {text}");
    }
}

#[test]
fn graph_of_every_example_rgd() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/rgds");
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        let f = p.display().to_string();
        let waves = ok(&["validate", "--order", &f])
            .lines()
            .filter(|l| l.trim().starts_with("wave "))
            .count();
        for format in ["mermaid", "dot", "svg"] {
            let out = ok(&["graph", &f, "--format", format]);
            assert!(!out.is_empty(), "{f} {format}");
        }
        let m = ok(&["graph", &f]);
        assert_eq!(m.matches("  subgraph wave").count(), waves, "{f}\n{m}");
        seen += 1;
    }
    assert!(seen > 0);
}

#[test]
fn bad_input_gives_validates_error_and_exit_one() {
    let missing = temp("x", "").with_file_name("no-such-rgd.yaml");
    let missing = missing.display().to_string();
    let bad = temp(
        "bad.yaml",
        &SHOP.replace("${config.metadata.name}", "${confg.metadata.name}"),
    );
    let bad = bad.display().to_string();
    for file in [&missing, &bad] {
        let validate = kroxide(&["validate", file]);
        let validate_err = String::from_utf8_lossy(&validate.stderr).to_string();
        assert_eq!(validate.status.code(), Some(1), "{validate_err}");
        for args in [
            vec!["graph", file.as_str()],
            vec!["graph", file.as_str(), "--format", "svg"],
            vec!["schema", file.as_str()],
        ] {
            let out = kroxide(&args);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
            assert!(out.stdout.is_empty(), "{args:?}");
            assert!(stderr.contains(file.as_str()), "{args:?}: {stderr}");
            // The same report as `validate`'s (which adds a summary line).
            let first = validate_err.lines().next().unwrap();
            assert!(
                stderr.contains(first),
                "{args:?}: {stderr}\nvs validate: {validate_err}"
            );
        }
    }
    let out = kroxide(&["graph", &bad]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown identifier `confg`"), "{stderr}");
    assert!(stderr.contains("did you mean `config`?"), "{stderr}");
}

#[test]
fn unknown_format_is_a_usage_error() {
    let out = kroxide(&["graph", &shop(), "--format", "png"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("mermaid") && stderr.contains("svg"),
        "{stderr}"
    );
}

fn shop_schema() -> Value {
    serde_json::from_str(&ok(&["schema", &shop()])).unwrap()
}

fn good_instance() -> Value {
    json!({
        "apiVersion": "kro.run/v1alpha1",
        "kind": "Shop",
        "metadata": {"name": "my-shop", "namespace": "shops", "labels": {"team": "a"}},
        "spec": {"name": "shop", "replicas": 3, "tier": "pro", "workers": ["a", "b"]}
    })
}

fn errors(schema: &Value, instance: &Value) -> Vec<String> {
    let v = jsonschema::validator_for(schema).unwrap();
    v.iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

#[test]
fn schema_is_draft7_and_accepts_a_good_instance() {
    let s = shop_schema();
    assert_eq!(s["$schema"], "http://json-schema.org/draft-07/schema#");
    jsonschema::meta::validate(&s).unwrap();
    assert_eq!(errors(&s, &good_instance()), Vec::<String>::new());
    // Only what is required: defaults are not needed.
    let minimal = json!({"apiVersion": "kro.run/v1alpha1", "kind": "Shop", "metadata": {"name": "s"}, "spec": {"name": "x"}});
    assert_eq!(errors(&s, &minimal), Vec::<String>::new());
    // What editors show: descriptions, defaults, enums, bounds.
    let spec = &s["properties"]["spec"]["properties"];
    assert_eq!(spec["name"]["description"], "The shop's name");
    assert_eq!(
        spec["replicas"],
        json!({"type": "integer", "default": 2, "minimum": 1, "maximum": 10})
    );
    assert_eq!(spec["tier"]["enum"], json!(["free", "pro"]));
    assert_eq!(spec["tier"]["default"], "free");
    assert_eq!(spec["monitoring"]["default"], false);
    assert_eq!(spec["workers"]["items"]["type"], "string");
}

#[test]
fn schema_rejects_bad_instances_at_the_bad_field() {
    let s = shop_schema();
    // (where the error must be, the field changed, its new value or None to remove it)
    let cases: Vec<(&str, &str, Option<Value>)> = vec![
        ("/spec/replicas", "/spec/replicas", Some(json!(0))),
        ("/spec/replicas", "/spec/replicas", Some(json!(11))),
        ("/spec/replicas", "/spec/replicas", Some(json!("3"))),
        ("/spec/tier", "/spec/tier", Some(json!("gold"))),
        ("/spec/workers/0", "/spec/workers", Some(json!([1]))),
        ("/spec/workers", "/spec/workers", Some(json!(["a", "a"]))),
        ("/spec", "/spec/replica", Some(json!(3))),
        ("/spec", "/spec/name", None),
        ("/kind", "/kind", Some(json!("Shopp"))),
        ("/apiVersion", "/apiVersion", Some(json!("kro.run/v1"))),
        ("/metadata/name", "/metadata/name", Some(json!("My_Shop"))),
        (
            "/metadata/namespace",
            "/metadata/namespace",
            Some(json!("a.b")),
        ),
        ("/metadata", "/metadata/name", None),
        ("", "/sepc", Some(json!({}))),
        ("", "/spec", None),
    ];
    for (at, field, value) in cases {
        let mut i = good_instance();
        let (parent, key) = field.rsplit_once('/').unwrap();
        let obj = i.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(v) => obj.insert(key.to_string(), v),
            None => obj.remove(key),
        };
        let errs = errors(&s, &i);
        assert!(
            errs.iter().any(|e| e.starts_with(&format!("{at}: "))),
            "{i}: expected an error at {at:?}, got {errs:?}"
        );
    }
}

#[test]
fn schema_of_every_example_rgd_is_a_valid_json_schema() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/rgds");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("yaml") {
            continue;
        }
        let s: Value = serde_json::from_str(&ok(&["schema", &p.display().to_string()])).unwrap();
        jsonschema::meta::validate(&s).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    }
}

#[test]
fn completions_for_every_shell_know_the_commands() {
    let commands = [
        "validate",
        "plan",
        "deploy",
        "graph",
        "schema",
        "completions",
        "man",
    ];
    let mut scripts = BTreeMap::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = ok(&["completions", shell]);
        for c in commands {
            assert!(out.contains(c), "{shell}: no {c} in\n{out}");
        }
        // The graph formats are completed too (elvish and powershell
        // scripts complete no values).
        if !matches!(shell, "elvish" | "powershell") {
            assert!(out.contains("mermaid"), "{shell}");
        }
        scripts.insert(shell, out);
    }
    assert!(
        scripts["bash"].contains("complete -F"),
        "{}",
        scripts["bash"]
    );
    assert!(
        scripts["zsh"].starts_with("#compdef kroxide"),
        "{}",
        scripts["zsh"]
    );
    assert!(
        scripts["fish"].contains("complete -c kroxide"),
        "{}",
        scripts["fish"]
    );
    let out = kroxide(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn man_page_is_roff_with_the_commands() {
    let out = ok(&["man"]);
    assert!(
        out.starts_with(".ie \\n(.g .ds Aq") || out.contains(".TH kroxide"),
        "{out}"
    );
    assert!(out.contains(".TH kroxide 1"), "{out}");
    for c in ["validate", "graph", "schema", "completions"] {
        assert!(out.contains(c), "no {c} in\n{out}");
    }
    let dir = temp("x", "").with_file_name("man");
    ok(&["man", "--dir", &dir.display().to_string()]);
    for page in ["kroxide.1", "kroxide-graph.1", "kroxide-schema.1"] {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.contains(".TH"), "{page}");
    }
    let graph = std::fs::read_to_string(dir.join("kroxide-graph.1")).unwrap();
    assert!(graph.contains("\\-\\-format"), "{graph}");
}

#[test]
fn output_to_a_closed_pipe_is_an_error_not_a_panic() {
    let f = shop();
    for args in [
        vec!["graph", f.as_str()],
        vec!["graph", f.as_str(), "--format", "svg"],
        vec!["schema", f.as_str()],
        vec!["completions", "bash"],
        vec!["man"],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kroxide"))
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before kroxide writes anything.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write the output"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}
