//! Bad input gets a clear error, never a hang, a panic or an abort; what `check` accepts trains
//! or fails cleanly; results survive odd folders. End to end, through the real binary.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

const SMALL: &str = "name: small\nseeds: [0, 1]\ntrain: {epochs: 2, batch_size: 32}\ntasks:\n  - name: blobs\n    dataset: {name: blobs, n: 120}\n    model: {name: mlp, hidden: [8]}\nlosses: [cross_entropy, focal]\n";

/// Exit code 2, an `error:` line containing `needle`, and no panic report.
fn fails_cleanly(dir: &Path, args: &[&str], needle: &str) {
    let (code, _, err) = run(dir, args);
    assert_eq!(code, 2, "{args:?}: {err}");
    assert!(err.contains(needle), "{args:?}: expected `{needle}` in:\n{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
}

/// A FIFO or a device as recipe or data file is refused at once, not read or waited on.
#[test]
fn only_regular_files_are_read() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(std::process::Command::new("mkfifo").arg(tmp.path().join("fifo")).status().unwrap().success());
    fails_cleanly(tmp.path(), &["check", "fifo"], "not a regular file");
    fails_cleanly(tmp.path(), &["check", "/dev/zero"], "not a regular file");
    write(tmp.path(), "r.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: csv, path: fifo, target: y}"));
    fails_cleanly(tmp.path(), &["check", "r.yaml"], "not a regular file");
    write(tmp.path(), "z.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: csv, path: /dev/zero, target: y}"));
    fails_cleanly(tmp.path(), &["check", "z.yaml"], "not a regular file");
    fails_cleanly(tmp.path(), &["losses", "eval", "focal", "--inputs", "fifo"], "not a regular file");
}

/// Names that cannot become folders, NaN parameters, `--epochs 0`, a decimal Parquet column
/// and a cell too large for f32 are input errors naming the place.
#[test]
fn odd_values_are_input_errors_naming_the_place() {
    let tmp = tempfile::tempdir().unwrap();
    let long = "t".repeat(300);
    write(tmp.path(), "long.yaml", &SMALL.replace("- name: blobs", &format!("- name: {long}")));
    fails_cleanly(tmp.path(), &["check", "long.yaml"], "is 300 bytes long; names and labels may have at most 100");
    write(tmp.path(), "label.yaml", &SMALL.replace("[cross_entropy, focal]", &format!("[{{name: focal, label: {long}}}]")));
    fails_cleanly(tmp.path(), &["check", "label.yaml"], "at most 100");
    write(tmp.path(), "nan.yaml", &format!("{SMALL}optimizers: [{{name: adamw, lr: .nan}}]\n"));
    fails_cleanly(tmp.path(), &["check", "nan.yaml"], "`lr`: .nan is not a finite number");
    write(tmp.path(), "ok.yaml", SMALL);
    let (code, _, err) = run(tmp.path(), &["check", "ok.yaml", "--epochs", "0"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: --epochs 0: allowed: 1..="), "{err}");
    let text = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/text_feature.parquet");
    std::fs::copy(text, tmp.path().join("t.parquet")).unwrap();
    write(tmp.path(), "text.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: parquet, path: t.parquet, target: y}"));
    fails_cleanly(tmp.path(), &["check", "text.yaml"], "t.parquet row 2: column 1 (`a`): `abc` is not a number");
    let label = "l".repeat(2000);
    write(tmp.path(), "label.csv", &format!("a,y\n1,{label}\n2,b\n"));
    write(tmp.path(), "lab.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: csv, path: label.csv, target: y}"));
    fails_cleanly(tmp.path(), &["check", "lab.yaml"], "is 2000 bytes long; labels may have at most 1024");
    write(tmp.path(), "case.yaml", &SMALL.replace("[cross_entropy, focal]", "[{name: focal, label: Focal}, focal]"));
    fails_cleanly(tmp.path(), &["check", "case.yaml"], "both get the label `focal`");
    let many: Vec<String> = (0..3000).map(|_| "0-100000".to_string()).collect();
    fails_cleanly(tmp.path(), &["check", "ok.yaml", "--seeds", &many.join(",")], "--seeds: more than 1000000 seeds");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decimal.parquet");
    std::fs::copy(fixture, tmp.path().join("d.parquet")).unwrap();
    write(tmp.path(), "dec.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: parquet, path: d.parquet, target: y}"));
    fails_cleanly(tmp.path(), &["check", "dec.yaml"], "column `a` has type Decimal(10, 2), which lossbench does not read");
    let rows: String = (0..20).map(|i| format!("{},{}\n", if i == 7 { "1e39".to_string() } else { i.to_string() }, i % 2)).collect();
    write(tmp.path(), "big.csv", &format!("a,y\n{rows}"));
    write(tmp.path(), "big.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: csv, path: big.csv, target: y}"));
    fails_cleanly(tmp.path(), &["check", "big.yaml"], "big.csv:9: column 1 (`a`): `1e39` does not fit in a 32-bit float");
    let cell = "9".repeat(5 << 20);
    write(tmp.path(), "huge.csv", &format!("a,y\n1,0\n{cell}x,1\n"));
    write(tmp.path(), "huge.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: csv, path: huge.csv, target: y}"));
    let (code, _, err) = run(tmp.path(), &["check", "huge.yaml"]);
    assert_eq!(code, 2);
    assert!(err.len() < 1000 && err.contains("bytes in all"), "{} bytes of error", err.len());
}

/// Plans over the memory budget or the run limit are refused at `check`, naming the task and
/// the figures; a long list of seeds is checked quickly.
#[test]
fn plans_too_large_for_the_machine_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "r.yaml", &SMALL.replace("hidden: [8]", "hidden: [4096, 4096, 4096]"));
    let (code, out, err) = run(tmp.path(), &["check", "r.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("memory: about") && out.contains("per run at most (task `blobs`)"), "{out}");
    fails_cleanly(tmp.path(), &["check", "r.yaml", "--max-memory", "256M"], "a run of task `blobs`: ");
    fails_cleanly(tmp.path(), &["check", "r.yaml", "--max-memory", "256M"], "over the memory limit of 256.0 MiB (set with --max-memory)");
    let (code, _, err) = run(tmp.path(), &["check", "r.yaml", "--max-memory", "2G", "--jobs", "8"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("4 at a time") && err.contains("lower --jobs"), "{err}");
    // 100 000 classes: the evaluation outputs (rows × classes) count.
    let rows: String = (0..400).map(|i| format!("{},{}\n", i % 13, if i == 0 { 99_999 } else { i % 5 })).collect();
    write(tmp.path(), "many.csv", &format!("a,y\n{rows}"));
    write(tmp.path(), "many.yaml", &SMALL.replace("{name: blobs, n: 120}", "{name: csv, path: many.csv, target: y}"));
    fails_cleanly(tmp.path(), &["check", "many.yaml", "--max-memory", "512M"], "evaluation");
    write(
        tmp.path(),
        "noise.yaml",
        &SMALL.replace("{name: blobs, n: 120}", "{name: csv, path: many.csv, target: y, label_noise: {kind: class_dependent, rate: 0.2}}"),
    );
    fails_cleanly(tmp.path(), &["check", "noise.yaml"], "allows at most 4096 classes");
    let deep = vec!["4"; 101].join(", ");
    write(tmp.path(), "deep.yaml", &SMALL.replace("hidden: [8]", &format!("hidden: [{deep}]")));
    fails_cleanly(tmp.path(), &["check", "deep.yaml"], "has 101 layers; the limit is 100");
    let ranges: Vec<String> = (0..6).map(|i| format!("{}-{}", i * 100_000, i * 100_000 + 99_999)).collect();
    fails_cleanly(tmp.path(), &["check", "r.yaml", "--seeds", &ranges.join(",")], "lossbench's limit is 1000000 per recipe");
    let seeds: Vec<String> = (0..100_000).map(|s| s.to_string()).collect();
    write(tmp.path(), "seeds.yaml", &SMALL.replace("seeds: [0, 1]", &format!("seeds: [{}]", seeds.join(", "))));
    let (code, out, err) = run(tmp.path(), &["check", "seeds.yaml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("runs: 200000 = 2 task×loss pairs × 1 optimizer × 100000 seeds"), "{out}");
}

/// `compare` ends on a link cycle, and prints its table when the files cannot be written;
/// stale temporary files of a killed process are removed on the next run.
#[test]
fn odd_results_folders_still_give_tables() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "r.yaml", SMALL);
    let (code, table, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res", "--quiet"]);
    assert_eq!(code, 0, "{err}");
    std::os::unix::fs::symlink("..", tmp.path().join("res/blobs/loop")).unwrap();
    let (code, again, err) = run(tmp.path(), &["compare", "res", "--no-files"]);
    assert_eq!((code, &again), (0, &table), "{err}");
    // The tables cannot be saved (a folder where a file should go): the table still prints.
    std::fs::remove_file(tmp.path().join("res/comparison-accuracy-final.md")).unwrap();
    std::fs::create_dir(tmp.path().join("res/comparison-accuracy-final.md")).unwrap();
    let (code, again, err) = run(tmp.path(), &["compare", "res"]);
    assert_eq!((code, &again), (0, &table), "{err}");
    assert!(err.contains("warning: the tables were not saved in res"), "{err}");
    let (code, again, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!((code, &again), (0, &table), "{err}");
    assert!(err.contains("were not saved"), "{err}");
    // Temporary files of a dead process go; a live writer's stay.
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let run_dir = tmp.path().join("res/blobs/focal/adamw/seed-0");
    let stale = [
        run_dir.join(format!(".metrics.csv.tmp-{dead}-0")),
        tmp.path().join(format!("res/.comparison-accuracy-final.csv.tmp-{dead}-3")),
        tmp.path().join(format!(".t.md.tmp-{dead}-1")),
    ];
    for s in &stale {
        std::fs::write(s, "partial").unwrap();
    }
    let live = tmp.path().join(format!("res/.comparison-accuracy-final.csv.tmp-{}-0", std::process::id()));
    std::fs::write(&live, "in progress").unwrap();
    std::fs::write(run_dir.join("metrics.csv"), "epoch,split,metric,value\n").unwrap();
    std::fs::remove_dir(tmp.path().join("res/comparison-accuracy-final.md")).unwrap();
    let (code, _, err) = run(tmp.path(), &["train", "r.yaml", "--out", "res"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("1 trained"), "{err}");
    let (code, _, err) = run(tmp.path(), &["compare", "res", "--out", "t.md"]);
    assert_eq!(code, 0, "{err}");
    for s in &stale {
        assert!(!s.exists(), "{} was left behind", s.display());
    }
    assert!(live.exists(), "a live process's temporary file was removed");
}

/// The results folder removed during a sweep is a runtime failure (exit 1), not bad input.
#[test]
fn a_results_folder_removed_mid_sweep_is_a_runtime_failure() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "slow.yaml", "name: slow\nseeds: [0, 1, 2, 3, 4, 5]\ntrain: {epochs: 40, batch_size: 32}\ntasks:\n  - name: digits\n    dataset: {name: digits}\n    model: {name: mlp, hidden: [128, 128]}\nlosses: [cross_entropy, focal]\n");
    let out = tmp.path().join("res");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("lossbench"))
        .args(["train", "slow.yaml", "--quiet", "--out", "res"])
        .current_dir(tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while !out.join("digits/cross_entropy/adamw/seed-1/run.json").is_file() && start.elapsed().as_secs() < 120 {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The sweep keeps writing meanwhile, so removing the tree can race with it: retry.
    for _ in 0..50 {
        if std::fs::remove_dir_all(&out).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = child.wait().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains("are not finished in res after the sweep"), "{err}");
}
