//! Multi-label metrics (catalog §8.3/8.4): ranking quality per label (macro-AUC) and
//! thresholded predictions (`z > 0`, i.e. σ(z) > ½).

use super::{metric_entry, Metric, MetricInfo, Outputs};
use crate::task::Family;

/// AUC of one label by the Mann–Whitney U statistic (ties count ½); `None` without both classes.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks (1-based) over ties.
    let mut ranks = vec![0.0; scores.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = labels.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let rank_sum: f64 = ranks.iter().zip(labels).filter(|(_, &l)| l).map(|(r, _)| r).sum();
    Some((rank_sum - (n_pos * (n_pos + 1)) as f64 / 2.0) / (n_pos * n_neg) as f64)
}

pub struct MacroAuc;
impl Metric for MacroAuc {
    fn compute(&self, o: &Outputs) -> f64 {
        let t = o.values();
        let (k, n) = (o.width, o.rows());
        let aucs: Vec<f64> = (0..k)
            .filter_map(|j| {
                let scores: Vec<f64> = (0..n).map(|i| o.out[i * k + j]).collect();
                let labels: Vec<bool> = (0..n).map(|i| t[i * k + j] > 0.5).collect();
                auc(&scores, &labels)
            })
            .collect();
        if aucs.is_empty() {
            f64::NAN
        } else {
            aucs.iter().sum::<f64>() / aucs.len() as f64
        }
    }
}
metric_entry!(
    MACRO_AUC,
    MacroAuc,
    build_macro_auc,
    Family::MultiLabel,
    "macro_auc",
    true,
    "mean over labels of the per-label AUC (Mann–Whitney, ties ½; labels with both classes)"
);

/// (tp, fp, fn) per label with predictions `z > 0`.
fn confusion(o: &Outputs) -> Vec<(usize, usize, usize)> {
    let t = o.values();
    let k = o.width;
    let mut c = vec![(0, 0, 0); k];
    for (i, (z, y)) in o.out.iter().zip(t).enumerate() {
        let (pred, truth) = (*z > 0.0, *y > 0.5);
        let e = &mut c[i % k];
        match (pred, truth) {
            (true, true) => e.0 += 1,
            (true, false) => e.1 += 1,
            (false, true) => e.2 += 1,
            (false, false) => {}
        }
    }
    c
}

pub struct MicroF1;
impl Metric for MicroF1 {
    fn compute(&self, o: &Outputs) -> f64 {
        let (tp, fp, fneg) = confusion(o).iter().fold((0, 0, 0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
        if tp + fp + fneg == 0 {
            1.0
        } else {
            2.0 * tp as f64 / (2 * tp + fp + fneg) as f64
        }
    }
}
metric_entry!(
    MICRO_F1,
    MicroF1,
    build_micro_f1,
    Family::MultiLabel,
    "micro_f1",
    true,
    "F1 over all (example, label) decisions, predictions z > 0"
);

pub struct LabelMacroF1;
impl Metric for LabelMacroF1 {
    fn compute(&self, o: &Outputs) -> f64 {
        let scores: Vec<f64> =
            confusion(o).iter().filter(|c| c.0 + c.1 + c.2 > 0).map(|c| 2.0 * c.0 as f64 / (2 * c.0 + c.1 + c.2) as f64).collect();
        if scores.is_empty() {
            1.0
        } else {
            scores.iter().sum::<f64>() / scores.len() as f64
        }
    }
}
metric_entry!(
    LABEL_MACRO_F1,
    LabelMacroF1,
    build_label_macro_f1,
    Family::MultiLabel,
    "label_macro_f1",
    true,
    "mean over labels of the per-label F1 (labels that occur), predictions z > 0"
);

pub struct HammingLoss;
impl Metric for HammingLoss {
    fn compute(&self, o: &Outputs) -> f64 {
        let t = o.values();
        let wrong = o.out.iter().zip(t).filter(|(z, y)| (**z > 0.0) != (**y > 0.5)).count();
        wrong as f64 / t.len().max(1) as f64
    }
}
metric_entry!(
    HAMMING_LOSS,
    HammingLoss,
    build_hamming_loss,
    Family::MultiLabel,
    "hamming_loss",
    false,
    "fraction of wrong (example, label) decisions, predictions z > 0"
);

pub struct Jaccard;
impl Metric for Jaccard {
    fn compute(&self, o: &Outputs) -> f64 {
        let t = o.values();
        let k = o.width;
        let n = o.rows();
        let mut total = 0.0;
        for i in 0..n {
            let (mut inter, mut union) = (0, 0);
            for j in 0..k {
                let (p, y) = (o.out[i * k + j] > 0.0, t[i * k + j] > 0.5);
                inter += usize::from(p && y);
                union += usize::from(p || y);
            }
            total += if union == 0 { 1.0 } else { inter as f64 / union as f64 };
        }
        total / n.max(1) as f64
    }
}
metric_entry!(
    JACCARD,
    Jaccard,
    build_jaccard,
    Family::MultiLabel,
    "jaccard",
    true,
    "mean over examples of |predicted ∩ true| / |predicted ∪ true| (empty ∪ = 1)"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HostTarget;

    #[test]
    fn auc_counts_ties_as_half_and_hand_values() {
        assert_eq!(auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]), Some(0.75));
        assert_eq!(auc(&[1.0, 1.0], &[true, false]), Some(0.5));
        assert_eq!(auc(&[1.0, 2.0], &[true, true]), None);
        // Two labels: predictions z > 0 → [1, 0], [1, 1]; truth [1, 1], [0, 1].
        let out = [2.0, -1.0, 0.5, 3.0];
        let t = [1.0, 1.0, 0.0, 1.0];
        let o = Outputs::new(&out, 2, HostTarget::Values(&t));
        assert_eq!(HammingLoss.compute(&o), 0.5);
        // tp 2, fp 1, fn 1 → 4/6.
        assert!((MicroF1.compute(&o) - 4.0 / 6.0).abs() < 1e-12);
        // Row 0: ∩ 1, ∪ 2; row 1: ∩ 1, ∪ 2.
        assert_eq!(Jaccard.compute(&o), 0.5);
    }
}
