//! Results you can trust: a run's identity covers its data, `run.json` vouches for
//! `metrics.csv`, comparisons never mix configurations or count a run twice, baselines pair like
//! with like, and concurrent processes share a sweep. End to end, through the real binary.

mod common;

use common::*;

/// A small, fast recipe: blobs (120 rows), an MLP with 8 hidden units, 3 epochs.
fn recipe(name: &str, seeds: &str, losses: &str, optimizers: &str) -> String {
    format!(
        "name: {name}\nseeds: {seeds}\ntrain: {{epochs: 3, batch_size: 32}}\ntasks:\n  - name: blobs\n    dataset: {{name: blobs, n: 120}}\n    model: {{name: mlp, hidden: [8]}}\nlosses: {losses}\noptimizers: {optimizers}\n"
    )
}

/// Point 1: editing a user CSV in place (same columns and classes, new values) makes new runs.
#[test]
fn a_data_file_edited_in_place_gives_new_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let rows: String = (0..60).map(|i| format!("{},{},{}\n", i % 7, (i * 3) % 11, i % 2)).collect();
    let csv = write(tmp.path(), "data.csv", &format!("a,b,y\n{rows}"));
    let body = "name: mine\nseeds: [0]\ntrain: {epochs: 2}\ntasks:\n  - name: mine\n    dataset: {name: csv, path: data.csv, target: y}\n    model: {name: mlp, hidden: [4]}\nlosses: [cross_entropy]\n";
    write(tmp.path(), "r.yaml", body);
    let (code, first, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!(code, 0, "{err}");
    let record = json(&tmp.path().join("res/mine/cross_entropy/adamw/seed-0/run.json"));
    assert_eq!(record["config"]["task"]["dataset"]["sha256"], sha256(&csv).as_str());
    // Same columns and classes, different values.
    let edited: String = (0..60).map(|i| format!("{},{},{}\n", (i * 5) % 13, i % 3, i % 2)).collect();
    std::fs::write(&csv, format!("a,b,y\n{edited}")).unwrap();
    let (code, second, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 trained (1 finished, 0 diverged, 0 failed), 0 already done"), "{err}");
    let again = json(&tmp.path().join("res/mine/cross_entropy/adamw/seed-0/run.json"));
    assert_ne!(again["config_hash"], record["config_hash"]);
    assert_eq!(again["config"]["task"]["dataset"]["sha256"], sha256(&csv).as_str());
    assert_ne!(first, second, "the table must show the new data's numbers");
    // A recipe may pin the digest; a file that no longer matches is an input error.
    let pinned =
        body.replace("target: y}", &format!("target: y, sha256: {}}}", record["config"]["task"]["dataset"]["sha256"].as_str().unwrap()));
    write(tmp.path(), "pinned.yaml", &pinned);
    let (code, _, err) = run(tmp.path(), &["check", "pinned.yaml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the file changed"), "{err}");
}

/// Point 2: a truncated or malformed `metrics.csv` is not a finished run: `compare` skips it
/// naming the folder, `train` redoes it (and only it), giving the same bytes as before.
#[test]
fn run_json_vouches_for_metrics_csv() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "r.yaml", &recipe("v", "[0, 1, 2]", "[cross_entropy, focal]", "[adamw]"));
    let (code, _, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    let dir = |loss: &str, seed: u64| tmp.path().join(format!("res/blobs/{loss}/adamw/seed-{seed}"));
    let original: Vec<Vec<u8>> = (0..3).map(|s| std::fs::read(dir("focal", s).join("metrics.csv")).unwrap()).collect();
    let csv = |s: u64| dir("focal", s).join("metrics.csv");
    let len = original[0].len();
    std::fs::write(csv(0), &original[0][..len / 2]).unwrap(); // mid-line
    let cut = original[1].iter().take(original[1].len() - 1).rposition(|&b| b == b'\n').unwrap() + 1;
    std::fs::write(csv(1), &original[1][..cut]).unwrap(); // at a line boundary
    std::fs::write(csv(2), "epoch,split\nnot,a,row\n").unwrap(); // malformed
    let (code, table, err) = run(tmp.path(), &["compare", "res", "--no-files"]);
    assert_eq!(code, 0, "{err}");
    for s in 0..3 {
        assert!(err.contains(&format!("skipped res/blobs/focal/adamw/seed-{s}: not a finished run")), "{err}");
    }
    assert!(table.contains("| focal | —") || !table.contains("| focal |"), "{table}");
    let (code, _, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("3 trained (3 finished, 0 diverged, 0 failed), 3 already done"), "{err}");
    for (s, bytes) in original.iter().enumerate() {
        assert_eq!(&std::fs::read(csv(s as u64)).unwrap(), bytes, "seed {s} differs after the rerun");
    }
    let record = json(&dir("focal", 0).join("run.json"));
    assert_eq!(record["metrics"]["sha256"], sha256(&csv(0)).as_str());
    assert_eq!(record["metrics"]["rows"].as_u64().unwrap() as usize, text(&original[0]).lines().count() - 1);
}

/// Point 3: retraining an edited recipe into the same folder: `train` shows exactly its plan;
/// `compare` keeps the two learning rates apart, names what differs and how to select one.
#[test]
fn an_edited_recipe_retrained_in_place_is_never_mixed() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "r.yaml", &recipe("e", "[0, 1, 2, 3]", "[cross_entropy]", "[{name: adamw, lr: 0.01}]"));
    assert_eq!(run(tmp.path(), &["train", "r.yaml", "--out", "res", "--quiet"]).0, 0);
    write(tmp.path(), "r.yaml", &recipe("e", "[0, 1]", "[cross_entropy]", "[{name: adamw, lr: 0.001}]"));
    let (code, table, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("n = 2 seeds per cell"), "train must compare its own plan only:\n{table}");
    let (code, table, err) = run(tmp.path(), &["compare", "res", "--no-files"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("differing in optimizer.lr (0.001 in 2 runs, 0.01 in 2 runs)"), "{err}");
    assert!(err.contains("--where optimizer.lr=0.001"), "{err}");
    assert!(table.contains("| cross_entropy [optimizer.lr=0.001] |") && table.contains("| cross_entropy [optimizer.lr=0.01] |"), "{table}");
    assert!(!table.contains("(n=4)") && !table.contains("n = 4"), "{table}");
    let (code, table, err) = run(tmp.path(), &["compare", "res", "--no-files", "--where", "optimizer.lr=1e-2"]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("differing"), "{err}");
    assert!(table.contains("| cross_entropy |") && table.contains("n = 2 seeds per cell"), "{table}");
}

/// Point 3: one run reached twice (a copy, the same path twice) counts once, with a warning;
/// the same task name over different data gives two columns.
#[test]
fn a_run_reached_twice_counts_once_and_tasks_merge_only_on_equal_data() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "a.yaml", &recipe("a", "[0, 1]", "[cross_entropy, focal]", "[adamw]"));
    assert_eq!(run(tmp.path(), &["train", "a.yaml", "--out", "a", "--quiet"]).0, 0);
    let copy = std::process::Command::new("cp").args(["-r", "a", "a_copy"]).current_dir(tmp.path()).status().unwrap();
    assert!(copy.success());
    let json_of = |args: &[&str]| -> (serde_json::Value, String) {
        let (code, out, err) = run(tmp.path(), args);
        assert_eq!(code, 0, "{err}");
        (serde_json::from_str(&out).unwrap(), err)
    };
    let base = ["compare", "--no-files", "--baseline", "cross_entropy", "--format", "json"];
    let (single, _) = json_of(&[&base[..], &["a"]].concat());
    for twice in [["a", "a_copy"], ["a", "a"]] {
        let (doubled, err) = json_of(&[&base[..], &twice].concat());
        assert_eq!(doubled, single, "{twice:?} must count each run once");
        assert!(err.contains("is the same run as") && err.contains("counted once"), "{err}");
    }
    // Recipe `b` shares the task name `blobs` but not its data; recipe `c` has the same data.
    write(tmp.path(), "b.yaml", &recipe("b", "[0, 1]", "[cross_entropy]", "[adamw]").replace("n: 120", "n: 150"));
    write(tmp.path(), "c.yaml", &recipe("c", "[2]", "[cross_entropy]", "[adamw]"));
    assert_eq!(run(tmp.path(), &["train", "b.yaml", "--out", "b", "--quiet"]).0, 0);
    assert_eq!(run(tmp.path(), &["train", "c.yaml", "--out", "c", "--quiet"]).0, 0);
    let (code, table, err) = run(tmp.path(), &["compare", "a", "b", "c", "--no-files"]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("| method | blobs [dataset.n=120] | blobs [dataset.n=150] |"), "{table}");
    assert!(err.contains("task `blobs`: runs of 2 different configurations, differing in task.dataset.n"), "{err}");
    // Equal data from another recipe merges: cross_entropy has seeds 0, 1 (a) and 2 (c).
    let (rows, _) = json_of(&["compare", "a", "c", "--no-files", "--format", "json"]);
    let ce = rows.as_array().unwrap().iter().find(|r| r["method"] == "cross_entropy").unwrap().clone();
    assert_eq!(ce["n"], 3);
}

/// Point 4: with two optimizers, `--baseline LOSS` pairs each method with the baseline of its
/// own optimizer; an ambiguous baseline is an error listing the candidates.
#[test]
fn the_baseline_pairs_like_with_like() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "r.yaml", &recipe("p", "[0, 1, 2]", "[cross_entropy, focal]", "[adamw, {name: sgd, lr: 0.1}]"));
    assert_eq!(run(tmp.path(), &["train", "r.yaml", "--out", "res", "--quiet"]).0, 0);
    let (code, out, err) = run(tmp.path(), &["compare", "res", "--no-files", "--baseline", "cross_entropy", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = |m: &str| rows.as_array().unwrap().iter().find(|r| r["method"] == m).unwrap().clone();
    for opt in ["adamw", "sgd"] {
        let (focal, ce) = (row(&format!("focal / {opt}")), row(&format!("cross_entropy / {opt}")));
        let expected = focal["mean"].as_f64().unwrap() - ce["mean"].as_f64().unwrap();
        assert!((focal["diff_mean"].as_f64().unwrap() - expected).abs() < 1e-12, "focal / {opt} paired with another optimizer");
        assert!(ce["diff_mean"].is_null());
    }
    // Naming an optimizer pairs the losses across optimizers instead.
    let (code, out, err) = run(tmp.path(), &["compare", "res", "--no-files", "--baseline", "adamw", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sgd = rows.as_array().unwrap().iter().find(|r| r["method"] == "focal / sgd").unwrap().clone();
    let adamw = rows.as_array().unwrap().iter().find(|r| r["method"] == "focal / adamw").unwrap().clone();
    assert!((sgd["diff_mean"].as_f64().unwrap() - (sgd["mean"].as_f64().unwrap() - adamw["mean"].as_f64().unwrap())).abs() < 1e-12);
    // A label that is both a loss and an optimizer label is ambiguous.
    write(tmp.path(), "q.yaml", &recipe("q", "[0]", "[{name: cross_entropy, label: x}, focal]", "[{name: adamw, label: x}, sgd]"));
    assert_eq!(run(tmp.path(), &["train", "q.yaml", "--out", "q", "--quiet"]).0, 0);
    let (code, _, err) = run(tmp.path(), &["compare", "q", "--no-files", "--baseline", "x"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("baseline `x` is ambiguous") && err.contains("x / sgd"), "{err}");
}

/// Point 6: two processes on one recipe and folder share the work: every run is trained once,
/// and with different `--epochs` no folder mixes the two configurations.
#[test]
fn two_processes_share_one_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let body = recipe("c", "[0, 1, 2, 3, 4, 5]", "[cross_entropy, focal]", "[adamw]")
        .replace("epochs: 3", "epochs: 6")
        .replace("{name: blobs, n: 120}", "{name: digits}")
        .replace("hidden: [8]", "hidden: [64]");
    write(tmp.path(), "r.yaml", &body);
    let bin = assert_cmd::cargo::cargo_bin("lossbench");
    let spawn = |extra: &[&str]| {
        std::process::Command::new(&bin)
            .args(["train", "r.yaml", "--out", "res"])
            .args(extra)
            .current_dir(tmp.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(&[]), spawn(&[]));
    let trained = |child: std::process::Child| -> usize {
        let out = child.wait_with_output().unwrap();
        let err = text(&out.stderr);
        assert!(out.status.success(), "{err}");
        let line = err.lines().find(|l| l.contains(" trained (")).unwrap_or_else(|| panic!("{err}")).to_string();
        line.split(" runs: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap()
    };
    let total = trained(a) + trained(b);
    assert_eq!(total, 12, "the two processes trained {total} runs of 12");
    // Different configs into one folder: each folder ends consistent (its run.json vouches for
    // its metrics.csv), whichever process wrote last.
    let (a, b) = (spawn(&["--epochs", "3"]), spawn(&["--epochs", "4"]));
    let (_, _) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    for loss in ["cross_entropy", "focal"] {
        for seed in 0..6 {
            let dir = tmp.path().join(format!("res/blobs/{loss}/adamw/seed-{seed}"));
            assert!(dir.join("run.json").is_file(), "{}", dir.display());
            let record = json(&dir.join("run.json"));
            assert_eq!(record["metrics"]["sha256"], sha256(&dir.join("metrics.csv")).as_str(), "{}", dir.display());
            let epochs = record["config"]["train"]["epochs"].as_u64().unwrap();
            let last: u64 = std::fs::read_to_string(dir.join("metrics.csv"))
                .unwrap()
                .lines()
                .last()
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(epochs, last, "{}: run.json for {epochs} epochs beside metrics for {last}", dir.display());
        }
    }
}

/// Point 5: a loss that fits only some tasks leaves a cell missing: ranks and the Friedman test
/// use the complete block and say what they left out.
#[test]
fn rank_tests_over_missing_cells_use_the_complete_block() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "name: m\nseeds: [0]\ntrain: {epochs: 2, batch_size: 32}\ntasks:\n  - name: moons\n    dataset: {name: two_moons, n: 120}\n    model: {name: mlp, hidden: [8]}\n  - name: xor\n    dataset: {name: xor_cluster, n: 120}\n    model: {name: mlp, hidden: [8]}\n  - name: blobs\n    dataset: {name: blobs, n: 120, classes: 3}\n    model: {name: mlp, hidden: [8]}\nlosses: [cross_entropy, focal, gce, ensloss]\n";
    write(tmp.path(), "r.yaml", body);
    let (code, table, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("Friedman test over 3 tasks × 3 methods"), "{table}");
    assert!(table.contains("left out for missing cells: methods `ensloss`"), "{table}");
    let ensloss = table.lines().find(|l| l.starts_with("| ensloss |")).unwrap();
    assert!(ensloss.ends_with("| — |"), "no average rank as if complete: {ensloss}");
    assert!(ensloss.contains("(n=1)") && !table.contains("± 0.0000"), "one seed has no spread: {table}");
}

/// A finished copy of a run counts over a failed copy; `--where` on a key no run has is an error
/// with a suggestion; weights that no longer match their digest make the run unfinished.
#[test]
fn copies_keys_and_weights_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "r.yaml", &recipe("w", "[0]", "[cross_entropy]", "[adamw]"));
    assert_eq!(run(tmp.path(), &["train", "r.yaml", "--out", "res", "--quiet", "--save-weights"]).0, 0);
    let src = tmp.path().join("res/blobs/cross_entropy/adamw/seed-0");
    for name in ["a_failed", "b_good"] {
        let to = tmp.path().join("dup").join(name);
        std::fs::create_dir_all(&to).unwrap();
        for f in ["run.json", "metrics.csv", "weights.safetensors"] {
            std::fs::copy(src.join(f), to.join(f)).unwrap();
        }
    }
    // `a_failed` is the same run, recorded as failed (its files consistent with that).
    let failed = tmp.path().join("dup/a_failed");
    let header = "epoch,split,metric,value\n";
    std::fs::write(failed.join("metrics.csv"), header).unwrap();
    let mut record = json(&failed.join("run.json"));
    record["status"] = serde_json::json!({"state": "failed", "message": "boom"});
    record["metrics"] = serde_json::json!({"sha256": sha256(&failed.join("metrics.csv")), "bytes": header.len(), "rows": 0});
    std::fs::write(failed.join("run.json"), serde_json::to_string(&record).unwrap()).unwrap();
    let (code, table, err) = run(tmp.path(), &["compare", "dup", "--no-files"]);
    assert_eq!(code, 0, "{err}");
    assert!(!table.contains("✗") && table.contains("| cross_entropy | **"), "the finished copy counts: {table}");
    assert!(err.contains("dup/a_failed is the same run as dup/b_good"), "{err}");
    let (code, _, err) = run(tmp.path(), &["compare", "res", "--no-files", "--where", "optimizer.lrr=0.01"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("runs have no config key `optimizer.lrr`; did you mean `optimizer.lr`?"), "{err}");
    let (code, _, err) = run(tmp.path(), &["compare", "res", "--no-files", "--where", "optimizer.lr=0.5"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("none of the 1 finished runs matches"), "{err}");
    // Tampered weights: the run is redone, and its weights match again.
    let weights = src.join("weights.safetensors");
    let mut bytes = std::fs::read(&weights).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&weights, bytes).unwrap();
    let (code, _, err) = run(tmp.path(), &["landscape", src.to_str().unwrap(), "--points", "3"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not match the digest"), "{err}");
    let (code, _, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res", "--save-weights"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 trained"), "{err}");
    assert_eq!(json(&src.join("run.json"))["weights"]["sha256"], sha256(&weights).as_str());
}

/// A run with many noisy rows (a large run.json) is read back as finished.
#[test]
fn a_run_with_many_noisy_rows_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let body = "name: big\nseeds: [0]\ntrain: {epochs: 1, batch_size: 512}\ntasks:\n  - name: b\n    dataset: {name: blobs, n: 40000, classes: 2, dim: 2, label_noise: {kind: symmetric, rate: 0.6}}\n    model: {name: linear}\nlosses: [cross_entropy]\n";
    write(tmp.path(), "r.yaml", body);
    assert_eq!(run(tmp.path(), &["train", "r.yaml", "--out", "res", "--quiet"]).0, 0);
    let record = json(&tmp.path().join("res/b/cross_entropy/adamw/seed-0/run.json"));
    assert!(record["data"]["noisy_train_indices"].as_array().unwrap().len() > 10_000);
    let (code, _, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("0 trained (0 finished, 0 diverged, 0 failed), 1 already done"), "{err}");
}
