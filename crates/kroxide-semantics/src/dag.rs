//! The dependency graph of a resource graph, ordered as KRO orders it.
//!
//! A resource depends on every other resource whose id its template,
//! `includeWhen` or `forEach` expressions use. The topological order is
//! Kahn's algorithm, ties broken by declaration index, then id; waves group
//! the resources whose dependencies are all in earlier waves, for parallel
//! apply.

use foldhash::HashMap;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// Resources and their dependencies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DependencyGraph {
    ids: Vec<String>,
    deps: Vec<BTreeSet<usize>>,
    by_id: HashMap<String, usize>,
}

/// A dependency cycle, as a path that ends where it starts.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("dependency cycle: {}", .0.join(" -> "))]
pub struct Cycle(pub Vec<String>);

impl DependencyGraph {
    /// A graph of `ids`, in declaration order, with no edges yet.
    pub fn new(ids: impl IntoIterator<Item = String>) -> Self {
        let ids: Vec<String> = ids.into_iter().collect();
        let deps = vec![BTreeSet::new(); ids.len()];
        let mut by_id = HashMap::with_capacity_and_hasher(ids.len(), Default::default());
        for (i, id) in ids.iter().enumerate() {
            by_id.entry(id.clone()).or_insert(i);
        }
        DependencyGraph { ids, deps, by_id }
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.by_id.get(id).copied()
    }

    /// Records that `from` depends on `on`. Unknown ids and self edges are ignored.
    pub fn add_dependency(&mut self, from: &str, on: &str) {
        if let (Some(a), Some(b)) = (self.index(from), self.index(on)) {
            if a != b {
                self.deps[a].insert(b);
            }
        }
    }

    /// The ids in declaration order.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// What `id` depends on, in declaration order.
    pub fn dependencies(&self, id: &str) -> Vec<&str> {
        self.index(id)
            .map(|i| self.deps[i].iter().map(|d| self.ids[*d].as_str()).collect())
            .unwrap_or_default()
    }

    /// What depends on `id`, directly.
    pub fn dependents(&self, id: &str) -> Vec<&str> {
        let Some(i) = self.index(id) else {
            return Vec::new();
        };
        (0..self.ids.len())
            .filter(|j| self.deps[*j].contains(&i))
            .map(|j| self.ids[j].as_str())
            .collect()
    }

    /// KRO's topological order.
    ///
    /// ```
    /// use kroxide_semantics::dag::DependencyGraph;
    /// let mut g = DependencyGraph::new(["svc", "cm", "deploy"].map(String::from));
    /// g.add_dependency("deploy", "cm");
    /// g.add_dependency("svc", "deploy");
    /// assert_eq!(g.topological_order().unwrap(), ["cm", "deploy", "svc"]);
    /// g.add_dependency("cm", "svc");
    /// assert_eq!(g.topological_order().unwrap_err().to_string(),
    ///            "dependency cycle: svc -> deploy -> cm -> svc");
    /// ```
    pub fn topological_order(&self) -> Result<Vec<String>, Cycle> {
        let n = self.ids.len();
        let mut indegree: Vec<usize> = self.deps.iter().map(BTreeSet::len).collect();
        let mut heap: BinaryHeap<Reverse<(usize, &str)>> = (0..n)
            .filter(|i| indegree[*i] == 0)
            .map(|i| Reverse((i, self.ids[i].as_str())))
            .collect();
        let mut out = Vec::with_capacity(n);
        let dependents = self.dependents_index();
        while let Some(Reverse((i, _))) = heap.pop() {
            out.push(self.ids[i].clone());
            for &j in &dependents[i] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    heap.push(Reverse((j, self.ids[j].as_str())));
                }
            }
        }
        if out.len() < n {
            return Err(self.find_cycle());
        }
        Ok(out)
    }

    fn dependents_index(&self) -> Vec<Vec<usize>> {
        let mut d = vec![Vec::new(); self.ids.len()];
        for (i, deps) in self.deps.iter().enumerate() {
            for &j in deps {
                d[j].push(i);
            }
        }
        d
    }

    /// Apply waves: each wave's resources depend only on earlier waves.
    pub fn waves(&self) -> Result<Vec<Vec<String>>, Cycle> {
        let order = self.topological_order()?;
        let mut level = vec![0usize; self.ids.len()];
        for id in &order {
            let i = self.index(id).expect("id from order");
            level[i] = self.deps[i]
                .iter()
                .map(|d| level[*d] + 1)
                .max()
                .unwrap_or(0);
        }
        let depth = level.iter().copied().max().map_or(0, |m| m + 1);
        let mut waves = vec![Vec::new(); depth];
        for id in order {
            let i = self.index(&id).expect("id from order");
            waves[level[i]].push(id);
        }
        Ok(waves)
    }

    /// Deletion waves as KRO main orders them (`ReverseTopologicalLayers`
    /// in pkg/graph/dag, persisted on each object as the annotation
    /// `internal.kro.run/apply-order`): the first wave holds the resources
    /// nothing depends on, each later one the resources whose dependents
    /// are all in earlier waves. Every resource is deleted as early as
    /// it can be, which is not the apply waves reversed: a resource nothing
    /// reads goes in the first deletion wave whatever its apply wave.
    ///
    /// ```
    /// use kroxide_semantics::dag::DependencyGraph;
    /// // deploy reads cm; audit reads nothing and nothing reads it.
    /// let mut g = DependencyGraph::new(["cm", "deploy", "audit"].map(String::from));
    /// g.add_dependency("deploy", "cm");
    /// assert_eq!(g.waves().unwrap(), vec![vec!["cm", "audit"], vec!["deploy"]]);
    /// assert_eq!(g.deletion_waves().unwrap(), vec![vec!["deploy", "audit"], vec!["cm"]]);
    /// ```
    pub fn deletion_waves(&self) -> Result<Vec<Vec<String>>, Cycle> {
        let order = self.topological_order()?;
        let dependents = self.dependents_index();
        // Height: 0 for a resource nothing depends on, else 1 + its
        // dependents' greatest (computed from the last in apply order).
        let mut height = vec![0usize; self.ids.len()];
        for id in order.iter().rev() {
            let i = self.index(id).expect("id from order");
            height[i] = dependents[i]
                .iter()
                .map(|d| height[*d] + 1)
                .max()
                .unwrap_or(0);
        }
        let depth = height.iter().copied().max().map_or(0, |m| m + 1);
        let mut waves = vec![Vec::new(); depth];
        for (i, id) in self.ids.iter().enumerate() {
            waves[height[i]].push(id.clone());
        }
        Ok(waves)
    }

    /// KRO main's `internal.kro.run/apply-order` of each resource: its
    /// deletion wave counted from the last (the first deletion wave has the
    /// highest number, the last wave 1). KRO deletes the highest first and
    /// waits until a wave is gone before the next.
    pub fn deletion_orders(&self) -> Result<std::collections::BTreeMap<String, usize>, Cycle> {
        let waves = self.deletion_waves()?;
        let n = waves.len();
        Ok(waves
            .into_iter()
            .enumerate()
            .flat_map(|(i, w)| w.into_iter().map(move |id| (id, n - i)))
            .collect())
    }

    /// A cycle, found deterministically: from the first resource (in
    /// declaration order) that is on one.
    pub fn find_cycle(&self) -> Cycle {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        fn dfs(
            g: &DependencyGraph,
            i: usize,
            mark: &mut [Mark],
            stack: &mut Vec<usize>,
        ) -> Option<Vec<usize>> {
            mark[i] = Mark::Active;
            stack.push(i);
            for &d in &g.deps[i] {
                match mark[d] {
                    Mark::Active => {
                        let start = stack.iter().position(|x| *x == d).expect("on stack");
                        let mut c = stack[start..].to_vec();
                        c.push(d);
                        return Some(c);
                    }
                    Mark::New => {
                        if let Some(c) = dfs(g, d, mark, stack) {
                            return Some(c);
                        }
                    }
                    Mark::Done => {}
                }
            }
            stack.pop();
            mark[i] = Mark::Done;
            None
        }
        let mut mark = vec![Mark::New; self.ids.len()];
        for i in 0..self.ids.len() {
            if mark[i] == Mark::New {
                if let Some(c) = dfs(self, i, &mut mark, &mut Vec::new()) {
                    return Cycle(c.into_iter().map(|i| self.ids[i].clone()).collect());
                }
            }
        }
        Cycle(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(ids: &[&str], edges: &[(&str, &str)]) -> DependencyGraph {
        let mut g = DependencyGraph::new(ids.iter().map(|s| s.to_string()));
        for (a, b) in edges {
            g.add_dependency(a, b);
        }
        g
    }

    #[test]
    fn kahn_prefers_declaration_order() {
        // a needs c; b needs a; d is free. Kahn takes c, then a (index 0)
        // before d (index 3), then b.
        let g = graph(&["a", "b", "c", "d"], &[("a", "c"), ("b", "a")]);
        assert_eq!(g.topological_order().unwrap(), ["c", "a", "b", "d"]);
        assert_eq!(
            g.waves().unwrap(),
            vec![vec!["c", "d"], vec!["a"], vec!["b"]]
        );
        assert_eq!(g.dependents("a"), ["b"]);
        assert_eq!(g.dependencies("b"), ["a"]);
    }

    #[test]
    fn cycles_are_reported_as_paths() {
        let g = graph(&["x", "a", "b"], &[("a", "b"), ("b", "a")]);
        assert_eq!(g.topological_order().unwrap_err().0, ["a", "b", "a"]);
    }

    #[test]
    fn empty_graph() {
        let g = graph(&[], &[]);
        assert!(g.topological_order().unwrap().is_empty());
        assert!(g.waves().unwrap().is_empty());
    }
}
