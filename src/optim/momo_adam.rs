//! MoMo-Adam: MoMo's model-based adaptive step with Adam's diagonal preconditioner (S177).
//!
//! ```text
//! d ← β₁d + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  γ̄ ← β₁γ̄ + (1−β₁)⟨θ, g⟩ (per tensor),  f̄ ← β₁f̄ + (1−β₁)f
//! D = √(v/(1 − β₂ᵗ)) + ε;   ρ = 1 − β₁ᵗ                       (always bias-corrected; all start at 0)
//! τ = min(lr/ρ, max((1+lr·λ)(f̄ − ρ·lb) + Σ⟨θ, d⟩ − (1+lr·λ)Σγ̄, 0) / Σ⟨d, d/D⟩)
//! θ ← θ − τ·d/D,  then θ ← θ/(1 + lr·λ)    (divide: proximal decay; else θ ← (1 − lr·λ)θ first)
//! ```
//! `d` itself is not bias-corrected; ρ enters through `ρ·lb` and the cap `lr/ρ`. With
//! `use_fstar` the lower bound is estimated online as in the reference. If the denominator is
//! 0 (no gradient), `τ = lr/ρ` (Python's `min(lr/ρ, nan)` in the reference).
//!
//! Reference: Schaipp, Ohana, Eickenberg, Defazio & Gower, *MoMo: Momentum Models for Adaptive
//! Learning Rates*, ICML 2024 (S177); fabian-sp/MoMo `momo/momo_adam.py::MomoAdam.step` [code;
//! the fixture replays a transcription of it]. Defaults are the reference's: lr 1e-2,
//! β = (0.9, 0.999), ε = 1e-8, proximal weight decay.

use super::{Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "momo_adam",
    summary: "MoMo's adaptive (Polyak-type) step with Adam's preconditioner",
    update: "τ = min(lr/ρ, max((1+lr·λ)(f̄ − ρ·lb) + Σ⟨θ,d⟩ − (1+lr·λ)Σγ̄, 0)/Σ⟨d, d/D⟩);  θ ← (θ − τ·d/D)/(1 + lr·λ)",
    reference: "Schaipp et al., MoMo, ICML 2024 (S177); fabian-sp/MoMo momo/momo_adam.py [code]",
    params: &[
        ParamDoc { name: "lr", meaning: "learning-rate cap", range: "0 < lr ≤ 100", default: "0.01" },
        ParamDoc { name: "beta1", meaning: "momentum β₁", range: "0 ≤ β₁ < 1", default: "0.9" },
        ParamDoc { name: "beta2", meaning: "second-moment β₂", range: "0 ≤ β₂ < 1", default: "0.999" },
        ParamDoc { name: "eps", meaning: "added to √v̂", range: "0 ≤ ε ≤ 1", default: "1e-8" },
        ParamDoc { name: "weight_decay", meaning: "weight decay λ", range: "0 ≤ λ ≤ 100", default: "0.0" },
        ParamDoc {
            name: "divide",
            meaning: "proximal decay θ/(1+lr·λ) (else AdamW-style (1−lr·λ)θ)",
            range: "true | false",
            default: "true",
        },
        ParamDoc { name: "lb", meaning: "lower bound of the loss", range: "any", default: "0.0" },
        ParamDoc { name: "use_fstar", meaning: "estimate the lower bound online", range: "true | false", default: "false" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub divide: bool,
    pub lb: f64,
    pub use_fstar: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, divide: true, lb: 0.0, use_fstar: false }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("beta1", self.beta1, 0.0, 0.999_999_9)?;
        check_range("beta2", self.beta2, 0.0, 0.999_999_9)?;
        check_range("eps", self.eps, 0.0, 1.0)?;
        check_range("weight_decay", self.weight_decay, 0.0, 100.0)?;
        check_range("lb", self.lb, -1e12, 1e12)
    }
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, _ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let n = vars.len();
        Ok(Box::new(MomoAdam {
            params: self.clone(),
            vars,
            d: vec![None; n],
            v: vec![None; n],
            gamma: vec![0.0; n],
            loss_avg: 0.0,
            lb: self.lb,
            steps: 0,
        }))
    }
}

pub struct MomoAdam {
    params: Params,
    vars: Vec<Var>,
    d: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
    gamma: Vec<f64>,
    loss_avg: f64,
    lb: f64,
    steps: i32,
}

fn sum(t: &Tensor) -> Result<f64> {
    Ok(t.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

impl Optimizer for MomoAdam {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, grads } = objective.eval()?;
        let p = self.params.clone();
        self.steps += 1;
        let k = self.steps;
        let (b1, b2) = (p.beta1, p.beta2);
        let bc2 = 1.0 - b2.powi(k);
        let (mut dot, mut big_gamma, mut gn) = (0.0, 0.0, 0.0);
        let mut precond: Vec<Option<Tensor>> = vec![None; self.vars.len()];
        for (i, var) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let theta = var.as_tensor();
            let d = match self.d[i].take() {
                Some(d) => ((d * b1)? + (g * (1.0 - b1))?)?,
                None => (g * (1.0 - b1))?,
            };
            let v = match self.v[i].take() {
                Some(v) => ((v * b2)? + (g.sqr()? * (1.0 - b2))?)?,
                None => (g.sqr()? * (1.0 - b2))?,
            };
            self.gamma[i] = b1 * self.gamma[i] + (1.0 - b1) * sum(&(theta * g)?)?;
            let denom = ((&v / bc2)?.sqrt()? + p.eps)?;
            dot += sum(&(theta * &d)?)?;
            big_gamma += self.gamma[i];
            gn += sum(&(d.sqr()? / &denom)?)?;
            self.d[i] = Some(d);
            self.v[i] = Some(v);
            precond[i] = Some(denom);
        }
        self.loss_avg = (1.0 - b1) * loss + b1 * self.loss_avg;
        let rho = 1.0 - b1.powi(k);
        let decay = 1.0 + lr * p.weight_decay;
        if p.use_fstar {
            let cap = decay * self.loss_avg + dot - decay * big_gamma;
            if cap < decay * rho * self.lb {
                self.lb = (cap / (2.0 * decay * rho)).max(p.lb);
            }
        }
        let nom = decay * (self.loss_avg - rho * self.lb) + dot - decay * big_gamma;
        let t1 = nom.max(0.0) / gn;
        let cap = lr / rho;
        let tau = if t1 < cap { t1 } else { cap };
        if p.use_fstar {
            let h = self.loss_avg + dot - big_gamma;
            self.lb = ((h - 0.5 * tau * gn) / rho).max(p.lb);
        }
        for (i, var) in self.vars.iter().enumerate() {
            let (Some(d), Some(denom)) = (&self.d[i], &precond[i]) else { continue };
            let mut theta = var.as_tensor().clone();
            if p.weight_decay > 0.0 && !p.divide {
                theta = (theta * (1.0 - p.weight_decay * lr))?;
            }
            theta = (theta - ((d / denom)? * tau)?)?;
            if p.weight_decay > 0.0 && p.divide {
                theta = (theta / decay)?;
            }
            var.set(&theta)?;
        }
        Ok(loss)
    }
}
