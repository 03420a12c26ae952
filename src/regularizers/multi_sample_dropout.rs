//! `multi_sample_dropout` — average the loss over `K` dropout samples of the penultimate
//! features, all through the same output layer (S156):
//! `L = (1/K)·Σ_k ℓ(head(drop_k(h)), y)` with `drop_k` independent inverted-dropout masks of
//! rate `p`. Evaluation uses the plain head (no dropout), as at inference in the paper.
//!
//! The masks come from the run's seeded regularizer stream, the same at every evaluation of a
//! step. Needs a model with a separable output layer (mlp, embed_mlp, linear).
//! Reference: Inoue, *Multi-Sample Dropout for Accelerated Training and Better
//! Generalization*, arXiv:1905.09788 (S156) [recon of the main setting: K = 8, p = 0.5].

use super::{Active, Kind, Regularizer, RegularizerInfo, Start, TaskLoss};
use crate::error::{Error, Result};
use crate::models::{dropout, Model};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::Stream;
use crate::task::{Prediction, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "multi_sample_dropout",
    kind: Kind::Forward,
    families: &[],
    summary: "loss averaged over K dropout samples of the penultimate features through one shared head",
    formula: "L = (1/K)·Σ_k ℓ(head(drop_p,k(h)), y)",
    reference: "Inoue, Multi-Sample Dropout, arXiv:1905.09788 (S156) [recon]",
    params: &[
        ParamDoc { name: "samples", meaning: "number K of dropout samples", range: "1 ≤ K ≤ 64", default: "8" },
        ParamDoc { name: "p", meaning: "dropout rate", range: "0 ≤ p < 1", default: "0.5" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub samples: usize,
    pub p: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { samples: 8, p: 0.5 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("samples", self.samples as f64, 1.0, 64.0)?;
        check_range("p", self.p, 0.0, 0.99)
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let probe = Tensor::zeros((1, 1), candle_core::DType::F32, &candle_core::Device::Cpu)?;
        if run.model.linear_layers().is_empty() || run.model.head(&probe).is_ok_and(|h| h.is_none()) {
            return Err(Error::input(
                "regularizer `multi_sample_dropout` needs a model with a separable output layer (mlp, embed_mlp, linear)",
            ));
        }
        Ok(Box::new(State { params: self.clone() }))
    }
}

struct State {
    params: Params,
}

impl Active for State {
    fn task_loss(
        &mut self,
        model: &dyn Model,
        _x: &Tensor,
        pred: &Prediction,
        target: &Target,
        loss: TaskLoss,
        rng: &mut Stream,
    ) -> Result<Option<Tensor>> {
        let Some(h) = &pred.embedding else {
            return Err(Error::input("regularizer `multi_sample_dropout` needs a model with penultimate features"));
        };
        let mut total: Option<Tensor> = None;
        for _ in 0..self.params.samples {
            let dropped = dropout(h, self.params.p, rng)?;
            let out = model.head(&dropped)?.ok_or_else(|| Error::runtime("model lost its head"))?;
            let sample = Prediction { out, ids: pred.ids.clone(), embedding: Some(dropped) };
            let per = loss(&sample, target)?;
            total = Some(match total {
                None => per,
                Some(t) => (t + per)?,
            });
        }
        let total = total.ok_or_else(|| Error::runtime("no dropout samples"))?;
        Ok(Some((total / self.params.samples as f64)?))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::rng::{Purpose, Stream};
    use crate::task::Prediction;

    /// With p = 0 every sample is the plain head, so the loss equals the plain loss; with
    /// p > 0 it differs, and is the mean of the K sampled losses.
    #[test]
    fn equals_the_plain_loss_without_dropout() {
        let model = model(&[6], 3, 3);
        let x = inputs(5, 3, 1);
        let y = classes(5, 3);
        let (ce, _) = (crate::losses::cross_entropy::INFO.build)(&serde_json::json!({})).unwrap();
        let (out, embedding) = model.forward_with_embedding(&x, None).unwrap();
        let pred = Prediction { out, ids: None, embedding };
        let plain = ce.forward(&pred, &y).unwrap().to_vec1::<f64>().unwrap();
        let loss = |p: &Prediction, t: &crate::task::Target| ce.forward(p, t);
        let mut reg = start("multi_sample_dropout", serde_json::json!({"p": 0.0, "samples": 3}), model.as_ref());
        let mut rng = Stream::new(0, Purpose::Regularizer, 0);
        let got = reg.task_loss(model.as_ref(), &x, &pred, &y, &loss, &mut rng).unwrap().unwrap().to_vec1::<f64>().unwrap();
        for (a, b) in got.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-12);
        }
        let mut reg = start("multi_sample_dropout", serde_json::json!({"p": 0.5, "samples": 4}), model.as_ref());
        let got = reg.task_loss(model.as_ref(), &x, &pred, &y, &loss, &mut rng).unwrap().unwrap().to_vec1::<f64>().unwrap();
        assert!(got.iter().zip(&plain).any(|(a, b)| (a - b).abs() > 1e-6));
    }
}
