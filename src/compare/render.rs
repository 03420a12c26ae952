//! Step 5 of a comparison: the tables as Markdown, LaTeX, CSV, JSON and Parquet.

use super::{Cell, Format, Paired, Section};
use crate::error::{Error, Result};
use crate::run;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Decimals for values of this magnitude: 4 below 100, 2 below 1000, else 1.
fn decimals(v: f64) -> usize {
    match v.abs() {
        a if a >= 1000.0 => 1,
        a if a >= 100.0 => 2,
        _ => 4,
    }
}

pub(crate) fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.*}", decimals(v))
    } else {
        format!("{v}")
    }
}

/// `mean ± std`, both with the mean's number of decimals.
fn pair(mean: f64, std: f64, latex: bool) -> String {
    let d = if mean.is_finite() { decimals(mean) } else { 4 };
    if latex {
        format!("${mean:.d$} \\pm {std:.d$}$")
    } else {
        format!("{mean:.d$} ± {std:.d$}")
    }
}

/// The spread of paired differences: `—` for a single pair.
fn spread(p: &Paired) -> String {
    if p.n < 2 {
        "—".into()
    } else {
        num(p.std)
    }
}

fn signed(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// Whether `method` has the best mean in `task` (ties all count), for bold.
fn is_best(section: &Section, task: &str, method: &str) -> bool {
    let means = section.cells.iter().filter(|c| c.task == task).filter_map(|c| c.mean.filter(|m| m.is_finite()));
    let best = if section.higher_is_better { means.fold(f64::NEG_INFINITY, f64::max) } else { means.fold(f64::INFINITY, f64::min) };
    section.cell(task, method).and_then(|c| c.mean).is_some_and(|m| m == best)
}

fn cell_text(c: &Cell, n_max: usize, bold: bool, latex: bool) -> String {
    let mut s = match (c.mean, c.std) {
        (Some(m), Some(sd)) => pair(m, sd, latex),
        // One seed: no spread to show.
        (Some(m), None) => {
            if latex {
                format!("${}$", num(m))
            } else {
                num(m)
            }
        }
        _ => "—".into(),
    };
    if bold && c.mean.is_some() {
        s = if latex { s.replacen('$', "$\\mathbf{", 1).trim_end_matches('$').to_string() + "}$" } else { format!("**{s}**") };
    }
    if (c.values.len() != n_max || c.values.len() == 1) && c.mean.is_some() {
        s.push_str(&format!(" (n={})", c.values.len()));
    }
    if c.diverged > 0 {
        s.push_str(&format!(" †{}", c.diverged));
    }
    if c.failed > 0 {
        s.push_str(&format!(" ✗{}", c.failed));
    }
    s
}

fn header_text(section: &Section) -> String {
    format!(
        "{} {} ({}; mean ± std over seeds; {} is better)",
        section.split,
        section.metric,
        section.select,
        if section.higher_is_better { "higher" } else { "lower" }
    )
}

pub(super) fn render_md(sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        let n_max = s.cells.iter().map(|c| c.values.len()).max().unwrap_or(0);
        out.push_str(&format!("### {}\n\n", header_text(s)));
        out.push_str(&format!("| method | {} | avg rank |\n", s.tasks.join(" | ")));
        out.push_str(&format!("|---|{}---|\n", "---|".repeat(s.tasks.len())));
        let mut methods = s.methods.clone();
        methods.sort_by(|a, b| s.avg_rank.get(a).unwrap_or(&f64::MAX).total_cmp(s.avg_rank.get(b).unwrap_or(&f64::MAX)));
        for m in &methods {
            let cells: Vec<String> = s
                .tasks
                .iter()
                .map(|t| match s.cell(t, m) {
                    Some(c) => cell_text(c, n_max, is_best(s, t, m), false),
                    None => "—".into(),
                })
                .collect();
            let rank = s.avg_rank.get(m).map(|r| format!("{r:.2}")).unwrap_or_else(|| "—".into());
            out.push_str(&format!("| {m} | {} | {rank} |\n", cells.join(" | ")));
        }
        let diverged: usize = s.cells.iter().map(|c| c.diverged).sum();
        let failed: usize = s.cells.iter().map(|c| c.failed).sum();
        out.push_str(&format!("\nn = {n_max} seeds per cell unless marked; bold = best mean in its task."));
        if diverged > 0 {
            out.push_str(&format!(" †k = k seeds diverged (excluded from the mean; {diverged} in all)."));
        }
        if failed > 0 {
            out.push_str(&format!(" ✗k = k runs failed ({failed} in all; see their run.json)."));
        }
        out.push('\n');
        if let Some(text) = friedman_text(s) {
            out.push_str(&format!("\n{text}\n"));
        }
        for note in &s.notes {
            out.push_str(&format!("\n{note}\n"));
        }
        if let Some(base) = &s.baseline {
            out.push_str(&format!(
                "\nPaired against `{base}` (same seeds): mean ± std of the per-seed differences, 95 % bootstrap interval, \
                 two-sided Wilcoxon signed-rank p, Holm-adjusted over the {} comparisons of this table; verdict at α = {} with rope ±{}:\n\n",
                paired_count(s),
                s.alpha,
                s.rope
            ));
            out.push_str("| method | task | Δ mean ± std | 95 % CI | p | p (Holm) | verdict | n |\n|---|---|---|---|---|---|---|---|\n");
            for (m, t, p) in paired_rows(s, &methods) {
                out.push_str(&format!(
                    "| {m} | {t} | {} ± {} | [{}, {}] | {} | {} | {} | {} |\n",
                    signed(p.mean),
                    spread(p),
                    signed(p.ci_low),
                    signed(p.ci_high),
                    p_text(p.p_value),
                    p_text(p.p_holm),
                    p.verdict.as_str(),
                    p.n
                ));
            }
        }
        out.push('\n');
    }
    out
}

fn p_text(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
        None => "—".into(),
    }
}

fn paired_count(s: &Section) -> usize {
    s.cells.iter().filter(|c| c.paired.as_ref().is_some_and(|p| p.p_value.is_some())).count()
}

/// (method, task, paired) in table order.
fn paired_rows<'a>(s: &'a Section, methods: &'a [String]) -> Vec<(&'a str, &'a str, &'a Paired)> {
    let mut out = Vec::new();
    for m in methods {
        for t in &s.tasks {
            if let Some(p) = s.cell(t, m).and_then(|c| c.paired.as_ref()) {
                out.push((m.as_str(), t.as_str(), p));
            }
        }
    }
    out
}

/// "Friedman …; Nemenyi CD …", when the table has a Friedman test.
fn friedman_text(s: &Section) -> Option<String> {
    let f = s.friedman.as_ref()?;
    let mut text = format!(
        "Friedman test over {} tasks × {} methods: χ² = {:.3}, p = {}",
        f.blocks,
        f.treatments,
        f.statistic,
        p_text(Some(f.p_value))
    );
    if let Some(cd) = s.cd {
        text.push_str(&format!(
            "; Nemenyi critical difference (α = {}) = {cd:.3} — average ranks further apart differ significantly",
            s.alpha
        ));
    }
    text.push('.');
    Some(text)
}

fn latex_escape(s: &str) -> String {
    s.replace('\\', "\\textbackslash{}").replace('_', "\\_").replace('&', "\\&").replace('%', "\\%").replace('#', "\\#")
}

fn render_latex(sections: &[Section]) -> String {
    let mut out = String::new();
    for s in sections {
        let n_max = s.cells.iter().map(|c| c.values.len()).max().unwrap_or(0);
        out.push_str("\\begin{table}[t]\n\\centering\n");
        out.push_str(&format!("\\caption{{{}}}\n", latex_escape(&header_text(s)).replace('±', "$\\pm$")));
        out.push_str(&format!("\\begin{{tabular}}{{l{}r}}\n\\toprule\n", "c".repeat(s.tasks.len())));
        let head: Vec<String> = s.tasks.iter().map(|t| latex_escape(t)).collect();
        out.push_str(&format!("method & {} & avg rank \\\\\n\\midrule\n", head.join(" & ")));
        for m in &s.methods {
            let cells: Vec<String> = s
                .tasks
                .iter()
                .map(|t| match s.cell(t, m) {
                    Some(c) => latex_escape_cell(&cell_text(c, n_max, is_best(s, t, m), true)),
                    None => "--".into(),
                })
                .collect();
            let rank = s.avg_rank.get(m).map(|r| format!("{r:.2}")).unwrap_or_else(|| "--".into());
            out.push_str(&format!("{} & {} & {rank} \\\\\n", latex_escape(m), cells.join(" & ")));
        }
        out.push_str("\\bottomrule\n\\end{tabular}\n");
        if let Some(text) = friedman_text(s) {
            out.push_str(&format!(
                "\\par\\smallskip\\footnotesize {}\n",
                latex_escape(&text).replace('χ', "$\\chi$").replace('²', "$^2$").replace('α', "$\\alpha$")
            ));
        }
        out.push_str("\\end{table}\n\n");
        if let Some(base) = &s.baseline {
            out.push_str("\\begin{table}[t]\n\\centering\n");
            out.push_str(&format!(
                "\\caption{{Paired against {} (same seeds): mean $\\pm$ std of differences, 95\\% bootstrap CI, Wilcoxon $p$, Holm-adjusted $p$, verdict ($\\alpha = {}$, rope $\\pm{}$)}}\n",
                latex_escape(base),
                s.alpha,
                s.rope
            ));
            out.push_str("\\begin{tabular}{llrrrrlr}\n\\toprule\nmethod & task & $\\Delta$ & 95\\% CI & $p$ & $p_{\\text{Holm}}$ & verdict & $n$ \\\\\n\\midrule\n");
            for (m, t, p) in paired_rows(s, &s.methods) {
                out.push_str(&format!(
                    "{} & {} & ${} \\pm {}$ & $[{}, {}]$ & {} & {} & {} & {} \\\\\n",
                    latex_escape(m),
                    latex_escape(t),
                    signed(p.mean),
                    spread(p).replace('—', "--"),
                    signed(p.ci_low),
                    signed(p.ci_high),
                    p_text(p.p_value).replace('—', "--"),
                    p_text(p.p_holm).replace('—', "--"),
                    p.verdict.as_str(),
                    p.n
                ));
            }
            out.push_str("\\bottomrule\n\\end{tabular}\n\\end{table}\n\n");
        }
    }
    out
}

/// Cells already contain LaTeX math; only the markers need translating.
fn latex_escape_cell(s: &str) -> String {
    s.replace('†', "$^\\dagger$").replace('✗', "$\\times$")
}

/// One row per cell, for CSV, JSON and Parquet.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub metric: String,
    pub split: String,
    /// How each run's value was chosen: `final`, `best:<metric>`, `epoch:<n>`.
    pub select: String,
    /// The method paired against, when the comparison has one.
    pub baseline: Option<String>,
    pub task: String,
    pub method: String,
    pub loss: String,
    pub optimizer: String,
    pub n: usize,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub diverged: usize,
    pub failed: usize,
    pub rank: Option<f64>,
    pub avg_rank: Option<f64>,
    pub diff_mean: Option<f64>,
    pub diff_std: Option<f64>,
    pub diff_n: Option<usize>,
    pub diff_ci_low: Option<f64>,
    pub diff_ci_high: Option<f64>,
    pub p_wilcoxon: Option<f64>,
    pub p_holm: Option<f64>,
    pub verdict: Option<String>,
    /// Of the table (repeated on each row): Friedman's p and Nemenyi's critical difference.
    pub friedman_p: Option<f64>,
    pub nemenyi_cd: Option<f64>,
}

pub fn rows(sections: &[Section]) -> Vec<Row> {
    let mut out = Vec::new();
    for s in sections {
        for c in &s.cells {
            out.push(Row {
                metric: s.metric.clone(),
                split: s.split.clone(),
                select: s.selection.clone(),
                baseline: s.baseline.clone(),
                task: c.task.clone(),
                method: c.method.clone(),
                loss: c.loss.clone(),
                optimizer: c.optimizer.clone(),
                n: c.values.len(),
                mean: c.mean,
                std: c.std,
                diverged: c.diverged,
                failed: c.failed,
                rank: c.rank,
                avg_rank: s.avg_rank.get(&c.method).copied(),
                diff_mean: c.paired.as_ref().map(|p| p.mean),
                diff_std: c.paired.as_ref().map(|p| p.std).filter(|s| s.is_finite()),
                diff_n: c.paired.as_ref().map(|p| p.n),
                diff_ci_low: c.paired.as_ref().map(|p| p.ci_low),
                diff_ci_high: c.paired.as_ref().map(|p| p.ci_high),
                p_wilcoxon: c.paired.as_ref().and_then(|p| p.p_value),
                p_holm: c.paired.as_ref().and_then(|p| p.p_holm),
                verdict: c.paired.as_ref().map(|p| p.verdict.as_str().to_string()),
                friedman_p: s.friedman.as_ref().map(|f| f.p_value),
                nemenyi_cd: s.cd,
            });
        }
    }
    out
}

/// The rows as a polars DataFrame (for CSV and Parquet output).
pub fn dataframe(sections: &[Section]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let rows = rows(sections);
    let text = |f: fn(&Row) -> &String| -> Vec<String> { rows.iter().map(|r| f(r).clone()).collect() };
    let opt = |f: fn(&Row) -> Option<f64>| -> Vec<Option<f64>> { rows.iter().map(f).collect() };
    let count = |f: fn(&Row) -> usize| -> Vec<u64> { rows.iter().map(|r| f(r) as u64).collect() };
    let columns = vec![
        Column::new("metric".into(), text(|r| &r.metric)),
        Column::new("split".into(), text(|r| &r.split)),
        Column::new("select".into(), text(|r| &r.select)),
        Column::new("baseline".into(), rows.iter().map(|r| r.baseline.clone()).collect::<Vec<Option<String>>>()),
        Column::new("task".into(), text(|r| &r.task)),
        Column::new("method".into(), text(|r| &r.method)),
        Column::new("loss".into(), text(|r| &r.loss)),
        Column::new("optimizer".into(), text(|r| &r.optimizer)),
        Column::new("n".into(), count(|r| r.n)),
        Column::new("mean".into(), opt(|r| r.mean)),
        Column::new("std".into(), opt(|r| r.std)),
        Column::new("diverged".into(), count(|r| r.diverged)),
        Column::new("failed".into(), count(|r| r.failed)),
        Column::new("rank".into(), opt(|r| r.rank)),
        Column::new("avg_rank".into(), opt(|r| r.avg_rank)),
        Column::new("diff_mean".into(), opt(|r| r.diff_mean)),
        Column::new("diff_std".into(), opt(|r| r.diff_std)),
        Column::new("diff_n".into(), rows.iter().map(|r| r.diff_n.map(|n| n as u64)).collect::<Vec<Option<u64>>>()),
        Column::new("diff_ci_low".into(), opt(|r| r.diff_ci_low)),
        Column::new("diff_ci_high".into(), opt(|r| r.diff_ci_high)),
        Column::new("p_wilcoxon".into(), opt(|r| r.p_wilcoxon)),
        Column::new("p_holm".into(), opt(|r| r.p_holm)),
        Column::new("verdict".into(), rows.iter().map(|r| r.verdict.clone()).collect::<Vec<Option<String>>>()),
        Column::new("friedman_p".into(), opt(|r| r.friedman_p)),
        Column::new("nemenyi_cd".into(), opt(|r| r.nemenyi_cd)),
    ];
    DataFrame::new(rows.len(), columns).map_err(|e| Error::runtime(format!("building the table: {e}")))
}

fn csv_bytes(sections: &[Section]) -> Result<Vec<u8>> {
    use polars::prelude::*;
    let mut df = dataframe(sections)?;
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).finish(&mut df).map_err(|e| Error::runtime(format!("writing CSV: {e}")))?;
    Ok(buf)
}

/// Render in one format (for stdout or `--out`).
pub fn render(sections: &[Section], format: Format) -> Result<String> {
    Ok(match format {
        Format::Md => render_md(sections),
        Format::Latex => render_latex(sections),
        Format::Json => serde_json::to_string_pretty(&rows(sections)).map_err(|e| Error::runtime(e.to_string()))? + "\n",
        Format::Csv => String::from_utf8(csv_bytes(sections)?).map_err(|e| Error::runtime(e.to_string()))?,
    })
}

/// The name of a comparison's files, by what it compares, so one comparison never replaces
/// another's: `comparison-<metric>-<select>`, metrics joined by `+`, a `best:m` / `epoch:n`
/// selection as `best-m` / `epoch-n`, and `-<split>` when the split is not `test`.
pub fn table_stem(sections: &[Section]) -> String {
    let mut metrics: Vec<&str> = Vec::new();
    for s in sections {
        if !metrics.contains(&s.metric.as_str()) {
            metrics.push(&s.metric);
        }
    }
    let select = sections.first().map_or("final".to_string(), |s| s.selection.replace(':', "-"));
    let split = sections.first().map(|s| s.split.as_str()).filter(|s| *s != "test").map_or(String::new(), |s| format!("-{s}"));
    let stem = format!("comparison-{}-{select}{split}", metrics.join("+"));
    stem.chars().map(|c| if c.is_ascii_alphanumeric() || "._=+-".contains(c) { c } else { '_' }).collect()
}

/// Write the tables in every format into `dir`: `<stem>.md`, `.csv`, `.parquet`, `.tex` and
/// `.json`, the stem from [`table_stem`].
pub fn write_tables(sections: &[Section], dir: &Path) -> Result<Vec<PathBuf>> {
    use polars::prelude::*;
    let stem = table_stem(sections);
    let md = dir.join(format!("{stem}.md"));
    run::write_atomic(&md, render_md(sections).as_bytes())?;
    let csv = dir.join(format!("{stem}.csv"));
    run::write_atomic(&csv, &csv_bytes(sections)?)?;
    let parquet = dir.join(format!("{stem}.parquet"));
    let mut df = dataframe(sections)?;
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).map_err(|e| Error::runtime(format!("writing Parquet: {e}")))?;
    run::write_atomic(&parquet, &buf)?;
    let tex = dir.join(format!("{stem}.tex"));
    run::write_atomic(&tex, render_latex(sections).as_bytes())?;
    let json = dir.join(format!("{stem}.json"));
    run::write_atomic(&json, render(sections, Format::Json)?.as_bytes())?;
    Ok(vec![md, csv, parquet, tex, json])
}
