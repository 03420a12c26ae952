//! `tpsgd` — target-projection training without a global backward pass (S014), reconstructed:
//! every hidden layer learns from a local target, every layer's input is detached.
//!
//! ```text
//! B_l ~ N(0, 1/C)  [C, d_l], fixed (seeded) per hidden layer l;   t_l = e_yᵀ B_l  (row y of B_l)
//! ℓ_i = ℓ_task(head(sg h_L(x_i)), y_i) + weight·Σ_l ½·mean_j (h_l(sg h_{l−1}(x_i))_j − t_l,j)²
//! ```
//! Each hidden layer's weights receive only the gradient of its own local loss; the output
//! layer receives the task loss's gradient (its input detached). Forward values are the
//! ordinary ones, so evaluation is unchanged. Needs an `mlp` or `linear` model. Logged: the
//! local losses (unweighted, summed over layers, batch mean).
//!
//! Reference: S014 (target-projection SGD) [recon: the catalog's description — it generalises
//! DRTP; the paper's exact local loss was not retrieved; the width-normalised squared error
//! and `N(0, 1/C)` projections are the catalog's choice]; Frenkel, Lefebvre & Bol, *Learning
//! Without Feedback: Fixed Random Learning Signals Allow for Feedforward Training of Deep
//! Neural Networks* (DRTP), Frontiers in Neuroscience 2021.

use super::{Active, Kind, Regularizer, RegularizerInfo, Start, TaskLoss};
use crate::error::{Error, Result};
use crate::models::Model;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::{Family, Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "tpsgd",
    kind: Kind::Forward,
    families: &[Family::Classification],
    summary: "target-projection training: hidden layers fit fixed random projections of the label, inputs detached",
    formula: "ℓ = ℓ_task(head(sg h_L)) + weight·Σ_l ½·mean_j (h_l(sg h_{l−1}) − e_yᵀB_l)_j²,  B_l ~ N(0, 1/C) fixed",
    reference: "S014 [recon]; Frenkel et al., DRTP, Front. Neurosci. 2021",
    params: &[ParamDoc { name: "weight", meaning: "weight of the local losses", range: "0 ≤ w ≤ 100", default: "1.0" }],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 1.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 100.0)
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let layers = run.model.linear_layers();
        let probe = Tensor::zeros(
            (1, layers.first().map(|(w, _)| w.dim(1)).transpose()?.unwrap_or(1)),
            layers.first().map_or(candle_core::DType::F32, |(w, _)| w.dtype()),
            &candle_core::Device::Cpu,
        )?;
        if layers.is_empty() || run.model.forward_local(&probe, None).map_or(true, |o| o.is_none()) {
            return Err(Error::input("regularizer `tpsgd` needs an `mlp` or `linear` model"));
        }
        let classes = layers.last().map(|(w, _)| w.dim(0)).transpose()?.unwrap_or(0);
        let mut projections = Vec::new();
        for (l, (w, _)) in layers[..layers.len() - 1].iter().enumerate() {
            let width = w.dim(0)?;
            let mut rng = Stream::new(run.seed, Purpose::Regularizer, 2_000 + l as u64);
            let std = 1.0 / (classes.max(1) as f64).sqrt();
            let b: Vec<f64> = (0..classes * width).map(|_| std * rng.normal()).collect();
            projections.push(Tensor::from_vec(b, (classes, width), w.device())?.to_dtype(w.dtype())?);
        }
        Ok(Box::new(State { weight: self.weight, projections, last: None }))
    }
}

struct State {
    weight: f64,
    /// `B_l [C, d_l]` per hidden layer.
    projections: Vec<Tensor>,
    /// Batch mean of the (unweighted) local losses, summed over the layers.
    last: Option<f64>,
}

impl Active for State {
    fn task_loss(
        &mut self,
        model: &dyn Model,
        x: &Tensor,
        pred: &Prediction,
        target: &Target,
        loss: TaskLoss,
        rng: &mut Stream,
    ) -> Result<Option<Tensor>> {
        let Target::Classes(y) = target else { return Err(Error::input("regularizer `tpsgd` needs class labels")) };
        let Some((hidden, out)) = model.forward_local(x, Some(rng))? else {
            return Err(Error::input("regularizer `tpsgd` needs an `mlp` or `linear` model"));
        };
        let local_pred = Prediction { out, ids: pred.ids.clone(), embedding: hidden.last().cloned().or_else(|| pred.embedding.clone()) };
        let mut per = loss(&local_pred, target)?;
        let mut logged = 0.0;
        for (h, b) in hidden.iter().zip(&self.projections) {
            let t = b.index_select(y, 0)?; // [n, d_l]
            let local = ((h - t)?.sqr()?.mean(1)? * 0.5)?;
            logged += local.mean_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            per = (per + (local * self.weight)?)?;
        }
        self.last = Some(logged);
        Ok(Some(per))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::rng::{Purpose, Stream};
    use crate::task::Prediction;

    /// The first layer's gradient comes only from its local loss (the task loss does not
    /// reach it), and the output layer's only from the task loss.
    #[test]
    fn gradients_stay_local() {
        let model = model(&[6], 3, 3);
        let x = inputs(8, 3, 2);
        let y = classes(8, 3);
        let (ce, _) = (crate::losses::cross_entropy::INFO.build)(&serde_json::json!({})).unwrap();
        let loss = |p: &Prediction, t: &crate::task::Target| ce.forward(p, t);
        let (out, embedding) = model.forward_with_embedding(&x, None).unwrap();
        let pred = Prediction { out, ids: None, embedding };
        let grads_for = |w: f64| {
            let mut reg = start("tpsgd", serde_json::json!({"weight": w}), model.as_ref());
            let mut rng = Stream::new(0, Purpose::Regularizer, 0);
            let per = reg.task_loss(model.as_ref(), &x, &pred, &y, &loss, &mut rng).unwrap().unwrap();
            per.mean_all().unwrap().backward().unwrap()
        };
        let layers = model.linear_layers();
        let (w0, w1) = (&layers[0].0, &layers[1].0);
        // weight 0: no local loss → the first layer gets no gradient at all.
        let g = grads_for(0.0);
        assert!(g.get(w0).is_none_or(|t| t.abs().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap() == 0.0));
        let task_out = g.get(w1).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        // weight 1: the first layer now learns; the output layer's gradient is unchanged.
        let g = grads_for(1.0);
        assert!(g.get(w0).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap() > 0.0);
        assert_eq!(g.get(w1).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap(), task_out);
    }
}
