//! Pairwise softmax loss (S129: Yang et al., *PSL: Rethinking and Improving Softmax Loss from
//! Pairwise Perspective for Recommendation*, NeurIPS 2024): the softmax loss with each
//! negative's margin `d` passed through an activation σ that bounds `exp(σ(d))` between the
//! step 1[d ≥ 0] and exp(d), a tighter DCG surrogate.
//!
//! ```text
//! f = s/τ;  d_qij = f_qj − f_qi for positives i (r > 0) and negatives j (r = 0) of list q
//! σ(d) = log(tanh(d) + 1) = log 2 + logsigmoid(2d)  (tanh)
//!      | log(atan(d) + 1)                            (atan)
//!      | log(relu(d + 1))                            (relu)
//! PSL1: ℓ = mean over positives of log Σ_j exp(σ(d_qij)/τ*)
//! PSL2: ℓ = log mean over pairs (i, j) of exp(σ(d_qij)/τ*)
//! ```
//! The authors' code (IR-Benchmark `optim_PSL.py`) scores with cosine similarity and asks for
//! τ ≥ 2 so that d ∈ [−1, 1], where atan + 1 and relu(d + 1) are positive. Outside that range
//! their log is −∞ or NaN; here the argument of the log is floored at 1e-30 (σ ≥ −69), which
//! changes nothing where the authors' value is finite and keeps the loss and its gradient
//! finite where it is not. PSL2 is one value for the whole batch: every list gets it. A batch
//! without a pair has loss 0.
//!
//! # Shapes
//! - scores `[Q, L]`, relevance `[Q, L]` (> 0 positive, 0 negative, −1 padding) → `[Q]`
//!
//! Reference: Tiny-Snow/IR-Benchmark `src/itemrec/optimizer/optim_PSL.py::cal_loss` [code]
//! (defaults τ = 1, τ* = 1, method 1, tanh).

use super::ranking::{batch_normalised, count, inputs, pairwise_diff};
use super::softmax_rec::{masked_logsumexp, positives_and_negatives};
use super::{Error, Loss, LossInfo};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static INFO: LossInfo = LossInfo {
    name: "psl",
    family: Family::Ranking,
    summary: "pairwise softmax loss: softmax loss over σ(negative − positive score), σ = tanh | atan | relu surrogate",
    formula: "PSL1: ℓ = mean_i log Σ_j exp(σ(f_j − f_i)/τ*);  PSL2: log mean_{ij} exp(σ(f_j − f_i)/τ*);  f = s/τ",
    reference: "S129 (Yang et al., NeurIPS 2024); Tiny-Snow/IR-Benchmark optim_PSL.py [code]",
    params: &[
        ParamDoc { name: "tau", meaning: "temperature τ of the scores", range: "0 < τ ≤ 1000", default: "1.0" },
        ParamDoc { name: "tau_star", meaning: "robustness temperature τ*", range: "0 < τ* ≤ 1000", default: "1.0" },
        ParamDoc { name: "activation", meaning: "surrogate σ", range: "tanh | atan | relu", default: "tanh" },
        ParamDoc { name: "method", meaning: "1: PSL1 (softmax-like), 2: PSL2 (BPR-like)", range: "1 | 2", default: "1" },
    ],
    props: &[],
    build,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    Tanh,
    Atan,
    Relu,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub tau: f64,
    pub tau_star: f64,
    pub activation: Activation,
    pub method: u8,
}

impl Default for Params {
    fn default() -> Self {
        Params { tau: 1.0, tau_star: 1.0, activation: Activation::Tanh, method: 1 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("tau", self.tau, 1e-6, 1000.0)?;
        check_range("tau_star", self.tau_star, 1e-6, 1000.0)?;
        if !matches!(self.method, 1 | 2) {
            return Err(Error::input(format!("parameter `method` = {}: must be 1 (PSL1) or 2 (PSL2)", self.method)));
        }
        Ok(())
    }
}

pub struct Psl {
    params: Params,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Psl { params }), canonical))
}

/// `log(max(x, 1e-30))`.
fn floored_log(x: &Tensor) -> Result<Tensor> {
    Ok(x.clamp(1e-30, f64::INFINITY)?.log()?)
}

impl Activation {
    fn apply(self, d: &Tensor) -> Result<Tensor> {
        match self {
            // log(tanh(d) + 1) = log 2 − softplus(−2d).
            Activation::Tanh => Ok((super::softplus(&(d * -2.0)?)?.neg()? + std::f64::consts::LN_2)?),
            Activation::Atan => floored_log(&(atan(d)? + 1.0)?),
            Activation::Relu => floored_log(&(d + 1.0)?.relu()?),
        }
    }
}

/// `atan` elementwise, with its derivative `1/(1 + x²)` (Candle has no atan op).
fn atan(x: &Tensor) -> Result<Tensor> {
    let host = x.detach().flatten_all()?.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?;
    let value = Tensor::from_vec(host.iter().map(|v| v.atan()).collect::<Vec<_>>(), x.shape(), x.device())?.to_dtype(x.dtype())?;
    // value + (x − sg[x])/(1 + sg[x]²): the value of atan, the gradient of atan.
    let slope = (x.detach().sqr()? + 1.0)?.recip()?;
    Ok((value + ((x - x.detach())? * slope)?)?)
}

impl Loss for Psl {
    fn step_bytes(&self, batch: usize, items: usize, dtype_bytes: f64) -> f64 {
        super::ranking::pair_bytes(batch, items, dtype_bytes, 14.0)
    }

    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (s, r) = inputs(pred, target, "psl")?;
        let (pos, neg) = positives_and_negatives(r)?;
        let f = (s / self.params.tau)?;
        let d = pairwise_diff(&f, &f)?.neg()?; // [q, i, j] = f_j − f_i
        let v = (self.params.activation.apply(&d)? / self.params.tau_star)?;
        let pairs = pos.unsqueeze(2)?.broadcast_mul(&neg.unsqueeze(1)?)?;
        if self.params.method == 1 {
            let per_positive = (masked_logsumexp(&v, &pairs)? * &pos)?;
            return batch_normalised(&per_positive.sum(D::Minus1)?, count(&pos)?);
        }
        let total = count(&pairs)?;
        if total == 0.0 {
            return Ok(s.sum(D::Minus1)?.zeros_like()?);
        }
        let flat_v = v.flatten_all()?.unsqueeze(0)?;
        let flat_w = pairs.flatten_all()?.unsqueeze(0)?;
        let value = (masked_logsumexp(&flat_v, &flat_w)? - total.ln())?; // [1]
        Ok(value.broadcast_as(r.dim(0)?)?.contiguous()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::losses::ranking::batch;

    #[test]
    fn by_hand() {
        let (pred, target) = batch(&[&[0.6, 0.2, -0.4]], &[&[1.0, 0.0, 0.0]]);
        let sigma = |d: f64| (d.tanh() + 1.0).ln();
        let (d1, d2) = ((0.2f64 - 0.6) / 2.0, (-0.4f64 - 0.6) / 2.0);
        let psl1 = ((sigma(d1) / 0.5).exp() + (sigma(d2) / 0.5).exp()).ln();
        let loss = Psl { params: Params { tau: 2.0, tau_star: 0.5, ..Params::default() } };
        assert!((loss.forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap()[0] - psl1).abs() < 1e-12);
        let psl2 = (((sigma(d1) / 0.5).exp() + (sigma(d2) / 0.5).exp()) / 2.0).ln();
        let loss = Psl { params: Params { tau: 2.0, tau_star: 0.5, method: 2, ..Params::default() } };
        assert!((loss.forward(&pred, &target).unwrap().to_vec1::<f64>().unwrap()[0] - psl2).abs() < 1e-12);
        for activation in [Activation::Atan, Activation::Relu] {
            let d = Tensor::new(&[0.3f64, -0.5], &candle_core::Device::Cpu).unwrap();
            let got = activation.apply(&d).unwrap().to_vec1::<f64>().unwrap();
            let want: Vec<f64> = [0.3f64, -0.5]
                .iter()
                .map(|d| if activation == Activation::Atan { (d.atan() + 1.0).ln() } else { (d + 1.0).ln() })
                .collect();
            assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12), "{activation:?}: {got:?} vs {want:?}");
        }
    }
}
