//! Multi-layer perceptron: `Linear → act → dropout` per hidden layer, then a linear head.

use super::{check_widths, dense_features, dropout, harmonic_logits, Activation, Head, Init, Model, ModelInfo, ModelSpec};
use crate::data::InputKind;
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::Stream;
use candle_core::{Tensor, Var};
use candle_nn::Linear;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub dropout: f64,
    pub bias: bool,
    pub head: Head,
}

impl Default for Params {
    fn default() -> Self {
        Params { hidden: vec![128, 128], activation: Activation::Relu, dropout: 0.0, bias: true, head: Head::Linear }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("dropout", self.dropout, 0.0, 0.95)?;
        super::check_hidden(&self.hidden)
    }
}

/// Build linear layers `widths[i] → widths[i+1]` through a VarBuilder, seeded per layer.
pub fn layers(widths: &[usize], bias: bool, init: &Init, first_axis: u64) -> Result<(Vec<Linear>, Vec<Var>)> {
    let mut tensors = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        tensors.extend(init.linear(&format!("l{i}"), w[0], w[1], bias, first_axis + i as u64)?);
    }
    let (map, vb) = init.var_builder(tensors)?;
    let mut out = Vec::new();
    for (i, w) in widths.windows(2).enumerate() {
        out.push(candle_nn::linear_b(w[0], w[1], bias, vb.pp(format!("l{i}")))?);
    }
    let mut vars: Vec<(String, Var)> =
        map.data().lock().map_err(|_| Error::runtime("poisoned VarMap lock"))?.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok((out, vars.into_iter().map(|(_, v)| v).collect()))
}

/// Layers for an MLP whose output layer is `head`: a harmonic head has no bias.
pub fn layers_with_head(widths: &[usize], bias: bool, head: Head, init: &Init) -> Result<(Vec<Linear>, Vec<Var>)> {
    if head == Head::Linear || !bias {
        return layers(widths, bias, init, 0);
    }
    let (mut hidden, mut vars) = layers(&widths[..widths.len() - 1], bias, init, 0)?;
    let last = widths.len() - 2;
    let (out, out_vars) = layers(&widths[last..], false, init, last as u64)?;
    hidden.extend(out);
    vars.extend(out_vars);
    Ok((hidden, vars))
}

pub struct Mlp {
    pub layers: Vec<Linear>,
    pub vars: Vec<Var>,
    pub activation: Activation,
    pub dropout: f64,
    pub head: Head,
}

impl Mlp {
    /// The output layer: linear, or the harmonic distance head.
    pub fn apply_head(&self, h: &Tensor) -> Result<Tensor> {
        let Some(layer) = self.layers.last() else { return Ok(h.clone()) };
        Ok(match self.head {
            Head::Harmonic => harmonic_logits(h, layer.weight())?,
            Head::Linear => super::ops::linear(h, layer.weight(), layer.bias())?,
        })
    }

    pub fn run(&self, x: &Tensor, rng: Option<&mut Stream>) -> Result<Tensor> {
        Ok(self.run_with_embedding(x, rng)?.0)
    }

    /// Outputs and the input of the output layer (for a linear model, the input itself).
    pub fn run_with_embedding(&self, x: &Tensor, mut rng: Option<&mut Stream>) -> Result<(Tensor, Tensor)> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        let mut embedding = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            if i == last {
                embedding = h.clone();
            }
            h = if i == last { self.apply_head(&h)? } else { super::ops::linear(&h, layer.weight(), layer.bias())? };
            if i < last {
                h = self.activation.apply(&h)?;
                if let Some(rng) = rng.as_deref_mut() {
                    h = dropout(&h, self.dropout, rng)?;
                }
            }
        }
        Ok((h, embedding))
    }
}

impl Model for Mlp {
    fn forward(&self, x: &Tensor, dropout: Option<&mut Stream>) -> Result<Tensor> {
        self.run(x, dropout)
    }
    fn forward_with_embedding(&self, x: &Tensor, dropout: Option<&mut Stream>) -> Result<(Tensor, Option<Tensor>)> {
        let (out, embedding) = self.run_with_embedding(x, dropout)?;
        Ok((out, Some(embedding)))
    }
    fn vars(&self) -> Vec<Var> {
        self.vars.clone()
    }
    fn head(&self, h: &Tensor) -> Result<Option<Tensor>> {
        self.apply_head(h).map(Some)
    }
    fn forward_local(&self, x: &Tensor, mut rng: Option<&mut Stream>) -> Result<Option<(Vec<Tensor>, Tensor)>> {
        let last = self.layers.len() - 1;
        let mut h = x.clone();
        let mut hidden = Vec::with_capacity(last);
        for layer in &self.layers[..last] {
            let mut a = self.activation.apply(&super::ops::linear(&h.detach(), layer.weight(), layer.bias())?)?;
            if let Some(rng) = rng.as_deref_mut() {
                a = dropout(&a, self.dropout, rng)?;
            }
            hidden.push(a.clone());
            h = a;
        }
        Ok(Some((hidden, self.apply_head(&h.detach())?)))
    }
    fn linear_layers(&self) -> Vec<(Tensor, Option<Tensor>)> {
        self.layers.iter().map(|l| (l.weight().clone(), l.bias().cloned())).collect()
    }
}

impl ModelSpec for Params {
    fn check(&self, input: InputKind) -> Result<()> {
        let mut widths = vec![dense_features(input, "mlp")?];
        widths.extend(&self.hidden);
        check_widths(&widths)
    }
    fn size(&self, input: InputKind, outputs: usize) -> Result<super::ModelSize> {
        let mut widths = vec![dense_features(input, "mlp")?];
        widths.extend(&self.hidden);
        widths.push(outputs);
        Ok(super::ModelSize::of_widths(&widths, 0.0, 0.0))
    }
    fn instantiate(&self, input: InputKind, outputs: usize, init: &Init) -> Result<Box<dyn Model>> {
        let mut widths = vec![dense_features(input, "mlp")?];
        widths.extend(&self.hidden);
        widths.push(outputs);
        check_widths(&widths)?;
        let (layers, vars) = layers_with_head(&widths, self.bias, self.head, init)?;
        Ok(Box::new(Mlp { layers, vars, activation: self.activation, dropout: self.dropout, head: self.head }))
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "mlp",
    summary: "multi-layer perceptron: [Linear → activation → dropout] × hidden, then a linear head",
    params: &[
        ParamDoc { name: "hidden", meaning: "hidden-layer widths", range: "list of 1..2^20", default: "[128, 128]" },
        ParamDoc { name: "activation", meaning: "activation function", range: "relu | gelu | tanh", default: "relu" },
        ParamDoc { name: "dropout", meaning: "dropout probability after each hidden layer", range: "0 ≤ p ≤ 0.95", default: "0.0" },
        ParamDoc { name: "bias", meaning: "use biases", range: "true | false", default: "true" },
        ParamDoc {
            name: "head",
            meaning: "output layer: linear, or the harmonic distance head of S169 (use with the `harmonic` loss)",
            range: "linear | harmonic",
            default: "linear",
        },
    ],
    build: super::build_params::<Params>,
};
