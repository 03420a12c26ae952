//! Optimizers: the [`Optimizer`] trait, the [`OPTIMIZERS`] registry, learning-rate
//! [`schedule`]s and gradient clipping.
//!
//! `step` takes a closure that re-evaluates the loss and gradients at the current parameters,
//! so procedures that need several passes per step (the SAM family) fit the same trait as SGD.
//! The learning rate passed to `step` already includes the schedule and warm-up.

pub mod adam;
pub mod amp;
pub mod asgd;
pub mod awp;
pub mod coherent_gd;
pub mod fad;
pub mod fused;
pub mod gam;
pub mod grams;
pub mod gsnr_vrgd;
pub mod heavy_tailed_sgd;
pub mod hvp;
pub mod momo;
pub mod momo_adam;
pub mod normalized_gd;
pub mod perp_grad;
pub mod qat;
pub mod sam;
pub mod schedule;
pub mod sgd;
pub mod sgld;

use crate::error::{Error, Result};
use crate::registry::{Named, ParamDoc};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use std::sync::Arc;

/// The loss and its gradients at the current parameters.
pub struct Evaluation {
    /// Mean loss of the batch (host copy).
    pub loss: f64,
    pub grads: GradStore,
}

/// What an optimizer step evaluates: the loss and its gradients on the step's batch, whole or
/// in micro-batches (SAM's m-sharpness, coherent_gd, gsnr_vrgd), at the current parameters.
pub trait Objective {
    /// Loss and gradients on the whole batch.
    fn eval(&mut self) -> Result<Evaluation>;
    /// Loss and gradients on micro-batch `i` of `k`: the batch's rows cut into `k` contiguous
    /// chunks, `i·n/k .. (i+1)·n/k` (sizes differ by at most one; `k ≤ rows()`).
    fn eval_part(&mut self, _i: usize, _k: usize) -> Result<Evaluation> {
        Err(Error::input("this objective cannot be split into micro-batches"))
    }
    /// Rows in the batch (1 when it cannot be split).
    fn rows(&self) -> usize {
        1
    }
}

/// A closure is an objective over a batch that cannot be split.
impl<F: FnMut() -> Result<Evaluation>> Objective for F {
    fn eval(&mut self) -> Result<Evaluation> {
        self()
    }
}

/// Rows `start..end` of micro-batch `i` of `k` over `n` rows.
pub fn part_range(i: usize, k: usize, n: usize) -> (usize, usize) {
    (i * n / k, (i + 1) * n / k)
}

/// What an optimizer instance may know about its run.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The run's seed (noise-injecting optimizers draw from their own seeded stream).
    pub seed: u64,
    /// Training-set size (posterior-sampling noise scales with it).
    pub n_train: usize,
    /// Optimizer steps in the run (schedules inside procedures, e.g. qat's warm-up).
    pub total_steps: usize,
}

/// An optimizer instance for one run; it owns its state (moments, momentum buffers).
pub trait Optimizer: Send {
    /// Take one step with learning rate `lr`; returns the loss the step was computed from.
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64>;
}

/// A parsed optimizer entry: its base learning rate, and instances per run.
pub trait OptimizerSpec: Send + Sync {
    fn lr(&self) -> f64;
    fn instantiate(&self, vars: Vec<Var>, ctx: &Context) -> Result<Box<dyn Optimizer>>;
}

pub struct OptimizerInfo {
    pub name: &'static str,
    pub summary: &'static str,
    /// The update rule, in plain text.
    pub update: &'static str,
    pub reference: &'static str,
    pub params: &'static [ParamDoc],
    pub build: fn(&serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec>,
}

impl Named for OptimizerInfo {
    fn name(&self) -> &'static str {
        self.name
    }
}

pub static OPTIMIZERS: &[&OptimizerInfo] = &[
    &adam::ADAM,
    &adam::ADAM_L2,
    &adam::ADAMW,
    &amp::INFO,
    &asgd::INFO,
    &awp::INFO,
    &coherent_gd::INFO,
    &fad::INFO,
    &gam::INFO,
    &grams::INFO,
    &gsnr_vrgd::INFO,
    &heavy_tailed_sgd::INFO,
    &momo::INFO,
    &momo_adam::INFO,
    &normalized_gd::INFO,
    &perp_grad::INFO,
    &qat::INFO,
    &sam::INFO,
    &sgd::INFO,
    &sgld::INFO,
];

/// Global L2 norm of the gradients of `vars` (missing gradients count as zero).
pub fn global_grad_norm(vars: &[Var], grads: &GradStore) -> Result<f64> {
    let mut total = 0f64;
    for v in vars {
        if let Some(g) = grads.get(v.as_tensor()) {
            total += g.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        }
    }
    Ok(total.sqrt())
}

/// Clip gradients to global norm `max_norm`, as `torch.nn.utils.clip_grad_norm_`
/// (scale by `max_norm / (norm + 1e-6)` when that is below 1). Returns the norm before clipping.
pub fn clip_grad_norm(vars: &[Var], grads: &mut GradStore, max_norm: f64) -> Result<f64> {
    let norm = global_grad_norm(vars, grads)?;
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        for v in vars {
            if let Some(g) = grads.remove(v.as_tensor()) {
                grads.insert(v.as_tensor(), (g * coef)?);
            }
        }
    }
    Ok(norm)
}

/// Parse the parameters of a procedure that wraps a base optimizer,
/// `{<own params>, base: {name: sgd, lr: …}}`: the own parameters into `P` (unknown keys
/// rejected, defaults filled in, ranges checked), `base` through the registry. Returns the
/// parameters, the base spec and the canonical JSON (own parameters plus the canonical base).
pub(crate) fn parse_wrapped<P>(
    value: &serde_json::Value,
    default_base: serde_json::Value,
) -> Result<(P, Arc<dyn OptimizerSpec>, serde_json::Value)>
where
    P: serde::de::DeserializeOwned + serde::Serialize + crate::registry::Validate,
{
    let mut own = value.as_object().cloned().unwrap_or_default();
    let base = own.remove("base").unwrap_or(default_base);
    let (params, canonical) = crate::registry::parse_params::<P>(&serde_json::Value::Object(own))?;
    let (spec, base_json) = perp_grad::build_base(&base)?;
    let mut json = canonical.as_object().cloned().unwrap_or_default();
    json.insert("base".into(), base_json);
    Ok((params, spec, serde_json::Value::Object(json)))
}

/// Builds a procedure's optimizer from its parameters, the variables, its base optimizer
/// (already instantiated on the same variables) and the run's context.
pub(crate) type MakeWrapped<P> = fn(&P, Vec<Var>, Box<dyn Optimizer>, &Context) -> Box<dyn Optimizer>;

/// The spec of a procedure around a base optimizer: its parameters, the base's spec, and how
/// to build an instance. Its learning rate is the base's.
pub(crate) struct WrappedSpec<P> {
    params: P,
    base: Arc<dyn OptimizerSpec>,
    make: MakeWrapped<P>,
}

impl<P: Send + Sync> OptimizerSpec for WrappedSpec<P> {
    fn lr(&self) -> f64 {
        self.base.lr()
    }
    fn instantiate(&self, vars: Vec<Var>, ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let base = self.base.instantiate(vars.clone(), ctx)?;
        Ok((self.make)(&self.params, vars, base, ctx))
    }
}

/// `build` of a procedure around a base optimizer ([`parse_wrapped`] + [`WrappedSpec`]).
pub(crate) fn build_wrapped<P>(
    value: &serde_json::Value,
    default_base: serde_json::Value,
    make: MakeWrapped<P>,
) -> crate::registry::Built<dyn OptimizerSpec>
where
    P: serde::de::DeserializeOwned + serde::Serialize + crate::registry::Validate + Send + Sync + 'static,
{
    let (params, base, canonical) = parse_wrapped::<P>(value, default_base)?;
    Ok((Arc::new(WrappedSpec { params, base, make }), canonical))
}

/// Hand a computed evaluation to a base optimizer for one step.
pub(crate) fn base_step(base: &mut dyn Optimizer, evaluation: Evaluation, lr: f64, who: &str) -> Result<f64> {
    let mut slot = Some(evaluation);
    base.step(&mut || slot.take().ok_or_else(|| Error::runtime(format!("{who}: the base optimizer asked for a second gradient"))), lr)
}

/// The gradients of `vars` in an evaluation, as tensors (zeros where a gradient is missing).
pub fn grads_of(vars: &[Var], grads: &GradStore) -> Result<Vec<Tensor>> {
    vars.iter().map(|v| Ok(grads.get(v.as_tensor()).cloned().map_or_else(|| v.as_tensor().zeros_like(), Ok)?)).collect()
}

/// An evaluation whose gradients for `vars` are replaced by `grads`.
pub(crate) fn with_grads(mut e: Evaluation, vars: &[Var], grads: Vec<Tensor>) -> Evaluation {
    for (v, g) in vars.iter().zip(grads) {
        e.grads.insert(v.as_tensor(), g);
    }
    e
}

/// Global L2 norm of a list of tensors.
pub(crate) fn norm_of(ts: &[Tensor]) -> Result<f64> {
    let mut total = 0f64;
    for t in ts {
        total += t.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    }
    Ok(total.sqrt())
}

/// A zero tensor shaped like `v`.
pub(crate) fn zeros_like(v: &Var) -> Result<Tensor> {
    Ok(v.as_tensor().zeros_like()?)
}

/// `build` of a optimizer whose `Params` is itself the `OptimizerSpec`: parse, validate, canonicalise.
pub(crate) fn build_params<P>(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec>
where
    P: OptimizerSpec + serde::de::DeserializeOwned + serde::Serialize + crate::registry::Validate + 'static,
{
    let (params, canonical) = crate::registry::parse_params::<P>(value)?;
    Ok((std::sync::Arc::new(params), canonical))
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small deterministic problem for optimizer tests: Rosenbrock in f64.
    use super::*;
    use candle_core::Device;

    /// `f(x, y) = (1 − x)² + 100·(y − x²)²`, minimum 0 at (1, 1).
    pub fn rosenbrock(v: &Var) -> Result<Evaluation> {
        let t = v.as_tensor();
        let x = t.narrow(0, 0, 1)?;
        let y = t.narrow(0, 1, 1)?;
        let f = ((1.0 - &x)?.sqr()? + ((y - x.sqr()?)?.sqr()? * 100.0)?)?.sum_all()?;
        let loss = f.to_scalar::<f64>()?;
        Ok(Evaluation { loss, grads: f.backward()? })
    }

    pub fn start() -> Var {
        Var::from_vec(vec![-1.5f64, 2.0], 2, &Device::Cpu).unwrap()
    }

    /// Least squares `mean_i (x_i·w − y_i)²` over 6 rows with 3 features: an objective that can
    /// be split into micro-batches.
    pub struct LeastSquares {
        pub x: Tensor,
        pub y: Tensor,
        pub w: Var,
    }

    impl LeastSquares {
        pub fn new() -> Self {
            let dev = Device::Cpu;
            let x: Vec<f64> = (0..18).map(|i| ((i * 7 % 11) as f64 - 5.0) / 3.0).collect();
            let y: Vec<f64> = (0..6).map(|i| (i as f64 * 0.9).sin() * 2.0).collect();
            LeastSquares {
                x: Tensor::from_vec(x, (6, 3), &dev).unwrap(),
                y: Tensor::from_vec(y, 6, &dev).unwrap(),
                w: Var::from_vec(vec![0.3f64, -0.2, 0.1], 3, &dev).unwrap(),
            }
        }

        pub fn rows_eval(&self, lo: usize, hi: usize) -> Result<Evaluation> {
            let x = self.x.narrow(0, lo, hi - lo)?;
            let y = self.y.narrow(0, lo, hi - lo)?;
            let pred = x.matmul(&self.w.as_tensor().unsqueeze(1)?)?.squeeze(1)?;
            let loss = (pred - y)?.sqr()?.mean_all()?;
            Ok(Evaluation { loss: loss.to_dtype(DType::F64)?.to_scalar::<f64>()?, grads: loss.backward()? })
        }

        pub fn grad(&self, lo: usize, hi: usize) -> Vec<f64> {
            self.rows_eval(lo, hi).unwrap().grads.get(self.w.as_tensor()).unwrap().to_vec1::<f64>().unwrap()
        }
    }

    impl Objective for LeastSquares {
        fn eval(&mut self) -> Result<Evaluation> {
            self.rows_eval(0, 6)
        }
        fn eval_part(&mut self, i: usize, k: usize) -> Result<Evaluation> {
            let (lo, hi) = part_range(i, k, 6);
            self.rows_eval(lo, hi)
        }
        fn rows(&self) -> usize {
            6
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn registry_sorted_unique() {
        crate::registry::check_sorted_unique(OPTIMIZERS).unwrap();
    }

    /// Every optimizer, with settings suited to Rosenbrock, reaches f < 1e-3 from (−1.5, 2)
    /// within its step budget (f = 12.5 at the start). perp_grad cannot change the norm of a
    /// single weight vector (it removes the radial component), so the minimum at radius √2 is out
    /// of its reach from radius 2.5: it must only halve f.
    #[test]
    fn every_optimizer_converges_on_rosenbrock() {
        let cases = [
            ("sgd", serde_json::json!({"lr": 1e-3, "momentum": 0.9}), 5_000, 1e-3),
            ("sgd", serde_json::json!({"lr": 1e-3, "momentum": 0.9, "nesterov": true}), 5_000, 1e-3),
            ("adam", serde_json::json!({"lr": 0.02}), 5_000, 1e-3),
            ("adamw", serde_json::json!({"lr": 0.02, "weight_decay": 0.0}), 5_000, 1e-3),
            ("adam_l2", serde_json::json!({"lr": 0.02, "weight_decay": 0.0}), 5_000, 1e-3),
            // SAM's fixed point is shifted by ρ, and Adam's steps of size ~lr circle it: f < 1e-2.
            ("sam", serde_json::json!({"rho": 0.001, "base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-2),
            ("perp_grad", serde_json::json!({"base": {"name": "adam", "lr": 0.02}}), 5_000, 6.25),
            ("grams", serde_json::json!({"lr": 0.005}), 10_000, 1e-3),
            ("momo", serde_json::json!({"lr": 0.01}), 10_000, 1e-3),
            ("momo_adam", serde_json::json!({"lr": 0.01}), 10_000, 1e-3),
            ("asgd", serde_json::json!({"lr": 5e-4, "kappa": 100.0, "xi": 10.0}), 10_000, 1e-3),
            // AMP's ε-ball worst point is SAM's for a single tensor: the same shifted fixed point.
            ("amp", serde_json::json!({"epsilon": 0.001, "base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-2),
            ("awp", serde_json::json!({"gamma": 0.0, "base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-3),
            ("fad", serde_json::json!({"rho": 0.001, "r": 0.001, "base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-2),
            ("coherent_gd", serde_json::json!({"base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-3),
            ("gsnr_vrgd", serde_json::json!({"base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-3),
            ("qat", serde_json::json!({"bits": 16, "base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-2),
            ("heavy_tailed_sgd", serde_json::json!({"lr": 1e-3, "alpha": 1.5, "sigma": 1e-4}), 10_000, 1e-3),
            // SGLD samples rather than converges: at T = 1e-8 with N = 1 it hovers near the minimum.
            ("sgld", serde_json::json!({"lr": 1e-3, "temperature": 1e-8}), 10_000, 1e-3),
            // Fixed-length normalised steps end in a band of width ~lr around the minimum.
            ("normalized_gd", serde_json::json!({"lr": 1e-3}), 10_000, 1e-3),
            // GAM's decomposition term biases the fixed point slightly: f < 1e-2 (from 12.5).
            ("gam", serde_json::json!({"rho": 0.001, "norm_rho": 0.01, "base": {"name": "adam", "lr": 0.02}}), 5_000, 1e-2),
        ];
        for info in OPTIMIZERS {
            assert!(cases.iter().any(|c| c.0 == info.name), "no convergence case for `{}`", info.name);
        }
        for (name, params, steps, target) in cases {
            let info = OPTIMIZERS.iter().find(|i| i.name == name).unwrap();
            let (spec, _) = (info.build)(&params).unwrap();
            let v = start();
            let mut opt = spec.instantiate(vec![v.clone()], &Context { seed: 0, n_train: 1, total_steps: steps }).unwrap();
            let mut last = f64::INFINITY;
            for _ in 0..steps {
                last = opt.step(&mut || rosenbrock(&v), spec.lr()).unwrap();
            }
            assert!(last < target, "{name} {params}: f = {last} after {steps} steps (target {target})");
        }
    }

    /// Every optimizer reduces a convex quadratic (least squares over 6 rows, split into
    /// micro-batches by the procedures that use them) to below half its starting value within
    /// 300 steps of a small learning rate.
    #[test]
    fn every_optimizer_reduces_a_convex_quadratic() {
        let sgd = serde_json::json!({"name": "sgd", "lr": 0.01});
        for info in OPTIMIZERS {
            let params = match info.name {
                "sgld" => serde_json::json!({"lr": 0.01, "temperature": 1e-6}),
                "heavy_tailed_sgd" => serde_json::json!({"lr": 0.01, "sigma": 1e-4}),
                "asgd" => serde_json::json!({"lr": 0.002, "kappa": 10.0, "xi": 2.0}),
                "momo" | "momo_adam" | "grams" | "adam" | "adamw" | "adam_l2" | "normalized_gd" => serde_json::json!({"lr": 0.01}),
                "sgd" => serde_json::json!({"lr": 0.01}),
                "qat" => serde_json::json!({"bits": 8, "base": sgd}),
                _ => serde_json::json!({"base": sgd}),
            };
            let (spec, _) = (info.build)(&params).unwrap_or_else(|e| panic!("{}: {e}", info.name));
            let mut problem = LeastSquares::new();
            let start = problem.rows_eval(0, 6).unwrap().loss;
            let mut opt = spec.instantiate(vec![problem.w.clone()], &Context { seed: 0, n_train: 6, total_steps: 300 }).unwrap();
            for _ in 0..300 {
                opt.step(&mut problem, spec.lr()).unwrap();
            }
            let end = problem.rows_eval(0, 6).unwrap().loss;
            assert!(end < 0.5 * start, "{} {params}: {start} → {end}", info.name);
        }
    }

    #[test]
    fn clipping_scales_to_the_max_norm() {
        let v = start();
        let mut e = rosenbrock(&v).unwrap();
        let before = clip_grad_norm(std::slice::from_ref(&v), &mut e.grads, 1.0).unwrap();
        assert!(before > 1.0);
        let after = global_grad_norm(&[v], &e.grads).unwrap();
        assert!((after - 1.0).abs() < 1e-5, "{after}");
    }
}
