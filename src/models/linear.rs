//! Linear model (logistic / softmax regression, or least squares with `mse`).

use super::mlp::{layers, Mlp};
use super::{dense_features, Activation, Head, Init, Model, ModelInfo, ModelSpec};
use crate::data::InputKind;
use crate::error::Result;
use crate::registry::{ParamDoc, Validate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub bias: bool,
}

impl Default for Params {
    fn default() -> Self {
        Params { bias: true }
    }
}

impl Validate for Params {}

impl ModelSpec for Params {
    fn check(&self, input: InputKind) -> Result<()> {
        dense_features(input, "linear").map(|_| ())
    }
    fn size(&self, input: InputKind, outputs: usize) -> Result<super::ModelSize> {
        Ok(super::ModelSize::of_widths(&[dense_features(input, "linear")?, outputs], 0.0, 0.0))
    }
    fn instantiate(&self, input: InputKind, outputs: usize, init: &Init) -> Result<Box<dyn Model>> {
        let widths = [dense_features(input, "linear")?, outputs];
        let (layers, vars) = layers(&widths, self.bias, init, 0)?;
        Ok(Box::new(Mlp { layers, vars, activation: Activation::Relu, dropout: 0.0, head: Head::Linear }))
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "linear",
    summary: "one linear layer: softmax regression for classification, least squares for regression",
    params: &[ParamDoc { name: "bias", meaning: "use a bias", range: "true | false", default: "true" }],
    build: super::build_params::<Params>,
};
