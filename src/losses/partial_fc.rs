//! Partial FC: a CosFace margin softmax over the class centres of the batch's classes plus a
//! random sample of the others (An et al., *Partial FC*, CVPR 2022, S123).
//!
//! ```text
//! class centres W [C, D] (the loss's own parameters, init N(0, 0.01²))
//! each step: P = the batch's classes ∪ random others, |P| = ⌊r·C⌋ (just the batch's classes
//!            when they are more), sorted; labels remapped to their place in P
//! cos_ik = clamp(ê_i · ŵ_k, −1, 1) for k ∈ P;  cos_iy −= m;  logits = s·cos
//! ℓ_i = −log softmax(logits_i)_y
//! ```
//! r = 1 is the full CosFace softmax (H32's baseline). Evaluation's `loss` row uses every class
//! (no sampling), so evaluating does not draw from the run's stream. Centres cover every class
//! id of the task (`classes`); on `blobs_many` and `digits_dml` the test classes' centres only
//! ever appear as sampled negatives.
//!
//! `losses eval` has no run, so it takes the centres as a parameter (`--set centres=[[…], …]`)
//! and the sampled negatives explicitly (`sampled`, class ids); without `sampled` it draws
//! them from a stream of seed 0.
//!
//! Reference: deepinsight/insightface `recognition/arcface_torch/partial_fc_v2.py`
//! (PartialFC_V2.sample and forward, one process) and `losses.py` CombinedMarginLoss with
//! margins (1, 0, m) — CosFace [code, read]; defaults r = 0.1, s = 64, m = 0.35 (catalog; the
//! arcface_torch configs use m = 0.4).
//!
//! # Shapes
//! - embeddings `[n, D]` (normalised by the family), labels `[n]` below C → `[n]`

use super::centres::{Centres, Init};
use super::pairs::embedding_inputs;
use super::{host_labels, log_p_y, log_softmax, Loss, LossInfo, Prop, RunContext};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::{Family, Prediction, Target};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub static INFO: LossInfo = LossInfo {
    name: "partial_fc",
    family: Family::MetricLearning,
    summary: "CosFace softmax over the batch's classes plus a random fraction of the others, trained class centres (S123)",
    formula: "ℓ_i = −log softmax_{k∈P}(s·(cos(ê_i, ŵ_k) − m·[k = y_i]))_y,  P = batch classes ∪ random, |P| = ⌊r·C⌋",
    reference: "An et al., Killing Two Birds with One Stone: Efficient and Robust Training of Face Recognition CNNs by Partial FC, CVPR 2022 (S123); insightface arcface_torch partial_fc_v2.py [code]",
    params: &[
        ParamDoc { name: "sample_rate", meaning: "fraction r of the classes in each step's softmax", range: "0 < r ≤ 1", default: "0.1" },
        ParamDoc { name: "scale", meaning: "logit scale s", range: "1–256", default: "64" },
        ParamDoc { name: "margin", meaning: "CosFace margin m subtracted from the target cosine", range: "0–1", default: "0.35" },
        ParamDoc { name: "centres", meaning: "fixed class centres [C][D] (losses eval only; a run trains its own)", range: "list of lists", default: "none" },
        ParamDoc { name: "sampled", meaning: "the negative classes to sample (losses eval only)", range: "class ids", default: "random" },
    ],
    props: &[Prop::NonNegative, Prop::OwnsParameters],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub sample_rate: f64,
    pub scale: f64,
    pub margin: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub centres: Option<Vec<Vec<f64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled: Option<Vec<u32>>,
}

impl Default for Params {
    fn default() -> Self {
        Params { sample_rate: 0.1, scale: 64.0, margin: 0.35, centres: None, sampled: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        if !(self.sample_rate > 0.0 && self.sample_rate <= 1.0) {
            return Err(Error::input(format!(
                "parameter `sample_rate` = {} is out of range; allowed: 0 < sample_rate ≤ 1",
                self.sample_rate
            )));
        }
        check_range("scale", self.scale, 1.0, 256.0)?;
        check_range("margin", self.margin, 0.0, 1.0)?;
        super::centres::validate(&self.centres)
    }
}

pub struct PartialFc {
    params: Params,
    /// The run's centres `[C, D]`, or outside a run `params.centres`.
    centres: Centres,
    rng: Mutex<Stream>,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    let centres = Centres::fixed(params.centres.clone());
    Ok((Arc::new(PartialFc { params, centres, rng: Mutex::new(Stream::new(0, Purpose::Loss, 0)) }), canonical))
}

impl PartialFc {
    /// The sorted classes of the step's softmax: the batch's, then others up to ⌊r·C⌋.
    fn sample(&self, labels: &[u32], classes: usize) -> Result<Vec<u32>> {
        let mut chosen: Vec<u32> = labels.to_vec();
        chosen.sort_unstable();
        chosen.dedup();
        let want = (self.params.sample_rate * classes as f64).floor() as usize;
        if want > chosen.len() {
            let mut others: Vec<u32> = (0..classes as u32).filter(|c| chosen.binary_search(c).is_err()).collect();
            match &self.params.sampled {
                Some(list) => {
                    others.retain(|c| list.contains(c));
                    if others.len() < want - chosen.len() {
                        return Err(Error::input(format!(
                            "partial_fc: `sampled` must name {} classes outside the batch (⌊r·C⌋ = {want} minus the batch's {}); {} of them are",
                            want - chosen.len(),
                            chosen.len(),
                            others.len()
                        )));
                    }
                }
                None => {
                    let mut rng = self.rng.lock().map_err(|_| Error::runtime("poisoned partial_fc RNG lock"))?;
                    rng.shuffle(&mut others);
                }
            }
            others.truncate(want - chosen.len());
            chosen.extend(others);
            chosen.sort_unstable();
        }
        Ok(chosen)
    }

    /// Per-example CosFace cross-entropy over the classes `subset` (all when `None`).
    fn cosface(&self, pred: &Prediction, target: &Target, sample: bool) -> Result<Tensor> {
        let (e, y) = embedding_inputs(pred, target, "partial_fc")?;
        let w = self.centres.tensor(e, "partial_fc")?;
        let classes = w.dim(0)?;
        let labels = host_labels(y)?;
        super::centres::check_labels(&labels, classes, "partial_fc")?;
        let subset: Vec<u32> = if sample { self.sample(&labels, classes)? } else { (0..classes as u32).collect() };
        let remapped: Vec<u32> = labels.iter().map(|l| subset.binary_search(l).unwrap_or(0) as u32).collect();
        let index = Tensor::from_vec(subset.clone(), subset.len(), e.device())?;
        let w = crate::families::metric_learning::l2_normalize(&w.index_select(&index, 0)?)?;
        let cos = e.matmul(&w.t()?)?.clamp(-1.0, 1.0)?;
        let y_sub = Tensor::from_vec(remapped, labels.len(), e.device())?;
        let margin = (super::one_hot(&y_sub, subset.len(), e.dtype())? * self.params.margin)?;
        let logits = ((cos - margin)? * self.params.scale)?;
        Ok(log_p_y(&log_softmax(&logits)?, &y_sub)?.neg()?)
    }
}

impl Loss for PartialFc {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.cosface(pred, target, true)
    }

    fn monitor(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.cosface(pred, target, false)
    }

    fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
        let centres = Centres::for_run(run, Init::Normal(0.01), 0x50fc)?;
        Some(Arc::new(PartialFc { params: self.params.clone(), centres, rng: Mutex::new(Stream::new(run.seed, Purpose::Loss, 1)) }))
    }

    fn vars(&self) -> Vec<Var> {
        self.centres.vars()
    }
}
