//! Ranking metrics (catalog §8.3), per list, on host: each list's real items (relevance ≥ 0;
//! −1 marks padding, which takes no position) ranked by decreasing score, ties in item order.
//! Lists without a relevant item (no grade > 0) are left out of every mean here — the
//! catalog's convention for NDCG (allRank's metric would count them as 1) — and a split with
//! no such list gives NaN.

use super::{Metric, MetricInfo, Outputs};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::Family;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The grades of a list's real items in ranked order (decreasing score, ties by item index).
pub fn ranked_grades(scores: &[f64], relevance: &[f64]) -> Vec<f64> {
    let mut items: Vec<usize> = (0..scores.len()).filter(|&i| relevance[i] >= 0.0).collect();
    items.sort_by(|&a, &b| crate::losses::cmp_values(scores[b], scores[a]).then(a.cmp(&b)));
    items.iter().map(|&i| relevance[i]).collect()
}

/// `Σ_{i<k} (2^{g_i} − 1) / log2(i + 2)`.
fn dcg(grades: &[f64], k: usize) -> f64 {
    grades.iter().take(k).enumerate().map(|(i, g)| (g.exp2() - 1.0) / ((i + 2) as f64).log2()).sum()
}

/// Mean of `per_list` over the lists of `o` with a relevant item (NaN if none).
fn mean_over_lists(o: &Outputs, per_list: impl Fn(&[f64]) -> f64) -> f64 {
    let (w, rel) = (o.width.max(1), o.values());
    let values: Vec<f64> = o
        .out
        .chunks(w)
        .zip(rel.chunks(w))
        .filter(|(_, r)| r.iter().any(|g| *g > 0.0))
        .map(|(s, r)| per_list(&ranked_grades(s, r)))
        .collect();
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct KParams {
    k: usize,
}
impl Default for KParams {
    fn default() -> Self {
        KParams { k: 10 }
    }
}
impl Validate for KParams {
    fn validate(&self) -> Result<()> {
        check_range("k", self.k as f64, 1.0, 100_000.0)
    }
}

/// NDCG@k with gains `2^r − 1` (allRank's and the catalog's definition).
pub struct NdcgAtK {
    k: usize,
}
impl Metric for NdcgAtK {
    fn compute(&self, o: &Outputs) -> f64 {
        mean_over_lists(o, |grades| {
            let mut ideal = grades.to_vec();
            ideal.sort_by(|a, b| b.total_cmp(a));
            dcg(grades, self.k) / dcg(&ideal, self.k)
        })
    }
}
fn build_ndcg(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<KParams>(value)?;
    Ok((Arc::new(NdcgAtK { k: params.k }), canonical))
}
pub static NDCG_AT_K: MetricInfo = MetricInfo {
    name: "ndcg_at_k",
    family: Family::Ranking,
    higher_is_better: true,
    summary: "NDCG@k, gains 2^r − 1, mean over lists with a relevant item (lists without one are left out)",
    params: &[ParamDoc { name: "k", meaning: "ranks looked at", range: "1–100000", default: "10" }],
    build: build_ndcg,
};

/// Mean reciprocal rank of a list's first relevant item.
pub struct Mrr;
impl Metric for Mrr {
    fn compute(&self, o: &Outputs) -> f64 {
        mean_over_lists(o, |grades| grades.iter().position(|g| *g > 0.0).map_or(0.0, |i| 1.0 / (i + 1) as f64))
    }
}
super::metric_entry!(
    MRR,
    Mrr,
    build_mrr,
    Family::Ranking,
    "mrr",
    true,
    "mean reciprocal rank of the first relevant item (grade > 0), over lists with one"
);

/// Recall@k: the fraction of a list's relevant items ranked in its top k.
pub struct RecallAtKRec {
    k: usize,
}
impl Metric for RecallAtKRec {
    fn compute(&self, o: &Outputs) -> f64 {
        mean_over_lists(o, |grades| {
            let relevant = grades.iter().filter(|g| **g > 0.0).count();
            grades.iter().take(self.k).filter(|g| **g > 0.0).count() as f64 / relevant as f64
        })
    }
}
fn build_recall(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<KParams>(value)?;
    Ok((Arc::new(RecallAtKRec { k: params.k }), canonical))
}
pub static RECALL_AT_K_REC: MetricInfo = MetricInfo {
    name: "recall_at_k_rec",
    family: Family::Ranking,
    higher_is_better: true,
    summary: "fraction of a list's relevant items (held-out positives) in its top k, mean over lists with one",
    params: &[ParamDoc { name: "k", meaning: "ranks looked at", range: "1–100000", default: "10" }],
    build: build_recall,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HostTarget;

    #[test]
    fn hand_values_with_padding_ties_and_a_list_without_relevant_items() {
        // List 1 ranks items 1, 0, 2 (grades 1, 2, 0); item 3 is padding, though scored highest.
        // List 2 has no relevant item and is left out. List 3: a tie, item order decides.
        let out = [1.0, 2.0, 0.0, 9.0, 0.3, 0.2, 0.1, 0.0, 0.5, 0.5, 0.1, 0.0];
        let rel = [2.0, 1.0, 0.0, -1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0];
        let o = Outputs::new(&out, 4, HostTarget::Values(&rel));
        let ndcg1 = (1.0 + 3.0 / 3f64.log2()) / (3.0 + 1.0 / 3f64.log2());
        let ndcg3 = (1.0 / 3f64.log2()) / 1.0;
        let ndcg = NdcgAtK { k: 10 }.compute(&o);
        assert!((ndcg - (ndcg1 + ndcg3) / 2.0).abs() < 1e-12, "{ndcg}");
        let at1 = NdcgAtK { k: 1 }.compute(&o);
        assert!((at1 - (1.0 / 3.0 + 0.0) / 2.0).abs() < 1e-12, "{at1}");
        assert!((Mrr.compute(&o) - (1.0 + 0.5) / 2.0).abs() < 1e-12);
        assert!((RecallAtKRec { k: 1 }.compute(&o) - (0.5 + 0.0) / 2.0).abs() < 1e-12);
        assert!((RecallAtKRec { k: 2 }.compute(&o) - 1.0).abs() < 1e-12);
        let none = Outputs::new(&out[4..8], 4, HostTarget::Values(&rel[4..8]));
        assert!(Mrr.compute(&none).is_nan());
    }
}
