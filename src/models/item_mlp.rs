//! Per-item scorer for ranking (catalog §2.2 F8): one MLP maps each item's features to a score,
//! the same weights for every item of every list. A row of `items × features` values becomes
//! `items` rows of `features`, the MLP gives each a score, and the scores form the row's
//! `[items]` output again. Padding items (zero features) get a score too; the ranking losses
//! and metrics mask them by their relevance −1.

use super::mlp::{layers, Mlp};
use super::{check_widths, Activation, Head, Init, Model, ModelInfo, ModelSpec};
use crate::data::InputKind;
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::Stream;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub dropout: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { hidden: vec![64], activation: Activation::Relu, dropout: 0.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("dropout", self.dropout, 0.0, 0.95)?;
        super::check_hidden(&self.hidden)
    }
}

/// Items per list and features per item of a list input.
fn list_shape(input: InputKind) -> Result<(usize, usize)> {
    match input {
        InputKind::Items { items, features } => Ok((items, features)),
        _ => Err(Error::input(
            "model `item_mlp` scores the items of a list; the dataset gives rows of features or tokens, not lists (use `mlp`)",
        )),
    }
}

impl Params {
    fn widths(&self, features: usize) -> Vec<usize> {
        let mut widths = vec![features];
        widths.extend(&self.hidden);
        widths.push(1);
        widths
    }
}

/// The scorer, and the list shape it reads.
pub struct ItemMlp {
    mlp: Mlp,
    items: usize,
    features: usize,
}

impl Model for ItemMlp {
    fn forward(&self, x: &Tensor, dropout: Option<&mut Stream>) -> Result<Tensor> {
        let n = x.dim(0)?;
        let items = x.reshape((n * self.items, self.features))?;
        Ok(self.mlp.run(&items, dropout)?.reshape((n, self.items))?)
    }
    fn vars(&self) -> Vec<Var> {
        self.mlp.vars.clone()
    }
    fn linear_layers(&self) -> Vec<(Tensor, Option<Tensor>)> {
        self.mlp.layers.iter().map(|l| (l.weight().clone(), l.bias().cloned())).collect()
    }
}

impl ModelSpec for Params {
    fn check(&self, input: InputKind) -> Result<()> {
        check_widths(&self.widths(list_shape(input)?.1))
    }
    fn size(&self, input: InputKind, _outputs: usize) -> Result<super::ModelSize> {
        let (items, features) = list_shape(input)?;
        let per_item = super::ModelSize::of_widths(&self.widths(features), 0.0, 0.0);
        Ok(super::ModelSize { weights: per_item.weights, activations_per_row: per_item.activations_per_row * items as f64 })
    }
    fn instantiate(&self, input: InputKind, outputs: usize, init: &Init) -> Result<Box<dyn Model>> {
        let (items, features) = list_shape(input)?;
        if outputs != items {
            return Err(Error::input(format!("model `item_mlp` gives one score per item ({items}), but the task wants {outputs} outputs")));
        }
        let widths = self.widths(features);
        check_widths(&widths)?;
        let (layers, vars) = layers(&widths, true, init, 0)?;
        let mlp = Mlp { layers, vars, activation: self.activation, dropout: self.dropout, head: Head::Linear };
        Ok(Box::new(ItemMlp { mlp, items, features }))
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "item_mlp",
    summary: "per-item scorer for ranking lists: one MLP from an item's features to its score, shared by all items",
    params: &[
        ParamDoc { name: "hidden", meaning: "hidden-layer widths", range: "list of 1..2^20", default: "[64]" },
        ParamDoc { name: "activation", meaning: "activation function", range: "relu | gelu | tanh", default: "relu" },
        ParamDoc { name: "dropout", meaning: "dropout probability after each hidden layer", range: "0 ≤ p ≤ 0.95", default: "0.0" },
    ],
    build: super::build_params::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn every_item_gets_the_score_the_shared_mlp_gives_it_alone() {
        let init = Init { seed: 1, dtype: DType::F64, device: Device::Cpu };
        let (spec, _) = (INFO.build)(&serde_json::json!({"hidden": [5]})).unwrap();
        let input = InputKind::Items { items: 3, features: 2 };
        let model = spec.instantiate(input, 3, &init).unwrap();
        let x = Tensor::new(&[[1.0f64, 2.0, -1.0, 0.5, 0.0, 0.0], [3.0, -2.0, 1.0, 2.0, 0.5, 0.5]], &Device::Cpu).unwrap();
        let scores = model.forward(&x, None).unwrap().to_vec2::<f64>().unwrap();
        assert_eq!((scores.len(), scores[0].len()), (2, 3));
        let second = model.forward(&x.narrow(0, 1, 1).unwrap(), None).unwrap().to_vec2::<f64>().unwrap();
        assert_eq!(second[0], scores[1], "a list's scores do not depend on the other lists");
        // Item 2 of list 1 alone, padded with its own features in every slot.
        let alone = Tensor::new(&[[0.5f64, 0.5, 0.5, 0.5, 0.5, 0.5]], &Device::Cpu).unwrap();
        let same = model.forward(&alone, None).unwrap().to_vec2::<f64>().unwrap();
        assert!(same[0].iter().all(|s| (s - scores[1][2]).abs() < 1e-12), "{same:?} vs {}", scores[1][2]);
    }

    #[test]
    fn rows_of_features_are_refused_with_the_model_to_use() {
        let (spec, _) = (INFO.build)(&serde_json::Value::Null).unwrap();
        let err = spec.check(InputKind::Dense { features: 4 }).unwrap_err().to_string();
        assert!(err.contains("use `mlp`"), "{err}");
    }
}
