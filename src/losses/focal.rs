//! Focal loss: cross-entropy down-weighted on well-classified examples.
//!
//! ```text
//! FL(z, y) = −(1 − p_y)^γ · log p_y,   p = softmax(z)
//! ```
//! γ = 0 recovers cross-entropy. `1 − p_y` is computed as `Σ_{k≠y} p_k`, which keeps its
//! precision when p_y → 1 (where `1 − exp(log p_y)` cancels). The modulating factor is clamped
//! below at 1e-30 before the power so that its derivative stays finite for γ < 1 when
//! `1 − p_y` underflows to 0 (logits of ±1e4); the clamp changes the value by < 1e-30·|log p_y|.
//!
//! On the CPU the value and its analytic gradient come from one fused op ([`super::fused`]).
//!
//! `detach_modulator: true` stops the gradient through `(1 − p_y)^γ`, as the Active–Passive
//! Losses code does (`pt = Variable(logpt.data.exp())`); the default follows Lin et al. and
//! torchvision (gradient flows through the modulator).
//!
//! # Shapes
//! - logits `[n, c]`, labels `[n]` → `[n]`
//!
//! Reference: Lin et al., *Focal Loss for Dense Object Detection*, ICCV 2017, arXiv:1708.02002;
//! HanxunH/Active-Passive-Losses `loss.py::FocalLoss` [code] for the detached variant.

use super::fused::{self, SoftmaxLoss};
use super::{classification_inputs, log_p_y, log_softmax, one_hot, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "focal",
    family: Family::Classification,
    summary: "focal loss: cross-entropy scaled by (1 − p_y)^γ to focus on hard examples",
    formula: "ℓ = −(1 − p_y)^γ · log p_y,  p = softmax(z)",
    reference: "Lin et al., Focal Loss for Dense Object Detection, ICCV 2017, arXiv:1708.02002 [ref]; detach_modulator: HanxunH/Active-Passive-Losses loss.py::FocalLoss [code]",
    params: &[
        ParamDoc { name: "gamma", meaning: "focusing parameter γ (0 = cross-entropy)", range: "0 ≤ γ ≤ 10", default: "2.0" },
        ParamDoc { name: "detach_modulator", meaning: "no gradient through (1 − p_y)^γ (APL's code)", range: "true | false", default: "false" },
    ],
    props: &[Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub gamma: f64,
    pub detach_modulator: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { gamma: 2.0, detach_modulator: false }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("gamma", self.gamma, 0.0, 10.0)
    }
}

pub struct Focal {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Focal { params }), canonical))
}

impl Loss for Focal {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "focal")?;
        if fused::applies(z) {
            return fused::per_example(z, y, SoftmaxLoss::Focal { gamma: self.params.gamma, detach: self.params.detach_modulator });
        }
        self.forward_autograd(pred, target)
    }
}

impl Focal {
    /// The tensor-op formulation: used off the CPU, and the reference for the fused op.
    pub(crate) fn forward_autograd(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (z, y) = classification_inputs(pred, target, "focal")?;
        let log_p = log_softmax(z)?;
        let nll = log_p_y(&log_p, y)?.neg()?;
        let gamma = self.params.gamma;
        if gamma == 0.0 {
            return Ok(nll);
        }
        let p = log_p.exp()?;
        let others = (1.0 - one_hot(y, z.dim(1)?, z.dtype())?)?;
        let one_minus_p_y = (p * others)?.sum(D::Minus1)?;
        let mut modulator = one_minus_p_y.clamp(1e-30, 1.0)?.powf(gamma)?;
        if self.params.detach_modulator {
            modulator = modulator.detach();
        }
        Ok((modulator * nll)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::cross_entropy::{self, CrossEntropy};
    use crate::losses::testing::{mean_loss, random_batch};
    use candle_core::Device;

    #[test]
    fn matches_reference_value() {
        // import torch, torch.nn.functional as F
        // z = torch.tensor([[1., 2., 3.], [0.5, -1., 2.]], dtype=torch.float64); y = torch.tensor([2, 0])
        // lp = F.log_softmax(z, 1).gather(1, y[:, None])[:, 0]
        // (-(1 - lp.exp())**2 * lp).tolist()  -> checked below against the closed form
        let z = Tensor::new(&[[1f64, 2., 3.], [0.5, -1., 2.]], &Device::Cpu).unwrap();
        let y = Tensor::new(&[2u32, 0], &Device::Cpu).unwrap();
        let out = Focal { params: Params::default() }.forward(&Prediction::new(z), &Target::Classes(y)).unwrap().to_vec1::<f64>().unwrap();
        let p0 = (-0.407_605_964_444_38f64).exp();
        let p1 = (-1.741_311_296_657_157f64).exp();
        assert!((out[0] - (1.0 - p0).powi(2) * 0.407_605_964_444_38).abs() < 1e-10, "{out:?}");
        assert!((out[1] - (1.0 - p1).powi(2) * 1.741_311_296_657_157).abs() < 1e-10, "{out:?}");
    }

    #[test]
    fn gamma_zero_is_cross_entropy() {
        let (var, target) = random_batch(Family::Classification, 8, 5, 7, 3.0);
        let focal = Focal { params: Params { gamma: 0.0, detach_modulator: false } };
        let ce = CrossEntropy { params: cross_entropy::Params::default() };
        let a = mean_loss(&focal, var.as_tensor(), &target);
        let b = mean_loss(&ce, var.as_tensor(), &target);
        assert!((a - b).abs() < 1e-12);
    }

    #[test]
    fn detached_modulator_changes_the_gradient_not_the_value() {
        let (var, target) = random_batch(Family::Classification, 4, 3, 2, 2.0);
        let grad = |detach| {
            let focal = Focal { params: Params { gamma: 2.0, detach_modulator: detach } };
            let per = focal.forward(&Prediction::new(var.as_tensor().clone()), &target).unwrap();
            let value = per.mean_all().unwrap().to_scalar::<f64>().unwrap();
            let g = per.mean_all().unwrap().backward().unwrap();
            (value, g.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap())
        };
        let (v1, g1) = grad(false);
        let (v2, g2) = grad(true);
        assert!((v1 - v2).abs() < 1e-15);
        assert!(g1.iter().zip(&g2).any(|(a, b)| (a - b).abs() > 1e-6));
    }

    #[test]
    fn rejects_negative_gamma() {
        assert!((INFO.build)(&serde_json::json!({"gamma": -1.0})).is_err());
    }
}
