//! Lookup by name in the static registries, with "did you mean" suggestions.
//!
//! Open sets (losses, optimizers, datasets, models, metrics) are sorted static slices of
//! `&Info` values; a test checks that every registry is sorted and unique.

use crate::error::{Error, Result};

/// Anything with a canonical registry name.
pub trait Named {
    fn name(&self) -> &'static str;
}

/// Edit distance between two strings: insertions, deletions, substitutions and swaps of two
/// adjacent characters each count 1 (optimal string alignment), so `sdg` is 1 from `sgd`.
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `name`, if it is close enough to be a plausible typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    if name.len() > 256 {
        return None;
    }
    let lower = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (levenshtein(&lower, c), c))
        .filter(|(d, c)| *d <= (c.len().max(3) / 3).max(2) || c.contains(lower.as_str()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Find `name` in `registry`; otherwise an input error that suggests the closest name and
/// says how to list them all. `kind` is singular (`loss`), `command` the listing command.
pub fn lookup<T: Named + ?Sized>(kind: &str, command: &str, registry: &[&'static T], name: &str) -> Result<&'static T> {
    if let Some(found) = registry.iter().find(|info| info.name() == name) {
        return Ok(*found);
    }
    let names: Vec<&str> = registry.iter().map(|info| info.name()).collect();
    let hint = match suggest(name, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`? "),
        None => String::new(),
    };
    let listing = if names.len() <= 8 {
        format!("allowed: {}", names.join(", "))
    } else {
        format!("`lossbench {command}` lists all {}", names.len())
    };
    Err(Error::input(format!("unknown {kind} `{}`; {hint}({listing})", crate::error::truncate(name, 60))))
}

/// Check that a registry is sorted by name and has no duplicates (used by tests).
pub fn check_sorted_unique<T: Named + ?Sized>(registry: &[&'static T]) -> std::result::Result<(), String> {
    for pair in registry.windows(2) {
        if pair[0].name() >= pair[1].name() {
            return Err(format!("registry not sorted/unique at `{}` / `{}`", pair[0].name(), pair[1].name()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(levenshtein("fcoal", "focal"), 1);
        assert_eq!(levenshtein("sdg", "sgd"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(suggest("fcoal", ["focal", "mse", "cross_entropy"]), Some("focal"));
        assert_eq!(suggest("crossentropy", ["focal", "cross_entropy"]), Some("cross_entropy"));
        assert_eq!(suggest("zzzzzzzz", ["focal", "mse"]), None);
    }
}

/// Documentation of one parameter of a registry entry (shown by `lossbench losses show`).
#[derive(Debug, Clone, Copy)]
pub struct ParamDoc {
    pub name: &'static str,
    pub meaning: &'static str,
    pub range: &'static str,
    pub default: &'static str,
}

/// Range checks that serde cannot express; run right after parsing.
pub trait Validate {
    fn validate(&self) -> Result<()> {
        Ok(())
    }
}

/// Parse a component's parameters (everything but `name` and `label`) into its own `Params`
/// type, which uses `deny_unknown_fields` and defaults, then range-check them. Returns the
/// parsed value and its canonical JSON (defaults filled in), which goes into run configs.
pub fn parse_params<P>(params: &serde_json::Value) -> Result<(P, serde_json::Value)>
where
    P: serde::de::DeserializeOwned + serde::Serialize + Validate,
{
    let value = if params.is_null() { serde_json::Value::Object(Default::default()) } else { params.clone() };
    let parsed: P = serde_json::from_value(value).map_err(serde_input_error)?;
    parsed.validate()?;
    let canonical = serde_json::to_value(&parsed).map_err(|e| Error::runtime(e.to_string()))?;
    Ok((parsed, canonical))
}

/// An input error from a serde_json error on a value that came from YAML: serde_json appends
/// "at line 0 column 0" to errors from `from_value`, a position that means nothing there.
pub fn serde_input_error(e: serde_json::Error) -> Error {
    let msg = e.to_string();
    Error::input(match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => &msg,
    })
}

/// Check `lo <= value <= hi` (inclusive bounds), naming the parameter on failure.
pub fn check_range(name: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if !value.is_finite() || value < lo || value > hi {
        return Err(Error::input(format!("parameter `{name}` = {value} is out of range; allowed: {lo} ≤ {name} ≤ {hi}")));
    }
    Ok(())
}

/// Parameters of components that have none (any key is rejected).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

impl Validate for NoParams {}

/// What a registry entry's `build` returns: the built component and its canonical parameters.
pub type Built<T> = Result<(std::sync::Arc<T>, serde_json::Value)>;
