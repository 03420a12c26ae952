//! Sparse-softmax: cross-entropy with the softmax restricted to the k largest logits.
//!
//! ```text
//! Ω = topk(z, k) ∪ {y},   ℓ(z, y) = log Σ_{j∈Ω} exp(z_j) − z_y
//! ```
//! Classes outside Ω get probability 0 and no gradient. k ≥ C recovers cross-entropy.
//!
//! Convention [recon]: no code by the authors exists (checked: paperswithcode lists none). The
//! paper writes the loss as `log Σ_{i∈Ω_k} e^{s_i} − s_t`; whether the target is forced into
//! Ω_k is not stated. We add it (Ω = top-k ∪ {y}), so the loss is −log of a proper sparse
//! softmax probability and equals the paper's form whenever the target is among the top k.
//! The set Ω is chosen on detached values (ties: lower index first); masked logits are shifted by
//! −1e9 rather than −∞ so that no NaN appears in gradients.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Sun et al., *Sparse-softmax: A Simpler and Faster Alternative Softmax
//! Transformation*, arXiv:2112.12433 (S084) [paper-text; target-in-Ω is our choice].

use super::{classification_inputs, host_labels, host_rows, log_p_y, log_softmax, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "sparse_softmax_topk",
    family: Family::Classification,
    summary: "Sparse-softmax: cross-entropy over the k largest logits (plus the target)",
    formula: "ℓ = log Σ_{j∈Ω} exp(z_j) − z_y,  Ω = topk(z, k) ∪ {y}",
    reference:
        "Sun et al., Sparse-softmax, arXiv:2112.12433 (S084) [paper-text; target forced into Ω: our choice, no authors' code exists]",
    params: &[ParamDoc {
        name: "k",
        meaning: "number of largest logits kept (k ≥ C = cross-entropy)",
        range: "1 ≤ k ≤ 100000",
        default: "3",
    }],
    props: &[Prop::NonNegative, Prop::Piecewise],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub k: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { k: 3 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("k", self.k as f64, 1.0, 100_000.0)
    }
}

pub struct SparseSoftmaxTopk {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(SparseSoftmaxTopk { params }), canonical))
}

impl Loss for SparseSoftmaxTopk {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "sparse_softmax_topk")?;
        let c = z.dim(1)?;
        if self.params.k >= c {
            return Ok(log_p_y(&log_softmax(z)?, y)?.neg()?);
        }
        let rows = host_rows(z)?;
        let labels = host_labels(y)?;
        let mut shift = Vec::with_capacity(rows.len() * c);
        for (row, &t) in rows.iter().zip(&labels) {
            let mut order: Vec<usize> = (0..c).collect();
            // Stable sort: ties keep the lower index first.
            order.sort_by(|&a, &b| super::cmp_values(row[b], row[a]));
            let mut keep = vec![false; c];
            for &i in &order[..self.params.k] {
                keep[i] = true;
            }
            keep[t as usize] = true;
            shift.extend(keep.iter().map(|&k| if k { 0f32 } else { -1e9 }));
        }
        let shift = Tensor::from_vec(shift, (rows.len(), c), z.device())?.to_dtype(z.dtype())?;
        Ok(log_p_y(&log_softmax(&(z + shift)?)?, y)?.neg()?)
    }
}
