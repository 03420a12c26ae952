//! Mean squared error.
//!
//! ```text
//! ℓ(ŷ, t) = (1/K)·Σ_k (t_k − ŷ_k)²
//! ```
//! # Shapes
//! - pred, target `[n]` or `[n, k]` → `[n]`
//!
//! Reference: `torch.nn.functional.mse_loss` [ref]; regression suite of S029 (Jadon et al.,
//! *A Comprehensive Survey of Regression Based Loss Functions for Time Series Forecasting*).

use super::{regression_inputs, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{parse_params, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "mse",
    family: Family::Regression,
    summary: "mean squared error",
    formula: "ℓ = mean_k (t_k − ŷ_k)²",
    reference: "torch.nn.functional.mse_loss [ref]; S029 regression-loss survey (aryan-jadon/Regression-Loss-Functions-in-Time-Series-Forecasting-Tensorflow) [code]",
    params: &[],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {}

impl Validate for Params {}

pub struct Mse;

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (_, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Mse), canonical))
}

impl Loss for Mse {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (p, t) = regression_inputs(pred, target, "mse")?;
        Ok((t - p)?.sqr()?.mean(D::Minus1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn matches_pytorch_reference_value() {
        // import torch, torch.nn.functional as F
        // p = torch.tensor([[0.5, -1.0], [2.0, 3.0]]); t = torch.tensor([[1.0, 1.0], [0.0, 3.5]])
        // F.mse_loss(p, t, reduction='none').mean(1).tolist()  -> [2.125, 2.125]
        let p = Tensor::new(&[[0.5f32, -1.0], [2.0, 3.0]], &Device::Cpu).unwrap();
        let t = Tensor::new(&[[1.0f32, 1.0], [0.0, 3.5]], &Device::Cpu).unwrap();
        let out = Mse.forward(&Prediction::new(p), &Target::Values(t)).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(out, vec![2.125, 2.125]);
    }

    #[test]
    fn zero_at_the_target() {
        let t = Tensor::new(&[[1.0f32, -2.0]], &Device::Cpu).unwrap();
        let out = Mse.forward(&Prediction::new(t.clone()), &Target::Values(t)).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(out, vec![0.0]);
    }
}
