//! Every loss against PyTorch (float64 references: tests/fixtures/losses.json from
//! scripts/make_loss_fixtures.py, tests/fixtures/losses-metric-learning.json from
//! scripts/make_metric_learning_fixtures.py with pytorch-metric-learning, tests/fixtures/losses-ranking.json
//! from scripts/make_ranking_fixtures.py with allRank's code), evaluated in f32
//! through the same code path as `lossbench losses eval`. Tolerance: relative 2e-4 with an
//! absolute floor for values near 0.

use candle_core::DType;
use lossbench::losses::eval::evaluate;
use lossbench::losses::LOSSES;

fn flat(v: &serde_json::Value) -> Vec<f64> {
    match v {
        serde_json::Value::Array(items) => items.iter().flat_map(flat).collect(),
        other => vec![other.as_f64().expect("number")],
    }
}

fn close(ours: f64, theirs: f64, scale: f64) -> bool {
    (ours - theirs).abs() <= 2e-4 * theirs.abs() + 1e-6 * scale.max(1.0)
}

const FIXTURES: &[&str] =
    &["tests/fixtures/losses.json", "tests/fixtures/losses-metric-learning.json", "tests/fixtures/losses-ranking.json"];

/// The cases of every fixture file.
fn cases() -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for path in FIXTURES {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let fixture: serde_json::Value = serde_json::from_str(&text).expect("json");
        all.extend(fixture["cases"].as_array().expect("cases").iter().cloned());
    }
    all
}

#[test]
fn every_fixture_case_matches_pytorch() {
    let mut checked = 0;
    for case in &cases() {
        let name = case["loss"].as_str().unwrap();
        let label = format!("{name} {} {}", case["params"], case["case"]);
        let out = evaluate(name, &case["params"], &case["inputs"], DType::F32).unwrap_or_else(|e| panic!("{label}: {e}"));
        let mean = case["mean"].as_f64().unwrap();
        assert!(close(out.loss, mean, mean.abs()), "{label}: mean {} vs torch {mean}", out.loss);
        // Batch-level losses (e.g. auc_pairwise) have a reference for the batch value only.
        let per = if case["per_example"].is_null() { Vec::new() } else { flat(&case["per_example"]) };
        let scale = per.iter().fold(0f64, |m, v| m.max(v.abs()));
        for (a, b) in out.per_example.iter().zip(&per) {
            assert!(close(*a, *b, scale), "{label}: per-example {a} vs torch {b}");
        }
        for (input, expected) in case["grads"].as_object().unwrap() {
            let theirs = flat(expected);
            let ours = flat(&out.grads[input]);
            assert_eq!(ours.len(), theirs.len(), "{label}");
            let scale = theirs.iter().fold(0f64, |m, v| m.max(v.abs()));
            for (a, b) in ours.iter().zip(&theirs) {
                assert!(close(*a, *b, scale), "{label}: grad {input} {a} vs torch {b}");
            }
        }
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} fixture cases");
}

#[test]
fn every_registered_loss_has_fixture_cases() {
    let cases = cases();
    for info in LOSSES.iter().filter(|i| !i.props.contains(&lossbench::losses::Prop::NeedsModel)) {
        let n = cases.iter().filter(|c| c["loss"] == info.name).count();
        assert!(n >= 3, "loss `{}` has {n} fixture cases; add it to scripts/make_loss_fixtures.py", info.name);
    }
}
