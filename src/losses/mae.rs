//! Mean absolute error.
//!
//! ```text
//! ℓ(ŷ, t) = (1/K)·Σ_k |t_k − ŷ_k|
//! ```
//! The subgradient at `t = ŷ` is 0 (as in PyTorch).
//!
//! # Shapes
//! - pred, target `[n]` or `[n, k]` → `[n]`
//!
//! Reference: `torch.nn.functional.l1_loss` [ref]; S029 regression-loss survey [code].

use super::{abs0, regression_inputs, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "mae",
    family: Family::Regression,
    summary: "mean absolute error (L1)",
    formula: "ℓ = mean_k |t_k − ŷ_k|",
    reference: "torch.nn.functional.l1_loss [ref]; S029 regression-loss survey [code]",
    params: &[],
    props: &[Prop::Convex, Prop::NonNegative, Prop::Kink { at: 0.0 }],
    build,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

impl Validate for Params {}

pub struct Mae;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Mae), canonical))
}

impl Loss for Mae {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (p, t) = regression_inputs(pred, target, "mae")?;
        Ok(abs0(&(t - p)?)?.mean(D::Minus1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_pytorch_reference_value() {
        // F.l1_loss(p, t, reduction='none').mean(1).tolist() with p, t as in mse.rs -> [1.25, 1.25]
        let p = Tensor::new(&[[0.5f32, -1.0], [2.0, 3.0]], &Device::Cpu).unwrap();
        let t = Tensor::new(&[[1.0f32, 1.0], [0.0, 3.5]], &Device::Cpu).unwrap();
        let out = Mae.forward(&Prediction::new(p), &Target::Values(t)).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(out, vec![1.25, 1.25]);
    }

    #[test]
    fn is_the_small_delta_limit_of_huber_over_delta() {
        // h_δ(r)/δ = |r| − δ/2 for |r| > δ, so huber(δ)/δ → mae as δ → 0.
        let (var, target) = crate::losses::testing::random_batch(Family::Regression, 6, 3, 5, 2.0);
        let delta = 1e-7;
        let huber = crate::losses::huber::Huber { params: crate::losses::huber::Params { delta } };
        let a = crate::losses::testing::mean_loss(&huber, var.as_tensor(), &target) / delta;
        let b = crate::losses::testing::mean_loss(&Mae, var.as_tensor(), &target);
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }

    #[test]
    fn accepts_one_dimensional_inputs() {
        let p = Tensor::new(&[1.0f32, 2.0], &Device::Cpu).unwrap();
        let t = Tensor::new(&[0.0f32, 4.0], &Device::Cpu).unwrap();
        let out = Mae.forward(&Prediction::new(p), &Target::Values(t)).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(out, vec![1.0, 2.0]);
    }
}
