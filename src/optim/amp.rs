//! AMP: adversarial model perturbation around any base optimizer (S182).
//!
//! ```text
//! g = ∇L(θ);  δ = 0
//! repeat inner_iter times:
//!     per tensor:  δ ← δ + inner_lr·g;  δ ← δ·min(1, ε/(‖δ‖ + 1e-12))      (ℓ₂ ball per tensor)
//!     g = ∇L(θ + δ)
//! restore θ;  base step with the last g (the gradient at θ + δ_K)
//! ```
//! `inner_iter + 1` gradient evaluations per step, all on the same batch; the loss reported is
//! the one at θ. With ε = 0 the perturbation is zero and the step is the base optimizer's.
//! The authors' training script also clips every gradient to global norm 50 and uses Nesterov
//! SGD (lr 0.1, momentum 0.9, wd 1e-4): in lossbench those are `train.grad_clip` and the base.
//!
//! Reference: Zheng, Zhang & Mao, *Regularizing Neural Networks via Adversarial Model
//! Perturbation*, CVPR 2021 (S182); hiyouga/AMP-Regularizer `amp.py::AMP.step` [code; the
//! fixture replays a transcription of it].

use super::{base_step, build_wrapped, grads_of, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "amp",
    summary: "adversarial model perturbation: gradient at the worst point of a per-tensor ℓ₂ ball, around any base",
    update: "δ ← clip_ε(δ + inner_lr·∇L(θ+δ)) per tensor, inner_iter times;  base step with ∇L(θ + δ) at θ",
    reference:
        "Zheng et al., Regularizing Neural Networks via Adversarial Model Perturbation, CVPR 2021 (S182); hiyouga/AMP-Regularizer [code]",
    params: &[
        ParamDoc { name: "epsilon", meaning: "radius ε of each tensor's perturbation ball", range: "0 ≤ ε ≤ 100", default: "0.5" },
        ParamDoc { name: "inner_lr", meaning: "ascent step of the perturbation", range: "0 ≤ inner_lr ≤ 100", default: "1.0" },
        ParamDoc { name: "inner_iter", meaning: "ascent steps per update", range: "1 ≤ K ≤ 20", default: "1" },
        ParamDoc {
            name: "base",
            meaning: "the base optimizer",
            range: "{name: sgd, lr: …}",
            default: "{name: sgd, lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.0001}",
        },
    ],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub epsilon: f64,
    pub inner_lr: f64,
    pub inner_iter: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { epsilon: 0.5, inner_lr: 1.0, inner_iter: 1 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("epsilon", self.epsilon, 0.0, 100.0)?;
        check_range("inner_lr", self.inner_lr, 0.0, 100.0)?;
        check_range("inner_iter", self.inner_iter as f64, 1.0, 20.0)
    }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    build_wrapped::<Params>(
        value,
        serde_json::json!({"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 1e-4}),
        |p, vars, base, _ctx| Box::new(Amp { params: p.clone(), vars, base }),
    )
}

pub struct Amp {
    params: Params,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

impl Optimizer for Amp {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let p = &self.params;
        let first = objective.eval()?;
        let loss = first.loss;
        let saved: Vec<Tensor> = self.vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        let mut delta: Vec<Tensor> = self.vars.iter().map(|v| v.as_tensor().zeros_like()).collect::<candle_core::Result<_>>()?;
        let mut current = first;
        let result = (|| -> Result<super::Evaluation> {
            for _ in 0..p.inner_iter {
                let g = grads_of(&self.vars, &current.grads)?;
                for ((v, d), (g, theta)) in self.vars.iter().zip(delta.iter_mut()).zip(g.iter().zip(&saved)) {
                    let new = (&*d + (g * p.inner_lr)?)?;
                    let norm = new.sqr()?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?.sqrt();
                    let c = p.epsilon / (norm + 1e-12);
                    let new = if c < 1.0 { (new * c)? } else { new };
                    v.set(&(theta + &new)?)?;
                    *d = new;
                }
                current = objective.eval()?;
            }
            Ok(current)
        })();
        for (v, theta) in self.vars.iter().zip(&saved) {
            v.set(theta)?;
        }
        let last = result?;
        base_step(self.base.as_mut(), super::Evaluation { loss, grads: last.grads }, lr, "amp")?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{rosenbrock, start};
    use crate::optim::Context;

    #[test]
    fn epsilon_zero_is_the_base_optimizer_step_by_step() {
        let base = serde_json::json!({"name": "sgd", "lr": 1e-3, "momentum": 0.9});
        let (amp, _) = build(&serde_json::json!({"epsilon": 0.0, "inner_iter": 2, "base": base.clone()})).unwrap();
        let (sgd, _) = (crate::optim::sgd::INFO.build)(&serde_json::json!({"lr": 1e-3, "momentum": 0.9})).unwrap();
        let (a, b) = (start(), start());
        let ctx = Context::default();
        let (mut oa, mut ob) = (amp.instantiate(vec![a.clone()], &ctx).unwrap(), sgd.instantiate(vec![b.clone()], &ctx).unwrap());
        for _ in 0..50 {
            oa.step(&mut || rosenbrock(&a), 1e-3).unwrap();
            ob.step(&mut || rosenbrock(&b), 1e-3).unwrap();
            assert_eq!(a.as_tensor().to_vec1::<f64>().unwrap(), b.as_tensor().to_vec1::<f64>().unwrap());
        }
    }
}
