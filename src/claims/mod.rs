//! Claims: the papers' headline comparisons (catalog §3) as recipes with a decision rule fixed
//! before running. A claim file is an ordinary recipe plus a `claim:` block; `lossbench claims
//! run` trains it (resuming), pairs each contrast's seeds, Holm-adjusts within the claim and
//! says whether the paper's claim was **reproduced**, **contradicted** or is **inconclusive**.
//! With `--sensitivity` it reruns each claim at the neighbours of its protocol that the file
//! fixes (learning rate or epochs scaled) and calls the verdict robust or fragile.

mod decide;
mod grid;
mod render;
mod run;

pub use decide::{decide, Row};
pub use grid::GridContrast;
pub use render::{render_csv, render_md};
pub use run::{parse_budget, run_command, RunCommand};

use crate::compare::{CompareOptions, Select, Verdict};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the shipped claim files live.
pub const DIR: &str = "recipes/claims";

/// A claim's paper.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paper {
    /// The seed id of its abstract (`S003`).
    pub seed: String,
    pub title: String,
    /// arXiv id or venue.
    pub venue: String,
}

/// What the paper expects of each contrast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// The method is better than the baseline (in the metric's direction).
    Better,
    /// The method is as good as the baseline, within the rope.
    Equal,
}

/// One comparison of a claim: a method (a loss label of the recipe) against a baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contrast {
    pub method: String,
    pub baseline: String,
    /// This contrast's expectation, where it differs from the claim's `expect` (H13: a gain
    /// with strong weight decay, none without).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
    /// The split both sides are read on, where it differs from the claim's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// The selection of the method's / the baseline's value, where it differs from the claim's:
    /// with `baseline_select: epoch:1` a method is compared with itself early in training (H9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method_select: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_select: Option<String>,
    /// Only this task's runs of the method (default: every task).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<String>,
    /// The baseline's runs come from this task (the same data under another model: H8's
    /// harmonic against a linear head); default: the method's task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_task: Option<String>,
}

impl Contrast {
    /// A contrast of `method` with `baseline` that reads the claim's split and selection.
    pub fn named(method: &str, baseline: &str) -> Contrast {
        Contrast { method: method.into(), baseline: baseline.into(), ..Default::default() }
    }

    /// What the paper expects of this contrast.
    pub fn expected(&self, claim: &Claim) -> Expect {
        self.expect.unwrap_or(claim.expect)
    }

    /// The split and the method's and baseline's selections this contrast reads.
    pub fn reading<'a>(&'a self, claim: &'a Claim) -> (&'a str, &'a str, &'a str) {
        let split = self.split.as_deref().unwrap_or(&claim.split);
        let select = |own: &'a Option<String>| own.as_deref().unwrap_or(&claim.select);
        (split, select(&self.method_select), select(&self.baseline_select))
    }

    /// Whether it reads anything other than the claim's split and selection.
    pub fn reads_its_own(&self) -> bool {
        self.split.is_some() || self.method_select.is_some() || self.baseline_select.is_some() || self.baseline_task.is_some()
    }

    /// Rows it gives in a plan of `tasks` tasks.
    pub fn rows(&self, tasks: usize) -> usize {
        if self.task.is_some() {
            1
        } else {
            tasks
        }
    }
}

/// A recorded change of the protocol after results were seen.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEntry {
    pub date: String,
    pub what: String,
    pub why: String,
}

fn default_split() -> String {
    "test".into()
}
fn default_select() -> String {
    "final".into()
}
fn default_alpha() -> f64 {
    0.05
}

/// A neighbour of a claim's protocol (`sensitivity:` in the claim block): the same recipe with
/// every optimizer's learning rate (base optimizers' included) and/or the epochs scaled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    /// Its name in the table and its results folder (`lr_x0.5`).
    pub label: String,
    /// Factor on every `lr`.
    #[serde(default)]
    pub lr: Option<f64>,
    /// Factor on `train.epochs` (rounded, at least 1).
    #[serde(default)]
    pub epochs: Option<f64>,
}

impl Point {
    /// `lr ×0.5, epochs ×0.5`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> =
            [("lr", self.lr), ("epochs", self.epochs)].iter().filter_map(|(what, f)| f.map(|f| format!("{what} ×{f}"))).collect();
        parts.join(", ")
    }

    fn check(&self) -> Result<()> {
        let field = format!("claim.sensitivity `{}`", self.label);
        if self.label.is_empty() || !self.label.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c)) {
            return Err(Error::input(format!("{field}: a label is letters, digits, `.`, `_` or `-` (it names a folder)")));
        }
        if self.label == "protocol" {
            return Err(Error::input(format!("{field}: `protocol` names the claim's own protocol")));
        }
        if self.lr.is_none() && self.epochs.is_none() {
            return Err(Error::input(format!("{field}: give `lr` and/or `epochs`, the factors that make the neighbour")));
        }
        if let Some(f) = self.lr {
            crate::registry::check_range(&format!("{field}.lr"), f, 1e-3, 1e3)?;
        }
        if let Some(f) = self.epochs {
            crate::registry::check_range(&format!("{field}.epochs"), f, 1e-3, 100.0)?;
        }
        Ok(())
    }
}

/// The `claim:` block of a claim file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    /// `H15`.
    pub id: String,
    pub paper: Paper,
    /// The claim in one sentence.
    pub statement: String,
    /// The paper's own numbers, where its abstract or code gives them.
    #[serde(default)]
    pub paper_numbers: Option<String>,
    /// The primary metric (its label in `metrics.csv`), split and selection.
    pub metric: String,
    #[serde(default = "default_split")]
    pub split: String,
    #[serde(default = "default_select")]
    pub select: String,
    #[serde(default)]
    pub contrasts: Vec<Contrast>,
    /// Contrasts of a statistic over whole grids of runs (H14: the shape of the good region).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grids: Vec<GridContrast>,
    pub expect: Expect,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default)]
    pub rope: f64,
    /// Needs far more compute than the rest (grokking's 10⁴ epochs): `claims run` leaves it
    /// out unless `--long` is given or `--only` names it.
    #[serde(default)]
    pub long: bool,
    /// The neighbourhood `claims run --sensitivity` reruns the protocol at.
    #[serde(default)]
    pub sensitivity: Vec<Point>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

/// Fewest seeds a claim may decide with.
pub const MIN_SEEDS: usize = 6;

impl Claim {
    /// A recipe's `claim:` block, checked.
    pub fn from_block(block: &serde_yaml::Value) -> Result<Claim> {
        let claim: Claim = serde_yaml::from_value(block.clone()).map_err(|e| Error::input(format!("claim: {e}")))?;
        claim.check()?;
        Ok(claim)
    }

    fn check(&self) -> Result<()> {
        if !(self.id.len() >= 2 && self.id.starts_with('H') && self.id[1..].chars().all(|c| c.is_ascii_digit())) {
            return Err(Error::input(format!("claim.id `{}`: allowed: H followed by digits (H1–H45)", self.id)));
        }
        if self.contrasts.is_empty() && self.grids.is_empty() {
            return Err(Error::input("claim.contrasts: give at least one {method, baseline} (or claim.grids)"));
        }
        for (i, g) in self.grids.iter().enumerate() {
            g.check(i)?;
        }
        let same_point =
            |c: &Contrast| c.reading(self).1 == c.reading(self).2 && c.baseline_task.as_ref().is_none_or(|t| Some(t) == c.task.as_ref());
        if let Some(c) = self.contrasts.iter().find(|c| c.method == c.baseline && same_point(c)) {
            return Err(Error::input(format!(
                "claim.contrasts: `{}` is compared with itself; compare it with itself at another point with `baseline_select` (e.g. epoch:1)",
                c.method
            )));
        }
        self.select.parse::<Select>().map_err(|e| Error::input(format!("claim.select: {e}")))?;
        for (i, c) in self.contrasts.iter().enumerate() {
            for (field, value) in [("method_select", &c.method_select), ("baseline_select", &c.baseline_select)] {
                if let Some(v) = value {
                    let select = v.parse::<Select>().map_err(|e| Error::input(format!("claim.contrasts[{i}].{field}: {e}")))?;
                    if matches!(select, Select::Best(_)) && v != &self.select {
                        return Err(Error::input(format!(
                            "claim.contrasts[{i}].{field} = {v}: a contrast selects `final` or `epoch:N`; a `best:` selection is the claim's `select`"
                        )));
                    }
                }
            }
        }
        crate::registry::check_range("claim.alpha", self.alpha, 1e-6, 0.5)?;
        crate::registry::check_range("claim.rope", self.rope, 0.0, 1e6)?;
        for (i, p) in self.sensitivity.iter().enumerate() {
            p.check()?;
            if self.sensitivity[..i].iter().any(|q| q.label == p.label) {
                return Err(Error::input(format!("claim.sensitivity: label `{}` is used twice", p.label)));
            }
        }
        Ok(())
    }

    /// Options that read the claim's metric on `split` at `select`, pairing with nothing.
    /// What the paper expects of each contrast, grid contrasts last (at least one).
    pub fn expectations(&self) -> Vec<Expect> {
        let grids = self.grids.iter().map(|_| self.expect);
        self.contrasts.iter().map(|k| k.expected(self)).chain(grids).collect()
    }

    pub(super) fn reading(&self, split: &str, select: &str) -> Result<CompareOptions> {
        Ok(CompareOptions {
            metric: Some(self.metric.clone()),
            split: split.to_string(),
            select: select.parse()?,
            baseline: None,
            rope: self.rope,
            alpha: self.alpha,
        })
    }
}

/// A claim file: its path and its claim.
#[derive(Debug, Clone)]
pub struct ClaimFile {
    pub path: PathBuf,
    pub claim: Claim,
}

/// Read and check the claim file `path` (its recipe is checked by `recipe::load`).
pub fn read(path: &Path) -> Result<ClaimFile> {
    let text = crate::files::read_text(path, crate::files::MAX_RECIPE_BYTES)
        .map_err(|e| Error::input(format!("cannot read claim file {}: {e}", path.display())))?;
    let value: serde_yaml::Value = serde_yaml::from_str(&text).map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    let block = value
        .get("claim")
        .ok_or_else(|| Error::input(format!("{}: no `claim:` block (a claim file is a recipe plus a claim)", path.display())))?;
    let claim = Claim::from_block(block).map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
    Ok(ClaimFile { path: path.to_path_buf(), claim })
}

/// Every claim file in `dir`, by id (H2 before H10).
pub fn list(dir: &Path) -> Result<Vec<ClaimFile>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::input(format!("{}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yaml") {
            files.push(read(&p)?);
        }
    }
    files.sort_by_key(|f| f.claim.id[1..].parse::<u32>().unwrap_or(u32::MAX));
    if let Some(w) = files.windows(2).find(|w| w[0].claim.id == w[1].claim.id) {
        return Err(Error::input(format!("claim {} is in both {} and {}", w[0].claim.id, w[0].path.display(), w[1].path.display())));
    }
    Ok(files)
}

/// What a claim concludes about one contrast on one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Reproduced,
    Contradicted,
    Inconclusive,
    /// Not all its runs finished before `--budget` was spent; a rerun resumes.
    Unfinished,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reproduced => "reproduced",
            Outcome::Contradicted => "contradicted",
            Outcome::Inconclusive => "inconclusive",
            Outcome::Unfinished => "unfinished",
        }
    }

    /// A paired verdict read against the paper's expectation: a win where a gain is claimed
    /// reproduces it, a loss or an equivalence contradicts it; a tie where equality is claimed
    /// reproduces it, a significant difference either way contradicts it.
    fn of(verdict: Verdict, expect: Expect) -> Outcome {
        match (expect, verdict) {
            (_, Verdict::Undecided) => Outcome::Inconclusive,
            (Expect::Better, Verdict::Win) | (Expect::Equal, Verdict::Tie) => Outcome::Reproduced,
            _ => Outcome::Contradicted,
        }
    }

    /// The claim's outcome from its contrasts': unfinished when any is, reproduced when all
    /// are, contradicted when any is, inconclusive otherwise.
    pub fn combine(all: &[Outcome]) -> Outcome {
        if all.contains(&Outcome::Unfinished) {
            Outcome::Unfinished
        } else if !all.is_empty() && all.iter().all(|o| *o == Outcome::Reproduced) {
            Outcome::Reproduced
        } else if all.contains(&Outcome::Contradicted) {
            Outcome::Contradicted
        } else {
            Outcome::Inconclusive
        }
    }
}

/// The claim files `only` names, or with none named all of them (the long ones only with
/// `long`); an unknown id is an error naming the known.
fn selected(dir: &Path, only: &[String], long: bool) -> Result<Vec<ClaimFile>> {
    let all = list(dir)?;
    if let Some(bad) = only.iter().find(|id| all.iter().all(|f| &f.claim.id != *id)) {
        let known: Vec<&str> = all.iter().map(|f| f.claim.id.as_str()).collect();
        return Err(Error::input(format!("--only: no claim `{bad}` in {}; known: {}", dir.display(), known.join(", "))));
    }
    Ok(all.into_iter().filter(|f| if only.is_empty() { long || !f.claim.long } else { only.contains(&f.claim.id) }).collect())
}

/// `lossbench claims list`: one line per claim file.
pub fn list_command(dir: &Path) -> Result<()> {
    for f in list(dir)? {
        let c = &f.claim;
        let tag = if c.long { " [long]" } else { "" };
        println!("{:<4} {:<16} {}{tag} ({})", c.id, c.metric, c.statement, f.path.display());
    }
    Ok(())
}

/// `lossbench claims show ID`: the claim's rule and where its file is.
pub fn show_command(dir: &Path, id: &str) -> Result<()> {
    let file = selected(dir, &[id.to_string()], true)?.remove(0);
    let c = &file.claim;
    println!("{} — {}\n  paper: {} ({}, {})", c.id, c.statement, c.paper.title, c.paper.seed, c.paper.venue);
    if let Some(n) = &c.paper_numbers {
        println!("  paper's numbers: {n}");
    }
    println!("  metric: {} on {}, {}; α = {}, rope ±{}; expected: {:?}", c.metric, c.split, c.select, c.alpha, c.rope, c.expect);
    for k in &c.contrasts {
        println!("  contrast: {} vs {} (expected: {:?})", k.method, k.baseline, k.expected(c));
    }
    for p in &c.sensitivity {
        println!("  sensitivity {}: {}", p.label, p.describe());
    }
    if c.long {
        println!("  long: left out of `claims run` unless --long or --only names it");
    }
    for h in &c.history {
        println!("  history {}: {} — {}", h.date, h.what, h.why);
    }
    println!("  file: {}\n  run: lossbench claims run --only {}", file.path.display(), c.id);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(extra: &str) -> serde_yaml::Value {
        let text = format!(
            "id: H7\npaper: {{seed: S1, title: T, venue: V}}\nstatement: s\nmetric: accuracy\nexpect: better\ncontrasts: [{{method: a, baseline: b}}]\n{extra}"
        );
        serde_yaml::from_str(&text).unwrap()
    }

    #[test]
    fn a_claim_block_is_checked_naming_the_field() {
        let c = Claim::from_block(&block("")).unwrap();
        assert_eq!((c.split.as_str(), c.select.as_str(), c.alpha, c.rope), ("test", "final", 0.05, 0.0));
        for (extra, expected) in [
            ("select: last", "claim.select"),
            ("alpha: 0.9", "claim.alpha"),
            ("colour: red", "unknown field `colour`"),
            ("history: [{date: 2026-01-01, what: x}]", "missing field `why`"),
        ] {
            let e = Claim::from_block(&block(extra)).unwrap_err().to_string();
            assert!(e.contains(expected), "{extra}: {e}");
        }
        let bad_id = serde_yaml::from_str::<serde_yaml::Value>(
            "id: X1\npaper: {seed: S, title: T, venue: V}\nstatement: s\nmetric: m\nexpect: equal\ncontrasts: [{method: a, baseline: a}]",
        )
        .unwrap();
        assert!(Claim::from_block(&bad_id).unwrap_err().to_string().contains("claim.id `X1`"));
        // A contrast may expect what the claim does not; the others inherit the claim's.
        let mut v = block("");
        v["contrasts"] = serde_yaml::from_str("[{method: a, baseline: b, expect: equal}, {method: c, baseline: b}]").unwrap();
        let c = Claim::from_block(&v).unwrap();
        assert_eq!(c.contrasts.iter().map(|k| k.expected(&c)).collect::<Vec<_>>(), vec![Expect::Equal, Expect::Better]);
        v["contrasts"] = serde_yaml::from_str("[{method: a, baseline: b, expect: worse}]").unwrap();
        assert!(Claim::from_block(&v).unwrap_err().to_string().contains("unknown variant `worse`"));
    }

    #[test]
    fn verdicts_read_against_the_expectation() {
        use Outcome::*;
        assert_eq!(Outcome::of(Verdict::Win, Expect::Better), Reproduced);
        assert_eq!(Outcome::of(Verdict::Tie, Expect::Better), Contradicted);
        assert_eq!(Outcome::of(Verdict::Loss, Expect::Better), Contradicted);
        assert_eq!(Outcome::of(Verdict::Undecided, Expect::Better), Inconclusive);
        assert_eq!(Outcome::of(Verdict::Tie, Expect::Equal), Reproduced);
        assert_eq!(Outcome::of(Verdict::Win, Expect::Equal), Contradicted);
        assert_eq!(Outcome::combine(&[Reproduced, Reproduced]), Reproduced);
        assert_eq!(Outcome::combine(&[Reproduced, Inconclusive]), Inconclusive);
        assert_eq!(Outcome::combine(&[Inconclusive, Contradicted]), Contradicted);
        assert_eq!(Outcome::combine(&[]), Inconclusive);
        assert_eq!(Outcome::combine(&[Contradicted, Unfinished]), Unfinished);
    }
}
