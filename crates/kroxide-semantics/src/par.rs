//! Per-resource work on every core.
//!
//! Validating and planning a graph is work per resource (its expressions,
//! its template), independent within a wave; a graph of thousands of
//! resources is checked on all cores (rayon's pool; `RAYON_NUM_THREADS`
//! limits it), a small one on the calling thread, where waking the pool
//! would cost more than it saves.

use rayon::prelude::*;

/// Fewer items than this are mapped on the calling thread.
const PARALLEL_FROM: usize = 64;

/// `f(index, item)` of every item, in the items' order.
pub(crate) fn map<T, R, F>(items: &[T], f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(usize, &T) -> R + Sync,
{
    if items.len() < PARALLEL_FROM {
        return items.iter().enumerate().map(|(i, x)| f(i, x)).collect();
    }
    items.par_iter().enumerate().map(|(i, x)| f(i, x)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_order_of_the_items_on_either_side_of_the_threshold() {
        for n in [0, 1, super::PARALLEL_FROM - 1, super::PARALLEL_FROM, 5000] {
            let items: Vec<usize> = (0..n).collect();
            let out = super::map(&items, |i, x| (i, x * 2));
            assert_eq!(out, (0..n).map(|i| (i, i * 2)).collect::<Vec<_>>());
        }
    }
}
