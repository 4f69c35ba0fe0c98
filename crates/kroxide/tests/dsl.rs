//! The DSL: factories produce valid objects, mistakes are reported.

use kroxide::prelude::*;

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Spec {
    name: String,
    replicas: i32,
    #[schema(default = "1Gi", description = "Size of the data volume")]
    storage: Option<String>,
    tags: Vec<String>,
    labels: std::collections::BTreeMap<String, String>,
    ports: Vec<PortSpec>,
    mode: Mode,
}

#[derive(Schema, Serialize, Deserialize, Clone)]
struct PortSpec {
    port: i32,
}

#[derive(Schema, Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Mode {
    ReadOnly,
    ReadWrite,
}

#[derive(Schema, Serialize, Deserialize, Clone)]
#[serde(rename_all = "camelCase")]
struct Status {
    ready: bool,
    endpoint: String,
}

#[test]
fn derive_gives_simpleschema_with_markers_and_types() {
    let g = ResourceGraph::<Spec, Status>::new("t", "v1alpha1", "T").build(|g, spec| {
        let d = g.add(Deployment::new(&spec.name, "nginx").replicas(&spec.replicas));
        StatusExpr {
            ready: d.status().ready_replicas().ge(1),
            endpoint: template!("{}:{}", d.name(), spec.replicas),
        }
    });
    let rgd = g.to_rgd().unwrap();
    let s = serde_json::to_value(&rgd.spec.schema).unwrap();
    assert_eq!(s["spec"]["name"], "string | required=true");
    assert_eq!(s["spec"]["replicas"], "integer | required=true");
    assert_eq!(
        s["spec"]["storage"],
        "string | default=\"1Gi\" description=\"Size of the data volume\""
    );
    assert_eq!(s["spec"]["tags"], "[]string | required=true");
    assert_eq!(s["spec"]["labels"], "map[string]string | required=true");
    assert_eq!(s["spec"]["ports"], "[]PortSpec | required=true");
    assert_eq!(s["types"]["PortSpec"]["port"], "integer | required=true");
    assert_eq!(
        s["spec"]["mode"],
        "string | enum=\"READ_ONLY,READ_WRITE\" required=true"
    );
    assert_eq!(
        s["status"]["endpoint"],
        "${deployment0.metadata.name}:${string(schema.spec.replicas)}"
    );
    assert_eq!(
        s["status"]["ready"],
        "${deployment0.status.readyReplicas >= 1}"
    );
}

#[test]
fn every_factory_renders_a_valid_kubernetes_object() {
    let g =
        ResourceGraph::<Spec, Status>::new("all-kinds", "v1alpha1", "AllKinds").build(|g, spec| {
            let ns = g.add(Namespace::new("team"));
            let _ = ns;
            let sa = g.add(ServiceAccount::new("runner"));
            let cm = g.add(ConfigMap::new("cfg").data("k", &spec.name));
            let sec = g.add(
                Secret::new("sec")
                    .data("plain", "hunter2")
                    .data("dyn", &spec.name)
                    .type_("Opaque"),
            );
            let pvc = g.add(PersistentVolumeClaim::new("data", "1Gi").storage_class("standard"));
            let d = g.add(
                Deployment::new("web", "nginx")
                    .replicas(&spec.replicas)
                    .port(80)
                    .env("A", "b")
                    .env_config("C", &cm, "k")
                    .env_secret("S", &sec, "plain")
                    .env_from(&cm)
                    .env_from_secret(&sec)
                    .liveness(http_get("/healthz", 80).initial_delay_seconds(5))
                    .readiness(tcp_socket(80).period_seconds(10))
                    .requests("100m", "128Mi")
                    .limits("500m", "256Mi")
                    .mount(&cm, "/etc/cfg")
                    .mount_secret(&sec, "/etc/sec")
                    .mount_claim(&pvc, "/data")
                    .service_account(&sa)
                    .label("team", "a")
                    .annotation("note", "x"),
            );
            let svc = g.add(Service::exposing(&d).port_to(80, 8080).node_port());
            let sts_svc = g.add(Service::new("db").selector("app", "db").port(5432));
            let _sts = g.add(
                StatefulSet::new("db", "postgres:16")
                    .replicas(1)
                    .port(5432)
                    .service_name(&sts_svc),
            );
            let _ds = g.add(DaemonSet::new("agent", "agent:1"));
            let _job = g.add(
                Job::new("migrate", "migrate:1")
                    .backoff_limit(2)
                    .command(&["/migrate"]),
            );
            let _cj = g.add(
                CronJob::new("backup", "backup:1")
                    .schedule("0 * * * *")
                    .args(&["--all"]),
            );
            let _ing = g.add(
                Ingress::new("web")
                    .class("nginx")
                    .route("web.example.com", "/", &svc, 80)
                    .tls("web.example.com", &sec),
            );
            let _hpa = g.add(
                HorizontalPodAutoscaler::new("web", &d, 1, &spec.replicas).cpu_utilization(80),
            );
            let role = g.add(Role::new("reader").rule(&[""], &["configmaps"], &["get", "list"]));
            let _rb = g.add(RoleBinding::new("reader", &role).service_account(&sa));
            let crole =
                g.add(ClusterRole::new("viewer").rule(&["apps"], &["deployments"], &["get"]));
            let _crb = g.add(ClusterRoleBinding::new("viewer", &crole).service_account(&sa));
            let _np = g.add(NetworkPolicy::for_pods("web", &d).allow_from(&d, 80));
            let _pdb = g.add(PodDisruptionBudget::new("web", &d, 1));
            let typed = k8s_openapi::api::core::v1::ConfigMap {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some("typed".into()),
                    ..Default::default()
                },
                ..Default::default()
            };
            let _obj = g.add(Object::from_k8s(&typed).set("data.key", &spec.name));
            StatusExpr {
                ready: d.status().available_replicas().eq(d.spec().replicas()),
                endpoint: svc.spec().cluster_ip(),
            }
        });
    let rgd = g.to_rgd().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rgd.spec.resources.len(), 21);
    let sec = rgd.resource("secSecret").unwrap().template.clone().unwrap();
    assert_eq!(sec["data"]["plain"], "aHVudGVyMg==");
    assert_eq!(sec["stringData"]["dyn"], "${schema.spec.name}");
    assert!(g.lints().is_empty(), "{:?}", g.lints());
}

#[test]
fn a_service_that_selects_nothing_is_linted() {
    let g = ResourceGraph::<Spec, Status>::new("lint", "v1alpha1", "Lint").build(|g, _spec| {
        let d = g.add(Deployment::new("web", "nginx"));
        g.add(Service::new("web-svc").selector("app", "wbe").port(80));
        StatusExpr {
            ready: d.status().ready_replicas().gt(0),
            endpoint: d.name(),
        }
    });
    assert!(g.to_rgd().is_ok());
    assert_eq!(g.lints().len(), 1);
    assert!(g.lints()[0].message.contains("app=wbe"), "{}", g.lints()[0]);
}

#[test]
fn mistakes_become_build_errors_not_panics() {
    let g = ResourceGraph::<Spec, Status>::new("bad", "v1alpha1", "Bad").build(|g, spec| {
        let d = g.add_as("Bad-Id", Deployment::new("web", "nginx"));
        g.add(Deployment::new("web", "nginx"));
        g.add(Deployment::new("web", "nginx"));
        let typo: Expr<i64> = d.field("status.readyReplicaz");
        StatusExpr {
            ready: typo.gt(0),
            endpoint: template!("{} {}", spec.name),
        }
    });
    let e = g.to_rgd().unwrap_err().to_string();
    assert!(e.contains("`Bad-Id` is not a valid KRO resource id"), "{e}");
    assert!(
        e.contains("two resources have the id `webDeployment`"),
        "{e}"
    );
    assert!(
        e.contains("`Bad-Id.status.readyReplicaz` is not a field of Deployment")
            || e.contains("readyReplicaz"),
        "{e}"
    );
}

#[test]
fn raw_cel_is_checked_when_the_graph_is_built() {
    let g = ResourceGraph::<Spec, Status>::new("raw", "v1alpha1", "Raw").build(|g, spec| {
        let d = g.add(Deployment::new(&spec.name, "nginx"));
        StatusExpr {
            ready: cel::<bool>("deployment0.status.readyReplicas >"),
            endpoint: d.name(),
        }
    });
    let e = g.to_rgd().unwrap_err().to_string();
    assert!(e.contains("invalid CEL"), "{e}");
}

#[test]
fn field_paths_are_checked_against_the_kubernetes_schema() {
    let g = ResourceGraph::<Spec, Status>::new("fp", "v1alpha1", "Fp").build(|g, _spec| {
        let s = g.add(
            Service::new("lb")
                .selector("app", "x")
                .port(80)
                .load_balancer(),
        );
        StatusExpr {
            ready: s
                .field::<String>("status.loadBalancer.ingress[0].hostnam")
                .ne(""),
            endpoint: s.status().load_balancer_hostname(),
        }
    });
    let e = g.to_rgd().unwrap_err().to_string();
    assert!(e.contains("hostnam"), "{e}");
}

#[test]
fn probes_mounts_and_routes_take_expressions_too() {
    let g = ResourceGraph::<Spec, Status>::new("exprs", "v1alpha1", "Exprs").build(|g, spec| {
        let cm = g.add(ConfigMap::new("cfg").data("k", "v"));
        let d = g.add(
            Deployment::new("web", "nginx")
                .port(&spec.replicas)
                .liveness(http_get(template!("/{}/health", spec.name), &spec.replicas))
                .mount(&cm, template!("/etc/{}", spec.name))
                .sub_path(&spec.name),
        );
        let s = g.add(Service::exposing(&d).port(80));
        g.add(Ingress::new("web").class(&spec.name).route(
            "a.example.com",
            template!("/{}", spec.name),
            &s,
            &spec.replicas,
        ));
        StatusExpr {
            ready: d.status().ready_replicas().gt(0),
            endpoint: s.name(),
        }
    });
    let rgd = g.to_rgd().unwrap_or_else(|e| panic!("{e}"));
    let c = &rgd
        .resource("webDeployment")
        .unwrap()
        .template
        .as_ref()
        .unwrap()["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"],
        "/${schema.spec.name}/health"
    );
    assert_eq!(
        c["livenessProbe"]["httpGet"]["port"],
        "${schema.spec.replicas}"
    );
    assert_eq!(
        c["volumeMounts"][0]["mountPath"],
        "/etc/${schema.spec.name}"
    );
    assert_eq!(c["volumeMounts"][0]["subPath"], "${schema.spec.name}");
    let ing = rgd
        .resource("webIngress")
        .unwrap()
        .template
        .as_ref()
        .unwrap();
    assert_eq!(ing["spec"]["ingressClassName"], "${schema.spec.name}");
    assert_eq!(
        ing["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["port"]["number"],
        "${schema.spec.replicas}"
    );
}

#[test]
fn ready_when_and_include_when_render_as_kro_expects() {
    let g = ResourceGraph::<Spec, Status>::new("conds", "v1alpha1", "Conds").build(|g, spec| {
        let d = g.add(
            Deployment::new("web", "nginx")
                .replicas(&spec.replicas)
                .port(&spec.replicas)
                .requests(&spec.name, "1Gi"),
        );
        let s = g.add(Service::new("web").selector("app", "web").port(80));
        g.ready_when(&d, d.status().ready_replicas().eq(d.spec().replicas()));
        g.include_when(&s, spec.replicas.gt(0) & spec.mode.eq(Mode::ReadWrite));
        StatusExpr {
            ready: d.status().ready_replicas().gt(0),
            endpoint: s.spec().cluster_ip(),
        }
    });
    let rgd = g.to_rgd().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rgd.resource("webDeployment").unwrap().ready_when,
        ["${webDeployment.status.readyReplicas == webDeployment.spec.replicas}"]
    );
    assert_eq!(
        rgd.resource("webService").unwrap().include_when,
        ["${schema.spec.replicas > 0 && schema.spec.mode == \"READ_WRITE\"}"]
    );
    let t = rgd
        .resource("webDeployment")
        .unwrap()
        .template
        .clone()
        .unwrap();
    assert_eq!(
        t["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"],
        "${schema.spec.replicas}"
    );
    assert_eq!(
        t["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "${schema.spec.name}"
    );
}

/// Issue 17: annotation and label keys hold dots (`app.kubernetes.io/name`);
/// `Object::set` must not split them into nested maps.
#[test]
fn object_paths_can_set_keys_that_hold_dots() {
    let g = ResourceGraph::<Spec, Status>::new("dots", "v1alpha1", "Dots").build(|g, spec| {
        let d = g.add(Deployment::new("web", "nginx"));
        g.add(
            Object::new("v1", "ConfigMap", "cfg")
                .set(
                    r#"metadata.annotations["app.kubernetes.io/name"]"#,
                    &spec.name,
                )
                .set(r"metadata.labels.app\.kubernetes\.io/part-of", "shop")
                .set_at(&["metadata", "labels", "example.com/tier"], "web")
                .set_json_at(&["data", "config.json"], serde_json::json!("{\"a\": 1}"))
                .set("data.plain", "still dotted"),
        );
        StatusExpr {
            ready: d.status().ready_replicas().gt(0),
            endpoint: d.name(),
        }
    });
    let rgd = g.to_rgd().unwrap_or_else(|e| panic!("{e}"));
    let t = rgd
        .resource("cfgConfigMap")
        .unwrap()
        .template
        .clone()
        .unwrap();
    let meta = &t["metadata"];
    assert_eq!(
        meta["annotations"]["app.kubernetes.io/name"], "${schema.spec.name}",
        "{t}"
    );
    assert_eq!(meta["labels"]["app.kubernetes.io/part-of"], "shop", "{t}");
    assert_eq!(meta["labels"]["example.com/tier"], "web", "{t}");
    assert_eq!(t["data"]["config.json"], "{\"a\": 1}", "{t}");
    assert_eq!(t["data"]["plain"], "still dotted", "{t}");
    assert!(meta["annotations"].get("app").is_none(), "{t}");

    // A path that does not parse is a build error, not a strange key.
    let bad = ResourceGraph::<Spec, Status>::new("dots", "v1alpha1", "Dots").build(|g, _| {
        let d = g.add(Deployment::new("web", "nginx"));
        g.add(Object::new("v1", "ConfigMap", "cfg").set("data..x", "v"));
        StatusExpr {
            ready: d.status().ready_replicas().gt(0),
            endpoint: d.name(),
        }
    });
    let e = bad.to_rgd().unwrap_err().to_string();
    assert!(e.contains("`data..x`"), "{e}");
}

/// KRO's author-defined status conditions from the DSL: rendered as the
/// RGD's `status.conditions`, planned as KRO writes them, and a condition
/// KRO would refuse is a build error.
#[test]
fn author_defined_conditions_render_plan_and_are_checked() {
    use kroxide::dsl::conditions::{condition_of, kro_condition, new_condition, true_if};
    let g = ResourceGraph::<Spec, Status>::new("cond", "v1alpha1", "Cond").build(|g, spec| {
        let d = g.add(Deployment::new(&spec.name, "nginx").replicas(spec.replicas.clone()));
        let available: Expr<i64> = d.field("status.availableReplicas");
        g.add_condition(
            new_condition("Available", true_if(available.ge(spec.replicas.clone())))
                .reason("Replicas")
                .message(available.to_string_expr()),
        );
        g.add_condition(
            new_condition("Progressing", condition_of(&d, "Progressing").status())
                .reason(condition_of(&d, "Progressing").reason()),
        );
        g.add_condition(new_condition(
            "Ready",
            kro_condition("ResourcesReady").status(),
        ));
        StatusExpr {
            ready: available.gt(0),
            endpoint: d.name(),
        }
    });
    let rgd = g.to_rgd().unwrap();
    let conditions = &rgd.spec.schema.status.as_ref().unwrap()["conditions"];
    let kroxide::model::FieldNode::List(entries) = conditions else {
        panic!("{conditions:?}")
    };
    assert_eq!(entries.len(), 3);
    let plan = kroxide::semantics::plan::plan(
        &rgd,
        &serde_json::json!({"metadata": {"name": "c"}, "spec": {"name": "web", "replicas": 2, "tags": [], "labels": {}, "ports": [], "mode": "READ_ONLY"}}),
        &kroxide::semantics::plan::PlanOptions { assume_ready: true, ..Default::default() },
    )
    .unwrap();
    assert_eq!(
        plan.status["conditions"],
        serde_json::json!([
            {"type": "Available", "status": "True", "reason": "Replicas", "message": "2"},
            {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"},
            {"type": "Ready", "status": "True"},
        ])
    );
    // KRO's own types only: a condition of the author's cannot be read back.
    let bad = ResourceGraph::<Spec, Status>::new("bad", "v1alpha1", "Bad").build(|g, spec| {
        let d = g.add(Deployment::new(&spec.name, "nginx"));
        g.add_condition(new_condition("Mine", "True"));
        g.add_condition(new_condition("Other", kro_condition("Mine").status()));
        StatusExpr {
            ready: cel("true"),
            endpoint: d.name(),
        }
    });
    let e = bad.to_rgd().unwrap_err().to_string();
    assert!(
        e.contains("custom conditions cannot reference each other"),
        "{e}"
    );
}

/// KRO main's `deepMerge` from the DSL: refused for KRO v0.9.3 (which has
/// no such function), planned for KRO main as KRO main merges.
#[test]
fn deep_merge_needs_kro_main() {
    let graph = |main: bool| {
        let mut b = ResourceGraph::<Spec, Status>::new("merge", "v1alpha1", "Merge");
        if main {
            b = b.kro_version(KroVersion::Main);
        }
        b.build(|g, spec| {
            let base: Expr<std::collections::BTreeMap<String, String>> =
                cel("{'team': 'a', 'tier': 'web'}");
            let cm = g.add_as(
                "merged",
                Object::new("v1", "ConfigMap", &spec.name)
                    .set("data", base.deep_merge(&spec.labels)),
            );
            StatusExpr {
                ready: cm.name().ne(""),
                endpoint: cm.name(),
            }
        })
    };
    let e = graph(false).to_rgd().unwrap_err().to_string();
    assert!(e.contains("KRO v0.9.3 has no deepMerge()"), "{e}");
    let rgd = graph(true).to_rgd().unwrap();
    let plan = kroxide::semantics::plan::plan(
        &rgd,
        &serde_json::json!({"metadata": {"name": "m"}, "spec": {"name": "web", "replicas": 1, "tags": [], "labels": {"tier": "db", "x": "y"}, "ports": [], "mode": "READ_ONLY"}}),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(
        plan.resource("merged")
            .map(|r| r.objects[0]["data"].clone()),
        Some(serde_json::json!({"team": "a", "tier": "db", "x": "y"}))
    );
}
