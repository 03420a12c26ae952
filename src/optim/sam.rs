//! SAM: sharpness-aware minimization, wrapping any base optimizer (ASAM with `adaptive`).
//!
//! ```text
//! g = ∇L(θ);  ε̂ = ρ·T²g / ‖T g‖   (T = |θ| elementwise if adaptive, else 1; global norm, + 1e-12)
//! g_SAM = ∇L(θ + ε̂) on the same batch;  restore θ;  base step with g_SAM
//! ```
//! Two forward/backward passes per step; the loss reported is the one at θ.
//!
//! m-sharpness (`m` > 0): the batch is cut into micro-batches of at most `m` rows, each gets its
//! own perturbation from its own gradient, and the perturbed gradients are averaged (weighted by
//! micro-batch size) before the base step — Foret et al.'s m-sharpness, which they found
//! generalises better with small m. `m` = 0 (or ≥ the batch) is plain SAM.
//!
//! Reference: Foret et al., *Sharpness-Aware Minimization for Efficiently Improving
//! Generalization*, ICLR 2021, arXiv:2010.01412 (S023); Kwon et al., *ASAM*, ICML 2021;
//! davda54/sam `sam.py` (first_step/second_step, adaptive) [code; fixtures replay it].

use super::hvp::evaluate_at;
use super::{part_range, Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc};
use candle_core::{DType, Tensor, Var};
use serde::Deserialize;
use std::sync::Arc;

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "sam",
    summary: "sharpness-aware minimization around any base optimizer (adaptive: ASAM)",
    update: "ε̂ = ρ·T²g/‖Tg‖ (T = |θ| if adaptive else 1);  g_SAM = ∇L(θ + ε̂);  base step with g_SAM at θ",
    reference: "Foret et al., SAM, ICLR 2021, arXiv:2010.01412 (S023); Kwon et al., ASAM, ICML 2021; davda54/sam [code]",
    params: &[
        ParamDoc { name: "rho", meaning: "neighbourhood radius ρ", range: "0 ≤ ρ ≤ 10", default: "0.05" },
        ParamDoc { name: "adaptive", meaning: "scale-invariant ASAM perturbation", range: "true | false", default: "false" },
        ParamDoc { name: "m", meaning: "m-sharpness micro-batch size (0: the whole batch)", range: "0 ≤ m", default: "0" },
        ParamDoc {
            name: "base",
            meaning: "the base optimizer, as a component",
            range: "{name: sgd, lr: …, …}",
            default: "{name: sgd, lr: 0.1, momentum: 0.9}",
        },
    ],
    build,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    #[serde(default = "default_rho")]
    rho: f64,
    #[serde(default)]
    adaptive: bool,
    #[serde(default)]
    m: usize,
    #[serde(default = "default_base")]
    base: serde_json::Value,
}

fn default_rho() -> f64 {
    0.05
}

fn default_base() -> serde_json::Value {
    serde_json::json!({"name": "sgd", "lr": 0.1, "momentum": 0.9})
}

pub struct Spec {
    rho: f64,
    adaptive: bool,
    m: usize,
    base: Arc<dyn OptimizerSpec>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    let value = if value.is_null() { serde_json::json!({}) } else { value.clone() };
    let raw: RawParams = serde_json::from_value(value).map_err(crate::registry::serde_input_error)?;
    check_range("rho", raw.rho, 0.0, 10.0)?;
    let (spec, base_json) = super::perp_grad::build_base(&raw.base)?;
    // `m` joins the canonical config only when set, so plain-SAM runs keep their config hash.
    let mut canonical = serde_json::json!({"rho": raw.rho, "adaptive": raw.adaptive, "base": base_json});
    if raw.m > 0 {
        canonical["m"] = raw.m.into();
    }
    Ok((Arc::new(Spec { rho: raw.rho, adaptive: raw.adaptive, m: raw.m, base: spec }), canonical))
}

impl OptimizerSpec for Spec {
    fn lr(&self) -> f64 {
        self.base.lr()
    }
    fn instantiate(&self, vars: Vec<Var>, ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let base = self.base.instantiate(vars.clone(), ctx)?;
        Ok(Box::new(Sam { rho: self.rho, adaptive: self.adaptive, m: self.m, vars, base }))
    }
}

pub struct Sam {
    m: usize,
    rho: f64,
    adaptive: bool,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

impl Sam {
    /// Gradients at `θ + ε̂(first)` from `again`, with θ restored afterwards (also on error).
    fn perturbed(&self, first: &Evaluation, again: &mut dyn FnMut() -> Result<Evaluation>) -> Result<Evaluation> {
        // ‖T g‖ over all parameters with a gradient.
        let mut sq = 0f64;
        let mut direction = Vec::with_capacity(self.vars.len());
        for v in &self.vars {
            let Some(g) = first.grads.get(v.as_tensor()) else {
                direction.push(None);
                continue;
            };
            let tg = if self.adaptive { (v.as_tensor().abs()? * g)? } else { g.clone() };
            sq += tg.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            direction.push(Some(if self.adaptive { (v.as_tensor().sqr()? * g)? } else { g.clone() }));
        }
        let scale = self.rho / (sq.sqrt() + 1e-12);
        evaluate_at(&self.vars, &direction, scale, again)
    }
}

impl Optimizer for Sam {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let n = objective.rows();
        if self.m == 0 || n <= self.m {
            let first = objective.eval()?;
            let mut second = Some(self.perturbed(&first, &mut || objective.eval())?);
            self.base
                .step(&mut || second.take().ok_or_else(|| Error::runtime("sam: the base optimizer asked for a third gradient")), lr)?;
            return Ok(first.loss);
        }
        let k = n.div_ceil(self.m);
        let mut loss = 0.0;
        let mut sum: Vec<Option<Tensor>> = vec![None; self.vars.len()];
        let mut store = None;
        for i in 0..k {
            let (lo, hi) = part_range(i, k, n);
            let weight = (hi - lo) as f64 / n as f64;
            let first = objective.eval_part(i, k)?;
            loss += weight * first.loss;
            let second = self.perturbed(&first, &mut || objective.eval_part(i, k))?;
            for (v, acc) in self.vars.iter().zip(sum.iter_mut()) {
                if let Some(g) = second.grads.get(v.as_tensor()) {
                    let g = (g * weight)?;
                    *acc = Some(match acc.take() {
                        None => g,
                        Some(a) => (a + g)?,
                    });
                }
            }
            store = Some(second.grads);
        }
        let mut grads = store.ok_or_else(|| Error::runtime("sam: no micro-batches"))?;
        for (v, g) in self.vars.iter().zip(sum) {
            if let Some(g) = g {
                grads.insert(v.as_tensor(), g);
            }
        }
        let mut evaluation = Some(Evaluation { loss, grads });
        self.base
            .step(&mut || evaluation.take().ok_or_else(|| Error::runtime("sam: the base optimizer asked for a third gradient")), lr)?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{rosenbrock, start};

    #[test]
    fn rho_zero_is_the_base_optimizer_step_by_step() {
        let base = serde_json::json!({"name": "sgd", "lr": 1e-3, "momentum": 0.9});
        let (sam, _) = build(&serde_json::json!({"rho": 0.0, "base": base.clone()})).unwrap();
        let (sgd, _) = (crate::optim::sgd::INFO.build)(&serde_json::json!({"lr": 1e-3, "momentum": 0.9})).unwrap();
        let (a, b) = (start(), start());
        let (mut oa, mut ob) = (
            sam.instantiate(vec![a.clone()], &Context::default()).unwrap(),
            sgd.instantiate(vec![b.clone()], &Context::default()).unwrap(),
        );
        for _ in 0..50 {
            oa.step(&mut || rosenbrock(&a), 1e-3).unwrap();
            ob.step(&mut || rosenbrock(&b), 1e-3).unwrap();
            assert_eq!(a.as_tensor().to_vec1::<f64>().unwrap(), b.as_tensor().to_vec1::<f64>().unwrap());
        }
    }

    /// m-sharpness: with m ≥ the batch it is plain SAM; with m = 2 on 6 rows the step uses the
    /// mean of the three micro-batches' own SAM gradients.
    #[test]
    fn m_sharpness_averages_per_micro_batch_sam_gradients() {
        use crate::optim::testing::LeastSquares;
        let sgd = serde_json::json!({"name": "sgd", "lr": 0.1});
        let run = |m: usize| -> Vec<f64> {
            let (spec, _) = build(&serde_json::json!({"rho": 0.3, "m": m, "base": sgd.clone()})).unwrap();
            let mut problem = LeastSquares::new();
            let mut opt = spec.instantiate(vec![problem.w.clone()], &Context::default()).unwrap();
            opt.step(&mut problem, 0.1).unwrap();
            problem.w.as_tensor().to_vec1::<f64>().unwrap()
        };
        // Plain SAM by hand, and per micro-batch.
        let problem = LeastSquares::new();
        let w0 = problem.w.as_tensor().to_vec1::<f64>().unwrap();
        let sam_grad = |lo: usize, hi: usize| -> Vec<f64> {
            let g = problem.grad(lo, hi);
            let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt() + 1e-12;
            let moved: Vec<f64> = w0.iter().zip(&g).map(|(w, g)| w + 0.3 * g / norm).collect();
            problem.w.set(&Tensor::from_vec(moved, 3, &candle_core::Device::Cpu).unwrap()).unwrap();
            let out = problem.grad(lo, hi);
            problem.w.set(&Tensor::from_vec(w0.clone(), 3, &candle_core::Device::Cpu).unwrap()).unwrap();
            out
        };
        let whole = sam_grad(0, 6);
        let parts: Vec<Vec<f64>> = [(0, 2), (2, 4), (4, 6)].iter().map(|&(a, b)| sam_grad(a, b)).collect();
        for (m, expect) in [(0, whole.clone()), (6, whole), (2, (0..3).map(|j| parts.iter().map(|p| p[j]).sum::<f64>() / 3.0).collect())] {
            let got = run(m);
            for j in 0..3 {
                let want = w0[j] - 0.1 * expect[j];
                assert!((got[j] - want).abs() < 1e-12, "m = {m}: {got:?} vs {want}");
            }
        }
    }

    #[test]
    fn unknown_base_is_an_input_error_with_a_suggestion() {
        let e = build(&serde_json::json!({"base": {"name": "sdg"}})).err().unwrap().to_string();
        assert!(e.contains("did you mean `sgd`?"), "{e}");
    }
}
