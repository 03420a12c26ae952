//! The claims registry end to end: every shipped claim file runs (`--smoke`), the table names
//! each contrast with its verdict, a rerun gives the same `claims.csv` bytes, and bad claim
//! files or ids are clear errors.

use assert_cmd::Command;

fn lossbench() -> Command {
    Command::cargo_bin("lossbench").unwrap()
}

#[test]
fn every_shipped_claim_runs_and_a_rerun_gives_the_same_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("claims");
    let run =
        || lossbench().args(["claims", "run", "--smoke", "--quiet", "--jobs", "2", "--out", out.to_str().unwrap()]).assert().success();
    run();
    let csv = std::fs::read_to_string(out.join("claims.csv")).unwrap();
    let files = std::fs::read_dir("recipes/claims").unwrap().count();
    let claims: std::collections::BTreeSet<&str> = csv.lines().skip(1).filter_map(|l| l.split(',').next()).collect();
    assert_eq!(claims.len(), files, "{csv}");
    for line in csv.lines().skip(1) {
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
            "claim.contrasts names `mse`, not a loss label of the recipe (cross_entropy, focal)",
        ),
        ("  contrasts: [{method: focal, baseline: cross_entropy}]\n  rope: -1\n", "claim.rope"),
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
    assert!(err.contains("no claim `H99`") && err.contains("known: H15"), "{err}");
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
