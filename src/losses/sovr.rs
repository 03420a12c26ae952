//! SOVR: switching one-vs-the-rest — the examples with the smallest logit margins in a batch use
//! the one-vs-rest loss, the others cross-entropy.
//!
//! ```text
//! m_i = z_iy − max_{k≠y} z_ik;   I = the round(M·n) examples of the batch with the smallest m_i
//! ℓ_i = one_vs_rest(z_i, y_i) if i ∈ I else −log p_iy
//! ```
//! The selection uses detached margins (ties: lower index first) and depends on the batch. In
//! the paper the margins are those of adversarial examples inside adversarial training; used on
//! clean inputs this is the same switching rule.
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Kanai et al., *Switching One-Versus-the-Rest Loss to Increase the Margin of Logits
//! for Adversarially Robust Deep Neural Networks*, arXiv:2207.10283 (S085) [recon: no authors'
//! code found; M = 0.2 is our default].

use super::{classification_inputs, host_labels, host_rows, log_p_y, log_softmax, one_hot, softplus, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "sovr",
    family: Family::Classification,
    summary: "switching OVR: one-vs-rest on the fraction M of the batch with the smallest margins, CE elsewhere",
    formula: "ℓ_i = OVR(z_i, y_i) if margin_i is among the M·n smallest else CE(z_i, y_i)",
    reference: "Kanai et al., arXiv:2207.10283 (S085) [recon]",
    params: &[ParamDoc {
        name: "fraction",
        meaning: "fraction M of each batch switched to one-vs-rest",
        range: "0 ≤ M ≤ 1",
        default: "0.2",
    }],
    props: &[Prop::NonNegative, Prop::Piecewise],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub fraction: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { fraction: 0.2 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("fraction", self.fraction, 0.0, 1.0)
    }
}

pub struct Sovr {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Sovr { params }), canonical))
}

impl Loss for Sovr {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "sovr")?;
        let rows = host_rows(z)?;
        let labels = host_labels(y)?;
        let margins: Vec<f64> = rows
            .iter()
            .zip(&labels)
            .map(|(r, &t)| {
                let other = r.iter().enumerate().filter(|(k, _)| *k != t as usize).map(|(_, v)| *v).fold(f64::NEG_INFINITY, f64::max);
                r[t as usize] - other
            })
            .collect();
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.sort_by(|&a, &b| super::cmp_values(margins[a], margins[b]));
        let switched = (self.params.fraction * rows.len() as f64).round() as usize;
        let mut use_ovr = vec![0f32; rows.len()];
        for &i in &order[..switched.min(rows.len())] {
            use_ovr[i] = 1.0;
        }
        let mask = Tensor::from_vec(use_ovr, rows.len(), z.device())?.to_dtype(z.dtype())?;
        let ce = log_p_y(&log_softmax(z)?, y)?.neg()?;
        let t = ((one_hot(y, z.dim(1)?, z.dtype())? * 2.0)? - 1.0)?;
        let ovr = softplus(&(t * z)?.neg()?)?.sum(D::Minus1)?;
        Ok(((&mask * ovr)? + ((1.0 - &mask)? * ce)?)?)
    }
}
