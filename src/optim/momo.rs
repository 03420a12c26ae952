//! MoMo: momentum SGD with model-based adaptive step sizes (a Polyak-type step on a model of
//! the loss built from averaged losses, gradients and gradient–weight products).
//!
//! ```text
//! d ← βd + (1−β)g,   f̄ ← βf̄ + (1−β)f,   γ̄ ← βγ̄ + (1−β)⟨g, θ⟩   (per tensor; step 1: d = g, f̄ = f, γ̄ = ⟨g,θ⟩)
//! ρ = 1 − βᵗ with bias correction (then the averages start at 0), else 1
//! τ = min(lr/ρ, max((1+lr·λ)(f̄ − ρ·lb) + Σ⟨θ, d⟩ − (1+lr·λ)Σγ̄, 0) / Σ‖d‖²)
//! θ ← (θ − τ·d) / (1 + lr·λ)
//! ```
//! With `use_fstar` the lower bound `lb` is estimated online as in the reference.
//!
//! Reference: Schaipp, Ohana, Eickenberg, Defazio & Gower, *MoMo: Momentum Models for Adaptive
//! Learning Rates*, ICML 2024, arXiv:2305.07583 (S177); fabian-sp/MoMo `momo/momo.py` [code;
//! fixtures replay it].

use super::{Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "momo",
    summary: "MoMo: momentum with a model-based (Polyak-type) adaptive step size, capped at lr",
    update: "τ = min(lr/ρ, max((1+lr·λ)(f̄ − ρ·lb) + Σ⟨θ,d⟩ − (1+lr·λ)Σγ̄, 0)/Σ‖d‖²);  θ ← (θ − τd)/(1 + lr·λ)",
    reference: "Schaipp et al., MoMo, ICML 2024, arXiv:2305.07583 (S177); fabian-sp/MoMo momo/momo.py [code]",
    params: &[
        ParamDoc { name: "lr", meaning: "learning-rate cap", range: "0 < lr ≤ 100", default: "1.0" },
        ParamDoc { name: "beta", meaning: "momentum β", range: "0 ≤ β < 1", default: "0.9" },
        ParamDoc { name: "weight_decay", meaning: "weight decay λ", range: "0 ≤ λ ≤ 100", default: "0.0" },
        ParamDoc { name: "lb", meaning: "lower bound of the loss", range: "any", default: "0.0" },
        ParamDoc { name: "bias_correction", meaning: "averages start at 0 with ρ = 1 − βᵗ", range: "true | false", default: "false" },
        ParamDoc { name: "use_fstar", meaning: "estimate the lower bound online", range: "true | false", default: "false" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lr: f64,
    pub beta: f64,
    pub weight_decay: f64,
    pub lb: f64,
    pub bias_correction: bool,
    pub use_fstar: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 1.0, beta: 0.9, weight_decay: 0.0, lb: 0.0, bias_correction: false, use_fstar: false }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("beta", self.beta, 0.0, 0.999_999_9)?;
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
        Ok(Box::new(Momo {
            lb: self.lb,
            params: self.clone(),
            vars,
            grad_avg: vec![None; n],
            grad_dot_w: vec![0.0; n],
            loss_avg: 0.0,
            t: 0,
        }))
    }
}

pub struct Momo {
    params: Params,
    vars: Vec<Var>,
    grad_avg: Vec<Option<Tensor>>,
    grad_dot_w: Vec<f64>,
    loss_avg: f64,
    lb: f64,
    t: i32,
}

fn dot(a: &Tensor, b: &Tensor) -> Result<f64> {
    Ok((a * b)?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

impl Optimizer for Momo {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, grads } = objective.eval()?;
        let p = self.params.clone();
        let beta = p.beta;
        self.t += 1;
        if self.t == 1 {
            self.loss_avg = if p.bias_correction { 0.0 } else { loss };
        }
        self.loss_avg = beta * self.loss_avg + (1.0 - beta) * loss;
        let rho = if p.bias_correction { 1.0 - beta.powi(self.t) } else { 1.0 };
        let (mut total_dot, mut gamma, mut norm) = (0.0, 0.0, 0.0);
        for (i, v) in self.vars.iter().enumerate() {
            let g = match grads.get(v.as_tensor()) {
                Some(g) => g.clone(),
                None => v.as_tensor().zeros_like()?,
            };
            let theta = v.as_tensor();
            let gw = dot(theta, &g)?;
            if self.t == 1 {
                if p.bias_correction {
                    self.grad_avg[i] = Some(theta.zeros_like()?);
                    self.grad_dot_w[i] = 0.0;
                } else {
                    self.grad_avg[i] = Some(g.clone());
                    self.grad_dot_w[i] = gw;
                }
            }
            let avg = match self.grad_avg[i].take() {
                Some(a) => ((a * beta)? + (&g * (1.0 - beta))?)?,
                None => g.clone(),
            };
            self.grad_dot_w[i] = beta * self.grad_dot_w[i] + (1.0 - beta) * gw;
            total_dot += dot(theta, &avg)?;
            gamma += self.grad_dot_w[i];
            norm += dot(&avg, &avg)?;
            self.grad_avg[i] = Some(avg);
        }
        let lam = p.weight_decay;
        let shrink = 1.0 + lr * lam;
        if p.use_fstar {
            let cap = shrink * self.loss_avg + total_dot - shrink * gamma;
            if cap < shrink * rho * self.lb {
                self.lb = (cap / (2.0 * shrink * rho)).max(p.lb);
            }
        }
        let t1 = if lam > 0.0 {
            (shrink * (self.loss_avg - rho * self.lb) + total_dot - shrink * gamma).max(0.0) / norm
        } else {
            (self.loss_avg - rho * self.lb + total_dot - gamma).max(0.0) / norm
        };
        // A zero averaged gradient gives 0/0; take no step then.
        let t1 = if t1.is_nan() { 0.0 } else { t1 };
        let tau = (lr / rho).min(t1);
        if p.use_fstar {
            let h = self.loss_avg + total_dot - gamma;
            self.lb = ((h - 0.5 * tau * norm) / rho).max(p.lb);
        }
        for (v, avg) in self.vars.iter().zip(&self.grad_avg) {
            let Some(avg) = avg else { continue };
            let mut theta = (v.as_tensor() - (avg * tau)?)?;
            if lam > 0.0 {
                theta = (theta / shrink)?;
            }
            v.set(&theta)?;
        }
        Ok(loss)
    }
}
