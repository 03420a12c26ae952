//! Hybrid multi-label loss: class-weighted BCE + a label co-occurrence penalty + a supervised
//! contrastive term on the model's embeddings.
//!
//! ```text
//! w_k = N / (K·n_k⁺)                                         (batch counts; n_k⁺ = 0 → w_k = 0)
//! BCE_i  = (1/K)·Σ_k [ w_k·y_ik·softplus(−z_ik) + (1 − y_ik)·softplus(z_ik) ]
//! CO     = ‖σ(Z)ᵀσ(Z)/N − YᵀY/N‖²_F                           (one value per batch)
//! SC_i   = SupCon(normalise(e_i); positives = examples sharing ≥ 1 label with i, temperature τ)
//! ℓ_i    = BCE_i + λ₁·CO + λ₂·SC_i
//! ```
//! SupCon follows Khosla et al.'s reference (`SupConLoss`, one view, `contrast_mode='all'`,
//! base temperature = τ): `SC_i = −(1/|P(i)|)·Σ_{p∈P(i)} [s_ip/τ − log Σ_{a≠i} exp(s_ia/τ)]`
//! with cosine similarities `s`, and 0 for an anchor without positives. The embeddings are the
//! model's penultimate representation (`losses eval` takes them as the `embeddings` input); the
//! co-occurrence value is the same for every example of the batch, so the batch mean adds λ₁·CO
//! once.
//!
//! # Shapes
//! - logits `[n, k]`, targets `[n, k]` in {0, 1}, embeddings `[n, d]` → `[n]`
//!
//! Reference: *Improving Arabic Multi-Label Emotion Classification using Stacked Embeddings and
//! Hybrid Loss Function* (S193) [recon: the abstract names class weighting, a label-correlation
//! matrix and contrastive learning; the catalog's reconstruction, λ₁ = λ₂ = 0.1, is implemented
//! here — no authors' code was found]; SupCon: Khosla et al., NeurIPS 2020, arXiv:2004.11362,
//! HobbitLong/SupContrast `losses.py::SupConLoss` [ref].

use super::{multilabel_inputs, softplus, Loss, LossInfo, Prop};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "hybrid_multilabel",
    family: Family::MultiLabel,
    summary: "class-weighted BCE + label co-occurrence penalty + SupCon on embeddings (S193, reconstructed)",
    formula: "ℓ_i = BCE_w,i + λ₁·‖σ(Z)ᵀσ(Z)/N − YᵀY/N‖²_F + λ₂·SupCon_i(embeddings; shared-label positives)",
    reference: "S193 (Arabic multi-label emotion classification, hybrid loss) [recon]; SupCon: Khosla et al., arXiv:2004.11362 [ref]",
    params: &[
        ParamDoc {
            name: "lambda_cooc", meaning: "weight λ₁ of the co-occurrence penalty", range: "0 ≤ λ₁ ≤ 100", default: "0.1"
        },
        ParamDoc {
            name: "lambda_supcon", meaning: "weight λ₂ of the supervised contrastive term", range: "0 ≤ λ₂ ≤ 100", default: "0.1"
        },
        ParamDoc { name: "temperature", meaning: "SupCon temperature τ", range: "0.01 ≤ τ ≤ 10", default: "0.1" },
    ],
    props: &[Prop::NeedsEmbeddings],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lambda_cooc: f64,
    pub lambda_supcon: f64,
    pub temperature: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { lambda_cooc: 0.1, lambda_supcon: 0.1, temperature: 0.1 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lambda_cooc", self.lambda_cooc, 0.0, 100.0)?;
        check_range("lambda_supcon", self.lambda_supcon, 0.0, 100.0)?;
        check_range("temperature", self.temperature, 0.01, 10.0)
    }
}

pub struct HybridMultilabel {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(HybridMultilabel { params }), canonical))
}

/// 1/x where x > 0, else 0.
fn safe_recip(x: &Tensor) -> Result<Tensor> {
    Ok(x.gt(0.0)?.where_cond(&x.maximum(1e-30)?.recip()?, &x.zeros_like()?)?)
}

/// Supervised contrastive loss per anchor with positives given by `mask` (`[n, n]`, 0/1, zero
/// diagonal), on L2-normalised embeddings.
pub fn supcon(e: &Tensor, mask: &Tensor, temperature: f64) -> Result<Tensor> {
    let n = e.dim(0)?;
    let norm = (e.sqr()?.sum_keepdim(D::Minus1)? + 1e-24)?.sqrt()?;
    let f = e.broadcast_div(&norm)?;
    let logits = (f.matmul(&f.t()?)? / temperature)?;
    // Max shift per row (gradient-neutral, as the reference's detached max).
    let logits = logits.broadcast_sub(&logits.max_keepdim(D::Minus1)?.detach())?;
    let not_self = (1.0 - Tensor::eye(n, e.dtype(), e.device())?)?;
    // An anchor alone in its batch has no other example: floor the sum so its (positive-free,
    // hence zero) term stays finite.
    let log_denominator = (logits.exp()? * &not_self)?.sum_keepdim(D::Minus1)?.maximum(1e-30)?.log()?;
    let log_prob = logits.broadcast_sub(&log_denominator)?;
    let positives = mask.sum(D::Minus1)?;
    let mean_log_prob_pos = ((mask * log_prob)?.sum(D::Minus1)? * safe_recip(&positives)?)?;
    Ok(mean_log_prob_pos.neg()?)
}

impl Loss for HybridMultilabel {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = multilabel_inputs(pred, target, "hybrid_multilabel")?;
        let (n, k) = (z.dim(0)?, z.dim(1)?);
        let y = y.detach();
        let p = &self.params;
        // Class-weighted BCE: positives of label k weighted N/(K·n_k⁺).
        let n_pos = y.sum_keepdim(0)?;
        let w = (safe_recip(&n_pos)? * (n as f64 / k as f64))?;
        let pos_term = (y.broadcast_mul(&w)? * softplus(&z.neg()?)?)?;
        let neg_term = ((1.0 - &y)? * softplus(z)?)?;
        let bce = (pos_term + neg_term)?.mean(D::Minus1)?;
        // Label co-occurrence: ‖σ(Z)ᵀσ(Z)/N − YᵀY/N‖²_F.
        let s = candle_nn::ops::sigmoid(z)?;
        let diff = ((s.t()?.matmul(&s)? - y.t()?.matmul(&y)?)? / n as f64)?;
        let cooc = diff.sqr()?.sum_all()?;
        let mut total = (bce + (cooc.broadcast_as(n)? * p.lambda_cooc)?)?;
        if p.lambda_supcon > 0.0 {
            let e = pred.embedding.as_ref().ok_or_else(|| {
                Error::input("loss `hybrid_multilabel` needs the model's embeddings (in `losses eval`, the `embeddings` input [N, D])")
            })?;
            if e.dim(0)? != n {
                return Err(Error::input(format!("hybrid_multilabel: embeddings have {} rows, logits {n}", e.dim(0)?)));
            }
            let shared = y.matmul(&y.t()?)?.gt(0.0)?.to_dtype(z.dtype())?;
            let mask = (shared * (1.0 - Tensor::eye(n, z.dtype(), z.device())?)?)?;
            total = (total + (supcon(e, &mask, p.temperature)? * p.lambda_supcon)?)?;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn a_batch_of_one_gives_a_finite_loss() {
        let z = Tensor::new(&[[0.5f64, -1.0]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[[1.0f64, 0.0]], &Device::Cpu).unwrap();
        let e = Tensor::new(&[[0.3f64, 0.4, -0.2]], &Device::Cpu).unwrap();
        let pred = Prediction { out: z, ids: None, embedding: Some(e) };
        let loss = HybridMultilabel { params: Params::default() };
        let v = loss.forward(&pred, &Target::Values(y)).unwrap().to_vec1::<f64>().unwrap();
        assert!(v[0].is_finite(), "{v:?}");
    }
}
