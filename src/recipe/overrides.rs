//! `--set PATH=VALUE`: overrides applied to a recipe's YAML before it is resolved, so they are
//! checked exactly like the file (and a list makes a grid axis, as in the file).
//!
//! A path is keys joined by `.`, each optionally followed by `[i]` (the i-th entry of a list) or
//! `[name]` (the entry with that `name` or `label`): `train.epochs`, `optimizers[0].lr`,
//! `tasks[digits].dataset.label_noise.rate`. Missing keys are created; an entry written as a
//! bare name (`- focal`) becomes `{name: focal, …}` when a parameter is set on it. The value is
//! YAML: `5`, `cosine`, `[1e-3, 3e-3]`, `{kind: pair, rate: 0.2}`.

use crate::error::{Error, Result};
use serde_yaml::{Mapping, Value};

/// One step of a path.
#[derive(Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
    Named(String),
}

/// `path` and `value` of `PATH=VALUE`, split at the first `=` outside brackets (labels such as
/// `adamw-lr=0.001` may hold one).
fn split(set: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in set.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '=' if depth == 0 => return Some((&set[..i], &set[i + 1..])),
            _ => {}
        }
    }
    set.split_once('=')
}

/// `path` cut at each `.` outside brackets.
fn parts(path: &str) -> Vec<&str> {
    let (mut out, mut start, mut depth) = (Vec::new(), 0, 0i32);
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

fn steps(path: &str) -> std::result::Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for part in parts(path) {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if key.is_empty() && out.is_empty() {
            return Err(format!("`{part}`: a path starts with a key of the recipe (train, tasks, losses, optimizers, …)"));
        }
        if !key.is_empty() {
            out.push(Step::Key(key.to_string()));
        }
        while !rest.is_empty() {
            let (inside, after) = rest.split_once(']').ok_or_else(|| format!("`{part}`: `[` without `]`"))?;
            out.push(match inside.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) if !inside.is_empty() => Step::Named(inside.to_string()),
                Err(_) => return Err(format!("`{part}`: `[]` needs an index or a name")),
            });
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return Err(format!("`{part}`: expected `.` or `[` after `]`"));
            }
        }
    }
    Ok(out)
}

/// How an entry of a list is called: its `name` and `label`, or the bare name it is.
fn names_of(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Mapping(m) => ["label", "name"].iter().filter_map(|k| m.get(*k).and_then(Value::as_str).map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

/// The value at `step` below `at`, created when missing (a key of a mapping; a bare name turned
/// into `{name: …}`).
fn child<'a>(at: &'a mut Value, step: &Step, walked: &str) -> std::result::Result<&'a mut Value, String> {
    if let (Value::String(name), Step::Key(_)) = (&*at, step) {
        let mut m = Mapping::new();
        m.insert("name".into(), name.clone().into());
        *at = Value::Mapping(m);
    }
    if at.is_null() && matches!(step, Step::Key(_)) {
        *at = Value::Mapping(Mapping::new());
    }
    match (at, step) {
        (Value::Mapping(m), Step::Key(k)) => Ok(m.entry(k.clone().into()).or_insert(Value::Null)),
        (Value::Sequence(items), Step::Index(i)) => {
            let n = items.len();
            items.get_mut(*i).ok_or_else(|| format!("`{walked}` has {n} entries (0..{}); there is no [{i}]", n.saturating_sub(1)))
        }
        (Value::Sequence(items), Step::Named(name)) => {
            let known: Vec<String> = items.iter().flat_map(names_of).collect();
            items
                .iter_mut()
                .find(|v| names_of(v).contains(name))
                .ok_or_else(|| format!("`{walked}` has no entry named `{name}` (it has: {})", known.join(", ")))
        }
        (other, Step::Key(k)) => Err(format!("`{walked}` is {}, not a mapping with `{k}`", super::yaml_kind(other))),
        (other, _) => Err(format!("`{walked}` is {}, not a list", super::yaml_kind(other))),
    }
}

/// `doc` with `set` applied.
fn apply_one(doc: &mut Value, set: &str) -> Result<()> {
    let bad = |why: String| Error::input(format!("--set {set}: {why}"));
    let (path, text) =
        split(set).ok_or_else(|| bad("expected PATH=VALUE, e.g. train.epochs=5 or 'optimizers[0].lr=[1e-3,3e-3]'".into()))?;
    let value: Value = serde_yaml::from_str(text).map_err(|e| bad(format!("the value `{text}` is not YAML: {e}")))?;
    if value.is_null() {
        return Err(bad("no value after `=`".into()));
    }
    let steps = steps(path.trim()).map_err(bad)?;
    let mut at = doc;
    let mut walked = String::new();
    for step in &steps {
        at = child(at, step, if walked.is_empty() { "the recipe" } else { &walked }).map_err(bad)?;
        match step {
            Step::Key(k) if walked.is_empty() => walked = k.clone(),
            Step::Key(k) => walked = format!("{walked}.{k}"),
            Step::Index(i) => walked = format!("{walked}[{i}]"),
            Step::Named(n) => walked = format!("{walked}[{n}]"),
        }
    }
    *at = value;
    Ok(())
}

/// The recipe `text` with every `--set` applied, as YAML; `None` when there are none or the
/// text does not parse (resolution then reports the file's own error).
pub fn apply(text: &str, sets: &[String]) -> Result<Option<String>> {
    if sets.is_empty() {
        return Ok(None);
    }
    let Ok(mut doc) = serde_yaml::from_str::<Value>(text) else { return Ok(None) };
    if !doc.is_mapping() {
        return Ok(None);
    }
    for set in sets {
        apply_one(&mut doc, set)?;
    }
    serde_yaml::to_string(&doc).map(Some).map_err(|e| Error::runtime(format!("--set: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECIPE: &str = "tasks:\n  - name: digits\n    dataset: {name: digits}\nlosses: [cross_entropy, focal]\noptimizers:\n  - {name: adamw, label: fast-lr=0.01, lr: 0.01}\n";

    fn set(sets: &[&str]) -> Result<Value> {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Ok(serde_yaml::from_str(&apply(RECIPE, &sets)?.unwrap()).unwrap())
    }

    #[test]
    fn paths_reach_keys_entries_by_index_and_by_name() {
        let doc = set(&[
            "train.epochs=5",
            "optimizers[0].lr=[1e-3, 3e-3]",
            "tasks[digits].dataset.label_noise.rate=0.2",
            "losses[focal].gamma=2",
        ])
        .unwrap();
        assert_eq!(doc["train"]["epochs"], Value::from(5));
        assert_eq!(doc["optimizers"][0]["lr"][1].as_f64(), Some(3e-3));
        assert_eq!(doc["tasks"][0]["dataset"]["label_noise"]["rate"].as_f64(), Some(0.2));
        assert_eq!((doc["losses"][1]["name"].as_str(), doc["losses"][1]["gamma"].as_u64()), (Some("focal"), Some(2)));
        // A label with `=` in it is a name, not the start of the value.
        let doc = set(&["optimizers[fast-lr=0.01].lr=0.1"]).unwrap();
        assert_eq!(doc["optimizers"][0]["lr"].as_f64(), Some(0.1));
    }

    #[test]
    fn bad_overrides_say_what_is_there() {
        let e = |s: &str| set(&[s]).err().unwrap().to_string();
        assert!(e("optimizers[3].lr=1").contains("`optimizers` has 1 entries (0..0); there is no [3]"), "{}", e("optimizers[3].lr=1"));
        assert!(e("tasks[digitz].x=1").contains("no entry named `digitz` (it has: digits)"));
        assert!(e("train.epochs").contains("expected PATH=VALUE"));
        assert!(e("train.epochs=").contains("no value"));
        assert!(e("losses.gamma=2").contains("`losses` is a list, not a mapping with `gamma`"));
        assert!(e("tasks[0.x=1").contains("`[` without `]`"));
    }
}
