//! Metrix at the embedding level: the contrastive loss plus a term on mixed embeddings with
//! soft positive-ness labels (Venkataramanan, Psomas, Kijak, Amsaleg, Karantzalos & Avrithis,
//! *It Takes Two to Tango: Mixup for Deep Metric Learning*, ICLR 2022, S009).
//!
//! ```text
//! ê the normalised embeddings; d(u, v) = ‖u/‖u‖ − v/‖v‖‖
//! L_clean = contrastive with m_pos = 0, m_neg = 0.5 (each part averaged over its non-zero terms)
//! each step: λ ~ Beta(α, α) and one pair type, each with probability ½:
//!   posneg: for every positive pair (a, p) and every negative n of a: x̃ = λ·ê_{p₁(a)} + (1 − λ)·ê_n
//!           (p₁(a) the first positive of a, as the authors' code), weight w = 0.4
//!   ancneg: for every anchor a with no positive and every negative n: x̃ = λ·ê_a + (1 − λ)·ê_n, w = 0.3
//! d_k = d(ê_a, x̃_k);  L_mix = avg_{>0} λ·d_k + avg_{>0} (1 − λ)·relu(0.5 − d_k)
//! L = L_clean + w·L_mix
//! ```
//! The soft label of a mix is λ (its positive share). A step whose pair type has no mix in the
//! batch (ancneg when every anchor has a positive, as in every P×K batch) has L_mix = 0; the
//! authors' code fails there. Per-example values: the clean part per anchor as `contrastive`,
//! the mixed term added to every row. λ and the pair type come from the run's stream; `losses
//! eval` takes them as the parameters `lam` and `pair_type` (else draws them from seed 0).
//!
//! Reference: billpsomas/metrix @b679703 `train.py::embed_metrix_contrastive`,
//! `mixup/utils.py` (`mixup_data`, `embed_posneg_pair_mixup_for_pos_anchor`,
//! `embed_neg_pair_mixup_without_posanchor`), `mixup/losses.py::loss_posneg_mixup`, `main.py`
//! (ContrastiveLoss(neg_margin = 0.5), α = 2) [code, read]. The authors' default and best
//! variant mixes feature maps inside the backbone (`mode: feature`), and an input-level variant
//! exists; lossbench's MLP embedder has no feature maps, so only the embedding level is here.
//! The catalog's weight 1 for the mixed term is not the code's (0.4 / 0.3).
//!
//! # Shapes
//! - embeddings `[n, D]` (normalised by the family), labels `[n]` → `[n]`

use super::contrastive::{self, Contrastive};
use super::pairs::embedding_inputs;
use super::{host_labels, Loss, LossInfo, Prop, RunContext};
use crate::error::{Error, Result};
use crate::families::metric_learning::row_norms;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

pub static INFO: LossInfo = LossInfo {
    name: "metrix",
    family: Family::MetricLearning,
    summary: "Metrix (embedding level): contrastive loss plus a weighted term on mixed embeddings with soft labels λ (S009)",
    formula: "L = L_contrastive(m_neg 0.5) + w·[avg_{>0} λ·d(ê_a, x̃) + avg_{>0} (1−λ)·relu(0.5 − d(ê_a, x̃))],  x̃ = λ·ê₁ + (1−λ)·ê₂,  λ ~ Beta(α, α)",
    reference: "Venkataramanan et al., It Takes Two to Tango: Mixup for Deep Metric Learning, ICLR 2022 (S009); billpsomas/metrix train.py, mixup/ [code]",
    params: &[
        ParamDoc { name: "alpha", meaning: "α of λ ~ Beta(α, α)", range: "0.01–100", default: "2" },
        ParamDoc { name: "weight", meaning: "w of the mixed term for positive–negative mixes", range: "0–10", default: "0.4" },
        ParamDoc { name: "weight_ancneg", meaning: "w of the mixed term for anchor–negative mixes", range: "0–10", default: "0.3" },
        ParamDoc { name: "lam", meaning: "a fixed λ (losses eval only)", range: "0–1", default: "drawn" },
        ParamDoc { name: "pair_type", meaning: "a fixed pair type (losses eval only)", range: "posneg | ancneg", default: "drawn" },
    ],
    props: &[Prop::NonNegative, Prop::Piecewise, Prop::Stochastic],
    build,
};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PairType {
    Posneg,
    Ancneg,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub alpha: f64,
    pub weight: f64,
    pub weight_ancneg: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lam: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair_type: Option<PairType>,
}

impl Default for Params {
    fn default() -> Self {
        Params { alpha: 2.0, weight: 0.4, weight_ancneg: 0.3, lam: None, pair_type: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("alpha", self.alpha, 0.01, 100.0)?;
        check_range("weight", self.weight, 0.0, 10.0)?;
        check_range("weight_ancneg", self.weight_ancneg, 0.0, 10.0)?;
        if let Some(l) = self.lam {
            check_range("lam", l, 0.0, 1.0)?;
        }
        Ok(())
    }
}

pub struct Metrix {
    params: Params,
    clean: Contrastive,
    rng: Mutex<Stream>,
}

fn with_stream(params: Params, rng: Stream) -> Metrix {
    let clean = Contrastive { params: contrastive::Params { pos_margin: 0.0, neg_margin: 0.5, squared: false } };
    Metrix { params, clean, rng: Mutex::new(rng) }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(with_stream(params, Stream::new(0, Purpose::Loss, 0))), canonical))
}

/// The mixes of a pair type: (anchor, first, second) row triples, in the authors' order.
fn triples(labels: &[u32], kind: PairType) -> Vec<(u32, u32, u32)> {
    let n = labels.len();
    let first_positive = |a: usize| (0..n).find(|&j| j != a && labels[j] == labels[a]);
    let negatives = |a: usize| (0..n).filter(move |&j| labels[j] != labels[a]);
    let mut out = Vec::new();
    for a in 0..n {
        match (kind, first_positive(a)) {
            (PairType::Posneg, Some(p)) => {
                let positives = (0..n).filter(|&j| j != a && labels[j] == labels[a]).count();
                for _ in 0..positives {
                    out.extend(negatives(a).map(|m| (a as u32, p as u32, m as u32)));
                }
            }
            (PairType::Ancneg, None) => out.extend(negatives(a).map(|m| (a as u32, a as u32, m as u32))),
            _ => {}
        }
    }
    out
}

/// `Σ_{t > 0} t / #{t > 0}` of a vector of terms, 0 when none is positive.
fn avg_non_zero(terms: &Tensor) -> Result<Tensor> {
    let count = terms.gt(0.0)?.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()?;
    Ok((terms.sum_all()? / count.max(1.0))?)
}

impl Metrix {
    /// This step's λ and pair type.
    fn draw(&self) -> Result<(f64, PairType)> {
        let mut rng = self.rng.lock().map_err(|_| Error::runtime("poisoned metrix RNG lock"))?;
        let kind = if rng.uniform() < 0.5 { PairType::Posneg } else { PairType::Ancneg };
        let lam = rng.beta(self.params.alpha, self.params.alpha);
        Ok((self.params.lam.unwrap_or(lam), self.params.pair_type.unwrap_or(kind)))
    }

    fn mixed(&self, e: &Tensor, labels: &[u32], lam: f64, kind: PairType) -> Result<Tensor> {
        let t = triples(labels, kind);
        if t.is_empty() {
            return Ok(Tensor::zeros((), e.dtype(), e.device())?);
        }
        let column = |f: fn(&(u32, u32, u32)) -> u32| -> Result<Tensor> {
            let idx: Vec<u32> = t.iter().map(f).collect();
            Ok(e.index_select(&Tensor::from_vec(idx, t.len(), e.device())?, 0)?)
        };
        let (a, first, second) = (column(|t| t.0)?, column(|t| t.1)?, column(|t| t.2)?);
        let mix = ((first * lam)? + (second * (1.0 - lam))?)?;
        let mix = mix.broadcast_div(&row_norms(&mix)?)?;
        let d = (a - mix)?.sqr()?.sum(1)?.clamp(1e-12, f64::INFINITY)?.sqrt()?;
        let pos = avg_non_zero(&(&d * lam)?)?;
        let neg = avg_non_zero(&((0.5 - &d)?.relu()? * (1.0 - lam))?)?;
        let w = if kind == PairType::Posneg { self.params.weight } else { self.params.weight_ancneg };
        Ok(((pos + neg)? * w)?)
    }
}

impl Loss for Metrix {
    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        let (e, y) = embedding_inputs(pred, target, "metrix")?;
        let (lam, kind) = self.draw()?;
        let clean = self.clean.forward(pred, target)?;
        Ok(clean.broadcast_add(&self.mixed(e, &host_labels(y)?, lam, kind)?)?)
    }

    /// Evaluation's `loss` row: the clean contrastive part (no draw from the run's stream).
    fn monitor(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.clean.forward(pred, target)
    }

    fn for_run(&self, run: &RunContext) -> Option<Arc<dyn Loss>> {
        Some(Arc::new(with_stream(self.params.clone(), Stream::new(run.seed, Purpose::Loss, 0x3e7))))
    }
}
