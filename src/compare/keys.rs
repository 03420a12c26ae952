//! What makes two runs comparable: digests of parts of their configurations.
//!
//! A run's config (in its `run.json`) holds everything that determines its numbers. Runs are
//! grouped by the digest of the config without the seed and the recipe name (the same settings
//! in two recipes are the same configuration); tasks by their name and dataset config; and a
//! method is paired with a baseline that differs from it in the loss alone (or the optimizer
//! alone).

use std::collections::BTreeMap;

/// Digests (16 hex digits of SHA-256 over canonical JSON) of a run's config, with parts left out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Keys {
    /// The task: its name and dataset config (data digest, transforms).
    pub task: String,
    /// Everything but the seed and the recipe name.
    pub config: String,
    /// … and but the loss (with the regularizers its entry brought).
    pub without_loss: String,
    /// … and but the optimizer.
    pub without_optimizer: String,
}

/// Parts of a config that never make two runs different configurations.
const NOT_CONFIGURATION: &[&str] = &["seed", "recipe"];

fn digest(value: &serde_json::Value) -> String {
    crate::recipe::config_hash(value)
}

fn without(config: &serde_json::Value, keys: &[&str]) -> serde_json::Value {
    let mut c = config.clone();
    if let Some(map) = c.as_object_mut() {
        for k in NOT_CONFIGURATION.iter().chain(keys) {
            map.remove(*k);
        }
    }
    c
}

impl Keys {
    pub fn of(config: &serde_json::Value) -> Keys {
        let task = serde_json::json!({ "name": config["task"]["name"], "dataset": config["task"]["dataset"] });
        let mut no_loss = without(config, &["loss"]);
        // The run's regularizers list the loss entry's last; they belong to the loss.
        let own: Vec<serde_json::Value> = config["loss"]["regularizers"].as_array().cloned().unwrap_or_default();
        if let Some(regs) = no_loss.get_mut("regularizers").and_then(|r| r.as_array_mut()) {
            let keep = regs.len().saturating_sub(own.len());
            if regs[keep..] == own[..] {
                regs.truncate(keep);
            }
            if regs.is_empty() {
                no_loss.as_object_mut().map(|m| m.remove("regularizers"));
            }
        }
        Keys {
            task: digest(&task),
            config: digest(&without(config, &[])),
            without_loss: digest(&no_loss),
            without_optimizer: digest(&without(config, &["optimizer"])),
        }
    }
}

/// The config's paths and values (`optimizer.lr` → `0.001`, `task.metrics[0].name` →
/// `accuracy`), for telling the user how two configurations differ.
pub fn flatten(config: &serde_json::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    flatten_into("", config, &mut out);
    for k in NOT_CONFIGURATION {
        out.remove(*k);
    }
    out
}

fn flatten_into(prefix: &str, value: &serde_json::Value, out: &mut BTreeMap<String, String>) {
    let join = |key: &str| if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                flatten_into(&join(k), v, out);
            }
        }
        serde_json::Value::Array(items) if items.iter().any(|v| v.is_object() || v.is_array()) => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), scalar_text(other));
        }
    }
}

fn scalar_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The value at a dotted path (`optimizer.lr`, `task.metrics[0].name`), as text.
pub fn value_at(config: &serde_json::Value, path: &str) -> Option<String> {
    flatten(config).remove(path).or_else(|| {
        // A path to a list or a mapping: compare its compact JSON.
        let mut v = config;
        for part in path.split('.') {
            v = v.get(part)?;
        }
        Some(scalar_text(v))
    })
}

/// Whether `--where` value `wanted` selects `actual`: equal as numbers when both are numbers
/// (`1e-3` selects `0.001`), else equal as text.
pub fn matches(actual: &str, wanted: &str) -> bool {
    match (actual.parse::<f64>(), wanted.parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => actual == wanted,
    }
}

/// The metric labels of a run's task, in order, with whether higher is better (labels such as
/// `acc` or `top_k-k=5` are mapped to their registry name through the config).
pub fn metric_directions(config: &serde_json::Value) -> Vec<(String, bool)> {
    config["task"]["metrics"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .filter_map(|m| {
                    let label = m["label"].as_str()?;
                    let name = m["name"].as_str().unwrap_or(label);
                    Some((label.to_string(), crate::metrics::higher_is_better(name)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The paths whose values differ between configs, with each config's value.
pub fn differing(configs: &[BTreeMap<String, String>]) -> Vec<(String, Vec<String>)> {
    let paths: std::collections::BTreeSet<&String> = configs.iter().flat_map(|c| c.keys()).collect();
    paths
        .into_iter()
        .filter_map(|p| {
            let values: Vec<String> = configs.iter().map(|c| c.get(p).cloned().unwrap_or_else(|| "(absent)".into())).collect();
            values.iter().any(|v| v != &values[0]).then(|| (p.clone(), values))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(lr: f64, loss: &str, regs: bool) -> serde_json::Value {
        let mut c = serde_json::json!({
            "recipe": "r", "seed": 3,
            "task": {"name": "t", "dataset": {"name": "blobs", "n": 100}, "metrics": [{"name": "accuracy", "label": "acc"}, {"name": "nll", "label": "nll"}]},
            "loss": {"name": loss, "label": loss},
            "optimizer": {"name": "adamw", "label": "adamw", "lr": lr},
        });
        if regs {
            c["loss"]["regularizers"] = serde_json::json!([{"name": "flooding", "label": "flooding", "level": 0.1}]);
            c["regularizers"] = serde_json::json!([{"name": "flooding", "label": "flooding", "level": 0.1}]);
        }
        c
    }

    #[test]
    fn keys_leave_out_exactly_their_part() {
        let a = Keys::of(&config(0.01, "ce", false));
        let mut other_recipe = config(0.01, "ce", false);
        other_recipe["recipe"] = "q".into();
        other_recipe["seed"] = 9.into();
        assert_eq!(Keys::of(&other_recipe), a);
        let b = Keys::of(&config(0.001, "ce", false));
        assert_ne!(a.config, b.config);
        assert_eq!(a.task, b.task);
        assert_eq!(a.without_optimizer, b.without_optimizer);
        assert_ne!(a.without_loss, b.without_loss);
        // A loss entry's regularizers belong to the loss: `ce+flooding` pairs with `ce`.
        let c = Keys::of(&config(0.01, "ce_flood", true));
        assert_eq!(c.without_loss, a.without_loss);
        assert_ne!(c.config, a.config);
    }

    #[test]
    fn paths_values_and_differences() {
        let c = config(0.001, "ce", false);
        assert_eq!(value_at(&c, "optimizer.lr").as_deref(), Some("0.001"));
        assert_eq!(value_at(&c, "task.metrics[1].name").as_deref(), Some("nll"));
        assert!(matches("0.001", "1e-3") && !matches("0.001", "0.01") && matches("adamw", "adamw"));
        assert_eq!(metric_directions(&c), vec![("acc".to_string(), true), ("nll".to_string(), false)]);
        let d = differing(&[flatten(&c), flatten(&config(0.01, "ce", false))]);
        assert_eq!(d, vec![("optimizer.lr".to_string(), vec!["0.001".to_string(), "0.01".to_string()])]);
    }
}
