//! The metric-learning family end to end: a recipe trains and records retrieval metrics on
//! classes the model never saw, resolve refuses what does not fit, and `losses eval` takes
//! the family's named inputs.

mod common;

use common::lossbench;

const RECIPE: &str = "name: ml\nseeds: [0]\ntrain: {epochs: 2, batch_size: 32}\ntasks:\n  - name: d\n    dataset: {name: digits_dml, per_class: 4}\n    model: {name: mlp, hidden: [32]}\nlosses: [contrastive, triplet]\n";

#[test]
fn a_recipe_trains_and_retrieves_on_held_out_classes() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("ml.yaml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let out = dir.path().join("out");
    lossbench().args(["train", recipe.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]).assert().success();
    for loss in ["contrastive", "triplet"] {
        let csv = std::fs::read_to_string(out.join(format!("d/{loss}/adamw/seed-0/metrics.csv"))).unwrap();
        for metric in ["recall_at_k", "map_at_r", "nmi"] {
            let row =
                csv.lines().find(|l| l.starts_with(&format!("2,test,{metric},"))).unwrap_or_else(|| panic!("{loss} {metric}:\n{csv}"));
            let v: f64 = row.rsplit(',').next().unwrap().parse().unwrap();
            assert!((0.0..=1.0).contains(&v) && v > 0.2, "{loss} {metric} = {v}");
        }
        let train_loss = csv.lines().find(|l| l.starts_with("2,train,loss,")).unwrap();
        assert!(train_loss.rsplit(',').next().unwrap().parse::<f64>().unwrap().is_finite());
    }
}

#[test]
fn resolve_refuses_what_does_not_fit_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            RECIPE.replace("losses: [contrastive, triplet]", "losses: [contrastive]\nregularizers: [mixup]"),
            "regularizer `mixup` does not fit metric-learning tasks",
        ),
        (
            RECIPE.replace("losses: [contrastive, triplet]", "losses: [cross_entropy]"),
            "loss `cross_entropy` needs a classification task, but task `d` is metric-learning",
        ),
        (
            RECIPE.replace("    model: {name: mlp, hidden: [32]}", "    model: {name: mlp, hidden: [32]}\n    metrics: [accuracy]"),
            "metric `accuracy` is for classification tasks, but task `d` is metric-learning",
        ),
        (
            RECIPE.replace("{name: digits_dml, per_class: 4}", "{name: digits_dml, label_noise: {kind: symmetric, rate: 0.2}}"),
            "label_noise needs a classification dataset",
        ),
        (RECIPE.replace("batch_size: 32", "batch_size: 4096"), "triplet terms"),
        (
            RECIPE.replace("losses: [contrastive, triplet]", "losses: [{name: icnn, shots: 4}]"),
            "loss `icnn` takes the first shots = 4 rows of each class in a batch as support and needs queries besides, but task `d` draws per_class = 4",
        ),
    ];
    for (text, expected) in cases {
        let recipe = dir.path().join("bad.yaml");
        std::fs::write(&recipe, text).unwrap();
        let out = lossbench().args(["check", recipe.to_str().unwrap()]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
    }
}

#[test]
fn losses_eval_takes_embeddings_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("batch.json");
    std::fs::write(&inputs, r#"{"embeddings": [[1, 0], [0.8, 0.6], [0, 1], [-0.6, 0.8]], "labels": [0, 0, 1, 1]}"#).unwrap();
    let out = lossbench().args(["losses", "eval", "contrastive", "--inputs", inputs.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Positive pairs at distance √(2 − 2·0.8) = 0.632 (×4 ordered); negatives: (0,2) √2, (0,3)
    // √3.2, (1,2) √0.8, (1,3) √2 — only √0.8 = 0.894 is under the margin 1.
    let expected = (2.0f64 - 1.6).sqrt() + (1.0 - 0.8f64.sqrt());
    assert!((json["loss"].as_f64().unwrap() - expected).abs() < 1e-5, "{json}");
    assert_eq!(json["grads"]["embeddings"].as_array().unwrap().len(), 4);
    let bad = lossbench().args(["losses", "eval", "triplet", "--inputs", inputs.to_str().unwrap(), "--set", "margin=-1"]).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("margin"));
}

#[test]
fn ge2e_trains_its_scale_and_offset_and_saves_them_after_the_weights() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("ge2e.yaml");
    let text = RECIPE
        .replace("losses: [contrastive, triplet]", "losses: [ge2e_softmax, ge2e_contrast]")
        .replace("per_class: 4", "per_class: 10")
        .replace("batch_size: 32", "batch_size: 50, save_weights: true");
    std::fs::write(&recipe, text).unwrap();
    let out = dir.path().join("out");
    lossbench().args(["train", recipe.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]).assert().success();
    for loss in ["ge2e_softmax", "ge2e_contrast"] {
        let run = out.join(format!("d/{loss}/adamw/seed-0"));
        let record = lossbench::run::read_record(&run).unwrap();
        let weights = lossbench::run::read_weights(&run, &record).unwrap();
        // 64-32-32 MLP: two weight matrices and two biases, then the loss's w and b.
        assert_eq!(weights.len(), 6, "{loss}");
        let scalar =
            |t: &candle_core::Tensor| t.flatten_all().unwrap().to_dtype(candle_core::DType::F64).unwrap().to_vec1::<f64>().unwrap()[0];
        let (w, b) = (scalar(&weights[4]), scalar(&weights[5]));
        assert!((w - 10.0).abs() > 1e-4 && (b + 5.0).abs() > 1e-4, "{loss}: w = {w}, b = {b} did not move");
        // The landscape of the run restores them (its weights file fits the run).
        lossbench()
            .args(["landscape", run.to_str().unwrap(), "--points", "3", "--out", dir.path().join("ls").to_str().unwrap()])
            .assert()
            .success();
    }
}

#[test]
fn episodes_train_and_few_shot_accuracy_is_reported_with_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("fs.yaml");
    let text = RECIPE
        .replace("per_class: 4}", "per_class: 6}")
        .replace("batch_size: 32", "batch_size: 18")
        .replace("losses: [contrastive, triplet]", "losses: [{name: prototypical, shots: 3}, {name: icnn, shots: 3, cross_entropy: true}]")
        .replace(
            "    model: {name: mlp, hidden: [32]}",
            "    model: {name: mlp, hidden: [32]}\n    metrics: [{name: few_shot_accuracy, episodes: 100}, {name: few_shot_ci95, episodes: 100}, utilization]",
        );
    std::fs::write(&recipe, text).unwrap();
    let out = dir.path().join("out");
    lossbench().args(["train", recipe.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]).assert().success();
    for loss in ["prototypical", "icnn"] {
        let csv = std::fs::read_to_string(out.join(format!("d/{loss}/adamw/seed-0/metrics.csv"))).unwrap();
        let value = |metric: &str| -> f64 {
            let row =
                csv.lines().find(|l| l.starts_with(&format!("2,test,{metric},"))).unwrap_or_else(|| panic!("{loss} {metric}:\n{csv}"));
            row.rsplit(',').next().unwrap().parse().unwrap()
        };
        // 5-way on the five held-out classes: far above chance (0.2), a narrow interval.
        let (acc, half) = (value("few_shot_accuracy"), value("few_shot_ci95"));
        assert!(acc > 0.35 && acc <= 1.0, "{loss}: {acc}");
        assert!(half > 0.0 && half < 0.1, "{loss}: ±{half}");
        // Held-out classes lie farther from the training embeddings than the train rows do.
        let train_row = csv.lines().find(|l| l.starts_with("2,train,utilization,")).unwrap();
        let on_train: f64 = train_row.rsplit(',').next().unwrap().parse().unwrap();
        assert!(value("utilization") > 0.0 && on_train > 0.0, "{loss}");
    }
}
