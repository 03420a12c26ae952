//! ⊥Grad (OrthoGrad): hand the base optimizer only the part of each gradient orthogonal to its
//! weights, rescaled to the gradient's norm.
//!
//! ```text
//! per parameter tensor w with gradient g:
//! g⊥ = g − (⟨w, g⟩ / (⟨w, w⟩ + 1e-30))·w,   g⊥ ← g⊥ · ‖g‖ / (‖g⊥‖ + 1e-30)
//! ```
//! Removing the radial component stops "naive loss minimisation" (growing the weights along
//! themselves), which S135 identifies as the path to softmax collapse; with it, grokking tasks
//! generalise without weight decay.
//!
//! Reference: Prieto et al., *Grokking at the Edge of Numerical Stability*, ICLR 2025,
//! arXiv:2501.04697 (S135); the authors' `orthograd.py::OrthoGrad` [code; fixtures replay it].

use super::{Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec, OPTIMIZERS};
use crate::error::{Error, Result};
use crate::registry::{lookup, ParamDoc};
use candle_core::{DType, Var};
use serde::Deserialize;
use std::sync::Arc;

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "perp_grad",
    summary: "⊥Grad/OrthoGrad: the base optimizer sees each gradient with its component along the weights removed",
    update: "g⊥ = g − (⟨w,g⟩/(⟨w,w⟩ + 1e-30))·w,  g⊥ ← g⊥·‖g‖/(‖g⊥‖ + 1e-30);  base step with g⊥",
    reference: "Prieto et al., Grokking at the Edge of Numerical Stability, arXiv:2501.04697 (S135); orthograd.py OrthoGrad [code]",
    params: &[ParamDoc {
        name: "base",
        meaning: "the base optimizer, as a component",
        range: "{name: adamw, lr: …, …}",
        default: "{name: adamw, weight_decay: 0.0}",
    }],
    build,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    #[serde(default = "default_base")]
    base: serde_json::Value,
}

fn default_base() -> serde_json::Value {
    serde_json::json!({"name": "adamw", "weight_decay": 0.0})
}

pub struct Spec {
    base: Arc<dyn OptimizerSpec>,
}

/// Build the `base` component of a wrapping optimizer; returns it and its canonical JSON.
pub fn build_base(value: &serde_json::Value) -> Result<(Arc<dyn OptimizerSpec>, serde_json::Value)> {
    let mut base = value.as_object().cloned().ok_or_else(|| Error::input("`base` must be a component: {name: sgd, lr: …}"))?;
    let name = base
        .remove("name")
        .and_then(|n| n.as_str().map(str::to_string))
        .ok_or_else(|| Error::input("`base` needs a `name` (the base optimizer)"))?;
    let info = lookup("optimizer", "optimizers", OPTIMIZERS, &name).map_err(|e| e.at("base"))?;
    let (spec, canonical) = (info.build)(&serde_json::Value::Object(base)).map_err(|e| e.at(format!("base ({name})")))?;
    let mut json = canonical.as_object().cloned().unwrap_or_default();
    json.insert("name".into(), name.into());
    Ok((spec, serde_json::Value::Object(json)))
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    let value = if value.is_null() { serde_json::json!({}) } else { value.clone() };
    let raw: RawParams = serde_json::from_value(value).map_err(crate::registry::serde_input_error)?;
    let (base, base_json) = build_base(&raw.base)?;
    Ok((Arc::new(Spec { base }), serde_json::json!({ "base": base_json })))
}

impl OptimizerSpec for Spec {
    fn lr(&self) -> f64 {
        self.base.lr()
    }
    fn instantiate(&self, vars: Vec<Var>, ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let base = self.base.instantiate(vars.clone(), ctx)?;
        Ok(Box::new(PerpGrad { vars, base }))
    }
}

pub struct PerpGrad {
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

fn scalar(t: &candle_core::Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

impl Optimizer for PerpGrad {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, mut grads } = objective.eval()?;
        for v in &self.vars {
            let Some(g) = grads.remove(v.as_tensor()) else { continue };
            let w = v.as_tensor();
            let w_sq = scalar(&w.sqr()?.sum_all()?)? + 1e-30;
            let proj = scalar(&(w * &g)?.sum_all()?)? / w_sq;
            let g_norm = scalar(&g.sqr()?.sum_all()?)?.sqrt();
            let orth = (&g - (w * proj)?)?;
            let orth_norm = scalar(&orth.sqr()?.sum_all()?)?.sqrt() + 1e-30;
            grads.insert(w, (orth * (g_norm / orth_norm))?);
        }
        let mut evaluation = Some(Evaluation { loss, grads });
        self.base
            .step(&mut || evaluation.take().ok_or_else(|| Error::runtime("perp_grad: the base optimizer asked for a second gradient")), lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{rosenbrock, start};

    #[test]
    fn plain_sgd_updates_are_orthogonal_to_the_weights() {
        let (spec, _) = build(&serde_json::json!({"base": {"name": "sgd", "lr": 1e-3}})).unwrap();
        let v = start();
        let mut opt = spec.instantiate(vec![v.clone()], &Context::default()).unwrap();
        for _ in 0..5 {
            let before = v.as_tensor().to_vec1::<f64>().unwrap();
            opt.step(&mut || rosenbrock(&v), 1e-3).unwrap();
            let after = v.as_tensor().to_vec1::<f64>().unwrap();
            let step: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
            let dot: f64 = step.iter().zip(&before).map(|(s, w)| s * w).sum();
            let scale = step.iter().map(|s| s * s).sum::<f64>().sqrt() * before.iter().map(|w| w * w).sum::<f64>().sqrt();
            assert!(dot.abs() < 1e-12 * scale.max(1e-300), "step·w = {dot}");
        }
    }
}
