//! LDAM: label-distribution-aware margin loss — larger margins for rarer classes.
//!
//! ```text
//! m_c = max_m · n_c^{−1/4} / max_j n_j^{−1/4}           (the rarest class gets max_m)
//! ℓ(z, y) = CE(s·(z − m_y·e_y), y)
//! ```
//! `class_counts` are the per-class training counts n_c; in `train` they are filled in from the
//! run's train split (after long-tail sub-sampling and label noise) unless the recipe gives them.
//! The scale s multiplies the margin too. s = 30 is calibrated for cosine logits (the reference
//! pairs LDAM with a normalised linear head, |z| ≤ 1); with an ordinary linear head consider
//! s = 1.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Cao et al., *Learning Imbalanced Datasets with Label-Distribution-Aware Margin
//! Loss*, NeurIPS 2019, arXiv:1906.07413 (baseline in S189); val-iisc/Saddle-LongTail
//! `losses.py::LDAMLoss` [code, checked].

use super::{class_counts_for, classification_inputs, log_p_y, log_softmax, one_hot, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "ldam",
    family: Family::Classification,
    summary: "label-distribution-aware margin: CE(s·(z − m_y e_y)), m_c ∝ n_c^(−1/4)",
    formula: "ℓ = CE(s·(z − m_y·e_y), y),  m_c = max_m·n_c^(−1/4)/max_j n_j^(−1/4)",
    reference: "Cao et al., LDAM, NeurIPS 2019, arXiv:1906.07413; val-iisc/Saddle-LongTail losses.py::LDAMLoss [code]",
    params: &[
        ParamDoc { name: "max_m", meaning: "largest margin (given to the rarest class)", range: "0 ≤ max_m ≤ 10", default: "0.5" },
        ParamDoc { name: "s", meaning: "logit scale (30 presumes cosine logits)", range: "0 < s ≤ 1000", default: "30.0" },
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
    pub max_m: f64,
    pub s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_counts: Option<Vec<usize>>,
}

impl Default for Params {
    fn default() -> Self {
        Params { max_m: 0.5, s: 30.0, class_counts: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("max_m", self.max_m, 0.0, 10.0)?;
        check_range("s", self.s, 1e-9, 1000.0)?;
        super::validate_counts(&self.class_counts)
    }
}

pub struct Ldam {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Ldam { params }), canonical))
}

impl Loss for Ldam {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "ldam")?;
        let c = z.dim(1)?;
        let counts = class_counts_for("ldam", &self.params.class_counts, c)?;
        // Counts are validated ≥ 1, so every n^(−1/4) is in (0, 1] and the maximum is positive.
        let raw: Vec<f64> = counts.iter().map(|&n| (n as f64).powf(-0.25)).collect();
        let max = raw.iter().cloned().fold(f64::MIN, f64::max);
        let margins: Vec<f64> = raw.iter().map(|m| m * self.params.max_m / max).collect();
        let margins = Tensor::from_vec(margins, (1, c), z.device())?.to_dtype(z.dtype())?;
        let shifted = (z - one_hot(y, c, z.dtype())?.broadcast_mul(&margins)?)?;
        Ok(log_p_y(&log_softmax(&(shifted * self.params.s)?)?, y)?.neg()?)
    }
}
