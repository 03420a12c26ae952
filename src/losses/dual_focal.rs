//! Dual focal loss: focal loss whose modulator also rewards the gap to the next-lower class.
//!
//! ```text
//! ℓ(z, y) = −(1 − p_y + p_j)^γ · log p_y,   p_j = max{p_k : p_k < p_y}  (0 if none)
//! ```
//! `p_j` is the largest probability strictly below the target's: the runner-up when the target
//! is the top class, otherwise the class just below the target (not the top class). The index
//! `j` is chosen on detached values (first index on ties, like `torch.topk`); the gradient flows
//! through both `p_y` and `p_j`, as in the authors' code.
//!
//! Conventions: the authors' `DualFocalLoss` defaults to γ = 0 and **sums** over the batch
//! (`size_average=False`); lossbench averages like every other loss and defaults to γ = 2
//! (the paper tunes γ per dataset) [our choice].
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Tao et al., *Dual Focal Loss for Calibration*, ICML 2023 (S158);
//! Linwei94/ICML2023-DualFocalLoss `dual_focal_loss.py` [code, checked].

use super::{classification_inputs, host_labels, host_rows, log_p_y, log_softmax, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "dual_focal",
    family: Family::Classification,
    summary: "dual focal loss: focal modulator (1 − p_y + p_j)^γ with p_j the next-lower class probability",
    formula: "ℓ = −(1 − p_y + p_j)^γ·log p_y,  p_j = max{p_k : p_k < p_y} (0 if none)",
    reference: "Tao et al., Dual Focal Loss for Calibration, ICML 2023 (S158); Linwei94/ICML2023-DualFocalLoss dual_focal_loss.py [code]",
    params: &[ParamDoc { name: "gamma", meaning: "focusing parameter γ (0 = cross-entropy)", range: "0 ≤ γ ≤ 10", default: "2.0" }],
    props: &[Prop::NonNegative, Prop::Piecewise],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub gamma: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { gamma: 2.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("gamma", self.gamma, 0.0, 10.0)
    }
}

pub struct DualFocal {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(DualFocal { params }), canonical))
}

impl Loss for DualFocal {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "dual_focal")?;
        let log_p = log_softmax(z)?;
        let lp_y = log_p_y(&log_p, y)?;
        if self.params.gamma == 0.0 {
            return Ok(lp_y.neg()?);
        }
        let p = log_p.exp()?;
        let p_y = lp_y.exp()?;
        // Select j on host from detached probabilities: largest p_k strictly below p_y.
        let rows = host_rows(&p)?;
        let labels = host_labels(y)?;
        let mut index = Vec::with_capacity(rows.len());
        let mut exists = Vec::with_capacity(rows.len());
        for (row, &t) in rows.iter().zip(&labels) {
            let py = row[t as usize];
            let mut best: Option<usize> = None;
            for (k, &pk) in row.iter().enumerate() {
                if pk < py && best.is_none_or(|b| pk > row[b]) {
                    best = Some(k);
                }
            }
            index.push(best.unwrap_or(0) as u32);
            exists.push(if best.is_some() { 1f32 } else { 0.0 });
        }
        let n = labels.len();
        let index = Tensor::from_vec(index, (n, 1), z.device())?;
        let exists = Tensor::from_vec(exists, n, z.device())?.to_dtype(z.dtype())?;
        let p_j = (p.gather(&index, 1)?.squeeze(1)? * exists)?;
        let base = ((1.0 - p_y)? + p_j)?.clamp(1e-30, 2.0)?;
        Ok((base.powf(self.params.gamma)? * lp_y.neg()?)?)
    }
}
