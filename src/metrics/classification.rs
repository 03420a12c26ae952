//! Classification metrics from logits (catalog §8.1).

use super::{metric_entry, Metric, MetricInfo, Outputs};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::Family;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Softmax of each row, in f64 with a max shift.
pub fn softmax_rows(out: &[f64], c: usize) -> Vec<f64> {
    let mut p = out.to_vec();
    for row in p.chunks_mut(c) {
        let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut s = 0.0;
        for v in row.iter_mut() {
            *v = (*v - m).exp();
            s += *v;
        }
        row.iter_mut().for_each(|v| *v /= s);
    }
    p
}

fn argmax(row: &[f64]) -> usize {
    // First maximum, as numpy/PyTorch argmax.
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

pub struct Accuracy;
impl Metric for Accuracy {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let hits = o.out.chunks(o.width).zip(y).filter(|(row, &t)| argmax(row) == t as usize).count();
        hits as f64 / y.len().max(1) as f64
    }
}
metric_entry!(
    ACCURACY,
    Accuracy,
    build_accuracy,
    Family::Classification,
    "accuracy",
    true,
    "fraction of examples whose arg-max logit is the label"
);

pub struct Nll;
impl Metric for Nll {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let mut total = 0.0;
        for (row, &t) in o.out.chunks(o.width).zip(y) {
            let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            total += lse - row[t as usize];
        }
        total / y.len().max(1) as f64
    }
}
metric_entry!(NLL, Nll, build_nll, Family::Classification, "nll", false, "negative log-likelihood −mean log p_y (f64 log-softmax)");

pub struct Brier;
impl Metric for Brier {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let p = softmax_rows(o.out, o.width);
        let mut total = 0.0;
        for (row, &t) in p.chunks(o.width).zip(y) {
            total += row.iter().enumerate().map(|(k, pk)| (pk - if k == t as usize { 1.0 } else { 0.0 }).powi(2)).sum::<f64>();
        }
        total / y.len().max(1) as f64
    }
}
metric_entry!(BRIER, Brier, build_brier, Family::Classification, "brier", false, "Brier score mean ‖p − e_y‖² (sum over classes)");

pub struct MacroF1;
impl Metric for MacroF1 {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let c = o.width;
        let (mut tp, mut fp, mut fneg) = (vec![0usize; c], vec![0usize; c], vec![0usize; c]);
        for (row, &t) in o.out.chunks(c).zip(y) {
            let pred = argmax(row);
            if pred == t as usize {
                tp[pred] += 1;
            } else {
                fp[pred] += 1;
                fneg[t as usize] += 1;
            }
        }
        // Average over classes that occur in the labels or the predictions (sklearn's default).
        let scores: Vec<f64> =
            (0..c).filter(|&k| tp[k] + fp[k] + fneg[k] > 0).map(|k| 2.0 * tp[k] as f64 / (2 * tp[k] + fp[k] + fneg[k]) as f64).collect();
        scores.iter().sum::<f64>() / scores.len().max(1) as f64
    }
}
metric_entry!(
    MACRO_F1,
    MacroF1,
    build_macro_f1,
    Family::Classification,
    "macro_f1",
    true,
    "unweighted mean of per-class F1 over classes present"
);

pub struct BalancedAccuracy;
impl Metric for BalancedAccuracy {
    /// The mean accuracy over the classes present: each class a group.
    fn compute(&self, o: &Outputs) -> f64 {
        let recalls: Vec<f64> = group_accuracies(o, o.classes(), o.width).into_iter().flatten().collect();
        recalls.iter().sum::<f64>() / recalls.len().max(1) as f64
    }
}
metric_entry!(
    BALANCED_ACCURACY,
    BalancedAccuracy,
    build_balanced_accuracy,
    Family::Classification,
    "balanced_accuracy",
    true,
    "mean per-class recall over classes present in the labels"
);

/// Accuracy of each group present in `groups` (ids below `count`), `None` for an absent one.
pub fn group_accuracies(o: &Outputs, groups: &[u32], count: usize) -> Vec<Option<f64>> {
    let (mut hits, mut support) = (vec![0usize; count], vec![0usize; count]);
    for ((row, &t), &g) in o.out.chunks(o.width).zip(o.classes()).zip(groups) {
        support[g as usize] += 1;
        hits[g as usize] += usize::from(argmax(row) == t as usize);
    }
    (0..count).map(|g| (support[g] > 0).then(|| hits[g] as f64 / support[g] as f64)).collect()
}

/// `worst_group_acc` (S114): the lowest accuracy over the groups present in the split. Only
/// datasets with groups (`spurious_synth`) have it; resolve rejects it elsewhere.
pub struct WorstGroupAccuracy;
impl Metric for WorstGroupAccuracy {
    fn compute(&self, o: &Outputs) -> f64 {
        let Some(groups) = o.groups else { return f64::NAN };
        let count = groups.iter().max().map_or(0, |g| *g as usize + 1);
        group_accuracies(o, groups, count).into_iter().flatten().fold(f64::NAN, f64::min)
    }
    fn needs_groups(&self) -> bool {
        true
    }
}
metric_entry!(
    WORST_GROUP_ACC,
    WorstGroupAccuracy,
    build_worst_group_acc,
    Family::Classification,
    "worst_group_acc",
    true,
    "lowest accuracy over the dataset's groups (class × spurious attribute; S114)"
);

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct TopKParams {
    k: usize,
}
impl Default for TopKParams {
    fn default() -> Self {
        TopKParams { k: 5 }
    }
}
impl Validate for TopKParams {
    fn validate(&self) -> Result<()> {
        check_range("k", self.k as f64, 1.0, 1e6)
    }
}

pub struct TopK {
    k: usize,
}
impl Metric for TopK {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let mut hits = 0;
        for (row, &t) in o.out.chunks(o.width).zip(y) {
            // Rank of the label = number of classes with a strictly larger logit.
            let above = row.iter().filter(|&&v| v > row[t as usize]).count();
            if above < self.k {
                hits += 1;
            }
        }
        hits as f64 / y.len().max(1) as f64
    }
}
fn build_top_k(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<TopKParams>(value)?;
    Ok((Arc::new(TopK { k: params.k }), canonical))
}
pub static TOP_K: MetricInfo = MetricInfo {
    name: "top_k",
    family: Family::Classification,
    higher_is_better: true,
    summary: "fraction of examples whose label is among the k largest logits",
    params: &[ParamDoc { name: "k", meaning: "how many top classes count", range: "≥ 1", default: "5" }],
    build: build_top_k,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct EceParams {
    bins: usize,
}
impl Default for EceParams {
    fn default() -> Self {
        EceParams { bins: 15 }
    }
}
impl Validate for EceParams {
    fn validate(&self) -> Result<()> {
        check_range("bins", self.bins as f64, 1.0, 10_000.0)
    }
}

/// Expected calibration error with equal-width confidence bins (Guo et al. 2017):
/// `Σ_b (|B_b|/N)·|acc(B_b) − conf(B_b)|`, confidence `max_k p_k`, bin `b` = `(b/B, (b+1)/B]`.
pub struct Ece {
    bins: usize,
}
impl Metric for Ece {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let p = softmax_rows(o.out, o.width);
        let b = self.bins;
        let (mut count, mut conf_sum, mut hit_sum) = (vec![0usize; b], vec![0f64; b], vec![0f64; b]);
        for (row, &t) in p.chunks(o.width).zip(y) {
            let pred = argmax(row);
            let conf = row[pred];
            // Bins (lo, hi] as in Guo et al.'s reference code; confidence 0 cannot occur.
            let bin = ((conf * b as f64).ceil() as usize).clamp(1, b) - 1;
            count[bin] += 1;
            conf_sum[bin] += conf;
            hit_sum[bin] += f64::from(u8::from(pred == t as usize));
        }
        let n = y.len().max(1) as f64;
        (0..b)
            .filter(|&i| count[i] > 0)
            .map(|i| (count[i] as f64 / n) * (hit_sum[i] / count[i] as f64 - conf_sum[i] / count[i] as f64).abs())
            .sum()
    }
}
fn build_ece(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<EceParams>(value)?;
    Ok((Arc::new(Ece { bins: params.bins }), canonical))
}
pub static ECE: MetricInfo = MetricInfo {
    name: "ece",
    family: Family::Classification,
    higher_is_better: false,
    summary: "expected calibration error, equal-width confidence bins (Guo et al. 2017)",
    params: &[ParamDoc { name: "bins", meaning: "number of equal-width bins", range: "≥ 1", default: "15" }],
    build: build_ece,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HostTarget;

    fn outputs<'a>(out: &'a [f64], y: &'a [u32], c: usize) -> Outputs<'a> {
        Outputs::new(out, c, HostTarget::Classes(y))
    }

    #[test]
    fn accuracy_top_k_f1_balanced_on_a_hand_example() {
        // Predictions: 0, 1, 1, 2 ; labels 0, 1, 2, 2.
        let out = [3., 1., 0., 0., 2., 1., 0., 2., 1., 0., 1., 2.];
        let y = [0, 1, 2, 2];
        let o = outputs(&out, &y, 3);
        assert_eq!(Accuracy.compute(&o), 0.75);
        assert_eq!(TopK { k: 2 }.compute(&o), 1.0);
        assert_eq!(TopK { k: 1 }.compute(&o), 0.75);
        // Recalls: 1, 1, 0.5 → 0.8333…
        assert!((BalancedAccuracy.compute(&o) - 2.5 / 3.0).abs() < 1e-12);
        // F1: class 0: 1; class 1: tp 1, fp 1 → 2/3; class 2: tp 1, fn 1 → 2/3.
        assert!((MacroF1.compute(&o) - (1.0 + 2.0 / 3.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn nll_brier_ece_match_closed_forms() {
        // Two classes, logits (0, ln 3) → p = (0.25, 0.75).
        let l3 = 3f64.ln();
        let out = [0., l3, 0., l3];
        let y = [1, 0];
        let o = outputs(&out, &y, 2);
        assert!((Nll.compute(&o) - (-(0.75f64).ln() - (0.25f64).ln()) / 2.0).abs() < 1e-12);
        assert!((Brier.compute(&o) - (2.0 * 0.0625 + 2.0 * 0.5625) / 2.0).abs() < 1e-12);
        // Both in the bin containing 0.75, accuracy 0.5 → ECE = |0.5 − 0.75| = 0.25.
        assert!((Ece { bins: 15 }.compute(&o) - 0.25).abs() < 1e-12);
    }

    #[test]
    fn worst_group_accuracy_is_the_lowest_over_present_groups() {
        // Rows: (logits, label, group). Group 0: 2/2 right; group 1: 1/2; group 3: 0/1; group 2 absent.
        let out = [2.0, 0.0, 0.0, 2.0, 2.0, 0.0, 0.0, 2.0, 2.0, 0.0];
        let y = [0u32, 1, 0, 0, 1];
        let g = [0u32, 0, 1, 1, 3];
        let o = Outputs { groups: Some(&g), ..Outputs::new(&out, 2, crate::metrics::HostTarget::Classes(&y)) };
        assert_eq!(group_accuracies(&o, &g, 4), vec![Some(1.0), Some(0.5), None, Some(0.0)]);
        assert_eq!(WorstGroupAccuracy.compute(&o), 0.0);
        let without = Outputs::new(&out, 2, crate::metrics::HostTarget::Classes(&y));
        assert!(WorstGroupAccuracy.compute(&without).is_nan());
    }
}
