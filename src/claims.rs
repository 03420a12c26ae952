//! Claims: the papers' headline comparisons (catalog §3) as recipes with a decision rule fixed
//! before running. A claim file is an ordinary recipe plus a `claim:` block; `lossbench claims
//! run` trains it (resuming), pairs each contrast's seeds, Holm-adjusts within the claim and
//! says whether the paper's claim was **reproduced**, **contradicted** or is **inconclusive**.

use crate::compare::{self, CompareOptions, Paired, Select, Verdict};
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contrast {
    pub method: String,
    pub baseline: String,
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
    pub contrasts: Vec<Contrast>,
    pub expect: Expect,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default)]
    pub rope: f64,
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
        if self.contrasts.is_empty() {
            return Err(Error::input("claim.contrasts: give at least one {method, baseline}"));
        }
        if let Some(c) = self.contrasts.iter().find(|c| c.method == c.baseline) {
            return Err(Error::input(format!("claim.contrasts: `{}` is compared with itself", c.method)));
        }
        self.select.parse::<Select>().map_err(|e| Error::input(format!("claim.select: {e}")))?;
        crate::registry::check_range("claim.alpha", self.alpha, 1e-6, 0.5)?;
        crate::registry::check_range("claim.rope", self.rope, 0.0, 1e6)
    }

    fn options(&self, baseline: &str) -> Result<CompareOptions> {
        Ok(CompareOptions {
            metric: Some(self.metric.clone()),
            split: self.split.clone(),
            select: self.select.parse()?,
            baseline: Some(baseline.to_string()),
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
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Reproduced => "reproduced",
            Outcome::Contradicted => "contradicted",
            Outcome::Inconclusive => "inconclusive",
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

    /// The claim's outcome from its contrasts': reproduced when all are, contradicted when
    /// any is, inconclusive otherwise.
    pub fn combine(all: &[Outcome]) -> Outcome {
        if !all.is_empty() && all.iter().all(|o| *o == Outcome::Reproduced) {
            Outcome::Reproduced
        } else if all.contains(&Outcome::Contradicted) {
            Outcome::Contradicted
        } else {
            Outcome::Inconclusive
        }
    }
}

/// One row of the claims table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub claim: String,
    pub paper: String,
    pub statement: String,
    pub paper_numbers: String,
    pub metric: String,
    pub task: String,
    pub method: String,
    pub baseline: String,
    pub method_mean: Option<f64>,
    pub method_std: Option<f64>,
    pub baseline_mean: Option<f64>,
    pub baseline_std: Option<f64>,
    pub paired: Option<Paired>,
    pub outcome: Outcome,
    pub seeds: usize,
}

/// The claim's rows from the comparison of its finished runs: each contrast on each task,
/// Holm-adjusted over the claim's contrasts.
pub fn decide(file: &ClaimFile, gathered: &compare::gather::Gathered) -> Result<Vec<Row>> {
    let c = &file.claim;
    let mut rows = Vec::new();
    let mut higher = true;
    // One comparison (and its bootstrap) per baseline, shared by the contrasts against it.
    let mut by_baseline: std::collections::BTreeMap<&str, compare::Comparison> = std::collections::BTreeMap::new();
    for contrast in &c.contrasts {
        if !by_baseline.contains_key(contrast.baseline.as_str()) {
            by_baseline.insert(&contrast.baseline, compare::compare(gathered, &c.options(&contrast.baseline)?)?);
        }
        let section = by_baseline[contrast.baseline.as_str()]
            .sections
            .iter()
            .find(|s| s.metric == c.metric)
            .ok_or_else(|| Error::input(format!("{}: no runs record metric `{}` on split `{}`", c.id, c.metric, c.split)))?;
        higher = section.higher_is_better;
        for task in &section.tasks {
            let cell = |m: &str| section.cells.iter().find(|x| &x.task == task && x.method == m);
            let (Some(method), base) = (cell(&contrast.method), cell(&contrast.baseline)) else {
                return Err(Error::input(format!("{}: no runs of method `{}` on task `{task}`", c.id, contrast.method)));
            };
            rows.push(Row {
                claim: c.id.clone(),
                paper: format!("{} ({}, {})", c.paper.title, c.paper.seed, c.paper.venue),
                statement: c.statement.clone(),
                paper_numbers: c.paper_numbers.clone().unwrap_or_default(),
                metric: c.metric.clone(),
                task: task.clone(),
                method: contrast.method.clone(),
                baseline: contrast.baseline.clone(),
                method_mean: method.mean,
                method_std: method.std,
                baseline_mean: base.and_then(|b| b.mean),
                baseline_std: base.and_then(|b| b.std),
                paired: method.paired.clone(),
                outcome: Outcome::Inconclusive,
                seeds: method.paired.as_ref().map_or(0, |p| p.n),
            });
        }
    }
    // Holm over the claim's contrasts, then each verdict by the claim's rule.
    let ps: Vec<(usize, f64)> =
        rows.iter().enumerate().filter_map(|(i, r)| r.paired.as_ref().and_then(|p| p.p_value).map(|p| (i, p))).collect();
    let adjusted = crate::stats::holm(&ps.iter().map(|(_, p)| *p).collect::<Vec<_>>());
    for ((i, _), adj) in ps.iter().zip(adjusted) {
        if let Some(p) = rows[*i].paired.as_mut() {
            p.p_holm = Some(adj);
        }
    }
    for row in &mut rows {
        if let Some(p) = row.paired.as_mut() {
            p.verdict = compare::paired::verdict(p, higher, c.rope, c.alpha);
            row.outcome = if row.seeds < MIN_SEEDS { Outcome::Inconclusive } else { Outcome::of(p.verdict, c.expect) };
        }
    }
    Ok(rows)
}

/// `lossbench claims run`, as parsed from the command line.
pub struct RunCommand {
    pub dir: PathBuf,
    /// Claim ids to run (all when empty).
    pub only: Vec<String>,
    /// 1 epoch, 2 seeds: checks that every claim runs (its verdicts mean nothing).
    pub smoke: bool,
    pub out: PathBuf,
    pub jobs: usize,
    pub quiet: bool,
}

/// The claim files `only` names (all when empty); an unknown id is an error naming the known.
fn selected(dir: &Path, only: &[String]) -> Result<Vec<ClaimFile>> {
    let all = list(dir)?;
    if let Some(bad) = only.iter().find(|id| all.iter().all(|f| &f.claim.id != *id)) {
        let known: Vec<&str> = all.iter().map(|f| f.claim.id.as_str()).collect();
        return Err(Error::input(format!("--only: no claim `{bad}` in {}; known: {}", dir.display(), known.join(", "))));
    }
    Ok(all.into_iter().filter(|f| only.is_empty() || only.contains(&f.claim.id)).collect())
}

/// Train one claim's recipe into `out/<id>` and decide it: (rows, wall seconds of its runs).
fn run_claim(file: &ClaimFile, c: &RunCommand) -> Result<(Vec<Row>, f64)> {
    let overrides = crate::recipe::Overrides {
        seeds: c.smoke.then(|| vec![0, 1]),
        epochs: c.smoke.then_some(1),
        device: "cpu".into(),
        save_weights: false,
        jobs: c.jobs,
    };
    let plan = crate::recipe::load(&file.path, &overrides)?;
    let labels: std::collections::BTreeSet<&str> = plan.runs.iter().map(|r| r.loss.label.as_str()).collect();
    let claim = &file.claim;
    if let Some(x) = claim.contrasts.iter().flat_map(|k| [&k.method, &k.baseline]).find(|m| !labels.contains(m.as_str())) {
        let known: Vec<&str> = labels.into_iter().collect();
        return Err(Error::input(format!(
            "{}: claim.contrasts names `{x}`, not a loss label of the recipe ({})",
            file.path.display(),
            known.join(", ")
        )));
    }
    let seeds: std::collections::BTreeSet<u64> = plan.runs.iter().map(|r| r.seed).collect();
    if !c.smoke && seeds.len() < MIN_SEEDS {
        return Err(Error::input(format!(
            "{}: a claim decides with at least {MIN_SEEDS} seeds; the recipe has {}",
            file.path.display(),
            seeds.len()
        )));
    }
    let out = c.out.join(&claim.id);
    let device = candle_core::Device::Cpu;
    let opts = crate::sweep::SweepOptions {
        out: out.clone(),
        device,
        device_name: "cpu".into(),
        jobs: c.jobs,
        force: false,
        progress: crate::train::progress_wanted(c.quiet),
        report_failures: !c.quiet,
    };
    crate::sweep::sweep(&plan, &opts)?;
    let planned: Vec<(PathBuf, &str)> = plan.runs.iter().map(|r| (out.join(&r.rel_dir), r.hash.as_str())).collect();
    let filter = claim.options(&claim.contrasts[0].baseline)?.row_filter();
    let (gathered, missing) = compare::gather::gather_plan(&planned, &filter);
    if let Some((dir, why)) = missing.first() {
        return Err(Error::runtime(format!("{}: {} runs did not finish, e.g. {}: {why}", claim.id, missing.len(), dir.display())));
    }
    let wall: f64 = planned.iter().filter_map(|(d, _)| crate::run::read_record(d).ok()).map(|r| r.timings.wall_s).sum();
    Ok((decide(file, &gathered)?, wall))
}

/// Run `lossbench claims run`: every selected claim, then `claims.{md,csv,json}` in `out`.
pub fn run_command(c: RunCommand) -> Result<()> {
    if c.jobs == 0 {
        return Err(Error::input("--jobs must be at least 1"));
    }
    let files = selected(&c.dir, &c.only)?;
    let mut rows = Vec::new();
    let mut walls = Vec::new();
    for file in &files {
        let (r, wall) = run_claim(file, &c)?;
        rows.extend(r);
        walls.push((file.claim.id.clone(), wall));
    }
    let md = render_md(&files, &rows, &walls, c.smoke);
    crate::run::write_atomic(&c.out.join("claims.md"), md.as_bytes())?;
    crate::run::write_atomic(&c.out.join("claims.csv"), render_csv(&rows).as_bytes())?;
    let json = serde_json::to_string_pretty(&rows).map_err(|e| Error::runtime(e.to_string()))?;
    crate::run::write_atomic(&c.out.join("claims.json"), json.as_bytes())?;
    print!("{md}");
    Ok(())
}

/// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn fmt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

/// One line per contrast and task; only what the runs determine (no wall times), so that
/// rerunning the registry gives the same bytes.
pub fn render_csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "claim,metric,task,method,baseline,method_mean,method_std,baseline_mean,baseline_std,delta,ci_low,ci_high,p,p_holm,seeds,outcome\n",
    );
    for r in rows {
        let p = r.paired.as_ref();
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            field(&r.claim),
            field(&r.metric),
            field(&r.task),
            field(&r.method),
            field(&r.baseline),
            fmt(r.method_mean),
            fmt(r.method_std),
            fmt(r.baseline_mean),
            fmt(r.baseline_std),
            fmt(p.map(|p| p.mean)),
            fmt(p.map(|p| p.ci_low)),
            fmt(p.map(|p| p.ci_high)),
            fmt(p.and_then(|p| p.p_value)),
            fmt(p.and_then(|p| p.p_holm)),
            r.seeds,
            r.outcome.as_str()
        ));
    }
    out
}

fn mean_std(mean: Option<f64>, std: Option<f64>) -> String {
    match (mean, std) {
        (Some(m), Some(s)) => format!("{m:.4} ± {s:.4}"),
        (Some(m), None) => format!("{m:.4}"),
        _ => "—".into(),
    }
}

/// `YYYY-MM-DD` of a Unix time (UTC; Howard Hinnant's days-to-civil).
fn date(unix: u64) -> String {
    let z = (unix / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The machine in words: CPU model, cores, and whether it has AVX-512.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info.lines().find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_string()));
    let isa = if info.contains(" avx512f") {
        "AVX-512"
    } else if info.contains(" avx2") {
        "AVX2"
    } else {
        "no AVX2"
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{}, {cores} cores, {isa}", model.unwrap_or_else(|| std::env::consts::ARCH.to_string()))
}

/// The claims table in Markdown: when, where and how long, then per claim its statement and
/// verdict, then its contrasts.
pub fn render_md(files: &[ClaimFile], rows: &[Row], walls: &[(String, f64)], smoke: bool) -> String {
    let total: f64 = walls.iter().map(|w| w.1).sum();
    let mut out = format!(
        "# Claims\n\nGenerated by `lossbench claims run` (lossbench {}) on {}, {}; {} claims, {total:.0} s of runs in all.\n\n",
        env!("CARGO_PKG_VERSION"),
        date(crate::run::now_unix()),
        machine(),
        files.len()
    );
    if smoke {
        out.push_str("**Smoke run** (1 epoch, 2 seeds): it checks that each claim runs; its verdicts mean nothing.\n\n");
    }
    for f in files {
        let c = &f.claim;
        let mine: Vec<&Row> = rows.iter().filter(|r| r.claim == c.id).collect();
        let outcome = Outcome::combine(&mine.iter().map(|r| r.outcome).collect::<Vec<_>>());
        let wall = walls.iter().find(|(id, _)| id == &c.id).map_or(0.0, |w| w.1);
        out.push_str(&format!("## {} — {}\n\n{} ({}, {})\n\n", c.id, outcome.as_str(), c.statement, c.paper.title, c.paper.venue));
        if let Some(n) = &c.paper_numbers {
            out.push_str(&format!("Paper: {n}\n\n"));
        }
        out.push_str(&format!(
            "Rule: {} on {}, {}; expected: {}; α = {}, rope ±{}; Holm over the claim's {} contrasts. Runs: {wall:.1} s of training and evaluation.\n\n",
            c.metric,
            c.split,
            c.select,
            if c.expect == Expect::Better { "better than the baseline" } else { "equal to the baseline" },
            c.alpha,
            c.rope,
            mine.len()
        ));
        out.push_str("| task | method | baseline | method | baseline | Δ mean | 95 % CI | p (Holm) | n | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n");
        for r in mine {
            let p = r.paired.as_ref();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                r.task,
                r.method,
                r.baseline,
                mean_std(r.method_mean, r.method_std),
                mean_std(r.baseline_mean, r.baseline_std),
                p.map_or("—".into(), |p| format!("{:+.4}", p.mean)),
                p.map_or("—".into(), |p| format!("[{:+.4}, {:+.4}]", p.ci_low, p.ci_high)),
                p.and_then(|p| p.p_holm).map_or("—".into(), |q| format!("{q:.4}")),
                r.seeds,
                r.outcome.as_str()
            ));
        }
        for h in &c.history {
            out.push_str(&format!("\nProtocol change {}: {} — {}\n", h.date, h.what, h.why));
        }
        out.push('\n');
    }
    out
}

/// `lossbench claims list`: one line per claim file.
pub fn list_command(dir: &Path) -> Result<()> {
    for f in list(dir)? {
        let c = &f.claim;
        println!("{:<4} {:<16} {} ({})", c.id, c.metric, c.statement, f.path.display());
    }
    Ok(())
}

/// `lossbench claims show ID`: the claim's rule and where its file is.
pub fn show_command(dir: &Path, id: &str) -> Result<()> {
    let file = selected(dir, &[id.to_string()])?.remove(0);
    let c = &file.claim;
    println!("{} — {}\n  paper: {} ({}, {})", c.id, c.statement, c.paper.title, c.paper.seed, c.paper.venue);
    if let Some(n) = &c.paper_numbers {
        println!("  paper's numbers: {n}");
    }
    println!("  metric: {} on {}, {}; α = {}, rope ±{}; expected: {:?}", c.metric, c.split, c.select, c.alpha, c.rope, c.expect);
    for k in &c.contrasts {
        println!("  contrast: {} vs {}", k.method, k.baseline);
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
    }

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(field("blobs"), "blobs");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_796_083_200), "2026-12-01");
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
    }
}
