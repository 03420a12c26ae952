//! Generalized end-to-end (GE2E) loss, softmax and contrast variants (Wan et al. 2018, S003).
//!
//! ```text
//! batch: the rows of each class j present (N classes × M rows in a GE2E batch), ê normalised
//! c_k = mean of class k's rows;  own class: c_j^(−i) = (Σ_{m∈j} ê_m − ê_i)/(M_j − 1)
//! S_i,k = w·cos(ê_i, c_k) + b    (c_j^(−i) for k = j),   w ≥ 1e-6 (clamped), init w = 10, b = −5
//! ge2e_softmax:  ℓ_i = −S_i,j + log Σ_k exp S_i,k
//! ge2e_contrast: ℓ_i = 1 − σ(S_i,j) + max_{k≠j} σ(S_i,k)
//! ```
//! `w` and `b` are the loss's own parameters: each run creates them at `init_w`, `init_b`,
//! trains them with the model and saves them after its weights; `losses eval` evaluates at the
//! initial values. Classes are found from the labels (rows need not be grouped). A row whose
//! class has no other row in the batch has no exclusive centroid and gets ℓ = 0. The trainer
//! takes the mean over rows (the reference code sums: the same gradient direction, N·M times
//! smaller). Not implemented: the paper's gradient scale 0.01 on (w, b) [recon in the catalog].
//!
//! Reference implementations read: HarryVolek/PyTorch_Speaker_Verification `utils.py`
//! (get_centroid, get_cossim with a +1e-6 that cancels in the softmax, calc_loss) and
//! cvqluu/GE2E-Loss `ge2e.py` (init_w 10, init_b −5, the contrast variant; it also clamps each
//! cosine at 1e-6 from below, which zeroes the gradient of negative similarities — not
//! followed). Both call `torch.clamp(self.w, 1e-6)` without using the result; lossbench applies
//! the clamp the paper's constraint w > 0 asks for.
//!
//! # Shapes
//! - embeddings `[n, D]` (normalised by the family), labels `[n]` → `[n]`

use super::pairs::embedding_inputs;
use super::{host_labels, Loss, LossInfo, Prop, RunContext};
use crate::error::Result;
// Zero rows (a singleton's exclusive centroid) get a zero gradient.
use crate::families::metric_learning::row_norms as norms;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, Var, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const PARAMS: &[ParamDoc] = &[
    ParamDoc { name: "init_w", meaning: "initial scale w of the similarities (trained)", range: "1e-6–1000", default: "10" },
    ParamDoc { name: "init_b", meaning: "initial offset b of the similarities (trained)", range: "−1000–1000", default: "-5" },
];

pub static SOFTMAX: LossInfo = LossInfo {
    name: "ge2e_softmax",
    family: Family::MetricLearning,
    summary: "GE2E, softmax variant: each row against every class centroid (its own excluding it), learned scale w and offset b (S003)",
    formula: "ℓ_i = −S_i,y + lse_k S_i,k,  S_i,k = w·cos(ê_i, c_k) + b, own centroid without row i",
    reference: "Wan, Wang, Papir & Lopez Moreno, Generalized End-to-End Loss for Speaker Verification, ICASSP 2018 (S003); HarryVolek/PyTorch_Speaker_Verification, cvqluu/GE2E-Loss [code]",
    params: PARAMS,
    props: &[Prop::NonNegative, Prop::OwnsParameters],
    build: build_softmax,
};

pub static CONTRAST: LossInfo = LossInfo {
    name: "ge2e_contrast",
    family: Family::MetricLearning,
    summary: "GE2E, contrast variant: own-centroid sigmoid against the closest other centroid, learned w and b (S003)",
    formula: "ℓ_i = 1 − σ(S_i,y) + max_{k≠y} σ(S_i,k),  S_i,k = w·cos(ê_i, c_k) + b",
    reference: "Wan, Wang, Papir & Lopez Moreno, ICASSP 2018 (S003); cvqluu/GE2E-Loss embed_loss_contrast [code]",
    params: PARAMS,
    props: &[Prop::NonNegative, Prop::Piecewise, Prop::OwnsParameters],
    build: build_contrast,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub init_w: f64,
    pub init_b: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { init_w: 10.0, init_b: -5.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("init_w", self.init_w, 1e-6, 1000.0)?;
        check_range("init_b", self.init_b, -1000.0, 1000.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Variant {
    Softmax,
    Contrast,
}

pub struct Ge2e {
    params: Params,
    variant: Variant,
    /// (w, b) of a run; `None` outside a run (the initial values, as constants).
    vars: Option<(Var, Var)>,
}

fn build(value: &serde_json::Value, variant: Variant) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(Ge2e { params, variant, vars: None }), canonical))
}
fn build_softmax(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    build(value, Variant::Softmax)
}
fn build_contrast(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    build(value, Variant::Contrast)
}

/// Row `i`'s class index among the batch's classes (one-hot `[n, C]`), and which rows have
/// another row of their class.
fn class_layout(y: &Tensor, dtype: DType) -> Result<(Tensor, Tensor, Tensor)> {
    let labels = host_labels(y)?;
    let mut classes = labels.clone();
    classes.sort_unstable();
    classes.dedup();
    let (n, c) = (labels.len(), classes.len());
    let mut onehot = vec![0f64; n * c];
    let mut counts = vec![0f64; c];
    for (i, l) in labels.iter().enumerate() {
        let j = classes.binary_search(l).unwrap_or(0);
        onehot[i * c + j] = 1.0;
        counts[j] += 1.0;
    }
    let own: Vec<f64> = (0..n).map(|i| counts[classes.binary_search(&labels[i]).unwrap_or(0)]).collect();
    let valid: Vec<f64> = own.iter().map(|m| if *m >= 2.0 { 1.0 } else { 0.0 }).collect();
    let dev = y.device();
    let onehot = Tensor::from_vec(onehot, (n, c), dev)?.to_dtype(dtype)?;
    let own = Tensor::from_vec(own, (n, 1), dev)?.to_dtype(dtype)?;
    let valid = Tensor::from_vec(valid, n, dev)?.to_dtype(dtype)?;
    Ok((onehot, own, valid))
}

/// Cosine of the rows of `a` with the rows of `b` (`[n, D]`, `[m, D]` → `[n, m]`).
fn cosines(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(a.matmul(&b.t()?)?.broadcast_div(&norms(a)?)?.broadcast_div(&norms(b)?.t()?)?)
}

impl Ge2e {
    fn scale_offset(&self, dtype: DType, dev: &candle_core::Device) -> Result<(Tensor, Tensor)> {
        Ok(match &self.vars {
            Some((w, b)) => (w.as_tensor().clamp(1e-6, f64::INFINITY)?, b.as_tensor().clone()),
            None => (Tensor::new(&[self.params.init_w], dev)?.to_dtype(dtype)?, Tensor::new(&[self.params.init_b], dev)?.to_dtype(dtype)?),
        })
    }

    /// The similarity matrix `S [n, C]` and the one-hot of each row's class.
    fn similarities(&self, e: &Tensor, y: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let (onehot, own_count, valid) = class_layout(y, e.dtype())?;
        let sums = onehot.t()?.matmul(e)?; // [C, D]
        let centroids = sums.broadcast_div(&onehot.sum(0)?.unsqueeze(1)?)?;
        let exclusive = (onehot.matmul(&sums)? - e)?.broadcast_div(&(own_count - 1.0)?.clamp(1.0, f64::INFINITY)?)?;
        let own_cos = (e * &exclusive)?.sum_keepdim(1)?.broadcast_div(&(norms(e)? * norms(&exclusive)?)?)?;
        let cos = ((cosines(e, &centroids)? * (1.0 - &onehot)?)? + onehot.broadcast_mul(&own_cos)?)?;
        let (w, b) = self.scale_offset(e.dtype(), e.device())?;
        Ok((cos.broadcast_mul(&w)?.broadcast_add(&b)?, onehot, valid))
    }
}

impl Loss for Ge2e {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (e, y) = embedding_inputs(pred, target, if self.variant == Variant::Softmax { "ge2e_softmax" } else { "ge2e_contrast" })?;
        let (s, onehot, valid) = self.similarities(e, y)?;
        let own = (&s * &onehot)?.sum(1)?;
        let per = match self.variant {
            Variant::Softmax => {
                let max = s.max_keepdim(1)?.detach();
                let lse = (s.broadcast_sub(&max)?.exp()?.sum(1)?.log()? + max.squeeze(1)?)?;
                (lse - own)?
            }
            Variant::Contrast => {
                let sig = candle_nn::ops::sigmoid(&s)?;
                let others = (sig * (1.0 - &onehot)?)?.max(D::Minus1)?;
                ((1.0 - candle_nn::ops::sigmoid(&own)?)? + others)?
            }
        };
        Ok((per * valid)?)
    }

    fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
        let make = |v: f64| Tensor::new(&[v], &run.device).and_then(|t| t.to_dtype(run.dtype)).and_then(|t| Var::from_tensor(&t)).ok();
        let vars = make(self.params.init_w).zip(make(self.params.init_b));
        Some(Arc::new(Ge2e { params: self.params.clone(), variant: self.variant, vars }))
    }

    fn vars(&self) -> Vec<Var> {
        self.vars.iter().flat_map(|(w, b)| [w.clone(), b.clone()]).collect()
    }
}
