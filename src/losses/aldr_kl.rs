//! ALDR-KL: adaptive label-distributionally robust loss — LDR-KL with a per-example λ_i set
//! from how confident the model is on that example.
//!
//! ```text
//! z̃ = z / (‖z‖₁ / C)                            (optionally softplus(z) first)
//! p = normalise₁(softmax(z̃ / λ_i^old) + 1e-5),  KL_i = Σ_k p_k log(C·p_k)
//! λ_i = λ₀·(1 − KL_i / (α·log C))               (detached; stored for example i)
//! d_k = c·1[k ≠ y] + z̃_k − z̃_y
//! ℓ_i = λ_i·log((1/C) Σ_k exp(d_k/λ_i)) − (α·log C / (2λ₀))·(λ_i − λ₀)²
//! ```
//! λ_i^old is the value stored at the example's previous visit (λ₀ at the first), as in the
//! reference's length-N buffer indexed by sample ids; during training lossbench keys the buffer
//! by the example's train-split row. At evaluation and in `losses eval` there are no ids and
//! λ^old = λ₀ (the reference's state at its first visit). The second term is constant in the
//! parameters (λ_i is detached). α must exceed 1 so that λ_i stays positive. The L1 normaliser
//! is floored at 1e-12 (the reference divides by zero for all-zero logits).
//!
//! Defaults: the catalog's (λ₀ = 10, c = 0.1, α = 2, no softplus); the reference class
//! defaults are `threshold=1.0, Lambda=1.0, alpha=1.0, softplus=False`.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Zhu, Ying & Yang, *Label Distributionally Robust Losses for Multi-class
//! Classification*, ICML 2023 (S039); `loss.py::ALDRLoss_V1` of the paper's comparison suite
//! [code, checked].

use super::{abs0, classification_inputs, log_p_y, one_hot, softplus, Loss, LossInfo, Prop, RunContext};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub static INFO: LossInfo = LossInfo {
    name: "aldr_kl",
    family: Family::Classification,
    summary: "adaptive LDR-KL: LDR-KL with a per-example λ_i from the KL of its prediction to uniform",
    formula: "ℓ_i = λ_i·log((1/C)Σ_k exp((c·1[k≠y] + z̃_k − z̃_y)/λ_i)) − (α log C/(2λ₀))(λ_i − λ₀)²,  λ_i = λ₀(1 − KL_i/(α log C))",
    reference: "Zhu, Ying & Yang, Label Distributionally Robust Losses, ICML 2023 (S039); loss.py ALDRLoss_V1 [code]",
    params: &[
        ParamDoc { name: "lambda", meaning: "reference temperature λ₀", range: "1e-3 ≤ λ₀ ≤ 1000", default: "10.0" },
        ParamDoc { name: "margin", meaning: "margin c on non-target classes", range: "0 ≤ c ≤ 100", default: "0.1" },
        ParamDoc { name: "alpha", meaning: "α (> 1) scaling the KL in λ_i", range: "1 < α ≤ 1000", default: "2.0" },
        ParamDoc { name: "softplus", meaning: "apply softplus to the logits before normalising", range: "true | false", default: "false" },
    ],
    props: &[Prop::DetachedFactors],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lambda: f64,
    pub margin: f64,
    pub alpha: f64,
    pub softplus: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { lambda: 10.0, margin: 0.1, alpha: 2.0, softplus: false }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lambda", self.lambda, 1e-3, 1000.0)?;
        check_range("margin", self.margin, 0.0, 100.0)?;
        if !(self.alpha > 1.0 && self.alpha <= 1000.0) {
            return Err(Error::input(format!("parameter `alpha` = {} is out of range; allowed: 1 < alpha ≤ 1000", self.alpha)));
        }
        Ok(())
    }
}

pub struct AldrKl {
    pub params: Params,
    /// λ_i of every train-split row (λ₀ until first visited); empty outside training.
    lambdas: Mutex<Vec<f64>>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(AldrKl { params, lambdas: Mutex::new(Vec::new()) }), canonical))
}

impl Loss for AldrKl {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "aldr_kl")?;
        let (n, c) = (z.dim(0)?, z.dim(1)?);
        let p = &self.params;
        let z = if p.softplus { softplus(z)? } else { z.clone() };
        let l1 = (abs0(&z)?.sum_keepdim(D::Minus1)? / c as f64)?.maximum(1e-12)?;
        let zt = z.broadcast_div(&l1)?;
        // λ^old per example.
        let mut buffer = self.lambdas.lock().map_err(|_| Error::runtime("poisoned aldr_kl state lock"))?;
        let old: Vec<f64> = match &pred.ids {
            Some(ids) if !buffer.is_empty() => ids.iter().map(|&i| buffer.get(i).copied().unwrap_or(p.lambda)).collect(),
            _ => vec![p.lambda; n],
        };
        let old_t = Tensor::from_vec(old, (n, 1), z.device())?.to_dtype(z.dtype())?;
        let probs = (candle_nn::ops::softmax(&zt.broadcast_div(&old_t)?.detach(), D::Minus1)? + 1e-5)?;
        let probs = probs.broadcast_div(&probs.sum_keepdim(D::Minus1)?)?;
        let kl = (&probs * (probs.clone() * c as f64)?.log()?)?.sum(D::Minus1)?;
        let log_c = (c as f64).ln();
        let lambdas = ((1.0 - (kl / (p.alpha * log_c))?)? * p.lambda)?.detach();
        let lambda_host = lambdas.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        if let Some(ids) = &pred.ids {
            if !buffer.is_empty() {
                for (&i, &l) in ids.iter().zip(&lambda_host) {
                    if let Some(slot) = buffer.get_mut(i) {
                        *slot = l;
                    }
                }
            }
        }
        drop(buffer);
        let zy = log_p_y(&zt, y)?.unsqueeze(1)?;
        let others = (1.0 - one_hot(y, c, z.dtype())?)?;
        let d = ((others * p.margin)? + zt.broadcast_sub(&zy)?)?;
        let lam = lambdas.unsqueeze(1)?;
        let scaled = d.broadcast_div(&lam)?;
        let max = scaled.max_keepdim(D::Minus1)?.detach();
        let lme = ((scaled.broadcast_sub(&max)?.exp()?.sum(D::Minus1)?.log()? + max.squeeze(1)?)? - log_c)?;
        let extra = ((&lambdas - p.lambda)?.sqr()? * (p.alpha * log_c / (2.0 * p.lambda)))?;
        Ok(((lme * &lambdas)? - extra)?)
    }

    fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
        Some(Arc::new(AldrKl { params: self.params.clone(), lambdas: Mutex::new(vec![self.params.lambda; run.n_train]) }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn per_example_lambda_is_stored_and_reused() {
        let loss = INFO.build;
        let (base, _) = loss(&serde_json::json!({"lambda": 1.0, "alpha": 2.0})).unwrap();
        let run = base.for_run(&RunContext::cpu(0, 4, 3, Some(3))).unwrap();
        let z = Tensor::new(&[[3.0f64, -1.0, 0.5], [0.1, 0.2, 0.3]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[0u32, 2], &Device::Cpu).unwrap();
        let pred = Prediction { out: z.clone(), ids: Some(vec![1, 3]), embedding: None };
        let first = run.forward(&pred, &Target::Classes(y.clone())).unwrap().to_vec1::<f64>().unwrap();
        let second = run.forward(&pred, &Target::Classes(y.clone())).unwrap().to_vec1::<f64>().unwrap();
        // The second visit starts from the stored λ_i, not λ₀, so the confident example changes.
        assert!((first[0] - second[0]).abs() > 1e-6, "{first:?} {second:?}");
        // Without ids (evaluation) the loss is stateless and equals the first visit.
        let stateless = run.forward(&Prediction::new(z), &Target::Classes(y)).unwrap().to_vec1::<f64>().unwrap();
        assert_eq!(stateless, first);
    }

    #[test]
    fn alpha_must_exceed_one() {
        assert!((INFO.build)(&serde_json::json!({"alpha": 1.0})).is_err());
    }
}
