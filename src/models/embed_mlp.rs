//! Token-embedding MLP for token-pair inputs (modular arithmetic with `encoding: tokens`):
//! each token id is embedded (`N(0, 1)` init, as `torch.nn.Embedding`), the embeddings are
//! concatenated and fed to an MLP. Defaults follow S135's grokking MLP (hidden [200, 200],
//! no bias).

use super::mlp::{layers_with_head, Mlp};
use super::{Activation, Head, Init, Model, ModelInfo, ModelSpec};
use crate::data::InputKind;
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::Stream;
use candle_core::{DType, Tensor, Var};
use candle_nn::{Embedding, Module};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub embed_dim: usize,
    pub hidden: Vec<usize>,
    pub activation: Activation,
    pub dropout: f64,
    pub bias: bool,
    pub head: Head,
}

impl Default for Params {
    fn default() -> Self {
        Params { embed_dim: 64, hidden: vec![200, 200], activation: Activation::Relu, dropout: 0.0, bias: false, head: Head::Linear }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("embed_dim", self.embed_dim as f64, 1.0, 65536.0)?;
        check_range("dropout", self.dropout, 0.0, 0.95)?;
        super::check_hidden(&self.hidden)
    }
}

struct EmbedMlp {
    embedding: Embedding,
    table: Var,
    mlp: Mlp,
}

impl Model for EmbedMlp {
    fn forward(&self, x: &Tensor, dropout: Option<&mut Stream>) -> Result<Tensor> {
        let ids = x.to_dtype(DType::U32)?;
        let e = self.embedding.forward(&ids)?; // [n, len, dim]
        let e = e.flatten_from(1)?;
        self.mlp.run(&e, dropout)
    }
    fn forward_with_embedding(&self, x: &Tensor, dropout: Option<&mut Stream>) -> Result<(Tensor, Option<Tensor>)> {
        let ids = x.to_dtype(DType::U32)?;
        let e = self.embedding.forward(&ids)?.flatten_from(1)?;
        let (out, embedding) = self.mlp.run_with_embedding(&e, dropout)?;
        Ok((out, Some(embedding)))
    }
    fn vars(&self) -> Vec<Var> {
        let mut vars = vec![self.table.clone()];
        vars.extend(self.mlp.vars.iter().cloned());
        vars
    }
    fn head(&self, h: &Tensor) -> Result<Option<Tensor>> {
        self.mlp.head(h)
    }
    fn linear_layers(&self) -> Vec<(Tensor, Option<Tensor>)> {
        self.mlp.linear_layers()
    }
}

impl ModelSpec for Params {
    fn check(&self, input: InputKind) -> Result<()> {
        match input {
            InputKind::Tokens { len, .. } => {
                let mut widths = vec![len * self.embed_dim];
                widths.extend(&self.hidden);
                super::check_widths(&widths)
            }
            InputKind::Dense { .. } => Err(Error::input(
                "model `embed_mlp` needs token ids (e.g. modular_arith with `encoding: tokens`), but the dataset gives real-valued features; use `mlp`",
            )),
            InputKind::Items { .. } => Err(Error::input(
                "model `embed_mlp` needs token ids, but the dataset gives lists of items to rank; use `item_mlp`",
            )),
            InputKind::Interactions { .. } => Err(Error::input(
                "model `embed_mlp` needs token ids, but the dataset gives user and item ids; use `dot_embed`",
            )),
        }
    }
    fn size(&self, input: InputKind, outputs: usize) -> Result<super::ModelSize> {
        self.check(input)?;
        let InputKind::Tokens { vocab, len } = input else {
            return Err(crate::error::Error::input("model `embed_mlp` needs token ids"));
        };
        let mut widths = vec![len * self.embed_dim];
        widths.extend(&self.hidden);
        widths.push(outputs);
        Ok(super::ModelSize::of_widths(&widths, (vocab * self.embed_dim) as f64, (len * self.embed_dim) as f64))
    }
    fn instantiate(&self, input: InputKind, outputs: usize, init: &Init) -> Result<Box<dyn Model>> {
        self.check(input)?;
        let InputKind::Tokens { vocab, len } = input else {
            return Err(crate::error::Error::input("model `embed_mlp` needs token ids"));
        };
        let table = init.normal(&[vocab, self.embed_dim], 1.0, 1000)?;
        let (map, vb) = init.var_builder(vec![("embedding".to_string(), table)])?;
        let embedding = Embedding::new(vb.get((vocab, self.embed_dim), "embedding")?, self.embed_dim);
        let table = map
            .data()
            .lock()
            .map_err(|_| Error::runtime("poisoned VarMap lock"))?
            .get("embedding")
            .cloned()
            .ok_or_else(|| Error::runtime("embedding table missing from VarMap"))?;
        let mut widths = vec![len * self.embed_dim];
        widths.extend(&self.hidden);
        widths.push(outputs);
        super::check_widths(&widths)?;
        let (layers, vars) = layers_with_head(&widths, self.bias, self.head, init)?;
        let mlp = Mlp { layers, vars, activation: self.activation, dropout: self.dropout, head: self.head };
        Ok(Box::new(EmbedMlp { embedding, table, mlp }))
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "embed_mlp",
    summary: "token embeddings, concatenated, then an MLP (modular arithmetic with token input)",
    params: &[
        ParamDoc { name: "embed_dim", meaning: "embedding width per token", range: "1..65536", default: "64" },
        ParamDoc { name: "hidden", meaning: "hidden-layer widths", range: "list of 1..2^20", default: "[200, 200]" },
        ParamDoc { name: "activation", meaning: "activation function", range: "relu | gelu | tanh", default: "relu" },
        ParamDoc { name: "dropout", meaning: "dropout probability after each hidden layer", range: "0 ≤ p ≤ 0.95", default: "0.0" },
        ParamDoc { name: "bias", meaning: "use biases in the MLP", range: "true | false", default: "false (S135)" },
        ParamDoc {
            name: "head",
            meaning: "output layer: linear, or the harmonic distance head of S169",
            range: "linear | harmonic",
            default: "linear",
        },
    ],
    build: super::build_params::<Params>,
};
