//! kubectl, a real client, works against the test server unchanged.

use kroxide_testserver::TestServer;
use std::path::PathBuf;
use std::process::{Command, Output};

struct Kubectl {
    dir: PathBuf,
}

impl Kubectl {
    fn new(server: &TestServer, name: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("kroxide-kubectl-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        server.write_kubeconfig(dir.join("kubeconfig")).unwrap();
        Kubectl { dir }
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = Command::new("kubectl")
            .args(args)
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env("KUBECTL_EXTERNAL_DIFF", "diff -u")
            .env("HOME", &self.dir)
            .output()
            .expect(
                "kubectl is required for these tests (it is installed on the project's machines)",
            );
        out
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  a: \"1\"\n";
const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: nginx:1.27}]\n";
const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          properties:\n            spec: {type: object, properties: {size: {type: integer}}}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_apply_get_diff_dry_run_delete() {
    let server = TestServer::start().await.unwrap();
    let k = Kubectl::new(&server, "apply");
    let cm = k.file("cm.yaml", CM);
    let out = tokio::task::spawn_blocking(move || {
        let mut log = Vec::new();
        assert!(k.ok(&["get", "configmaps"]).is_empty());
        assert!(k
            .ok(&["apply", "--server-side", "-f", &cm])
            .contains("configmap/demo serverside-applied"));
        let rv1 = k.ok(&[
            "get",
            "cm",
            "demo",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ]);
        k.ok(&["apply", "--server-side", "-f", &cm]);
        let rv2 = k.ok(&[
            "get",
            "cm",
            "demo",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ]);
        assert_eq!(rv1, rv2, "a second server-side apply changes nothing");
        let yaml = k.ok(&["get", "configmap", "demo", "-o", "yaml"]);
        assert!(
            yaml.contains("name: demo") && yaml.contains("a: \"1\""),
            "{yaml}"
        );
        let cm2 = k.file("cm2.yaml", &CM.replace("\"1\"", "\"2\""));
        assert!(k
            .ok(&["apply", "--server-side", "--dry-run=server", "-f", &cm2])
            .contains("(server dry run)"));
        assert_eq!(
            k.ok(&["get", "cm", "demo", "-o", "jsonpath={.data.a}"]),
            "1",
            "a dry run writes nothing"
        );
        let diff = k.run(&["diff", "-f", &cm2]);
        assert_eq!(
            diff.status.code(),
            Some(1),
            "diff exits 1 when there are differences: {}",
            String::from_utf8_lossy(&diff.stderr)
        );
        let text = String::from_utf8_lossy(&diff.stdout);
        assert!(
            text.contains("-  a: \"1\"") && text.contains("+  a: \"2\""),
            "{text}"
        );
        assert!(k.ok(&["delete", "configmap", "demo"]).contains("deleted"));
        let gone = k.run(&["get", "cm", "demo"]);
        assert!(!gone.status.success());
        assert!(String::from_utf8_lossy(&gone.stderr).contains("not found"));
        log.push("ok");
        log
    })
    .await
    .unwrap();
    assert_eq!(out, ["ok"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_status_subresource_and_wait() {
    let server = TestServer::start().await.unwrap();
    // The simulated controllers are off: only kubectl's status patch makes
    // the Deployment Available.
    server.controllers(|c| c.enabled = false);
    let k = Kubectl::new(&server, "wait");
    let dep = k.file("dep.yaml", DEPLOY);
    tokio::task::spawn_blocking(move || {
        k.ok(&["apply", "--server-side", "-f", &dep]);
        // Nothing sets Available yet: wait times out.
        let early = k.run(&[
            "wait",
            "--for=condition=Available",
            "deployment/web",
            "--timeout=1s",
        ]);
        assert!(!early.status.success());
        k.ok(&[
            "patch",
            "deployment",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Available","status":"True"}]}}"#,
        ]);
        assert!(k
            .ok(&[
                "wait",
                "--for=condition=Available",
                "deployment/web",
                "--timeout=5s"
            ])
            .contains("condition met"));
        assert_eq!(
            k.ok(&[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.metadata.generation}"
            ]),
            "1",
            "status writes do not bump the generation"
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_creates_a_crd_then_its_custom_resource() {
    let server = TestServer::start().await.unwrap();
    let k = Kubectl::new(&server, "crd");
    let crd = k.file("crd.yaml", CRD);
    let w = k.file(
        "w.yaml",
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1}\nspec: {size: 3}\n",
    );
    tokio::task::spawn_blocking(move || {
        assert!(k.ok(&["create", "-f", &crd]).contains("created"));
        assert!(k
            .ok(&["create", "-f", &w])
            .contains("widget.example.com/w1 created"));
        assert_eq!(
            k.ok(&["get", "widgets", "w1", "-o", "jsonpath={.spec.size}"]),
            "3"
        );
        let bad = k.file(
            "bad.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w2}\nspec: {size: three}\n",
        );
        let out = k.run(&["create", "-f", &bad]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("spec.size"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_waits_for_the_simulated_controller() {
    let server = TestServer::start().await.unwrap();
    server.controllers(|c| c.delay = std::time::Duration::from_millis(500));
    let k = Kubectl::new(&server, "controller");
    let dep = k.file("dep.yaml", DEPLOY);
    tokio::task::spawn_blocking(move || {
        k.ok(&["apply", "--server-side", "-f", &dep]);
        assert!(k
            .ok(&[
                "wait",
                "--for=condition=Available",
                "deployment/web",
                "--timeout=10s"
            ])
            .contains("condition met"));
        assert_eq!(
            k.ok(&[
                "get",
                "deploy",
                "web",
                "-o",
                "jsonpath={.status.readyReplicas}"
            ]),
            "1"
        );
    })
    .await
    .unwrap();
}
