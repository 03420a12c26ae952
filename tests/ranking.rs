//! The ranking family end to end: a recipe of lists trains and its held-out NDCG rises above
//! the untrained scorer's, resolve refuses what does not fit lists, and `losses eval` takes
//! scores and relevance with padding.

mod common;

use common::lossbench;

const RECIPE: &str = "name: rk\nseeds: [0]\ntrain: {epochs: 8, batch_size: 16}\ntasks:\n  - name: q\n    dataset: {name: ltr_synth, queries: 200, items: 12, min_items: 6, features: 4, split: {val: 0.2, test: 0.2}}\n    metrics: [{name: ndcg_at_k, label: ndcg_at_5, k: 5}, mrr, recall_at_k_rec]\nlosses: [neural_ndcg, listnet, ranknet]\noptimizers: [{name: adam, lr: 0.01}]\n";

/// `(epoch, value)` of every `split,metric` row of a run's metrics.csv.
fn series(csv: &str, split: &str, metric: &str) -> Vec<(usize, f64)> {
    csv.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f.len() == 4 && f[1] == split && f[2] == metric).then(|| (f[0].parse().unwrap(), f[3].parse().unwrap()))
        })
        .collect()
}

#[test]
fn lists_train_and_held_out_ndcg_rises_above_the_untrained_scorer() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("rk.yaml");
    std::fs::write(&recipe, RECIPE).unwrap();
    let out = dir.path().join("out");
    lossbench().args(["train", recipe.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]).assert().success();
    for loss in ["neural_ndcg", "listnet", "ranknet"] {
        let csv = std::fs::read_to_string(out.join(format!("q/{loss}/adam/seed-0/metrics.csv"))).unwrap();
        let ndcg = series(&csv, "test", "ndcg_at_5");
        let (first, last) = (ndcg.first().unwrap(), ndcg.last().unwrap());
        assert_eq!(last.0, 8, "{loss}: {ndcg:?}");
        assert!(last.1 > first.1 + 0.05 && last.1 <= 1.0, "{loss}: test NDCG@5 {ndcg:?}");
        for metric in ["mrr", "recall_at_k_rec"] {
            let v = series(&csv, "test", metric).last().unwrap().1;
            assert!((0.0..=1.0).contains(&v), "{loss} {metric} = {v}");
        }
        assert!(series(&csv, "train", "loss").iter().all(|(_, v)| v.is_finite()), "{loss}");
    }
}

#[test]
fn resolve_refuses_what_does_not_fit_lists_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            RECIPE.replace("losses: [neural_ndcg, listnet, ranknet]", "losses: [cross_entropy]"),
            "loss `cross_entropy` needs a classification task, but task `q` is ranking",
        ),
        (
            RECIPE.replace("[{name: ndcg_at_k, label: ndcg_at_5, k: 5}, mrr, recall_at_k_rec]", "[accuracy]"),
            "metric `accuracy` is for classification tasks, but task `q` is ranking",
        ),
        (RECIPE.replace("    metrics:", "    model: {name: mlp}\n    metrics:"), "use `item_mlp`"),
        (RECIPE.replace("features: 4,", "features: 4, standardize: true,"), "standardize: true is not defined for lists"),
        (
            RECIPE.replace("losses: [neural_ndcg, listnet, ranknet]", "losses: [neural_ndcg]\nregularizers: [mixup]"),
            "regularizer `mixup` does not fit ranking tasks",
        ),
        (RECIPE.replace("min_items: 6", "min_items: 13"), "min_items = 13: must be between 1 and items = 12"),
        (RECIPE.replace("losses: [neural_ndcg, listnet, ranknet]", "losses: [{name: psl, method: 3}]"), "must be 1 (PSL1) or 2 (PSL2)"),
        (
            RECIPE.replace("queries: 200, items: 12, min_items: 6", "queries: 20, items: 9000, min_items: 6"),
            "loss `neural_ndcg` at batch_size 16 on lists of 9000 items (task `q`), beside the rest of the run, needs about",
        ),
    ];
    for (text, expected) in cases {
        let recipe = dir.path().join("bad.yaml");
        std::fs::write(&recipe, text).unwrap();
        let out = lossbench().args(["check", recipe.to_str().unwrap(), "--max-memory", "8G"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
    }
}

#[test]
fn losses_eval_takes_scores_and_relevance_and_padding_gets_no_gradient() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("lists.json");
    std::fs::write(&inputs, r#"{"scores": [[2.0, 0.5, 9.0], [0.1, 0.3, -0.2]], "relevance": [[2, 1, -1], [0, 1, 0]]}"#).unwrap();
    for loss in ["ranknet", "listnet", "approx_ndcg", "neural_ndcg", "neural_ndcg_transposed", "softmax_rec", "bpr", "psl"] {
        let out = lossbench().args(["losses", "eval", loss, "--inputs", inputs.to_str().unwrap(), "--dtype", "f64"]).output().unwrap();
        assert!(out.status.success(), "{loss}: {}", String::from_utf8_lossy(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(json["loss"].as_f64().unwrap().is_finite(), "{loss}: {json}");
        let g = &json["grads"]["scores"];
        assert_eq!(g[0][2].as_f64().unwrap(), 0.0, "{loss}: the padding item's score has no gradient: {json}");
        assert!(g[0][0].as_f64().unwrap() != 0.0 || g[1][1].as_f64().unwrap() != 0.0, "{loss}: {json}");
    }
    // RankNet by hand: the batch's two pairs, (2 > 1) in list 1 and (1 > 0, 1 > 0) in list 2.
    let out = lossbench().args(["losses", "eval", "ranknet", "--inputs", inputs.to_str().unwrap(), "--dtype", "f64"]).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let sp = |x: f64| (1.0 + (-x).exp()).ln();
    let expected = (sp(1.5) + sp(0.2) + sp(0.5)) / 3.0;
    assert!((json["loss"].as_f64().unwrap() - expected).abs() < 1e-12, "{json} vs {expected}");
    std::fs::write(&inputs, r#"{"scores": [[1, 2]], "relevance": [[1, -2]]}"#).unwrap();
    let bad = lossbench().args(["losses", "eval", "listnet", "--inputs", inputs.to_str().unwrap()]).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("−1 on padding items"), "{}", String::from_utf8_lossy(&bad.stderr));
}

#[test]
fn recommendation_trains_on_sampled_negatives_and_ranks_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = dir.path().join("rec.yaml");
    let text = "name: rec\nseeds: [0]\ntrain: {epochs: 10, batch_size: 32}\ntasks:\n  - name: r\n    dataset: {name: recsys_synth, users: 60, items: 80, positives: 10, negatives: 8, false_negatives: 0.2}\n    metrics: [{name: ndcg_at_k, label: ndcg_at_10, k: 10}, recall_at_k_rec]\nlosses: [softmax_rec, {name: psl, tau: 2.0, tau_star: 0.1}, bpr, listnet]\noptimizers: [{name: adam, lr: 0.02}]\n";
    std::fs::write(&recipe, text).unwrap();
    let check = lossbench().args(["check", recipe.to_str().unwrap()]).output().unwrap();
    let plan = String::from_utf8_lossy(&check.stdout);
    assert!(plan.contains("60 users × 80 items") && plan.contains("model dot_embed"), "{plan}");
    let out = dir.path().join("out");
    lossbench().args(["train", recipe.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]).assert().success();
    for loss in ["softmax_rec", "psl", "bpr", "listnet"] {
        let csv = std::fs::read_to_string(out.join(format!("r/{loss}/adam/seed-0/metrics.csv"))).unwrap();
        let ndcg = series(&csv, "test", "ndcg_at_10");
        let (first, last) = (ndcg.first().unwrap(), ndcg.last().unwrap());
        assert!(last.1 > first.1 + 0.05 && last.1 <= 1.0, "{loss}: test NDCG@10 {ndcg:?}");
        assert!(series(&csv, "test", "loss").iter().all(|(_, v)| v.is_finite()), "{loss}");
        assert!(series(&csv, "val", "ndcg_at_10").is_empty(), "{loss}: recsys_synth has no validation split");
    }
}

#[test]
fn a_letor_file_trains_and_its_digest_joins_the_run() {
    let dir = tempfile::tempdir().unwrap();
    // 40 queries of 3–5 documents; relevance follows feature 1, feature 3 is noise; qids are
    // not contiguous in the file.
    let mut text = String::new();
    for line in 0..180 {
        let (q, j) = (line % 40, line / 40);
        if j >= 3 + q % 4 {
            continue;
        }
        let f1 = ((line * 37) % 11) as f64 / 10.0;
        let rel = (f1 * 4.0).round();
        text.push_str(&format!("{rel} qid:{q} 1:{f1} 3:{} # d{line}\n", ((line * 53) % 7) as f64 / 7.0));
    }
    std::fs::write(dir.path().join("train.txt"), &text).unwrap();
    let recipe = dir.path().join("letor.yaml");
    let yaml = "name: letor\nseeds: [0]\ntrain: {epochs: 30, batch_size: 8}\ntasks:\n  - name: f\n    dataset: {name: letor, path: train.txt, split: {val: 0.0, test: 0.25}}\n    metrics: [ndcg_at_k]\nlosses: [listnet]\noptimizers: [{name: adam, lr: 0.05}]\n";
    std::fs::write(&recipe, yaml).unwrap();
    let check = lossbench().args(["check", recipe.to_str().unwrap()]).output().unwrap();
    let plan = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success() && plan.contains("30 / 0 / 10 lists") && plan.contains("lists of 5 items × 3 features"), "{plan}");
    let out = dir.path().join("out");
    lossbench().args(["train", recipe.to_str().unwrap(), "--quiet", "--out", out.to_str().unwrap()]).assert().success();
    let run = out.join("f/listnet/adam/seed-0");
    let ndcg = series(&std::fs::read_to_string(run.join("metrics.csv")).unwrap(), "test", "ndcg_at_k");
    assert!(ndcg.last().unwrap().1 > 0.95, "relevance follows feature 1: {ndcg:?}");
    let config = std::fs::read_to_string(run.join("run.json")).unwrap();
    assert!(config.contains("\"sha256\""), "{config}");
    std::fs::write(dir.path().join("train.txt"), "1 qid:1 1:0\n0 qid:1 0:2\n").unwrap();
    let bad = lossbench().args(["check", recipe.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("train.txt:2: feature index `0` must be an integer"), "{err}");
}
