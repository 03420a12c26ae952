//! GSNR-scaled variance-reduced gradient descent (VRGD, S170), reconstructed, around any base:
//! scale each parameter's step by its gradient signal-to-noise ratio estimated from micro-batches.
//!
//! ```text
//! g¹…gᵏ: gradients of the k micro-batches;  ḡ = Σ w_i gⁱ (w_i = size share: ḡ is the batch gradient)
//! σ²_j = Σ w_i (gⁱ_j − ḡ_j)²;   r_j = ḡ_j² / (σ²_j + 1e-12)
//! r̃_j = clamp(r_j / mean_{j' ∈ tensor} r_j', lo, hi)            (per-tensor normalisation)
//! base step with G = r̃ ⊙ ḡ
//! ```
//! For SGD, scaling the gradient is VRGD's element-wise learning rate; for adaptive bases the
//! multiplier acts on the gradient before the base's own normalisation (the paper scales the
//! final update of Adam/LAMB), so it is not the paper's rule there.
//!
//! Reference: Jiang, Liu, Ding, Guo & Lin, *Accelerating Large Batch Training via Gradient
//! Signal to Noise Ratio (GSNR)*, arXiv:2309.13681 (S170) [recon: no authors' code found; GSNR
//! as defined by Liu et al., ICLR 2020; the per-tensor normalisation, the bounds 0.1 and 10 and
//! k = 4 are our reconstruction].

use super::{base_step, build_wrapped, grads_of, part_range, with_grads, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "gsnr_vrgd",
    summary: "GSNR-scaled steps: per-parameter multiplier from micro-batch gradient signal/noise [reconstruction]",
    update: "r_j = ḡ_j²/Var_k(g_j);  r̃ = clamp(r/mean_tensor(r), lo, hi);  base step with r̃ ⊙ ḡ",
    reference: "Jiang et al., GSNR / VRGD, arXiv:2309.13681 (S170) [recon]; Liu et al., ICLR 2020 (GSNR)",
    params: &[
        ParamDoc { name: "parts", meaning: "micro-batches k", range: "2 ≤ k ≤ 64", default: "4" },
        ParamDoc { name: "min_scale", meaning: "lower bound of the multiplier", range: "0 ≤ lo ≤ 1", default: "0.1" },
        ParamDoc { name: "max_scale", meaning: "upper bound of the multiplier", range: "1 ≤ hi ≤ 1000", default: "10.0" },
        ParamDoc {
            name: "base",
            meaning: "the base optimizer",
            range: "{name: sgd, lr: …}",
            default: "{name: sgd, lr: 0.1, momentum: 0.9}",
        },
    ],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub parts: usize,
    pub min_scale: f64,
    pub max_scale: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { parts: 4, min_scale: 0.1, max_scale: 10.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("parts", self.parts as f64, 2.0, 64.0)?;
        check_range("min_scale", self.min_scale, 0.0, 1.0)?;
        check_range("max_scale", self.max_scale, 1.0, 1000.0)
    }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    build_wrapped::<Params>(value, serde_json::json!({"name": "sgd", "lr": 0.1, "momentum": 0.9}), |p, vars, base, _ctx| {
        Box::new(Gsnr { params: p.clone(), vars, base })
    })
}

pub struct Gsnr {
    params: Params,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

impl Optimizer for Gsnr {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let n = objective.rows();
        let k = self.params.parts.min(n);
        if k < 2 {
            let e = objective.eval()?;
            let loss = e.loss;
            base_step(self.base.as_mut(), e, lr, "gsnr_vrgd")?;
            return Ok(loss);
        }
        let mut loss = 0.0;
        let mut per: Vec<(f64, Vec<Tensor>)> = Vec::with_capacity(k);
        let mut carrier = None;
        for i in 0..k {
            let (lo, hi) = part_range(i, k, n);
            let w = (hi - lo) as f64 / n as f64;
            let e = objective.eval_part(i, k)?;
            loss += w * e.loss;
            per.push((w, grads_of(&self.vars, &e.grads)?));
            carrier = Some(e);
        }
        let carrier = carrier.ok_or_else(|| Error::runtime("gsnr_vrgd: empty batch"))?;
        let mut combined = Vec::with_capacity(self.vars.len());
        for j in 0..self.vars.len() {
            let mean = per.iter().map(|(w, g)| &g[j] * *w).try_fold(None::<Tensor>, |acc, t| -> Result<Option<Tensor>> {
                let t = t?;
                Ok(Some(match acc {
                    None => t,
                    Some(a) => (a + t)?,
                }))
            })?;
            let mean = mean.ok_or_else(|| Error::runtime("gsnr_vrgd: no parts"))?;
            let mut var = mean.zeros_like()?;
            for (w, g) in &per {
                var = (var + ((&g[j] - &mean)?.sqr()? * *w)?)?;
            }
            let r = (mean.sqr()? / (var + 1e-12)?)?;
            // The mean on the host in f64: a tensor whose gradient is zero on every micro-batch
            // has r = 0 everywhere, and then gets the plain gradient (multiplier 1), not 0/0.
            let r_mean = r.mean_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            let scale = if r_mean > 0.0 && r_mean.is_finite() {
                (r / r_mean)?.clamp(self.params.min_scale, self.params.max_scale)?
            } else {
                r.ones_like()?
            };
            combined.push((scale * &mean)?);
        }
        let e = with_grads(Evaluation { loss, grads: carrier.grads }, &self.vars, combined);
        base_step(self.base.as_mut(), e, lr, "gsnr_vrgd")?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::LeastSquares;
    use crate::optim::Context;

    /// A parameter the loss does not touch (zero gradient on every part) is left alone rather
    /// than turned into NaN by 0/0 (f32, as in training).
    #[test]
    fn a_zero_gradient_gives_a_finite_step() {
        let (spec, _) = build(&serde_json::json!({"parts": 2, "base": {"name": "sgd", "lr": 0.1}})).unwrap();
        let mut problem = LeastSquares::new();
        let idle = Var::from_vec(vec![1.0f32, 2.0], 2, &candle_core::Device::Cpu).unwrap();
        let mut opt = spec.instantiate(vec![problem.w.clone(), idle.clone()], &Context::default()).unwrap();
        opt.step(&mut problem, 0.1).unwrap();
        assert_eq!(idle.as_tensor().to_vec1::<f32>().unwrap(), vec![1.0, 2.0]);
        assert!(problem.w.as_tensor().to_vec1::<f64>().unwrap().iter().all(|v| v.is_finite()));
    }

    /// The multiplier, recomputed on the host from the micro-batch gradients (2 parts of 3 rows).
    #[test]
    fn scales_the_batch_gradient_by_normalised_gsnr() {
        let (spec, _) = build(&serde_json::json!({"parts": 2, "base": {"name": "sgd", "lr": 0.1}})).unwrap();
        let mut problem = LeastSquares::new();
        let a = problem.grad(0, 3);
        let b = problem.grad(3, 6);
        let w0 = problem.w.as_tensor().to_vec1::<f64>().unwrap();
        let mut opt = spec.instantiate(vec![problem.w.clone()], &Context::default()).unwrap();
        opt.step(&mut problem, 0.1).unwrap();
        let got = problem.w.as_tensor().to_vec1::<f64>().unwrap();
        let mean: Vec<f64> = (0..3).map(|j| 0.5 * (a[j] + b[j])).collect();
        let r: Vec<f64> = (0..3).map(|j| mean[j].powi(2) / (0.5 * ((a[j] - mean[j]).powi(2) + (b[j] - mean[j]).powi(2)) + 1e-12)).collect();
        let rm = r.iter().sum::<f64>() / 3.0;
        for j in 0..3 {
            let s = (r[j] / rm).clamp(0.1, 10.0);
            assert!((got[j] - (w0[j] - 0.1 * s * mean[j])).abs() < 1e-12, "{got:?}");
        }
    }
}
