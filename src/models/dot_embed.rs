//! Dot-product embedding model for recommendation (catalog §2.2 F8; matrix factorisation as in
//! IR-Benchmark's MF): a user embedding and an item embedding table; a row
//! `[user, item_1, …, item_m]` of ids scores each item against the user,
//! `cos(e_user, e_item)` (default, the similarity the authors' softmax and PSL code uses) or
//! `e_userᵀ e_item`. Training rows hold a positive and its sampled negatives, evaluation rows
//! every item.

use super::{Init, Model, ModelInfo, ModelSpec};
use crate::data::InputKind;
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::Stream;
use candle_core::{DType, Tensor, Var, D};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Score {
    #[default]
    Cosine,
    Dot,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub dim: usize,
    pub score: Score,
    pub init_std: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { dim: 32, score: Score::Cosine, init_std: 0.1 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("dim", self.dim as f64, 1.0, 65536.0)?;
        check_range("init_std", self.init_std, 1e-6, 10.0)
    }
}

/// Users and items of an interaction input.
fn ids(input: InputKind) -> Result<(usize, usize)> {
    match input {
        InputKind::Interactions { users, items } => Ok((users, items)),
        _ => Err(Error::input("model `dot_embed` embeds user and item ids; the dataset gives no interactions (recsys_synth does)")),
    }
}

pub struct DotEmbed {
    users: Var,
    items: Var,
    score: Score,
}

impl Model for DotEmbed {
    fn forward(&self, x: &Tensor, _dropout: Option<&mut Stream>) -> Result<Tensor> {
        let (n, width) = x.dims2()?;
        let ids = x.to_dtype(DType::U32)?;
        let mut user = self.users.as_tensor().index_select(&ids.narrow(1, 0, 1)?.flatten_all()?, 0)?; // [n, d]
        let item_ids = ids.narrow(1, 1, width - 1)?.flatten_all()?;
        let mut items = self.items.as_tensor().index_select(&item_ids, 0)?.reshape((n, width - 1, ()))?; // [n, m, d]
        if self.score == Score::Cosine {
            user = crate::families::metric_learning::l2_normalize(&user)?;
            items = crate::families::metric_learning::l2_normalize(&items)?;
        }
        Ok(items.broadcast_mul(&user.unsqueeze(1)?)?.sum(D::Minus1)?)
    }
    fn vars(&self) -> Vec<Var> {
        vec![self.users.clone(), self.items.clone()]
    }
}

impl ModelSpec for Params {
    fn check(&self, input: InputKind) -> Result<()> {
        ids(input).map(|_| ())
    }
    /// The tables, and an evaluation row's item embeddings (every item, normalised copies).
    fn size(&self, input: InputKind, _outputs: usize) -> Result<super::ModelSize> {
        let (users, items) = ids(input)?;
        let weights = ((users + items) * self.dim) as f64;
        Ok(super::ModelSize { weights, activations_per_row: (items + 1) as f64 * (self.dim as f64 * 3.0 + 1.0) })
    }
    fn instantiate(&self, input: InputKind, _outputs: usize, init: &Init) -> Result<Box<dyn Model>> {
        let (users, items) = ids(input)?;
        let users = Var::from_tensor(&init.normal(&[users, self.dim], self.init_std, 0)?)?;
        let items = Var::from_tensor(&init.normal(&[items, self.dim], self.init_std, 1)?)?;
        Ok(Box::new(DotEmbed { users, items, score: self.score }))
    }
}

pub static INFO: ModelInfo = ModelInfo {
    name: "dot_embed",
    summary: "user and item embedding tables; an item's score is the cosine (or dot product) of its embedding with the user's",
    params: &[
        ParamDoc { name: "dim", meaning: "embedding dimension", range: "1..65536", default: "32" },
        ParamDoc { name: "score", meaning: "similarity of user and item embeddings", range: "cosine | dot", default: "cosine" },
        ParamDoc { name: "init_std", meaning: "std of the N(0, σ²) initial embeddings", range: "> 0", default: "0.1" },
    ],
    build: super::build_params::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn scores_are_cosines_of_the_user_with_each_item() {
        let init = Init { seed: 2, dtype: DType::F64, device: Device::Cpu };
        let (spec, _) = (INFO.build)(&serde_json::json!({"dim": 3})).unwrap();
        let model = spec.instantiate(InputKind::Interactions { users: 4, items: 5 }, 3, &init).unwrap();
        let x = Tensor::new(&[[1.0f32, 0.0, 4.0, 2.0], [3.0, 2.0, 2.0, 1.0]], &Device::Cpu).unwrap();
        let s = model.forward(&x, None).unwrap().to_vec2::<f64>().unwrap();
        let vars = model.vars();
        let (u, v) = (vars[0].as_tensor().to_vec2::<f64>().unwrap(), vars[1].as_tensor().to_vec2::<f64>().unwrap());
        let cos = |a: &[f64], b: &[f64]| {
            let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            dot / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
        };
        assert!((s[0][1] - cos(&u[1], &v[4])).abs() < 1e-12 && (s[1][2] - cos(&u[3], &v[1])).abs() < 1e-12, "{s:?}");
        assert_eq!(s[1][0], s[1][1], "item 2 twice, the same score");
    }
}
