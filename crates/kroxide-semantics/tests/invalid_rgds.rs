//! A table of invalid RGDs: each breaks one rule, and the validator must say
//! what is wrong and where (resource id, field path, source line).

use kroxide_model::load_str;
use kroxide_semantics::validate::validate;

const CM: &str = "{apiVersion: v1, kind: ConfigMap, metadata: {name: cm}}";

fn doc(schema: &str, resources: &str) -> String {
    format!(
        "apiVersion: kro.run/v1alpha1\nkind: ResourceGraphDefinition\nmetadata:\n  name: bad\nspec:\n  schema: {schema}\n  resources:\n{resources}"
    )
}

fn res(id: &str, body: &str) -> String {
    format!("    - id: {id}\n{body}")
}

fn tpl(t: &str) -> String {
    format!("      template: {t}\n")
}

const SCHEMA: &str = "{apiVersion: v1alpha1, kind: App, spec: {name: string, count: integer}}";

struct Case {
    name: &'static str,
    yaml: String,
    /// Expected rule name.
    rule: &'static str,
    /// Substring of the message.
    message: &'static str,
    /// Field path in the document.
    path: &'static str,
}

fn c(
    name: &'static str,
    yaml: String,
    rule: &'static str,
    message: &'static str,
    path: &'static str,
) -> Case {
    Case {
        name,
        yaml,
        rule,
        message,
        path,
    }
}

fn cases() -> Vec<Case> {
    let ok_res = res("cm", &tpl(CM));
    let deploy = |spec: &str| {
        format!("{{apiVersion: apps/v1, kind: Deployment, metadata: {{name: d}}, spec: {spec}}}")
    };
    let good_spec = "{selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: nginx}]}}}";
    vec![
        c("kind lowercase", doc("{apiVersion: v1alpha1, kind: app}", &ok_res), "kind", "must be UpperCamelCase", "spec.schema.kind"),
        c("kind with dash", doc("{apiVersion: v1alpha1, kind: My-App}", &ok_res), "kind", "`My-App` is not a valid KRO kind", "spec.schema.kind"),
        c("apiVersion not a version", doc("{apiVersion: v1alpha, kind: App}", &ok_res), "api-version", "`v1alpha` is not a Kubernetes version", "spec.schema.apiVersion"),
        c("apiVersion with group", doc("{apiVersion: kro.run/v1, kind: App}", &ok_res), "api-version", "not a Kubernetes version", "spec.schema.apiVersion"),
        c("bad group", doc("{apiVersion: v1, kind: App, group: Kro_Run}", &ok_res), "group", "not a valid DNS subdomain", "spec.schema.group"),
        c("unknown type", doc("{apiVersion: v1, kind: App, spec: {a: Foo}}", &ok_res), "simpleschema", "unknown type `Foo`", "spec.schema.spec.a"),
        c("number type", doc("{apiVersion: v1, kind: App, spec: {r: number}}", &ok_res), "simpleschema", "`number` is not a SimpleSchema type", "spec.schema.spec.r"),
        c("unknown marker", doc("{apiVersion: v1, kind: App, spec: {a: string | requird=true}}", &ok_res), "simpleschema", "did you mean `required`", "spec.schema.spec.a"),
        c("bad integer default", doc("{apiVersion: v1, kind: App, spec: {a: integer | default=abc}}", &ok_res), "simpleschema", "default=abc", "spec.schema.spec.a"),
        c("enum on boolean", doc("{apiVersion: v1, kind: App, spec: {a: 'boolean | enum=\"true,false\"'}}", &ok_res), "simpleschema", "enum values only supported for string and integer", "spec.schema.spec.a"),
        c("pattern on integer", doc("{apiVersion: v1, kind: App, spec: {a: integer | pattern=x}}", &ok_res), "simpleschema", "pattern marker is only valid for string", "spec.schema.spec.a"),
        c("invalid regex", doc("{apiVersion: v1, kind: App, spec: {a: 'string | pattern=\"([\"'}}", &ok_res), "simpleschema", "invalid pattern regex", "spec.schema.spec.a"),
        c("minItems on string", doc("{apiVersion: v1, kind: App, spec: {a: string | minItems=1}}", &ok_res), "simpleschema", "minItems marker is only valid for array", "spec.schema.spec.a"),
        c("type cycle", doc("{apiVersion: v1, kind: App, types: {A: {b: B}, B: {a: A}}, spec: {x: A}}", &ok_res), "simpleschema", "cyclic dependency between types: A -> B -> A", "spec.schema.types.A"),
        c("map key not string", doc("{apiVersion: v1, kind: App, spec: {m: 'map[integer]string'}}", &ok_res), "simpleschema", "map key must be string", "spec.schema.spec.m"),
        c("unclosed quote", doc("{apiVersion: v1, kind: App, spec: {a: 'string | default=\"x'}}", &ok_res), "simpleschema", "unclosed quote", "spec.schema.spec.a"),
        c("id with dash", doc(SCHEMA, &res("user-service", &tpl(CM))), "resource-id", "must be lowerCamelCase", "spec.resources[0].id"),
        c("id reserved schema", doc(SCHEMA, &res("schema", &tpl(CM))), "resource-id", "`schema` is a reserved keyword", "spec.resources[0].id"),
        c("id reserved namespace", doc(SCHEMA, &res("namespace", &tpl(CM))), "resource-id", "reserved keyword", "spec.resources[0].id"),
        c("id shadows json", doc(SCHEMA, &res("json", &tpl(CM))), "resource-id", "shadows the CEL function namespace", "spec.resources[0].id"),
        c("duplicate id", doc(SCHEMA, &format!("{ok_res}{ok_res}")), "resource-id", "duplicate resource id `cm`", "spec.resources[1].id"),
        c("neither template nor externalRef", doc(SCHEMA, &res("cm", "      readyWhen: []\n")), "template", "exactly one of template or externalRef", "spec.resources[0]"),
        c("template and externalRef", doc(SCHEMA, &res("cm", &format!("{}      externalRef: {{apiVersion: v1, kind: ConfigMap, metadata: {{name: x}}}}\n", tpl(CM)))), "template", "cannot use externalRef with template", "spec.resources[0].externalRef"),
        c("no apiVersion", doc(SCHEMA, &res("cm", &tpl("{kind: ConfigMap, metadata: {name: x}}"))), "template", "template has no apiVersion", "spec.resources[0].template"),
        c("no kind", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, metadata: {name: x}}"))), "template", "template has no kind", "spec.resources[0].template"),
        c("no metadata", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap}"))), "template", "template has no metadata", "spec.resources[0].template"),
        c("no metadata.name", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {labels: {a: b}}}"))), "template", "metadata.name is required", "spec.resources[0].template.metadata"),
        c("kro label", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x, labels: {kro.run/owned: 'true'}}}"))), "reserved-metadata", "prefix `kro.run/` are reserved", "spec.resources[0].template.metadata.labels[\"kro.run/owned\"]"),
        c("internal kro annotation", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x, annotations: {internal.kro.run/x: y}}}"))), "reserved-metadata", "prefix `internal.kro.run/`", "spec.resources[0].template.metadata.annotations[\"internal.kro.run/x\"]"),
        c("unknown identifier", doc(SCHEMA, &format!("{ok_res}{}", res("cm2", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${cn.metadata.name}'}}")))), "unknown-identifier", "unknown identifier `cn`", "spec.resources[1].template.metadata.name"),
        c("unknown spec field", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${schema.spec.nam}'}}"))), "schema-field", "`schema.spec.nam` is not a field of the spec schema", "spec.resources[0].template.metadata.name"),
        c("schema root unknown", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${schema.foo}'}}"))), "schema-field", "`schema.foo` does not exist", "spec.resources[0].template.metadata.name"),
        c("unknown field of a resource", doc(SCHEMA, &format!("{ok_res}{}", res("cm2", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${cm.dataa.x}'}}")))), "resource-field", "`cm.dataa` is not a field of ConfigMap", "spec.resources[1].template.metadata.name"),
        c("self reference", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${cm.metadata.uid}'}}"))), "self-reference", "refers to itself", "spec.resources[0].template.metadata.name"),
        c("cycle", doc(SCHEMA, &format!("{}{}", res("a", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${b.metadata.name}'}}")), res("b", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${a.metadata.name}'}}")))), "cycle", "a -> b -> a", "spec.resources[0]"),
        c("CEL syntax", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${schema.spec.name +}'}}"))), "cel-syntax", "invalid CEL in ${schema.spec.name +}", "spec.resources[0].template.metadata.name"),
        c("nested expression", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: '${f(${x})}'}}"))), "expression", "nested expressions are not allowed", "spec.resources[0].template.metadata.name"),
        c("readyWhen other resource", doc(SCHEMA, &format!("{ok_res}{}", res("cm2", &format!("{}      readyWhen: ['${{cm.data.x == \"y\"}}']\n", tpl(CM))))), "ready-when", "may only refer to its own resource `cm2`, not `cm`", "spec.resources[1].readyWhen[0]"),
        c("readyWhen not standalone", doc(SCHEMA, &res("cm", &format!("{}      readyWhen: ['x ${{cm.data.a}}']\n", tpl(CM)))), "standalone", "readyWhen must be a single ${...} expression", "spec.resources[0].readyWhen[0]"),
        c("includeWhen not standalone", doc(SCHEMA, &res("cm", &format!("{}      includeWhen: ['schema.spec.count > 1']\n", tpl(CM)))), "standalone", "includeWhen must be a single ${...} expression", "spec.resources[0].includeWhen[0]"),
        c("includeWhen unknown identifier", doc(SCHEMA, &res("cm", &format!("{}      includeWhen: ['${{schem.spec.count > 1}}']\n", tpl(CM)))), "unknown-identifier", "unknown identifier `schem`", "spec.resources[0].includeWhen[0]"),
        c("forEach bad iterator", doc(SCHEMA, &res("cm", &format!("{}      forEach: [{{My_Item: '${{[1, 2]}}'}}]\n", tpl(CM)))), "foreach", "iterator name `My_Item` is not valid", "spec.resources[0].forEach[0].My_Item"),
        c("forEach iterator is an id", doc(SCHEMA, &format!("{ok_res}{}", res("cm2", &format!("{}      forEach: [{{cm: '${{[1, 2]}}'}}]\n", tpl(CM))))), "foreach", "conflicts with a resource id", "spec.resources[1].forEach[0].cm"),
        c("forEach with externalRef", doc(SCHEMA, &res("cm", "      externalRef: {apiVersion: v1, kind: ConfigMap, metadata: {name: x}}\n      forEach: [{i: '${[1]}'}]\n")), "foreach", "cannot use externalRef with forEach", "spec.resources[0].forEach"),
        c("forEach not standalone", doc(SCHEMA, &res("cm", &format!("{}      forEach: [{{i: '[1, 2]'}}]\n", tpl(CM)))), "standalone", "forEach must be a single ${...} expression", "spec.resources[0].forEach[0].i"),
        c("status literal", doc("{apiVersion: v1, kind: App, status: {url: http://x}}", &ok_res), "status", "status field `url` must be a ${...} expression", "spec.schema.status.url"),
        c("status reads nothing", doc("{apiVersion: v1, kind: App, status: {x: '${1 + 1}'}}", &ok_res), "status", "refers to no resource and not to the schema", "spec.schema.status.x"),
        c("status unknown identifier", doc("{apiVersion: v1, kind: App, status: {x: '${deploy.status.readyReplicas}'}}", &ok_res), "unknown-identifier", "unknown identifier `deploy`", "spec.schema.status.x"),
        c("replicas wrong literal type", doc(SCHEMA, &res("d", &tpl(&deploy(&good_spec.replace("selector:", "replicas: two, selector:"))))), "kubernetes-schema", "expected integer, got string \"two\"", "spec.resources[0].template.spec.replicas"),
        c("unknown template field", doc(SCHEMA, &res("d", &tpl(&deploy(&good_spec.replace("selector:", "replicaz: 2, selector:"))))), "kubernetes-schema", "unknown field `replicaz` (did you mean `replicas`?)", "spec.resources[0].template.spec.replicaz"),
        c("template string in integer", doc(SCHEMA, &res("d", &tpl(&deploy(&good_spec.replace("selector:", "replicas: '${schema.spec.count}0', selector:"))))), "kubernetes-schema", "a string template always gives a string, but this field expects integer", "spec.resources[0].template.spec.replicas"),
        c("image not a string", doc(SCHEMA, &res("d", &tpl(&deploy(&good_spec.replace("image: nginx", "image: 1"))))), "kubernetes-schema", "expected string, got integer 1", "spec.resources[0].template.spec.template.spec.containers[0].image"),
        c("unknown built-in kind", doc(SCHEMA, &res("d", &tpl("{apiVersion: apps/v1, kind: Deploymnt, metadata: {name: d}}"))), "kind", "`Deploymnt` is not a kind of apps/v1", "spec.resources[0].template.kind"),
        c("namespace on cluster-scoped", doc(SCHEMA, &res("ns", &tpl("{apiVersion: v1, kind: Namespace, metadata: {name: x, namespace: y}}"))), "namespace", "Namespace is cluster-scoped", "spec.resources[0].template.metadata.namespace"),
        c("externalRef without name", doc(SCHEMA, &res("cm", "      externalRef: {apiVersion: v1, kind: ConfigMap, metadata: {namespace: x}}\n")), "external-ref", "exactly one of name or selector", "spec.resources[0].externalRef.metadata"),
        c("standalone of the wrong type", doc(SCHEMA, &res("d", &tpl(&deploy(&good_spec.replace("selector:", "replicas: '${schema.spec.name}', selector:"))))), "cel-type", "${schema.spec.name} gives string, but this field expects int", "spec.resources[0].template.spec.replicas"),
        c("int plus string", doc(SCHEMA, &format!("{}{}", res("d", &tpl(&deploy(good_spec))), res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {a: '${string(d.spec.replicas + \"x\")}'}}")))), "cel-type", "no matching overload for '+' applied to (int, string)", "spec.resources[1].template.data.a"),
        c("comparing int with string", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {a: '${schema.spec.count > \"3\" ? \"y\" : \"n\"}'}}"))), "cel-type", "no matching overload for '>' applied to (int, string)", "spec.resources[0].template.data.a"),
        c("non-bool condition", doc(SCHEMA, &res("cm", &format!("{}      includeWhen: ['${{schema.spec.name ? true : false}}']\n", tpl(CM)))), "cel-type", "a condition must be bool, got string", "spec.resources[0].includeWhen[0]"),
        c("forEach iterator not in name", doc(SCHEMA, &res("cm", &format!("{}      forEach: [{{i: '${{[1, 2]}}'}}]\n", tpl(CM)))), "foreach", "iterator `i` is not used in metadata.name", "spec.resources[0].template.metadata.name"),
        c("function KRO does not have", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {a: '${string(sets.contains([1], [1]))}'}}"))), "cel-type", "sets.contains is not in KRO v0.9.3's CEL environment", "spec.resources[0].template.data.a"),
        c("unknown function", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x}, data: {a: '${schema.spec.name.frobnicate()}'}}"))), "cel-function", "unsupported CEL function frobnicate", "spec.resources[0].template.data.a"),
        c("delete policy keep", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x, annotations: {kroxide.dev/delete-policy: keep}}}"))), "delete-policy", "resource `cm`: annotation `kroxide.dev/delete-policy` is `keep`; the allowed values are `retain` (keep the object on delete and prune) and `delete`", "spec.resources[0].template.metadata.annotations[\"kroxide.dev/delete-policy\"]"),
        c("delete policy expression", doc(SCHEMA, &res("cm", &tpl("{apiVersion: v1, kind: ConfigMap, metadata: {name: x, annotations: {kroxide.dev/delete-policy: '${schema.spec.name}'}}}"))), "delete-policy", "the allowed values are `retain`", "spec.resources[0].template.metadata.annotations[\"kroxide.dev/delete-policy\"]"),
        c("rgd without name", doc(SCHEMA, &ok_res).replace("  name: bad\n", "  labels: {a: b}\n"), "name", "metadata.name is required", "metadata.name"),
    ]
}

#[test]
fn each_invalid_rgd_is_reported_with_message_and_location() {
    let cases = cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let docs = match load_str("bad.yaml", &case.yaml) {
            Ok(d) => d,
            Err(e) => {
                failures.push(format!("{}: did not load: {e}\n{}", case.name, case.yaml));
                continue;
            }
        };
        let d = &docs[0];
        let v = validate(&d.rgd);
        let hit = v
            .errors()
            .find(|e| e.rule == case.rule && e.message.contains(case.message));
        match hit {
            None => failures.push(format!(
                "{}: no `{}` error containing {:?}; got:\n  {}",
                case.name,
                case.rule,
                case.message,
                v.errors()
                    .map(|e| format!("[{}] {} @ {}", e.rule, e.message, e.path))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            )),
            Some(e) => {
                if e.path.to_string() != case.path {
                    failures.push(format!(
                        "{}: path {} != expected {}",
                        case.name, e.path, case.path
                    ));
                }
                // The path points at a real line of the file.
                let loc = d.source.locate(&e.path);
                match loc {
                    Some(l) if l.line >= 1 => {}
                    _ => failures.push(format!("{}: no source location for {}", case.name, e.path)),
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Expressions a real KRO v0.9.3 accepts (RGD Active on the kit) that the
/// type checker must not reject: `has()` is a bool, whatever the field's type.
#[test]
fn expressions_kro_accepts_are_not_type_errors() {
    let schema = "{apiVersion: v1alpha1, kind: App, spec: {note: string, count: integer}}";
    for expr in [
        "${has(schema.spec.note) ? schema.spec.note : svc.spec.clusterIP}",
        "${has(schema.spec.count) && schema.spec.count > 1 ? 'many' : 'few'}",
        "${!has(svc.spec.clusterIP) ? '' : svc.spec.clusterIP}",
    ] {
        let yaml = doc(
            schema,
            &format!(
                "{}{}",
                res("svc", &tpl("{apiVersion: v1, kind: Service, metadata: {name: s}, spec: {ports: [{port: 80}]}}")),
                res("cm", &tpl(&format!("{{apiVersion: v1, kind: ConfigMap, metadata: {{name: c}}, data: {{a: \"{expr}\"}}}}")))
            ),
        );
        let docs = load_str("ok.yaml", &yaml).unwrap();
        let v = validate(&docs[0].rgd);
        let errors: Vec<String> = v
            .errors()
            .map(|e| format!("[{}] {}", e.rule, e.message))
            .collect();
        assert!(errors.is_empty(), "{expr}: {errors:?}");
    }
}

/// `retain` and `delete` are the delete policies kroxide knows; Helm's
/// annotation is honoured as Helm has it and not checked.
#[test]
fn the_known_delete_policies_are_valid() {
    for (key, value) in [
        ("kroxide.dev/delete-policy", "retain"),
        ("kroxide.dev/delete-policy", "delete"),
        ("helm.sh/resource-policy", "keep"),
    ] {
        let yaml = doc(
            SCHEMA,
            &res("cm", &tpl(&format!("{{apiVersion: v1, kind: ConfigMap, metadata: {{name: x, annotations: {{{key}: {value}}}}}}}"))),
        );
        let docs = load_str("ok.yaml", &yaml).unwrap();
        let v = validate(&docs[0].rgd);
        let errors: Vec<String> = v.errors().map(|e| e.message.clone()).collect();
        assert!(errors.is_empty(), "{key}: {value}: {errors:?}");
    }
}
