//! Grams: Adam's moments, but the update takes its direction from the current gradient's sign
//! and its magnitude from the momentum.
//!
//! ```text
//! θ ← θ − lr·wd·θ                     (decoupled weight decay, first)
//! m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²
//! θ ← θ − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · sign(g) ⊙ |m| / (√v + ε)
//! ```
//! Reference: Cao et al., *Grams: Gradient Descent with Adaptive Momentum Scaling*,
//! arXiv:2412.17107 (S176); PyPI `grams-pytorch` 0.0.2 `grams.py::Grams` [code; fixtures replay it].

use super::{zeros_like, Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "grams",
    summary: "Grams: Adam moments with the update's sign from the current gradient and magnitude from |m|",
    update: "θ ← θ(1 − lr·wd);  m, v as Adam;  θ ← θ − lr·√(1−β₂ᵗ)/(1−β₁ᵗ)·sign(g)⊙|m|/(√v + ε)",
    reference: "Cao et al., Grams, arXiv:2412.17107 (S176); grams-pytorch grams.py [code]",
    params: &[
        ParamDoc { name: "lr", meaning: "learning rate", range: "0 < lr ≤ 100", default: "0.001" },
        ParamDoc { name: "beta1", meaning: "first-moment decay β₁", range: "0 ≤ β₁ < 1", default: "0.9" },
        ParamDoc { name: "beta2", meaning: "second-moment decay β₂", range: "0 ≤ β₂ < 1", default: "0.999" },
        ParamDoc { name: "eps", meaning: "denominator constant ε", range: "0 ≤ ε ≤ 1", default: "1e-6" },
        ParamDoc { name: "weight_decay", meaning: "decoupled weight decay", range: "0 ≤ wd ≤ 100", default: "0.0" },
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
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("beta1", self.beta1, 0.0, 0.999_999_9)?;
        check_range("beta2", self.beta2, 0.0, 0.999_999_9)?;
        check_range("eps", self.eps, 0.0, 1.0)?;
        check_range("weight_decay", self.weight_decay, 0.0, 100.0)
    }
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, _ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let moments = vars.iter().map(|v| Ok((zeros_like(v)?, zeros_like(v)?))).collect::<Result<Vec<_>>>()?;
        Ok(Box::new(Grams { params: self.clone(), vars, moments, t: 0 }))
    }
}

pub struct Grams {
    params: Params,
    vars: Vec<Var>,
    moments: Vec<(Tensor, Tensor)>,
    t: i32,
}

impl Optimizer for Grams {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, grads } = objective.eval()?;
        let p = &self.params;
        self.t += 1;
        let step_size = lr * (1.0 - p.beta2.powi(self.t)).sqrt() / (1.0 - p.beta1.powi(self.t));
        for (var, (m, v)) in self.vars.iter().zip(self.moments.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let mut theta = var.as_tensor().clone();
            if p.weight_decay > 0.0 {
                theta = (theta * (1.0 - lr * p.weight_decay))?;
            }
            *m = ((&*m * p.beta1)? + (g * (1.0 - p.beta1))?)?;
            *v = ((&*v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            let denom = (v.sqrt()? + p.eps)?;
            let update = ((g.sign()? * m.abs()?)? / denom)?;
            var.set(&(theta - (update * step_size)?)?)?;
        }
        Ok(loss)
    }
}
