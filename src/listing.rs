//! The registries' listings: `lossbench losses|datasets|models|optimizers|regularizers|metrics
//! [list [PATTERN] | show NAME]`, as text.

use crate::data::DATASETS;
use crate::error::Result;
use crate::losses::LOSSES;
use crate::metrics::METRICS;
use crate::models::MODELS;
use crate::optim::OPTIMIZERS;
use crate::registry::{lookup, ParamDoc};
use crate::regularizers::REGULARIZERS;

fn params_table(params: &[ParamDoc]) -> String {
    if params.is_empty() {
        return "  (no parameters)\n".into();
    }
    let mut out = String::new();
    for p in params {
        out.push_str(&format!("  {:<18} {}\n  {:<18} range: {}; default: {}\n", p.name, p.meaning, "", p.range, p.default));
    }
    out
}

/// Whether `name` matches a listing pattern: a glob with `*` (`*focal*`, `n*_rce`) or, without
/// `*`, a substring.
pub fn matches(name: &str, pattern: &Option<String>) -> bool {
    let Some(p) = pattern else { return true };
    if !p.contains('*') {
        return name.contains(p.as_str());
    }
    glob(p.as_bytes(), name.as_bytes())
}

/// Wildcard match with `*` (any run of characters), linear in the input: on a mismatch after a
/// `*`, retry with the star absorbing one more character.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// A recipe snippet for a loss with its default parameters.
fn yaml_snippet(l: &crate::losses::LossInfo) -> String {
    let (_, canonical) = match (l.build)(&serde_json::Value::Null) {
        Ok(built) => built,
        Err(_) => return format!("losses:\n  - {{ name: {} }}\n", l.name),
    };
    let mut parts = vec![format!("name: {}", l.name)];
    if let Some(map) = canonical.as_object() {
        for (k, v) in map {
            parts.push(format!("{k}: {v}"));
        }
    }
    format!("losses:\n  - {{ {} }}\n", parts.join(", "))
}

/// The losses whose names match `pattern`, one per line.
pub fn losses(pattern: &Option<String>) -> String {
    let shown: Vec<_> = LOSSES.iter().filter(|l| matches(l.name, pattern)).collect();
    let mut out = String::new();
    for l in &shown {
        out.push_str(&format!("{:<21} {:<15} {}\n", l.name, l.family.to_string(), l.formula));
    }
    out.push_str(&format!("{} of {} losses. `lossbench losses show NAME` for details.\n", shown.len(), LOSSES.len()));
    out
}

/// One loss in full.
pub fn loss(name: &str) -> Result<String> {
    let l = lookup("loss", "losses", LOSSES, name)?;
    let props: Vec<String> = l.props.iter().map(|p| format!("{p:?}")).collect();
    let inputs = crate::families::of(l.family).input_names().doc;
    Ok(format!(
        "{}  ({})\n  {}\n\nformula:   {}\ninputs:    {}\nreference: {}\nproperties: {}\n\nparameters:\n{}\nin a recipe:\n{}",
        l.name,
        l.family,
        l.summary,
        l.formula,
        inputs,
        l.reference,
        if props.is_empty() { "none declared".into() } else { props.join(", ") },
        params_table(l.params),
        yaml_snippet(l)
    ))
}

/// The datasets and generators whose names match `pattern`, one per line.
pub fn datasets(pattern: &Option<String>) -> String {
    DATASETS.iter().filter(|d| matches(d.name, pattern)).map(|d| format!("{:<14} {:<28} {}\n", d.name, d.family, d.summary)).collect()
}

/// One dataset in full.
pub fn dataset(name: &str) -> Result<String> {
    let d = lookup("dataset", "datasets", DATASETS, name)?;
    Ok(format!(
        "{}  ({})\n  {}\nreference: {}\n\nparameters:\n{}\ntransforms (any dataset): split {{val, test, stratify}}, standardize, standardize_target,\n  label_noise {{kind: symmetric|uniform|pair|asymmetric|class_dependent, rate}}, long_tail {{imbalance, profile: exp|step}}\n",
        d.name,
        d.family,
        d.summary,
        d.reference,
        params_table(d.params)
    ))
}

/// The models whose names match `pattern`, one per line.
pub fn models(pattern: &Option<String>) -> String {
    MODELS.iter().filter(|m| matches(m.name, pattern)).map(|m| format!("{:<10} {}\n", m.name, m.summary)).collect()
}

/// One model in full.
pub fn model(name: &str) -> Result<String> {
    let m = lookup("model", "models", MODELS, name)?;
    Ok(format!("{}\n  {}\n\nparameters:\n{}", m.name, m.summary, params_table(m.params)))
}

/// The optimizers and training procedures whose names match `pattern`, one per line.
pub fn optimizers(pattern: &Option<String>) -> String {
    OPTIMIZERS.iter().filter(|o| matches(o.name, pattern)).map(|o| format!("{:<17} {}\n", o.name, o.summary)).collect()
}

/// One optimizer in full.
pub fn optimizer(name: &str) -> Result<String> {
    let o = lookup("optimizer", "optimizers", OPTIMIZERS, name)?;
    Ok(format!(
        "{}\n  {}\n\nupdate:    {}\nreference: {}\n\nparameters:\n{}\nschedules (train.schedule): constant, cosine {{min_factor}}, step {{every, gamma}}, one_cycle {{pct_start, div_factor, final_div_factor}}; warm-up: train.warmup (steps); clipping: train.grad_clip\n",
        o.name,
        o.summary,
        o.update,
        o.reference,
        params_table(o.params)
    ))
}

/// The regularizers whose names match `pattern`, one per line.
pub fn regularizers(pattern: &Option<String>) -> String {
    REGULARIZERS
        .iter()
        .filter(|r| matches(r.name, pattern))
        .map(|r| format!("{:<22} {:<15} {}\n", r.name, r.kind.as_str(), r.summary))
        .collect()
}

/// One regularizer in full.
pub fn regularizer(name: &str) -> Result<String> {
    let r = lookup("regularizer", "regularizers", REGULARIZERS, name)?;
    let families = if r.families.is_empty() {
        "every task family".to_string()
    } else {
        r.families.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(", ")
    };
    let example = match r.params.first() {
        Some(p) => format!("{{name: {}, {}: {}}}", r.name, p.name, p.default),
        None => r.name.to_string(),
    };
    Ok(format!(
        "{}  ({}; {})\n  {}\n\nformula:   {}\nreference: {}\n\nparameters:\n{}\nin a recipe (top level: every run; in a task: its runs; in a loss entry: that entry's runs):\n  regularizers: [{}]\nlogged per epoch as the train-split metric `reg_<label>`\n",
        r.name,
        r.kind.as_str(),
        families,
        r.summary,
        r.formula,
        r.reference,
        params_table(r.params),
        example
    ))
}

/// The metrics whose names match `pattern`, one per line.
pub fn metrics(pattern: &Option<String>) -> String {
    METRICS
        .iter()
        .filter(|m| matches(m.name, pattern))
        .map(|m| {
            format!(
                "{:<18} {:<15} {:<7} {}\n",
                m.name,
                m.family.to_string(),
                if m.higher_is_better { "higher" } else { "lower" },
                m.summary
            )
        })
        .collect()
}

/// One metric in full.
pub fn metric(name: &str) -> Result<String> {
    let m = lookup("metric", "metrics", METRICS, name)?;
    Ok(format!(
        "{}  ({}, {} is better)\n  {}\n\nparameters:\n{}",
        m.name,
        m.family,
        if m.higher_is_better { "higher" } else { "lower" },
        m.summary,
        params_table(m.params)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_patterns_are_globs_or_substrings() {
        let p = |s: &str| Some(s.to_string());
        assert!(matches("poly1_focal", &p("*focal*")));
        assert!(matches("focal", &p("*focal*")));
        assert!(matches("nfl_rce", &p("n*_rce")));
        assert!(!matches("nce_mae", &p("n*_rce")));
        assert!(matches("dual_focal", &p("focal")));
        assert!(!matches("focal", &p("focal?")));
        // Many stars stay linear (the recursive matcher took exponential time here).
        let start = std::time::Instant::now();
        assert!(!matches("cross_entropy", &p(&format!("{}x", "*".repeat(40)))));
        assert!(start.elapsed().as_secs_f64() < 1.0);
    }
}
