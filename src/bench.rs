//! `lossbench bench`: fixed training workloads timed the way a sweep runs them, with a PyTorch
//! twin (`benches/torch_twin.py`) doing identical work, so a ratio can be read side by side.
//!
//! MLP cases train on a fixed synthetic batch (`x ~ N(0, 1)`, labels `i mod C`) with the
//! trainer's step: forward, per-example loss, mean, backward, optimizer step, the loss read back
//! to the host (as the trainer does for divergence checks). After `warmup` steps, `repeats`
//! blocks of `steps` steps are timed; the reported figure is the median block's time per step.
//! GFLOP/s count `6·B·Σ in·out` per step (forward 2, backward 4 — the usual MLP estimate), and
//! the fraction of the machine's sgemm peak compares with a 512³ f32 matmul timed the same way.
//! The `metric` case is a metric-learning step: the embedder's outputs L2-normalised, labels
//! of 8 classes × 8 rows, triplet loss over all valid triplets. The `ranking` case scores 64
//! lists of 30 items with a 16-64-1 item MLP and trains it with `neural_ndcg`.
//! The `sweep` case trains the quickstart recipe (18 runs) into a temporary folder with `--jobs`
//! 1 and 2 and reports runs per hour.

use crate::error::{Error, Result};
use crate::losses::lookup_loss;
use crate::models::Init;
use crate::optim::{Context, Evaluation, OPTIMIZERS};
use crate::task::{Family, Target};
use candle_core::{DType, Device, Tensor};
use serde::Serialize;
use std::time::Instant;

/// One fixed workload.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub summary: &'static str,
    /// Layer widths, input to output.
    pub widths: &'static [usize],
    pub batch: usize,
    pub loss: &'static str,
    pub optimizer: &'static str,
}

/// The MLP workloads (the `sweep` case is separate).
pub static CASES: &[Case] = &[
    Case {
        name: "tiny",
        summary: "2-32-2 MLP, batch 64, cross_entropy + adamw",
        widths: &[2, 32, 2],
        batch: 64,
        loss: "cross_entropy",
        optimizer: "adamw",
    },
    Case {
        name: "digits",
        summary: "64-256-256-10 MLP, batch 128, cross_entropy + adamw",
        widths: &[64, 256, 256, 10],
        batch: 128,
        loss: "cross_entropy",
        optimizer: "adamw",
    },
    Case {
        name: "mnist",
        summary: "784-512-512-10 MLP, batch 256, cross_entropy + adamw",
        widths: &[784, 512, 512, 10],
        batch: 256,
        loss: "cross_entropy",
        optimizer: "adamw",
    },
    Case {
        name: "focal",
        summary: "digits shapes, focal (γ = 2) + adamw",
        widths: &[64, 256, 256, 10],
        batch: 128,
        loss: "focal",
        optimizer: "adamw",
    },
    Case {
        name: "digits_sgd",
        summary: "digits shapes, cross_entropy + plain sgd (isolates the optimizer's share)",
        widths: &[64, 256, 256, 10],
        batch: 128,
        loss: "cross_entropy",
        optimizer: "sgd",
    },
    Case {
        name: "sam",
        summary: "digits shapes, cross_entropy + sam around sgd (2 passes)",
        widths: &[64, 256, 256, 10],
        batch: 128,
        loss: "cross_entropy",
        optimizer: "sam",
    },
    Case {
        name: "ranking",
        summary: "ranking step: 64 lists × 30 items, 16-64-1 item scorer, neural_ndcg (allRank's deterministic variant) + adam",
        widths: &[16, 64, 1],
        batch: 64,
        loss: "neural_ndcg",
        optimizer: "adam",
    },
    Case {
        name: "metric",
        summary: "metric-learning step: 64-128-32 embedder, P×K = 8×8, triplet over all valid triplets + adamw",
        widths: &[64, 128, 32],
        batch: 64,
        loss: "triplet",
        optimizer: "adamw",
    },
];

/// Rows per class of the metric-learning case's batch (the K of P×K).
const PER_CLASS: usize = 8;

/// Items per list of the ranking case.
const LIST_ITEMS: usize = 30;

/// A case's model, fixed inputs and targets: classification labels `i mod C`; metric
/// learning, P classes of K consecutive rows; ranking, lists of [`LIST_ITEMS`] items with
/// grades `(7q + 3i) mod 5`.
fn workload(case: &Case, family: Family, dev: &Device) -> Result<(Box<dyn crate::models::Model>, Tensor, Target)> {
    let (d, c) = (case.widths[0], *case.widths.last().unwrap_or(&2));
    let hidden: Vec<usize> = case.widths[1..case.widths.len() - 1].to_vec();
    let init = Init { seed: 0, dtype: DType::F32, device: dev.clone() };
    let mut rng = crate::rng::Stream::new(0, crate::rng::Purpose::Data, 0xBE);
    if family == Family::Ranking {
        let (spec, _) = (crate::models::item_mlp::INFO.build)(&serde_json::json!({ "hidden": hidden }))?;
        let input = crate::data::InputKind::Items { items: LIST_ITEMS, features: d };
        let model = spec.instantiate(input, LIST_ITEMS, &init)?;
        let x: Vec<f32> = (0..case.batch * LIST_ITEMS * d).map(|_| rng.normal() as f32).collect();
        let r: Vec<f32> = (0..case.batch * LIST_ITEMS).map(|e| ((7 * (e / LIST_ITEMS) + 3 * (e % LIST_ITEMS)) % 5) as f32).collect();
        let target = Target::Values(Tensor::from_vec(r, (case.batch, LIST_ITEMS), dev)?);
        return Ok((model, Tensor::from_vec(x, (case.batch, LIST_ITEMS * d), dev)?, target));
    }
    let (spec, _) = (crate::models::mlp::INFO.build)(&serde_json::json!({ "hidden": hidden }))?;
    let model = spec.instantiate(crate::data::InputKind::Dense { features: d }, c, &init)?;
    let x: Vec<f32> = (0..case.batch * d).map(|_| rng.normal() as f32).collect();
    let y: Vec<u32> = match family {
        Family::MetricLearning => (0..case.batch).map(|i| (i / PER_CLASS) as u32).collect(),
        _ => (0..case.batch).map(|i| (i % c) as u32).collect(),
    };
    Ok((model, Tensor::from_vec(x, (case.batch, d), dev)?, Target::Classes(Tensor::from_vec(y, case.batch, dev)?)))
}

/// One measured row.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub case: String,
    /// Threads requested (`--threads`).
    pub threads: usize,
    /// Threads the matrix products used: one for steps below `train::SMALL_STEP_FLOPS`, as in
    /// a sweep with `--jobs 1`; for `sweep`, the threads each run had.
    pub threads_used: usize,
    /// Median milliseconds per step (per run for `sweep`).
    pub ms_per_step: f64,
    pub steps_per_s: f64,
    pub gflops: Option<f64>,
    /// Achieved GFLOP/s over the measured sgemm peak.
    pub peak_fraction: Option<f64>,
    pub peak_rss_mb: Option<f64>,
    /// `sweep` only: runs per hour.
    pub runs_per_hour: Option<f64>,
    pub jobs: Option<usize>,
}

/// Timing knobs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub warmup: usize,
    pub steps: usize,
    pub repeats: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { warmup: 20, steps: 20, repeats: 7 }
    }
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per step of `step`: `warmup` untimed steps, then the median over `repeats` timed
/// blocks of `steps` steps.
fn time_steps(settings: &Settings, step: &mut dyn FnMut() -> Result<f64>) -> Result<f64> {
    for _ in 0..settings.warmup {
        step()?;
    }
    let mut times = Vec::with_capacity(settings.repeats);
    for _ in 0..settings.repeats {
        let t = Instant::now();
        for _ in 0..settings.steps {
            step()?;
        }
        times.push(t.elapsed().as_secs_f64() / settings.steps as f64);
    }
    Ok(median(times))
}

/// Measured f32 matmul throughput (GFLOP/s) on 512×512 matrices with the current threads.
pub fn sgemm_peak() -> Result<f64> {
    let n = 512;
    let dev = Device::Cpu;
    let a = Tensor::ones((n, n), DType::F32, &dev)?;
    let b = Tensor::ones((n, n), DType::F32, &dev)?;
    for _ in 0..3 {
        a.matmul(&b)?;
    }
    let mut times = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        for _ in 0..4 {
            a.matmul(&b)?;
        }
        times.push(t.elapsed().as_secs_f64() / 4.0);
    }
    Ok(2.0 * (n * n * n) as f64 / median(times) / 1e9)
}

/// Time one MLP case.
pub fn run_case(case: &Case, threads: usize, settings: &Settings, peak: f64) -> Result<Measurement> {
    let dev = Device::Cpu;
    let info = lookup_loss(case.loss)?;
    let loss_family = info.family;
    let family = crate::families::of(loss_family);
    let (model, x, target) = workload(case, loss_family, &dev)?;
    let vars = model.vars();
    let passes = if case.optimizer == "sam" { 2.0 } else { 1.0 };
    let threads_used = crate::train::matmul_threads(crate::train::step_flops(model.as_ref(), case.batch), threads);
    std::env::set_var("RAYON_NUM_THREADS", threads_used.to_string());
    let loss_params = if case.loss == "focal" { serde_json::json!({"gamma": 2.0}) } else { serde_json::json!({}) };
    let (loss_fn, _) = (info.build)(&loss_params)?;
    let opt_params = match case.optimizer {
        "sam" => serde_json::json!({"rho": 0.05, "base": {"name": "sgd", "lr": 0.01, "momentum": 0.9}}),
        "sgd" => serde_json::json!({"lr": 0.01}),
        "adam" => serde_json::json!({"lr": 1e-3}),
        _ => serde_json::json!({"lr": 1e-3, "weight_decay": 0.01}),
    };
    let info = OPTIMIZERS.iter().find(|o| o.name == case.optimizer).ok_or_else(|| Error::runtime("bench optimizer missing"))?;
    let (ospec, _) = (info.build)(&opt_params)?;
    let mut opt = ospec.instantiate(vars, &Context { seed: 0, n_train: case.batch, total_steps: 0 })?;
    let lr = ospec.lr();
    let mut step = || -> Result<f64> {
        let mut objective = || -> Result<Evaluation> {
            let out = model.forward(&x, None)?;
            let loss = loss_fn.forward(&family.prediction(out, None, None)?, &target)?.mean_all()?;
            let value = loss.to_scalar::<f32>()? as f64;
            Ok(Evaluation { loss: value, grads: loss.backward()? })
        };
        opt.step(&mut objective, lr)
    };
    let s = time_steps(settings, &mut step)?;
    let items = if loss_family == Family::Ranking { LIST_ITEMS } else { 1 };
    let macs: usize = case.widths.windows(2).map(|w| w[0] * w[1]).sum::<usize>() * items;
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    let gflops = 6.0 * (case.batch * macs) as f64 * passes / s / 1e9;
    Ok(Measurement {
        case: case.name.to_string(),
        threads,
        threads_used,
        ms_per_step: s * 1e3,
        steps_per_s: 1.0 / s,
        gflops: Some(gflops),
        peak_fraction: (peak > 0.0).then(|| gflops / peak),
        peak_rss_mb: peak_rss_mb(),
        runs_per_hour: None,
        jobs: None,
    })
}

/// The quickstart recipe, embedded so that the sweep case runs from any folder.
pub const QUICKSTART: &str = include_str!("../recipes/quickstart.yaml");

/// Train the quickstart sweep (forced, into a temporary folder) with `jobs` concurrent runs.
pub fn run_sweep(jobs: usize, threads: usize) -> Result<Measurement> {
    let dir = std::env::temp_dir().join(format!("lossbench-bench-{}-{jobs}", std::process::id()));
    let overrides = crate::recipe::Overrides { device: "cpu".into(), ..Default::default() };
    let plan = crate::recipe::resolve(QUICKSTART, std::path::Path::new("recipes/quickstart.yaml"), &overrides)?;
    let opts = crate::sweep::SweepOptions {
        out: dir.clone(),
        device: Device::Cpu,
        device_name: "cpu".into(),
        jobs,
        force: true,
        progress: false,
        report_failures: false,
        deadline: None,
    };
    let t = Instant::now();
    let summary = crate::sweep::sweep(&plan, &opts)?;
    let s = t.elapsed().as_secs_f64();
    // The threads each run used (the sweep shares the cores among its jobs).
    let threads_requested = threads;
    let threads = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(threads);
    let _ = std::fs::remove_dir_all(&dir);
    let runs = summary.total.max(1) as f64;
    Ok(Measurement {
        case: "sweep".into(),
        threads: threads_requested,
        threads_used: threads,
        ms_per_step: s / runs * 1e3,
        steps_per_s: runs / s,
        gflops: None,
        peak_fraction: None,
        peak_rss_mb: peak_rss_mb(),
        runs_per_hour: Some(runs / s * 3600.0),
        jobs: Some(jobs),
    })
}

/// A text table of measurements.
pub fn table(rows: &[Measurement], peak: f64) -> String {
    let mut out = format!("sgemm peak (512³ f32 matmul): {peak:.1} GFLOP/s\n\n");
    out.push_str("| case | threads (used) | ms/step (median) | steps/s | GFLOP/s | % of peak | peak RSS MiB | runs/hour |\n|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let opt = |v: Option<f64>, d: usize| v.map(|v| format!("{v:.d$}")).unwrap_or_else(|| "—".into());
        let case = match r.jobs {
            Some(j) => format!("{} (--jobs {j})", r.case),
            None => r.case.clone(),
        };
        out.push_str(&format!(
            "| {case} | {} ({}) | {:.3} | {:.1} | {} | {} | {} | {} |\n",
            r.threads,
            r.threads_used,
            r.ms_per_step,
            r.steps_per_s,
            opt(r.gflops, 2),
            opt(r.peak_fraction.map(|f| f * 100.0), 1),
            opt(r.peak_rss_mb, 0),
            opt(r.runs_per_hour, 0)
        ));
    }
    out
}

/// The seed-batching experiment: `k` copies of the digits MLP (k seeds of one configuration)
/// trained either one after another (k models, k steps) or as one batched model (weights
/// `[k, out, in]`, batched matmuls, the per-model mean losses summed so each model gets its own
/// gradient). Returns (sequential, batched) milliseconds per round of k model-steps.
pub fn seed_batching(k: usize, settings: &Settings) -> Result<(f64, f64)> {
    use crate::models::ops::relu;
    let dev = Device::Cpu;
    let widths = [64usize, 256, 256, 10];
    let batch = 128;
    let mut rng = crate::rng::Stream::new(0, crate::rng::Purpose::Data, 0xBF);
    let mut randn = |shape: &[usize], scale: f64| -> Result<Tensor> {
        let n: usize = shape.iter().product();
        let v: Vec<f32> = (0..n).map(|_| (rng.normal() * scale) as f32).collect();
        Ok(Tensor::from_vec(v, shape, &dev)?)
    };
    let x = randn(&[k, batch, widths[0]], 1.0)?;
    let y: Vec<u32> = (0..k * batch).map(|i| (i % 10) as u32).collect();
    let y = Tensor::from_vec(y, k * batch, &dev)?;
    // Stacked parameters [k, out, in] and [k, 1, out].
    let mut vars = Vec::new();
    for w in widths.windows(2) {
        let scale = 1.0 / (w[0] as f64).sqrt();
        vars.push(candle_core::Var::from_tensor(&randn(&[k, w[1], w[0]], scale)?)?);
        vars.push(candle_core::Var::from_tensor(&randn(&[k, 1, w[1]], scale)?)?);
    }
    let adamw = crate::optim::adam::Params { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01, decoupled: true };
    let mut opt = crate::optim::adam::Adam::new(adamw, vars.clone(), true)?;
    let ones = Tensor::ones((k, batch, 1), DType::F32, &dev)?;
    let mut batched_step = || -> Result<f64> {
        let mut objective = || -> Result<Evaluation> {
            let mut h = x.clone();
            for (l, pair) in vars.chunks(2).enumerate() {
                h = (h.matmul(&pair[0].as_tensor().transpose(1, 2)?)? + ones.matmul(pair[1].as_tensor())?)?;
                if l < 2 {
                    h = relu(&h)?;
                }
            }
            let logits = h.reshape((k * batch, 10))?;
            let per = candle_nn::loss::cross_entropy(&logits, &y)?; // mean over k·batch
            let loss = (per * k as f64)?; // = Σ_k (mean over that model's batch)
            Ok(Evaluation { loss: loss.to_scalar::<f32>()? as f64, grads: loss.backward()? })
        };
        opt.step(&mut objective, 1e-3)
    };
    let case = CASES.iter().find(|c| c.name == "digits").ok_or_else(|| Error::runtime("digits case missing"))?;
    let batched = time_steps(settings, &mut batched_step)? * 1e3;
    let single = run_case(case, 1, settings, 0.0)?.ms_per_step;
    Ok((single * k as f64, batched))
}

/// `lossbench bench`: time the `cases` (all by default) with `threads` matrix-product threads
/// and print a table, or one JSON object per measurement.
pub fn command(cases: &[String], threads: Option<usize>, repeats: usize, steps: usize, json: bool) -> Result<()> {
    let threads = threads.unwrap_or_else(crate::train::cores);
    if threads == 0 || repeats == 0 || steps == 0 {
        return Err(Error::input("--threads, --repeats and --steps must be at least 1"));
    }
    std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    let known: Vec<&str> = CASES.iter().map(|c| c.name).chain(["sweep", "seeds"]).collect();
    for c in cases {
        if !known.contains(&c.as_str()) {
            let hint = crate::registry::suggest(c, known.iter().copied()).map(|s| format!("did you mean `{s}`? ")).unwrap_or_default();
            return Err(Error::input(format!("unknown bench case `{c}`; {hint}(cases: {})", known.join(", "))));
        }
    }
    let wanted = |name: &str| cases.is_empty() || cases.iter().any(|c| c == name);
    let peak = sgemm_peak()?;
    let settings = Settings { repeats, steps, ..Default::default() };
    let mut rows = Vec::new();
    for case in CASES.iter().filter(|c| wanted(c.name)) {
        let m = run_case(case, threads, &settings, peak)?;
        if json {
            println!("{}", serde_json::to_string(&m).map_err(|e| Error::runtime(e.to_string()))?);
        }
        rows.push(m);
    }
    // The seed-batching experiment runs only when asked for (`--case seeds`).
    if cases.iter().any(|c| c == "seeds") {
        for k in [2, 4] {
            let (seq, batched) = seed_batching(k, &settings)?;
            if json {
                println!("{}", serde_json::json!({"case": "seeds", "models": k, "sequential_ms": seq, "batched_ms": batched}));
            } else {
                println!(
                    "seeds: {k} digits models, one step each: {seq:.3} ms one after another, {batched:.3} ms as one batched model ({:.2}×)",
                    seq / batched
                );
            }
        }
    }
    if wanted("sweep") {
        for jobs in [1, 2] {
            let m = run_sweep(jobs, threads)?;
            if json {
                println!("{}", serde_json::to_string(&m).map_err(|e| Error::runtime(e.to_string()))?);
            }
            rows.push(m);
        }
        std::env::set_var("RAYON_NUM_THREADS", threads.to_string());
    }
    if !json && !rows.is_empty() {
        print!("{}", table(&rows, peak));
    }
    Ok(())
}
