//! The HTTP side: routing Kubernetes API paths to the store.

use crate::apply::{self, owners_of, update_owners, write_owners};
use crate::store::{Event, Store};
use crate::types::{ResourceType, Types};
use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use kroxide_semantics::openapi::{validate, Definitions, Options, UnknownFields};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) use crate::response::{full, json_response, status_error, Body};

/// One request as the server saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedRequest {
    pub verb: String,
    pub path: String,
    pub status: u16,
    pub field_manager: Option<String>,
    pub dry_run: bool,
    /// Milliseconds since the server started.
    pub at_ms: u128,
}

impl LoggedRequest {
    /// Whether this request could have changed something.
    pub fn is_write(&self) -> bool {
        !self.dry_run && matches!(self.verb.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
    }
}

/// Shared server state.
pub struct State {
    pub store: Mutex<Store>,
    pub types: RwLock<Types>,
    pub log: Mutex<Vec<LoggedRequest>>,
    pub started: std::time::Instant,
    pub controllers: Mutex<crate::controllers::ControllerConfig>,
    pub faults: Mutex<Vec<crate::faults::Fault>>,
    /// Bumped to end every open watch (a dropped connection or a restart).
    pub watch_epoch: std::sync::atomic::AtomicU64,
}

impl State {
    pub fn new() -> Self {
        State {
            store: Mutex::new(Store::new(1000)),
            types: RwLock::new(Types::builtin()),
            log: Mutex::new(Vec::new()),
            started: std::time::Instant::now(),
            controllers: Mutex::new(Default::default()),
            faults: Mutex::new(Vec::new()),
            watch_epoch: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Writes `status` into a stored object as a controller would (a new
    /// resourceVersion, a MODIFIED event), if it still exists.
    pub fn write_status(&self, key: &crate::store::ObjectKey, status: Value) -> bool {
        let mut store = self.store.lock().expect("store lock");
        let Some(mut obj) = store.objects.get(key).cloned() else {
            return false;
        };
        obj["status"] = status;
        let rv = store.bump();
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        store.objects.insert(key.clone(), obj.clone());
        store.record("MODIFIED", &key.0, key.1.clone(), obj);
        true
    }
}

impl Default for State {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let days = secs / 86400;
    let (h, m, s) = ((secs % 86400) / 3600, (secs % 3600) / 60, secs % 60);
    // Civil date from days since epoch (Howard Hinnant's algorithm).
    let z = days as i64 + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if mo <= 2 { y + 1 } else { y };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

fn uid(n: u64) -> String {
    let a = u64::from_be_bytes(kroxide_semantics::cel::library::fnv64a(
        format!("uid-{n}").as_bytes(),
    ));
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        n & 0xfff,
        n
    )
}

/// A parsed API path.
#[derive(Debug)]
struct Target {
    group: String,
    version: String,
    namespace: Option<String>,
    plural: String,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_target(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        r => (None, r),
    };
    let (plural, name, sub) = match rest {
        [p] => (p.to_string(), None, None),
        [p, n] => (p.to_string(), Some(n.to_string()), None),
        [p, n, s] => (p.to_string(), Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    Some(Target {
        group,
        version,
        namespace,
        plural,
        name,
        subresource: sub,
    })
}

fn query(uri: &hyper::Uri) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k), decode(v));
    }
    out
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                if let Ok(x) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(x);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Handles one request.
pub async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let q = query(req.uri());
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let fault = crate::faults::take(&state.faults, method.as_str(), &path);
    let resp = match fault {
        Some(crate::faults::FaultKind::Latency(d)) => {
            tokio::time::sleep(d).await;
            route(&state, &method, &path, &q, &content_type, &body).await
        }
        Some(f) => crate::faults::respond(f).await,
        None => route(&state, &method, &path, &q, &content_type, &body).await,
    };
    let entry = LoggedRequest {
        verb: method.to_string(),
        path: path.clone(),
        status: resp.status().as_u16(),
        field_manager: q.get("fieldManager").cloned(),
        dry_run: q.get("dryRun").is_some_and(|d| d == "All"),
        at_ms: state.started.elapsed().as_millis(),
    };
    if let Ok(mut l) = state.log.lock() {
        l.push(entry);
    }
    Ok(resp)
}

async fn route(
    state: &Arc<State>,
    method: &Method,
    path: &str,
    q: &BTreeMap<String, String>,
    ct: &str,
    body: &Bytes,
) -> Response<Body> {
    match path.trim_end_matches('/') {
        "/version" => {
            return json_response(
                StatusCode::OK,
                &json!({"major": "1", "minor": "36", "gitVersion": "v1.36.0-kroxide-testserver", "platform": "linux/amd64"}),
            )
        }
        "/healthz" | "/readyz" | "/livez" => return Response::new(full("ok")),
        "/openapi/v3" => return openapi_root(state),
        "/api" => {
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}),
            )
        }
        "/apis" => {
            let types = state.types.read().expect("types lock");
            let groups: Vec<Value> = types
                .groups()
                .into_iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            return json_response(
                StatusCode::OK,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            );
        }
        _ => {}
    }
    if let Some(gv) = path.strip_prefix("/openapi/v3/") {
        return openapi_gv(state, gv.trim_end_matches('/'));
    }
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    // Discovery of one group version.
    let gv = match segs.as_slice() {
        ["api", v] => Some((String::new(), v.to_string())),
        ["apis", g, v] => Some((g.to_string(), v.to_string())),
        _ => None,
    };
    if let Some((g, v)) = gv {
        let types = state.types.read().expect("types lock");
        let mut resources: Vec<Value> = types
            .types
            .iter()
            .filter(|t| t.group == g && t.version == v)
            .map(ResourceType::resource_json)
            .collect();
        if resources.is_empty() {
            return status_error(
                404,
                "NotFound",
                &format!("the server could not find the requested resource ({path})"),
                json!({}),
            );
        }
        let status_res: Vec<Value> = types
            .types
            .iter()
            .filter(|t| t.group == g && t.version == v && t.status_subresource)
            .map(|t| json!({"name": format!("{}/status", t.plural), "singularName": "", "namespaced": t.namespaced, "kind": t.kind, "verbs": ["get", "patch", "update"]}))
            .collect();
        resources.extend(status_res);
        let group_version = if g.is_empty() {
            v.clone()
        } else {
            format!("{g}/{v}")
        };
        return json_response(
            StatusCode::OK,
            &json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}),
        );
    }
    let Some(t) = parse_target(path) else {
        return status_error(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
            json!({}),
        );
    };
    let rt = {
        let types = state.types.read().expect("types lock");
        types.find(&t.group, &t.version, &t.plural).cloned()
    };
    let Some(rt) = rt else {
        return status_error(
            404,
            "NotFound",
            &format!(
                "the server could not find the requested resource ({} {}/{})",
                t.plural, t.group, t.version
            ),
            json!({}),
        );
    };
    if rt.namespaced != t.namespace.is_some() && t.name.is_some() {
        return status_error(
            404,
            "NotFound",
            &format!(
                "{} is {}namespaced",
                rt.plural,
                if rt.namespaced { "" } else { "not " }
            ),
            json!({}),
        );
    }
    match (method.clone(), &t.name, t.subresource.as_deref()) {
        (Method::GET, None, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
            watch(state, &rt, t.namespace.as_deref(), q)
        }
        (Method::GET, None, None) => list(state, &rt, t.namespace.as_deref(), q),
        (Method::GET, Some(n), sub) if sub.is_none() || sub == Some("status") => {
            get(state, &rt, t.namespace.as_deref(), n)
        }
        (Method::POST, None, None) => match parse_body(body, ct) {
            Ok(obj) => write(
                state,
                &rt,
                t.namespace.as_deref(),
                None,
                Write::Create(obj),
                q,
            ),
            Err(e) => e,
        },
        (Method::PUT, Some(n), sub) => match parse_body(body, ct) {
            Ok(obj) => write(
                state,
                &rt,
                t.namespace.as_deref(),
                Some(n),
                Write::Replace(obj, sub == Some("status")),
                q,
            ),
            Err(e) => e,
        },
        (Method::PATCH, Some(n), sub) => {
            let status = sub == Some("status");
            if ct.starts_with("application/apply-patch") {
                match parse_body(body, "yaml") {
                    Ok(obj) => write(
                        state,
                        &rt,
                        t.namespace.as_deref(),
                        Some(n),
                        Write::Apply(obj, status),
                        q,
                    ),
                    Err(e) => e,
                }
            } else {
                // JSON patch, or JSON merge patch (also used for strategic merge patch).
                let json_patch = ct.starts_with("application/json-patch+json");
                match serde_json::from_slice::<Value>(body) {
                    Ok(p) => {
                        let w = if json_patch {
                            Write::JsonPatch(p, status)
                        } else {
                            Write::MergePatch(p, status)
                        };
                        write(state, &rt, t.namespace.as_deref(), Some(n), w, q)
                    }
                    Err(e) => {
                        let what = if json_patch { "JSON" } else { "merge" };
                        status_error(
                            400,
                            "BadRequest",
                            &format!("invalid {what} patch: {e}"),
                            json!({}),
                        )
                    }
                }
            }
        }
        (Method::DELETE, Some(n), None) => delete(state, &rt, t.namespace.as_deref(), n, q),
        _ => status_error(
            405,
            "MethodNotAllowed",
            &format!("{method} is not supported on {path}"),
            json!({}),
        ),
    }
}

/// `/openapi/v3`: the group versions served (kubectl reads it to learn
/// that the server validates fields itself).
fn openapi_root(state: &Arc<State>) -> Response<Body> {
    let types = state.types.read().expect("types lock");
    let mut paths = Map::new();
    for t in &types.types {
        let gv = if t.group.is_empty() {
            format!("api/{}", t.version)
        } else {
            format!("apis/{}/{}", t.group, t.version)
        };
        paths.insert(
            gv.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", types.types.len())}),
        );
    }
    json_response(StatusCode::OK, &json!({"paths": paths}))
}

/// One group version's OpenAPI document: the operations and their
/// parameters (`fieldValidation`, `dryRun`, `fieldManager`), without schemas.
fn openapi_gv(state: &Arc<State>, gv: &str) -> Response<Body> {
    let types = state.types.read().expect("types lock");
    let (group, version) = match gv.split('/').collect::<Vec<_>>().as_slice() {
        ["api", v] => (String::new(), v.to_string()),
        ["apis", g, v] => (g.to_string(), v.to_string()),
        _ => return status_error(404, "NotFound", "no such OpenAPI document", json!({})),
    };
    let params = json!([
        {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        {"name": "force", "in": "query", "schema": {"type": "boolean"}}
    ]);
    let mut paths = Map::new();
    for t in types
        .types
        .iter()
        .filter(|t| t.group == group && t.version == version)
    {
        let gvk = json!({"group": t.group, "version": t.version, "kind": t.kind});
        let base = if t.group.is_empty() {
            format!("/api/{}", t.version)
        } else {
            format!("/apis/{}/{}", t.group, t.version)
        };
        let coll = if t.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", t.plural)
        } else {
            format!("{base}/{}", t.plural)
        };
        let op = |action: &str| json!({"x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk, "parameters": params, "responses": {"200": {"description": "OK"}}});
        paths.insert(coll.clone(), json!({"get": op("list"), "post": op("post")}));
        paths.insert(format!("{coll}/{{name}}"), json!({"get": op("get"), "put": op("put"), "patch": op("patch"), "delete": op("delete")}));
        if t.status_subresource {
            paths.insert(
                format!("{coll}/{{name}}/status"),
                json!({"get": op("get"), "put": op("put"), "patch": op("patch")}),
            );
        }
    }
    json_response(
        StatusCode::OK,
        &json!({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.36.0"}, "paths": paths, "components": {"schemas": {}}}),
    )
}

// The error is the HTTP response itself, returned to hyper as is.
#[allow(clippy::result_large_err)]
fn parse_body(body: &Bytes, ct: &str) -> Result<Value, Response<Body>> {
    let text = std::str::from_utf8(body)
        .map_err(|_| status_error(400, "BadRequest", "body is not UTF-8", json!({})))?;
    // Like the API server's YAML decoding (apimachinery's `yaml.ToJSON`), a
    // YAML body that starts as JSON is decoded as JSON: kube-rs sends apply
    // patches that way, and the YAML loader costs several times more.
    let parsed = if ct.contains("yaml") && !text.trim_start().starts_with('{') {
        kroxide_model::load_documents("request", text)
            .map_err(|e| e.to_string())
            .and_then(|mut d| {
                if d.is_empty() {
                    Err("empty body".into())
                } else {
                    Ok(d.remove(0).0)
                }
            })
    } else {
        serde_json::from_str::<Value>(text).map_err(|e| e.to_string())
    };
    match parsed {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(status_error(
            400,
            "BadRequest",
            "the body must be an object",
            json!({}),
        )),
        Err(e) => Err(status_error(
            400,
            "BadRequest",
            &format!("cannot decode the body: {e}"),
            json!({}),
        )),
    }
}

fn key_of(rt: &ResourceType, ns: Option<&str>, name: &str) -> crate::store::ObjectKey {
    (
        rt.key(),
        if rt.namespaced {
            ns.map(String::from)
        } else {
            None
        },
        name.to_string(),
    )
}

fn get(state: &Arc<State>, rt: &ResourceType, ns: Option<&str>, name: &str) -> Response<Body> {
    let store = state.store.lock().expect("store lock");
    match store.objects.get(&key_of(rt, ns, name)) {
        Some(o) => json_response(StatusCode::OK, o),
        None => not_found(rt, name),
    }
}

/// A Status's details: the API server leaves out the empty (core) group.
fn details(rt: &ResourceType, mut d: Value) -> Value {
    if rt.group.is_empty() {
        if let Some(m) = d.as_object_mut() {
            m.remove("group");
        }
    }
    d
}

fn not_found(rt: &ResourceType, name: &str) -> Response<Body> {
    let gr = if rt.group.is_empty() {
        rt.plural.clone()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    };
    status_error(
        404,
        "NotFound",
        &format!("{gr} \"{name}\" not found"),
        details(
            rt,
            json!({"name": name, "group": rt.group, "kind": rt.plural}),
        ),
    )
}

/// `a=b,c!=d,e,!f` label selectors.
fn matches_labels(obj: &Value, selector: &str) -> bool {
    let labels = obj.pointer("/metadata/labels").and_then(Value::as_object);
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    selector
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .all(|term| {
            let term = term.trim();
            if let Some((k, v)) = term.split_once("!=") {
                get(k.trim()) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                get(k.trim()) == Some(v.trim())
            } else if let Some(k) = term.strip_prefix('!') {
                get(k).is_none()
            } else if let Some((k, set)) = term.split_once(" in ") {
                let vals: Vec<&str> = set
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .split(',')
                    .map(str::trim)
                    .collect();
                get(k.trim()).is_some_and(|v| vals.contains(&v))
            } else {
                get(term).is_some()
            }
        })
}

fn matches_fields(obj: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|term| {
        let (k, v, neg) = match term.split_once("!=") {
            Some((k, v)) => (k, v, true),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((k, v)) => (k, v, false),
                None => return true,
            },
        };
        let ptr = format!("/{}", k.replace('.', "/"));
        let actual = obj.pointer(&ptr).and_then(Value::as_str).unwrap_or("");
        (actual == v) != neg
    })
}

fn selected<'a>(
    store: &'a Store,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &BTreeMap<String, String>,
) -> Vec<&'a Value> {
    let key = rt.key();
    store
        .objects
        .iter()
        .filter(|((k, n, _), _)| *k == key && (ns.is_none() || n.as_deref() == ns))
        .map(|(_, v)| v)
        .filter(|o| q.get("labelSelector").is_none_or(|s| matches_labels(o, s)))
        .filter(|o| q.get("fieldSelector").is_none_or(|s| matches_fields(o, s)))
        .collect()
}

fn list(
    state: &Arc<State>,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &BTreeMap<String, String>,
) -> Response<Body> {
    if let Some(e) = invalid_initial_events(q, false) {
        return e;
    }
    let store = state.store.lock().expect("store lock");
    let items: Vec<Value> = selected(&store, rt, ns, q)
        .into_iter()
        .map(|o| list_item(rt, o))
        .collect();
    let mut metadata = json!({"resourceVersion": store.resource_version.to_string()});
    if rt.custom {
        // The API server's custom resource handler always says it.
        metadata["continue"] = json!("");
    }
    json_response(
        StatusCode::OK,
        &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": metadata, "items": items}),
    )
}

/// An object as a LIST returns it. For built-in kinds the API server leaves
/// `kind` and `apiVersion` out of the items (only the list says them); for
/// custom resources it keeps them. GET and watch events always carry them.
fn list_item(rt: &ResourceType, obj: &Value) -> Value {
    let mut o = obj.clone();
    if !rt.custom {
        if let Some(m) = o.as_object_mut() {
            m.remove("kind");
            m.remove("apiVersion");
        }
    }
    o
}

/// `sendInitialEvents` is for watches only, and with `true` needs
/// The API server's 422 for a Secret whose `data` and `stringData` hold
/// more than 1 MiB together (its `ValidateSecret`).
fn secret_too_long(obj: &Value, name: &str) -> Option<Response<Body>> {
    use base64::Engine as _;
    const LIMIT: usize = 1024 * 1024;
    let data: usize = obj["data"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, v)| {
            let b = v.as_str().unwrap_or("");
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_or(b.len(), |d| d.len())
        })
        .sum();
    let string_data: usize = obj["stringData"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, v)| v.as_str().map_or(0, str::len))
        .sum();
    (data + string_data > LIMIT).then(|| {
        status_error(
            422,
            "Invalid",
            &format!(
                "Secret \"{name}\" is invalid: data: Too long: may not be more than {LIMIT} bytes"
            ),
            json!({"name": name, "kind": "Secret"}),
        )
    })
}

/// `resourceVersionMatch=NotOlderThan` (the API server's 422 otherwise).
fn invalid_initial_events(q: &BTreeMap<String, String>, watch: bool) -> Option<Response<Body>> {
    let send = q.get("sendInitialEvents");
    let (field, message) = if send.is_some() && !watch {
        (
            "sendInitialEvents",
            "sendInitialEvents is forbidden for list",
        )
    } else if send.is_some_and(|s| s == "true")
        && q.get("resourceVersionMatch").map(String::as_str) != Some("NotOlderThan")
    {
        (
            "resourceVersionMatch",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        )
    } else {
        return None;
    };
    Some(status_error(
        422,
        "Invalid",
        &format!("ListOptions.meta.k8s.io \"\" is invalid: {field}: Forbidden: {message}"),
        json!({"group": "meta.k8s.io", "kind": "ListOptions", "causes": [{"reason": "FieldValueForbidden", "message": format!("Forbidden: {message}"), "field": field}]}),
    ))
}

fn watch(
    state: &Arc<State>,
    rt: &ResourceType,
    ns: Option<&str>,
    q: &BTreeMap<String, String>,
) -> Response<Body> {
    if let Some(e) = invalid_initial_events(q, true) {
        return e;
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(256);
    let key = rt.key();
    let ns = ns.map(String::from);
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|b| b == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let label_sel = q.get("labelSelector").cloned();
    let field_sel = q.get("fieldSelector").cloned();
    let api_version = rt.api_version();
    let kind = rt.kind.clone();
    let send_initial = q.get("sendInitialEvents").map(|s| s == "true");
    let (mut sub, initial, synthetic, subscribed_at) = {
        let store = state.store.lock().expect("store lock");
        let sub = store.events.subscribe();
        let rv = q
            .get("resourceVersion")
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0);
        // As the API server: the current objects as synthetic ADDED events
        // when asked for them (`sendInitialEvents=true`, whatever the
        // version, as it only says "not older than"), or by default when
        // no version (or "0") is given; otherwise what happened since.
        let synthetic = match send_initial {
            Some(s) => s,
            None => rv == 0,
        };
        let initial: Result<Vec<Event>, ()> = if synthetic {
            Ok(store
                .objects
                .iter()
                .filter(|((k, n, _), _)| *k == key && (ns.is_none() || n == &ns))
                .map(|(_, o)| Event {
                    resource_version: 0,
                    kind: "ADDED",
                    type_key: key.clone(),
                    namespace: None,
                    object: o.clone(),
                })
                .collect())
        } else if rv == 0 {
            Ok(Vec::new())
        } else {
            store.since(rv, &key, ns.as_deref()).ok_or(())
        };
        (sub, initial, synthetic, store.resource_version)
    };
    // Events up to `subscribed_at` come from `initial`, later ones from
    // the subscription: an event of the subscription is sent unless the
    // replay already did (resumption from an older version).
    let mut last = subscribed_at;
    let keep = move |o: &Value| {
        label_sel.as_deref().is_none_or(|s| matches_labels(o, s))
            && field_sel.as_deref().is_none_or(|s| matches_fields(o, s))
    };
    let line = |t: &str, o: &Value| {
        Ok(Frame::data(Bytes::from(format!(
            "{}\n",
            json!({"type": t, "object": o})
        ))))
    };
    let bookmark = move |rv: u64, initial_end: bool| {
        let mut bm = json!({"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": rv.to_string()}});
        if initial_end {
            bm["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        line("BOOKMARK", &bm)
    };
    let state2 = state.clone();
    let epoch = state.watch_epoch.load(std::sync::atomic::Ordering::SeqCst);
    tokio::spawn(async move {
        match initial {
            Err(()) => {
                let gone = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": "too old resource version", "reason": "Expired", "code": 410});
                let _ = tx.send(line("ERROR", &gone)).await;
                return;
            }
            Ok(events) => {
                for e in events {
                    if keep(&e.object) && tx.send(line(e.kind, &e.object)).await.is_err() {
                        return;
                    }
                }
            }
        }
        // The end of the initial events is marked at once by a bookmark.
        if synthetic && bookmarks && tx.send(bookmark(subscribed_at, true)).await.is_err() {
            return;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let period = Duration::from_millis(500);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        // Every event up to here went by (of any type): a bookmark may say so.
        let mut seen = subscribed_at;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return,
                _ = poll.tick() => {
                    if state2.watch_epoch.load(std::sync::atomic::Ordering::SeqCst) != epoch {
                        return;
                    }
                }
                _ = tick.tick(), if bookmarks => {
                    if tx.send(bookmark(seen, false)).await.is_err() {
                        return;
                    }
                }
                r = sub.recv() => match r {
                    Ok(e) => {
                        seen = seen.max(e.resource_version);
                        if e.type_key != key || e.resource_version <= last || (ns.is_some() && e.namespace != ns) {
                            continue;
                        }
                        last = e.resource_version;
                        if keep(&e.object) && tx.send(line(e.kind, &e.object)).await.is_err() {
                            return;
                        }
                    }
                    // Events were lost: end the watch (the client resumes
                    // from its last version) rather than skip them.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                    Err(_) => return,
                },
            }
        }
    });
    let stream = RxStream(rx);
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("transfer-encoding", "chunked")
        .body(StreamBody::new(stream).boxed())
        .expect("valid response")
}

/// An mpsc receiver as a stream of body frames.
struct RxStream(tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>);

impl futures_core::Stream for RxStream {
    type Item = Result<Frame<Bytes>, Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

pub(crate) enum Write {
    Create(Value),
    Replace(Value, bool),
    Apply(Value, bool),
    MergePatch(Value, bool),
    JsonPatch(Value, bool),
}

fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let t = target.as_object_mut().expect("object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch is a list of operations")?;
    for op in ops {
        let path = op["path"].as_str().ok_or("operation without path")?;
        let (parent_ptr, last) = path.rsplit_once('/').ok_or("bad path")?;
        let last = last.replace("~1", "/").replace("~0", "~");
        match op["op"].as_str().unwrap_or("") {
            "test" => {
                if target.pointer(path) != Some(&op["value"]) {
                    return Err(format!("test failed at {path}"));
                }
            }
            "remove" => {
                let parent = target
                    .pointer_mut(parent_ptr)
                    .ok_or(format!("no such path {path}"))?;
                match parent {
                    Value::Object(m) => {
                        m.remove(&last).ok_or(format!("no such path {path}"))?;
                    }
                    Value::Array(a) => {
                        let i: usize = last.parse().map_err(|_| format!("bad index in {path}"))?;
                        if i >= a.len() {
                            return Err(format!("no such path {path}"));
                        }
                        a.remove(i);
                    }
                    _ => return Err(format!("no such path {path}")),
                }
            }
            o @ ("add" | "replace") => {
                let v = op["value"].clone();
                let parent = target
                    .pointer_mut(parent_ptr)
                    .ok_or(format!("no such path {path}"))?;
                match parent {
                    Value::Object(m) => {
                        if o == "replace" && !m.contains_key(&last) {
                            return Err(format!("no such path {path}"));
                        }
                        m.insert(last, v);
                    }
                    Value::Array(a) => {
                        if last == "-" {
                            a.push(v);
                        } else {
                            let i: usize =
                                last.parse().map_err(|_| format!("bad index in {path}"))?;
                            if o == "replace" {
                                *a.get_mut(i).ok_or(format!("no such path {path}"))? = v;
                            } else if i <= a.len() {
                                a.insert(i, v);
                            } else {
                                return Err(format!("no such path {path}"));
                            }
                        }
                    }
                    _ => return Err(format!("no such path {path}")),
                }
            }
            other => return Err(format!("unsupported JSON patch op {other:?}")),
        }
    }
    Ok(())
}

fn spec_part(o: &Value) -> Value {
    let mut v = o.clone();
    if let Value::Object(m) = &mut v {
        m.remove("metadata");
        m.remove("status");
    }
    v
}

pub(crate) fn write(
    state: &Arc<State>,
    rt: &ResourceType,
    ns: Option<&str>,
    name: Option<&str>,
    w: Write,
    q: &BTreeMap<String, String>,
) -> Response<Body> {
    let dry_run = q.get("dryRun").is_some_and(|d| d == "All");
    let manager = q.get("fieldManager").cloned();
    let strict = q.get("fieldValidation").is_some_and(|v| v == "Strict");
    let mut store = state.store.lock().expect("store lock");
    let ns = if rt.namespaced {
        ns.map(String::from)
    } else {
        None
    };
    // The object's name, from the path or the body.
    let body_name = match &w {
        Write::Create(o) | Write::Replace(o, _) | Write::Apply(o, _) => {
            kroxide_model::meta_str(o, "name").map(String::from)
        }
        _ => None,
    };
    let Some(obj_name) = name.map(String::from).or(body_name.clone()) else {
        return status_error(
            422,
            "Invalid",
            &format!(
                "{} \"\" is invalid: metadata.name: Required value: name is required",
                rt.kind
            ),
            json!({"kind": rt.kind}),
        );
    };
    if let (Some(n), Some(b)) = (name, &body_name) {
        if n != b {
            return status_error(
                400,
                "BadRequest",
                &format!("the name of the object ({b}) does not match the name on the URL ({n})"),
                json!({}),
            );
        }
    }
    let key = key_of(rt, ns.as_deref(), &obj_name);
    let live = store.objects.get(&key).cloned();
    // As on a real server, a new object's name must be a DNS subdomain.
    if live.is_none() {
        if let Some(why) = kroxide_semantics::instance::name_problem(&obj_name) {
            return status_error(
                422,
                "Invalid",
                &format!(
                    "{} \"{obj_name}\" is invalid: metadata.name: Invalid value: {why}",
                    rt.kind
                ),
                json!({"name": obj_name, "kind": rt.kind}),
            );
        }
    }
    // As on a real server, a namespaced object needs its namespace to exist.
    if let (Some(n), None) = (&ns, &live) {
        let ns_key = ("v1/namespaces".to_string(), None, n.clone());
        if !store.objects.contains_key(&ns_key) {
            return status_error(
                404,
                "NotFound",
                &format!("namespaces \"{n}\" not found"),
                json!({"name": n, "kind": "namespaces"}),
            );
        }
    }
    let mut operation = "Update";
    let (mut obj, status_only) = match w {
        Write::Create(o) => {
            if live.is_some() {
                let gr = if rt.group.is_empty() {
                    rt.plural.clone()
                } else {
                    format!("{}.{}", rt.plural, rt.group)
                };
                return status_error(
                    409,
                    "AlreadyExists",
                    &format!("{gr} \"{obj_name}\" already exists"),
                    details(
                        rt,
                        json!({"name": obj_name, "group": rt.group, "kind": rt.plural}),
                    ),
                );
            }
            (o, false)
        }
        Write::Replace(o, status) => {
            let Some(l) = &live else {
                return not_found(rt, &obj_name);
            };
            let want = o
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            let have = l
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            if want.is_some() && want != have {
                return status_error(409, "Conflict", &format!("Operation cannot be fulfilled on {} \"{obj_name}\": the object has been modified; please apply your changes to the latest version and try again", rt.plural), json!({"name": obj_name, "kind": rt.plural}));
            }
            (o, status)
        }
        Write::MergePatch(p, status) => {
            let Some(l) = &live else {
                return not_found(rt, &obj_name);
            };
            // A resourceVersion in the patch is a precondition, as the API server has it.
            let want = p
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            let have = l
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str);
            if want.is_some() && want != have {
                return status_error(409, "Conflict", &format!("Operation cannot be fulfilled on {} \"{obj_name}\": the object has been modified; please apply your changes to the latest version and try again", rt.plural), json!({"name": obj_name, "kind": rt.plural}));
            }
            let mut o = l.clone();
            merge_patch(&mut o, &p);
            (o, status)
        }
        Write::JsonPatch(p, status) => {
            let Some(l) = &live else {
                return not_found(rt, &obj_name);
            };
            let mut o = l.clone();
            if let Err(e) = json_patch(&mut o, &p) {
                return status_error(
                    422,
                    "Invalid",
                    &format!("the JSON patch could not be applied: {e}"),
                    json!({}),
                );
            }
            (o, status)
        }
        Write::Apply(cfg, status) => {
            let Some(m) = manager.clone() else {
                return status_error(400, "BadRequest", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch", json!({}));
            };
            operation = "Apply";
            let force = q.get("force").is_some_and(|f| f == "true");
            let mut cfg = cfg;
            if cfg.get("apiVersion").is_none() || cfg.get("kind").is_none() {
                return status_error(
                    400,
                    "BadRequest",
                    "apply patches need apiVersion and kind",
                    json!({}),
                );
            }
            // The main endpoint ignores status, the status endpoint everything else.
            if rt.status_subresource {
                let m = cfg.as_object_mut().expect("object");
                if status {
                    m.retain(|k, _| {
                        matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status")
                    });
                } else {
                    m.remove("status");
                }
            }
            match apply::apply(live.as_ref(), &cfg, &m, force) {
                Ok((o, owners)) => {
                    let mut o = o;
                    let ops: BTreeMap<String, &'static str> =
                        owners_of(live.as_ref().unwrap_or(&json!({})))
                            .keys()
                            .map(|k| (k.clone(), "Update"))
                            .chain(std::iter::once((m.clone(), "Apply")))
                            .collect();
                    write_owners(&mut o, &owners, &ops, &now_rfc3339());
                    (o, status)
                }
                Err(conflicts) => {
                    let causes: Vec<Value> = conflicts.iter().map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{}\"", c.manager), "field": format!(".{}", c.field)})).collect();
                    let msg = format!(
                        "Apply failed with {} conflict{}: {}",
                        conflicts.len(),
                        if conflicts.len() == 1 { "" } else { "s" },
                        conflicts
                            .iter()
                            .map(|c| format!("conflict with \"{}\": .{}", c.manager, c.field))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                    return status_error(409, "Conflict", &msg, json!({"causes": causes}));
                }
            }
        }
    };
    // Identity.
    if let Some(av) = obj.get("apiVersion").and_then(Value::as_str) {
        if av != rt.api_version() {
            return status_error(400, "BadRequest", &format!("the API version in the data ({av}) does not match the expected API version ({})", rt.api_version()), json!({}));
        }
    }
    obj["apiVersion"] = json!(rt.api_version());
    obj["kind"] = json!(rt.kind);
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["name"] = json!(obj_name);
    match &ns {
        Some(n) => obj["metadata"]["namespace"] = json!(n),
        None => {
            if let Some(m) = obj["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        }
    }
    // Spec and status are separate when the type has a status subresource.
    if rt.status_subresource {
        if let Some(l) = &live {
            if status_only {
                let status = obj.get("status").cloned();
                let mut o = l.clone();
                match status {
                    Some(s) => o["status"] = s,
                    None => {
                        o.as_object_mut().expect("object").remove("status");
                    }
                }
                if operation == "Apply" {
                    o["metadata"]["managedFields"] = obj["metadata"]["managedFields"].clone();
                }
                obj = o;
            } else {
                match l.get("status") {
                    Some(s) => obj["status"] = s.clone(),
                    None => {
                        obj.as_object_mut().expect("object").remove("status");
                    }
                }
            }
        } else if !status_only {
            obj.as_object_mut().expect("object").remove("status");
        }
    }
    // As on a real server, a Secret's data (decoded) hold at most 1 MiB.
    if rt.group.is_empty() && rt.kind == "Secret" {
        if let Some(e) = secret_too_long(&obj, &obj_name) {
            return e;
        }
    }
    // Server defaults, then validation against the schema.
    if !rt.custom {
        kroxide_semantics::defaults::apply(&mut obj);
    }
    if let Some(schema) = &rt.schema {
        let types = state.types.read().expect("types lock");
        let defs: &Definitions = if rt.custom {
            &EMPTY_DEFS
        } else {
            types.builtin_defs
        };
        let opts = Options {
            unknown_fields: if strict {
                UnknownFields::Reject
            } else {
                UnknownFields::Prune
            },
            apply_defaults: rt.custom,
            expressions: false,
            cel_rules: rt.custom,
        };
        let mut checked = obj.clone();
        // Server-managed metadata is not the client's to validate.
        if let Some(m) = checked["metadata"].as_object_mut() {
            m.remove("managedFields");
        }
        // A CRD schema need not declare apiVersion, kind and metadata: the
        // API server always accepts them at the root.
        let implicit = if rt.custom {
            let m = checked.as_object_mut().expect("object");
            ["apiVersion", "kind", "metadata"].map(|k| (k, m.remove(k)))
        } else {
            [("apiVersion", None), ("kind", None), ("metadata", None)]
        };
        let errs = validate(&mut checked, schema, defs, opts);
        for (k, v) in implicit {
            if let Some(v) = v {
                checked[k] = v;
            }
        }
        let errs: Vec<_> = errs
            .into_iter()
            .filter(|e| !e.path.to_string().starts_with("metadata"))
            .collect();
        if !errs.is_empty() {
            let causes: Vec<Value> = errs.iter().map(|e| json!({"reason": "FieldValueInvalid", "message": e.message, "field": e.path.to_string()})).collect();
            let msg = format!(
                "{} \"{obj_name}\" is invalid: {}",
                rt.kind,
                errs.iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return status_error(
                422,
                "Invalid",
                &msg,
                details(
                    rt,
                    json!({"name": obj_name, "group": rt.group, "kind": rt.kind, "causes": causes}),
                ),
            );
        }
        let managed = obj["metadata"].get("managedFields").cloned();
        obj = checked;
        if let Some(m) = managed {
            obj["metadata"]["managedFields"] = m;
        }
    }
    // Server-set metadata.
    let unchanged = live.as_ref().is_some_and(|l| {
        let mut a = l.clone();
        let mut b = obj.clone();
        for x in [&mut a, &mut b] {
            if let Some(m) = x["metadata"].as_object_mut() {
                for k in [
                    "resourceVersion",
                    "managedFields",
                    "generation",
                    "uid",
                    "creationTimestamp",
                ] {
                    m.remove(k);
                }
            }
        }
        a == b && owners_of(l) == owners_of(&obj)
    });
    if unchanged {
        // A no-op write changes nothing, not even the resourceVersion.
        return json_response(StatusCode::OK, live.as_ref().expect("live"));
    }
    if operation != "Apply" {
        if let Some(m) = &manager {
            let owners = update_owners(live.as_ref(), &obj, m);
            let ops: BTreeMap<String, &'static str> =
                owners.keys().map(|k| (k.clone(), "Update")).collect();
            write_owners(&mut obj, &owners, &ops, &now_rfc3339());
        } else if let Some(l) = &live {
            if obj["metadata"].get("managedFields").is_none() {
                if let Some(mf) = l.pointer("/metadata/managedFields") {
                    obj["metadata"]["managedFields"] = mf.clone();
                }
            }
        }
    }
    let tracks_generation = tracks_generation(state, rt);
    let generation = match &live {
        _ if !tracks_generation => 0,
        None => 1,
        Some(l) => {
            let g = l
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            if spec_part(l) != spec_part(&obj) {
                g + 1
            } else {
                g
            }
        }
    };
    if live.is_none() && !rt.custom {
        crate::controllers::on_create(&mut obj, store.resource_version);
    }
    let (uid_v, created) = match &live {
        Some(l) => (
            l["metadata"]["uid"].clone(),
            l["metadata"]["creationTimestamp"].clone(),
        ),
        None => (json!(uid(store.resource_version + 1)), json!(now_rfc3339())),
    };
    obj["metadata"]["uid"] = uid_v;
    obj["metadata"]["creationTimestamp"] = created;
    if tracks_generation {
        obj["metadata"]["generation"] = json!(generation);
    }
    let is_crd = rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io";
    if is_crd && !dry_run {
        obj["status"] = json!({
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now_rfc3339()}
            ],
            "acceptedNames": obj["spec"]["names"].clone(),
            "storedVersions": obj["spec"]["versions"].as_array().map(|v| v.iter().filter(|x| x["storage"] == true).map(|x| x["name"].clone()).collect::<Vec<_>>()).unwrap_or_default(),
        });
    }
    if dry_run {
        obj["metadata"]["resourceVersion"] = live
            .as_ref()
            .map(|l| l["metadata"]["resourceVersion"].clone())
            .unwrap_or(json!(""));
        let code = if live.is_none() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        return json_response(code, &obj);
    }
    // The garbage collector removes objects whose owners are all gone.
    if let Some(Value::Array(refs)) = obj.pointer("/metadata/ownerReferences") {
        let uids: Vec<&Value> = refs.iter().filter_map(|r| r.get("uid")).collect();
        let owner_alive = uids.is_empty()
            || store.objects.values().any(|o| {
                o.pointer("/metadata/uid")
                    .is_some_and(|u| uids.contains(&u))
            });
        if !owner_alive {
            return status_error(
                404,
                "NotFound",
                &format!(
                    "the owner of {} \"{obj_name}\" no longer exists; it was garbage collected",
                    rt.kind
                ),
                json!({"name": obj_name}),
            );
        }
    }
    let rv = store.bump();
    obj["metadata"]["resourceVersion"] = json!(rv.to_string());
    store.objects.insert(key.clone(), obj.clone());
    store.record(
        if live.is_none() { "ADDED" } else { "MODIFIED" },
        &rt.key(),
        ns.clone(),
        obj.clone(),
    );
    drop(store);
    if is_crd {
        state.types.write().expect("types lock").register_crd(&obj);
    }
    json_response(
        if live.is_none() {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        &obj,
    )
}

/// Whether the API server keeps `metadata.generation` for a type: custom
/// resources do; built-in kinds mostly when they have a spec (ConfigMaps do
/// not), with the exceptions of the API server's registry strategies.
fn tracks_generation(state: &Arc<State>, rt: &ResourceType) -> bool {
    if rt.custom {
        return true;
    }
    let is = |group: &str, kinds: &[&str]| rt.group == group && kinds.contains(&rt.kind.as_str());
    // A spec, but no generation (checked against a 1.36 API server).
    if is(
        "",
        &[
            "Service",
            "PersistentVolumeClaim",
            "PersistentVolume",
            "Namespace",
            "Node",
            "ResourceQuota",
            "LimitRange",
        ],
    ) || is("autoscaling", &["HorizontalPodAutoscaler"])
        || is("coordination.k8s.io", &["Lease"])
    {
        return false;
    }
    // No spec, but a generation.
    if is(
        "admissionregistration.k8s.io",
        &[
            "ValidatingWebhookConfiguration",
            "MutatingWebhookConfiguration",
        ],
    ) || is("scheduling.k8s.io", &["PriorityClass"])
    {
        return true;
    }
    rt.schema.as_ref().is_some_and(|sc| {
        let types = state.types.read().expect("types lock");
        types
            .builtin_defs
            .resolve(sc)
            .properties
            .as_ref()
            .is_some_and(|p| p.contains_key("spec"))
    })
}

static EMPTY_DEFS: std::sync::LazyLock<Definitions> =
    std::sync::LazyLock::new(Definitions::default);

pub(crate) fn delete(
    state: &Arc<State>,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    q: &BTreeMap<String, String>,
) -> Response<Body> {
    let dry_run = q.get("dryRun").is_some_and(|d| d == "All");
    let mut store = state.store.lock().expect("store lock");
    let key = key_of(rt, ns, name);
    let Some(obj) = store.objects.get(&key).cloned() else {
        return not_found(rt, name);
    };
    if dry_run {
        return json_response(StatusCode::OK, &obj);
    }
    store.objects.remove(&key);
    let rv = store.bump();
    let mut gone = obj.clone();
    gone["metadata"]["resourceVersion"] = json!(rv.to_string());
    store.record("DELETED", &rt.key(), key.1.clone(), gone.clone());
    // Children owned by the deleted object go too (background cascade).
    let uid_v = obj.pointer("/metadata/uid").cloned();
    let mut orphans = Vec::new();
    if let Some(u) = &uid_v {
        for (k, o) in &store.objects {
            let owned = o
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| r.get("uid") == Some(u)));
            if owned {
                orphans.push(k.clone());
            }
        }
    }
    for k in orphans {
        if let Some(o) = store.objects.remove(&k) {
            let rv = store.bump();
            let mut o = o;
            o["metadata"]["resourceVersion"] = json!(rv.to_string());
            store.record("DELETED", &k.0, k.1.clone(), o);
        }
    }
    drop(store);
    if rt.kind == "CustomResourceDefinition" {
        state
            .types
            .write()
            .expect("types lock")
            .unregister_crd(&obj);
    }
    json_response(
        StatusCode::OK,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details(rt, json!({"name": name, "group": rt.group, "kind": rt.plural, "uid": uid_v}))}),
    )
}
