//! The embedded Kubernetes schemas are exactly what ../shared's OpenAPI v3
//! documents give. Run with KROXIDE_BLESS=1 to regenerate the embedded file.

use kroxide_semantics::k8s::{compact_openapi, KubernetesApi, EMBEDDED};
use std::path::Path;

#[test]
fn embedded_schemas_match_upstream_openapi() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/kubernetes/openapi/v3");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let docs: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
        .collect();
    let fresh = serde_json::to_string(&compact_openapi(&docs)).unwrap();
    if std::env::var_os("KROXIDE_BLESS").is_some() {
        let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/kubernetes-1.36.json");
        std::fs::write(out, &fresh).unwrap();
        return;
    }
    assert!(
        fresh == EMBEDDED.trim_end(),
        "embedded schemas are stale: rerun with KROXIDE_BLESS=1"
    );
}

#[test]
fn the_kinds_kroxide_supports_are_there() {
    let api = KubernetesApi::embedded();
    for (av, k, plural, ns) in [
        ("v1", "ConfigMap", "configmaps", true),
        ("v1", "Secret", "secrets", true),
        ("v1", "Service", "services", true),
        ("v1", "Namespace", "namespaces", false),
        ("v1", "ServiceAccount", "serviceaccounts", true),
        (
            "v1",
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            true,
        ),
        ("apps/v1", "Deployment", "deployments", true),
        ("apps/v1", "StatefulSet", "statefulsets", true),
        ("apps/v1", "DaemonSet", "daemonsets", true),
        ("batch/v1", "Job", "jobs", true),
        ("batch/v1", "CronJob", "cronjobs", true),
        ("networking.k8s.io/v1", "Ingress", "ingresses", true),
        (
            "networking.k8s.io/v1",
            "NetworkPolicy",
            "networkpolicies",
            true,
        ),
        (
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "horizontalpodautoscalers",
            true,
        ),
        (
            "policy/v1",
            "PodDisruptionBudget",
            "poddisruptionbudgets",
            true,
        ),
        ("rbac.authorization.k8s.io/v1", "Role", "roles", true),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            "clusterroles",
            false,
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "RoleBinding",
            "rolebindings",
            true,
        ),
        (
            "rbac.authorization.k8s.io/v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
            false,
        ),
        (
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
            false,
        ),
    ] {
        let info = api
            .kind(av, k)
            .unwrap_or_else(|| panic!("{av} {k} missing"));
        assert_eq!(info.plural, plural, "{k}");
        assert_eq!(info.namespaced, ns, "{k}");
    }
    assert!(api
        .kind("apps/v1", "Deployment")
        .unwrap()
        .subresources
        .contains(&"status".to_string()));
    assert!(api
        .kind("apps/v1", "Deployment")
        .unwrap()
        .subresources
        .contains(&"scale".to_string()));
    let port = api
        .schema_at("v1", "Service", &["spec", "ports", "0", "targetPort"])
        .unwrap();
    assert_eq!(port.format.as_deref(), Some("int-or-string"));
    let cpu = api
        .schema_at(
            "v1",
            "Pod",
            &["spec", "containers", "0", "resources", "limits", "cpu"],
        )
        .unwrap();
    assert_eq!(cpu.format.as_deref(), Some("quantity"));
}
