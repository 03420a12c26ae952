//! Huber loss: quadratic near zero, linear in the tails.
//!
//! ```text
//! h_δ(r) = ½·r²            if |r| ≤ δ
//!        = δ·(|r| − ½·δ)    otherwise,          r = t − ŷ,   ℓ = mean_k h_δ(r_k)
//! ```
//! δ → ∞ gives ½·MSE; the tails grow like δ·|r| (δ·MAE). Default δ = 1.0 as PyTorch and
//! Keras; the S029 survey's experiment scripts use δ = 0.5.
//!
//! # Shapes
//! - pred, target `[n]` or `[n, k]` → `[n]`
//!
//! Reference: Huber, *Robust Estimation of a Location Parameter*, Ann. Math. Stat. 1964;
//! `torch.nn.functional.huber_loss(delta=δ)` [ref]; S029 regression-loss survey [code].

use super::{abs0, regression_inputs, Loss, LossInfo, Prop};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "huber",
    family: Family::Regression,
    summary: "Huber loss: ½r² for |r| ≤ δ, δ(|r| − ½δ) beyond",
    formula: "ℓ = mean_k h_δ(t_k − ŷ_k),  h_δ(r) = ½r² if |r| ≤ δ else δ(|r| − ½δ)",
    reference: "Huber 1964; torch.nn.functional.huber_loss [ref]; S029 survey uses δ = 0.5 [code]",
    params: &[ParamDoc {
        name: "delta",
        meaning: "threshold δ between the quadratic and linear parts",
        range: "0 < δ ≤ 1e6",
        default: "1.0",
    }],
    props: &[Prop::Convex, Prop::NonNegative],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub delta: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { delta: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("delta", self.delta, f64::MIN_POSITIVE, 1e6)
    }
}

pub struct Huber {
    pub params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Huber { params }), canonical))
}

impl Loss for Huber {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (p, t) = regression_inputs(pred, target, "huber")?;
        let delta = self.params.delta;
        let r = (t - p)?;
        let a = abs0(&r)?;
        let quadratic = (r.sqr()? * 0.5)?;
        let linear = ((a.clone() - 0.5 * delta)? * delta)?;
        let inside = a.le(delta)?;
        Ok(inside.where_cond(&quadratic, &linear)?.mean(D::Minus1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::mse::Mse;
    use crate::losses::testing::{mean_loss, random_batch};
    use candle_core::Device;

    #[test]
    fn matches_pytorch_reference_value() {
        // import torch, torch.nn.functional as F
        // p = torch.tensor([[0.5, -1.0], [2.0, 3.0]]); t = torch.tensor([[1.0, 1.0], [0.0, 3.5]])
        // F.huber_loss(p, t, reduction='none', delta=1.0).mean(1).tolist()  -> [0.8125, 0.8125]
        let p = Tensor::new(&[[0.5f32, -1.0], [2.0, 3.0]], &Device::Cpu).unwrap();
        let t = Tensor::new(&[[1.0f32, 1.0], [0.0, 3.5]], &Device::Cpu).unwrap();
        let out = Huber { params: Params::default() }.forward(&Prediction::new(p), &Target::Values(t)).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(out, vec![0.8125, 0.8125]);
    }

    #[test]
    fn large_delta_is_half_mse() {
        let (var, target) = random_batch(Family::Regression, 6, 3, 3, 2.0);
        let huber = Huber { params: Params { delta: 1e5 } };
        let a = mean_loss(&huber, var.as_tensor(), &target);
        let b = mean_loss(&Mse, var.as_tensor(), &target);
        assert!((a - 0.5 * b).abs() < 1e-12);
    }

    #[test]
    fn rejects_non_positive_delta() {
        assert!((INFO.build)(&serde_json::json!({"delta": 0.0})).is_err());
    }
}
