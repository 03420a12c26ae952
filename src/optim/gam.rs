//! GAM: gradient-norm aware minimization — SAM plus a first-order flatness term, from four
//! gradient evaluations on the same batch, around any base optimizer.
//!
//! ```text
//! g₀ = ∇L(θ);               θ₁ = θ + ρ·g₀/‖g₀‖,            g₁ = ∇L(θ₁)
//! d = g₁ − g₀;              θ₂ = θ + ρ'·d/‖d‖,             g₂ = ∇L(θ₂)
//!                           θ₃ = θ₂ + ρ·g₂/‖g₂‖,           g₃ = ∇L(θ₃)
//! G = β₁g₁ + β₃g₃,  P = g₀ + |β₂|·g₂,  c = ⟨P, G⟩/(‖G‖‖P‖ + ε)
//! G ← G − γ·(P − c·‖P‖·G/(‖G‖ + ε));   base step at θ with G
//! ```
//! Norms are global over all parameters (weighted by |θ| at the current point when
//! `adaptive`, which also scales each perturbation by θ²), ε = 1e-12. Defaults are the authors'
//! CIFAR settings.
//!
//! Reference: Zhang et al., *Gradient Norm Aware Minimization Seeks First-Order Flatness and
//! Improves Generalization*, CVPR 2023 (S076); xxgege/GAM `gam/gam.py` (GAM.step,
//! perturb_weights, grad_norm_ascent, gradient_decompose), `main_cifar.py` [code; fixtures
//! replay it].

use super::perp_grad::build_base;
use super::{Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc};
use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use serde::Deserialize;
use std::sync::Arc;

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "gam",
    summary: "gradient-norm aware minimization (SAM + first-order flatness), four passes per step, around any base optimizer",
    update: "G = β₁∇L(θ+ρĝ₀) + β₃∇L(θ₂+ρĝ₂), θ₂ = θ + ρ'·(g₁−g₀)/‖g₁−g₀‖; G ← G − γ·(P − cos·‖P‖·Ĝ), P = g₀ + |β₂|g₂",
    reference: "Zhang et al., GAM, CVPR 2023 (S076); xxgege/GAM gam/gam.py [code]",
    params: &[
        ParamDoc { name: "rho", meaning: "SAM radius ρ (grad_rho)", range: "0 ≤ ρ ≤ 10", default: "0.02" },
        ParamDoc {
            name: "norm_rho",
            meaning: "radius ρ' of the gradient-norm ascent (grad_norm_rho)",
            range: "0 ≤ ρ' ≤ 10",
            default: "0.2",
        },
        ParamDoc { name: "beta1", meaning: "weight β₁ of g₁", range: "−10..10", default: "1.0" },
        ParamDoc { name: "beta2", meaning: "weight |β₂| of g₂ in P", range: "−10..10", default: "−1.0" },
        ParamDoc { name: "beta3", meaning: "weight β₃ of g₃", range: "−10..10", default: "1.0" },
        ParamDoc { name: "gamma", meaning: "strength γ of the decomposition (grad_gamma)", range: "0 ≤ γ ≤ 10", default: "0.03" },
        ParamDoc { name: "adaptive", meaning: "scale-invariant (ASAM-style) perturbations", range: "true | false", default: "false" },
        ParamDoc {
            name: "base",
            meaning: "the base optimizer, as a component",
            range: "{name: sgd, …}",
            default: "{name: sgd, lr: 0.1, momentum: 0.9}",
        },
    ],
    build,
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    #[serde(default = "d_rho")]
    rho: f64,
    #[serde(default = "d_norm_rho")]
    norm_rho: f64,
    #[serde(default = "one")]
    beta1: f64,
    #[serde(default = "minus_one")]
    beta2: f64,
    #[serde(default = "one")]
    beta3: f64,
    #[serde(default = "d_gamma")]
    gamma: f64,
    #[serde(default)]
    adaptive: bool,
    #[serde(default = "d_base")]
    base: serde_json::Value,
}

fn d_rho() -> f64 {
    0.02
}
fn d_norm_rho() -> f64 {
    0.2
}
fn one() -> f64 {
    1.0
}
fn minus_one() -> f64 {
    -1.0
}
fn d_gamma() -> f64 {
    0.03
}
fn d_base() -> serde_json::Value {
    serde_json::json!({"name": "sgd", "lr": 0.1, "momentum": 0.9})
}

#[derive(Clone)]
struct Settings {
    rho: f64,
    norm_rho: f64,
    beta1: f64,
    beta2: f64,
    beta3: f64,
    gamma: f64,
    adaptive: bool,
}

pub struct Spec {
    settings: Settings,
    base: Arc<dyn OptimizerSpec>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    let value = if value.is_null() { serde_json::json!({}) } else { value.clone() };
    let raw: RawParams = serde_json::from_value(value).map_err(crate::registry::serde_input_error)?;
    check_range("rho", raw.rho, 0.0, 10.0)?;
    check_range("norm_rho", raw.norm_rho, 0.0, 10.0)?;
    for (name, v) in [("beta1", raw.beta1), ("beta2", raw.beta2), ("beta3", raw.beta3)] {
        check_range(name, v, -10.0, 10.0)?;
    }
    check_range("gamma", raw.gamma, 0.0, 10.0)?;
    let (base, base_json) = build_base(&raw.base)?;
    let canonical = serde_json::json!({
        "rho": raw.rho, "norm_rho": raw.norm_rho, "beta1": raw.beta1, "beta2": raw.beta2, "beta3": raw.beta3,
        "gamma": raw.gamma, "adaptive": raw.adaptive, "base": base_json,
    });
    let settings = Settings {
        rho: raw.rho,
        norm_rho: raw.norm_rho,
        beta1: raw.beta1,
        beta2: raw.beta2,
        beta3: raw.beta3,
        gamma: raw.gamma,
        adaptive: raw.adaptive,
    };
    Ok((Arc::new(Spec { settings, base }), canonical))
}

impl OptimizerSpec for Spec {
    fn lr(&self) -> f64 {
        self.base.lr()
    }
    fn instantiate(&self, vars: Vec<Var>, ctx: &Context) -> Result<Box<dyn Optimizer>> {
        let base = self.base.instantiate(vars.clone(), ctx)?;
        Ok(Box::new(Gam { s: self.settings.clone(), vars, base }))
    }
}

pub struct Gam {
    s: Settings,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

const EPS: f64 = 1e-12;

fn sum_sq(t: &Tensor) -> Result<f64> {
    Ok(t.sqr()?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

impl Gam {
    fn grads(&self, store: &GradStore) -> Result<Vec<Tensor>> {
        self.vars
            .iter()
            .map(|v| match store.get(v.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => Ok(v.as_tensor().zeros_like()?),
            })
            .collect()
    }

    /// Global norm of `g`, weighted by |θ| (current values) when adaptive.
    fn norm(&self, g: &[Tensor]) -> Result<f64> {
        let mut total = 0.0;
        for (v, g) in self.vars.iter().zip(g) {
            total += if self.s.adaptive { sum_sq(&(g * v.as_tensor().abs()?)?)? } else { sum_sq(g)? };
        }
        Ok(total.sqrt())
    }

    /// Move θ by `scale·g` (× θ² when adaptive); returns the displacement.
    fn perturb(&self, g: &[Tensor], scale: f64) -> Result<Vec<Tensor>> {
        let mut moves = Vec::with_capacity(g.len());
        for (v, g) in self.vars.iter().zip(g) {
            let mut e = (g * scale)?;
            if self.s.adaptive {
                e = (e * v.as_tensor().sqr()?)?;
            }
            v.set(&(v.as_tensor() + &e)?)?;
            moves.push(e);
        }
        Ok(moves)
    }

    fn restore(&self, saved: &[Tensor]) -> Result<()> {
        for (v, t) in self.vars.iter().zip(saved) {
            v.set(t)?;
        }
        Ok(())
    }
}

impl Optimizer for Gam {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let s = self.s.clone();
        let saved: Vec<Tensor> = self.vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        let first = objective.eval()?;
        let loss = first.loss;
        let g0 = self.grads(&first.grads)?;
        let result = (|| -> Result<Vec<Tensor>> {
            // θ₁ = θ + ρ·g₀/‖g₀‖.
            let n0 = self.norm(&g0)?;
            self.perturb(&g0, s.rho / (n0 + EPS))?;
            let g1 = self.grads(&objective.eval()?.grads)?;
            self.restore(&saved)?;
            // θ₂ = θ + ρ'·(g₁ − g₀)/‖g₁ − g₀‖.
            let d: Vec<Tensor> = g1.iter().zip(&g0).map(|(a, b)| a - b).collect::<candle_core::Result<_>>()?;
            let nd = self.norm(&d)?;
            self.perturb(&d, s.norm_rho / (nd + EPS))?;
            let g2 = self.grads(&objective.eval()?.grads)?;
            // θ₃ = θ₂ + ρ·g₂/‖g₂‖.
            let n2 = self.norm(&g2)?;
            self.perturb(&g2, s.rho / (n2 + EPS))?;
            let g3 = self.grads(&objective.eval()?.grads)?;
            // Decomposition.
            let pro: Vec<Tensor> = g0.iter().zip(&g2).map(|(a, b)| a + (b * s.beta2.abs())?).collect::<candle_core::Result<_>>()?;
            let g: Vec<Tensor> = g1.iter().zip(&g3).map(|(a, b)| (a * s.beta1)? + (b * s.beta3)?).collect::<candle_core::Result<_>>()?;
            let mut inner = 0.0;
            for (p, g) in pro.iter().zip(&g) {
                inner += (p * g)?.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            }
            let new_norm = g.iter().map(sum_sq).sum::<Result<f64>>()?.sqrt();
            let old_norm = pro.iter().map(sum_sq).sum::<Result<f64>>()?.sqrt();
            let cosine = inner / (new_norm * old_norm + EPS);
            g.iter()
                .zip(&pro)
                .map(|(g, p)| {
                    let vertical = (p - (g * (cosine * old_norm / (new_norm + EPS)))?)?;
                    Ok((g - (vertical * s.gamma)?)?)
                })
                .collect()
        })();
        self.restore(&saved)?;
        let direction = result?;
        let mut store = first.grads;
        for (v, g) in self.vars.iter().zip(direction) {
            store.insert(v.as_tensor(), g);
        }
        let mut evaluation = Some(Evaluation { loss, grads: store });
        self.base.step(&mut || evaluation.take().ok_or_else(|| Error::runtime("gam: the base optimizer asked for a second gradient")), lr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::testing::{rosenbrock, start};

    #[test]
    fn with_the_extra_terms_off_gam_is_sam_step_by_step() {
        let base = serde_json::json!({"name": "sgd", "lr": 1e-3, "momentum": 0.9});
        let (gam, _) = build(&serde_json::json!({"rho": 0.05, "beta3": 0.0, "gamma": 0.0, "base": base.clone()})).unwrap();
        let (sam, _) = (crate::optim::sam::INFO.build)(&serde_json::json!({"rho": 0.05, "base": base})).unwrap();
        let (a, b) = (start(), start());
        let (mut oa, mut ob) = (
            gam.instantiate(vec![a.clone()], &Context::default()).unwrap(),
            sam.instantiate(vec![b.clone()], &Context::default()).unwrap(),
        );
        for _ in 0..30 {
            oa.step(&mut || rosenbrock(&a), 1e-3).unwrap();
            ob.step(&mut || rosenbrock(&b), 1e-3).unwrap();
            let (x, y) = (a.as_tensor().to_vec1::<f64>().unwrap(), b.as_tensor().to_vec1::<f64>().unwrap());
            for (p, q) in x.iter().zip(&y) {
                assert!((p - q).abs() < 1e-12, "{x:?} vs {y:?}");
            }
        }
    }
}
