//! AWP: adversarial weight perturbation around any base optimizer (S103), on the training batch.
//!
//! ```text
//! g = ∇L(θ);  proxy ascent step  w' = w + proxy_lr·g           (one SGD step on −L, every tensor)
//! for every weight matrix (tensors with ≥ 2 dimensions; biases are skipped):
//!     v = ‖w‖/(‖w' − w‖ + 1e-20)·(w' − w)                      (per tensor, scaled to the weight's norm)
//! w ← w + γ·v;   g̃ = ∇L(w);   base step with g̃ at the perturbed weights;   w ← w − γ·v
//! ```
//! As in the reference, the base optimizer steps at the perturbed weights and the perturbation
//! is removed afterwards (so coupled weight decay sees `w + γv`). The loss reported is the one
//! at the unperturbed weights. In the paper AWP perturbs towards adversarial examples (PGD
//! inside adversarial training); lossbench has no adversarial-example task yet, so the proxy
//! ascent and the training gradient use the clean batch — AWP as a flatness regulariser.
//!
//! Reference: Wu, Xia & Wang, *Adversarial Weight Perturbation Helps Robust Generalization*,
//! NeurIPS 2020 (S103); csdongxian/AWP `AT_AWP/utils_awp.py` (`diff_in_weights`, `calc_awp`,
//! `perturb`, `restore`) and `train_cifar10.py` (γ = 0.01, proxy SGD lr 0.01, outer SGD
//! momentum 0.9, wd 5e-4) [code, read in the fork tokaka22/AWP].

use super::{base_step, build_wrapped, grads_of, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "awp",
    summary: "adversarial weight perturbation: weight matrices pushed along a layer-scaled ascent step, around any base",
    update: "v_l = ‖w_l‖·d_l/‖d_l‖ with d = proxy_lr·∇L;  base step with ∇L(w + γv) at w + γv;  then w ← w − γv",
    reference: "Wu et al., Adversarial Weight Perturbation Helps Robust Generalization, NeurIPS 2020 (S103); csdongxian/AWP [code]",
    params: &[
        ParamDoc {
            name: "gamma", meaning: "perturbation size γ, relative to each weight's norm", range: "0 ≤ γ ≤ 1", default: "0.01"
        },
        ParamDoc { name: "proxy_lr", meaning: "learning rate of the proxy ascent step", range: "0 < lr ≤ 10", default: "0.01" },
        ParamDoc {
            name: "base",
            meaning: "the base optimizer",
            range: "{name: sgd, lr: …}",
            default: "{name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 0.0005}",
        },
    ],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub gamma: f64,
    pub proxy_lr: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { gamma: 0.01, proxy_lr: 0.01 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("gamma", self.gamma, 0.0, 1.0)?;
        check_range("proxy_lr", self.proxy_lr, 1e-12, 10.0)
    }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    build_wrapped::<Params>(
        value,
        serde_json::json!({"name": "sgd", "lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4}),
        |p, vars, base, _ctx| Box::new(Awp { params: p.clone(), vars, base }),
    )
}

pub struct Awp {
    params: Params,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

fn norm(t: &Tensor) -> Result<f64> {
    Ok(t.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?.sqrt())
}

impl Optimizer for Awp {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let p = self.params.clone();
        let first = objective.eval()?;
        let loss = first.loss;
        let g = grads_of(&self.vars, &first.grads)?;
        let mut shifts: Vec<Option<Tensor>> = Vec::with_capacity(self.vars.len());
        for (v, g) in self.vars.iter().zip(&g) {
            let w = v.as_tensor();
            if w.rank() < 2 || p.gamma == 0.0 {
                shifts.push(None);
                continue;
            }
            let d = (g * p.proxy_lr)?;
            let v_l = (&d * (norm(w)? / (norm(&d)? + 1e-20)))?;
            shifts.push(Some((v_l * p.gamma)?));
        }
        for (v, s) in self.vars.iter().zip(&shifts) {
            if let Some(s) = s {
                v.set(&(v.as_tensor() + s)?)?;
            }
        }
        let result = objective.eval().and_then(|second| base_step(self.base.as_mut(), second, lr, "awp"));
        for (v, s) in self.vars.iter().zip(&shifts) {
            if let Some(s) = s {
                v.set(&(v.as_tensor() - s)?)?;
            }
        }
        result?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::LeastSquares;
    use crate::optim::Context;

    /// γ = 0 is the base optimizer; biases (1-D tensors) are never perturbed.
    #[test]
    fn gamma_zero_is_the_base_and_vectors_are_not_perturbed() {
        let (awp, _) = build(&serde_json::json!({"gamma": 0.0, "base": {"name": "sgd", "lr": 0.1}})).unwrap();
        let (sgd, _) = (crate::optim::sgd::INFO.build)(&serde_json::json!({"lr": 0.1})).unwrap();
        let (mut a, mut b) = (LeastSquares::new(), LeastSquares::new());
        let ctx = Context::default();
        let (mut oa, mut ob) = (awp.instantiate(vec![a.w.clone()], &ctx).unwrap(), sgd.instantiate(vec![b.w.clone()], &ctx).unwrap());
        for _ in 0..10 {
            oa.step(&mut a, 0.1).unwrap();
            ob.step(&mut b, 0.1).unwrap();
            assert_eq!(a.w.as_tensor().to_vec1::<f64>().unwrap(), b.w.as_tensor().to_vec1::<f64>().unwrap());
        }
        // A 1-D weight vector is skipped even with γ > 0.
        let (awp, _) = build(&serde_json::json!({"gamma": 0.5, "base": {"name": "sgd", "lr": 0.1}})).unwrap();
        let mut c = LeastSquares::new();
        let mut oc = awp.instantiate(vec![c.w.clone()], &ctx).unwrap();
        let mut d = LeastSquares::new();
        let mut od = sgd.instantiate(vec![d.w.clone()], &ctx).unwrap();
        oc.step(&mut c, 0.1).unwrap();
        od.step(&mut d, 0.1).unwrap();
        assert_eq!(c.w.as_tensor().to_vec1::<f64>().unwrap(), d.w.as_tensor().to_vec1::<f64>().unwrap());
    }
}
