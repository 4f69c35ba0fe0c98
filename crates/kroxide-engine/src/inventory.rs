//! The inventory: what one instance of a graph owns in the cluster.
//!
//! Like Helm's release Secrets and kubectl's ApplySet parent, each instance
//! has one object in its namespace listing every object kroxide applied for
//! it, so `status`, `delete` and pruning work from any process, later. It is a
//! Secret (type `kroxide.dev/inventory`) because it also keeps the instance's
//! spec, which may hold values bound for Secrets.
//!
//! It is also the lock that keeps two runs from deploying the same instance
//! at once: a run writes its holder id and an expiry into it with an
//! optimistic-concurrency update (resourceVersion precondition), and clears
//! them when done. A lock past its expiry (the holder died) is taken over.
//!
//! The entry is JSON compressed with zlib (as Helm gzips its releases): a
//! Secret holds at most 1 MiB, and the plain JSON of 10,000 objects is
//! about 2 MiB. Inventories written as plain JSON by earlier versions are
//! still read.

use crate::retry::retry;
use crate::{DeployError, GRAPH_LABEL, INSTANCE_LABEL};
use base64::Engine as _;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::{DynamicObject, ObjectMeta};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Label marking inventory Secrets (value: the format version).
pub const INVENTORY_LABEL: &str = "kroxide.dev/inventory";
/// The Secret `type` of inventories.
pub const INVENTORY_TYPE: &str = "kroxide.dev/inventory";
const DATA_KEY: &str = "inventory";
/// The API server refuses a Secret whose data (decoded) exceed 1 MiB.
const SECRET_LIMIT: usize = 1024 * 1024;
/// The most an inventory may inflate to when read (a damaged or hostile
/// entry cannot make a run allocate more).
const INFLATED_LIMIT: usize = 256 * 1024 * 1024;

/// The bytes stored for `inv`: its JSON, zlib-compressed.
pub fn encode(inv: &Inventory) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(inv)?;
    Ok(miniz_oxide::deflate::compress_to_vec_zlib(&json, 6))
}

/// The inventory in `bytes`: zlib-compressed JSON, or the plain JSON that
/// kroxide wrote before it compressed (it starts with `{`).
pub fn decode(bytes: &[u8]) -> Option<Inventory> {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice(bytes).ok();
    }
    let json =
        miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(bytes, INFLATED_LIMIT).ok()?;
    serde_json::from_slice(&json).ok()
}

/// The bytes stored for `inv` ([`encode`]), within a Secret's 1 MiB if
/// dropping old revisions' graphs can make it so: the oldest go first, as
/// the objects must stay listed. Still too big: the smallest it can be.
pub(crate) fn fit(inv: &mut Inventory) -> Result<Vec<u8>, serde_json::Error> {
    loop {
        let text = encode(inv)?;
        if text.len() <= SECRET_LIMIT || !inv.drop_oldest_graph() {
            return Ok(text);
        }
    }
}

/// One object kroxide applied for an instance.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// Apply wave (0-based): `delete` goes from the last wave to the first.
    pub wave: usize,
    /// Resource id in the graph.
    pub id: String,
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    /// The same object, whatever wave or id it was applied as.
    pub fn key(&self) -> (String, String, Option<String>, String) {
        (
            self.api_version.clone(),
            self.kind.clone(),
            self.namespace.clone(),
            self.name.clone(),
        )
    }

    /// The key of this object in [`Inventory::applied`].
    pub fn applied_key(&self) -> String {
        format!("{} {}", self.api_version, self.display())
    }

    /// `Kind/name` (with the namespace when it has one), for messages.
    pub fn display(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{} in {ns}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// Who holds the deploy lock of an instance, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lock {
    pub holder: String,
    /// Seconds since the Unix epoch.
    pub expires: u64,
}

/// What an instance owns.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// The graph (RGD name).
    pub graph: String,
    /// The instance as last deployed: apiVersion, kind, metadata.name and
    /// namespace, spec.
    pub instance: Value,
    /// Every object applied for it (a superset while a deploy runs).
    pub objects: BTreeSet<ObjectRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock: Option<Lock>,
    /// For each object (by [`ObjectRef::applied_key`]), the digest of what
    /// kroxide last applied to it and of the fields that apply owned then
    /// (see [`applied_digest`]): a redeploy skips an object whose live state
    /// still gives the same digest. Older inventories have none: everything
    /// is applied, as before.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applied: BTreeMap<String, String>,
    /// The last deploys, oldest first (see [`crate::history`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<crate::history::Revision>,
    /// The graphs those revisions deployed, by digest: base64 of the
    /// zlib-compressed RGD JSON.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub graphs: BTreeMap<String, String>,
    /// The Secret's resourceVersion when read.
    #[serde(skip)]
    pub resource_version: Option<String>,
}

/// The digest of `manifest` as kroxide applied it to `live` (a whole object,
/// or its metadata only): the manifest, and the fields kroxide's apply owns
/// in `live`'s managedFields. None when kroxide's apply owns nothing there.
///
/// Another manager that changes a field kroxide set takes that field over
/// (the API server moves it out of kroxide's managedFields entry), so the
/// digest changes with any such drift; controllers' status writes and fields
/// kroxide never set leave it alone. The same manifest and the same digest
/// mean that applying again would change nothing. The fields may be given
/// as their JSON text (a `fieldsV1` that is a string; the API server's is
/// always a map): the digest is the same.
pub fn applied_digest(manifest: &Value, live: &Value) -> Option<String> {
    use std::hash::{Hash, Hasher};
    let fields = live
        .pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|m| crate::unchanged::is_apply_of(m, crate::FIELD_MANAGER))?
        .get("fieldsV1")?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(manifest).ok()?.hash(&mut h);
    match fields {
        Value::String(text) => text.hash(&mut h),
        tree => serde_json::to_string(tree).ok()?.hash(&mut h),
    }
    Some(format!("{:016x}", h.finish()))
}

/// `instance` (a whole object) with a `metadata.uid` when it has none: the one an earlier
/// deploy recorded in `old`, else a new one (None: it has its own). A KRO
/// instance has the uid the API server gave it, and expressions read it
/// (`random.seededString(n, schema.metadata.uid)`): a direct deploy keeps
/// one per instance, so such values stay the same from deploy to deploy.
pub(crate) fn with_uid(instance: &Value, old: Option<&Inventory>) -> Option<Value> {
    if instance.pointer("/metadata/uid").is_some() {
        return None;
    }
    let uid = old
        .and_then(|i| i.instance.pointer("/metadata/uid"))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            kroxide_semantics::readiness::synthetic_uid(&format!(
                "{} {nanos} {}",
                holder_id(),
                kroxide_model::meta_str(instance, "name").unwrap_or("")
            ))
        });
    // A whole object: see kroxide_semantics::instance::whole.
    let mut i = instance.clone();
    if !i.is_object() {
        return None;
    }
    i["metadata"]["uid"] = json!(uid);
    Some(i)
}

/// The inventory Secret's name for an instance.
pub fn secret_name(graph: &str, instance: &str) -> String {
    format!("kroxide.{graph}.{instance}")
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// An id for this process's runs, shown to a second run that finds the lock held.
pub(crate) fn holder_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into());
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{host} pid {} #{nanos:08x}", std::process::id())
}

/// Reads, locks and writes one instance's inventory.
pub(crate) struct Store {
    api: Api<DynamicObject>,
    graph: String,
    instance: String,
    timeout: Duration,
    /// Who writes through this store (the lock holder it checks against).
    holder: String,
}

fn secret_resource() -> kube::discovery::ApiResource {
    kube::discovery::ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "Secret".into(),
        plural: "secrets".into(),
    }
}

impl Store {
    pub(crate) fn new(
        client: &kube::Client,
        namespace: &str,
        graph: &str,
        instance: &str,
        timeout: Duration,
        holder: &str,
    ) -> Self {
        Store {
            api: Api::namespaced_with(client.clone(), namespace, &secret_resource()),
            graph: graph.to_string(),
            instance: instance.to_string(),
            timeout,
            holder: holder.to_string(),
        }
    }

    fn name(&self) -> String {
        secret_name(&self.graph, &self.instance)
    }

    fn error(&self, source: kube::Error) -> DeployError {
        DeployError::Api {
            id: format!("inventory {}", self.name()),
            source,
        }
    }

    /// The inventory, if this instance was ever deployed.
    pub(crate) async fn read(&self) -> Result<Option<Inventory>, DeployError> {
        let name = self.name();
        let secret = retry(self.timeout, || self.api.get_opt(&name))
            .await
            .map_err(|e| self.error(e))?;
        secret.map(|s| self.decode(&name, &s)).transpose()
    }

    /// The inventory a Secret named `name` holds, if it holds this graph's.
    fn decode(&self, name: &str, secret: &DynamicObject) -> Result<Inventory, DeployError> {
        let text = secret
            .data
            .pointer(&format!("/data/{DATA_KEY}"))
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        let mut inv: Inventory = text
            .and_then(|t| decode(&t))
            .ok_or_else(|| DeployError::Inventory {
                name: name.to_string(),
                message: "it is not a kroxide inventory (no readable `inventory` entry); delete it or pick another instance name".into(),
            })?;
        if inv.graph != self.graph {
            return Err(DeployError::Inventory {
                name: name.to_string(),
                message: format!("it belongs to graph `{}`", inv.graph),
            });
        }
        inv.resource_version = secret.metadata.resource_version.clone();
        Ok(inv)
    }

    fn to_secret(&self, inv: &mut Inventory) -> Result<DynamicObject, DeployError> {
        let text = fit(inv).map_err(|e| DeployError::Inventory {
            name: self.name(),
            message: e.to_string(),
        })?;
        // The API server would refuse it with "data: Too long", and later
        // in the run than this check: the first write comes before any object's.
        let stored = text.len();
        if stored > SECRET_LIMIT {
            return Err(DeployError::Inventory {
                name: self.name(),
                message: format!(
                    "listing {} objects takes {stored} bytes, over the 1 MiB a Secret can hold; split the graph into several instances",
                    inv.objects.len()
                ),
            });
        }
        let mut obj = DynamicObject::new(&self.name(), &secret_resource());
        obj.metadata = ObjectMeta {
            name: Some(self.name()),
            resource_version: inv.resource_version.clone(),
            labels: Some(
                [
                    (INVENTORY_LABEL.to_string(), "v1".to_string()),
                    (GRAPH_LABEL.to_string(), self.graph.clone()),
                    (INSTANCE_LABEL.to_string(), self.instance.clone()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        };
        obj.data = json!({
            "type": INVENTORY_TYPE,
            "data": {DATA_KEY: base64::engine::general_purpose::STANDARD.encode(text)},
        });
        Ok(obj)
    }

    /// Writes `inv`: creates it, or replaces the version that was read.
    /// When another run wrote it since (409), it is read again and the
    /// decision made on what is there now: a live lock of another run is
    /// [`DeployError::Locked`] naming that run; otherwise the objects it
    /// lists are kept too (nothing it applied is forgotten) and the write
    /// is tried again on the new version.
    pub(crate) async fn write(&self, inv: &mut Inventory) -> Result<(), DeployError> {
        for _ in 0..5 {
            let secret = self.to_secret(inv)?;
            let pp = PostParams::default();
            let result = match &inv.resource_version {
                None => retry(self.timeout, || self.api.create(&pp, &secret)).await,
                Some(_) => {
                    let name = self.name();
                    retry(self.timeout, || self.api.replace(&name, &pp, &secret)).await
                }
            };
            match result {
                Ok(written) => {
                    inv.resource_version = written.metadata.resource_version;
                    return Ok(());
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {
                    let now_there = self.read().await?;
                    if let Some(other) = &now_there {
                        self.check_lock(other, &self.holder)?;
                    }
                    match now_there {
                        Some(other) => {
                            inv.objects.extend(other.objects);
                            inv.resource_version = other.resource_version;
                        }
                        // Deleted since: create it again.
                        None => inv.resource_version = None,
                    }
                }
                Err(e) => return Err(self.error(e)),
            }
        }
        Err(DeployError::Locked {
            instance: self.instance.clone(),
            holder: "other kroxide runs (the inventory kept changing under this one)".into(),
            expires_in: 0,
        })
    }

    /// Fails if a live lock other than `holder`'s is set.
    pub(crate) fn check_lock(&self, inv: &Inventory, holder: &str) -> Result<(), DeployError> {
        match &inv.lock {
            Some(l) if l.holder != holder && l.expires > now() => Err(DeployError::Locked {
                instance: self.instance.clone(),
                holder: l.holder.clone(),
                expires_in: l.expires - now(),
            }),
            _ => Ok(()),
        }
    }

    /// Deletes the inventory (after everything it lists is gone).
    pub(crate) async fn delete(&self) -> Result<(), DeployError> {
        let name = self.name();
        let dp = DeleteParams::default();
        match retry(self.timeout, || self.api.delete(&name, &dp)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Every inventory of this store's graph in the namespace (or in all).
    pub(crate) async fn list(&self, all_namespaces: bool) -> Result<Vec<Inventory>, DeployError> {
        let lp = kube::api::ListParams::default()
            .labels(&format!("{INVENTORY_LABEL},{GRAPH_LABEL}={}", self.graph));
        let api = if all_namespaces {
            Api::all_with(self.api.clone().into_client(), &secret_resource())
        } else {
            self.api.clone()
        };
        let list = retry(self.timeout, || api.list(&lp))
            .await
            .map_err(|e| self.error(e))?;
        // The listed Secrets already hold the inventories: no read per instance.
        let out = list
            .items
            .iter()
            .filter_map(|s| self.decode(s.metadata.name.as_deref()?, s).ok())
            .collect();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three revisions whose graphs compress to about 600 KB each:
    /// the two oldest graphs are dropped to fit a Secret, the newest kept.
    #[test]
    fn an_inventory_too_big_for_a_secret_drops_the_oldest_graphs_first() {
        let mut inv = Inventory::default();
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut noise = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    char::from(b'A' + (state % 26) as u8)
                })
                .collect()
        };
        for n in 1..=3u64 {
            let digest = format!("d{n}");
            inv.graphs.insert(digest.clone(), noise(1_000_000));
            inv.revisions.push(crate::history::Revision {
                revision: n,
                deployed_at: n,
                user: "u".into(),
                outcome: crate::history::Outcome::Deployed,
                description: "deploy".into(),
                graph_digest: digest,
                spec: json!({}),
            });
        }
        let bytes = fit(&mut inv).unwrap();
        assert!(bytes.len() <= SECRET_LIMIT, "{}", bytes.len());
        let kept: Vec<&String> = inv.graphs.keys().collect();
        assert_eq!(kept, ["d3"]);
        assert_eq!(inv.revisions.len(), 3, "revisions stay listed");
        assert_eq!(decode(&bytes).unwrap().graphs.len(), 1);
    }

    #[test]
    fn a_ref_orders_by_wave_first() {
        let r = |wave, name: &str| ObjectRef {
            wave,
            id: name.into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("dev".into()),
            name: name.into(),
        };
        let set: BTreeSet<_> = [r(2, "a"), r(0, "z"), r(1, "m")].into();
        let names: Vec<_> = set.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["z", "m", "a"]);
        assert_eq!(r(0, "z").display(), "ConfigMap/z in dev");
    }

    fn big(n: usize) -> Inventory {
        let mut inv = Inventory {
            graph: "bench".into(),
            instance: json!({"metadata": {"name": "big"}, "spec": {"replicas": 3}}),
            ..Inventory::default()
        };
        for i in 0..n {
            let o = ObjectRef {
                wave: i % 3,
                id: ["configs", "deployments", "services"][i % 3].into(),
                api_version: if i % 3 == 1 { "apps/v1" } else { "v1" }.into(),
                kind: ["ConfigMap", "Deployment", "Service"][i % 3].into(),
                namespace: Some("bench-namespace".into()),
                name: format!("svc-{:05}", i / 3),
            };
            let digest = format!("{:016x}", (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            inv.applied.insert(o.applied_key(), digest);
            inv.objects.insert(o);
        }
        inv
    }

    #[test]
    fn ten_thousand_objects_fit_in_one_secret() {
        let inv = big(10_000);
        // As plain JSON (what kroxide wrote before) they did not fit.
        assert!(serde_json::to_vec(&inv).unwrap().len() > SECRET_LIMIT);
        let bytes = encode(&inv).unwrap();
        assert!(bytes.len() < SECRET_LIMIT / 4, "{} bytes", bytes.len());
        let back = decode(&bytes).expect("decodes");
        assert_eq!(back.objects, inv.objects);
        assert_eq!(back.applied, inv.applied);
        assert_eq!(back.instance, inv.instance);
    }

    #[test]
    fn a_plain_json_inventory_of_an_earlier_version_is_still_read() {
        let inv = big(4);
        let back = decode(&serde_json::to_vec(&inv).unwrap()).expect("decodes");
        assert_eq!(back.objects, inv.objects);
        // Neither garbage nor a truncated entry is an inventory.
        assert!(decode(b"not an inventory").is_none());
        let bytes = encode(&inv).unwrap();
        assert!(decode(&bytes[..bytes.len() / 2]).is_none());
    }

    #[test]
    fn an_expired_lock_is_free_and_a_live_one_names_its_holder() {
        let client_free = Inventory {
            lock: Some(Lock {
                holder: "other".into(),
                expires: now().saturating_sub(1),
            }),
            ..Inventory::default()
        };
        let live = Inventory {
            lock: Some(Lock {
                holder: "host pid 7".into(),
                expires: now() + 60,
            }),
            ..Inventory::default()
        };
        // The checks need no server: build a store on a client that is never called.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
            let client = kube::Client::try_from(config).unwrap();
            let store = Store::new(&client, "dev", "g", "i", Duration::from_secs(1), "me");
            assert!(store.check_lock(&client_free, "me").is_ok());
            let err = store.check_lock(&live, "me").unwrap_err().to_string();
            assert!(err.contains("host pid 7"), "{err}");
            assert!(store.check_lock(&live, "host pid 7").is_ok());
        });
    }
}
