//! A kube-rs typed custom resource in the typed DSL (issue 17 item 1): the
//! `#[derive(CustomResource)]` Backup of examples/crd.rs renders with its
//! own apiVersion and kind, and deploys in both modes on a real cluster,
//! where it counts as ready only once its operator reports condition Ready.

#[path = "../../../examples/crd.rs"]
#[allow(dead_code)]
mod crd;
mod real;

use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use real::{kroxide as run_kroxide, printed, Real};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[test]
fn the_typed_custom_resource_renders_and_plans() {
    let rgd = crd::database_app()
        .to_rgd()
        .unwrap_or_else(|e| panic!("{e}"));
    let backup = rgd.resource("backup").unwrap().template.as_ref().unwrap();
    assert_eq!(backup["apiVersion"], "example.kroxide.dev/v1");
    assert_eq!(backup["kind"], "Backup");
    assert_eq!(backup["spec"]["schedule"], "${schema.spec.schedule}");
    assert_eq!(backup["spec"]["database"], "${db.metadata.name}");
    // What the typed value fixed stays as it was.
    assert_eq!(backup["spec"]["retainDays"], 7);
    let instance = json!({"metadata": {"name": "orders"}, "spec": {"name": "orders", "schedule": "0 3 * * *"}});
    let observed = kroxide::semantics::plan::Observed::from_documents([json!({
        "backup": {"status": {"lastRun": "2026-12-01T03:00:00Z"}}
    })]);
    let p = kroxide::semantics::plan::plan(
        &rgd,
        &instance,
        &kroxide::semantics::plan::PlanOptions {
            observed,
            ..Default::default()
        },
    )
    .unwrap();
    let b = &p.resource("backup").unwrap().objects[0];
    assert_eq!(b["metadata"]["name"], "orders-backup");
    assert_eq!(b["spec"]["database"], "orders");
    assert_eq!(p.status["lastBackup"], "2026-12-01T03:00:00Z");
}

fn backups(r: &Real, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        r.client.clone(),
        ns,
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("example.kroxide.dev", "v1", "Backup"),
            "backups",
        ),
    )
}

/// Plays the Backup operator: once the Backup exists, after `delay`, it
/// reports a first run still going (condition Ready False), and a second
/// later Ready; returns when it reported Ready.
async fn operator(backups: Api<DynamicObject>, name: &str, delay: Duration) -> Instant {
    loop {
        if backups.get_opt(name).await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = |ready: &str, reason: &str| {
        json!({"status": {
            "lastRun": "2026-12-01T03:00:00Z",
            "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": "", "lastTransitionTime": "2026-12-01T03:00:00Z"}]
        }})
    };
    for (ready, reason) in [("False", "Running"), ("True", "Scheduled")] {
        tokio::time::sleep(delay).await;
        backups
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(&report(ready, reason)),
            )
            .await
            .unwrap();
    }
    Instant::now()
}

#[tokio::test]
#[ignore = "needs a real cluster: KROXIDE_E2E_KUBECONFIG (scripts/e2e.sh starts one)"]
async fn the_typed_custom_resource_deploys_in_both_modes_and_waits_for_its_operator() {
    let r = Real::new("crd", &["kro"]).await;
    // The operator's CRD, installed as a platform team would.
    let crds: Api<DynamicObject> = Api::all_with(
        r.client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/crd/backup-crd.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let crd_doc: Value = kroxide::model::load_documents("backup-crd.yaml", &text)
        .unwrap()
        .remove(0)
        .0;
    let crd_obj: DynamicObject = serde_json::from_value(crd_doc).unwrap();
    match crds.create(&PostParams::default(), &crd_obj).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => panic!("{e}"),
    }
    let deadline = Instant::now() + r.timeout;
    loop {
        let c = crds.get("backups.example.kroxide.dev").await.unwrap();
        let established = c.data["status"]["conditions"].as_array().is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        });
        if established || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let dir = real::workdir("crd");
    let mut rgd = crd::database_app().to_rgd().unwrap();
    rgd.metadata.name = Some(format!("database-{}", std::process::id()));
    rgd.spec.schema.kind = format!("Database{}", std::process::id());
    let file = dir.join("database.yaml");
    std::fs::write(&file, kroxide::model::to_yaml(&rgd).unwrap()).unwrap();
    let inst = dir.join("orders.yaml");
    std::fs::write(
        &inst,
        "metadata: {name: orders}\nspec: {name: orders, schedule: \"0 3 * * *\"}\n",
    )
    .unwrap();
    let delay = Duration::from_millis(1000);
    for (ns, mode) in [(r.ns.clone(), "direct"), (r.extra(0).to_string(), "kro")] {
        let mut args: Vec<String> = [
            "deploy",
            &file.display().to_string(),
            "-i",
            &inst.display().to_string(),
            "-n",
            &ns,
            "--mode",
            mode,
            "-o",
            "json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if mode == "direct" {
            args.push("--create-namespace".into());
        }
        args.extend(r.cli_args());
        let op = tokio::spawn(operator(backups(&r, &ns), "orders-backup", delay));
        let out = run_kroxide(args).await;
        let done = Instant::now();
        let reported = op.await.unwrap();
        assert_eq!(out.status.code(), Some(0), "{mode}: {}", printed(&out));
        // The deploy waited for the operator's Ready condition.
        assert!(
            done > reported,
            "{mode}: the deploy ended before the operator reported Ready"
        );
        let status: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            status["lastBackup"], "2026-12-01T03:00:00Z",
            "{mode}: {status}"
        );
        let b = backups(&r, &ns).get("orders-backup").await.unwrap();
        assert_eq!(b.data["spec"]["database"], "orders", "{mode}");
        assert_eq!(b.data["spec"]["retainDays"], 7, "{mode}");
    }
    let file = file.display().to_string();
    let out = run_kroxide(r.command(&[
        "delete",
        &file,
        "--name",
        "orders",
        "-n",
        r.extra(0),
        "--mode",
        "kro",
        "--delete-definition",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", printed(&out));
    r.cleanup().await;
}
