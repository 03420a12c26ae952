//! ASGD: accelerated SGD of Jain, Kakade, Kidambi, Netrapalli & Sidford, in the practical form
//! of Kidambi et al. ("AccSGD"), the algorithm whose risk S111 analyses for over-parameterised
//! linear regression.
//!
//! ```text
//! long_lr = lr·κ/c;  A = 1 − c²·ξ/κ;  B = 1 − A;  ζ = c/(c + B)
//! g ← g + wd·θ
//! b ← (1 − B)·b + B·(θ − long_lr·g)          (b₀ = θ₀)
//! θ ← ζ·(θ − lr·g) + (1 − ζ)·b
//! ```
//! A short step (`lr`) and a long step (`long_lr`, κ/c times longer) are mixed; κ is the
//! condition-number estimate, ξ the statistical-advantage parameter, c a small constant ≤ 1.
//! Eliminating `b` shows it is Nesterov momentum with an extra gradient term in the look-ahead
//! point; plain Nesterov SGD is a special case (the catalog's row calls `asgd` "Nesterov SGD";
//! the paper's algorithm is this 4-parameter method).
//!
//! Reference: Li, Deng, Wu, Zhou & Gu, *Risk Bounds of Accelerated SGD for Overparameterized
//! Linear Regression*, ICLR 2024, arXiv:2311.14222 (S111); Jain et al., *Accelerating Stochastic
//! Gradient Descent for Least Squares Regression*, COLT 2018; Kidambi, Netrapalli, Jain & Kakade,
//! *On the Insufficiency of Existing Momentum Schemes for Stochastic Optimization*, ICLR 2018;
//! rahulkidambi/AccSGD `AccSGD.py` [code; the fixture replays a transcription of it].

use super::{Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "asgd",
    summary: "accelerated SGD (Jain et al. / AccSGD): a short and a long step mixed, as analysed in S111",
    update: "b ← (1−B)b + B(θ − (lr·κ/c)·g);  θ ← ζ(θ − lr·g) + (1−ζ)b,  B = c²ξ/κ, ζ = c/(c + B)",
    reference: "Li et al., Risk Bounds of Accelerated SGD, ICLR 2024 (S111); Jain et al., COLT 2018; rahulkidambi/AccSGD [code]",
    params: &[
        ParamDoc { name: "lr", meaning: "short step", range: "0 < lr ≤ 100", default: "0.1" },
        ParamDoc { name: "kappa", meaning: "long-step ratio κ (condition-number estimate)", range: "1 ≤ κ ≤ 1e8", default: "1000.0" },
        ParamDoc { name: "xi", meaning: "statistical-advantage parameter ξ", range: "0 < ξ ≤ κ", default: "10.0" },
        ParamDoc { name: "small_const", meaning: "constant c", range: "0 < c ≤ 1", default: "0.7" },
        ParamDoc { name: "weight_decay", meaning: "coupled L2 coefficient", range: "0 ≤ wd ≤ 10", default: "0.0" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lr: f64,
    pub kappa: f64,
    pub xi: f64,
    pub small_const: f64,
    pub weight_decay: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 0.1, kappa: 1000.0, xi: 10.0, small_const: 0.7, weight_decay: 0.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("kappa", self.kappa, 1.0, 1e8)?;
        check_range("xi", self.xi, 1e-12, self.kappa)?;
        check_range("small_const", self.small_const, 1e-12, 1.0)?;
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)
    }
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, _ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let buffers = vec![None; vars.len()];
        Ok(Box::new(Asgd { params: self.clone(), vars, buffers }))
    }
}

pub struct Asgd {
    params: Params,
    vars: Vec<Var>,
    buffers: Vec<Option<Tensor>>,
}

impl Optimizer for Asgd {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, grads } = objective.eval()?;
        let p = &self.params;
        let c = p.small_const;
        let long_lr = lr * p.kappa / c;
        let b = c * c * p.xi / p.kappa;
        let zeta = c / (c + b);
        for (var, buffer) in self.vars.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let theta = var.as_tensor();
            let mut g = g.clone();
            if p.weight_decay != 0.0 {
                g = (g + (theta * p.weight_decay)?)?;
            }
            let prev = match buffer.take() {
                Some(buf) => buf,
                None => theta.copy()?,
            };
            let buf = ((prev * (1.0 - b))? + ((theta - (&g * long_lr)?)? * b)?)?;
            let next = (((theta - (&g * lr)?)? * zeta)? + (&buf * (1.0 - zeta))?)?;
            *buffer = Some(buf);
            var.set(&next)?;
        }
        Ok(loss)
    }
}
