//! External references: KRO's `externalRef`, an object that exists
//! already (made by someone else), read and never written. Its handle reads
//! it as any other resource's: typed fields, dependency edges.

use crate::graph::Graph;
use crate::handle::{Handle, Kind};
use kroxide_model::{ExternalRef, ExternalRefMetadata, Resource};
use serde_json::{json, Value};
use std::collections::BTreeMap;

impl Graph {
    /// An existing object of kind `K` named `name` (in `namespace`, else
    /// the instance's), read as resource `id`: the graph waits for it to
    /// exist, never creates, changes or deletes it.
    ///
    /// ```
    /// use kroxide_dsl::{ConfigMap, Graph, Service};
    /// let mut g = Graph::default();
    /// let shared = g.external::<ConfigMap>("sharedConfig", "platform-settings", Some("platform"));
    /// g.add(ConfigMap::new("app").data("region", shared.field::<String>("data.region")));
    /// let r = &g.resources()[0];
    /// let ext = r.external_ref.as_ref().unwrap();
    /// assert_eq!((ext.kind.as_str(), ext.metadata.name.as_deref()), ("ConfigMap", Some("platform-settings")));
    /// assert_eq!(g.resources()[1].template.as_ref().unwrap()["data"]["region"], "${sharedConfig.data.region}");
    /// ```
    pub fn external<K: Kind>(
        &mut self,
        id: &str,
        name: &str,
        namespace: Option<&str>,
    ) -> Handle<K> {
        self.add_external::<K>(id, Some(name.to_string()), namespace, None);
        Handle::new(
            id.to_string(),
            Some(name.to_string()),
            BTreeMap::new(),
            json!(name),
        )
    }

    /// Every existing object of kind `K` whose labels match `labels` (in
    /// the instance's namespace, or `namespace`), read as resource `id`: a
    /// collection, as KRO's `externalRef` with a selector.
    ///
    /// ```
    /// use kroxide_dsl::{ConfigMap, Graph};
    /// let mut g = Graph::default();
    /// let team = g.external_matching::<ConfigMap>("teamConfigs", &[("team", "shop")], None);
    /// let ext = g.resources()[0].external_ref.as_ref().unwrap();
    /// assert_eq!(ext.metadata.selector, Some(serde_json::json!({"matchLabels": {"team": "shop"}})));
    /// assert_eq!(ext.metadata.name, None);
    /// assert_eq!(team.size().to_cel(), "size(teamConfigs)");
    /// ```
    pub fn external_matching<K: Kind>(
        &mut self,
        id: &str,
        labels: &[(&str, &str)],
        namespace: Option<&str>,
    ) -> Handle<crate::collection::Each<K>> {
        let match_labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        let selector = json!({"matchLabels": match_labels});
        self.add_external::<K>(id, None, namespace, Some(selector));
        Handle::new(id.to_string(), None, BTreeMap::new(), Value::Null)
    }

    fn add_external<K: Kind>(
        &mut self,
        id: &str,
        name: Option<String>,
        namespace: Option<&str>,
        selector: Option<Value>,
    ) {
        if !self.ids.insert(id.to_string()) {
            self.problems.push(format!(
                "two resources have the id `{id}`: give the external reference another"
            ));
        }
        if let Some(why) = kroxide_semantics::validate::check_id(id) {
            self.problems.push(why);
        }
        self.resources.push(Resource {
            id: id.to_string(),
            template: None,
            external_ref: Some(ExternalRef {
                api_version: K::API_VERSION.to_string(),
                kind: K::KIND.to_string(),
                metadata: ExternalRefMetadata {
                    name,
                    namespace: namespace.map(String::from),
                    selector,
                },
            }),
            ready_when: Vec::new(),
            include_when: Vec::new(),
            for_each: Vec::new(),
        });
    }
}
