//! The engine's one stable sort. `slice::sort` is generic over the element and
//! the comparison, and each use compiled to its own ~7 KB copy of the sort in
//! wasm. Here the sort runs once, over positions, with the comparison behind
//! `dyn`; the callers' orders (snapshots, definitions, images, deletions) are
//! cold, so the indirect call costs nothing that shows.

use std::cmp::Ordering;

/// Sorts `v` stably by `cmp`, as `slice::sort_by` would. What is generic
/// here, and so copied per element type, is only the comparison and a swap:
/// the order is found and applied by functions of positions.
pub(crate) fn sort_by<T>(v: &mut [T], mut cmp: impl FnMut(&T, &T) -> Ordering) {
    if v.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..v.len()).collect();
    sort_positions(&mut order, &mut |a, b| match (v.get(a), v.get(b)) {
        (Some(x), Some(y)) => cmp(x, y),
        _ => Ordering::Equal,
    });
    permute(&mut order, &mut |a, b| v.swap(a, b));
}

/// Sorts `v` stably, as `slice::sort` would.
pub(crate) fn sort<T: Ord>(v: &mut [T]) {
    sort_by(v, T::cmp);
}

/// Sorts `v` stably by a key, as `slice::sort_by_key` would.
pub(crate) fn sort_by_key<T, K: Ord>(v: &mut [T], mut key: impl FnMut(&T) -> K) {
    sort_by(v, |a, b| key(a).cmp(&key(b)));
}

/// The only instance of the standard sort: positions, compared through `cmp`.
#[inline(never)]
fn sort_positions(order: &mut [usize], cmp: &mut dyn FnMut(usize, usize) -> Ordering) {
    order.sort_by(|&a, &b| cmp(a, b));
}

/// Puts the element at `order[k]` in position `k` for every `k`, by swaps
/// along each cycle of the permutation; `order` marks what is done.
#[inline(never)]
fn permute(order: &mut [usize], swap: &mut dyn FnMut(usize, usize)) {
    for i in 0..order.len() {
        let mut j = i;
        while let Some(o) = order.get_mut(j) {
            let k = std::mem::replace(o, j);
            if k == i || k == j {
                break;
            }
            swap(j, k);
            j = k;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_like_the_standard_stable_sort() {
        // Pairs with repeated keys: equal keys keep their input order.
        let mut seed = 7u64;
        for len in [0usize, 1, 2, 3, 20, 257, 1000] {
            let v: Vec<(u8, usize)> = (0..len)
                .map(|i| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((seed >> 59) as u8, i)
                })
                .collect();
            let mut expected = v.clone();
            expected.sort_by_key(|p| p.0);
            let mut got = v.clone();
            sort_by_key(&mut got, |p| p.0);
            assert_eq!(got, expected, "length {len}");
            let mut all = v;
            sort(&mut all);
            let mut std_all = expected.clone();
            std_all.sort();
            assert_eq!(all, std_all);
        }
    }

    #[test]
    fn moves_owned_values_without_dropping_any() {
        let mut v: Vec<String> = ["pear", "fig", "apple", "fig", "kiwi"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        sort_by(&mut v, |a, b| a.len().cmp(&b.len()));
        assert_eq!(v, ["fig", "fig", "pear", "kiwi", "apple"]);
    }
}
