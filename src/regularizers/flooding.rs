//! `flooding` — keep the training loss from going below a flood level `b`:
//! `L̃ = |L − b| + b`, applied to the batch's mean task loss.
//!
//! Above `b` it is plain descent; below `b` the sign of the gradient flips and the step is an
//! ascent, so the loss floats around `b`. Karakida et al. (S086) show that flooding performs
//! finite-difference gradient regularisation implicitly. The logged value `reg_<label>` is the
//! fraction of the epoch's steps that ascended (`L < b`).
//! Reference: Ishida, Yamane, Sakai, Niu & Sugiyama, *Do We Need Zero Training Loss After
//! Achieving Zero Training Error?*, ICML 2020 (`(loss − b).abs() + b`) [paper-text]; S086.

use super::{Active, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "flooding",
    kind: Kind::LossTransform,
    families: &[],
    summary: "flood level b: gradient ascent whenever the batch loss falls below b",
    formula: "L̃ = |L − b| + b",
    reference: "Ishida et al., ICML 2020; Karakida et al., ICLR 2023 (S086)",
    params: &[ParamDoc { name: "level", meaning: "flood level b", range: "0 ≤ b ≤ 100", default: "0.05" }],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub level: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { level: 0.05 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("level", self.level, 0.0, 100.0)
    }
}

impl Regularizer for Params {
    fn start(&self, _run: &Start) -> Result<Box<dyn Active>> {
        Ok(Box::new(State { level: self.level, last: None }))
    }
}

struct State {
    level: f64,
    last: Option<f64>,
}

impl Active for State {
    fn transform_loss(&mut self, loss: Tensor) -> Result<Tensor> {
        let below = loss.to_dtype(DType::F64)?.to_scalar::<f64>()? < self.level;
        self.last = Some(if below { 1.0 } else { 0.0 });
        Ok((crate::losses::abs0(&(loss - self.level)?)? + self.level)?)
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use candle_core::{Device, Tensor, Var};

    #[test]
    fn descends_above_the_level_and_ascends_below() {
        let model = model(&[], 2, 2);
        let mut reg = start("flooding", serde_json::json!({"level": 0.5}), model.as_ref());
        for (value, expect_out, expect_grad) in [(0.8f64, 0.8, 1.0), (0.2, 0.8, -1.0)] {
            let v = Var::from_vec(vec![value], (), &Device::Cpu).unwrap();
            let out = reg.transform_loss(v.as_tensor().clone()).unwrap();
            assert!((out.to_scalar::<f64>().unwrap() - expect_out).abs() < 1e-12);
            let g = out.backward().unwrap().get(v.as_tensor()).unwrap().to_scalar::<f64>().unwrap();
            assert_eq!(g, expect_grad);
            assert_eq!(reg.logged(), Some(if value < 0.5 { 1.0 } else { 0.0 }));
        }
        let _ = Tensor::zeros((), candle_core::DType::F64, &Device::Cpu);
    }
}
