//! Cross-entropy with optional label smoothing — the baseline every paper compares against.
//!
//! ```text
//! CE(z, y)      = −log p_y,                                   p = softmax(z)
//! CE_s(z, y)    = −(1 − s)·log p_y − (s/C)·Σ_k log p_k        (label smoothing s)
//! ```
//! Computed from log_softmax with a max shift, so logits of ±1e4 stay finite. On the CPU the
//! value and its analytic gradient come from one fused op ([`super::fused`]).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` (u32) → `[n]`
//!
//! Reference: `torch.nn.functional.cross_entropy(label_smoothing=s)` [ref]; Szegedy et al.,
//! *Rethinking the Inception Architecture*, CVPR 2016, arXiv:1512.00567 (label smoothing).

use super::fused::{self, SoftmaxLoss};
use super::{classification_inputs, log_p_y, log_softmax, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "cross_entropy",
    family: Family::Classification,
    summary: "softmax cross-entropy, optionally with label smoothing",
    formula: "ℓ = −(1 − s)·log p_y − (s/C)·Σ_k log p_k,  p = softmax(z)  (s = 0: −log p_y)",
    reference: "torch.nn.functional.cross_entropy(label_smoothing=s) [ref]; label smoothing: Szegedy et al. 2016, arXiv:1512.00567",
    params: &[ParamDoc {
        name: "smoothing",
        meaning: "label-smoothing mass s spread uniformly over the C classes",
        range: "0 ≤ s ≤ 1",
        default: "0.0",
    }],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub smoothing: f64,
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("smoothing", self.smoothing, 0.0, 1.0)
    }
}

pub struct CrossEntropy {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(CrossEntropy { params }), canonical))
}

impl Loss for CrossEntropy {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "cross_entropy")?;
        if fused::applies(z) {
            return fused::per_example(z, y, SoftmaxLoss::CrossEntropy { smoothing: self.params.smoothing });
        }
        self.forward_autograd(pred, target)
    }
}

impl CrossEntropy {
    /// The tensor-op formulation: used off the CPU, and the reference for the fused op.
    pub(crate) fn forward_autograd(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "cross_entropy")?;
        let log_p = log_softmax(z)?;
        let nll = log_p_y(&log_p, y)?.neg()?;
        let s = self.params.smoothing;
        if s == 0.0 {
            return Ok(nll);
        }
        let uniform = log_p.mean(D::Minus1)?.neg()?;
        Ok(((nll * (1.0 - s))? + (uniform * s)?)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn ce(smoothing: f64) -> CrossEntropy {
        CrossEntropy { params: Params { smoothing } }
    }

    #[test]
    fn matches_pytorch_reference_value() {
        // import torch, torch.nn.functional as F
        // z = torch.tensor([[1., 2., 3.], [0.5, -1., 2.]], dtype=torch.float64); y = torch.tensor([2, 0])
        // F.cross_entropy(z, y, reduction='none').tolist()        -> [0.4076059644443804, 1.7413112966571571]
        // F.cross_entropy(z, y, reduction='none', label_smoothing=0.1).tolist() -> [0.5076059644443804, 1.7413112966571571]
        let z = Tensor::new(&[[1f64, 2., 3.], [0.5, -1., 2.]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[2u32, 0], &Device::Cpu).unwrap();
        let out = ce(0.0).forward(&Prediction::new(z.clone()), &Target::Classes(y.clone())).unwrap().to_vec1::<f64>().unwrap();
        assert!((out[0] - 0.407_605_964_444_38).abs() < 1e-10, "{out:?}");
        assert!((out[1] - 1.741_311_296_657_157).abs() < 1e-10, "{out:?}");
        // Smoothing 0.1: (1−s)·CE + s·mean_k(−log p_k); row 0: 0.9·0.40761 + 0.1·1.40761 = 0.50761.
        let out = ce(0.1).forward(&Prediction::new(z), &Target::Classes(y)).unwrap().to_vec1::<f64>().unwrap();
        assert!((out[0] - 0.507_605_964_444_38).abs() < 1e-10, "{out:?}");
    }

    #[test]
    fn equals_candle_nn_cross_entropy_without_smoothing() {
        let (var, target) = crate::losses::testing::random_batch(Family::Classification, 8, 5, 4, 3.0);
        let ours = crate::losses::testing::mean_loss(&ce(0.0), var.as_tensor(), &target);
        let theirs = candle_nn::loss::cross_entropy(var.as_tensor(), target.tensor()).unwrap().to_scalar::<f64>().unwrap();
        assert!((ours - theirs).abs() < 1e-12);
    }

    #[test]
    fn rejects_smoothing_out_of_range() {
        let err = (INFO.build)(&serde_json::json!({"smoothing": 1.5})).err().unwrap().to_string();
        assert!(err.contains("smoothing") && err.contains("0 ≤ smoothing ≤ 1"), "{err}");
    }
}
