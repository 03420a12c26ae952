//! Adam with coupled L2 (`adam`, as `torch.optim.Adam(weight_decay=wd)`) and with decoupled
//! weight decay (`adamw`, Loshchilov & Hutter, as `torch.optim.AdamW`).
//!
//! ```text
//! adam:   g ← ∇L + wd·θ
//! adamw:  θ ← θ·(1 − lr·wd)          (weight_decay_mode: paper → θ·(1 − η_t·wd), η_t = lr_t/lr)
//! m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
//! θ ← θ − lr·m̂ / (√v̂ + ε),   m̂ = m/(1 − β₁ᵗ),  v̂ = v/(1 − β₂ᵗ)
//! ```
//! Reference: Kingma & Ba, arXiv:1412.6980; Loshchilov & Hutter, *Decoupled Weight Decay
//! Regularization* (S059), arXiv:1711.05101; `torch.optim.Adam`/`AdamW` [ref].

use super::{zeros_like, Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const PARAMS: &[ParamDoc] = &[
    ParamDoc { name: "lr", meaning: "learning rate", range: "0 < lr ≤ 100", default: "0.001" },
    ParamDoc { name: "beta1", meaning: "first-moment decay β₁", range: "0 ≤ β₁ < 1", default: "0.9" },
    ParamDoc { name: "beta2", meaning: "second-moment decay β₂", range: "0 ≤ β₂ < 1", default: "0.999" },
    ParamDoc { name: "eps", meaning: "denominator constant ε (S135 uses 1e-25)", range: "0 ≤ ε ≤ 1", default: "1e-8" },
    ParamDoc {
        name: "weight_decay",
        meaning: "adam, adam_l2: coupled L2 added to the gradient; adamw: decoupled decay",
        range: "0 ≤ wd ≤ 100",
        default: "adam 0.0, adam_l2 0.01, adamw 0.01",
    },
    ParamDoc {
        name: "weight_decay_mode",
        meaning: "adamw only: torch (decay lr_t·wd per step, torch.optim.AdamW) or paper (η_t·wd, S059 Algorithm 2, η_t = lr_t/lr)",
        range: "torch | paper (paper: wd ≤ 0.5)",
        default: "torch",
    },
];

pub static ADAM: OptimizerInfo = OptimizerInfo {
    name: "adam",
    summary: "Adam (torch.optim.Adam); optional weight_decay is coupled L2, default 0",
    update: "g ← ∇L + wd·θ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr·m̂/(√v̂ + ε)",
    reference: "Kingma & Ba 2015, arXiv:1412.6980; torch.optim.Adam [ref]",
    params: PARAMS,
    build: build_adam,
};

pub static ADAM_L2: OptimizerInfo = OptimizerInfo {
    name: "adam_l2",
    summary: "Adam with coupled L2 (weight_decay added to the gradient), default 0.01 — the catalog's contrast to adamw",
    update: "g ← ∇L + wd·θ;  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr·m̂/(√v̂ + ε)",
    reference: "Loshchilov & Hutter (S059), arXiv:1711.05101: Adam with L2 regularisation; torch.optim.Adam(weight_decay=wd) [ref]",
    params: PARAMS,
    build: build_adam_l2,
};

pub static ADAMW: OptimizerInfo = OptimizerInfo {
    name: "adamw",
    summary: "Adam with decoupled weight decay (torch.optim.AdamW)",
    update: "θ ← θ(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  θ ← θ − lr·m̂/(√v̂ + ε)",
    reference: "Loshchilov & Hutter, Decoupled Weight Decay Regularization (S059), arXiv:1711.05101; torch.optim.AdamW [ref]",
    params: PARAMS,
    build: build_adamw,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    #[serde(default = "default_lr")]
    pub lr: f64,
    #[serde(default = "default_beta1")]
    pub beta1: f64,
    #[serde(default = "default_beta2")]
    pub beta2: f64,
    #[serde(default = "default_eps")]
    pub eps: f64,
    pub weight_decay: f64,
    #[serde(skip)]
    pub decoupled: bool,
}

fn default_lr() -> f64 {
    1e-3
}
fn default_beta1() -> f64 {
    0.9
}
fn default_beta2() -> f64 {
    0.999
}
fn default_eps() -> f64 {
    1e-8
}

/// `adam`'s parameters: weight decay defaults to 0.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdamParams {
    #[serde(default = "default_lr")]
    lr: f64,
    #[serde(default = "default_beta1")]
    beta1: f64,
    #[serde(default = "default_beta2")]
    beta2: f64,
    #[serde(default = "default_eps")]
    eps: f64,
    #[serde(default)]
    weight_decay: f64,
}

/// `adamw`'s parameters: weight decay defaults to 0.01 (PyTorch).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdamWParams {
    #[serde(default = "default_lr")]
    lr: f64,
    #[serde(default = "default_beta1")]
    beta1: f64,
    #[serde(default = "default_beta2")]
    beta2: f64,
    #[serde(default = "default_eps")]
    eps: f64,
    #[serde(default = "default_wd")]
    weight_decay: f64,
    /// `torch` (the default, left out of configs): the decay per step is `lr_t·wd`. `paper`:
    /// S059's Algorithm 2, `θ ← θ − η_t·wd·θ` with `η_t = lr_t / lr` the schedule multiplier,
    /// so the decay does not scale with the learning rate (H14 grids lr × wd in these terms).
    #[serde(default, skip_serializing_if = "DecayMode::is_torch")]
    weight_decay_mode: DecayMode,
}

/// How `adamw`'s decoupled decay is scaled (see [`AdamWParams`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DecayMode {
    #[default]
    Torch,
    Paper,
}

impl DecayMode {
    fn is_torch(&self) -> bool {
        *self == DecayMode::Torch
    }
}

fn default_wd() -> f64 {
    0.01
}

fn check(lr: f64, beta1: f64, beta2: f64, eps: f64, wd: f64) -> Result<()> {
    check_range("lr", lr, 1e-12, 100.0)?;
    check_range("beta1", beta1, 0.0, 0.999_999_9)?;
    check_range("beta2", beta2, 0.0, 0.999_999_9)?;
    check_range("eps", eps, 0.0, 1.0)?;
    check_range("weight_decay", wd, 0.0, 100.0)
}

impl Validate for AdamParams {
    fn validate(&self) -> Result<()> {
        check(self.lr, self.beta1, self.beta2, self.eps, self.weight_decay)
    }
}
impl Validate for AdamWParams {
    fn validate(&self) -> Result<()> {
        check(self.lr, self.beta1, self.beta2, self.eps, self.weight_decay)?;
        if self.weight_decay_mode == DecayMode::Paper {
            // A per-step decay of 1 or more zeroes or flips the weights.
            check_range("weight_decay (per step, weight_decay_mode: paper)", self.weight_decay, 0.0, 0.5)?;
        }
        Ok(())
    }
}

fn build_adam(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    let (p, canonical) = parse_params::<AdamParams>(value)?;
    let params = Params { lr: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps, weight_decay: p.weight_decay, decoupled: false };
    Ok((Arc::new(params), canonical))
}

fn build_adam_l2(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    let (p, canonical) = parse_params::<AdamWParams>(value)?;
    let params = Params { lr: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps, weight_decay: p.weight_decay, decoupled: false };
    Ok((Arc::new(params), canonical))
}

fn build_adamw(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    let (p, canonical) = parse_params::<AdamWParams>(value)?;
    // The step decays by lr_t·wd; with wd/lr that is η_t·wd, the paper's decay.
    let weight_decay = match p.weight_decay_mode {
        DecayMode::Torch => p.weight_decay,
        DecayMode::Paper => p.weight_decay / p.lr,
    };
    let params = Params { lr: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps, weight_decay, decoupled: true };
    Ok((Arc::new(params), canonical))
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, _ctx: &Context) -> Result<Box<dyn Optimizer>> {
        Adam::new(self.clone(), vars, true)
    }
}

/// Moments of one parameter: flat host buffers for the fused CPU update, or tensors.
enum Moments {
    Host(super::fused::Buffer, super::fused::Buffer),
    Tensors(Tensor, Tensor),
}

pub struct Adam {
    params: Params,
    vars: Vec<Var>,
    moments: Vec<Moments>,
    t: i32,
}

impl Adam {
    /// `fused`: update CPU parameters in place (the default); false keeps the tensor-op path
    /// everywhere (for tests that compare the two).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(params: Params, vars: Vec<Var>, fused: bool) -> Result<Box<dyn Optimizer>> {
        let moments = vars
            .iter()
            .map(|v| {
                let t = v.as_tensor();
                let host = (fused && t.device().is_cpu() && t.is_contiguous())
                    .then(|| {
                        super::fused::Buffer::zeros(t.dtype(), t.elem_count()).zip(super::fused::Buffer::zeros(t.dtype(), t.elem_count()))
                    })
                    .flatten();
                Ok(match host {
                    Some((m, v)) => Moments::Host(m, v),
                    None => Moments::Tensors(zeros_like(v)?, zeros_like(v)?),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Box::new(Adam { params, vars, moments, t: 0 }))
    }
}

impl Optimizer for Adam {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, grads } = objective.eval()?;
        let p = &self.params;
        self.t += 1;
        let bias1 = 1.0 - p.beta1.powi(self.t);
        let bias2 = 1.0 - p.beta2.powi(self.t);
        for (var, moments) in self.vars.iter().zip(self.moments.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            if let Moments::Host(m, v) = moments {
                if super::fused::eligible(var.as_tensor(), g) {
                    let op = super::fused::AdamStep {
                        m: std::cell::RefCell::new(m),
                        v: std::cell::RefCell::new(v),
                        beta1: p.beta1,
                        beta2: p.beta2,
                        eps: p.eps,
                        weight_decay: p.weight_decay,
                        decoupled: p.decoupled,
                        lr,
                        bias1,
                        bias2,
                    };
                    var.as_tensor().inplace_op2(g, &op)?;
                    continue;
                }
                // A gradient the kernel cannot read in place: move the moments to tensors.
                let t = var.as_tensor();
                let (mt, vt) = (m.to_tensor(t)?, v.to_tensor(t)?);
                *moments = Moments::Tensors(mt, vt);
            }
            let Moments::Tensors(m, v) = moments else { continue };
            let mut theta = var.as_tensor().clone();
            let mut g = g.clone();
            if p.weight_decay != 0.0 {
                if p.decoupled {
                    theta = (theta * (1.0 - lr * p.weight_decay))?;
                } else {
                    g = (g + (&theta * p.weight_decay)?)?;
                }
            }
            *m = ((&*m * p.beta1)? + (&g * (1.0 - p.beta1))?)?;
            *v = ((&*v * p.beta2)? + (g.sqr()? * (1.0 - p.beta2))?)?;
            // torch's form: denom = √v / √(1 − β₂ᵗ) + ε;  θ ← θ − (lr / (1 − β₁ᵗ))·m / denom.
            let denom = ((v.sqrt()? / bias2.sqrt())? + p.eps)?;
            let update = ((&*m / denom)? * (lr / bias1))?;
            var.set(&(theta - update)?)?;
        }
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::Evaluation;
    use candle_core::Device;

    /// With a gradient of 1e-12 and ε = 1 Adam's update is below 1e-13, so only the decay moves
    /// the weights: the paper's `η_t·wd` per step (η_t = lr_t / lr), torch's `lr_t·wd`.
    #[test]
    fn paper_mode_decays_by_the_schedule_multiplier_not_the_learning_rate() {
        let decayed = |params: serde_json::Value| {
            let (spec, _) = build_adamw(&params).unwrap();
            let var = Var::from_vec(vec![2.0f64, -1.0], 2, &Device::Cpu).unwrap();
            let mut opt = spec.instantiate(vec![var.clone()], &Context::default()).unwrap();
            let mut zero = || -> Result<Evaluation> {
                let f = (var.as_tensor() * 1e-12)?.sum_all()?;
                Ok(Evaluation { loss: 0.0, grads: f.backward()? })
            };
            // lr 0.05, then half of it (a schedule multiplier of 0.5).
            for lr in [0.05, 0.025] {
                opt.step(&mut zero, lr).unwrap();
            }
            var.as_tensor().to_vec1::<f64>().unwrap()
        };
        let paper = decayed(serde_json::json!({"lr": 0.05, "eps": 1.0, "weight_decay": 0.04, "weight_decay_mode": "paper"}));
        let want = 2.0 * (1.0 - 0.04) * (1.0 - 0.5 * 0.04);
        assert!((paper[0] - want).abs() < 1e-12 && (paper[1] + want / 2.0).abs() < 1e-12, "{paper:?} vs {want}");
        let torch = decayed(serde_json::json!({"lr": 0.05, "eps": 1.0, "weight_decay": 0.04}));
        let want = 2.0 * (1.0 - 0.05 * 0.04) * (1.0 - 0.025 * 0.04);
        assert!((torch[0] - want).abs() < 1e-12, "{torch:?} vs {want}");
        let e = build_adamw(&serde_json::json!({"weight_decay": 0.9, "weight_decay_mode": "paper"})).err().unwrap().to_string();
        assert!(e.contains("weight_decay_mode: paper"), "{e}");
        // Torch's mode is left out of the config, so earlier adamw runs keep their hash.
        assert!(build_adamw(&serde_json::json!({})).unwrap().1.get("weight_decay_mode").is_none());
    }
}
