//! The claims table: `claims.csv` (only what the runs determine, so a rerun gives the same
//! bytes) and `claims.md` (when, where and how long; per claim its verdict, its robustness
//! under `--sensitivity`, and its contrasts).

use super::decide::Row;
use super::run::Wall;
use super::{ClaimFile, Expect, Outcome};

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

/// One line per point, contrast and task; no wall times, so that rerunning the registry gives
/// the same bytes.
pub fn render_csv(rows: &[Row]) -> String {
    let mut out = String::from(
        "claim,point,metric,task,method,baseline,method_mean,method_std,baseline_mean,baseline_std,delta,ci_low,ci_high,p,p_holm,seeds,method_excluded,baseline_excluded,outcome\n",
    );
    for r in rows {
        let p = r.paired.as_ref();
        let text = [&r.claim, &r.point, &r.metric, &r.task, &r.method, &r.baseline].map(|s| field(s));
        let numbers =
            [r.method_mean, r.method_std, r.baseline_mean, r.baseline_std, p.map(|p| p.mean), p.map(|p| p.ci_low), p.map(|p| p.ci_high)];
        let tests = [p.and_then(|p| p.p_value), p.and_then(|p| p.p_holm)];
        let numbers: Vec<String> = numbers.iter().chain(&tests).map(|v| fmt(*v)).collect();
        let counts = format!("{},{},{}", r.seeds, r.method_excluded, r.baseline_excluded);
        out.push_str(&format!("{},{},{counts},{}\n", text.join(","), numbers.join(","), r.outcome.as_str()));
    }
    out
}

/// A figure of the table: four decimals, or three significant digits below 0.001 (sharpness,
/// small differences), where four decimals would show little or nothing.
fn num(v: f64, signed: bool) -> String {
    match (v != 0.0 && v.abs() < 1e-3, signed) {
        (true, true) => format!("{v:+.2e}"),
        (true, false) => format!("{v:.2e}"),
        (false, true) => format!("{v:+.4}"),
        (false, false) => format!("{v:.4}"),
    }
}

fn mean_std(mean: Option<f64>, std: Option<f64>) -> String {
    match (mean, std) {
        (Some(m), Some(s)) => format!("{} ± {}", num(m, false), num(s, false)),
        (Some(m), None) => num(m, false),
        _ => "—".into(),
    }
}

/// `2 h 05 min`, `13 min 15 s`, `42.0 s`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        _ if seconds < 60.0 => format!("{seconds:.1} s"),
        _ if s < 3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
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

/// Robust when the verdict at every neighbour is the protocol's, fragile otherwise; `None`
/// when no neighbour was run.
fn robustness(protocol: Outcome, points: &[(&str, Outcome)]) -> Option<&'static str> {
    if points.is_empty() {
        None
    } else if points.iter().all(|(_, o)| *o == protocol) {
        Some("robust")
    } else {
        Some("fragile")
    }
}

/// Each point's combined outcome, in the order the rows give the points.
fn point_outcomes<'a>(mine: &[&'a Row]) -> Vec<(&'a str, Outcome)> {
    let mut points: Vec<&str> = Vec::new();
    for r in mine {
        if !points.contains(&r.point.as_str()) {
            points.push(&r.point);
        }
    }
    let outcome = |p: &str| Outcome::combine(&mine.iter().filter(|r| r.point == p).map(|r| r.outcome).collect::<Vec<_>>());
    points.into_iter().map(|p| (p, outcome(p))).collect()
}

/// Seeds paired, with the runs left out (`9 †1/0`: one of the method's diverged or failed).
fn seeds_cell(r: &Row) -> String {
    if r.method_excluded + r.baseline_excluded == 0 {
        r.seeds.to_string()
    } else {
        format!("{} †{}/{}", r.seeds, r.method_excluded, r.baseline_excluded)
    }
}

/// Whether the claim's contrasts expect different things.
fn mixed(f: &ClaimFile) -> bool {
    let all = f.claim.expectations();
    all.iter().any(|e| *e != all[0])
}

/// What the claim expects, in words: one expectation for all its contrasts, or each its own.
fn expected_text(f: &ClaimFile) -> &'static str {
    if mixed(f) {
        "per contrast, shown with its verdict"
    } else if f.claim.expectations()[0] == Expect::Equal {
        "equal to the baseline"
    } else {
        "better than the baseline"
    }
}

/// A row's verdict, with its contrast's expectation where the claim's differ.
fn verdict_cell(r: &Row, mixed: bool) -> String {
    match (mixed, r.expect) {
        (false, _) => r.outcome.as_str().to_string(),
        (true, Expect::Better) => format!("{} (expects better)", r.outcome.as_str()),
        (true, Expect::Equal) => format!("{} (expects equal)", r.outcome.as_str()),
    }
}

/// One contrast's row of a claim's table.
fn contrast_line(r: &Row, mixed: bool) -> String {
    let p = r.paired.as_ref();
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        r.task,
        r.method,
        r.baseline,
        mean_std(r.method_mean, r.method_std),
        mean_std(r.baseline_mean, r.baseline_std),
        p.map_or("—".into(), |p| num(p.mean, true)),
        p.map_or("—".into(), |p| format!("[{}, {}]", num(p.ci_low, true), num(p.ci_high, true))),
        p.and_then(|p| p.p_holm).map_or("—".into(), |q| format!("{q:.4}")),
        seeds_cell(r),
        verdict_cell(r, mixed)
    )
}

/// The neighbours' verdicts, one line each with their paired differences.
fn sensitivity_lines(mine: &[&Row], points: &[(&str, Outcome)]) -> String {
    let mut out = String::from("| neighbour | verdict | Δ mean per contrast |\n|---|---|---|\n");
    for (point, outcome) in points {
        let deltas: Vec<String> =
            mine.iter().filter(|r| r.point == *point).map(|r| r.paired.as_ref().map_or("—".into(), |p| num(p.mean, true))).collect();
        out.push_str(&format!("| {point} | {} | {} |\n", outcome.as_str(), deltas.join(", ")));
    }
    out
}

/// The verdict in plain words.
fn reading(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Reproduced => "**Reproduced**: the runs support the paper's claim.",
        Outcome::Contradicted => {
            "**Contradicted**: the runs go against the paper's claim (significantly the other way, or equivalent where the paper claims a gain)."
        }
        Outcome::Inconclusive => "**Inconclusive**: the runs decide neither way at this scale.",
        Outcome::Unfinished => "**Unfinished**: the budget ran out before all its runs finished; the same command resumes them.",
    }
}

/// One claim's section: heading with verdict, statement, rule, contrasts, neighbours, history.
fn claim_section(f: &ClaimFile, rows: &[Row], wall: Option<&Wall>) -> String {
    let c = &f.claim;
    let mine: Vec<&Row> = rows.iter().filter(|r| r.claim == c.id).collect();
    let protocol: Vec<&Row> = mine.iter().copied().filter(|r| r.point == "protocol").collect();
    let outcome = Outcome::combine(&protocol.iter().map(|r| r.outcome).collect::<Vec<_>>());
    let neighbours: Vec<&Row> = mine.iter().copied().filter(|r| r.point != "protocol").collect();
    let points = point_outcomes(&neighbours);
    let robust = robustness(outcome, &points).map_or(String::new(), |r| format!(" ({r})"));
    let mut out = format!("## {} — {}{robust}\n\n{} ({}, {})\n\n", c.id, outcome.as_str(), c.statement, c.paper.title, c.paper.venue);
    if let Some(n) = &c.paper_numbers {
        out.push_str(&format!("Paper: {n}\n\n"));
    }
    out.push_str(&format!("{}\n\n", reading(outcome)));
    let w = wall.cloned().unwrap_or_default();
    let neighbour_time =
        if points.is_empty() { String::new() } else { format!(", {:.1} s more at its {} neighbours", w.neighbours, points.len()) };
    out.push_str(&format!(
        "Rule: {} on {}, {}; expected: {}; α = {}, rope ±{}; Holm over the claim's {} contrasts. Runs: {:.1} s of training and evaluation{neighbour_time}.\n\n",
        c.metric,
        c.split,
        c.select,
        expected_text(f),
        c.alpha,
        c.rope,
        protocol.len(),
        w.protocol
    ));
    for k in &c.grids {
        out.push_str(&format!("Grid contrasts compare, per seed, the {}; lower is better.\n\n", k.statistic(&c.metric)));
    }
    out.push_str("| task | method | baseline | method | baseline | Δ mean | 95 % CI | p (Holm) | n | verdict |\n|---|---|---|---|---|---|---|---|---|---|\n");
    let mixed = mixed(f);
    out.extend(protocol.iter().map(|r| contrast_line(r, mixed)));
    if protocol.iter().any(|r| r.method_excluded + r.baseline_excluded > 0) {
        out.push_str("\n†m/b: runs of the method / the baseline that diverged, failed or gave no finite value (a milestone never reached), left out of the pairing.\n");
    }
    if !points.is_empty() {
        let label = robustness(outcome, &points).unwrap_or_default();
        out.push_str(&format!("\nSensitivity: {label}; the verdict at each neighbour of the protocol that the claim file fixes:\n\n"));
        out.push_str(&sensitivity_lines(&neighbours, &points));
    }
    for h in &c.history {
        out.push_str(&format!("\nProtocol change {}: {} — {}\n", h.date, h.what, h.why));
    }
    out.push('\n');
    out
}

/// The claims table in Markdown: when, where and how long (the runs' recorded wall time, and
/// this invocation's elapsed time with the runs it trained), then one section per claim.
pub fn render_md(files: &[ClaimFile], rows: &[Row], walls: &[Wall], smoke: bool, elapsed: f64) -> String {
    let total: f64 = walls.iter().map(|w| w.protocol + w.neighbours).sum();
    let (runs, trained): (usize, usize) = (walls.iter().map(|w| w.runs).sum(), walls.iter().map(|w| w.trained).sum());
    let mut out = format!(
        "# Claims\n\nGenerated by `lossbench claims run` (lossbench {}) on {}, {}: {} claims, {runs} runs taking {} in all (the sum of their recorded wall times); this invocation trained {trained} of them in {} elapsed and reused the rest.\n\n",
        env!("CARGO_PKG_VERSION"),
        date(crate::run::now_unix()),
        machine(),
        files.len(),
        duration(total),
        duration(elapsed)
    );
    if smoke {
        out.push_str("**Smoke run** (1 epoch, 2 seeds): it checks that each claim runs; its verdicts mean nothing.\n\n");
    }
    for f in files {
        out.push_str(&claim_section(f, rows, walls.iter().find(|w| w.claim == f.claim.id)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_commas_or_quotes_are_quoted() {
        assert_eq!(field("blobs"), "blobs");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn small_figures_keep_their_significant_digits() {
        assert_eq!(num(0.8029, false), "0.8029");
        assert_eq!(num(-0.0323, true), "-0.0323");
        assert_eq!(num(0.000352, false), "3.52e-4");
        assert_eq!(num(-0.000352, true), "-3.52e-4");
        assert_eq!(num(0.0, true), "+0.0000");
    }

    #[test]
    fn durations_read_in_the_largest_sensible_units() {
        assert_eq!(duration(42.04), "42.0 s");
        assert_eq!(duration(795.4), "13 min 15 s");
        assert_eq!(duration(7500.0), "2 h 05 min");
    }

    #[test]
    fn dates_are_civil_utc() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date(951_782_400), "2000-02-29");
        assert_eq!(date(1_796_083_200), "2026-12-01");
    }

    #[test]
    fn a_verdict_is_robust_only_when_every_neighbour_agrees() {
        use Outcome::*;
        assert_eq!(robustness(Reproduced, &[]), None);
        assert_eq!(robustness(Reproduced, &[("lr_x0.5", Reproduced), ("lr_x2", Reproduced)]), Some("robust"));
        assert_eq!(robustness(Reproduced, &[("lr_x0.5", Reproduced), ("lr_x2", Inconclusive)]), Some("fragile"));
        assert_eq!(robustness(Contradicted, &[("epochs_x0.5", Contradicted)]), Some("robust"));
    }
}
