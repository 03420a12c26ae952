//! End-to-end tests of the `lossbench` binary in temporary folders.

use assert_cmd::Command;
use std::path::{Path, PathBuf};

fn lossbench() -> Command {
    Command::cargo_bin("lossbench").expect("binary")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// All `metrics.csv` files under `dir`, as (relative path, bytes), sorted.
fn metric_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n == "metrics.csv") {
                out.push((p.strip_prefix(dir).unwrap().to_path_buf(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

#[test]
fn smoke_recipe_trains_and_prints_a_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    let out = lossbench().args(["train", "recipes/smoke.yaml", "--quiet", "--out"]).arg(tmp.path()).current_dir(repo("")).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(stdout.contains("| method | moons | iris | avg rank |"), "{stdout}");
    assert!(stdout.contains("test mse"), "{stdout}");
    assert!(out.stderr.is_empty(), "--quiet must keep stderr empty: {}", stderr_of(&out));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("moons/focal/adamw/seed-1/run.json")).unwrap()).unwrap();
    assert_eq!(run["status"]["state"], "finished");
    assert_eq!(run["config"]["loss"]["gamma"], 2.0);
    // 20 % symmetric noise on 140 train rows: ⌊0.2·70⌋ per class.
    assert_eq!(run["data"]["noisy_train_indices"].as_array().unwrap().len(), 28);
    for ext in ["md", "csv", "parquet", "tex", "json"] {
        let f = format!("comparison-accuracy+mse-final.{ext}");
        assert!(tmp.path().join(&f).is_file(), "{f}");
    }
}

/// `compare` names its files by metric, selection and split, so comparing another metric does
/// not replace train's tables; the CSV says what it compares (metric, select, baseline).
#[test]
fn compare_never_clobbers_another_comparison() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = "name: c\nseeds: [0, 1]\ntrain: {epochs: 2, batch_size: 32}\ntasks:\n  - name: b\n    dataset: {name: blobs, n: 90}\n    model: {name: mlp, hidden: [8]}\n    metrics: [accuracy, ece]\nlosses: [cross_entropy, focal]\n";
    let path = tmp.path().join("c.yaml");
    std::fs::write(&path, recipe).unwrap();
    let results = tmp.path().join("r");
    lossbench().arg("train").arg(&path).arg("--quiet").arg("--out").arg(&results).assert().success();
    let trained = std::fs::read(results.join("comparison-accuracy-final.csv")).unwrap();
    lossbench().arg("compare").arg(&results).args(["--metric", "ece", "--baseline", "cross_entropy"]).assert().success();
    lossbench().arg("compare").arg(&results).args(["--select", "best:accuracy", "--split", "val"]).assert().success();
    assert_eq!(std::fs::read(results.join("comparison-accuracy-final.csv")).unwrap(), trained, "train's table was replaced");
    let ece = std::fs::read_to_string(results.join("comparison-ece-final.csv")).unwrap();
    assert!(ece.starts_with("metric,split,select,baseline,task,"), "{ece}");
    assert!(ece.lines().skip(1).all(|l| l.starts_with("ece,test,final,cross_entropy,b,")), "{ece}");
    assert!(results.join("comparison-accuracy-best-accuracy-val.md").is_file());
}

#[test]
fn same_recipe_and_seed_give_byte_identical_metrics() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for (dir, jobs) in [(&a, "1"), (&b, "2")] {
        lossbench()
            .args(["train", "recipes/smoke.yaml", "--quiet", "--jobs", jobs, "--out"])
            .arg(dir.path())
            .current_dir(repo(""))
            .assert()
            .success();
    }
    let (fa, fb) = (metric_files(a.path()), metric_files(b.path()));
    assert_eq!(fa.len(), 14);
    assert_eq!(fa, fb, "metrics.csv differ between two runs of the same recipe");
}

#[test]
fn rerun_skips_finished_runs_and_force_reruns_them() {
    let tmp = tempfile::tempdir().unwrap();
    let args = ["train", "recipes/smoke.yaml", "--out"];
    lossbench().args(args).arg(tmp.path()).arg("--quiet").current_dir(repo("")).assert().success();
    let out = lossbench().args(args).arg(tmp.path()).current_dir(repo("")).output().unwrap();
    assert!(stderr_of(&out).contains("0 trained (0 finished, 0 diverged, 0 failed), 14 already done"), "{}", stderr_of(&out));
    let out = lossbench().args(args).arg(tmp.path()).arg("--force").current_dir(repo("")).output().unwrap();
    assert!(stderr_of(&out).contains("14 trained"), "{}", stderr_of(&out));
}

const SLOW_RECIPE: &str = "name: slow\nseeds: [0, 1, 2, 3, 4, 5]\ntrain: {epochs: 60, batch_size: 32}\ntasks:\n  - name: digits\n    dataset: {name: digits}\n    model: {name: mlp, hidden: [256, 256]}\nlosses: [cross_entropy, focal]\n";

#[test]
fn a_sweep_killed_midway_resumes_without_redoing_or_losing_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("slow.yaml");
    std::fs::write(&recipe, SLOW_RECIPE).unwrap();
    let out = tmp.path().join("results");
    let bin = assert_cmd::cargo::cargo_bin("lossbench");
    let mut child = std::process::Command::new(&bin)
        .args(["train", "--quiet", "--out"])
        .arg(&out)
        .arg(&recipe)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let finished = |out: &Path| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = ["cross_entropy", "focal"]
            .iter()
            .flat_map(|l| (0..6).map(move |s| out.join(format!("digits/{l}/adamw/seed-{s}/run.json"))))
            .filter(|p| p.is_file())
            .collect();
        v.sort();
        v
    };
    let start = std::time::Instant::now();
    while finished(&out).len() < 2 && start.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let done_before = finished(&out);
    assert!(done_before.len() >= 2 && done_before.len() < 12, "killed after {} runs; make the recipe slower", done_before.len());
    let snapshot: Vec<(PathBuf, String)> = done_before.iter().map(|p| (p.clone(), std::fs::read_to_string(p).unwrap())).collect();
    // A run.json half-written by a non-atomic writer must not count as finished.
    let torn = out.join("digits/focal/adamw/seed-5/run.json");
    std::fs::create_dir_all(torn.parent().unwrap()).unwrap();
    std::fs::write(&torn, "{\"lossbench_version\": \"0.1.0\", \"status\": {\"st").unwrap();

    let resumed = std::process::Command::new(&bin).args(["train", "--out"]).arg(&out).arg(&recipe).output().unwrap();
    assert!(resumed.status.success(), "{}", stderr_of(&resumed));
    let msg = stderr_of(&resumed);
    let expected = format!("{} already done", done_before.len());
    assert!(msg.contains(&expected), "{msg}");
    for (path, text) in snapshot {
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text, "{} was redone", path.display());
    }
    assert_eq!(finished(&out).len(), 12);
    let torn_now: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&torn).unwrap()).unwrap();
    assert_eq!(torn_now["status"]["state"], "finished");
}

/// Write `recipe` into a temp folder (with an optional data file) and run `check` on it.
fn check_fails(recipe: &str, data: Option<(&str, &str)>) -> (i32, String) {
    let tmp = tempfile::tempdir().unwrap();
    if let Some((name, text)) = data {
        std::fs::write(tmp.path().join(name), text).unwrap();
    }
    let path = tmp.path().join("bad.yaml");
    std::fs::write(&path, recipe).unwrap();
    let out = lossbench().arg("check").arg(&path).output().unwrap();
    let err = stderr_of(&out);
    assert!(!err.contains("panicked"), "{err}");
    (out.status.code().unwrap_or(-1), err)
}

const GOOD: &str =
    "tasks:\n  - name: moons\n    dataset: {name: two_moons, n: 100}\nlosses:\n  - cross_entropy\n  - {name: focal, gamma: 2.0}\n";

#[test]
fn the_unbroken_recipe_checks() {
    // The error tests below each break this recipe in one place.
    let (code, err) = check_fails(GOOD, None);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn misspelt_key_exits_2_naming_line_and_column() {
    let (code, err) = check_fails(&GOOD.replace("losses:", "loses:"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:4:1") && err.contains("unknown field `loses`") && err.contains("expected one of"), "{err}");
}

#[test]
fn unknown_loss_exits_2_with_a_suggestion() {
    let (code, err) = check_fails(&GOOD.replace("name: focal", "name: fcoal"), None);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.yaml:6:") && err.contains("losses[1]") && err.contains("unknown loss `fcoal`; did you mean `focal`?"),
        "{err}"
    );
}

#[test]
fn loss_that_does_not_fit_the_task_exits_2_naming_both() {
    let (code, err) = check_fails(&GOOD.replace("  - cross_entropy\n", "  - huber\n"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("loss `huber` needs a regression task, but task `moons` is classification"), "{err}");
}

#[test]
fn out_of_range_parameter_exits_2() {
    let (code, err) = check_fails(&GOOD.replace("gamma: 2.0", "gamma: -1.0"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("losses[1] (focal)") && err.contains("`gamma` = -1 is out of range; allowed: 0 ≤ gamma ≤ 10"), "{err}");
}

#[test]
fn misspelt_parameter_exits_2_listing_the_allowed_ones() {
    let (code, err) = check_fails(&GOOD.replace("gamma: 2.0", "gama: 2.0"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:6:") && err.contains("unknown field `gama`, expected `gamma` or `detach_modulator`"), "{err}");
}

#[test]
fn malformed_dataset_files_exit_2_naming_file_row_and_column() {
    let recipe = "tasks:\n  - name: mine\n    dataset: {name: csv, path: data.csv, target: y}\nlosses: [cross_entropy]\n";
    let cases = [
        ("a,b,y\n1,2,0\n3,4\n", "data.csv:3: row has 2 fields but the header has 3"),
        ("a,b,y\n1,2,0\n3,NaN,1\n", "data.csv:3: column 2 (`b`): `NaN` is not a finite number"),
        ("a,b,y\n1,2,0\n3,x,1\n", "data.csv:3: column 2 (`b`): `x` is not a number"),
        ("a,b,y\n1,2,0\n3,4,-1\n", "data.csv:3: column 3 (`y`): label `-1` is not a class id"),
        ("", "data.csv: the file is empty"),
    ];
    for (data, expected) in cases {
        let (code, err) = check_fails(recipe, Some(("data.csv", data)));
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
    }
    let (code, err) = check_fails(&recipe.replace("target: y}", "target: y, classes: 2}"), Some(("data.csv", "a,y\n1,0\n2,5\n")));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("label 5 is out of range"), "{err}");
}

#[test]
fn every_shipped_recipe_checks() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo("recipes")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let out = lossbench().arg("check").arg(&path).output().unwrap();
            assert!(out.status.success(), "{}: {}", path.display(), stderr_of(&out));
            assert!(String::from_utf8_lossy(&out.stdout).contains("runs: "), "{}", path.display());
            n += 1;
        }
    }
    assert!(n >= 2);
}

#[test]
fn compare_formats_baseline_and_selection() {
    let tmp = tempfile::tempdir().unwrap();
    lossbench().args(["train", "recipes/smoke.yaml", "--quiet", "--out"]).arg(tmp.path()).current_dir(repo("")).assert().success();
    let run = |args: &[&str]| {
        let out = lossbench().arg("compare").arg(tmp.path()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let md = run(&["--baseline", "cross_entropy", "--metric", "accuracy"]);
    assert!(md.contains("Paired against `cross_entropy`") && md.contains("p (Holm)"), "{md}");
    let csv = run(&["--format", "csv"]);
    assert!(csv.starts_with("metric,split,select,baseline,task,method,loss,optimizer,n,mean,std"), "{csv}");
    let json: serde_json::Value = serde_json::from_str(&run(&["--format", "json"])).unwrap();
    assert!(json.as_array().unwrap().iter().any(|r| r["task"] == "diabetes" && r["metric"] == "mse"));
    let tex = run(&["--format", "latex"]);
    assert!(tex.contains("\\toprule") && tex.contains("\\pm"), "{tex}");
    let best = run(&["--select", "best:accuracy", "--metric", "accuracy"]);
    assert!(best.contains("epoch with best val accuracy"), "{best}");
    let file = tmp.path().join("table.tex");
    lossbench().arg("compare").arg(tmp.path()).args(["--format", "latex", "--out"]).arg(&file).assert().success();
    assert!(std::fs::read_to_string(&file).unwrap().contains("\\bottomrule"));
    let out = lossbench().arg("compare").arg(tmp.path()).args(["--metric", "acuracy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("did you mean `accuracy`?"), "{}", stderr_of(&out));
}

#[test]
fn listings_show_and_eval() {
    let out = lossbench().args(["losses"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let n = lossbench::losses::LOSSES.len();
    assert!(text.contains("focal") && text.contains(&format!("{n} of {n} losses")), "{text}");
    let text = String::from_utf8(lossbench().args(["losses", "show", "focal"]).output().unwrap().stdout).unwrap();
    assert!(text.contains("(1 − p_y)^γ") && text.contains("arXiv:1708.02002") && text.contains("detach_modulator"), "{text}");
    for cmd in ["datasets", "models", "optimizers", "regularizers", "metrics"] {
        let out = lossbench().arg(cmd).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{cmd}");
    }
    let out = lossbench().args(["losses", "show", "fcoal"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("in.json");
    std::fs::write(&inputs, r#"{"logits": [[1.0, 2.0, 3.0]], "labels": [2]}"#).unwrap();
    let out = lossbench().args(["losses", "eval", "cross_entropy", "--inputs"]).arg(&inputs).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // torch: F.cross_entropy(torch.tensor([[1., 2., 3.]]), torch.tensor([2])) = 0.40760597
    assert!((v["loss"].as_f64().unwrap() - 0.407_605_96).abs() < 1e-6, "{v}");
    assert_eq!(v["grads"]["logits"].as_array().unwrap()[0].as_array().unwrap().len(), 3);
}

#[test]
fn every_subcommand_has_help_with_an_example() {
    for cmd in [
        "train",
        "check",
        "compare",
        "plot",
        "plot-shape",
        "landscape",
        "losses",
        "datasets",
        "models",
        "optimizers",
        "regularizers",
        "metrics",
    ] {
        let out = lossbench().args([cmd, "--help"]).output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success() && text.contains("Example"), "{cmd}: {text}");
    }
}

#[test]
fn uncompiled_device_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let out = lossbench().args(["train", "recipes/smoke.yaml", "--device", "cuda"]).current_dir(repo("")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--features cuda"), "{}", stderr_of(&out));
}

#[test]
fn user_parquet_file_trains() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let n = 60;
    let a: Vec<f64> = (0..n).map(|i| i as f64 / n as f64).collect();
    let b: Vec<f64> = (0..n).map(|i| ((i * 7) % 11) as f64).collect();
    let y: Vec<i64> = (0..n).map(|i| (i % 2) as i64).collect();
    let mut df = DataFrame::new(n, vec![Column::new("a".into(), a), Column::new("b".into(), b), Column::new("y".into(), y)]).unwrap();
    let file = std::fs::File::create(tmp.path().join("d.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();
    let recipe = tmp.path().join("p.yaml");
    std::fs::write(
        &recipe,
        "train: {epochs: 2}\ntasks:\n  - name: mine\n    dataset: {name: parquet, path: d.parquet, target: y}\nlosses: [cross_entropy]\n",
    )
    .unwrap();
    let out = lossbench().args(["train", "--quiet", "--out"]).arg(tmp.path().join("res")).arg(&recipe).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn a_diverging_run_is_recorded_and_the_sweep_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("div.yaml");
    std::fs::write(
        &recipe,
        "train: {epochs: 3}\ntasks:\n  - name: dia\n    dataset: {name: diabetes}\n    model: {name: mlp, hidden: [32]}\nlosses: [mse, mae]\noptimizers:\n  - {name: sgd, label: huge, lr: 100}\n  - {name: sgd, label: sane, lr: 0.01}\n",
    )
    .unwrap();
    let out = lossbench().args(["train", "--out"]).arg(tmp.path().join("r")).arg(&recipe).output().unwrap();
    assert!(out.status.success(), "diverged runs are results, not errors: {}", stderr_of(&out));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/dia/mse/huge/seed-0/run.json")).unwrap()).unwrap();
    assert_eq!(run["status"]["state"], "diverged", "{run}");
    let sane: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("r/dia/mse/sane/seed-0/run.json")).unwrap()).unwrap();
    assert_eq!(sane["status"]["state"], "finished");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("— †1"), "the diverged cell must be marked: {stdout}");
}

#[test]
fn losses_that_need_class_counts_get_them_from_the_train_split() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("lt.yaml");
    std::fs::write(
        &recipe,
        "train: {epochs: 1}\ntasks:\n  - name: blobs_lt\n    dataset: {name: blobs, n: 400, classes: 4, long_tail: {imbalance: 0.1}}\n    model: {name: linear}\nlosses:\n  - {name: ldam, s: 1.0}\n  - vs_loss\n",
    )
    .unwrap();
    let out = lossbench().args(["train", "--quiet", "--out"]).arg(tmp.path().join("r")).arg(&recipe).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    for loss in ["ldam", "vs_loss"] {
        let run: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(tmp.path().join(format!("r/blobs_lt/{loss}/adamw/seed-0/run.json"))).unwrap())
                .unwrap();
        assert_eq!(run["status"]["state"], "finished", "{run}");
        // 70 train rows per class before sub-sampling; exp profile with IF 0.1 over 4 classes.
        assert_eq!(run["data"]["train_class_counts"], serde_json::json!([70, 32, 15, 7]), "{run}");
    }
    let eval_in = tmp.path().join("in.json");
    std::fs::write(&eval_in, r#"{"logits": [[1.0, 2.0]], "labels": [0]}"#).unwrap();
    let out = lossbench().args(["losses", "eval", "ldam", "--inputs"]).arg(&eval_in).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("needs `class_counts`"), "{}", stderr_of(&out));
    let out = lossbench().args(["losses", "eval", "ldam", "--set", "class_counts=[10,2]", "--inputs"]).arg(&eval_in).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn harmonic_head_trains_with_the_harmonic_loss() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("h.yaml");
    std::fs::write(
        &recipe,
        "train: {epochs: 30}\ntasks:\n  - name: moons\n    dataset: {name: two_moons, n: 300}\n    model: {name: mlp, hidden: [16], head: harmonic}\nlosses: [harmonic, cross_entropy]\noptimizers: [{name: adamw, lr: 0.01}]\n",
    )
    .unwrap();
    let out = lossbench().args(["train", "--quiet", "--format", "json", "--out"]).arg(tmp.path().join("r")).arg(&recipe).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acc = rows.as_array().unwrap().iter().find(|r| r["loss"] == "harmonic").unwrap()["mean"].as_f64().unwrap();
    assert!(acc > 0.8, "harmonic head + loss should learn two_moons in 30 epochs: {acc}");
}

#[test]
fn more_bad_inputs_are_input_errors_not_crashes() {
    let cases: &[(&str, &str)] = &[
        (
            "tasks:\n  - name: m\n    dataset: {name: modular_arith, p: 2000}\nlosses: [cross_entropy]\n",
            "lossbench's limit is",
        ),
        ("tasks:\n  - name: \"..\"\n    dataset: {name: iris}\nlosses: [cross_entropy]\n", "task name `..` must start with a letter or digit"),
        ("tasks:\n  - name: t\n    dataset: {name: iris}\nlosses: [{name: cross_entropy, label: \"..\"}]\n", "must start with a letter or digit"),
        ("seeds: [0, 1, 0]\ntasks:\n  - name: t\n    dataset: {name: iris}\nlosses: [cross_entropy]\n", "seed 0 is listed twice"),
        (
            "tasks:\n  - name: t\n    dataset: {name: iris, split: {val: 0.5, test: 0.44}}\n    model: {name: mlp, hidden: [1048576, 1048576]}\nlosses: [cross_entropy]\n",
            "limit per layer",
        ),
    ];
    for (recipe, expected) in cases {
        let (code, err) = check_fails(recipe, None);
        assert_eq!(code, 2, "{recipe}: {err}");
        assert!(err.contains(expected), "expected `{expected}` in: {err}");
    }
    let (code, err) = check_fails(
        "tasks:\n  - name: mine\n    dataset: {name: csv, path: d.csv, target: y, split: {val: 0.5, test: 0.4}}\nlosses: [cross_entropy]\n",
        Some(("d.csv", "a,y\n1,0\n2,1\n")),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("train split is empty"), "{err}");
}

#[test]
fn labelled_metrics_keep_their_direction_and_selection_typos_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = tmp.path().join("m.yaml");
    std::fs::write(
        &recipe,
        "train: {epochs: 2}\ntasks:\n  - name: moons\n    dataset: {name: two_moons, n: 200}\n    metrics: [{name: accuracy, label: acc}, nll]\nlosses: [cross_entropy, focal]\n",
    )
    .unwrap();
    let out = lossbench().args(["train", "--quiet", "--out"]).arg(tmp.path().join("r")).arg(&recipe).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("test acc (final epoch; mean ± std over seeds; higher is better)"));
    let out = lossbench().arg("compare").arg(tmp.path().join("r")).args(["--select", "best:acuracy"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("no run has metric `acuracy`; (recorded: acc, loss, nll)"), "{}", stderr_of(&out));
}

/// Regularizers at the three places a recipe takes them: their penalties are logged as
/// `reg_<label>` train metrics, the loss entry's label names them, and `gr_fd` with γ = 0 gives
/// bit-identical metrics to the plain run (the identity of the finite-difference construction).
#[test]
fn regularizers_train_log_their_penalties_and_gr_fd_with_zero_gamma_is_the_base() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = r#"name: regs
train: {epochs: 3, batch_size: 32}
regularizers: [{name: l2_init_reg, weight: 0.001}]
tasks:
  - name: moons
    dataset: {name: two_moons, n: 200}
    model: {name: mlp, hidden: [16]}
    regularizers: [entropy_reg]
  - name: moons_plain
    dataset: {name: two_moons, n: 200}
    model: {name: mlp, hidden: [16]}
losses:
  - cross_entropy
  - {name: cross_entropy, label: ce_gr0, regularizers: [{name: gr_fd, gamma: 0.0}]}
  - {name: cross_entropy, regularizers: [mixup, {name: flooding, level: 0.1}]}
"#;
    let path = tmp.path().join("regs.yaml");
    std::fs::write(&path, recipe).unwrap();
    let out = lossbench().args(["train", "--quiet", "--out"]).arg(tmp.path().join("res")).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let res = tmp.path().join("res");
    let csv = std::fs::read_to_string(res.join("moons/cross_entropy+mixup+flooding/adamw/seed-0/metrics.csv")).unwrap();
    for metric in ["reg_l2_init_reg", "reg_entropy_reg", "reg_mixup", "reg_flooding"] {
        assert!(csv.contains(&format!("3,train,{metric},")), "{metric} missing:\n{csv}");
    }
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(res.join("moons/ce_gr0/adamw/seed-0/run.json")).unwrap()).unwrap();
    let names: Vec<&str> = run["config"]["regularizers"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["l2_init_reg", "entropy_reg", "gr_fd"]);
    let strip = |dir: &str| -> Vec<String> {
        std::fs::read_to_string(res.join(dir).join("metrics.csv"))
            .unwrap()
            .lines()
            .filter(|l| !l.contains(",reg_"))
            .map(String::from)
            .collect()
    };
    assert_eq!(strip("moons_plain/ce_gr0/adamw/seed-0"), strip("moons_plain/cross_entropy/adamw/seed-0"));
    let mixed = strip("moons_plain/cross_entropy+mixup+flooding/adamw/seed-0");
    assert_ne!(mixed, strip("moons_plain/cross_entropy/adamw/seed-0"));
}

#[test]
fn bad_regularizers_are_input_errors_naming_the_place() {
    let with = |regs: &str| GOOD.replace("  - cross_entropy\n", &format!("  - {{name: cross_entropy, regularizers: {regs}}}\n"));
    let (code, err) = check_fails(&with("[{name: flodding}]"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.yaml:5:") && err.contains("unknown regularizer `flodding`; did you mean `flooding`?"), "{err}");
    let (code, err) = check_fails(&with("[{name: flooding, levle: 0.1}]"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown field `levle`, expected `level`"), "{err}");
    let (code, err) = check_fails(&with("[mixup, {name: mixup, label: m2}]"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("mixup, m2 all mix the inputs"), "{err}");
    let (code, err) = check_fails(&with("5"), None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("must be a list"), "{err}");
    let tokens = "tasks:\n  - name: t\n    dataset: {name: modular_arith, p: 7, encoding: tokens}\n    model: {name: embed_mlp}\nlosses: [cross_entropy]\nregularizers: [mixup]\n";
    let (code, err) = check_fails(tokens, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("regularizer `mixup` perturbs or mixes the inputs, but task `t` has token-id inputs"), "{err}");
    let regression = "tasks:\n  - name: r\n    dataset: {name: diabetes}\nlosses: [mse]\nregularizers: [vat]\n";
    let (code, err) = check_fails(regression, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("regularizer `vat` applies to classification tasks, not regression tasks"), "{err}");
}

/// Parse an SVG file as XML and return the text of its `<text>` elements.
fn svg_texts(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{} is not XML: {e}", path.display()));
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).map(|t| t.trim().to_string()).collect()
}

/// `train` draws learning curves, a critical-difference diagram and a performance profile;
/// `compare --baseline` reports paired statistics; `plot` and `plot-shape` write SVGs (PNG on
/// request) that parse as XML and name their series.
#[test]
fn statistics_and_plots_from_a_trained_recipe() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = r#"name: stats
seeds: [0, 1, 2, 3, 4, 5]
train: {epochs: 5, batch_size: 32}
tasks:
  - {name: moons, dataset: {name: two_moons, n: 150}, model: {name: mlp, hidden: [8]}}
  - {name: blobs, dataset: {name: blobs, n: 150, classes: 3, dim: 4}, model: {name: mlp, hidden: [8]}}
losses:
  - cross_entropy
  - {name: focal, gamma: 2.0}
  - mae_prob
"#;
    let path = tmp.path().join("stats.yaml");
    std::fs::write(&path, recipe).unwrap();
    let res = tmp.path().join("res");
    let out = lossbench().args(["train", "--quiet", "--jobs", "2", "--out"]).arg(&res).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let plots = res.join("plots");
    let curves = svg_texts(&plots.join("curves-moons-test-accuracy.svg"));
    for method in ["cross_entropy", "focal", "mae_prob"] {
        assert!(curves.iter().any(|t| t == method), "{method} missing from the learning curves: {curves:?}");
    }
    let cd = svg_texts(&plots.join("cd-test-accuracy.svg"));
    assert!(cd.iter().any(|t| t.starts_with("CD = ")) && cd.iter().any(|t| t.starts_with("focal (")), "{cd:?}");
    let profile = svg_texts(&plots.join("profile-test-accuracy.svg"));
    assert!(profile.iter().any(|t| t == "mae_prob"), "{profile:?}");

    let out = lossbench().args(["compare", "--no-files", "--baseline", "cross_entropy", "--rope", "0.01"]).arg(&res).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("| method | task | Δ mean ± std | 95 % CI | p | p (Holm) | verdict | n |"), "{md}");
    assert!(md.contains("Holm-adjusted over the ") && md.contains("Friedman test over 2 tasks × 3 methods"), "{md}");
    let out = lossbench().args(["compare", "--no-files", "--format", "csv", "--baseline", "cross_entropy"]).arg(&res).output().unwrap();
    let csv = String::from_utf8(out.stdout).unwrap();
    assert!(csv.lines().next().unwrap().contains("p_wilcoxon,p_holm,verdict,friedman_p,nemenyi_cd"), "{csv}");

    let out = lossbench()
        .args(["plot", "--metric", "loss", "--split", "train", "--png", "--out"])
        .arg(tmp.path().join("figs"))
        .arg(&res)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let png = std::fs::read(tmp.path().join("figs/curves-blobs-train-loss.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let out = lossbench().args(["plot-shape", "focal", "--set", "gamma=0,1,2", "--out"]).arg(tmp.path()).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let shape = svg_texts(&tmp.path().join("shape-focal.svg"));
    assert!(["gamma=0", "gamma=1", "gamma=2"].iter().all(|g| shape.iter().any(|t| t == g)), "{shape:?}");

    // Bad input: a typo in the metric, an unsupported α.
    let out = lossbench().args(["plot", "--metric", "acuracy"]).arg(&res).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("did you mean `accuracy`?"), "{}", stderr_of(&out));
    let out = lossbench().args(["compare", "--alpha", "0.2"]).arg(&res).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// `train --save-weights` keeps the final weights; `landscape` rebuilds the run from its
/// run.json, slices the loss along filter-normalised directions (the trained weights sit in a
/// basin: the middle of the slice is lower than its ends), interpolates to another run, and
/// writes sharpness figures. A run without weights is an input error that says what to do.
#[test]
fn landscape_of_a_trained_run() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = "name: land\ntrain: {epochs: 15, batch_size: 32}\ntasks:\n  - {name: moons, dataset: {name: two_moons, n: 300}, model: {name: mlp, hidden: [16]}}\nlosses: [cross_entropy, {name: focal, gamma: 2.0}]\n";
    let path = tmp.path().join("land.yaml");
    std::fs::write(&path, recipe).unwrap();
    let res = tmp.path().join("res");
    let out = lossbench().args(["train", "--quiet", "--save-weights", "--out"]).arg(&res).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let run_a = res.join("moons/cross_entropy/adamw/seed-0");
    let run_b = res.join("moons/focal/adamw/seed-0");
    assert!(run_a.join("weights.safetensors").is_file());
    let figs = tmp.path().join("figs");
    let out = lossbench()
        .arg("landscape")
        .arg(&run_a)
        .args(["--points", "11", "--between"])
        .arg(&run_b)
        .arg("--out")
        .arg(&figs)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let csv = std::fs::read_to_string(figs.join("landscape-1d.csv")).unwrap();
    let losses: Vec<f64> = csv.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(losses.len(), 11);
    assert!(losses[5] < losses[0] && losses[5] < losses[10], "not a basin: {losses:?}");
    assert!(svg_texts(&figs.join("landscape-1d.svg")).iter().any(|t| t == "train loss"));
    let interp = std::fs::read_to_string(figs.join("interpolation.csv")).unwrap();
    assert_eq!(interp.lines().count(), 12);
    let sharp: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(figs.join("sharpness.json")).unwrap()).unwrap();
    assert!(
        sharp["hessian_top_eigenvalue"].as_f64().unwrap().is_finite() && sharp["rho_sharpness"][1][1].as_f64().unwrap() >= 0.0,
        "{sharp}"
    );
    // The same analysis twice gives the same numbers (seeded directions and probes).
    let again = tmp.path().join("again");
    lossbench().arg("landscape").arg(&run_a).args(["--points", "11", "--out"]).arg(&again).assert().success();
    assert_eq!(std::fs::read(again.join("landscape-1d.csv")).unwrap(), csv.as_bytes());
    // 2-D grid.
    let out = lossbench().arg("landscape").arg(&run_a).args(["--dims", "2", "--points", "5", "--out"]).arg(&figs).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(std::fs::read_to_string(figs.join("landscape-2d.csv")).unwrap().lines().count(), 26);
    roxmltree::Document::parse(&std::fs::read_to_string(figs.join("landscape-2d.svg")).unwrap()).unwrap();
    // Without weights.
    std::fs::remove_file(run_b.join("weights.safetensors")).unwrap();
    let out = lossbench().arg("landscape").arg(&run_b).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("--save-weights"), "{}", stderr_of(&out));
}

/// `train.sharpness` records the final weights' ρ-sharpness and top Hessian eigenvalue as
/// train-split metrics of the last epoch — the same numbers `landscape` computes from the saved
/// weights — and an out-of-range setting is an input error naming the field.
#[test]
fn sharpness_at_the_end_of_a_run_matches_the_landscape() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = "name: sharp\ntrain: {epochs: 4, batch_size: 32, sharpness: {rho: 0.05}}\ntasks:\n  - {name: moons, dataset: {name: two_moons, n: 300}, model: {name: mlp, hidden: [16]}}\nlosses: [cross_entropy]\n";
    let path = tmp.path().join("sharp.yaml");
    std::fs::write(&path, recipe).unwrap();
    let res = tmp.path().join("res");
    let out = lossbench().args(["train", "--quiet", "--save-weights", "--out"]).arg(&res).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let run = res.join("moons/cross_entropy/adamw/seed-0");
    let csv = std::fs::read_to_string(run.join("metrics.csv")).unwrap();
    let value = |metric: &str| -> f64 {
        let line = csv
            .lines()
            .find(|l| l.starts_with("4,train,") && l.split(',').nth(2) == Some(metric))
            .unwrap_or_else(|| panic!("{metric}: {csv}"));
        line.split(',').nth(3).unwrap().parse().unwrap()
    };
    let figs = tmp.path().join("figs");
    lossbench().arg("landscape").arg(&run).args(["--points", "3", "--out"]).arg(&figs).assert().success();
    let sharp: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(figs.join("sharpness.json")).unwrap()).unwrap();
    let (rho, top) = (value("sharpness_rho"), value("hessian_top_eig"));
    assert!(rho > 0.0 && top.is_finite(), "{rho} {top}");
    assert_eq!(rho, sharp["rho_sharpness"][1][1].as_f64().unwrap(), "{sharp}");
    assert_eq!(top, sharp["hessian_top_eigenvalue"].as_f64().unwrap(), "{sharp}");
    std::fs::write(&path, recipe.replace("rho: 0.05", "rho: -1")).unwrap();
    let out = lossbench().args(["check"]).arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("train.sharpness.rho"), "{}", stderr_of(&out));
}

/// `bench --format json` prints one object per case with the documented keys; a typo in a case
/// name is an input error with a suggestion. (Timings are reported, never asserted.)
#[test]
fn bench_reports_json_and_rejects_unknown_cases() {
    let out = lossbench()
        .args(["bench", "--case", "tiny", "--case", "digits", "--steps", "2", "--repeats", "1", "--threads", "1", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let rows: Vec<serde_json::Value> = String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    for (row, case) in rows.iter().zip(["tiny", "digits"]) {
        assert_eq!(row["case"], case);
        assert_eq!(row["threads"], 1);
        assert!(row["ms_per_step"].as_f64().unwrap() > 0.0 && row["steps_per_s"].as_f64().unwrap() > 0.0, "{row}");
        assert!(row["gflops"].as_f64().unwrap() > 0.0, "{row}");
    }
    let out = lossbench().args(["bench", "--case", "mnsit"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("did you mean `mnist`?"), "{}", stderr_of(&out));
}

/// A grid in the recipe: `check` prints each grid's axes and the plan's size; `train` writes
/// one folder per point, labelled with its values, and records them in each run's config;
/// `seeds: N` counts seeds from 0.
#[test]
fn grids_in_a_recipe_expand_into_labelled_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = "name: g\nseeds: 2\ntrain: {epochs: [1, 2], batch_size: 32}\ntasks:\n  - name: b\n    dataset: {name: blobs, n: 90}\n    model: {name: mlp, hidden: [8]}\nlosses: [cross_entropy, {name: focal, gamma: [1, 2]}]\noptimizers: [{name: sgd, lr: [0.01, 0.1], momentum: 0.9}]\n";
    let path = tmp.path().join("g.yaml");
    std::fs::write(&path, recipe).unwrap();
    let out = lossbench().arg("check").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "grid train: epochs (2) → 2 entries",
        "grid losses[1] (focal): gamma (2) → 2 entries",
        "grid optimizers[0] (sgd): lr (2) → 2 entries",
        "runs: 24 = 6 task×loss pairs × 2 optimizers × 2 seeds",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let results = tmp.path().join("r");
    lossbench().arg("train").arg(&path).arg("--quiet").arg("--out").arg(&results).assert().success();
    let run = results.join("b-epochs=2/focal-gamma=2/sgd-lr=0.1/seed-1");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    let config = &record["config"];
    assert_eq!(
        (config["train"]["epochs"].as_u64(), config["loss"]["gamma"].as_f64(), config["optimizer"]["lr"].as_f64()),
        (Some(2), Some(2.0), Some(0.1))
    );
    assert_eq!(metric_files(&results).len(), 24);
}

/// `--set` overrides a value of the recipe before it is checked: the plan and each run's
/// config show it, a list makes a grid, and a bad override or a bad value names the override.
#[test]
fn set_overrides_the_recipe_and_errors_name_the_override() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = "name: s\nseeds: [0]\ntrain: {epochs: 3, batch_size: 32}\ntasks:\n  - name: b\n    dataset: {name: blobs, n: 90}\n    model: {name: mlp, hidden: [8]}\nlosses: [cross_entropy, focal]\noptimizers: [{name: sgd, lr: 0.1}]\n";
    let path = tmp.path().join("s.yaml");
    std::fs::write(&path, recipe).unwrap();
    let sets = [
        "--set",
        "train.epochs=1",
        "--set",
        "optimizers[0].lr=[0.01, 0.2]",
        "--set",
        "tasks[b].dataset.label_noise={kind: symmetric, rate: 0.2}",
        "--set",
        "losses[focal].gamma=3",
    ];
    let out = lossbench().arg("check").arg(&path).args(sets).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("train: 1 epoch, batch 32, schedule constant, dtype f32")
            && text.contains("sgd-lr=0.01, sgd-lr=0.2")
            && text.contains("runs: 4 ="),
        "{text}"
    );
    let results = tmp.path().join("r");
    lossbench().arg("train").arg(&path).args(sets).args(["--quiet", "--out"]).arg(&results).assert().success();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(results.join("b/focal/sgd-lr=0.2/seed-0/run.json")).unwrap()).unwrap();
    let config = &record["config"];
    assert_eq!(config["train"]["epochs"], 1);
    assert_eq!(config["loss"]["gamma"].as_f64(), Some(3.0));
    assert_eq!(config["task"]["dataset"]["label_noise"]["rate"].as_f64(), Some(0.2));
    for (set, wanted) in [
        ("optimizers[2].lr=1", "--set optimizers[2].lr=1: `optimizers` has 1 entries (0..0); there is no [2]"),
        ("train.epoch=2", "(with --set train.epoch=2): train: unknown field `epoch`"),
        ("losses[focal].gamma=-1", "(with --set losses[focal].gamma=-1): losses[1] (focal): parameter `gamma` = -1 is out of range"),
    ] {
        let out = lossbench().arg("check").arg(&path).args(["--set", set]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{set}");
        assert!(stderr_of(&out).contains(wanted), "{set}: {}", stderr_of(&out));
    }
}

/// Completions for every shell and the manual come from the command definitions: each names
/// the commands and their options.
#[test]
fn completions_and_manual_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = lossbench().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}: {}", stderr_of(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("claims") && text.contains("--set") && text.contains("--jobs"), "{shell}: {text}");
    }
    let bad = lossbench().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let page = String::from_utf8(lossbench().arg("man").output().unwrap().stdout).unwrap();
    assert!(page.starts_with(".ie") || page.contains(".TH lossbench"), "{page}");
    let tmp = tempfile::tempdir().unwrap();
    lossbench().args(["man", "--out"]).arg(tmp.path()).assert().success();
    let train = std::fs::read_to_string(tmp.path().join("lossbench-train.1")).unwrap();
    assert!(train.contains("\\-\\-set") && train.contains("PATH=VALUE"), "{train}");
    assert!(tmp.path().join("lossbench.1").is_file() && tmp.path().join("lossbench-claims.1").is_file());
}

/// `check` tells what will happen: each task's data, model and metrics as resolved (defaults
/// included), the optimizer's parameters, the cost; with `--out`, which runs are finished there,
/// which would train (and replace another configuration), and which folders are not the recipe's.
#[test]
fn check_tells_what_will_happen() {
    let tmp = tempfile::tempdir().unwrap();
    let recipe = "name: w\nseeds: [0, 1]\ntrain: {epochs: 2, batch_size: 32}\ntasks:\n  - name: b\n    dataset: {name: blobs, n: 90, classes: 3}\nlosses: [cross_entropy, {name: focal, gamma: 2}]\n";
    let path = tmp.path().join("w.yaml");
    std::fs::write(&path, recipe).unwrap();
    let check = |extra: &[&str]| {
        let out = lossbench().arg("check").arg(&path).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let text = check(&[]);
    for line in [
        "    b: 60 / 15 / 15 rows (train / val / test), 16 features, 3 classes; model mlp (activation relu, bias true, dropout 0.0, head linear, hidden [128,128]); metrics accuracy, nll, ece",
        "    adamw: adamw (beta1 0.9, beta2 0.999, eps 1e-8, lr 0.001, weight_decay 0.01)",
        "  cost: about 16 optimizer steps in all (4 runs)",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    let results = tmp.path().join("r");
    lossbench().arg("train").arg(&path).args(["--quiet", "--out"]).arg(&results).assert().success();
    let text = check(&["--out", results.to_str().unwrap(), "--set", "losses[focal].gamma=3", "--set", "seeds=[0, 1, 2]"]);
    assert!(
        text.contains("2 runs finished, 4 to train (2 of them replacing a run of another configuration or an unfinished one)"),
        "{text}"
    );
    assert!(!text.contains("not runs of this recipe"), "{text}");
    let text = check(&["--out", results.to_str().unwrap(), "--set", "losses[1].label=f2"]);
    assert!(text.contains("2 run folders there are not runs of this recipe: b/focal/adamw/seed-0, b/focal/adamw/seed-1"), "{text}");
}

/// `train` writes `runs.parquet` (one row per run, every parameter a column, the final metrics)
/// and `metrics.parquet` (every row of every `metrics.csv` with the run's id); `runs` lists and
/// filters them.
#[test]
fn run_tables_hold_every_run_and_every_value() {
    use polars::prelude::*;
    let tmp = tempfile::tempdir().unwrap();
    let recipe = "name: t\nseeds: [0, 1]\ntrain: {epochs: 2, batch_size: 32}\ntasks:\n  - name: b\n    dataset: {name: blobs, n: 90}\n    model: {name: mlp, hidden: [8]}\nlosses: [cross_entropy, {name: focal, gamma: 2}]\noptimizers: [{name: sgd, lr: [0.01, 0.1]}]\n";
    let path = tmp.path().join("t.yaml");
    std::fs::write(&path, recipe).unwrap();
    let results = tmp.path().join("r");
    lossbench().arg("train").arg(&path).args(["--quiet", "--out"]).arg(&results).assert().success();
    let read = |name: &str| ParquetReader::new(std::fs::File::open(results.join(name)).unwrap()).finish().unwrap();
    let runs = read("runs.parquet");
    assert_eq!(runs.height(), 8);
    let (lr, seeds) = (runs.column("optimizer.lr").unwrap().f64().unwrap(), runs.column("seed").unwrap().u64().unwrap());
    assert_eq!((0..8).filter(|&i| lr.get(i) == Some(0.1)).count(), 4);
    assert_eq!((0..8).filter_map(|i| seeds.get(i)).sum::<u64>(), 4);
    assert_eq!(runs.column("loss.gamma").unwrap().null_count(), 4, "cross_entropy has no gamma");
    let (finals, dirs) = (runs.column("final.test.accuracy").unwrap().f64().unwrap(), runs.column("dir").unwrap().str().unwrap());
    let metrics = read("metrics.parquet");
    let mut lines = 0;
    for i in 0..8 {
        let dir = dirs.get(i).unwrap();
        let csv = std::fs::read_to_string(std::path::Path::new(dir).join("metrics.csv")).unwrap();
        lines += csv.lines().count() - 1;
        let last = csv.lines().rfind(|l| l.starts_with("2,test,accuracy,")).unwrap();
        assert_eq!(finals.get(i), last.rsplit(',').next().unwrap().parse::<f64>().ok(), "{dir:?}");
    }
    assert_eq!(metrics.height(), lines);
    assert_eq!(metrics.get_column_names(), ["run_id", "epoch", "split", "metric", "value"]);
    let out = lossbench().arg("runs").arg(&results).args(["--where", "loss=focal", "--where", "optimizer.lr=0.1"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let md = String::from_utf8(out.stdout).unwrap();
    assert_eq!(md.lines().count(), 2 + 2, "{md}");
    // The parameters that no longer differ between the listed runs are left out of the table.
    assert!(
        md.starts_with("| run_id | task | loss | optimizer | seed | status | final.test.accuracy |")
            && md.contains("| b | focal | sgd-lr=0.1 | 1 | finished |"),
        "{md}"
    );
    let all = String::from_utf8(lossbench().arg("runs").arg(&results).output().unwrap().stdout).unwrap();
    let header = all.lines().next().unwrap();
    assert!(header.contains("| loss.gamma |") && header.contains("| optimizer.lr |") && all.lines().count() == 2 + 8, "{all}");
}
