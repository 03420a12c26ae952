//! `l2_init_reg` — L2 regularisation towards the initial weights (regenerative
//! regularisation, the baseline of S166): `R = Σ_θ ‖θ − θ₀‖²`.
//!
//! `θ₀` are the run's initial weights (the same for every loss under one seed). Unlike weight
//! decay it keeps the network near its trainable initialisation, which S166 reports preserves
//! plasticity. Reference: Kumar et al., *Maintaining Plasticity in Continual Learning via
//! Regenerative Regularization*, 2023; Lewandowski et al., *Learning Continually by Spectral
//! Regularization*, ICLR 2025, arXiv:2406.06811 (S166) [paper-text].

use super::{scalar_zero, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::ParamDoc;
use candle_core::{DType, Tensor, Var};
use std::sync::Arc;

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "l2_init_reg",
    kind: Kind::Penalty,
    families: &[],
    summary: "L2 pull towards the initial weights (regenerative regularisation)",
    formula: "R = Σ_θ ‖θ − θ₀‖²",
    reference: "Kumar et al. 2023; Lewandowski et al., ICLR 2025, arXiv:2406.06811 (S166)",
    params: &[ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 10", default: "0.0001" }],
    build,
};

/// The only parameter: the weight of the penalty.
pub struct Params {
    pub weight: f64,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Regularizer> {
    let (weight, canonical) = super::parse_weight(value, 1e-4)?;
    Ok((Arc::new(Params { weight }), canonical))
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let vars = run.model.vars();
        let initial = vars.iter().map(|v| v.as_tensor().copy().map(|t| t.detach())).collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Box::new(State { weight: self.weight, vars, initial, last: None }))
    }
}

struct State {
    weight: f64,
    vars: Vec<Var>,
    initial: Vec<Tensor>,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let mut total = scalar_zero(&batch.pred.out)?;
        for (v, v0) in self.vars.iter().zip(&self.initial) {
            total = (total + (v.as_tensor() - v0)?.sqr()?.sum_all()?)?;
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

    #[test]
    fn zero_at_init_and_gradient_matches_finite_differences() {
        let model = model(&[4], 3, 2);
        let x = inputs(5, 3, 2);
        let y = classes(5, 2);
        let mut reg = start("l2_init_reg", serde_json::json!({}), model.as_ref());
        assert_eq!(penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap(), 0.0);
        // Move the weights, then check ∂R/∂θ = 2(θ − θ₀).
        for v in model.vars() {
            v.set(&(v.as_tensor() * 1.3).unwrap()).unwrap();
        }
        let r = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap();
        let expect: f64 = model
            .vars()
            .iter()
            .map(|v| (v.as_tensor() * (0.3 / 1.3)).unwrap().sqr().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap())
            .sum();
        assert!((r - expect).abs() < 1e-10 * (1.0 + expect), "{r} vs {expect}");
        check_gradient(model.as_ref(), &mut || penalty(reg.as_mut(), model.as_ref(), &x, &y, 0), 1e-6);
    }
}
