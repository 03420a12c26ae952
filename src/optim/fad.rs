//! FAD: flatness-aware minimization for domain generalization (S046), reconstructed — zeroth-
//! and first-order flatness together, around any base optimizer.
//!
//! Objective `L(θ) + α·R₀(θ) + β·R₁(θ)` with `R₀ = max_{‖ε‖≤ρ} L(θ+ε) − L(θ)` (SAM's sharpness)
//! and `R₁ = ρ·max_{‖ε‖≤ρ} ‖∇L(θ+ε)‖` (GAM's first-order flatness). Four gradient evaluations
//! on the same batch, with GAM's finite-difference construction:
//!
//! ```text
//! g₀ = ∇L(θ);              e₀ = ρ·g₀/‖g₀‖;        g₁ = ∇L(θ + e₀)       (∇R₀ ≈ g₁ − g₀)
//! h = g₁ − g₀ (∝ H·g₀);    e₁ = ρ·h/‖h‖;          g₂ = ∇L(θ + e₁)       (worst point for ‖∇L‖)
//! e₂ = e₁ + r·g₂/‖g₂‖;     g₃ = ∇L(θ + e₂)                               (∇‖∇L‖(θ+e₁) ≈ (g₃ − g₂)/r)
//! G = (1 − α)·g₀ + α·g₁ + β·ρ·(g₃ − g₂)/r;   restore θ;   base step with G
//! ```
//! (`+1e-12` in every norm.) α = β = 0 is the base optimizer; α = 1, β = 0 is SAM; terms whose
//! weight is zero are not evaluated.
//!
//! Reference: Zhang, Xu, Yu, Dong, Tian & Cui, *Flatness-Aware Minimization for Domain
//! Generalization*, ICCV 2023 (S046) [recon: no authors' code exists (paperswithcode lists
//! none) and the algorithm box was not retrieved; the gradient of each term follows the
//! verified SAM and GAM constructions (Danskin: gradients at the maximiser); ρ = 0.05,
//! r = ρ, α = β = 1 are our choice].

use super::hvp::evaluate_at;
use super::{base_step, build_wrapped, grads_of, norm_of, with_grads, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "fad",
    summary: "flatness-aware minimization (zeroth- and first-order flatness) around any base [reconstruction]",
    update: "G = (1−α)g₀ + α∇L(θ+ρĝ₀) + β·ρ·∇‖∇L‖(θ+ρĥ) (finite differences);  base step with G",
    reference: "Zhang et al., Flatness-Aware Minimization for Domain Generalization, ICCV 2023 (S046) [recon]",
    params: &[
        ParamDoc { name: "rho", meaning: "neighbourhood radius ρ", range: "0 ≤ ρ ≤ 10", default: "0.05" },
        ParamDoc { name: "r", meaning: "finite-difference step of the first-order term", range: "0 < r ≤ 10", default: "0.05" },
        ParamDoc { name: "alpha", meaning: "weight α of zeroth-order flatness R₀", range: "0 ≤ α ≤ 10", default: "1.0" },
        ParamDoc { name: "beta", meaning: "weight β of first-order flatness R₁", range: "0 ≤ β ≤ 10", default: "1.0" },
        ParamDoc {
            name: "base",
            meaning: "the base optimizer",
            range: "{name: sgd, lr: …}",
            default: "{name: sgd, lr: 0.1, momentum: 0.9}",
        },
    ],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub rho: f64,
    pub r: f64,
    pub alpha: f64,
    pub beta: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { rho: 0.05, r: 0.05, alpha: 1.0, beta: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("rho", self.rho, 0.0, 10.0)?;
        check_range("r", self.r, 1e-12, 10.0)?;
        check_range("alpha", self.alpha, 0.0, 10.0)?;
        check_range("beta", self.beta, 0.0, 10.0)
    }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    build_wrapped::<Params>(value, serde_json::json!({"name": "sgd", "lr": 0.1, "momentum": 0.9}), |p, vars, base, _ctx| {
        Box::new(Fad { params: p.clone(), vars, base })
    })
}

pub struct Fad {
    params: Params,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

fn scaled(ts: &[Tensor], s: f64) -> Result<Vec<Option<Tensor>>> {
    ts.iter().map(|t| Ok(Some((t * s)?))).collect()
}

impl Optimizer for Fad {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        const EPS: f64 = 1e-12;
        let p = self.params.clone();
        let first = objective.eval()?;
        let loss = first.loss;
        let g0 = grads_of(&self.vars, &first.grads)?;
        let mut g: Vec<Tensor> = g0.iter().map(|t| t * (1.0 - p.alpha)).collect::<candle_core::Result<_>>()?;
        if p.alpha != 0.0 || p.beta != 0.0 {
            let e0 = scaled(&g0, p.rho / (norm_of(&g0)? + EPS))?;
            let g1 = grads_of(&self.vars, &evaluate_at(&self.vars, &e0, 1.0, &mut || objective.eval())?.grads)?;
            if p.alpha != 0.0 {
                g = g.iter().zip(&g1).map(|(a, b)| a + (b * p.alpha)?).collect::<candle_core::Result<_>>()?;
            }
            if p.beta != 0.0 {
                let h: Vec<Tensor> = g1.iter().zip(&g0).map(|(a, b)| a - b).collect::<candle_core::Result<_>>()?;
                let s1 = p.rho / (norm_of(&h)? + EPS);
                let e1: Vec<Tensor> = h.iter().map(|t| t * s1).collect::<candle_core::Result<_>>()?;
                let e1_dir: Vec<Option<Tensor>> = e1.iter().cloned().map(Some).collect();
                let g2 = grads_of(&self.vars, &evaluate_at(&self.vars, &e1_dir, 1.0, &mut || objective.eval())?.grads)?;
                let s2 = p.r / (norm_of(&g2)? + EPS);
                let e2: Vec<Option<Tensor>> = e1.iter().zip(&g2).map(|(a, b)| Ok(Some((a + (b * s2)?)?))).collect::<Result<_>>()?;
                let g3 = grads_of(&self.vars, &evaluate_at(&self.vars, &e2, 1.0, &mut || objective.eval())?.grads)?;
                let c = p.beta * p.rho / p.r;
                g = g.iter().zip(g3.iter().zip(&g2)).map(|(a, (x, y))| a + ((x - y)? * c)?).collect::<candle_core::Result<_>>()?;
            }
        }
        base_step(self.base.as_mut(), with_grads(first, &self.vars, g), lr, "fad")?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use crate::optim::testing::{rosenbrock, start};
    use crate::optim::Context;

    fn trajectory(params: serde_json::Value, name: &str, steps: usize) -> Vec<Vec<f64>> {
        let info = crate::optim::OPTIMIZERS.iter().find(|i| i.name == name).unwrap();
        let (spec, _) = (info.build)(&params).unwrap();
        let v = start();
        let mut opt = spec.instantiate(vec![v.clone()], &Context::default()).unwrap();
        (0..steps)
            .map(|_| {
                opt.step(&mut || rosenbrock(&v), 1e-3).unwrap();
                v.as_tensor().to_vec1::<f64>().unwrap()
            })
            .collect()
    }

    /// α = β = 0 is the base optimizer and α = 1, β = 0 is SAM, step by step.
    #[test]
    fn special_cases_are_the_base_and_sam() {
        let base = serde_json::json!({"name": "sgd", "lr": 1e-3, "momentum": 0.9});
        let off = trajectory(serde_json::json!({"alpha": 0.0, "beta": 0.0, "base": base.clone()}), "fad", 30);
        assert_eq!(off, trajectory(serde_json::json!({"lr": 1e-3, "momentum": 0.9}), "sgd", 30));
        let sam_like = trajectory(serde_json::json!({"alpha": 1.0, "beta": 0.0, "rho": 0.05, "base": base.clone()}), "fad", 30);
        let sam = trajectory(serde_json::json!({"rho": 0.05, "base": base}), "sam", 30);
        for (a, b) in sam_like.iter().zip(&sam) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-12, "{a:?} vs {b:?}");
            }
        }
    }
}
