//! `saf` — sharpness-aware training for free (S093): a trajectory loss that keeps each
//! example's current prediction close to the model's own prediction for it `E` epochs ago,
//! which the paper shows penalises sharpness at no extra gradient cost.
//!
//! ```text
//! per batch (ids i, 0-based epoch e):  record z_i in slot e mod (E+1)   (before the penalty)
//! if e > start:  R = T²·mean_i Σ_c p_old,ic·(log p_old,ic − log p_now,ic),
//!                p_old = softmax(z_i recorded in epoch e − E / T),  p_now = softmax(z_i / T)
//! ```
//! added as `λ·R` (λ = `weight`). Logits are stored per train row (`[n_train, E+1, C]`, f32 on
//! the host). SAM-type optimizers' repeated evaluations of a step record only the first. The
//! MESA variant (targets from an EMA copy of the model) is not implemented.
//! Reference: Du, Zhou, Feng, Tan & Zhou (Tan, Vincent Y. F.), *Sharpness-Aware Training for
//! Free*, NeurIPS 2022 (S093); AngusDujw/SAF `SAF_train.py::train_one_epoch` (ring buffer of
//! logits, record first, `KL(p_old ‖ p_now)·T²`, strict `kl_start_epoch < epoch`) [code].
//! Defaults: λ = 0.3, T = 5, start 5 from the README/run script; E = 3 from the script's argparse
//! (run.sh uses 2).

use super::{Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::Family;
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "saf",
    kind: Kind::Penalty,
    families: &[Family::Classification],
    summary: "sharpness-aware training for free: KL to each example's own logits from E epochs ago",
    formula: "R = T²·mean_i KL(softmax(z_i^{e−E}/T) ‖ softmax(z_i/T)), from epoch start+1 on",
    reference: "Du et al., Sharpness-Aware Training for Free, NeurIPS 2022 (S093); AngusDujw/SAF [code]",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 100", default: "0.3" },
        ParamDoc { name: "temperature", meaning: "softmax temperature T", range: "0.01 ≤ T ≤ 100", default: "5.0" },
        ParamDoc { name: "epochs_back", meaning: "E: compare with the logits of E epochs ago", range: "1 ≤ E ≤ 10", default: "3" },
        ParamDoc {
            name: "start",
            meaning: "the penalty applies in 0-based epochs > start (≥ E − 1)",
            range: "start ≥ E − 1",
            default: "5",
        },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub temperature: f64,
    pub epochs_back: usize,
    pub start: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 0.3, temperature: 5.0, epochs_back: 3, start: 5 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 100.0)?;
        check_range("temperature", self.temperature, 0.01, 100.0)?;
        check_range("epochs_back", self.epochs_back as f64, 1.0, 10.0)?;
        if self.start + 1 < self.epochs_back {
            return Err(Error::input(format!(
                "parameter `start` = {} must be ≥ epochs_back − 1 = {}: before that no logits from E epochs ago exist",
                self.start,
                self.epochs_back - 1
            )));
        }
        Ok(())
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let slots = self.epochs_back + 1;
        Ok(Box::new(State {
            params: self.clone(),
            slots,
            classes: 0,
            logits: Vec::new(),
            recorded_at: vec![usize::MAX; run.n_train],
            last: None,
        }))
    }
}

struct State {
    params: Params,
    slots: usize,
    classes: usize,
    /// `[n_train][slots][classes]`, flattened; allocated at the first batch.
    logits: Vec<f32>,
    /// The optimizer step at which each row was last recorded.
    recorded_at: Vec<usize>,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let Some(ids) = &batch.pred.ids else { return Ok(None) };
        let z = &batch.pred.out;
        let (n, c) = z.dims2()?;
        if self.logits.is_empty() {
            self.classes = c;
            self.logits = vec![0.0; self.recorded_at.len() * self.slots * c];
        }
        let stride = self.slots * c;
        let e = batch.epoch;
        let now = z.detach().to_dtype(DType::F32)?.to_vec2::<f32>()?;
        for (row, &id) in now.iter().zip(ids) {
            if id >= self.recorded_at.len() {
                return Err(Error::runtime("saf: a row id beyond the train split"));
            }
            if self.recorded_at[id] != batch.step {
                self.recorded_at[id] = batch.step;
                let at = id * stride + (e % self.slots) * c;
                self.logits[at..at + c].copy_from_slice(row);
            }
        }
        if e <= self.params.start {
            self.last = Some(0.0);
            return Ok(Some(Tensor::zeros((), z.dtype(), z.device())?));
        }
        let old_slot = (e + self.slots - self.params.epochs_back % self.slots) % self.slots;
        let mut old = Vec::with_capacity(n * c);
        for &id in ids {
            let at = id * stride + old_slot * c;
            old.extend_from_slice(&self.logits[at..at + c]);
        }
        let t = self.params.temperature;
        let old = Tensor::from_vec(old, (n, c), z.device())?.to_dtype(z.dtype())?;
        let log_old = candle_nn::ops::log_softmax(&(old / t)?, D::Minus1)?;
        let log_now = candle_nn::ops::log_softmax(&(z / t)?, D::Minus1)?;
        let kl = ((log_old.exp()? * (&log_old - log_now)?)?.sum_all()? / n as f64)?;
        let r = (kl * (t * t))?;
        self.last = Some(r.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(r))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::super::Batch;
    use crate::rng::{Purpose, Stream};
    use crate::task::Prediction;
    use candle_core::{Device, Tensor};

    fn penalty_at(reg: &mut dyn super::Active, z: &[f64], ids: Vec<usize>, step: usize, epoch: usize) -> f64 {
        let model = model(&[], 2, 2);
        let x = inputs(ids.len(), 2, 0);
        let y = classes(ids.len(), 2);
        let out = Tensor::from_vec(z.to_vec(), (ids.len(), 2), &Device::Cpu).unwrap();
        let pred = Prediction { out, ids: Some(ids), embedding: None };
        let mut rng = Stream::new(0, Purpose::Regularizer, 0);
        let mut batch = Batch { model: model.as_ref(), x: &x, pred: &pred, target: &y, step, epoch, rng: &mut rng };
        reg.penalty(&mut batch).unwrap().unwrap().to_scalar::<f64>().unwrap()
    }

    /// Zero up to the start epoch; afterwards T²·KL to the logits recorded E epochs earlier
    /// (here E = 2, start = 1: epoch 2 compares with epoch 0), computed by hand.
    #[test]
    fn compares_with_the_logits_of_e_epochs_ago() {
        let model = model(&[], 2, 2);
        let mut reg = start("saf", serde_json::json!({"epochs_back": 2, "start": 1, "temperature": 2.0}), model.as_ref());
        assert_eq!(penalty_at(reg.as_mut(), &[1.0, 0.0, 0.0, 2.0], vec![3, 5], 0, 0), 0.0);
        assert_eq!(penalty_at(reg.as_mut(), &[5.0, 5.0, 5.0, 5.0], vec![3, 5], 1, 1), 0.0);
        let now = [0.5, 0.5, 1.0, -1.0];
        let r = penalty_at(reg.as_mut(), &now, vec![3, 5], 2, 2);
        let softmax = |a: f64, b: f64| {
            let (ea, eb) = ((a / 2.0).exp(), (b / 2.0).exp());
            [ea / (ea + eb), eb / (ea + eb)]
        };
        let kl = |p: [f64; 2], q: [f64; 2]| p[0] * (p[0] / q[0]).ln() + p[1] * (p[1] / q[1]).ln();
        let expect = 4.0 * 0.5 * (kl(softmax(1.0, 0.0), softmax(0.5, 0.5)) + kl(softmax(0.0, 2.0), softmax(1.0, -1.0)));
        assert!((r - expect).abs() < 1e-6, "{r} vs {expect}");
    }
}
