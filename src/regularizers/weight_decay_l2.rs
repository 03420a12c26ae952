//! `weight_decay_l2` — coupled L2 weight decay as a penalty: `R = ½·Σ_θ ‖θ‖²` over every
//! trainable tensor (weights and biases, as `torch.optim.SGD(weight_decay=…)` decays them all).
//!
//! Its gradient `weight·θ` is what SGD's `weight_decay` adds; with adaptive optimizers it is
//! the coupled "L2" of Loshchilov & Hutter (contrast with `adamw`'s decoupled decay).
//! Reference: Krogh & Hertz, *A Simple Weight Decay Can Improve Generalization*, NIPS 1992;
//! Loshchilov & Hutter, *Decoupled Weight Decay Regularization*, ICLR 2019 (S059).

use super::{scalar_zero, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::ParamDoc;
use candle_core::{Tensor, Var};
use std::sync::Arc;

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "weight_decay_l2",
    kind: Kind::Penalty,
    families: &[],
    summary: "coupled L2 weight decay as a penalty on every parameter",
    formula: "R = ½·Σ_θ ‖θ‖²",
    reference: "Krogh & Hertz, NIPS 1992; Loshchilov & Hutter, ICLR 2019 (S059)",
    params: &[ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 10", default: "0.0005" }],
    build,
};

/// The only parameter: the weight of the penalty.
pub struct Params {
    pub weight: f64,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Regularizer> {
    let (weight, canonical) = super::parse_weight(value, 5e-4)?;
    Ok((Arc::new(Params { weight }), canonical))
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        Ok(Box::new(State { weight: self.weight, vars: run.model.vars(), last: None }))
    }
}

struct State {
    weight: f64,
    vars: Vec<Var>,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let mut total = scalar_zero(&batch.pred.out)?;
        for v in &self.vars {
            total = (total + v.as_tensor().sqr()?.sum_all()?)?;
        }
        let r = (total * 0.5)?;
        self.last = Some(r.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(r))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use candle_core::DType;

    #[test]
    fn half_squared_norm_and_its_gradient() {
        let model = model(&[5], 3, 2);
        let x = inputs(4, 3, 1);
        let y = classes(4, 2);
        let mut reg = start("weight_decay_l2", serde_json::json!({}), model.as_ref());
        let r = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap();
        let expect: f64 = model.vars().iter().map(|v| v.as_tensor().sqr().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap()).sum();
        assert!((r - 0.5 * expect).abs() < 1e-12);
        let grads = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).backward().unwrap();
        for v in model.vars() {
            let g = grads.get(v.as_tensor()).unwrap();
            let diff = (g - v.as_tensor()).unwrap().abs().unwrap().max_all().unwrap().to_dtype(DType::F64).unwrap();
            assert!(diff.to_scalar::<f64>().unwrap() < 1e-12);
        }
    }
}
