//! The seed's microservices example, rendered by kroxide.

mod scenarios;

use kroxide::model::{load_documents, to_yaml};
use kroxide::semantics::crd::instance_crd;
use kroxide::semantics::openapi::{validate as schema_validate, Definitions, Options, Schema};
use scenarios::microservices::{self, microservices_app};
use std::path::Path;

fn shared(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(p)
}

#[test]
fn renders_the_seed_rgd() {
    let yaml = microservices_app().to_rgd_yaml().unwrap();
    insta::assert_snapshot!("microservices_rgd", yaml);
}

#[test]
fn passes_the_offline_validator_and_the_rgd_crd_schema() {
    let rgd = microservices_app().to_rgd().unwrap();
    let v = kroxide::semantics::validate::validate(&rgd);
    assert!(v.is_valid(), "{:?}", v.diagnostics);
    let crd = load_documents(
        "crd",
        &std::fs::read_to_string(shared("kro/crds/kro.run_resourcegraphdefinitions.yaml")).unwrap(),
    )
    .unwrap()
    .remove(0)
    .0;
    let schema: Schema =
        serde_json::from_value(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone())
            .unwrap();
    let mut written = load_documents("rgd", &to_yaml(&rgd).unwrap())
        .unwrap()
        .remove(0)
        .0;
    let errs = schema_validate(
        &mut written,
        &schema,
        &Definitions::default(),
        Options {
            apply_defaults: true,
            ..Options::default()
        },
    );
    assert!(errs.is_empty(), "{errs:?}");
}

#[test]
fn every_seed_resource_and_reference_is_there() {
    let rgd = microservices_app().to_rgd().unwrap();
    let ids: Vec<&str> = rgd.spec.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "appConfig",
            "dbSecrets",
            "userDeployment",
            "userService",
            "productDeployment",
            "productService",
            "orderDeployment",
            "orderService",
            "gatewayConfig",
            "gatewayDeployment",
            "gatewayService",
            "ingress"
        ]
    );
    let t = |id: &str| rgd.resource(id).unwrap().template.clone().unwrap();
    // LOG_LEVEL is the ternary, not TypeKro's literal "debug".
    assert_eq!(
        t("appConfig")["data"]["LOG_LEVEL"],
        r#"${schema.spec.environment == "production" ? "info" : "debug"}"#
    );
    let env = &t("userDeployment")["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(
        env[1]["value"],
        "${schema.spec.services.user.database.host}"
    );
    assert_eq!(
        env[3]["valueFrom"]["secretKeyRef"]["name"],
        "${dbSecrets.metadata.name}"
    );
    let gw = &t("gatewayDeployment")["spec"]["template"]["spec"];
    assert_eq!(
        gw["containers"][0]["volumeMounts"][0]["subPath"],
        "nginx.conf"
    );
    assert_eq!(
        gw["containers"][0]["volumeMounts"][0]["mountPath"],
        "/etc/nginx/nginx.conf"
    );
    assert_eq!(
        gw["volumes"][0]["configMap"]["name"],
        "${gatewayConfig.metadata.name}"
    );
    assert_eq!(t("gatewayService")["spec"]["type"], "LoadBalancer");
    assert_eq!(
        t("ingress")["spec"]["rules"][0]["host"],
        "${schema.spec.gateway.domain}"
    );
    // The seed forgot labels on product and gateway; kroxide's defaults match.
    assert!(
        microservices_app().lints().is_empty(),
        "{:?}",
        microservices_app().lints()
    );
    let order = kroxide::semantics::validate::validate(&rgd).order.unwrap();
    let pos = |id: &str| order.iter().position(|x| x == id).unwrap();
    assert!(pos("dbSecrets") < pos("userDeployment") && pos("appConfig") < pos("userDeployment"));
    assert!(
        pos("gatewayConfig") < pos("gatewayDeployment") && pos("gatewayService") < pos("ingress")
    );
}

#[test]
fn spec_fields_have_the_right_simpleschema_types() {
    let rgd = microservices_app().to_rgd().unwrap();
    let crd = instance_crd(&rgd).unwrap();
    let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
        ["properties"];
    assert_eq!(spec["gateway"]["properties"]["replicas"]["type"], "integer");
    assert_eq!(
        spec["gateway"]["properties"]["replicas"]["minimum"].as_f64(),
        Some(0.0)
    );
    for s in ["user", "product", "order"] {
        assert_eq!(
            spec["services"]["properties"][s]["properties"]["replicas"]["type"],
            "integer"
        );
        assert_eq!(
            spec["services"]["properties"][s]["properties"]["database"]["properties"]["host"]
                ["type"],
            "string"
        );
    }
    assert_eq!(
        spec["environment"]["enum"],
        serde_json::json!(["development", "staging", "production"])
    );
    assert_eq!(crd["spec"]["group"], "example.com");
    let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        ["properties"];
    assert_eq!(
        status["services"]["properties"]["user"]["properties"]["ready"]["type"],
        "boolean"
    );
    assert_eq!(status["health"]["type"], "string");
    assert_eq!(status["gatewayUrl"]["type"], "string");
}

#[test]
fn dev_and_prod_configurations_fit_the_instance_schema() {
    let rgd = microservices_app().to_rgd().unwrap();
    let crd = instance_crd(&rgd).unwrap();
    let schema: Schema = serde_json::from_value(
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].clone(),
    )
    .unwrap();
    for f in ["dev.yaml", "prod.yaml"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/microservices")
            .join(f);
        let mut inst = load_documents(f, &std::fs::read_to_string(&p).unwrap())
            .unwrap()
            .remove(0)
            .0;
        let errs = schema_validate(
            &mut inst["spec"],
            &schema,
            &Definitions::default(),
            Options::default(),
        );
        assert!(errs.is_empty(), "{f}: {errs:?}");
        // And they deserialize into the typed spec.
        let typed: microservices::MicroservicesSpec =
            serde_json::from_value(inst["spec"].clone()).unwrap();
        assert_eq!(typed.version, "1.0.0");
    }
}

mod plans {
    use super::*;
    use crate::scenarios::example as instance;
    use kroxide::semantics::plan::{plan, Action, Observed, PlanOptions};
    use serde_json::{json, Value};

    fn plan_with(f: &str, opts: PlanOptions) -> kroxide::semantics::plan::Plan {
        plan(&microservices_app().to_rgd().unwrap(), &instance(f), &opts).unwrap()
    }

    fn object<'a>(p: &'a kroxide::semantics::plan::Plan, id: &str) -> &'a Value {
        &p.resource(id).unwrap().objects[0]
    }

    #[test]
    fn the_typed_spec_plans_from_rust() {
        let dev: microservices::MicroservicesSpec =
            serde_json::from_value(instance("dev.yaml")["spec"].clone()).unwrap();
        let p = microservices_app()
            .plan(
                &dev,
                &PlanOptions {
                    namespace: "dev".into(),
                    ..PlanOptions::default()
                },
            )
            .unwrap();
        assert_eq!(object(&p, "appConfig")["data"]["LOG_LEVEL"], "debug");
        assert_eq!(object(&p, "appConfig")["metadata"]["namespace"], "dev");
        // A negative replica count is refused (the schema's minimum is 0),
        // naming the field; a wrong type cannot even be written in Rust.
        let mut bad = dev.clone();
        bad.services.user.replicas = -1;
        let e = microservices_app()
            .plan(&bad, &PlanOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("spec.services.user.replicas: -1 is less than the minimum 0"),
            "{e}"
        );
        let mut zero = dev.clone();
        zero.gateway.replicas = 0;
        assert!(microservices_app()
            .plan(&zero, &PlanOptions::default())
            .is_ok());
    }

    #[test]
    fn log_level_follows_the_environment() {
        let dev = plan_with("dev.yaml", PlanOptions::default());
        assert_eq!(object(&dev, "appConfig")["data"]["LOG_LEVEL"], "debug");
        let prod = plan_with("prod.yaml", PlanOptions::default());
        assert_eq!(object(&prod, "appConfig")["data"]["LOG_LEVEL"], "info");
        assert_eq!(object(&prod, "productDeployment")["spec"]["replicas"], 5);
        assert_eq!(
            object(&prod, "ingress")["spec"]["rules"][0]["host"],
            "api.mycompany.com"
        );
        for r in &prod.resources {
            assert_eq!(r.action, Action::Apply, "{}: {:?}", r.id, r.reason);
        }
    }

    #[test]
    fn healthy_when_everything_is_ready() {
        let p = plan_with(
            "prod.yaml",
            PlanOptions {
                assume_ready: true,
                ..PlanOptions::default()
            },
        );
        assert_eq!(p.status["health"], "healthy");
        assert_eq!(p.status["gatewayUrl"], "https://api.mycompany.com");
        assert_eq!(p.status["services"]["user"]["ready"], true);
        assert_eq!(
            p.status["services"]["order"]["url"],
            "http://order-service:3000"
        );
        assert!(p.pending.is_empty(), "{:?}", p.pending);
    }

    fn observed(user: i64, product: i64, order: i64) -> Observed {
        Observed::from_documents([json!({
            "userDeployment": {"status": {"readyReplicas": user}},
            "productDeployment": {"status": {"readyReplicas": product}},
            "orderDeployment": {"status": {"readyReplicas": order}},
        })])
    }

    #[test]
    fn degraded_when_only_the_user_service_is_ready() {
        let p = plan_with(
            "dev.yaml",
            PlanOptions {
                observed: observed(1, 0, 0),
                ..PlanOptions::default()
            },
        );
        assert_eq!(p.status["health"], "degraded");
        assert_eq!(p.status["services"]["user"]["ready"], true);
        assert_eq!(p.status["services"]["product"]["ready"], false);
    }

    #[test]
    fn unhealthy_when_nothing_is_ready() {
        let p = plan_with(
            "dev.yaml",
            PlanOptions {
                observed: observed(0, 0, 0),
                ..PlanOptions::default()
            },
        );
        assert_eq!(p.status["health"], "unhealthy");
    }

    #[test]
    fn without_live_data_status_that_needs_it_is_pending() {
        let p = plan_with("dev.yaml", PlanOptions::default());
        assert!(p.status.get("health").is_none(), "{}", p.status);
        for f in [
            "status.health",
            "status.services.user.ready",
            "status.services.product.ready",
            "status.services.order.ready",
        ] {
            assert!(
                p.pending.contains_key(f),
                "{f} not pending: {:?}",
                p.pending
            );
        }
        // What needs no live data is computed.
        assert_eq!(p.status["gatewayUrl"], "https://microservices-dev.local");
    }
}
