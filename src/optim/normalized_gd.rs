//! Normalized gradient descent, in the two forms of the catalog.
//!
//! ```text
//! mode gradient (S183):  θ ← θ − lr·g / (‖g‖ + c)         (global gradient norm, c = 1e-8)
//! mode loss     (S112):  θ ← θ − (lr / L(θ))·g              (step normalised by the current loss)
//! ```
//! Reference: S112 (*Large Stepsizes Accelerate Gradient Descent for Regularized Logistic
//! Regression* / "Normalized LR+GD") and S183 (normalized GD under generalised smoothness)
//! [recon: both update rules are the catalog's reconstructions of the abstracts; no authors'
//! code was found — the fixtures check this implementation against the same rules in torch].

use super::{global_grad_norm, Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::Var;
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "normalized_gd",
    summary: "normalized gradient descent: step lr·g/(‖g‖ + c), or lr·g/L(θ) with mode: loss",
    update: "gradient: θ ← θ − lr·g/(‖g‖ + c);  loss: θ ← θ − (lr/L(θ))·g",
    reference: "S183 (normalized GD, generalised smoothness) and S112 (normalized LR+GD) [recon]",
    params: &[
        ParamDoc { name: "lr", meaning: "step length", range: "0 < lr ≤ 100", default: "0.1" },
        ParamDoc { name: "mode", meaning: "what normalises the step", range: "gradient | loss", default: "gradient" },
        ParamDoc { name: "c", meaning: "constant added to the gradient norm", range: "0 ≤ c ≤ 1", default: "1e-8" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Gradient,
    Loss,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lr: f64,
    pub mode: Mode,
    pub c: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 0.1, mode: Mode::Gradient, c: 1e-8 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("c", self.c, 0.0, 1.0)
    }
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, _ctx: &Context) -> Result<Box<dyn Optimizer>> {
        Ok(Box::new(NormalizedGd { params: self.clone(), vars }))
    }
}

pub struct NormalizedGd {
    params: Params,
    vars: Vec<Var>,
}

impl Optimizer for NormalizedGd {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, grads } = objective.eval()?;
        let scale = match self.params.mode {
            Mode::Gradient => lr / (global_grad_norm(&self.vars, &grads)? + self.params.c),
            Mode::Loss => {
                if loss.is_nan() || loss <= 0.0 {
                    return Err(Error::runtime(format!("normalized_gd (mode: loss) needs a positive loss, got {loss}")));
                }
                lr / loss
            }
        };
        for v in &self.vars {
            if let Some(g) = grads.get(v.as_tensor()) {
                v.set(&(v.as_tensor() - (g * scale)?)?)?;
            }
        }
        Ok(loss)
    }
}
