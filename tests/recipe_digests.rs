//! The refactor invariant: every shipped recipe, trained briefly (`scripts/recipe_digests.sh`,
//! 3 epochs each), gives the same bytes in every `metrics.csv` as the committed fixture
//! `tests/fixtures/recipe-digests-<isa>.txt`, produced on the main branch before a change.
//!
//! Float rounding follows the matrix kernels the CPU runs, so fixtures are kept per
//! instruction set (AVX-512 or AVX2); on a machine whose set has no fixture yet the test says so
//! and prints the digests to commit, rather than comparing against another machine's numbers.

use std::path::Path;
use std::process::Command;

#[test]
fn every_shipped_recipe_gives_the_committed_metrics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts/recipe_digests.sh");
    let isa = Command::new(&script).arg("--isa").output().expect("run recipe_digests.sh --isa");
    let isa = String::from_utf8(isa.stdout).unwrap().trim().to_string();
    let bin = assert_cmd::cargo::cargo_bin("lossbench");
    let out = Command::new(&script).arg(&bin).env_remove("EPOCHS").output().expect("run recipe_digests.sh");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let digests = String::from_utf8(out.stdout).unwrap();
    let yaml_in = |dir: &str| {
        std::fs::read_dir(root.join(dir)).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "yaml")).count()
    };
    let recipes = yaml_in("recipes") + yaml_in("recipes/claims");
    let trained: std::collections::BTreeSet<&str> = digests.lines().filter_map(|l| l.split('/').next()).collect();
    assert_eq!(trained.len(), recipes, "every shipped recipe trains:\n{digests}");
    let fixture = root.join(format!("tests/fixtures/recipe-digests-{isa}.txt"));
    match std::fs::read_to_string(&fixture) {
        Ok(expected) => {
            let changed: Vec<(&str, &str)> = expected.lines().zip(digests.lines()).filter(|(a, b)| a != b).collect();
            assert!(
                expected == digests,
                "{} of {} metrics.csv differ from {} (first: {:?}); a change that must not move numbers moved them",
                changed.len().max(expected.lines().count().abs_diff(digests.lines().count())),
                expected.lines().count(),
                fixture.display(),
                changed.first()
            );
        }
        Err(_) => eprintln!("no fixture for `{isa}` yet: commit these digests as {}:\n{digests}", fixture.display()),
    }
}
