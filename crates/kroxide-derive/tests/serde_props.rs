//! The schema `#[derive(Schema)]` generates accepts exactly what serde
//! writes: random values of derived types are serialized with serde_json
//! and checked by kroxide's own instance validation (SimpleSchema →
//! OpenAPI → `instance::prepare`, as `kroxide deploy` checks a spec), and
//! the `required` fields are exactly those serde always writes.
//!
//! This crate depends on `kroxide-dsl`, not on `kroxide`: the derive's
//! generated code must not name `::kroxide`.

use kroxide_dsl::{ConfigMap, ResourceGraph, Schema};
use kroxide_model::ResourceGraphDefinition;
use kroxide_semantics::crd::spec_schema;
use kroxide_semantics::instance::prepare;
use proptest::collection::{btree_map, hash_map, vec};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct AppSpec {
    app_name: String,
    #[serde(rename = "replicaCount")]
    replicas: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    image_tag: Option<String>,
    /// Written as `null` when `None`; the API server drops nulls.
    maybe_port: Option<i64>,
    #[serde(default)]
    debug: bool,
    #[serde(default = "default_timeout")]
    timeout_seconds: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    annotations: HashMap<String, String>,
    ports: Vec<Port>,
    tier: Tier,
    #[serde(default)]
    log_level: LogLevel,
    weights: Vec<f64>,
    gateway: Gateway,
    #[serde(flatten)]
    resources: Resources,
    #[serde(flatten)]
    extra: Option<Extra>,
    #[serde(skip)]
    cache: u64,
}

fn default_timeout() -> u32 {
    30
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
struct Port {
    container_port: i32,
    #[serde(default = "tcp")]
    protocol: Protocol,
}

fn tcp() -> Protocol {
    Protocol::Tcp
}

#[derive(Schema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "UPPERCASE")]
enum Protocol {
    Tcp,
    Udp,
    #[serde(rename = "SCTP-v2")]
    Sctp,
}

#[derive(Schema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum Tier {
    Frontend,
    BackendApi,
    #[serde(rename = "batch-jobs", alias = "batch")]
    BatchJobs,
}

#[derive(Schema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Default)]
#[serde(rename_all = "lowercase")]
enum LogLevel {
    #[default]
    Info,
    Debug,
    Warn,
}

/// A container default: every field takes `Gateway::default()`'s value.
#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, deny_unknown_fields, rename_all = "camelCase")]
struct Gateway {
    domain: String,
    tls: bool,
    #[serde(rename = "maxBodyKb")]
    max_body: u16,
    rate: f64,
}

impl Default for Gateway {
    fn default() -> Self {
        // A quote, a backslash, a comma and a space: the default marker
        // must quote them.
        Gateway {
            domain: "ex\"am,ple\\ .com".into(),
            tls: true,
            max_body: 1024,
            rate: 2.5,
        }
    }
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Resources {
    cpu_millis: u32,
    memory_mb: Option<u32>,
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct Extra {
    note: String,
    #[serde(default)]
    priority: i8,
}

/// A second shape: a container default with `SCREAMING_SNAKE_CASE`, maps
/// of lists, a skipped-when-false flag and an optional nested struct.
#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, rename_all = "SCREAMING_SNAKE_CASE")]
struct Settings {
    max_conns: i64,
    buckets: BTreeMap<String, Vec<i64>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    read_only: bool,
    owner: Option<Owner>,
    modes: Vec<Protocol>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_conns: 100,
            buckets: BTreeMap::new(),
            read_only: false,
            owner: None,
            modes: vec![Protocol::Tcp],
        }
    }
}

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Owner {
    team_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

/// Serialized only: fields serde may leave out but cannot read back when it
/// does (`skip_serializing_if` with no default), and one-way skips.
#[derive(Schema, Serialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct Sparse {
    #[serde(skip_serializing_if = "String::is_empty")]
    nick_name: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    items: Vec<i64>,
    /// Never written (but read): optional.
    #[serde(skip_serializing)]
    secret: String,
    /// Always written (but never read): required.
    #[serde(skip_deserializing)]
    computed: i32,
    count: i64,
    /// An alias of `Option`: still written as `null`, still optional.
    maybe: Maybe<i64>,
}

type Maybe<T> = Option<T>;

#[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
struct NoStatus {}

/// The RGD a graph with spec `S` renders (the way the DSL builds it).
fn rgd_of<S: Schema>() -> ResourceGraphDefinition {
    ResourceGraph::<S, NoStatus>::new("props", "example.com/v1alpha1", "Props")
        .build(|g, _| {
            g.add(ConfigMap::new("c").data("k", "v"));
            NoStatusExpr {}
        })
        .to_rgd()
        .expect("the graph is valid")
}

/// Serializes `v`, validates it as an instance spec, and reads the
/// validated (defaulted) spec back: it must be `v` again.
fn accepts<S: Serialize + DeserializeOwned + PartialEq + Debug>(
    rgd: &ResourceGraphDefinition,
    v: &S,
) -> Result<(), TestCaseError> {
    let raw = serde_json::to_value(v).unwrap();
    let inst = prepare(rgd, &json!({ "spec": raw }), "dev")
        .map_err(|e| TestCaseError::fail(format!("{raw} rejected: {:?}", e.problems)))?;
    let back: S = serde_json::from_value(inst["spec"].clone())
        .map_err(|e| TestCaseError::fail(format!("{} unreadable: {e}", inst["spec"])))?;
    prop_assert_eq!(&back, v);
    Ok(())
}

/// With only the required fields left (and the nested objects in
/// `emptied` left as `{}`), KRO's defaults give what serde's defaults give.
fn defaults_agree<S: Serialize + DeserializeOwned + PartialEq + Debug>(
    rgd: &ResourceGraphDefinition,
    v: &S,
    emptied: &[&str],
) -> Result<(), TestCaseError> {
    let required = required_of(rgd);
    let mut raw = serde_json::to_value(v).unwrap();
    let m = raw.as_object_mut().unwrap();
    m.retain(|k, _| required.contains(k) || emptied.contains(&k.as_str()));
    for k in emptied {
        m.insert(k.to_string(), json!({}));
    }
    let Ok(by_serde) = serde_json::from_value::<S>(raw.clone()) else {
        return Ok(());
    };
    let inst = prepare(rgd, &json!({ "spec": raw }), "dev")
        .map_err(|e| TestCaseError::fail(format!("{raw} rejected: {:?}", e.problems)))?;
    let by_kro: S = serde_json::from_value(inst["spec"].clone())
        .map_err(|e| TestCaseError::fail(format!("{} unreadable: {e}", inst["spec"])))?;
    prop_assert_eq!(by_kro, by_serde);
    Ok(())
}

fn required_of(rgd: &ResourceGraphDefinition) -> BTreeSet<String> {
    let schema = spec_schema(rgd).expect("the spec schema converts");
    schema.required.unwrap_or_default().into_iter().collect()
}

fn set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|s| s.to_string()).collect()
}

/// The keys serde writes (non-null) for `v`.
fn written<S: Serialize>(v: &S) -> BTreeSet<String> {
    match serde_json::to_value(v).unwrap() {
        Value::Object(m) => m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
            .collect(),
        other => panic!("not an object: {other}"),
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z0-9.-]{0,12}"]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![-1.0e9..1.0e9f64, (-1000i32..1000).prop_map(f64::from)]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop_oneof![
        Just(Protocol::Tcp),
        Just(Protocol::Udp),
        Just(Protocol::Sctp)
    ]
}

fn port() -> impl Strategy<Value = Port> {
    (any::<i32>(), protocol()).prop_map(|(container_port, protocol)| Port {
        container_port,
        protocol,
    })
}

fn gateway() -> impl Strategy<Value = Gateway> {
    (text(), any::<bool>(), any::<u16>(), float()).prop_map(|(domain, tls, max_body, rate)| {
        Gateway {
            domain,
            tls,
            max_body,
            rate,
        }
    })
}

fn app_spec() -> impl Strategy<Value = AppSpec> {
    let a = (
        text(),
        any::<i32>(),
        proptest::option::of(text()),
        proptest::option::of(any::<i64>()),
        any::<bool>(),
        any::<u32>(),
        vec(text(), 0..4),
        btree_map(text(), text(), 0..4),
        hash_map(text(), text(), 0..4),
    );
    let b = (
        vec(port(), 0..4),
        prop_oneof![
            Just(Tier::Frontend),
            Just(Tier::BackendApi),
            Just(Tier::BatchJobs)
        ],
        prop_oneof![
            Just(LogLevel::Info),
            Just(LogLevel::Debug),
            Just(LogLevel::Warn)
        ],
        vec(float(), 0..4),
        gateway(),
        (any::<u32>(), proptest::option::of(any::<u32>())).prop_map(|(cpu_millis, memory_mb)| {
            Resources {
                cpu_millis,
                memory_mb,
            }
        }),
        proptest::option::of(
            (text(), any::<i8>()).prop_map(|(note, priority)| Extra { note, priority }),
        ),
    );
    (a, b).prop_map(
        |(
            (
                app_name,
                replicas,
                image_tag,
                maybe_port,
                debug,
                timeout_seconds,
                tags,
                labels,
                annotations,
            ),
            (ports, tier, log_level, weights, gateway, resources, extra),
        )| AppSpec {
            app_name,
            replicas,
            image_tag,
            maybe_port,
            debug,
            timeout_seconds,
            tags,
            labels,
            annotations,
            ports,
            tier,
            log_level,
            weights,
            gateway,
            resources,
            extra,
            // Skipped: serde never writes it and reads it as the default.
            cache: 0,
        },
    )
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        any::<i64>(),
        btree_map(text(), vec(any::<i64>(), 0..3), 0..3),
        any::<bool>(),
        proptest::option::of(
            (text(), proptest::option::of(text()))
                .prop_map(|(team_name, email)| Owner { team_name, email }),
        ),
        vec(protocol(), 0..3),
    )
        .prop_map(|(max_conns, buckets, read_only, owner, modes)| Settings {
            max_conns,
            buckets,
            read_only,
            owner,
            modes,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_serialized_app_spec_is_accepted(v in app_spec()) {
        let rgd = rgd_of::<AppSpec>();
        accepts(&rgd, &v)?;
        defaults_agree(&rgd, &v, &["gateway"])?;
        // Serde always writes what the schema requires.
        prop_assert!(required_of(&rgd).is_subset(&written(&v)));
    }

    #[test]
    fn every_serialized_settings_is_accepted(v in settings()) {
        let rgd = rgd_of::<Settings>();
        accepts(&rgd, &v)?;
        defaults_agree(&rgd, &v, &[])?;
    }

    #[test]
    fn every_serialized_sparse_is_accepted(
        nick_name in "[a-z]{0,2}",
        items in vec(any::<i64>(), 0..3),
        secret in text(),
        computed in any::<i32>(),
        count in any::<i64>(),
        maybe in proptest::option::of(any::<i64>()),
    ) {
        let rgd = rgd_of::<Sparse>();
        let v = Sparse { nick_name, items, secret, computed, count, maybe };
        let raw = serde_json::to_value(&v).unwrap();
        if let Err(e) = prepare(&rgd, &json!({ "spec": raw }), "dev") {
            return Err(TestCaseError::fail(format!("{raw} rejected: {:?}", e.problems)));
        }
        prop_assert!(required_of(&rgd).is_subset(&written(&v)));
    }

    #[test]
    fn every_serialized_port_is_accepted_as_a_custom_type(v in vec(port(), 0..5)) {
        #[derive(Schema, Serialize, Deserialize, Clone, Debug, PartialEq)]
        struct Ports { ports: Vec<Port> }
        let rgd = rgd_of::<Ports>();
        accepts(&rgd, &Ports { ports: v })?;
    }
}

#[test]
fn required_fields_are_exactly_those_serde_always_writes() {
    let rgd = rgd_of::<AppSpec>();
    // What serde writes whatever the value: not the `Option`s (null or
    // skipped), not `skip_serializing_if` fields, and not the fields with a
    // serde default (KRO fills those in); `gateway` is an object, which
    // SimpleSchema never requires (its own fields are checked when present).
    let always = set(&[
        "appName",
        "replicaCount",
        "labels",
        "ports",
        "tier",
        "weights",
        "cpuMillis",
    ]);
    assert_eq!(required_of(&rgd), always);

    // A value with every optional field left out writes exactly the
    // required fields, those with defaults and the nested object.
    let minimal = AppSpec {
        app_name: "a".into(),
        replicas: 1,
        image_tag: None,
        maybe_port: None,
        debug: false,
        timeout_seconds: 30,
        tags: vec![],
        labels: BTreeMap::new(),
        annotations: HashMap::new(),
        ports: vec![],
        tier: Tier::Frontend,
        log_level: LogLevel::Info,
        weights: vec![],
        gateway: Gateway::default(),
        resources: Resources {
            cpu_millis: 1,
            memory_mb: None,
        },
        extra: None,
        cache: 7,
    };
    let mut expected = always.clone();
    expected.extend(set(&["debug", "timeoutSeconds", "logLevel", "gateway"]));
    assert_eq!(written(&minimal), expected);

    // Custom types (`[]Port`) keep their own required fields.
    let s = serde_json::to_value(&rgd.spec.schema).unwrap();
    assert_eq!(
        s["types"]["Port"]["container-port"],
        "integer | required=true"
    );
    assert_eq!(
        s["types"]["Port"]["protocol"],
        "string | enum=\"TCP,UDP,SCTP-v2\" default=\"TCP\""
    );
}

#[test]
fn the_schema_reads_as_serde_names_it() {
    let rgd = rgd_of::<AppSpec>();
    let s = serde_json::to_value(&rgd.spec.schema).unwrap();
    let spec = &s["spec"];
    assert_eq!(spec["appName"], "string | required=true");
    assert_eq!(spec["replicaCount"], "integer | required=true");
    assert_eq!(spec["imageTag"], "string");
    assert_eq!(
        spec["maybePort"],
        "integer | description=\"Written as `null` when `None`; the API server drops nulls.\""
    );
    assert_eq!(spec["debug"], "boolean | default=false");
    assert_eq!(spec["timeoutSeconds"], "integer | default=30");
    assert_eq!(spec["tags"], "[]string | default=[]");
    assert_eq!(spec["annotations"], "map[string]string | default={}");
    assert_eq!(
        spec["tier"],
        "string | enum=\"FRONTEND,BACKEND_API,batch-jobs\" required=true"
    );
    assert_eq!(
        spec["logLevel"],
        "string | enum=\"info,debug,warn\" default=\"info\""
    );
    assert_eq!(spec["weights"], "[]float | required=true");
    assert_eq!(
        spec["gateway"]["domain"],
        r#"string | default="ex\"am,ple\\ .com""#
    );
    assert_eq!(spec["gateway"]["maxBodyKb"], "integer | default=1024");
    assert_eq!(spec["gateway"]["rate"], "float | default=2.5");
    // Flattened: merged in; `Option<Extra>` makes its fields optional.
    assert_eq!(spec["cpuMillis"], "integer | required=true");
    assert_eq!(spec["memoryMb"], "integer");
    assert_eq!(spec["note"], "string");
    assert_eq!(spec["priority"], "integer | default=0");
    assert!(spec.get("resources").is_none() && spec.get("extra").is_none());
    // Skipped.
    assert!(spec.get("cache").is_none());

    assert_eq!(
        required_of(&rgd_of::<Sparse>()),
        set(&["computed", "count"])
    );

    let rgd = rgd_of::<Settings>();
    let s = serde_json::to_value(&rgd.spec.schema).unwrap();
    assert_eq!(s["spec"]["MAX_CONNS"], "integer | default=100");
    assert_eq!(s["spec"]["BUCKETS"], "map[string][]integer | default={}");
    assert_eq!(s["spec"]["READ_ONLY"], "boolean | default=false");
    assert_eq!(s["spec"]["MODES"], "[]string | default=[\"TCP\"]");
    assert_eq!(s["spec"]["OWNER"]["teamName"], "string | required=true");
    assert_eq!(required_of(&rgd), BTreeSet::new());
}

#[test]
fn references_follow_serde_names_and_flatten() {
    use kroxide_dsl::graph::cel_of;
    let g = ResourceGraph::<AppSpec, NoStatus>::new("refs", "v1alpha1", "Refs").build(|g, spec| {
        assert_eq!(cel_of(&spec.replicas), "schema.spec.replicaCount");
        assert_eq!(
            cel_of(&spec.gateway.max_body),
            "schema.spec.gateway.maxBodyKb"
        );
        // A flattened struct's fields live at the parent's level.
        assert_eq!(cel_of(&spec.resources.cpu_millis), "schema.spec.cpuMillis");
        assert_eq!(cel_of(&spec.extra.note), "schema.spec.note");
        g.add(ConfigMap::new("c").data("replicas", "x"));
        NoStatusExpr {}
    });
    g.to_rgd().unwrap();
}
