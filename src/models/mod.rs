//! Models: built through candle-nn's `VarBuilder` over a `VarMap` that lossbench fills first
//! with weights drawn from its own seeded [`Stream`] (Candle's CPU RNG cannot be seeded), so the
//! same seed gives the same initial weights for every loss in a comparison.

pub mod dot_embed;
pub mod embed_mlp;
pub mod item_mlp;
pub mod linear;
pub mod mlp;
pub mod ops;
pub mod two_layer;

use crate::data::InputKind;
use crate::error::{Error, Result};
use crate::registry::{Named, ParamDoc};
use crate::rng::{Purpose, Stream};
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

/// A model instance for one run.
pub trait Model: Send {
    /// Outputs `[n, out]`. `dropout` is `Some` in training mode and supplies the masks.
    fn forward(&self, x: &Tensor, dropout: Option<&mut Stream>) -> Result<Tensor>;
    /// Outputs and the penultimate representation (the input of the output layer).
    fn forward_with_embedding(&self, x: &Tensor, dropout: Option<&mut Stream>) -> Result<(Tensor, Option<Tensor>)> {
        Ok((self.forward(x, dropout)?, None))
    }
    /// Trainable parameters, in a fixed order.
    fn vars(&self) -> Vec<Var>;
    /// The output layer applied to a penultimate representation (the embedding returned by
    /// [`Model::forward_with_embedding`]), for regularizers that resample it
    /// (`multi_sample_dropout`). `None` when the model has no separable output layer.
    fn head(&self, _h: &Tensor) -> Result<Option<Tensor>> {
        Ok(None)
    }
    /// A forward pass in which every layer's input is detached (for layer-local training,
    /// `tpsgd`): the hidden activations (after the nonlinearity) and the outputs. Values equal
    /// the ordinary forward pass; gradients stop at each layer. `None` when not supported.
    fn forward_local(&self, _x: &Tensor, _dropout: Option<&mut Stream>) -> Result<Option<(Vec<Tensor>, Tensor)>> {
        Ok(None)
    }
    /// The linear layers as `(weight [out, in], bias [out])`, input to output; the last one is
    /// the output layer. Regularizers on weight matrices (spectral_reg, orthogonal_reg,
    /// rationale_invariance) read them.
    fn linear_layers(&self) -> Vec<(Tensor, Option<Tensor>)> {
        Vec::new()
    }
}

/// The sizes of a model that decide its memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelSize {
    pub weights: f64,
    /// Values computed per row in a forward pass (every layer's input and output).
    pub activations_per_row: f64,
}

impl ModelSize {
    /// A stack of linear layers `widths[i] → widths[i + 1]` (with biases), plus `extra` weights
    /// and `extra_activations` per row (an embedding table and its lookups).
    pub fn of_widths(widths: &[usize], extra: f64, extra_activations: f64) -> ModelSize {
        let weights: f64 = widths.windows(2).map(|w| (w[0] as f64 + 1.0) * w[1] as f64).sum();
        // Pre- and post-activation values of every layer.
        let activations: f64 = widths.iter().map(|&w| 2.0 * w as f64).sum();
        ModelSize { weights: weights + extra, activations_per_row: activations + extra_activations }
    }
}

/// Most hidden layers a model may have: deeper stacks are a typo here, and autograd recurses
/// once per layer.
pub const MAX_LAYERS: usize = 100;

/// Reject a list of hidden widths with a zero, an absurd width, or too many layers.
pub fn check_hidden(hidden: &[usize]) -> Result<()> {
    if hidden.iter().any(|&h| h == 0 || h > 1 << 20) {
        return Err(Error::input(format!(
            "parameter `hidden` = {}: every width must be between 1 and 1048576",
            crate::error::truncate(&format!("{hidden:?}"), 80)
        )));
    }
    if hidden.len() > MAX_LAYERS {
        return Err(Error::input(format!("parameter `hidden` has {} layers; the limit is {MAX_LAYERS}", hidden.len())));
    }
    Ok(())
}

/// A parsed model entry: checks the input kind at resolve, builds instances per run.
pub trait ModelSpec: Send + Sync {
    fn check(&self, input: InputKind) -> Result<()>;
    /// Weights and activations of an instance with `outputs` outputs (for memory estimates).
    fn size(&self, input: InputKind, outputs: usize) -> Result<ModelSize>;
    fn instantiate(&self, input: InputKind, outputs: usize, init: &Init) -> Result<Box<dyn Model>>;
}

/// A registry entry for a model.
pub struct ModelInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamDoc],
    pub build: fn(&serde_json::Value) -> crate::registry::Built<dyn ModelSpec>,
}

impl Named for ModelInfo {
    fn name(&self) -> &'static str {
        self.name
    }
}

pub static MODELS: &[&ModelInfo] = &[&dot_embed::INFO, &embed_mlp::INFO, &item_mlp::INFO, &linear::INFO, &mlp::INFO, &two_layer::INFO];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    #[default]
    Relu,
    Gelu,
    Tanh,
}

/// The output layer of an MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// `z = W h + b`.
    #[default]
    Linear,
    /// Harmonic (distance) head of S169: class centres `W [C, D]`, no bias,
    /// `z_c = −log(‖h − w_c‖² + 1e-4)`; softmax of `n·z` is the harmonic probability
    /// `p_c ∝ (d²_c)^{−n}` (see the `harmonic` loss). Arg-max of z = nearest centre.
    Harmonic,
}

/// `ε` added to squared distances in the harmonic head (the authors' `DistLayer` default).
pub const HARMONIC_EPS: f64 = 1e-4;

/// Harmonic head: `z_ic = −log(max(‖h_i‖² + ‖w_c‖² − 2 h_i·w_c, 0) + ε)`.
pub fn harmonic_logits(h: &Tensor, w: &Tensor) -> Result<Tensor> {
    let hh = h.sqr()?.sum_keepdim(1)?; // [n, 1]
    let ww = w.sqr()?.sum_keepdim(1)?.t()?; // [1, c]
    let hw = h.matmul(&w.t()?)?; // [n, c]
    let d2 = (hh.broadcast_add(&ww)? - (hw * 2.0)?)?;
    // The expansion can dip below 0 by rounding when h ≈ w_c; clamp before adding ε.
    Ok((d2.relu()? + HARMONIC_EPS)?.log()?.neg()?)
}

impl Activation {
    pub fn apply(self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Activation::Relu => ops::relu(x).map_err(|e| candle_core::Error::Msg(e.to_string())),
            // Exact (erf) GELU, PyTorch's default.
            Activation::Gelu => x.gelu_erf(),
            Activation::Tanh => x.tanh(),
        }
    }
}

/// Where and how to create a run's initial weights.
pub struct Init {
    pub seed: u64,
    pub dtype: DType,
    pub device: Device,
}

impl Init {
    /// A `VarBuilder` over a fresh `VarMap` holding the given named tensors.
    pub fn var_builder(&self, tensors: Vec<(String, Tensor)>) -> Result<(VarMap, VarBuilder<'static>)> {
        let map = VarMap::new();
        {
            let mut data = map.data().lock().map_err(|_| Error::runtime("poisoned VarMap lock"))?;
            for (name, t) in tensors {
                data.insert(name, Var::from_tensor(&t)?);
            }
        }
        let vb = VarBuilder::from_varmap(&map, self.dtype, &self.device);
        Ok((map, vb))
    }

    /// `U(−bound, bound)` values of the given shape from the init stream `axis`.
    pub fn uniform(&self, shape: &[usize], bound: f64, axis: u64) -> Result<Tensor> {
        let mut rng = Stream::new(self.seed, Purpose::Init, axis);
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n).map(|_| rng.uniform_in(-bound, bound)).collect();
        Ok(Tensor::from_vec(values, shape, &self.device)?.to_dtype(self.dtype)?)
    }

    /// `N(0, std²)` values of the given shape from the init stream `axis`.
    pub fn normal(&self, shape: &[usize], std: f64, axis: u64) -> Result<Tensor> {
        let mut rng = Stream::new(self.seed, Purpose::Init, axis);
        let n: usize = shape.iter().product();
        let values: Vec<f64> = (0..n).map(|_| std * rng.normal()).collect();
        Ok(Tensor::from_vec(values, shape, &self.device)?.to_dtype(self.dtype)?)
    }

    /// PyTorch's default `nn.Linear` init: weight and bias `U(−1/√fan_in, 1/√fan_in)`
    /// (kaiming_uniform with a = √5). Returns named tensors `{prefix}.weight` / `{prefix}.bias`.
    pub fn linear(&self, prefix: &str, fan_in: usize, fan_out: usize, bias: bool, axis: u64) -> Result<Vec<(String, Tensor)>> {
        let bound = 1.0 / (fan_in as f64).sqrt();
        let mut out = vec![(format!("{prefix}.weight"), self.uniform(&[fan_out, fan_in], bound, 2 * axis)?)];
        if bias {
            out.push((format!("{prefix}.bias"), self.uniform(&[fan_out], bound, 2 * axis + 1)?));
        }
        Ok(out)
    }
}

/// Inverted dropout with a seeded mask: keep with probability `1 − p`, scale by `1/(1 − p)`.
pub fn dropout(x: &Tensor, p: f64, rng: &mut Stream) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let scale = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.elem_count()).map(|_| if rng.uniform() >= p { scale as f32 } else { 0.0 }).collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device())?.to_dtype(x.dtype())?;
    Ok(x.mul(&mask)?)
}

/// Largest weight matrix a model may have (2^28 entries, 1 GiB in f32).
pub const MAX_WEIGHTS: usize = 1 << 28;

/// Reject consecutive layer widths whose weight matrices exceed [`MAX_WEIGHTS`].
pub fn check_widths(widths: &[usize]) -> Result<()> {
    for w in widths.windows(2) {
        if w[0].saturating_mul(w[1]) > MAX_WEIGHTS {
            return Err(Error::input(format!(
                "a {} × {} layer has {} weights; lossbench's limit per layer is {MAX_WEIGHTS} (2^28)",
                w[0],
                w[1],
                w[0].saturating_mul(w[1])
            )));
        }
    }
    Ok(())
}

/// Input width of a dense model, or an error explaining which model fits token input.
pub fn dense_features(input: InputKind, model: &str) -> Result<usize> {
    match input {
        InputKind::Dense { features } => Ok(features),
        InputKind::Tokens { .. } => Err(Error::input(format!(
            "model `{model}` needs real-valued features, but the dataset gives token ids; use `embed_mlp`, or `encoding: onehot` for modular_arith"
        ))),
        InputKind::Items { .. } => Err(Error::input(format!(
            "model `{model}` reads one row of features, but the dataset gives lists of items to rank; use `item_mlp`, which scores each item"
        ))),
        InputKind::Interactions { .. } => Err(Error::input(format!(
            "model `{model}` reads one row of features, but the dataset gives user and item ids; use `dot_embed`"
        ))),
    }
}

/// `build` of a model whose `Params` is itself the `ModelSpec`: parse, validate, canonicalise.
pub(crate) fn build_params<P>(value: &serde_json::Value) -> crate::registry::Built<dyn ModelSpec>
where
    P: ModelSpec + serde::de::DeserializeOwned + serde::Serialize + crate::registry::Validate + 'static,
{
    let (params, canonical) = crate::registry::parse_params::<P>(value)?;
    Ok((std::sync::Arc::new(params), canonical))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_sorted_unique() {
        crate::registry::check_sorted_unique(MODELS).unwrap();
    }

    #[test]
    fn same_seed_same_weights_different_seed_different_weights() {
        let build = |seed| {
            let init = Init { seed, dtype: DType::F32, device: Device::Cpu };
            let (spec, _) = (mlp::INFO.build)(&serde_json::Value::Null).unwrap();
            let model = spec.instantiate(InputKind::Dense { features: 5 }, 3, &init).unwrap();
            model.vars().iter().map(|v| v.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap()).collect::<Vec<_>>()
        };
        assert_eq!(build(1), build(1));
        assert_ne!(build(1), build(2));
    }
}
