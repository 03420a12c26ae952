//! `drw` — deferred re-weighting (the LDAM-DRW schedule, baseline in S189): train unweighted,
//! then from a late epoch weight each class by the inverse of its "effective number" of samples,
//!
//! ```text
//! w_c = (1 − β)/(1 − β^{n_c}),  normalised so that Σ_c w_c = C;  β = 0 before the switch (w = 1)
//! L   = Σ_i w_{y_i}·ℓ_i / Σ_i w_{y_i}                (PyTorch's weighted-mean reduction)
//! ```
//! The switch happens at epoch `⌊start_fraction·epochs⌋` (160 of 200 in the reference script:
//! `idx = epoch // 160; betas = [0, 0.9999]`). `n_c` are the train split's class counts.
//! Works with any loss (the weights multiply its per-example values); the reference passes
//! them to LDAM / cross-entropy as `weight=`. Logged: 1 once re-weighting is on, else 0.
//! Reference: Cao, Wei, Gaidon, Arechiga & Ma, *Learning Imbalanced Datasets with
//! Label-Distribution-Aware Margin Loss*, NeurIPS 2019; Cui et al., *Class-Balanced Loss Based
//! on Effective Number of Samples*, CVPR 2019; val-iisc/Saddle-LongTail `cifar_train_sam.py`
//! (`per_cls_weights`) [code].

use super::{Active, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::{Family, Target};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "drw",
    kind: Kind::Reweight,
    families: &[Family::Classification],
    summary: "deferred re-weighting: class-balanced (effective-number) weights from a late epoch on",
    formula: "w_c ∝ (1 − β)/(1 − β^{n_c}), Σ w_c = C, from epoch ⌊start_fraction·epochs⌋;  L = Σ w_yi ℓ_i / Σ w_yi",
    reference: "Cao et al., LDAM-DRW, NeurIPS 2019; Cui et al., CVPR 2019; val-iisc/Saddle-LongTail [code]",
    params: &[
        ParamDoc { name: "beta", meaning: "effective-number β after the switch", range: "0 ≤ β < 1", default: "0.9999" },
        ParamDoc { name: "start_fraction", meaning: "fraction of the epochs trained unweighted", range: "0 ≤ f ≤ 1", default: "0.8" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub beta: f64,
    pub start_fraction: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { beta: 0.9999, start_fraction: 0.8 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("beta", self.beta, 0.0, 0.999_999_999)?;
        check_range("start_fraction", self.start_fraction, 0.0, 1.0)
    }
}

/// Class weights `(1 − β)/(1 − β^{n_c})` normalised to sum to the number of classes.
pub fn class_weights(counts: &[usize], beta: f64) -> Vec<f64> {
    let raw: Vec<f64> = counts.iter().map(|&n| (1.0 - beta) / (1.0 - beta.powi(n.max(1) as i32))).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| w / total * counts.len() as f64).collect()
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let counts = run.class_counts.clone().ok_or_else(|| Error::input("regularizer `drw` needs class counts (classification data)"))?;
        let switch = (self.start_fraction * run.epochs as f64).floor() as usize;
        Ok(Box::new(State { weights: class_weights(&counts, self.beta), switch, on: false }))
    }
}

struct State {
    weights: Vec<f64>,
    /// First (0-based) epoch with re-weighting.
    switch: usize,
    on: bool,
}

impl Active for State {
    fn weights(&mut self, per: &Tensor, target: &Target, _rows: &[usize], _step: usize, epoch: usize) -> Result<Option<Tensor>> {
        self.on = epoch >= self.switch;
        if !self.on {
            return Ok(None);
        }
        let Target::Classes(y) = target else { return Err(Error::input("regularizer `drw` needs class labels")) };
        let y = y.to_vec1::<u32>()?;
        let w: Vec<f64> = y.iter().map(|&c| self.weights.get(c as usize).copied().unwrap_or(1.0)).collect();
        let total: f64 = w.iter().sum();
        let n = w.len() as f64;
        let scaled: Vec<f64> = w.iter().map(|v| v * n / total).collect();
        Ok(Some(Tensor::from_vec(scaled, y.len(), per.device())?.to_dtype(per.dtype())?))
    }
    fn logged(&self) -> Option<f64> {
        Some(if self.on { 1.0 } else { 0.0 })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::class_weights;
    use candle_core::{Device, Tensor};

    /// Values from the reference formula (numpy): counts [100, 10, 1], β = 0.9999 →
    /// per_cls_weights = [0.05442, 0.52947, 2.41611] (sum 3). Before the switch the loss is
    /// plain; after it, PyTorch's weighted mean.
    #[test]
    fn effective_number_weights_and_the_switch() {
        let w = class_weights(&[100, 10, 1], 0.9999);
        let raw: Vec<f64> = [100i32, 10, 1].iter().map(|&n| (1.0 - 0.9999) / (1.0 - 0.9999f64.powi(n))).collect();
        let s: f64 = raw.iter().sum();
        for (a, r) in w.iter().zip(&raw) {
            assert!((a - r / s * 3.0).abs() < 1e-12);
        }
        assert!((w.iter().sum::<f64>() - 3.0).abs() < 1e-12 && w[2] > w[1] && w[1] > w[0]);
        // testing::start gives class counts [4, 2, 1] and 10 epochs: switch at epoch 8.
        let model = model(&[], 2, 3);
        let mut reg = start("drw", serde_json::json!({"beta": 0.9}), model.as_ref());
        let y = crate::task::Target::Classes(Tensor::from_vec(vec![0u32, 1, 2], 3, &Device::Cpu).unwrap());
        let per = Tensor::from_vec(vec![1.0f64, 2.0, 4.0], 3, &Device::Cpu).unwrap();
        assert!(reg.weights(&per, &y, &[], 0, 7).unwrap().is_none());
        assert_eq!(reg.logged(), Some(0.0));
        let wt = reg.weights(&per, &y, &[], 0, 8).unwrap().unwrap();
        let loss = (per * wt).unwrap().mean_all().unwrap().to_scalar::<f64>().unwrap();
        let cw = class_weights(&[4, 2, 1], 0.9);
        let expect = (cw[0] + 2.0 * cw[1] + 4.0 * cw[2]) / (cw[0] + cw[1] + cw[2]);
        assert!((loss - expect).abs() < 1e-12, "{loss} vs {expect}");
    }
}
