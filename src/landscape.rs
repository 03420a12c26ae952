//! Loss-landscape and curvature analysis of a finished run (`lossbench landscape RUN_DIR`).
//!
//! The run is rebuilt from its `run.json` (same data, split, transforms and model), its final
//! weights are loaded from `weights.safetensors` (saved with `train --save-weights`), and the
//! training loss (the task loss, without regularizers) is evaluated in f64 on a fixed subset of
//! the train split (its first 1 000 rows), with the model in evaluation mode.
//!
//! * 1-D and 2-D slices `L(θ + α·d₁ [+ β·d₂])` along random directions that are
//!   **filter-normalised** (Li et al., *Visualizing the Loss Landscape of Neural Nets*,
//!   NeurIPS 2018): every row `f` of a weight matrix (one output unit) gets
//!   `d_f ← d_f·‖θ_f‖/‖d_f‖`; biases get `d = 0`;
//! * linear interpolation `L((1 − t)·θ_a + t·θ_b)` between two runs (`--between`);
//! * sharpness figures: ρ-sharpness `max_{‖ε‖≤ρ} L(θ+ε) − L(θ)` by 5 steps of normalised
//!   gradient ascent projected on the ball (the first step is SAM's ε̂), the top Hessian
//!   eigenvalue by power iteration and the Hessian trace by Hutchinson's estimator — both with
//!   finite-difference Hessian-vector products ([`crate::optim::hvp`]), since Candle has no
//!   second-order autodiff.
//!
//! Directions and probes come from the run's seed (stream `Analysis`), so the figures are
//! reproducible. Outputs: CSV grids and SVG (or PNG) plots, and `sharpness.json`.

use crate::data::{Labels, Table};
use crate::error::{Error, Result};
use crate::losses::Loss;
use crate::models::{Init, Model};
use crate::optim::hvp::{evaluate_at, hvp};
use crate::optim::Evaluation;
use crate::plot::{self, ImageFormat, Series};
use crate::rng::{Purpose, Stream};
use crate::task::Target;
use candle_core::{DType, Device, Tensor, Var};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Rows of the train split the landscape is evaluated on.
pub const SUBSET: usize = 1000;

/// What to compute.
#[derive(Debug, Clone)]
pub struct Options {
    pub dims: usize,
    pub points: usize,
    pub span: f64,
    pub out: PathBuf,
    pub between: Option<PathBuf>,
    pub format: ImageFormat,
    /// Power-iteration steps for the top eigenvalue.
    pub power_iters: usize,
    /// Rademacher probes for the trace.
    pub trace_samples: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            dims: 1,
            points: 51,
            span: 1.0,
            out: PathBuf::from("landscape"),
            between: None,
            format: ImageFormat::Svg,
            power_iters: 20,
            trace_samples: 20,
        }
    }
}

/// The sharpness figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct Sharpness {
    pub loss: f64,
    pub subset_rows: usize,
    /// (ρ, max L(θ+ε) − L(θ)).
    pub rho_sharpness: Vec<(f64, f64)>,
    pub hessian_top_eigenvalue: f64,
    pub hessian_trace: f64,
}

/// A run rebuilt for analysis: its model (f64, final weights), loss and train subset.
pub struct LoadedModel {
    pub model: Box<dyn Model>,
    pub vars: Vec<Var>,
    pub loss: Arc<dyn Loss>,
    pub x: Tensor,
    pub target: Target,
    pub seed: u64,
    /// What the loss is given from the model's outputs.
    pub family: Box<dyn crate::families::TaskFamily>,
}

fn subset(table: &Table, rows: usize) -> Result<(Tensor, Target)> {
    let n = table.len().min(rows);
    let dev = Device::Cpu;
    let x = Tensor::from_vec(table.x[..n * table.d].to_vec(), (n, table.d), &dev)?.to_dtype(DType::F64)?;
    let target = match &table.y {
        Labels::Classes(y) => Target::Classes(Tensor::from_vec(y[..n].to_vec(), n, &dev)?),
        Labels::Values { data, k } => Target::Values(Tensor::from_vec(data[..n * k].to_vec(), (n, *k), &dev)?.to_dtype(DType::F64)?),
    };
    Ok((x, target))
}

/// Rebuild the run in `dir` with its saved weights.
pub fn load_run(dir: &Path) -> Result<LoadedModel> {
    let record =
        crate::run::read_record(dir).map_err(|e| Error::input(format!("{}: not a run folder of `lossbench train`: {e}", dir.display())))?;
    let plan = crate::recipe::plan_from_run_config(&record.config).map_err(|e| e.at(dir.join("run.json").display()))?;
    let spec = &plan.runs[0];
    let raw = spec.task.source.load(spec.seed)?;
    let prepared = crate::data::transforms::prepare(raw, &spec.task.transforms, spec.seed)?;
    let weights = crate::run::read_weights(dir, &record)?;
    LoadedModel::new(spec, &prepared, &weights).map_err(|e| e.at(dir.display()))
}

impl LoadedModel {
    /// The run `spec` on `prepared` in f64 on the CPU, at `weights` (the model's, then the
    /// loss's own parameters, as saved).
    pub fn new(spec: &crate::recipe::RunSpec, prepared: &crate::data::transforms::Prepared, weights: &[Tensor]) -> Result<LoadedModel> {
        let init = Init { seed: spec.seed, dtype: DType::F64, device: Device::Cpu };
        let model = spec.task.model.instantiate(prepared.input, prepared.kind.output_dim(), &init)?;
        let loss = crate::train::run_loss(spec, prepared, DType::F64, &Device::Cpu)?;
        // The model's weights, then the loss's own parameters (fixed during the analysis).
        let all = crate::train::trainable(model.as_ref(), loss.as_ref());
        let on_cpu: Vec<Tensor> = weights.iter().map(|w| w.to_device(&Device::Cpu)).collect::<candle_core::Result<_>>()?;
        crate::train::set_vars(&all, &on_cpu)?;
        let vars = model.vars();
        let (x, target) = subset(&prepared.train, SUBSET)?;
        let family = crate::families::for_task(prepared.kind);
        Ok(LoadedModel { model, vars, loss, x, target, seed: spec.seed, family })
    }

    /// `train.sharpness`: the ρ-sharpness and top Hessian eigenvalue of the training loss at
    /// these weights (probes from the run's `Analysis` stream, as `lossbench landscape`).
    pub fn end_of_run_sharpness(&self, spec: &crate::recipe::SharpnessSpec) -> Result<(f64, f64)> {
        let mut eval = || self.evaluate();
        let rho = rho_sharpness(&self.vars, &mut eval, spec.rho, spec.steps)?;
        let mut probe = Stream::new(self.seed, Purpose::Analysis, 1);
        Ok((rho, top_eigenvalue(&self.vars, &mut eval, spec.power_iters, &mut probe)?))
    }

    /// The mean training loss at the current weights, with gradients.
    pub fn evaluate(&self) -> Result<Evaluation> {
        let (out, embedding) = self.model.forward_with_embedding(&self.x, None)?;
        let pred = self.family.prediction(out, embedding, None)?;
        let loss = self.loss.monitor(&pred, &self.target)?.mean_all()?;
        Ok(Evaluation { loss: loss.to_dtype(DType::F64)?.to_scalar::<f64>()?, grads: loss.backward()? })
    }

    /// The mean training loss at `θ + Σ cᵢ·dᵢ` (weights restored afterwards).
    pub fn loss_at(&self, directions: &[(&[Tensor], f64)]) -> Result<f64> {
        let mut shift: Vec<Option<Tensor>> = vec![None; self.vars.len()];
        for (d, c) in directions {
            for (s, t) in shift.iter_mut().zip(d.iter()) {
                let scaled = (t * *c)?;
                *s = Some(match s.take() {
                    None => scaled,
                    Some(a) => (a + scaled)?,
                });
            }
        }
        Ok(evaluate_at(&self.vars, &shift, 1.0, &mut || self.evaluate())?.loss)
    }
}

/// A random direction, filter-normalised: each row of every weight matrix scaled to the norm of
/// the same row of the weights; vectors (biases) are zero.
pub fn filter_normalised_direction(vars: &[Var], rng: &mut Stream) -> Result<Vec<Tensor>> {
    vars.iter()
        .map(|v| {
            let w = v.as_tensor();
            if w.rank() < 2 {
                return Ok(w.zeros_like()?);
            }
            let rows = w.dim(0)?;
            let cols = w.elem_count() / rows;
            let wv = w.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let mut d: Vec<f64> = (0..wv.len()).map(|_| rng.normal()).collect();
            for r in 0..rows {
                let row = r * cols..(r + 1) * cols;
                let wn = wv[row.clone()].iter().map(|x| x * x).sum::<f64>().sqrt();
                let dn = d[row.clone()].iter().map(|x| x * x).sum::<f64>().sqrt();
                let scale = if dn > 0.0 { wn / dn } else { 0.0 };
                d[row].iter_mut().for_each(|x| *x *= scale);
            }
            Ok(Tensor::from_vec(d, w.shape(), w.device())?.to_dtype(w.dtype())?)
        })
        .collect()
}

fn dot(a: &[Tensor], b: &[Tensor]) -> Result<f64> {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s += (x * y)?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    }
    Ok(s)
}

/// Finite-difference step for Hessian-vector products along a unit direction.
const HVP_STEP: f64 = 1e-4;

/// Largest-magnitude Hessian eigenvalue at the current weights by power iteration with
/// finite-difference Hessian-vector products (Rayleigh quotient of the last iterate). At a
/// minimum this is the top eigenvalue; away from one it can be a negative eigenvalue.
pub fn top_eigenvalue(vars: &[Var], evaluate: &mut dyn FnMut() -> Result<Evaluation>, iters: usize, rng: &mut Stream) -> Result<f64> {
    let mut v: Vec<Tensor> = vars
        .iter()
        .map(|x| {
            let t = x.as_tensor();
            let r: Vec<f64> = (0..t.elem_count()).map(|_| rng.normal()).collect();
            Ok(Tensor::from_vec(r, t.shape(), t.device())?.to_dtype(t.dtype())?)
        })
        .collect::<Result<_>>()?;
    let mut lambda = 0.0;
    for _ in 0..iters.max(1) {
        let n = dot(&v, &v)?.sqrt();
        if n == 0.0 {
            return Ok(0.0);
        }
        v = v.iter().map(|t| t / n).collect::<candle_core::Result<_>>()?;
        let hv = hvp(vars, &v, HVP_STEP, evaluate)?;
        lambda = dot(&v, &hv)?;
        v = hv;
    }
    Ok(lambda)
}

/// Hutchinson's estimate of the Hessian trace, `mean vᵀHv` over Rademacher probes.
pub fn hutchinson_trace(vars: &[Var], evaluate: &mut dyn FnMut() -> Result<Evaluation>, samples: usize, rng: &mut Stream) -> Result<f64> {
    let mut total = 0.0;
    for _ in 0..samples.max(1) {
        let v: Vec<Tensor> = vars
            .iter()
            .map(|x| {
                let t = x.as_tensor();
                let r: Vec<f64> = (0..t.elem_count()).map(|_| if rng.next_u64() & 1 == 0 { 1.0 } else { -1.0 }).collect();
                Ok(Tensor::from_vec(r, t.shape(), t.device())?.to_dtype(t.dtype())?)
            })
            .collect::<Result<_>>()?;
        // hvp's step is per unit of v; Rademacher v has norm √P, so scale the step down.
        let norm = dot(&v, &v)?.sqrt();
        let hv = hvp(vars, &v, HVP_STEP / norm.max(1.0), evaluate)?;
        total += dot(&v, &hv)?;
    }
    Ok(total / samples.max(1) as f64)
}

/// ρ-sharpness: `max_{‖ε‖≤ρ} L(θ+ε) − L(θ)` by `steps` steps of normalised gradient ascent,
/// each projected on the ρ-ball (the first step is SAM's ε̂ = ρ·g/‖g‖).
pub fn rho_sharpness(vars: &[Var], evaluate: &mut dyn FnMut() -> Result<Evaluation>, rho: f64, steps: usize) -> Result<f64> {
    let base = evaluate()?.loss;
    let mut eps: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().zeros_like()).collect::<candle_core::Result<_>>()?;
    let mut best = 0.0f64;
    for _ in 0..steps {
        let shift: Vec<Option<Tensor>> = eps.iter().cloned().map(Some).collect();
        let e = evaluate_at(vars, &shift, 1.0, evaluate)?;
        best = best.max(e.loss - base);
        let g = crate::optim::grads_of(vars, &e.grads)?;
        let gn = dot(&g, &g)?.sqrt();
        if gn == 0.0 {
            break;
        }
        eps = eps.iter().zip(&g).map(|(a, b)| a + (b * (rho / gn))?).collect::<candle_core::Result<_>>()?;
        let en = dot(&eps, &eps)?.sqrt();
        if en > rho {
            eps = eps.iter().map(|t| t * (rho / en)).collect::<candle_core::Result<_>>()?;
        }
    }
    let shift: Vec<Option<Tensor>> = eps.into_iter().map(Some).collect();
    let last = evaluate_at(vars, &shift, 1.0, evaluate)?.loss;
    Ok(best.max(last - base))
}

fn linspace(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![(lo + hi) / 2.0];
    }
    (0..n).map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64).collect()
}

/// Run the analysis; returns the files written and the sharpness figures.
pub fn analyse(dir: &Path, opts: &Options) -> Result<(Vec<PathBuf>, Sharpness)> {
    if !(1..=2).contains(&opts.dims) {
        return Err(Error::input(format!("--dims {}: allowed: 1 or 2", opts.dims)));
    }
    if !(3..=401).contains(&opts.points) {
        return Err(Error::input(format!("--points {}: allowed: 3 to 401", opts.points)));
    }
    if !(opts.span.is_finite() && opts.span > 0.0 && opts.span <= 100.0) {
        return Err(Error::input(format!("--span {}: allowed: 0 < span ≤ 100", opts.span)));
    }
    let run = load_run(dir)?;
    let mut written = Vec::new();
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::runtime(format!("creating {}: {e}", opts.out.display())))?;
    let mut rng = Stream::new(run.seed, Purpose::Analysis, 0);
    let d1 = filter_normalised_direction(&run.vars, &mut rng)?;
    let alphas = linspace(-opts.span, opts.span, opts.points);
    if opts.dims == 1 {
        let losses: Vec<f64> = alphas.iter().map(|a| run.loss_at(&[(&d1, *a)])).collect::<Result<_>>()?;
        let mut csv = String::from("alpha,loss\n");
        for (a, l) in alphas.iter().zip(&losses) {
            csv.push_str(&format!("{a},{l}\n"));
        }
        let path = opts.out.join("landscape-1d.csv");
        crate::run::write_atomic(&path, csv.as_bytes())?;
        written.push(path);
        let fig = plot::file_name(&opts.out, "landscape-1d", opts.format);
        let series = [Series { label: "train loss".into(), x: alphas.clone(), y: losses, band: None }];
        plot::line_chart(&fig, "loss along a filter-normalised random direction", "α", "train loss", &series, opts.format)?;
        written.push(fig);
    } else {
        let d2 = filter_normalised_direction(&run.vars, &mut rng)?;
        let mut grid = vec![vec![0.0; opts.points]; opts.points];
        let mut csv = String::from("alpha,beta,loss\n");
        for (i, a) in alphas.iter().enumerate() {
            for (j, b) in alphas.iter().enumerate() {
                let l = run.loss_at(&[(&d1, *a), (&d2, *b)])?;
                grid[i][j] = l;
                csv.push_str(&format!("{a},{b},{l}\n"));
            }
        }
        let path = opts.out.join("landscape-2d.csv");
        crate::run::write_atomic(&path, csv.as_bytes())?;
        written.push(path);
        let fig = plot::file_name(&opts.out, "landscape-2d", opts.format);
        plot::contour(&fig, "train loss on a filter-normalised 2-D slice", &alphas, &grid, opts.format)?;
        written.push(fig);
    }
    if let Some(other) = &opts.between {
        let b = load_run(other)?;
        if b.vars.len() != run.vars.len() || b.vars.iter().zip(&run.vars).any(|(x, y)| x.as_tensor().dims() != y.as_tensor().dims()) {
            return Err(Error::input(format!(
                "{} and {} have different model shapes; interpolation needs the same model",
                dir.display(),
                other.display()
            )));
        }
        let theta_a: Vec<Tensor> = run.vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        let delta: Vec<Tensor> = b.vars.iter().zip(&theta_a).map(|(v, a)| v.as_tensor() - a).collect::<candle_core::Result<_>>()?;
        let ts = linspace(-0.25, 1.25, opts.points);
        let losses: Vec<f64> = ts.iter().map(|t| run.loss_at(&[(&delta, *t)])).collect::<Result<_>>()?;
        let mut csv = String::from("t,loss\n");
        for (t, l) in ts.iter().zip(&losses) {
            csv.push_str(&format!("{t},{l}\n"));
        }
        let path = opts.out.join("interpolation.csv");
        crate::run::write_atomic(&path, csv.as_bytes())?;
        written.push(path);
        let fig = plot::file_name(&opts.out, "interpolation", opts.format);
        let series = [Series { label: "train loss (on A's data)".into(), x: ts, y: losses, band: None }];
        plot::line_chart(&fig, "linear interpolation (1 − t)·θ_A + t·θ_B", "t", "train loss", &series, opts.format)?;
        written.push(fig);
    }
    let mut eval = || run.evaluate();
    let loss = eval()?.loss;
    let rho_sharpness = [0.01, 0.05].iter().map(|&r| Ok((r, rho_sharpness(&run.vars, &mut eval, r, 5)?))).collect::<Result<Vec<_>>>()?;
    let mut probe = Stream::new(run.seed, Purpose::Analysis, 1);
    let hessian_top_eigenvalue = top_eigenvalue(&run.vars, &mut eval, opts.power_iters, &mut probe)?;
    let hessian_trace = hutchinson_trace(&run.vars, &mut eval, opts.trace_samples, &mut probe)?;
    let sharp = Sharpness { loss, subset_rows: run.x.dim(0)?, rho_sharpness, hessian_top_eigenvalue, hessian_trace };
    let path = opts.out.join("sharpness.json");
    let json = serde_json::to_string_pretty(&sharp).map_err(|e| Error::runtime(e.to_string()))?;
    crate::run::write_atomic(&path, format!("{json}\n").as_bytes())?;
    written.push(path);
    Ok((written, sharp))
}

/// `lossbench landscape`: analyse the run in `dir` and print the files written and the
/// sharpness figures.
pub fn command(dir: &Path, opts: &Options) -> Result<()> {
    let (files, sharp) = analyse(dir, opts)?;
    for f in &files {
        println!("{}", f.display());
    }
    println!(
        "train loss {:.6} on {} rows; ρ-sharpness {}; top Hessian eigenvalue {:.6}; Hessian trace {:.6}",
        sharp.loss,
        sharp.subset_rows,
        sharp.rho_sharpness.iter().map(|(r, v)| format!("{v:.6} (ρ = {r})")).collect::<Vec<_>>().join(", "),
        sharp.hessian_top_eigenvalue,
        sharp.hessian_trace
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f(θ) = ½θᵀAθ` with known A: power iteration finds the top eigenvalue, Hutchinson's
    /// estimate approaches the trace, and ρ-sharpness equals ½ρ²λ_max (the worst direction of
    /// a quadratic at its minimum).
    #[test]
    fn curvature_estimates_on_a_quadratic() {
        let dev = Device::Cpu;
        // A = Q diag(5, 2, 0.5) Qᵀ with a rotation Q: λ_max = 5, trace = 7.5.
        let (c, s) = (0.6f64, 0.8f64);
        let q = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let lam = [5.0, 2.0, 0.5];
        let mut a = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                a[i][j] = (0..3).map(|k| q[i][k] * lam[k] * q[j][k]).sum();
            }
        }
        let at = Tensor::new(&a, &dev).unwrap();
        let var = Var::from_vec(vec![0.0f64; 3], 3, &dev).unwrap();
        let mut f = || -> Result<Evaluation> {
            let t = var.as_tensor();
            let v = ((t.unsqueeze(0)?.matmul(&at)?.squeeze(0)? * t)?.sum_all()? * 0.5)?;
            Ok(Evaluation { loss: v.to_scalar::<f64>()?, grads: v.backward()? })
        };
        let mut rng = Stream::new(0, Purpose::Analysis, 9);
        let top = top_eigenvalue(std::slice::from_ref(&var), &mut f, 50, &mut rng).unwrap();
        assert!((top - 5.0).abs() < 1e-6, "λ_max {top}");
        let trace = hutchinson_trace(std::slice::from_ref(&var), &mut f, 4000, &mut rng).unwrap();
        assert!((trace - 7.5).abs() < 0.15, "trace {trace}");
        // At the minimum g = 0, so ascent has no direction: start from a point off the minimum
        // instead and check the bound ρ·‖g‖ + ½ρ²λ_max ≥ sharpness ≥ ρ·‖g‖.
        var.set(&Tensor::new(&[0.1f64, -0.2, 0.3], &dev).unwrap()).unwrap();
        let g = f().unwrap().grads.get(var.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
        let gn = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        let rho = 0.05;
        let sh = rho_sharpness(std::slice::from_ref(&var), &mut f, rho, 5).unwrap();
        assert!(sh >= rho * gn - 1e-12 && sh <= rho * gn + 0.5 * rho * rho * 5.0 + 1e-12, "{sh} vs ρ‖g‖ = {}", rho * gn);
        assert_eq!(var.as_tensor().to_vec1::<f64>().unwrap(), vec![0.1, -0.2, 0.3], "weights restored");
    }

    #[test]
    fn directions_are_filter_normalised() {
        let dev = Device::Cpu;
        let w = Var::from_vec(vec![3.0f64, 4.0, 0.0, 1.0], (2, 2), &dev).unwrap();
        let b = Var::from_vec(vec![1.0f64, 2.0], 2, &dev).unwrap();
        let d = filter_normalised_direction(&[w, b], &mut Stream::new(1, Purpose::Analysis, 0)).unwrap();
        let rows = d[0].to_vec2::<f64>().unwrap();
        let norm = |r: &[f64]| r.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((norm(&rows[0]) - 5.0).abs() < 1e-12 && (norm(&rows[1]) - 1.0).abs() < 1e-12);
        assert_eq!(d[1].to_vec1::<f64>().unwrap(), vec![0.0, 0.0]);
    }
}
