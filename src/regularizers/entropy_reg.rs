//! `entropy_reg` — mean-entropy maximisation (S128's SimGCD, also ProtoGCD S190): push the
//! batch-average prediction towards the uniform distribution,
//! `p̄ = mean_i softmax(z_i / T)`, `R = Σ_k p̄_k log p̄_k + log C = log C − H(p̄) ≥ 0`.
//!
//! It is zero when the batch's mean prediction is uniform and penalises collapse onto a few
//! classes (in SimGCD it balances pseudo-labels of unlabelled data). Computed with
//! `log_softmax` and a logsumexp over the batch, so logits of ±1e4 stay finite.
//! Reference: Wen, Zhao & Qi, *Parametric Classification for Generalized Category Discovery:
//! A Baseline Study*, ICCV 2023 (SimGCD), CVMI-Lab/SimGCD `train.py` (`me_max_loss`,
//! `memax_weight` = 2) [code]. There the logits are cosine similarities (|z| ≤ 1) and T = 0.1;
//! lossbench's heads give unnormalised logits, so the default T is 1 [our choice].

use super::{Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::Family;
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "entropy_reg",
    kind: Kind::Penalty,
    families: &[Family::Classification],
    summary: "mean-entropy maximisation: the batch-average prediction is pushed towards uniform",
    formula: "p̄ = mean_i softmax(z_i/T);  R = Σ_k p̄_k log p̄_k + log C",
    reference: "Wen et al., SimGCD, ICCV 2023 (S128), CVMI-Lab/SimGCD me_max_loss [code]; ProtoGCD (S190)",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient λ of R (SimGCD: 2)", range: "0 ≤ λ ≤ 100", default: "2.0" },
        ParamDoc { name: "temperature", meaning: "softmax temperature T", range: "0.01 ≤ T ≤ 100", default: "1.0" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub temperature: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 2.0, temperature: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 100.0)?;
        check_range("temperature", self.temperature, 0.01, 100.0)
    }
}

impl Regularizer for Params {
    fn start(&self, _run: &Start) -> Result<Box<dyn Active>> {
        Ok(Box::new(State { params: self.clone(), last: None }))
    }
}

/// `log C − H(mean_i softmax(z_i/T))` for logits `z [n, C]`, in log space.
pub fn mean_entropy_gap(z: &Tensor, temperature: f64) -> Result<Tensor> {
    let (n, c) = z.dims2()?;
    if n == 0 {
        return Err(Error::runtime("entropy_reg on an empty batch"));
    }
    let logp = candle_nn::ops::log_softmax(&(z / temperature)?, D::Minus1)?; // [n, C]
                                                                             // log p̄_k = logsumexp_i(log p_ik) − log n.
    let max = logp.max_keepdim(0)?.detach();
    let log_mean = ((logp.broadcast_sub(&max)?.exp()?.sum_keepdim(0)?.log()? + max)? - (n as f64).ln())?; // [1, C]
    let pbar = log_mean.exp()?;
    Ok(((pbar * log_mean)?.sum_all()? + (c as f64).ln())?)
}

struct State {
    params: Params,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let r = mean_entropy_gap(&batch.pred.out, self.params.temperature)?;
        self.last = Some(r.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(r))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::mean_entropy_gap;
    use candle_core::{Device, Tensor};

    #[test]
    fn zero_when_uniform_log_c_when_collapsed_and_gradient_matches() {
        let dev = Device::Cpu;
        // Two examples that favour opposite classes equally: p̄ uniform → R = 0.
        let z = Tensor::from_vec(vec![2.0f64, -2.0, -2.0, 2.0], (2, 2), &dev).unwrap();
        assert!(mean_entropy_gap(&z, 1.0).unwrap().to_scalar::<f64>().unwrap().abs() < 1e-12);
        // Extreme logits all on class 0: p̄ = e₀ → R = log C, finite.
        let z = Tensor::from_vec(vec![1e4f64, -1e4, 0.0, 1e4, -1e4, 0.0], (2, 3), &dev).unwrap();
        let r = mean_entropy_gap(&z, 1.0).unwrap().to_scalar::<f64>().unwrap();
        assert!((r - 3f64.ln()).abs() < 1e-9, "{r}");
        let model = model(&[5], 3, 4);
        let x = inputs(6, 3, 2);
        let y = classes(6, 4);
        let mut reg = start("entropy_reg", serde_json::json!({"temperature": 0.5}), model.as_ref());
        check_gradient(model.as_ref(), &mut || penalty(reg.as_mut(), model.as_ref(), &x, &y, 0), 1e-6);
    }
}
