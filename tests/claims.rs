//! The claims registry end to end: every shipped claim file runs (`--smoke`), the table names
//! each contrast with its verdict, a rerun gives the same `claims.csv` bytes, a budget leaves
//! claims unfinished and a rerun resumes them, `--sensitivity` reruns the neighbours of a
//! protocol, and bad claim files or ids are clear errors.

mod common;

use common::lossbench;

#[test]
fn every_shipped_claim_runs_and_a_rerun_gives_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("claims");
    let run = || {
        // All shipped claims: more than the shared two-minute timeout on a slow machine.
        lossbench()
            .timeout(std::time::Duration::from_secs(900))
            .args(["claims", "run", "--smoke", "--long", "--quiet", "--jobs", "2", "--out", out.to_str().unwrap()])
            .assert()
            .success()
    };
    run();
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    let files = std::fs::read_dir("recipes/claims").unwrap().count();
    let claims: std::collections::BTreeSet<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
    assert_eq!(claims.len(), files, "{csv}");
    for line in csv.lines().skip(1) {
        assert!(line.split(',').nth(1) == Some("protocol"), "{line}");
        let outcome = line.rsplit(',').next().unwrap();
        // Two seeds decide nothing: a smoke run is inconclusive everywhere.
        assert_eq!(outcome, "inconclusive", "{line}");
    }
    let md = std::fs::read_to_string(out.join("claims.md")).unwrap();
    assert!(md.contains("Smoke run") && md.contains("## H32") && md.contains("| partial_fc_r0.1 | full_softmax |"), "{md}");
    // Resumed: nothing retrains, and the table is the same bytes.
    run();
    assert_eq!(std::fs::read_to_string(out.join("claims.csv")).unwrap(), csv);
}

#[test]
fn bad_claims_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let recipe = "name: c\nseeds: [0, 1, 2, 3, 4, 5]\ntrain: {epochs: 1}\ntasks:\n  - name: t\n    dataset: {name: blobs, n: 60, classes: 3}\nlosses: [cross_entropy, focal]\n";
    let claim = "claim:\n  id: H9\n  paper: {seed: S1, title: T, venue: V}\n  statement: s\n  metric: accuracy\n  expect: better\n";
    let cases = [
        (
            "  contrasts: [{method: focal, baseline: mse}]\n",
            "claim.contrasts names `mse`, not a method of the recipe (cross_entropy, focal",
        ),
        ("  contrasts: [{method: focal, baseline: cross_entropy}]\n  rope: -1\n", "claim.rope"),
        (
            "  contrasts: [{method: focal, baseline: cross_entropy}]\n  sensitivity: [{label: lr_x2}]\n",
            "claim.sensitivity `lr_x2`: give `lr` and/or `epochs`",
        ),
        (
            "  contrasts: [{method: focal, baseline: cross_entropy}]\n  sensitivity: [{label: a, lr: 2}, {label: a, epochs: 0.5}]\n",
            "label `a` is used twice",
        ),
    ];
    for (tail, expected) in cases {
        std::fs::write(dir.path().join("H9-x.yaml"), format!("{recipe}{claim}{tail}")).unwrap();
        let out = lossbench()
            .args(["claims", "run", "--quiet", "--dir", dir.path().to_str().unwrap(), "--out", dir.path().join("o").to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
    }
    let out = lossbench().args(["claims", "show", "H99"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no claim `H99`") && err.contains("known: H1, H2"), "{err}");
}

#[test]
fn a_smoke_run_goes_to_its_own_folder() {
    let dir = tempfile::tempdir().unwrap();
    let claims = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("recipes/claims");
    lossbench()
        .current_dir(dir.path())
        .args(["claims", "run", "--smoke", "--quiet", "--only", "H44", "--dir", claims.to_str().unwrap()])
        .assert()
        .success();
    assert!(dir.path().join("results/claims-smoke/claims.csv").is_file());
    assert!(!dir.path().join("results/claims").exists());
}

/// A claim file in `dir` with two losses over six seeds of a small blobs task and the given
/// extra lines of its claim block.
fn tiny_claim(dir: &std::path::Path, extra: &str) {
    let text = format!(
        "name: tiny\nseeds: [0, 1, 2, 3, 4, 5]\ntrain: {{epochs: 2}}\ntasks:\n  - name: t\n    dataset: {{name: blobs, n: 120, classes: 3}}\nlosses: [cross_entropy, focal]\noptimizers: [{{name: sgd, lr: 0.1}}]\nclaim:\n  id: H9\n  paper: {{seed: S1, title: T, venue: V}}\n  statement: s\n  metric: accuracy\n  expect: better\n  contrasts: [{{method: focal, baseline: cross_entropy}}]\n{extra}"
    );
    std::fs::write(dir.join("H9-tiny.yaml"), text).unwrap();
}

#[test]
fn a_spent_budget_leaves_claims_unfinished_and_a_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    tiny_claim(dir.path(), "");
    let out = dir.path().join("o");
    let run = |budget: &[&str]| {
        let mut args = vec!["claims", "run", "--dir", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()];
        args.extend(budget);
        lossbench().args(args).output().unwrap()
    };
    // A millisecond starts at most the first run of the twelve.
    let spent = run(&["--budget", "0.001s"]);
    assert!(spent.status.success(), "{}", String::from_utf8_lossy(&spent.stderr));
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    assert!(csv.lines().nth(1).unwrap().ends_with(",unfinished"), "{csv}");
    assert!(String::from_utf8_lossy(&spent.stderr).contains("budget spent: H9 unfinished"));
    assert!(std::fs::read_to_string(out.join("claims.md")).unwrap().contains("## H9 — unfinished"));
    let done = run(&[]);
    assert!(done.status.success());
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    assert!(!csv.contains("unfinished") && csv.lines().nth(1).unwrap().contains(",6,"), "{csv}");
    let bad = lossbench().args(["claims", "run", "--budget", "20"]).output().unwrap();
    assert!(String::from_utf8_lossy(&bad.stderr).contains("allowed: a duration such as 90s, 20m, 2h or 1h30m"));
}

#[test]
fn sensitivity_reruns_each_neighbour_and_labels_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    tiny_claim(dir.path(), "  sensitivity:\n    - { label: lr_x0.5, lr: 0.5 }\n    - { label: epochs_x2, epochs: 2 }\n");
    let out = dir.path().join("o");
    let args = ["claims", "run", "--sensitivity", "--quiet", "--dir", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()];
    lossbench().args(args).assert().success();
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    let points: Vec<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').nth(1)).collect();
    assert_eq!(points, ["protocol", "lr_x0.5", "epochs_x2"], "{csv}");
    let md = std::fs::read_to_string(out.join("claims.md")).unwrap();
    assert!(md.contains("| lr_x0.5 |") && (md.contains("## H9 — ") && (md.contains("(robust)") || md.contains("(fragile)"))), "{md}");
    // Each neighbour trained its own runs: learning rate halved, epochs doubled.
    let record = |path: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(out.join(path).join("t/focal/sgd/seed-0/run.json")).unwrap()).unwrap()
    };
    assert_eq!(record("H9")["config"]["optimizer"]["lr"], serde_json::json!(0.1));
    assert_eq!(record("sensitivity/H9/lr_x0.5")["config"]["optimizer"]["lr"], serde_json::json!(0.05));
    assert_eq!(record("sensitivity/H9/epochs_x2")["config"]["train"]["epochs"], serde_json::json!(4));
}

/// A contrast may read its own points: one method against itself at epoch 0 (paired by seed,
/// its Δ the mean of the per-seed differences read back from metrics.csv), or against a
/// baseline on another task and split; the table names each side's reading.
#[test]
fn contrasts_read_their_own_epochs_tasks_and_splits() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: own\nseeds: [0, 1, 2, 3, 4, 5]\ntrain: {epochs: 2}\ntasks:\n  - name: t\n    dataset: {name: blobs, n: 120, classes: 3}\n  - name: u\n    dataset: {name: blobs, n: 120, classes: 3}\n    model: {name: mlp, hidden: [4]}\nlosses: [cross_entropy, focal]\noptimizers: [{name: sgd, lr: 0.1}]\nclaim:\n  id: H9\n  paper: {seed: S1, title: T, venue: V}\n  statement: s\n  metric: accuracy\n  expect: better\n  alpha: 0.5\n  contrasts:\n    - {method: focal, baseline: focal, baseline_select: \"epoch:0\"}\n    - {method: focal, task: u, baseline: cross_entropy, baseline_task: t, split: train, expect: equal}\n";
    std::fs::write(dir.path().join("H9-own.yaml"), text).unwrap();
    let out = dir.path().join("o");
    let args = ["claims", "run", "--quiet", "--dir", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()];
    lossbench().args(args).assert().success();
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    let rows: Vec<Vec<&str>> = csv.lines().skip(1).map(|l| l.split(',').collect()).collect();
    let sides: Vec<(&str, &str, &str)> = rows.iter().map(|r| (r[3], r[4], r[5])).collect();
    assert_eq!(
        sides,
        [
            ("t", "focal (test/final)", "focal (test/epoch:0)"),
            ("u", "focal (test/final)", "focal (test/epoch:0)"),
            ("u", "focal (train/final)", "cross_entropy (t: train/final)"),
        ],
        "{csv}"
    );
    let accuracy = |task: &str, loss: &str, seed: usize, split: &str, epoch: &str| -> f64 {
        let m = std::fs::read_to_string(out.join(format!("H9/{task}/{loss}/sgd/seed-{seed}/metrics.csv"))).unwrap();
        let prefix = format!("{epoch},{split},accuracy,");
        m.lines().find_map(|l| l.strip_prefix(&prefix)).unwrap().parse().unwrap()
    };
    let delta = |a: &dyn Fn(usize) -> f64, b: &dyn Fn(usize) -> f64| (0..6).map(|s| a(s) - b(s)).sum::<f64>() / 6.0;
    let over_training = delta(&|s| accuracy("t", "focal", s, "test", "2"), &|s| accuracy("t", "focal", s, "test", "0"));
    assert!((rows[0][10].parse::<f64>().unwrap() - over_training).abs() < 1e-9, "{csv}");
    let across = delta(&|s| accuracy("u", "focal", s, "train", "2"), &|s| accuracy("t", "cross_entropy", s, "train", "2"));
    assert!((rows[2][10].parse::<f64>().unwrap() - across).abs() < 1e-9, "{csv}");
    assert!(rows.iter().all(|r| r[15] == "6"), "{csv}");
    // A task the recipe does not have is an error before anything trains.
    std::fs::write(dir.path().join("H9-own.yaml"), text.replace("baseline_task: t,", "baseline_task: tt,")).unwrap();
    let e = lossbench().args(args).output().unwrap();
    assert_eq!(e.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("names task `tt`, not a task of the recipe (t, u)"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
    // The same point on both sides is still a contrast with itself.
    std::fs::write(dir.path().join("H9-own.yaml"), text.replace(", baseline_select: \"epoch:0\"", "")).unwrap();
    let e = lossbench().args(args).output().unwrap();
    assert_eq!(e.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&e.stderr).contains("is compared with itself"), "{}", String::from_utf8_lossy(&e.stderr));
}

/// A grid contrast reads each seed's whole grid: its statistic (|r| of log lr and log wd over
/// the runs within `delta` of the seed's best) recomputed here from every run's metrics.csv.
#[test]
fn grid_contrasts_compare_the_shape_of_the_good_region() {
    let dir = tempfile::tempdir().unwrap();
    let text = "name: grid\nseeds: 6\ntrain: {epochs: 2}\ntasks:\n  - name: t\n    dataset: {name: blobs, n: 120, classes: 3}\nlosses: [cross_entropy]\noptimizers:\n  - {name: adamw, weight_decay_mode: paper, lr: [0.003, 0.03, 0.3], weight_decay: [0.001, 0.1]}\n  - {name: adam_l2, lr: [0.003, 0.03, 0.3], weight_decay: [0.001, 0.1]}\nclaim:\n  id: H14\n  paper: {seed: S1, title: T, venue: V}\n  statement: s\n  metric: accuracy\n  expect: better\n  alpha: 0.5\n  grids: [{method: adamw, baseline: adam_l2, axes: [lr, weight_decay], delta: 0.05}]\n";
    std::fs::write(dir.path().join("H14-grid.yaml"), text).unwrap();
    let out = dir.path().join("o");
    let args = ["claims", "run", "--quiet", "--dir", dir.path().to_str().unwrap(), "--out", out.to_str().unwrap()];
    lossbench().args(args).assert().success();
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    // The method and baseline cells hold commas; read the numbers from the end of the row.
    let row: Vec<&str> = csv.lines().nth(1).unwrap().rsplitn(header.len() - col("method_mean") + 1, ',').collect();
    let from_end = |name: &str| row[header.len() - 1 - col(name)];
    let accuracy = |opt: &str, seed: u64| -> f64 {
        let m = std::fs::read_to_string(out.join(format!("H14/t/cross_entropy/{opt}/seed-{seed}/metrics.csv"))).unwrap();
        m.lines().find_map(|l| l.strip_prefix("2,test,accuracy,")).unwrap().parse().unwrap()
    };
    let abs_r = |arm: &str, seed: u64| -> f64 {
        let mut cells = Vec::new();
        for lr in ["0.003", "0.03", "0.3"] {
            for wd in ["0.001", "0.1"] {
                let at = (lr.parse::<f64>().unwrap().log10(), wd.parse::<f64>().unwrap().log10());
                cells.push((at, accuracy(&format!("{arm}-lr={lr}-weight_decay={wd}"), seed)));
            }
        }
        let best = cells.iter().map(|c| c.1).fold(f64::MIN, f64::max);
        let good: Vec<(f64, f64)> = cells.iter().filter(|c| c.1 >= best - 0.05).map(|c| c.0).collect();
        let n = good.len() as f64;
        let (mx, my) = (good.iter().map(|p| p.0).sum::<f64>() / n, good.iter().map(|p| p.1).sum::<f64>() / n);
        let sxy: f64 = good.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let (sxx, syy): (f64, f64) = (good.iter().map(|p| (p.0 - mx).powi(2)).sum(), good.iter().map(|p| (p.1 - my).powi(2)).sum());
        if sxx <= 1e-12 || syy <= 1e-12 {
            0.0
        } else {
            (sxy / (sxx * syy).sqrt()).abs()
        }
    };
    let mean = |arm: &str| (0..6).map(|s| abs_r(arm, s)).sum::<f64>() / 6.0;
    let close = |name: &str, want: f64| {
        let got: f64 = from_end(name).parse().unwrap();
        assert!((got - want).abs() < 1e-9, "{name}: {got} vs {want}\n{csv}");
    };
    close("method_mean", mean("adamw"));
    close("baseline_mean", mean("adam_l2"));
    close("delta", (0..6).map(|s| abs_r("adamw", s) - abs_r("adam_l2", s)).sum::<f64>() / 6.0);
    assert_eq!(from_end("seeds"), "6", "{csv}");
    assert!(csv.contains("|r| of the good region in log lr × log weight_decay (accuracy within 0.05 of the best)"), "{csv}");
    // An arm no optimizer entry uses is an error before anything trains.
    std::fs::write(dir.path().join("H14-grid.yaml"), text.replace("baseline: adam_l2", "baseline: sgd")).unwrap();
    let e = lossbench().args(args).output().unwrap();
    assert_eq!(e.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&e.stderr).contains("names optimizer `sgd`, which no optimizer entry"),
        "{}",
        String::from_utf8_lossy(&e.stderr)
    );
}
