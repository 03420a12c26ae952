//! SAM: sharpness-aware minimization, wrapping any base optimizer (ASAM with `adaptive`).
//!
//! ```text
//! g = ∇L(θ);  ε̂ = ρ·T²g / ‖T g‖   (T = |θ| elementwise if adaptive, else 1; global norm, + 1e-12)
//! g_SAM = ∇L(θ + ε̂) on the same batch;  restore θ;  base step with g_SAM
//! ```
//! Two forward/backward passes per step; the loss reported is the one at θ.
//!
//! Reference: Foret et al., *Sharpness-Aware Minimization for Efficiently Improving
//! Generalization*, ICLR 2021, arXiv:2010.01412 (S023); Kwon et al., *ASAM*, ICML 2021;
//! davda54/sam `sam.py` (first_step/second_step, adaptive) [code; fixtures replay it].

use super::{Evaluation, Optimizer, OptimizerInfo, OptimizerSpec};
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
    base: Arc<dyn OptimizerSpec>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    let value = if value.is_null() { serde_json::json!({}) } else { value.clone() };
    let raw: RawParams = serde_json::from_value(value).map_err(crate::registry::serde_input_error)?;
    check_range("rho", raw.rho, 0.0, 10.0)?;
    let (spec, base_json) = super::perp_grad::build_base(&raw.base)?;
    let canonical = serde_json::json!({"rho": raw.rho, "adaptive": raw.adaptive, "base": base_json});
    Ok((Arc::new(Spec { rho: raw.rho, adaptive: raw.adaptive, base: spec }), canonical))
}

impl OptimizerSpec for Spec {
    fn lr(&self) -> f64 {
        self.base.lr()
    }
    fn instantiate(&self, vars: Vec<Var>) -> Result<Box<dyn Optimizer>> {
        let base = self.base.instantiate(vars.clone())?;
        Ok(Box::new(Sam { rho: self.rho, adaptive: self.adaptive, vars, base }))
    }
}

pub struct Sam {
    rho: f64,
    adaptive: bool,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

impl Optimizer for Sam {
    fn step(&mut self, objective: &mut dyn FnMut() -> Result<Evaluation>, lr: f64) -> Result<f64> {
        let first = objective()?;
        // ‖T g‖ over all parameters with a gradient.
        let mut sq = 0f64;
        let mut scaled = Vec::with_capacity(self.vars.len());
        for v in &self.vars {
            let Some(g) = first.grads.get(v.as_tensor()) else {
                scaled.push(None);
                continue;
            };
            let tg = if self.adaptive { (v.as_tensor().abs()? * g)? } else { g.clone() };
            sq += tg.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            scaled.push(Some(g.clone()));
        }
        let scale = self.rho / (sq.sqrt() + 1e-12);
        let mut saved: Vec<Option<Tensor>> = Vec::with_capacity(self.vars.len());
        for (v, g) in self.vars.iter().zip(&scaled) {
            match g {
                Some(g) => {
                    // A copy: `Var::set` writes into the variable's own storage.
                    let theta = v.as_tensor().copy()?;
                    let e = if self.adaptive { (theta.sqr()? * g)? } else { g.clone() };
                    v.set(&(&theta + (e * scale)?)?)?;
                    saved.push(Some(theta));
                }
                None => saved.push(None),
            }
        }
        let second = objective();
        for (v, theta) in self.vars.iter().zip(saved) {
            if let Some(theta) = theta {
                v.set(&theta)?;
            }
        }
        let mut second = Some(second?);
        self.base.step(&mut || second.take().ok_or_else(|| Error::runtime("sam: the base optimizer asked for a third gradient")), lr)?;
        Ok(first.loss)
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
        let (mut oa, mut ob) = (sam.instantiate(vec![a.clone()]).unwrap(), sgd.instantiate(vec![b.clone()]).unwrap());
        for _ in 0..50 {
            oa.step(&mut || rosenbrock(&a), 1e-3).unwrap();
            ob.step(&mut || rosenbrock(&b), 1e-3).unwrap();
            assert_eq!(a.as_tensor().to_vec1::<f64>().unwrap(), b.as_tensor().to_vec1::<f64>().unwrap());
        }
    }

    #[test]
    fn unknown_base_is_an_input_error_with_a_suggestion() {
        let e = build(&serde_json::json!({"base": {"name": "sdg"}})).err().unwrap().to_string();
        assert!(e.contains("did you mean `sgd`?"), "{e}");
    }
}
