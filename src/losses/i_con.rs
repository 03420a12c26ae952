//! I-Con, supervised instance: the KL divergence between a supervisory neighbour distribution
//! (same class) and a learned one (softmax of cosine similarities), averaged over anchors
//! (Alshammari et al., *I-Con: A Unifying Framework for Representation Learning*, ICLR 2025,
//! S015).
//!
//! ```text
//! p(j|i) = 1[y_j = y_i, j ≠ i] / (n_{y_i} − 1)          debiased: p̃ = (1 − α)·p + α/(N − 1), j ≠ i
//! q(j|i) = softmax_{j≠i}(cos(E_i, E_j)/τ)
//! ℓ_i = −Σ_{j≠i} p̃(j|i) log q(j|i)     (KL(p̃ ‖ q) without the constant entropy of p̃)
//! ```
//! An anchor alone in its class has no p (the reference code's row is NaN and drops out) and
//! gets ℓ = 0, still counted in the mean over the N rows.
//!
//! Reference: ShadeAlsha/ICon @afbf34f `distributions/graph.py::Label`,
//! `distributions/distance.py::Gaussian` (cosine distance, `−d/(2σ²)`),
//! `playground/divergences.py::kl_divergence` and the playground's `supervised` preset
//! (masked diagonals, σ = 0.5, so τ = 2σ² = 0.5) [code, read]. Followed: the preset's p, q, τ
//! and reduction (the catalog's τ = 0.1 was a reconstruction; its α = 0.2 was our choice). The
//! debiasing is the catalog's form over j ≠ i, default α = 0 as no preset uses it: the code's
//! `LeakKernel` spreads α/N over every column including j = i, which with the preset's masked
//! q is infinite; the paper's own equation could not be checked.
//!
//! # Shapes
//! - embeddings `[n, D]` (normalised by the family), labels `[n]` → `[n]`

use super::pairs::{embedding_inputs, pair_masks};
use super::{Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "i_con_supervised",
    family: Family::MetricLearning,
    summary: "I-Con supervised: KL from same-class neighbour distributions to a softmax of cosine similarities, mean over anchors (S015)",
    formula: "ℓ_i = −Σ_{j≠i} p̃(j|i)·log softmax_{j≠i}(cos_ij/τ),  p(j|i) = 1[y_j = y_i]/(n_y − 1),  p̃ = (1−α)p + α/(N−1)",
    reference: "Alshammari, Hershey, Feldmann, Freeman & Hamilton, I-Con: A Unifying Framework for Representation Learning, ICLR 2025 (S015); ShadeAlsha/ICon distributions/, playground/divergences.py [code]",
    params: &[
        ParamDoc { name: "tau", meaning: "temperature τ of the learned distribution (the code's 2σ²)", range: "1e-3–100", default: "0.5" },
        ParamDoc { name: "alpha", meaning: "debiasing weight α of the uniform distribution over the other rows", range: "0–1", default: "0" },
    ],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub tau: f64,
    pub alpha: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { tau: 0.5, alpha: 0.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("tau", self.tau, 1e-3, 100.0)?;
        check_range("alpha", self.alpha, 0.0, 1.0)
    }
}

pub struct IConSupervised {
    params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(IConSupervised { params }), canonical))
}

impl Loss for IConSupervised {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (e, y) = embedding_inputs(pred, target, "i_con_supervised")?;
        let n = e.dim(0)?;
        let (pos, neg) = pair_masks(y, e.dtype())?;
        let others = (&pos + &neg)?; // j ≠ i
                                     // log softmax over j ≠ i: the diagonal pushed far below every other logit.
        let logits = ((e.matmul(&e.t()?)? / self.params.tau)? - ((1.0 - &others)? * 1e4)?)?;
        let max = logits.max_keepdim(1)?.detach();
        let shifted = logits.broadcast_sub(&max)?;
        let log_q = shifted.broadcast_sub(&(shifted.exp()? * &others)?.sum_keepdim(1)?.log()?)?;
        let positives = pos.sum_keepdim(1)?;
        let has = positives.gt(0.0)?.to_dtype(e.dtype())?;
        let p = pos.broadcast_div(&positives.clamp(1.0, f64::INFINITY)?)?;
        let alpha = self.params.alpha;
        let p = ((p * (1.0 - alpha))? + (&others * (alpha / (n.max(2) - 1) as f64))?)?.broadcast_mul(&has)?;
        Ok((p * log_q * &others)?.sum(1)?.neg()?)
    }
}
