//! Harmonic loss: cross-entropy of the harmonic ("HarmonicMax") probabilities of a distance head.
//!
//! ```text
//! head (model option `head: harmonic`):  z_c = −log(d²_c),   d²_c = ‖h − w_c‖² + 1e-4
//! p_c = (d²_c)^{−n} / Σ_j (d²_j)^{−n} = softmax(n·z)_c,      ℓ(z, y) = −log p_y
//! ```
//! The model's `harmonic` head supplies `z` (negative log squared distances to the class
//! centres `w_c`); this loss raises them to the harmonic exponent. The authors' code applies `n`
//! to the **squared** distance (`DistLayer(n=1.)`), so lossbench's `n` is theirs; the paper's
//! exponent on the plain distance is 2n. Computed as log_softmax(n·z), which is the authors'
//! division by the row minimum (a max shift) in log space.
//!
//! Resolve pairs `harmonic` only with tasks whose model has `head: harmonic`.
//!
//! # Shapes
//! - logits `[n, c]` from a harmonic head, labels `[n]` → `[n]`
//!
//! Reference: Baek, Liu, Tegmark et al., *Harmonic Loss Trains Interpretable AI Models*,
//! arXiv:2502.01628 (S169); KindXiaoming/grow-crystals `src/utils/model.py::DistLayer`
//! (read in a fork, maxwellmg/grow-crystals-distance-experiments) [code, checked].

use super::{classification_inputs, log_p_y, log_softmax, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "harmonic",
    family: Family::Classification,
    summary: "harmonic loss: −log p_y with p ∝ (squared distance to class centre)^(−n); needs `head: harmonic`",
    formula: "ℓ = −log softmax(n·z)_y,  z_c = −log(‖h − w_c‖² + 1e-4) from the harmonic head",
    reference:
        "Baek, Liu, Tegmark et al., Harmonic Loss Trains Interpretable AI Models, arXiv:2502.01628 (S169); grow-crystals DistLayer [code]",
    params: &[ParamDoc {
        name: "n",
        meaning: "harmonic exponent on the squared distance (authors' n)",
        range: "0 < n ≤ 10000",
        default: "1.0",
    }],
    props: &[Prop::NonNegative, Prop::NeedsHarmonicHead],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub n: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { n: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("n", self.n, 1e-9, 10_000.0)
    }
}

pub struct Harmonic {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Harmonic { params }), canonical))
}

impl Loss for Harmonic {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "harmonic")?;
        Ok(log_p_y(&log_softmax(&(z * self.params.n)?)?, y)?.neg()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::harmonic_logits;
    use candle_core::Device;

    #[test]
    fn head_and_loss_give_inverse_power_probabilities() {
        // h = (0, 0); centres (1, 0) and (0, 2): d² = 1 + 1e-4 and 4 + 1e-4.
        let h = Tensor::new(&[[0f64, 0.0]], &Device::Cpu).unwrap();
        let w = Tensor::new(&[[1f64, 0.0], [0.0, 2.0]], &Device::Cpu).unwrap();
        let z = harmonic_logits(&h, &w).unwrap();
        let (d0, d1) = (1.0f64 + 1e-4, 4.0f64 + 1e-4);
        let zv = z.to_vec2::<f64>().unwrap();
        assert!((zv[0][0] + d0.ln()).abs() < 1e-12 && (zv[0][1] + d1.ln()).abs() < 1e-12, "{zv:?}");
        let n = 2.0;
        let loss = Harmonic { params: Params { n } };
        let y = Tensor::new(&[0u32], &Device::Cpu).unwrap();
        let l = loss.forward(&Prediction::new(z), &Target::Classes(y)).unwrap().to_vec1::<f64>().unwrap()[0];
        let p0 = d0.powf(-n) / (d0.powf(-n) + d1.powf(-n));
        assert!((l + p0.ln()).abs() < 1e-12, "{l} vs {}", -p0.ln());
    }
}
