//! The command line: clap definitions and dispatch only.

use crate::compare::{self, CompareOptions, Format};
use crate::error::Error;
use crate::listing;
use crate::plot::ImageFormat;
use crate::recipe::{self, Overrides};
use crate::sweep::TrainCommand;
use crate::train;
use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "lossbench", version, about = "Does a loss function from a paper really beat cross-entropy — and on which tasks?")]
#[command(
    after_help = "Start here:\n  lossbench train recipes/quickstart.yaml\n  lossbench compare results/quickstart\n  lossbench losses show focal"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train every run of a recipe (skipping finished ones), then print the comparison.
    #[command(
        after_help = "Example:\n  lossbench train recipes/quickstart.yaml --seeds 0,1,2 --jobs 2\n\nResults go to results/<recipe>/<task>/<loss>/<optimizer>/seed-<n>/ (run.json, metrics.csv).\nRe-running resumes: finished runs with the same config are skipped; --force reruns them."
    )]
    Train {
        /// The recipe (YAML).
        recipe: PathBuf,
        /// Results folder. Default: results/<recipe name>.
        #[arg(long)]
        out: Option<PathBuf>,
        /// cpu, cuda[:N], metal[:N] or auto.
        #[arg(long, default_value = "cpu")]
        device: String,
        /// Seeds to run, overriding the recipe: `0,1,2` or `0-4`.
        #[arg(long)]
        seeds: Option<String>,
        /// Epochs, overriding the recipe's train.epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override a value of the recipe (repeatable), checked like the file: `train.epochs=5`,
        /// `'optimizers[0].lr=[1e-3,3e-3]'` (a list makes a grid), `tasks[digits].dataset.label_noise.rate=0.2`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// Runs trained at the same time.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Rerun runs that are already finished.
        #[arg(long)]
        force: bool,
        /// No progress bars or summaries on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Format of the comparison printed at the end.
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        /// Draw the plots (learning curves, CD diagram, performance profile) as PNG, not SVG.
        #[arg(long)]
        png: bool,
        /// Save each run's final weights (weights.safetensors), as `train.save_weights: true`.
        #[arg(long)]
        save_weights: bool,
        /// Memory the plan may use (`512M`, `8G`). Default: the smallest of half the physical
        /// memory, half the cgroup limit and 70 % of `ulimit -v`.
        #[arg(long, value_name = "SIZE")]
        max_memory: Option<String>,
    },
    /// Time fixed training workloads (ms/step, GFLOP/s, peak RSS); compare with benches/torch_twin.py.
    #[command(
        after_help = "Examples:\n  lossbench bench\n  lossbench bench --case digits --case mnist --threads 1 --format json\n\nCases: tiny, digits, mnist, focal, digits_sgd, sam (MLP steps), sweep (the quickstart recipe with --jobs 1 and 2),\nand seeds (only when named: k digits models stepped one after another vs as one batched model).\nbenches/README.md explains the PyTorch twin and how to read the ratio."
    )]
    Bench {
        /// Cases to run (repeatable). Default: all.
        #[arg(long = "case")]
        cases: Vec<String>,
        /// Threads for matrix products (RAYON_NUM_THREADS). Default: all cores.
        #[arg(long)]
        threads: Option<usize>,
        /// Timed blocks per case; the median block is reported.
        #[arg(long, default_value_t = 7)]
        repeats: usize,
        /// Steps per timed block.
        #[arg(long, default_value_t = 20)]
        steps: usize,
        /// A table for people, or one JSON object per case for machines.
        #[arg(long, value_enum, default_value = "table")]
        format: BenchFormat,
    },
    /// Parse and resolve a recipe and print its plan (tasks × losses × optimizers × seeds), without training.
    #[command(after_help = "Example:\n  lossbench check recipes/quickstart.yaml")]
    Check {
        /// The recipe (YAML).
        recipe: PathBuf,
        /// Seeds, overriding the recipe: `0,1,2` or `0-4`.
        #[arg(long)]
        seeds: Option<String>,
        /// Epochs, overriding the recipe's train.epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override a value of the recipe (repeatable), as `train --set`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<String>,
        /// A results folder: also say which runs are finished there, which `train --out` would
        /// train, and which run folders there are not runs of the recipe.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Check the memory of this many runs at once (as `train --jobs`).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Memory the plan may use (`512M`, `8G`); see `train --help`.
        #[arg(long, value_name = "SIZE")]
        max_memory: Option<String>,
    },
    /// Compare finished runs: mean ± std over seeds, ranks, paired differences.
    #[command(
        after_help = "Examples:\n  lossbench compare results/quickstart\n  lossbench compare results/quickstart --metric ece --baseline cross_entropy\n  lossbench compare results/ --select best:accuracy --format latex --out table.tex\n\nAlso writes comparison-<metric>-<select>[-<split>].{md,csv,parquet,tex,json} (so one comparison never replaces another) and plots/cd-*.svg, plots/profile-*.svg into the first PATH; --no-files writes none."
    )]
    Compare {
        /// Result folders (searched at any depth for run.json). Default: results.
        paths: Vec<PathBuf>,
        /// Metric to compare. Default: each task's first metric.
        #[arg(long)]
        metric: Option<String>,
        /// Split: train, val or test.
        #[arg(long, default_value = "test")]
        split: String,
        /// `final`, `best:METRIC` (epoch with the best validation METRIC) or `epoch:N` (the value at epoch N).
        #[arg(long, default_value = "final")]
        select: String,
        /// Method to pair against (same seeds): bootstrap CI, Wilcoxon p, Holm-adjusted p, verdict.
        #[arg(long)]
        baseline: Option<String>,
        /// Region of practical equivalence: a paired difference whose 95 % interval lies in
        /// [−rope, rope] is a tie.
        #[arg(long, default_value_t = 0.0)]
        rope: f64,
        /// Significance level (Holm-adjusted Wilcoxon, Friedman, Nemenyi: 0.05 or 0.10).
        #[arg(long, default_value_t = 0.05)]
        alpha: f64,
        /// Format of the printed table (the files are written in every format).
        #[arg(long, value_enum, default_value = "md")]
        format: Format,
        /// Write the output to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Do not write the comparison-*.{md,csv,parquet,tex,json} files and the plots.
        #[arg(long)]
        no_files: bool,
        /// Plots as PNG instead of SVG.
        #[arg(long)]
        png: bool,
        /// Only runs whose config has this value at this path (repeatable): `optimizer.lr=0.01`,
        /// `loss.gamma=2`, `train.epochs=30`, `recipe=quickstart`.
        #[arg(long = "where", value_name = "KEY=VALUE")]
        wheres: Vec<String>,
    },
    /// Learning curves from run folders: per task, mean over seeds with a min–max band, one line per method.
    #[command(
        after_help = "Examples:\n  lossbench plot results/quickstart\n  lossbench plot results/noisy-labels --metric nll --split val --out figs --png\n\nWrites curves-<task>-<split>-<metric>.svg into --out (default: <first PATH>/plots)."
    )]
    Plot {
        /// Result folders (searched at any depth for run.json). Default: results.
        paths: Vec<PathBuf>,
        /// Metric to plot. Default: each task's first metric (`loss` is the training loss).
        #[arg(long)]
        metric: Option<String>,
        /// Split: train, val or test.
        #[arg(long, default_value = "test")]
        split: String,
        /// Output folder. Default: <first PATH>/plots.
        #[arg(long)]
        out: Option<PathBuf>,
        /// PNG instead of SVG.
        #[arg(long)]
        png: bool,
    },
    /// Loss landscape of a finished run: filter-normalised 1-D/2-D slices, interpolation to another run, sharpness.
    #[command(
        after_help = "Examples:\n  lossbench train recipes/quickstart.yaml --save-weights\n  lossbench landscape results/quickstart/digits/focal/adamw/seed-0\n  lossbench landscape RUN_A --dims 2 --points 25 --between RUN_B --out figs\n\nNeeds the run's weights.safetensors (train --save-weights). Writes landscape-1d.csv/.svg (or -2d),\ninterpolation.csv/.svg with --between, and sharpness.json (ρ-sharpness, top Hessian eigenvalue, Hessian trace)."
    )]
    Landscape {
        /// A run folder (with run.json and weights.safetensors).
        run: PathBuf,
        /// 1-D line or 2-D grid.
        #[arg(long, default_value_t = 1)]
        dims: usize,
        /// Points per axis.
        #[arg(long, default_value_t = 51)]
        points: usize,
        /// The slice covers α ∈ [−span, span] (in units of the filter-normalised direction).
        #[arg(long, default_value_t = 1.0)]
        span: f64,
        /// Interpolate linearly to this run's weights (t from −0.25 to 1.25).
        #[arg(long)]
        between: Option<PathBuf>,
        /// Output folder. Default: <RUN>/landscape.
        #[arg(long)]
        out: Option<PathBuf>,
        /// PNG instead of SVG.
        #[arg(long)]
        png: bool,
        /// Power-iteration steps for the top Hessian eigenvalue.
        #[arg(long, default_value_t = 20)]
        power_iters: usize,
        /// Rademacher probes for Hutchinson's trace estimate.
        #[arg(long, default_value_t = 20)]
        trace_samples: usize,
    },
    /// Draw a loss and its derivative against the margin / residual, one curve per parameter value.
    #[command(
        after_help = "Examples:\n  lossbench plot-shape focal --set gamma=0,0.5,1,2,5\n  lossbench plot-shape huber --set delta=0.5,1,2 --out figs\n\nWrites shape-<NAME>.svg into --out (default: the current folder)."
    )]
    PlotShape {
        /// The loss (`lossbench losses` lists them).
        name: String,
        /// KEY=VALUE, or KEY=V1,V2,… to draw one curve per value (one key may be swept).
        #[arg(long = "set")]
        sets: Vec<String>,
        /// Output folder.
        #[arg(long, default_value = ".")]
        out: PathBuf,
        /// PNG instead of SVG.
        #[arg(long)]
        png: bool,
    },
    /// List losses, or show one (formula, reference, parameters, properties).
    #[command(
        after_help = "Examples:\n  lossbench losses\n  lossbench losses list focal\n  lossbench losses show focal\n  lossbench losses eval focal --inputs batch.json --set gamma=0.5"
    )]
    Losses {
        #[command(subcommand)]
        action: Option<LossAction>,
    },
    /// List datasets and generators, or show one.
    #[command(after_help = "Example:\n  lossbench datasets show modular_arith")]
    Datasets {
        #[command(subcommand)]
        action: Option<ListAction>,
    },
    /// List models, or show one.
    #[command(after_help = "Example:\n  lossbench models show mlp")]
    Models {
        #[command(subcommand)]
        action: Option<ListAction>,
    },
    /// List optimizers, or show one (update rule, reference, parameters).
    #[command(after_help = "Example:\n  lossbench optimizers show adamw")]
    Optimizers {
        #[command(subcommand)]
        action: Option<ListAction>,
    },
    /// List regularizers, or show one (formula, how it enters the objective, reference, parameters).
    #[command(after_help = "Examples:\n  lossbench regularizers\n  lossbench regularizers show vat")]
    Regularizers {
        #[command(subcommand)]
        action: Option<ListAction>,
    },
    /// List metrics, or show one.
    #[command(after_help = "Example:\n  lossbench metrics show ece")]
    Metrics {
        #[command(subcommand)]
        action: Option<ListAction>,
    },
    /// The papers' headline claims as reproductions with verdicts: list, show, run.
    #[command(
        after_help = "Example:\n  lossbench claims run --only H32 --jobs 2\n\nClaim files: recipes/claims/Hxx-<slug>.yaml, a recipe plus a `claim:` block with the decision rule.\nResults: results/claims/<id>/… and results/claims/claims.{md,csv,json} (--smoke: results/claims-smoke)."
    )]
    Claims {
        #[command(subcommand)]
        action: Option<ClaimsAction>,
        /// Folder of claim files.
        #[arg(long, global = true, default_value = crate::claims::DIR)]
        dir: PathBuf,
    },
    /// List the runs of result folders: ids, labels, seeds, status, parameters, final metrics.
    #[command(
        after_help = "Examples:\n  lossbench runs results/quickstart\n  lossbench runs results/ --where loss=focal --where optimizer.lr=0.001 --format csv\n\ntrain and compare also write runs.parquet (one row per run, every config parameter a column) and\nmetrics.parquet (every recorded value, tidy) into the results folder."
    )]
    Runs {
        /// Result folders (searched at any depth for run.json). Default: results.
        paths: Vec<PathBuf>,
        /// Only runs whose config has this value at this path (repeatable): `loss=focal` is the
        /// loss's name, `optimizer.lr=0.001`, `train.epochs=30`.
        #[arg(long = "where", value_name = "KEY=VALUE")]
        wheres: Vec<String>,
        /// md: the ids, labels, status, the parameters that differ and the final test metrics;
        /// csv and json: every column.
        #[arg(long, value_enum, default_value = "md")]
        format: crate::runs::Format,
    },
    /// Print a shell completion script (generated from these definitions).
    #[command(
        after_help = "Examples:\n  lossbench completions bash > ~/.local/share/bash-completion/completions/lossbench\n  lossbench completions zsh > ~/.zfunc/_lossbench\n  lossbench completions fish > ~/.config/fish/completions/lossbench.fish"
    )]
    Completions {
        /// The shell: bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command into a folder.
    #[command(after_help = "Examples:\n  lossbench man | man -l -\n  lossbench man --out man/   # lossbench.1, lossbench-train.1, …")]
    Man {
        /// Write lossbench.1 and lossbench-<command>.1 into this folder instead of printing.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Clone)]
enum ClaimsAction {
    /// List the claim files.
    List,
    /// Show one claim's paper, statement and decision rule.
    Show {
        /// The claim's id (`H14`).
        id: String,
    },
    /// Train the claims (resuming finished runs) and decide each.
    Run {
        /// Claim ids, comma-separated (default: all).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// 1 epoch and 2 seeds per claim: checks that each runs (its verdicts mean nothing).
        #[arg(long)]
        smoke: bool,
        /// Results folder. Default: results/claims (results/claims-smoke with --smoke, so a smoke
        /// run never replaces a real one).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Runs trained at the same time.
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// No progress bars on stderr.
        #[arg(long, short)]
        quiet: bool,
        /// Start no run after this much time (`90s`, `20m`, `1h30m`); unfinished claims are
        /// marked so in the table, and the same command run again resumes them.
        #[arg(long, value_parser = crate::claims::parse_budget)]
        budget: Option<std::time::Duration>,
        /// Also rerun each claim at the neighbours of its protocol fixed in its file
        /// (`sensitivity:`), and call its verdict robust or fragile.
        #[arg(long)]
        sensitivity: bool,
        /// Include the claims marked `long` (grokking's 10⁴ epochs) when --only names none.
        #[arg(long)]
        long: bool,
    },
}

#[derive(Subcommand, Clone)]
enum LossAction {
    #[command(flatten)]
    Listing(ListAction),
    /// Evaluate a loss on tensors from a JSON file; prints {"loss", "per_example", "grads"}.
    #[command(
        after_help = "Inputs (JSON object): classification: {\"logits\": [[...], ...], \"labels\": [...]};\nregression: {\"pred\": [...], \"target\": [...]} ([N] or [N, D]);\nmulti-label: {\"logits\": [[...], ...], \"targets\": [[0|1, ...], ...]};\nmetric learning: {\"embeddings\": [[...], ...], \"labels\": [...]};\nranking: {\"scores\": [[...], ...], \"relevance\": [[...], ...]} (grades ≥ 0, −1 = padding) (losses show NAME lists each loss's inputs).\nList parameters take JSON: --set 'terms=[\"support\"]'.\n\nExample:\n  lossbench losses eval cross_entropy --inputs batch.json --set smoothing=0.1"
    )]
    Eval {
        /// The loss (`lossbench losses` lists them).
        name: String,
        /// JSON file with the named inputs.
        #[arg(long)]
        inputs: PathBuf,
        /// Loss parameter KEY=VALUE (repeatable).
        #[arg(long = "set")]
        sets: Vec<String>,
        /// Precision of the computation.
        #[arg(long, value_enum, default_value = "f32")]
        dtype: EvalDtype,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum BenchFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum EvalDtype {
    F32,
    F64,
}

#[derive(Subcommand, Clone)]
enum ListAction {
    /// List entries whose name matches PATTERN (a substring, or a glob with `*`).
    List {
        /// A substring of the name, or a glob with `*`. Default: every entry.
        pattern: Option<String>,
    },
    /// Show one entry in full.
    Show {
        /// The entry's name.
        name: String,
    },
}

/// Parse `0,1,2` and `0-4` (inclusive) into seeds.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, Error> {
    recipe::parse_seeds(s, "--seeds")
}

fn list_or_show(
    action: Option<ListAction>,
    list: impl Fn(&Option<String>) -> String,
    show: impl Fn(&str) -> crate::error::Result<String>,
) -> Result<()> {
    let text = match action {
        None => list(&None),
        Some(ListAction::List { pattern }) => list(&pattern),
        Some(ListAction::Show { name }) => show(&name)?,
    };
    print!("{text}");
    Ok(())
}

/// `--max-memory SIZE`, when given, becomes the memory budget.
fn set_memory_limit(size: Option<&str>) -> Result<(), Error> {
    if let Some(size) = size {
        crate::memory::set_limit(crate::memory::parse_size(size)?);
    }
    Ok(())
}

/// Entry point of the binary.
pub fn run() -> Result<()> {
    train::user_threads();
    let cli = Cli::parse();
    match cli.command {
        Command::Train { recipe, out, device, seeds, epochs, sets, jobs, force, quiet, format, png, save_weights, max_memory } => {
            let seeds = seeds.map(|s| parse_seeds(&s)).transpose()?;
            set_memory_limit(max_memory.as_deref())?;
            let overrides = Overrides { set: sets, seeds, epochs, device: String::new(), save_weights, jobs };
            let image = if png { ImageFormat::Png } else { ImageFormat::Svg };
            Ok(crate::sweep::train_command(TrainCommand { recipe, out, device, overrides, jobs, force, quiet, format, image })?)
        }
        Command::Plot { paths, metric, split, out, png } => {
            let image = if png { ImageFormat::Png } else { ImageFormat::Svg };
            for path in crate::plot::curves::command(paths, metric, split, out, image)? {
                println!("{}", path.display());
            }
            Ok(())
        }
        Command::Landscape { run, dims, points, span, between, out, png, power_iters, trace_samples } => {
            let opts = crate::landscape::Options {
                dims,
                points,
                span,
                out: out.unwrap_or_else(|| run.join("landscape")),
                between,
                format: if png { ImageFormat::Png } else { ImageFormat::Svg },
                power_iters,
                trace_samples,
            };
            Ok(crate::landscape::command(&run, &opts)?)
        }
        Command::PlotShape { name, sets, out, png } => {
            let image = if png { ImageFormat::Png } else { ImageFormat::Svg };
            println!("{}", crate::plot::shape::plot_shape(&name, &sets, &out, image)?.display());
            Ok(())
        }
        Command::Bench { cases, threads, repeats, steps, format } => {
            Ok(crate::bench::command(&cases, threads, repeats, steps, matches!(format, BenchFormat::Json))?)
        }
        Command::Check { recipe, seeds, epochs, sets, out, jobs, max_memory } => {
            let seeds = seeds.map(|s| parse_seeds(&s)).transpose()?;
            set_memory_limit(max_memory.as_deref())?;
            let plan = recipe::load(&recipe, &Overrides { set: sets, seeds, epochs, device: "cpu".into(), save_weights: false, jobs })?;
            print!("{}", plan.describe());
            if let Some(out) = out {
                print!("{}", crate::sweep::status(&plan, &out));
            }
            Ok(())
        }
        Command::Compare { paths, metric, split, select, baseline, rope, alpha, format, out, no_files, png, wheres } => {
            let options = CompareOptions { metric, split, select: select.parse()?, baseline, rope, alpha };
            let image = if png { ImageFormat::Png } else { ImageFormat::Svg };
            Ok(compare::command(compare::CompareCommand { paths, options, wheres, format, out, no_files, image })?)
        }
        Command::Losses { action: Some(LossAction::Eval { name, inputs, sets, dtype }) } => {
            let dtype = match dtype {
                EvalDtype::F32 => candle_core::DType::F32,
                EvalDtype::F64 => candle_core::DType::F64,
            };
            Ok(crate::losses::eval::command(&name, &inputs, &sets, dtype)?)
        }
        Command::Losses { action } => list_or_show(
            action.and_then(|a| match a {
                LossAction::Listing(listing) => Some(listing),
                LossAction::Eval { .. } => None,
            }),
            listing::losses,
            listing::loss,
        ),
        Command::Datasets { action } => list_or_show(action, listing::datasets, listing::dataset),
        Command::Models { action } => list_or_show(action, listing::models, listing::model),
        Command::Optimizers { action } => list_or_show(action, listing::optimizers, listing::optimizer),
        Command::Regularizers { action } => list_or_show(action, listing::regularizers, listing::regularizer),
        Command::Metrics { action } => list_or_show(action, listing::metrics, listing::metric),
        Command::Claims { action, dir } => match action.unwrap_or(ClaimsAction::List) {
            ClaimsAction::List => Ok(crate::claims::list_command(&dir)?),
            ClaimsAction::Show { id } => Ok(crate::claims::show_command(&dir, &id)?),
            ClaimsAction::Run { only, smoke, out, jobs, quiet, budget, sensitivity, long } => {
                let out = out.unwrap_or_else(|| PathBuf::from(if smoke { "results/claims-smoke" } else { "results/claims" }));
                let c = crate::claims::RunCommand { dir, only, smoke, out, jobs, quiet, budget, sensitivity, long };
                Ok(crate::claims::run_command(c)?)
            }
        },
        Command::Runs { paths, wheres, format } => Ok(crate::runs::command(&paths, &wheres, format)?),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "lossbench", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out } => manual(out),
    }
}

/// The manual: one roff page on stdout, or with `out` a page per command (`lossbench-train.1`).
/// Both are generated from the clap definitions above, as the completions are.
fn manual(out: Option<PathBuf>) -> Result<()> {
    let cmd = Cli::command();
    let Some(dir) = out else {
        clap_mangen::Man::new(cmd).render(&mut std::io::stdout())?;
        return Ok(());
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::input(format!("--out {}: {e}", dir.display())))?;
    let mut pages = vec![("lossbench".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("lossbench-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().display_name(name.clone()).bin_name(format!("lossbench {}", sub.get_name()))));
    }
    for (name, page) in pages {
        let mut bytes = Vec::new();
        clap_mangen::Man::new(page).render(&mut bytes)?;
        let path = dir.join(format!("{name}.1"));
        crate::run::write_atomic(&path, &bytes).map_err(|e| Error::runtime(format!("writing {}: {e}", path.display())))?;
        println!("{}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument of every command and subcommand says what it is (`--help`, the manual and
    /// the completions are generated from these texts).
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments().filter(|a| !["help", "version"].contains(&a.get_id().as_str())) {
                if arg.get_help().is_none() {
                    missing.push(format!("{path} {}", arg.get_id()));
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (the command)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "lossbench", &mut missing);
        assert!(missing.is_empty(), "no help text: {missing:#?}");
    }

    use super::*;

    #[test]
    fn seeds_lists_and_ranges() {
        assert_eq!(parse_seeds("0,1,2").unwrap(), vec![0, 1, 2]);
        assert_eq!(parse_seeds("3-5,9").unwrap(), vec![3, 4, 5, 9]);
        assert!(parse_seeds("a").is_err());
        assert!(parse_seeds("5-3").is_err());
    }
}
