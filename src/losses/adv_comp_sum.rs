//! Smooth adversarial comp-sum loss: a comp-sum loss plus a smoothness penalty on how far the
//! logits move within an L∞ ball around the input (a TRADES-style surrogate of the adversarial
//! comp-sum losses of S005).
//!
//! ```text
//! ℓ(x, y) = ℓ_τ^comp(z(x), y) + ν·max_{‖x' − x‖∞ ≤ γ} ‖z(x') − z(x)‖₂
//! inner max: x'₀ = x + 0.001·ξ (ξ ~ N(0, I)), then K steps x' ← Π_γ(x' + (γ/4)·sign ∇_{x'} ‖z(x') − sg[z(x)]‖²)
//! ```
//! The search and the penalty use the model without dropout; `x'` is detached after the search
//! (Danskin), so the penalty's gradient flows through both z(x') and z(x). The random start
//! comes from the run's own seeded stream (or `noise`, a list of n·d values, for tests).
//!
//! The penalty needs the model, so this loss only runs inside `train`; at evaluation the logged
//! `loss` is the comp-sum term alone, and `losses eval` reports that it needs a model. Inputs
//! are the task's (standardised) features, so γ is in units of standard deviations.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]`, the batch inputs `[n, d]` → `[n]`
//!
//! Reference: Mao, Mohri & Zhong, *Cross-Entropy Loss Functions: Theoretical Analysis and
//! Applications*, ICML 2023, arXiv:2304.07288 (S005) [recon: the abstract says only "adding in
//! a related smooth term"; the TRADES form (Zhang et al., ICML 2019, arXiv:1901.08573) with
//! ν = 1, γ = 0.1, K = 10 is our reconstruction].

use super::comp_sum::{self, CompSum};
use super::{classification_inputs, Loss, LossInfo, ModelAccess, Prop, RunContext};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, Var, D};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub static INFO: LossInfo = LossInfo {
    name: "adv_comp_sum",
    family: Family::Classification,
    summary: "comp-sum loss + ν·max over an L∞ ball of ‖z(x') − z(x)‖₂ (PGD), TRADES-style (S005, reconstructed)",
    formula: "ℓ = ℓ_τ^comp(z(x), y) + ν·max_{‖x'−x‖∞≤γ} ‖z(x') − z(x)‖₂",
    reference: "Mao, Mohri & Zhong, ICML 2023, arXiv:2304.07288 (S005) [recon]; TRADES: Zhang et al., arXiv:1901.08573",
    params: &[
        ParamDoc { name: "tau", meaning: "comp-sum parameter τ (1 = cross-entropy)", range: "0 ≤ τ ≤ 10", default: "1.0" },
        ParamDoc { name: "nu", meaning: "weight ν of the smoothness term", range: "0 ≤ ν ≤ 100", default: "1.0" },
        ParamDoc {
            name: "radius", meaning: "L∞ radius γ of the input ball (standardised units)", range: "0 < γ ≤ 10", default: "0.1"
        },
        ParamDoc { name: "steps", meaning: "PGD steps K (step size γ/4)", range: "1 ≤ K ≤ 100", default: "10" },
        ParamDoc {
            name: "noise",
            meaning: "fixed N(0,1) start draws (n·d values, tests); default: drawn per step",
            range: "list",
            default: "drawn",
        },
    ],
    props: &[Prop::NonNegative, Prop::NeedsModel, Prop::DetachedFactors],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub tau: f64,
    pub nu: f64,
    pub radius: f64,
    pub steps: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub noise: Option<Vec<f64>>,
}

impl Default for Params {
    fn default() -> Self {
        Params { tau: 1.0, nu: 1.0, radius: 0.1, steps: 10, noise: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("tau", self.tau, 0.0, 10.0)?;
        check_range("nu", self.nu, 0.0, 100.0)?;
        check_range("radius", self.radius, 1e-9, 10.0)?;
        check_range("steps", self.steps as f64, 1.0, 100.0)
    }
}

pub struct AdvCompSum {
    pub params: Params,
    comp: CompSum,
    rng: Mutex<Stream>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    let comp = CompSum { params: comp_sum::Params { tau: params.tau } };
    Ok((Arc::new(AdvCompSum { params, comp, rng: Mutex::new(Stream::new(0, Purpose::Loss, 1)) }), canonical))
}

impl AdvCompSum {
    /// The smoothness term per example: PGD for x', then ‖z(x') − z(x)‖₂.
    pub fn smoothness(&self, access: &ModelAccess) -> Result<Tensor> {
        let x = access.x.detach();
        let (n, d) = (x.dim(0)?, x.dim(1)?);
        let p = &self.params;
        let start: Vec<f64> = match &p.noise {
            Some(noise) if noise.len() == n * d => noise.clone(),
            Some(noise) => {
                return Err(Error::input(format!("adv_comp_sum: `noise` has {} values, the batch needs {}", noise.len(), n * d)))
            }
            None => {
                let mut rng = self.rng.lock().map_err(|_| Error::runtime("poisoned adv_comp_sum RNG lock"))?;
                (0..n * d).map(|_| rng.normal()).collect()
            }
        };
        let start = Tensor::from_vec(start, (n, d), x.device())?.to_dtype(x.dtype())?;
        let z_clean = access.model.forward(&x, None)?;
        let target = z_clean.detach();
        let (lo, hi) = ((&x - p.radius)?, (&x + p.radius)?);
        let mut xp = (&x + (start * 0.001)?)?;
        for _ in 0..p.steps {
            let v = Var::from_tensor(&xp)?;
            let gap = (access.model.forward(v.as_tensor(), None)? - &target)?.sqr()?.sum_all()?;
            let grads = gap.backward()?;
            let g = grads.get(v.as_tensor()).ok_or_else(|| Error::runtime("adv_comp_sum: no gradient w.r.t. the inputs"))?;
            xp = (xp + (g.sign()? * (p.radius / 4.0))?)?.maximum(&lo)?.minimum(&hi)?.detach();
        }
        let z_adv = access.model.forward(&xp, None)?;
        Ok(((z_adv - z_clean)?.sqr()?.sum(D::Minus1)? + 1e-12)?.sqrt()?)
    }
}

impl Loss for AdvCompSum {
    fn forward(&self, _pred: &Prediction, _target: &Target) -> Result<Tensor> {
        Err(Error::input(
            "loss `adv_comp_sum` searches over the inputs with the model, so it runs only inside `train` (losses eval cannot evaluate it)",
        ))
    }

    fn forward_with_model(&self, pred: &Prediction, target: &Target, access: &ModelAccess) -> Result<Tensor> {
        classification_inputs(pred, target, "adv_comp_sum")?;
        let base = self.comp.forward(pred, target)?;
        if self.params.nu == 0.0 {
            return Ok(base);
        }
        let smooth = self.smoothness(access)?.to_dtype(base.dtype())?;
        Ok((base + (smooth * self.params.nu)?)?)
    }

    fn monitor(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.comp.forward(pred, target)
    }

    fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
        let comp = CompSum { params: self.comp.params.clone() };
        Some(Arc::new(AdvCompSum { params: self.params.clone(), comp, rng: Mutex::new(Stream::new(run.seed, Purpose::Loss, 1)) }))
    }
}
