//! The in-memory object store: objects by type, namespace and name, one
//! global resourceVersion counter, and a bounded event history for watch
//! resumption (older versions get 410 Gone, as from etcd compaction).

use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use tokio::sync::broadcast;

/// A watch event.
#[derive(Clone, Debug)]
pub struct Event {
    pub resource_version: u64,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The type's key (`apps/v1/deployments`).
    pub type_key: String,
    pub namespace: Option<String>,
    pub object: Value,
}

/// Key of one object.
pub type ObjectKey = (String, Option<String>, String);

/// All objects and their history.
pub struct Store {
    pub objects: BTreeMap<ObjectKey, Value>,
    pub resource_version: u64,
    history: VecDeque<Event>,
    history_limit: usize,
    /// The oldest resourceVersion a watch may resume from.
    pub compacted: u64,
    pub events: broadcast::Sender<Event>,
}

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (events, _) = broadcast::channel(4096);
        Store {
            objects: BTreeMap::new(),
            resource_version: 1,
            history: VecDeque::new(),
            history_limit,
            compacted: 1,
            events,
        }
    }

    /// The next resourceVersion.
    pub fn bump(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    /// Records an event for watchers.
    pub fn record(
        &mut self,
        kind: &'static str,
        type_key: &str,
        namespace: Option<String>,
        object: Value,
    ) {
        let rv = object
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(self.resource_version);
        let e = Event {
            resource_version: rv,
            kind,
            type_key: type_key.to_string(),
            namespace,
            object,
        };
        self.history.push_back(e.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted = old.resource_version;
            }
        }
        let _ = self.events.send(e);
    }

    /// Events after `rv` for a type, or `None` when `rv` is too old (410).
    pub fn since(&self, rv: u64, type_key: &str, namespace: Option<&str>) -> Option<Vec<Event>> {
        if rv < self.compacted {
            return None;
        }
        Some(
            self.history
                .iter()
                .filter(|e| {
                    e.resource_version > rv
                        && e.type_key == type_key
                        && namespace.is_none_or(|n| e.namespace.as_deref() == Some(n))
                })
                .cloned()
                .collect(),
        )
    }

    /// Forgets all history (a restart that keeps the data).
    pub fn compact_all(&mut self) {
        self.history.clear();
        self.compacted = self.resource_version;
    }
}
