//! VS loss: vector scaling — multiplicative and additive logit adjustments by class frequency.
//!
//! ```text
//! Δ_c = (n_max / n_c)^γ,   ι_c = τ·log π_c,   π_c = n_c / Σ_j n_j
//! ℓ(z, y) = CE(z / Δ + ι, y)
//! ```
//! γ = 0, τ = 0 is cross-entropy; γ = 0 alone is logit adjustment. `class_counts` as in `ldam`:
//! filled in from the run's train split unless given.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Kini et al., *Label-Imbalanced and Group-Sensitive Classification under
//! Overparameterization*, NeurIPS 2021, arXiv:2103.01550 (baseline in S189);
//! val-iisc/Saddle-LongTail `losses.py::VSLoss` [code, checked].

use super::{class_counts_for, classification_inputs, log_p_y, log_softmax, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "vs_loss",
    family: Family::Classification,
    summary: "vector-scaling loss: CE(z/Δ + ι) with Δ_c = (n_max/n_c)^γ, ι_c = τ·log π_c",
    formula: "ℓ = CE(z/Δ + ι, y),  Δ_c = (n_max/n_c)^γ,  ι_c = τ·log(n_c/Σn)",
    reference: "Kini et al., NeurIPS 2021, arXiv:2103.01550; val-iisc/Saddle-LongTail losses.py::VSLoss [code]",
    params: &[
        ParamDoc { name: "gamma", meaning: "exponent γ of the multiplicative adjustment", range: "0 ≤ γ ≤ 10", default: "0.3" },
        ParamDoc { name: "tau", meaning: "weight τ of the additive adjustment", range: "0 ≤ τ ≤ 10", default: "1.0" },
        ParamDoc {
            name: "class_counts",
            meaning: "training examples per class",
            range: "list of C counts ≥ 1",
            default: "the run's train split",
        },
    ],
    props: &[Prop::NonNegative, Prop::NeedsClassCounts],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub gamma: f64,
    pub tau: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_counts: Option<Vec<usize>>,
}

impl Default for Params {
    fn default() -> Self {
        Params { gamma: 0.3, tau: 1.0, class_counts: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("gamma", self.gamma, 0.0, 10.0)?;
        check_range("tau", self.tau, 0.0, 10.0)?;
        super::validate_counts(&self.class_counts)
    }
}

pub struct VsLoss {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(VsLoss { params }), canonical))
}

impl Loss for VsLoss {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "vs_loss")?;
        let c = z.dim(1)?;
        let counts = class_counts_for("vs_loss", &self.params.class_counts, c)?;
        let total: f64 = counts.iter().map(|&n| n as f64).sum();
        let n_max = counts.iter().copied().max().unwrap_or(1) as f64;
        let inv_delta: Vec<f64> = counts.iter().map(|&n| (n as f64 / n_max).powf(self.params.gamma)).collect();
        let iota: Vec<f64> = counts.iter().map(|&n| self.params.tau * (n as f64 / total).ln()).collect();
        let inv_delta = Tensor::from_vec(inv_delta, (1, c), z.device())?.to_dtype(z.dtype())?;
        let iota = Tensor::from_vec(iota, (1, c), z.device())?.to_dtype(z.dtype())?;
        let adjusted = z.broadcast_mul(&inv_delta)?.broadcast_add(&iota)?;
        Ok(log_p_y(&log_softmax(&adjusted)?, y)?.neg()?)
    }
}
