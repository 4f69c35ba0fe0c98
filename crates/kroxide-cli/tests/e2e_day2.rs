//! Day-2 commands on a real cluster (issue 19): `history`, `rollback` and
//! `explain`, from the CLI as a user runs them, in direct and KRO mode.
//! Run by `scripts/e2e.sh`; by hand:
//!
//! ```text
//! KROXIDE_E2E_KUBECONFIG=/tmp/kit/kubeconfig cargo test -p kroxide-cli --test e2e_day2 -- --ignored
//! ```

mod real;

use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use real::{kroxide, printed, Real};
use serde_json::{json, Value};

/// A graph of a ConfigMap and a Deployment, named `name`; `extra` is one
/// more ConfigMap data entry, so two versions of the graph differ.
fn app(name: &str, kind: &str, extra: Option<&str>) -> String {
    let extra = extra
        .map(|e| format!("\n          mode: {e}"))
        .unwrap_or_default();
    format!(
        r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: {name}
spec:
  schema:
    apiVersion: v1alpha1
    kind: {kind}
    spec:
      color: string | default="red"
      replicas: integer | default=1
    status:
      available: ${{web.status.availableReplicas}}
  resources:
    - id: settings
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${{schema.metadata.name}}-settings
        data:
          color: ${{schema.spec.color}}{extra}
    - id: web
      template:
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: ${{schema.metadata.name}}-web
          labels:
            color: ${{settings.data.color}}
        spec:
          replicas: ${{schema.spec.replicas}}
          selector:
            matchLabels:
              app: ${{schema.metadata.name}}
          template:
            metadata:
              labels:
                app: ${{schema.metadata.name}}
            spec:
              containers:
                - name: web
                  image: nginx:1.27
"#
    )
}

fn api(r: &Real, av: &str, kind: &str, plural: &str) -> Api<DynamicObject> {
    let (group, version) = av.rsplit_once('/').unwrap_or(("", av));
    let ar = ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: av.into(),
        kind: kind.into(),
        plural: plural.into(),
    };
    Api::namespaced_with(r.client.clone(), &r.ns, &ar)
}

/// Deletes the instance CRD KRO made for `kind` (KRO v0.9.3 leaves it
/// behind when its RGD goes).
async fn forget_crd(r: &Real, kind: &str) {
    let crds = Api::<DynamicObject>::all_with(
        r.client.clone(),
        &ApiResource {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            plural: "customresourcedefinitions".into(),
        },
    );
    let crd = format!("{}s.kro.run", kind.to_lowercase());
    let _ = crds.delete(&crd, &Default::default()).await;
}

/// `kroxide <cmd> <file> <args> -n <ns> --kubeconfig ..`
fn args(r: &Real, cmd: &str, file: &std::path::Path, rest: &[&str]) -> Vec<String> {
    let mut a = vec![cmd.to_string(), file.display().to_string()];
    a.extend(rest.iter().map(|s| s.to_string()));
    a.extend(["-n".into(), r.ns.clone()]);
    a.extend(r.cli_args());
    a
}

fn lines(out: &std::process::Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// Every deploy is a revision (spec, graph, when, who); `history` lists
/// them a line each, number first, naming what changed but no value;
/// `rollback --to 1` deploys revision 1's spec with revision 1's graph,
/// though the graph file has changed since, and is itself a revision.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn history_and_rollback_in_direct_mode() {
    let r = Real::new("history", &[]).await;
    let dir = real::workdir("history");
    let (v1, v2) = (dir.join("v1.yaml"), dir.join("v2.yaml"));
    std::fs::write(&v1, app("e2e-history", "HistoryApp", None)).unwrap();
    std::fs::write(&v2, app("e2e-history", "HistoryApp", Some("two"))).unwrap();
    let (red, blue) = (dir.join("red.yaml"), dir.join("blue.yaml"));
    std::fs::write(
        &red,
        "metadata: {name: shop}\nspec: {color: red, replicas: 1}\n",
    )
    .unwrap();
    std::fs::write(
        &blue,
        "metadata: {name: shop}\nspec: {color: blue, replicas: 2}\n",
    )
    .unwrap();
    let red_s = red.display().to_string();
    let blue_s = blue.display().to_string();

    let out = kroxide(args(
        &r,
        "deploy",
        &v1,
        &["-i", &red_s, "--create-namespace"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let out = kroxide(args(&r, "deploy", &v2, &["-i", &blue_s])).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));

    let out = kroxide(args(&r, "history", &v2, &["--name", "shop"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let h = lines(&out);
    assert_eq!(h.len(), 2, "{}", printed(&out));
    assert!(h[0].starts_with("1 ") && h[1].starts_with("2 "), "{h:?}");
    for l in &h {
        assert!(l.contains(" admin ") && l.contains(" deployed "), "{l}");
    }
    assert!(
        h[1].contains("changed spec.color, spec.replicas") && h[1].contains("graph changed"),
        "{}",
        h[1]
    );
    assert!(!h[1].contains("blue"), "a spec value in history: {}", h[1]);

    let cms = api(&r, "v1", "ConfigMap", "configmaps");
    let deployments = api(&r, "apps/v1", "Deployment", "deployments");
    let cm = cms.get("shop-settings").await.unwrap();
    assert_eq!(cm.data["data"], json!({"color": "blue", "mode": "two"}));

    // Back to revision 1 with the v2 file: revision 1's own graph is used.
    let out = kroxide(args(
        &r,
        "rollback",
        &v2,
        &["--name", "shop", "--to", "1", "-o", "json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["available"], 1, "{}", printed(&out));
    let cm = cms.get("shop-settings").await.unwrap();
    assert_eq!(cm.data["data"], json!({"color": "red"}));
    let web = deployments.get("shop-web").await.unwrap();
    assert_eq!(web.data["spec"]["replicas"], 1);
    assert_eq!(web.data["status"]["readyReplicas"], 1);

    let out = kroxide(args(&r, "history", &v2, &["--name", "shop", "-o", "json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let h: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h.as_array().unwrap().len(), 3, "{h}");
    assert_eq!(h[2]["revision"], 3);
    assert_eq!(h[2]["description"], "rollback to 1");
    assert_eq!(h[2]["graphChanged"], true);
    assert_eq!(h[2]["graph"], h[0]["graph"]);
    assert_eq!(h[2]["specChanges"], json!(["spec.color", "spec.replicas"]));

    // A revision that is not kept: refused, nothing written.
    let before = cm.metadata.resource_version.clone();
    let out = kroxide(args(&r, "rollback", &v2, &["--name", "shop", "--to", "7"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("back to revision 7") && err.contains("kept are 1, 2, 3"),
        "{err}"
    );
    let cm = cms.get("shop-settings").await.unwrap();
    assert_eq!(cm.metadata.resource_version, before);
    r.cleanup().await;
}

/// KRO mode: KRO keeps GraphRevisions of the graph; `history --mode kro`
/// lists them, `rollback --mode kro --to 1` applies revision 1's graph
/// again (KRO issues it as a new revision with revision 1's hash) and
/// waits until the instance is healthy on it.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn history_and_rollback_through_kro() {
    let r = Real::new("krohistory", &[]).await;
    let dir = real::workdir("krohistory");
    let name = format!("e2e-krohistory-{}", std::process::id());
    // Kinds are cluster-wide, and KRO v0.9.3 leaves an RGD's CRD behind.
    let kind = format!("KroHistoryApp{}", std::process::id());
    let (v1, v2) = (dir.join("v1.yaml"), dir.join("v2.yaml"));
    std::fs::write(&v1, app(&name, &kind, None)).unwrap();
    std::fs::write(&v2, app(&name, &kind, Some("two"))).unwrap();
    let inst = dir.join("shop.yaml");
    std::fs::write(&inst, "metadata: {name: shop}\nspec: {color: green}\n").unwrap();
    let inst_s = inst.display().to_string();
    for file in [&v1, &v2] {
        let out = kroxide(args(&r, "deploy", file, &["--mode", "kro", "-i", &inst_s])).await;
        assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    }
    let cms = api(&r, "v1", "ConfigMap", "configmaps");
    let cm = cms.get("shop-settings").await.unwrap();
    assert_eq!(cm.data["data"], json!({"color": "green", "mode": "two"}));

    let out = kroxide(args(
        &r,
        "history",
        &v2,
        &["--mode", "kro", "--name", "shop", "-o", "json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let h: Value = serde_json::from_slice(&out.stdout).unwrap();
    let revs: Vec<(u64, bool)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["revision"].as_u64().unwrap(), e["current"] == true))
        .collect();
    assert_eq!(revs, [(1, false), (2, true)], "{h}");

    let out = kroxide(args(
        &r,
        "rollback",
        &v2,
        &["--mode", "kro", "--name", "shop", "--to", "1", "-o", "json"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["available"], 1, "{}", printed(&out));
    let cm = cms.get("shop-settings").await.unwrap();
    assert_eq!(cm.data["data"], json!({"color": "green"}));

    let out = kroxide(args(
        &r,
        "history",
        &v2,
        &["--mode", "kro", "--name", "shop"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let h = lines(&out);
    assert_eq!(h.len(), 3, "{}", printed(&out));
    assert!(h[2].starts_with("3 ") && h[2].ends_with("current"), "{h:?}");
    // Revision 3 is revision 1's graph: the same hash.
    let hash = |l: &str| l.split_whitespace().nth(2).unwrap().to_string();
    assert_eq!(hash(&h[2]), hash(&h[0]), "{h:?}");

    let out = kroxide(args(
        &r,
        "delete",
        &v2,
        &["--mode", "kro", "--name", "shop", "--delete-definition"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    forget_crd(&r, &kind).await;
    r.cleanup().await;
}

/// A graph whose Deployment cannot get Pods: the namespace's quota allows
/// none, so its ReplicaSet reports `FailedCreate` Warning events.
const STUCK: &str = r#"apiVersion: kro.run/v1alpha1
kind: ResourceGraphDefinition
metadata:
  name: NAME
spec:
  schema:
    apiVersion: v1alpha1
    kind: KIND
    spec:
      debug: boolean | default=false
    status:
      available: ${web.status.availableReplicas}
  resources:
    - id: settings
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.metadata.name}-settings
        data:
          color: red
    - id: debug
      includeWhen:
        - ${schema.spec.debug}
      template:
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: ${schema.metadata.name}-debug
    - id: web
      readyWhen:
        - ${web.status.availableReplicas == web.spec.replicas}
      template:
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: ${schema.metadata.name}-web
          labels:
            color: ${settings.data.color}
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: ${schema.metadata.name}
          template:
            metadata:
              labels:
                app: ${schema.metadata.name}
            spec:
              containers:
                - name: web
                  image: nginx:1.27
    - id: front
      template:
        apiVersion: v1
        kind: Service
        metadata:
          name: ${schema.metadata.name}-front
        spec:
          selector: ${web.spec.selector.matchLabels}
          ports:
            - port: 80
"#;

/// A namespace whose quota allows no Pods.
async fn no_pods_allowed(r: &Real) {
    let namespaces: Api<DynamicObject> = Api::all_with(
        r.client.clone(),
        &ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
        },
    );
    let ns: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": r.ns}
    }))
    .unwrap();
    namespaces.create(&Default::default(), &ns).await.unwrap();
    let quotas = api(r, "v1", "ResourceQuota", "resourcequotas");
    let quota: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}
    }))
    .unwrap();
    quotas.create(&Default::default(), &quota).await.unwrap();
}

/// Why is my instance not ready: a deploy that waits on a Deployment whose
/// Pods a quota refuses shows the ReplicaSet's Warning while it waits;
/// `explain` then draws the tree wave by wave: the ConfigMap ready (by
/// existing), the excluded resource with its includeWhen, the Deployment
/// not ready with its readyWhen and the quota events, the Service not
/// applied because it reads the Deployment, and the pending status field.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn explain_says_why_an_instance_is_not_ready() {
    let r = Real::new("explain", &[]).await;
    no_pods_allowed(&r).await;
    let dir = real::workdir("explain");
    let file = dir.join("stuck.yaml");
    std::fs::write(
        &file,
        STUCK
            .replace("NAME", "e2e-explain")
            .replace("KIND", "Stuck"),
    )
    .unwrap();
    let inst = dir.join("shop.yaml");
    std::fs::write(&inst, "metadata: {name: shop}\n").unwrap();
    let inst_s = inst.display().to_string();

    let out = kroxide(args(
        &r,
        "deploy",
        &file,
        &["-i", &inst_s, "--timeout", "8s"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("web: warning from ReplicaSet/shop-web-")
            && err.contains("FailedCreate")
            && err.contains("exceeded quota"),
        "{err}"
    );

    let out = kroxide(args(&r, "explain", &file, &["--name", "shop"])).await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let expect_in_order = [
        "not ready, waiting on web, front",
        "wave 0",
        "settings (ConfigMap/shop-settings) ready",
        "ready when: it exists",
        "debug (ConfigMap) excluded",
        "includeWhen: ${schema.spec.debug}",
        "wave 1",
        "web (Deployment/shop-web) NOT READY",
        "reads: settings",
        "ready when: readyWhen: ${web.status.availableReplicas == web.spec.replicas}",
        "events (newest last):",
        "Warning FailedCreate",
        "exceeded quota: no-pods",
        "wave 2",
        "front (Service) NOT APPLIED: waits for web to be ready",
        "status fields pending",
        "status.available",
    ];
    let mut at = 0;
    for want in expect_in_order {
        match text[at..].find(want) {
            Some(i) => at += i + want.len(),
            None => panic!("`{want}` not found (in order) in:\n{text}"),
        }
    }

    let out = kroxide(args(
        &r,
        "explain",
        &file,
        &["--name", "shop", "-o", "json"],
    ))
    .await;
    let e: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(e["ready"], false);
    let ids: Vec<&str> = e["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["settings", "debug", "web", "front"]);
    assert_eq!(e["resources"][2]["state"], "applied");
    assert_eq!(e["resources"][2]["dependsOn"], json!(["settings"]));
    assert_eq!(
        e["resources"][2]["events"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["type"],
        "Warning"
    );
    r.cleanup().await;
}

/// KRO mode: a deploy through KRO shows the children's warnings while it
/// waits; `explain --mode kro` shows KRO's own verdict (state and
/// conditions) and the same tree from the children KRO made.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn explain_through_kro_shows_kros_verdict_and_the_tree() {
    let r = Real::new("kroexplain", &[]).await;
    no_pods_allowed(&r).await;
    let dir = real::workdir("kroexplain");
    let name = format!("e2e-kroexplain-{}", std::process::id());
    let kind = format!("KroStuck{}", std::process::id());
    let file = dir.join("stuck.yaml");
    std::fs::write(&file, STUCK.replace("NAME", &name).replace("KIND", &kind)).unwrap();
    let inst = dir.join("shop.yaml");
    std::fs::write(&inst, "metadata: {name: shop}\n").unwrap();
    let inst_s = inst.display().to_string();
    let out = kroxide(args(
        &r,
        "deploy",
        &file,
        &["--mode", "kro", "-i", &inst_s, "--timeout", "8s"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    // While it waits on KRO, the children's warnings show as in direct mode.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("web: warning from ReplicaSet/shop-web-") && err.contains("exceeded quota"),
        "{err}"
    );

    let out = kroxide(args(
        &r,
        "explain",
        &file,
        &["--mode", "kro", "--name", "shop"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", printed(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    for want in [
        "KRO reports it IN_PROGRESS",
        "Ready=False",
        "settings (ConfigMap/shop-settings) ready",
        "debug (ConfigMap) excluded",
        "web (Deployment/shop-web) NOT READY",
        "exceeded quota: no-pods",
        "front (Service) NOT APPLIED: waits for web to be ready",
    ] {
        assert!(text.contains(want), "`{want}` not in:\n{text}");
    }
    let out = kroxide(args(
        &r,
        "delete",
        &file,
        &["--mode", "kro", "--name", "shop", "--delete-definition"],
    ))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    forget_crd(&r, &kind).await;
    r.cleanup().await;
}

/// `instances -A` lists the instances of a graph in every namespace, as
/// `kubectl get -A`; without it, those of one namespace.
#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn instances_in_every_namespace() {
    let r = Real::new("everywhere", &["two"]).await;
    let dir = real::workdir("everywhere");
    let file = dir.join("app.yaml");
    let graph = format!("e2e-everywhere-{}", std::process::id());
    std::fs::write(&file, app(&graph, "Everywhere", None)).unwrap();
    let inst = dir.join("shop.yaml");
    std::fs::write(&inst, "metadata: {name: shop}\n").unwrap();
    let inst_s = inst.display().to_string();
    let mut in_two = args(&r, "deploy", &file, &["-i", &inst_s, "--create-namespace"]);
    let n = in_two.iter().position(|a| *a == r.ns).unwrap();
    in_two[n] = r.extra(0).to_string();
    for a in [
        args(&r, "deploy", &file, &["-i", &inst_s, "--create-namespace"]),
        in_two,
    ] {
        let out = kroxide(a).await;
        assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    }
    let out = kroxide(args(&r, "instances", &file, &["-A", "-o", "json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut seen: Vec<(String, String)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap().into(),
                r["namespace"].as_str().unwrap().into(),
            )
        })
        .collect();
    seen.sort();
    let mut want = vec![
        ("shop".to_string(), r.ns.clone()),
        ("shop".to_string(), r.extra(0).to_string()),
    ];
    want.sort();
    assert_eq!(seen, want);
    let out = kroxide(args(&r, "instances", &file, &["-o", "json"])).await;
    let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["namespace"], r.ns.as_str());
    r.cleanup().await;
}
