//! `rationale_invariance` — RIDG, domain generalisation via rationale invariance (S061).
//!
//! The rationale of example `i` is the matrix of element-wise contributions of its penultimate
//! features `f_i [D]` to every logit through the output layer `W [C, D]`:
//! `R_i[c, d] = W[c, d]·f_i[d]`. Per class `y` a memory bank `M_y [C, D]` tracks the class's mean
//! rationale (first seen: `M_y = R̄_y`; then `M_y ← (1 − m)·M_y + m·R̄_y`, with `R̄_y` the batch
//! mean), and examples are pulled towards it:
//! `R = Σ_{y ∈ batch} mean_{c, i: y_i = y} Σ_d (R_i[c, d] − sg[M_y[c, d]])²`.
//! The bank moves once per optimizer step (before the penalty, as in the authors' code).
//! Reference: Chen, Zhang, Song, van den Hengel & Liu, *Domain Generalization via Rationale
//! Invariance*, ICCV 2023 (S061); liangchen527/RIDG `RIDG._train_step` (rational_bank update and
//! `((rational − bank).detach() ** 2).sum(dim=2).mean()` per class) [code]; λ = 0.01 and
//! m = 0.001 from the catalog (`hparams_registry.py`) [ref].

use super::{need_layers, scalar_zero, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::{Family, Target};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "rationale_invariance",
    kind: Kind::Penalty,
    families: &[Family::Classification],
    summary: "RIDG: per-example logit contributions W⊙f pulled towards a per-class memory bank",
    formula: "R_i = W ⊙ f_i;  M_y ← (1−m)M_y + m·R̄_y;  R = Σ_y mean_{c,i:y_i=y} Σ_d (R_i[c,d] − sg M_y[c,d])²",
    reference: "Chen et al., Domain Generalization via Rationale Invariance, ICCV 2023 (S061); liangchen527/RIDG [code]",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient λ of R (ridg_reg)", range: "0 ≤ λ ≤ 10", default: "0.01" },
        ParamDoc { name: "momentum", meaning: "memory-bank update rate m", range: "0 < m ≤ 1", default: "0.001" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub momentum: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 0.01, momentum: 0.001 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 10.0)?;
        check_range("momentum", self.momentum, 1e-12, 1.0)
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let layers = need_layers(run.model, INFO.name)?;
        let classes = layers.last().map(|(w, _)| w.dim(0)).transpose()?.unwrap_or(0);
        Ok(Box::new(State { params: self.clone(), bank: vec![None; classes], last_step: None, last: None }))
    }
}

struct State {
    params: Params,
    bank: Vec<Option<Tensor>>,
    last_step: Option<usize>,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let Some(f) = &batch.pred.embedding else {
            return Err(Error::input("regularizer `rationale_invariance` needs a model with penultimate features"));
        };
        let Target::Classes(y) = batch.target else { return Err(Error::input("regularizer `rationale_invariance` needs class labels")) };
        let layers = batch.model.linear_layers();
        let Some((w, _)) = layers.last() else {
            return Err(Error::input("regularizer `rationale_invariance` needs a linear output layer"));
        };
        let y = y.to_vec1::<u32>()?;
        let mut present = y.clone();
        present.sort_unstable();
        present.dedup();
        let update = self.last_step != Some(batch.step);
        self.last_step = Some(batch.step);
        let mut total = scalar_zero(&batch.pred.out)?;
        for &c in &present {
            let idx: Vec<u32> = y.iter().enumerate().filter(|(_, v)| **v == c).map(|(i, _)| i as u32).collect();
            let idx = Tensor::from_vec(idx, y.iter().filter(|v| **v == c).count(), f.device())?;
            let fc = f.index_select(&idx, 0)?; // [n_c, D]
            let rational = w.unsqueeze(0)?.broadcast_mul(&fc.unsqueeze(1)?)?; // [n_c, C, D]
            let slot = self.bank.get_mut(c as usize).ok_or_else(|| Error::runtime("class id beyond the output layer"))?;
            if update {
                let mean = rational.mean(0)?.detach();
                *slot = Some(match slot.take() {
                    None => mean,
                    Some(m) => ((m * (1.0 - self.params.momentum))? + (mean * self.params.momentum)?)?,
                });
            }
            let Some(m) = slot.as_ref() else { continue };
            let term = rational.broadcast_sub(&m.unsqueeze(0)?)?.sqr()?.sum(2)?.mean_all()?;
            total = (total + term)?;
        }
        self.last = Some(total.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(total))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;

    /// On the first step the bank equals the batch means, so R is the within-class variance
    /// of the rationales; computed here by hand for a linear model. Later steps with the bank
    /// frozen match finite differences.
    #[test]
    fn first_step_is_within_class_variance_and_gradient_matches() {
        let model = model(&[], 3, 2);
        let x = inputs(6, 3, 5);
        let y = classes(6, 2);
        let mut reg = start("rationale_invariance", serde_json::json!({}), model.as_ref());
        let r = penalty(reg.as_mut(), model.as_ref(), &x, &y, 0).to_scalar::<f64>().unwrap();
        let w = model.linear_layers()[0].0.to_vec2::<f64>().unwrap();
        let xs = x.to_vec2::<f64>().unwrap();
        let mut expect = 0.0;
        for class in 0..2 {
            let rows: Vec<&Vec<f64>> = xs.iter().enumerate().filter(|(i, _)| i % 2 == class).map(|(_, r)| r).collect();
            let mut sum = 0.0;
            for wc in &w {
                for (d, wcd) in wc.iter().enumerate() {
                    let vals: Vec<f64> = rows.iter().map(|r| wcd * r[d]).collect();
                    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
                    sum += vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>();
                }
            }
            expect += sum / (2.0 * rows.len() as f64);
        }
        assert!((r - expect).abs() < 1e-12 * (1.0 + expect), "{r} vs {expect}");
        check_gradient(model.as_ref(), &mut || penalty(reg.as_mut(), model.as_ref(), &x, &y, 0), 1e-6);
    }
}
