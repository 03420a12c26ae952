//! Grids inside a recipe: a list where a parameter takes one value is an axis, and the entry
//! expands into one entry per combination of its axes' values.
//!
//! Whether a list is an axis is decided by the component itself: the entry is first parsed as
//! written (so every recipe that parsed before means what it meant: `hidden: [64, 64]` is a
//! two-layer model). When that fails, the fewest lists whose replacement by their first value
//! makes the entry parse are its axes. A parameter that itself takes a list is swept with a list
//! of lists (`hidden: [[64], [128, 128]]`).
//!
//! Axes are ordered by their parameter's path (alphabetically, as the parameters are stored),
//! the first varying slowest; a point's label parts are `path=value` in that order, so a label
//! does not depend on how the recipe orders its keys.

use serde_json::Value;

/// Where a list sits inside a component's parameters: the keys from the top (`label_noise`,
/// `rate`).
pub type KeyPath = Vec<String>;

/// Most lists one entry may hold when its axes are searched (2^8 parses at most).
const MAX_LISTS: usize = 8;

/// Most points one entry may expand into.
pub const MAX_POINTS: usize = 100_000;

/// A grid point's label parts: `(parameter path, value)`.
pub type Parts = Vec<(String, String)>;

/// One combination of an entry's axis values: the parameters, and `(path, value)` label parts.
#[derive(Debug, Clone)]
pub struct Point {
    pub params: Value,
    pub parts: Parts,
}

/// Every non-empty list in `params` (inside nested mappings too, not inside lists), except
/// those under the top-level keys in `skip`.
fn lists(params: &Value, skip: &[&str]) -> Vec<KeyPath> {
    fn walk(v: &Value, at: &mut KeyPath, skip: &[&str], out: &mut Vec<KeyPath>) {
        match v {
            Value::Array(items) if !items.is_empty() => out.push(at.clone()),
            Value::Object(map) => {
                for (k, child) in map {
                    if at.is_empty() && skip.contains(&k.as_str()) {
                        continue;
                    }
                    at.push(k.clone());
                    walk(child, at, skip, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(params, &mut Vec::new(), skip, &mut out);
    out
}

fn get<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn set(v: &mut Value, path: &[String], new: Value) {
    let mut at = v;
    for k in path {
        match at.get_mut(k) {
            Some(child) => at = child,
            None => return,
        }
    }
    *at = new;
}

/// The values of the list at `path`.
fn values(params: &Value, path: &[String]) -> Vec<Value> {
    match get(params, path) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// The axes of an entry: none when `accepts` takes the parameters as written; else the fewest
/// lists (outside `skip`) whose replacement by their first value it takes; none when no choice
/// works (the entry's own error then tells what is wrong).
pub fn axes(params: &Value, skip: &[&str], accepts: &dyn Fn(&Value) -> bool) -> Vec<KeyPath> {
    let candidates = lists(params, skip);
    if candidates.is_empty() || candidates.len() > MAX_LISTS || accepts(params) {
        return Vec::new();
    }
    let n = candidates.len();
    let mut subsets: Vec<u32> = (1..(1u32 << n)).collect();
    subsets.sort_by_key(|s| (s.count_ones(), *s));
    for subset in subsets {
        let chosen: Vec<KeyPath> = (0..n).filter(|i| subset & (1 << i) != 0).map(|i| candidates[i].clone()).collect();
        let mut probe = params.clone();
        for path in &chosen {
            let first = values(params, path).swap_remove(0);
            set(&mut probe, path, first);
        }
        if accepts(&probe) {
            return chosen;
        }
    }
    Vec::new()
}

/// How a value reads in a label: numbers and strings as written, lists joined with `_`.
pub fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join("_"),
        other => other.to_string(),
    }
}

/// The points of an entry with `axes` (sorted by path): every combination, the first axis
/// varying slowest, each axis's values in the order written.
pub fn expand(params: &Value, axes: &[KeyPath]) -> Vec<Point> {
    let mut points = vec![Point { params: params.clone(), parts: Vec::new() }];
    for path in axes {
        let name = path.join(".");
        let mut next = Vec::with_capacity(points.len() * values(params, path).len());
        for p in &points {
            for v in values(params, path) {
                let mut params = p.params.clone();
                let mut parts = p.parts.clone();
                parts.push((name.clone(), show(&v)));
                set(&mut params, path, v);
                next.push(Point { params, parts });
            }
        }
        points = next;
    }
    points
}

/// The number of points `axes` give, to check before expanding.
pub fn count(params: &Value, axes: &[KeyPath]) -> f64 {
    axes.iter().map(|p| values(params, p).len() as f64).product()
}

/// `lr=0.001-weight_decay=0.01`.
pub fn label_parts(parts: &[(String, String)]) -> String {
    parts.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("-")
}

/// Every combination of one point from each list, the first list varying slowest: the parts
/// of an entry and of the entries it holds (a loss entry's regularizers).
pub fn product<T: Clone>(lists: &[Vec<T>]) -> Vec<Vec<T>> {
    let mut out: Vec<Vec<T>> = vec![Vec::new()];
    for list in lists {
        out = out.iter().flat_map(|prefix| list.iter().map(move |x| [prefix.clone(), vec![x.clone()]].concat())).collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Scalars only, except `hidden`, which takes a list of integers.
    fn accepts(v: &Value) -> bool {
        v.as_object().unwrap().iter().all(|(k, v)| match k.as_str() {
            "hidden" => v.as_array().is_some_and(|a| a.iter().all(Value::is_u64)),
            _ => v.is_number() || v.is_string() || v.get("rate").is_some_and(Value::is_number),
        })
    }

    #[test]
    fn lists_the_parameter_takes_are_values_and_others_are_axes() {
        assert!(axes(&json!({"hidden": [64, 64], "lr": 0.1}), &[], &accepts).is_empty());
        let p = json!({"hidden": [64, 64], "lr": [0.1, 0.2], "noise": {"rate": [0.0, 0.4]}});
        let found = axes(&p, &[], &accepts);
        assert_eq!(found, vec![vec!["lr".to_string()], vec!["noise".to_string(), "rate".to_string()]]);
        let points = expand(&p, &found);
        assert_eq!(points.len(), 4);
        assert_eq!(label_parts(&points[1].parts), "lr=0.1-noise.rate=0.4");
        assert_eq!(points[1].params, json!({"hidden": [64, 64], "lr": 0.1, "noise": {"rate": 0.4}}));
        // A list of lists sweeps a list-valued parameter.
        let nested = json!({"hidden": [[8], [16, 16]]});
        let found = axes(&nested, &[], &accepts);
        assert_eq!(found, vec![vec!["hidden".to_string()]]);
        assert_eq!(expand(&nested, &found).iter().map(|p| label_parts(&p.parts)).collect::<Vec<_>>(), ["hidden=8", "hidden=16_16"]);
    }

    #[test]
    fn an_entry_no_choice_makes_valid_has_no_axes() {
        assert!(axes(&json!({"lr": [[0.1]]}), &[], &accepts).is_empty());
        assert!(axes(&json!({"regularizers": [1, 2]}), &["regularizers"], &|_| false).is_empty());
    }

    #[test]
    fn product_varies_the_first_list_slowest() {
        assert_eq!(product(&[vec![1, 2], vec![3, 4]]), vec![vec![1, 3], vec![1, 4], vec![2, 3], vec![2, 4]]);
        assert_eq!(product::<u8>(&[]), vec![Vec::<u8>::new()]);
    }
}
