//! Metrics recorded automatically when the data calls for them (catalog §7.2, §7.3, §8.1):
//!
//! - with corrupted train labels, on the train split: `fit_noisy` (fraction of corrupted rows
//!   predicted as their *corrupted* label — memorisation), `clean_pred_noisy` (fraction of
//!   corrupted rows predicted as their *clean* label) and `fit_clean` (accuracy on the
//!   uncorrupted rows);
//! - with a long-tailed train split, on every split: `many_acc`, `medium_acc`, `few_acc`,
//!   accuracy over the classes whose train count is ≥ n_max/3, between, and ≤ n_max/10.

use crate::data::transforms::{train_class_counts, Prepared};

/// Derived metric names and whether higher is better (memorising noise is not; nor is
/// sharpness, which `train.sharpness` records on the train split at the last epoch).
pub const DERIVED: &[(&str, bool)] = &[
    ("clean_pred_noisy", true),
    ("few_acc", true),
    ("fit_clean", true),
    ("fit_noisy", false),
    ("hessian_top_eig", false),
    ("many_acc", true),
    ("medium_acc", true),
    ("sharpness_rho", false),
];

fn argmax(row: &[f64]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

fn fraction(hits: usize, total: usize) -> Option<f64> {
    (total > 0).then(|| hits as f64 / total as f64)
}

/// The derived classification metrics of one split.
pub fn classification(split: &str, out: &[f64], width: usize, labels: &[u32], prepared: &Prepared) -> Vec<(&'static str, f64)> {
    let preds: Vec<usize> = out.chunks(width.max(1)).map(argmax).collect();
    let mut rows = Vec::new();
    if split == "train" && !prepared.noisy.is_empty() {
        if let Some(clean) = &prepared.clean_train {
            let mut is_noisy = vec![false; labels.len()];
            for &i in &prepared.noisy {
                if i < is_noisy.len() {
                    is_noisy[i] = true;
                }
            }
            let (mut fit_noisy, mut clean_pred, mut n_noisy, mut fit_clean, mut n_clean) = (0, 0, 0, 0, 0);
            for i in 0..labels.len() {
                if is_noisy[i] {
                    n_noisy += 1;
                    fit_noisy += usize::from(preds[i] == labels[i] as usize);
                    clean_pred += usize::from(preds[i] == clean[i] as usize);
                } else {
                    n_clean += 1;
                    fit_clean += usize::from(preds[i] == labels[i] as usize);
                }
            }
            rows.extend(fraction(fit_noisy, n_noisy).map(|v| ("fit_noisy", v)));
            rows.extend(fraction(clean_pred, n_noisy).map(|v| ("clean_pred_noisy", v)));
            rows.extend(fraction(fit_clean, n_clean).map(|v| ("fit_clean", v)));
        }
    }
    if prepared.long_tailed {
        if let Some(counts) = train_class_counts(prepared) {
            let n_max = counts.iter().copied().max().unwrap_or(0) as f64;
            let bucket = |c: usize| -> usize {
                let n = counts.get(c).copied().unwrap_or(0) as f64;
                if n >= n_max / 3.0 {
                    0
                } else if n <= n_max / 10.0 {
                    2
                } else {
                    1
                }
            };
            let (mut hits, mut totals) = ([0usize; 3], [0usize; 3]);
            for (p, &y) in preds.iter().zip(labels) {
                let b = bucket(y as usize);
                totals[b] += 1;
                hits[b] += usize::from(*p == y as usize);
            }
            for (b, name) in ["many_acc", "medium_acc", "few_acc"].into_iter().enumerate() {
                rows.extend(fraction(hits[b], totals[b]).map(|v| (name, v)));
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::transforms::{prepare, LongTailSpec, NoiseKind, NoiseSpec, Profile, Transforms};
    use crate::data::{blobs, Source};

    #[test]
    fn noise_fit_metrics_count_corrupted_and_clean_rows() {
        let raw = blobs::Params { n: 200, classes: 4, ..Default::default() }.load(1).unwrap();
        let t = Transforms { label_noise: Some(NoiseSpec { kind: NoiseKind::Symmetric, rate: 0.5 }), ..Default::default() };
        let p = prepare(raw, &t, 1).unwrap();
        let labels = p.train.classes().unwrap().to_vec();
        let clean = p.clean_train.clone().unwrap();
        // Logits that predict the clean label everywhere: no noise fitted, all clean rows right.
        let c = 4;
        let out: Vec<f64> = clean.iter().flat_map(|&y| (0..c).map(move |k| if k == y as usize { 1.0 } else { 0.0 })).collect();
        let m: std::collections::HashMap<_, _> = classification("train", &out, c, &labels, &p).into_iter().collect();
        assert_eq!(m["fit_noisy"], 0.0);
        assert_eq!(m["clean_pred_noisy"], 1.0);
        assert_eq!(m["fit_clean"], 1.0);
        assert!(classification("test", &out, c, &labels, &p).is_empty());
    }

    #[test]
    fn shot_buckets_follow_train_counts() {
        let raw = blobs::Params { n: 1000, classes: 10, ..Default::default() }.load(1).unwrap();
        let t = Transforms { long_tail: Some(LongTailSpec { imbalance: 0.01, profile: Profile::Exp }), ..Default::default() };
        let p = prepare(raw, &t, 1).unwrap();
        let labels: Vec<u32> = (0..10).collect();
        // Predict class 0 for everything: only class 0 (a many-shot class) is right.
        let out: Vec<f64> = (0..10).flat_map(|_| (0..10).map(|k| if k == 0 { 1.0 } else { 0.0 })).collect();
        let m: std::collections::HashMap<_, _> = classification("test", &out, 10, &labels, &p).into_iter().collect();
        // Counts 70·0.01^(c/9): many = {0, 1, 2} (≥ 23.3), few = classes with ≤ 7 rows.
        assert!((m["many_acc"] - 1.0 / 3.0).abs() < 1e-12, "{m:?}");
        assert_eq!(m["few_acc"], 0.0);
    }
}
