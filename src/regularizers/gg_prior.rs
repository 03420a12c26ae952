//! `gg_prior` — generalised-Gaussian weight prior (DeepShape, S066): the negative log-density
//! of a zero-mean generalised Gaussian with shape `β`, `R = Σ_l Σ_{w ∈ W_l} |w / α_l|^β`, with the
//! per-layer scale `α_l = std(W_l)·√(Γ(1/β)/Γ(3/β))` (the scale at which a GGD(β) has the
//! layer's current standard deviation; held fixed within a step, i.e. detached).
//!
//! `β = 2` is a Gaussian prior (L2 decay with a per-layer scale), `β = 1` a Laplace prior
//! (L1); DeepShape argues for `β` fitted to the weights. Applies to weight matrices, not biases.
//! Reference: S066 (DeepShape) [recon: the prior and scale rule from the catalog; the paper's
//! fitting of β per layer is not implemented — β is a parameter]. Γ from statrs.

use super::{need_layers, scalar_zero, weight_matrices, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "gg_prior",
    kind: Kind::Penalty,
    families: &[],
    summary: "generalised-Gaussian prior of shape β on the weight matrices (β=2 Gaussian, β=1 Laplace)",
    formula: "R = Σ_l Σ_w |w/α_l|^β,  α_l = std(W_l)·√(Γ(1/β)/Γ(3/β))",
    reference: "S066 (DeepShape) [recon]",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 10", default: "0.0001" },
        ParamDoc { name: "beta", meaning: "shape β of the generalised Gaussian", range: "0.5 ≤ β ≤ 4", default: "1.5" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub beta: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 1e-4, beta: 1.5 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 10.0)?;
        check_range("beta", self.beta, 0.5, 4.0)
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        need_layers(run.model, INFO.name)?;
        use statrs::function::gamma::ln_gamma;
        let ratio = (0.5 * (ln_gamma(1.0 / self.beta) - ln_gamma(3.0 / self.beta))).exp();
        Ok(Box::new(State { params: self.clone(), ratio, last: None }))
    }
}

struct State {
    params: Params,
    /// `√(Γ(1/β)/Γ(3/β))`.
    ratio: f64,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let mut total = scalar_zero(&batch.pred.out)?;
        for w in weight_matrices(batch.model) {
            let flat = w.flatten_all()?;
            let mean = flat.mean_all()?;
            let std = (flat.broadcast_sub(&mean)?.sqr()?.mean_all()? + 1e-24)?.sqrt()?.detach();
            let alpha = (std * self.ratio)?;
            // |w|^β with a zero subgradient at w = 0 (β > 0.5 makes it finite there).
            let scaled = crate::losses::abs0(&flat.broadcast_div(&alpha)?)?;
            let term = (scaled + 1e-30)?.powf(self.params.beta)?.sum_all()?;
            total = (total + term)?;
        }
        self.last = Some(total.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(total))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use statrs::function::gamma::ln_gamma;

    /// β = 2: α² = std²·Γ(1/2)/Γ(3/2) = 2·std², so R = Σ w²/(2 std²) = n/2 + n·mean²/(2 std²).
    #[test]
    fn gaussian_case_has_closed_form_and_gradient_matches() {
        let model = model(&[], 4, 3);
        let x = inputs(4, 4, 1);
        let y = classes(4, 3);
        let mut reg = start("gg_prior", serde_json::json!({"beta": 2.0}), model.as_ref());
        let w = model.linear_layers()[0].0.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let n = w.len() as f64;
        let mean = w.iter().sum::<f64>() / n;
        let var = w.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let expect = w.iter().map(|v| v * v).sum::<f64>() / (2.0 * var);
        let r = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap();
        assert!((r - expect).abs() < 1e-9 * expect, "{r} vs {expect}");
        // With α held fixed within a step: ∂R/∂w = β·|w/α|^(β−1)·sign(w)/α (β = 1.5).
        let mut reg = start("gg_prior", serde_json::json!({}), model.as_ref());
        let grads = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).backward().unwrap();
        let g = grads.get(model.linear_layers()[0].0.as_ref()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let alpha = var.sqrt() * (0.5 * (ln_gamma(1.0 / 1.5) - ln_gamma(3.0 / 1.5))).exp();
        for (gi, wi) in g.iter().zip(&w) {
            let expect = 1.5 * (wi.abs() / alpha).powf(0.5) * wi.signum() / alpha;
            assert!((gi - expect).abs() < 1e-6 * (1.0 + expect.abs()), "{gi} vs {expect}");
        }
    }
}
