//! lossbench's statistics against SciPy 1.17 / statsmodels (tests/fixtures/stats.json, from
//! scripts/make_stats_fixtures.py): Wilcoxon signed-rank (exact, permutation and normal
//! regimes), Friedman, Holm, Nemenyi critical values, and the percentile bootstrap.

use lossbench::stats::{bootstrap_ci, friedman, holm, nemenyi_cd, wilcoxon};

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/stats.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(a: f64, b: f64, rtol: f64) -> bool {
    (a - b).abs() <= rtol * b.abs().max(1e-300) || (a - b).abs() < 1e-15
}

#[test]
fn wilcoxon_matches_scipy() {
    let fx = fixture();
    let cases = fx["wilcoxon"].as_array().unwrap();
    let mut methods = std::collections::BTreeSet::new();
    for case in cases {
        let d = floats(&case["d"]);
        let w = wilcoxon(&d).unwrap();
        methods.insert(format!("{:?}", w.method));
        let (stat, p) = (case["statistic"].as_f64().unwrap(), case["pvalue"].as_f64().unwrap());
        assert!(close(w.statistic, stat, 1e-12), "{d:?}: statistic {} vs SciPy {stat}", w.statistic);
        assert!(close(w.p_value, p, 1e-9), "{d:?}: p {} ({:?}) vs SciPy {p}", w.p_value, w.method);
    }
    assert!(cases.len() >= 50);
    assert_eq!(methods.len(), 3, "every regime is exercised: {methods:?}");
}

#[test]
fn friedman_holm_and_nemenyi_match_scipy_and_statsmodels() {
    let fx = fixture();
    for case in fx["friedman"].as_array().unwrap() {
        let table: Vec<Vec<f64>> = case["table"].as_array().unwrap().iter().map(floats).collect();
        let f = friedman(&table).unwrap();
        let (stat, p) = (case["statistic"].as_f64().unwrap(), case["pvalue"].as_f64().unwrap());
        assert!(close(f.statistic, stat, 1e-10), "{table:?}: {} vs {stat}", f.statistic);
        assert!(close(f.p_value, p, 1e-8), "{table:?}: p {} vs {p}", f.p_value);
    }
    for case in fx["holm"].as_array().unwrap() {
        let got = holm(&floats(&case["p"]));
        for (a, b) in got.iter().zip(floats(&case["adjusted"])) {
            assert!(close(*a, b, 1e-12), "{got:?}");
        }
    }
    for (alpha, key) in [(0.05, "0.05"), (0.10, "0.10")] {
        for (i, q) in floats(&fx["nemenyi_q"][key]).iter().enumerate() {
            let k = i + 2;
            // CD with N = k(k+1)/6 tasks is q itself.
            let n = (k * (k + 1)) as f64 / 6.0;
            let cd = nemenyi_cd(k, 1, alpha).unwrap() / n.sqrt();
            assert!(close(cd, *q, 1e-5), "k = {k}: {cd} vs {q}");
        }
    }
}

/// The percentile bootstrap is reproducible with its seed and lands within Monte-Carlo error
/// of SciPy's (100 000 resamples there, 50 000 here).
#[test]
fn bootstrap_is_seeded_and_close_to_scipy() {
    let fx = fixture();
    for case in fx["bootstrap"].as_array().unwrap() {
        let x = floats(&case["x"]);
        let ci = bootstrap_ci(&x, 0.95, 50_000, 3).unwrap();
        assert_eq!(ci, bootstrap_ci(&x, 0.95, 50_000, 3).unwrap());
        let (lo, hi) = (case["low"].as_f64().unwrap(), case["high"].as_f64().unwrap());
        let spread = hi - lo;
        assert!((ci.0 - lo).abs() < 0.03 * spread && (ci.1 - hi).abs() < 0.03 * spread, "{x:?}: {ci:?} vs ({lo}, {hi})");
    }
}
