//! Dataset transforms, applied in a fixed order for every run:
//!
//! 1. **split** into train/val/test (stratified by class, seeded; datasets with their own split,
//!    such as `modular_arith`, keep it and have no validation split);
//! 2. **long_tail** sub-sampling of the train split (catalog §7.3: `n_c = ⌊n_max·IF^{c/(C−1)}⌋`
//!    for the `exp` profile, the first ⌊C/2⌋ classes keep `n_max` and the rest `⌊n_max·IF⌋`
//!    for `step`);
//! 3. **label_noise** on the train split only (catalog §7.2), recording which rows were changed;
//! 4. **labelled**: keep the labels of `per_class` train rows of each class, the rest of the
//!    train split unlabelled (semi-supervised learning: the task loss reads only the labelled
//!    rows; regularizers such as `vat` read every row);
//! 5. **standardize** features (and regression targets) with train-split statistics.
//!
//! Randomness: the split uses the `Split` stream and corruption the `Corrupt` stream of the run
//! seed, so every loss compared under one seed sees the same rows and the same flipped labels.

use super::{class_counts, InputKind, Labels, RawData, Table};
use crate::error::{Error, Result};
use crate::registry::check_range;
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitSpec {
    /// Fraction of rows in the validation split.
    pub val: f64,
    /// Fraction of rows in the test split.
    pub test: f64,
    /// Keep class proportions in every split (classification only).
    pub stratify: bool,
}

impl Default for SplitSpec {
    fn default() -> Self {
        SplitSpec { val: 0.15, test: 0.15, stratify: true }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseKind {
    /// Exactly ⌊η·n_c⌋ rows of each class relabelled to a uniformly random *other* class (APL's code).
    Symmetric,
    /// Each row with probability η gets a uniformly random class, possibly its own (LDR's code).
    Uniform,
    /// Pair flip: each row of class c becomes (c + 1) mod C with probability η.
    Pair,
    /// APL's MNIST/digits mapping 7→1, 2→7, 5→6, 6→5, 3→8, each with probability η (10 classes).
    Asymmetric,
    /// A random row-stochastic transition matrix with diagonal 1 − η; each class's off-diagonal
    /// mass η is split among the other classes by uniform random weights (LDR's class-dependent
    /// setting). The matrix is drawn from the run seed.
    ClassDependent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoiseSpec {
    pub kind: NoiseKind,
    pub rate: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    #[default]
    Exp,
    Step,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LongTailSpec {
    /// Imbalance factor IF = n_min / n_max, in (0, 1].
    pub imbalance: f64,
    #[serde(default)]
    pub profile: Profile,
}

/// Semi-supervised training: how many train rows of each class keep their label.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledSpec {
    pub per_class: usize,
}

/// Most classes `class_dependent` noise takes: its C × C matrix is 128 MiB there.
pub const MAX_CLASS_DEPENDENT: usize = 4096;

/// The transform keys of a recipe's `dataset:` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Transforms {
    #[serde(default)]
    pub split: SplitSpec,
    /// Standardise features with train statistics. Default: on, except for one-hot/token data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardize: Option<bool>,
    /// Standardise regression targets with train statistics (metrics are reported in the
    /// original units). Default: on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardize_target: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_noise: Option<NoiseSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_tail: Option<LongTailSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labelled: Option<LabelledSpec>,
}

/// Keys of [`Transforms`], so the recipe can tell them apart from a dataset's own parameters.
pub const TRANSFORM_KEYS: &[&str] = &["split", "standardize", "standardize_target", "label_noise", "long_tail", "labelled"];

impl Transforms {
    /// Range checks, and checks that need the task kind.
    pub fn validate(&self, kind: TaskKind) -> Result<()> {
        let s = &self.split;
        check_range("split.val", s.val, 0.0, 0.9)?;
        check_range("split.test", s.test, 0.0, 0.9)?;
        if s.val + s.test >= 0.95 {
            return Err(Error::input(format!(
                "split.val + split.test = {} leaves too little for training; keep the sum below 0.95",
                s.val + s.test
            )));
        }
        let classes = match kind {
            TaskKind::Classification { classes } => Some(classes),
            // Metric-learning data is split by class; noise and long tails are not (yet) defined there.
            TaskKind::Regression { .. }
            | TaskKind::MultiLabel { .. }
            | TaskKind::MetricLearning { .. }
            | TaskKind::Ranking { .. }
            | TaskKind::Recommendation { .. } => None,
        };
        let unscalable = match kind {
            TaskKind::Recommendation { .. } => Some("user and item ids"),
            TaskKind::Ranking { .. } => Some(
                "lists of items (a column holds one feature of one list position); ranking datasets standardise their features per query themselves",
            ),
            _ => None,
        };
        if let (Some(what), Some(true)) = (unscalable, self.standardize) {
            return Err(Error::input(format!("standardize: true is not defined for {what}")));
        }
        if let Some(noise) = &self.label_noise {
            let Some(c) = classes else {
                return Err(Error::input(format!("label_noise needs a classification dataset; this one is {}", kind.family())));
            };
            check_range("label_noise.rate", noise.rate, 0.0, 1.0)?;
            if noise.kind == NoiseKind::ClassDependent && c > MAX_CLASS_DEPENDENT {
                return Err(Error::input(format!(
                    "label_noise kind `class_dependent` draws a {c} × {c} transition matrix; it allows at most {MAX_CLASS_DEPENDENT} classes (use `symmetric` or `uniform` for more)"
                )));
            }
            if noise.kind == NoiseKind::Asymmetric && c != 10 {
                return Err(Error::input(format!(
                    "label_noise kind `asymmetric` is APL's 10-class digit mapping; this dataset has {c} classes (use `pair` for a generic pair flip)"
                )));
            }
        }
        if let Some(l) = &self.labelled {
            if !matches!(kind, TaskKind::Classification { .. }) {
                return Err(Error::input(format!("labelled needs a classification dataset; this one is {}", kind.family())));
            }
            check_range("labelled.per_class", l.per_class as f64, 1.0, 1e7)?;
        }
        if let Some(lt) = &self.long_tail {
            // Long tails also apply to a metric-learning train split (its classes' rows).
            if kind.classes().is_none() {
                return Err(Error::input(format!("long_tail needs a classification dataset; this one is {}", kind.family())));
            }
            if !(lt.imbalance > 0.0 && lt.imbalance <= 1.0) {
                return Err(Error::input(format!(
                    "parameter `long_tail.imbalance` = {} is out of range; allowed: 0 < imbalance ≤ 1 (n_min / n_max)",
                    lt.imbalance
                )));
            }
        }
        Ok(())
    }
}

/// Train/val/test tables ready for a run.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub kind: TaskKind,
    pub input: InputKind,
    pub train: Table,
    pub val: Table,
    pub test: Table,
    /// Train rows whose label differs from the clean label (generator noise or `label_noise`).
    pub noisy: Vec<usize>,
    /// Per-output mean and std used to standardise regression targets (to undo for metrics).
    pub target_scale: Option<(Vec<f32>, Vec<f32>)>,
    /// Clean class ids of the train rows (before any corruption), for classification.
    pub clean_train: Option<Vec<u32>>,
    /// Whether the train split was long-tail sub-sampled (enables many/medium/few-shot metrics).
    pub long_tailed: bool,
    /// The group of every row of each split, when the dataset has groups.
    pub groups: Option<SplitGroups>,
    /// With `labelled`: whether each train row keeps its label (the task loss reads only
    /// those); `None`: every row is labelled.
    pub labelled: Option<Vec<bool>>,
}

/// Group ids of the rows of each split (ids in `0..names.len()`).
#[derive(Debug, Clone, PartialEq)]
pub struct SplitGroups {
    pub names: Vec<String>,
    pub train: Vec<u32>,
    pub val: Vec<u32>,
    pub test: Vec<u32>,
}

impl SplitGroups {
    fn select(groups: &super::Groups, train: &[usize], val: &[usize], test: &[usize]) -> SplitGroups {
        let pick = |rows: &[usize]| rows.iter().map(|&i| groups.ids[i]).collect();
        SplitGroups { names: groups.names.clone(), train: pick(train), val: pick(val), test: pick(test) }
    }

    /// The group ids of split `name` (`train`, `val` or `test`).
    pub fn of(&self, name: &str) -> Option<&[u32]> {
        match name {
            "train" => Some(&self.train),
            "val" => Some(&self.val),
            "test" => Some(&self.test),
            _ => None,
        }
    }
}

fn split_indices(raw: &RawData, spec: &SplitSpec, seed: u64) -> (Vec<usize>, Vec<usize>, Vec<usize>) {
    if let Some((train, test)) = &raw.fixed_split {
        return (train.clone(), raw.fixed_val.clone(), test.clone());
    }
    let mut rng = Stream::new(seed, Purpose::Split, 0);
    let groups: Vec<Vec<usize>> = match (&raw.rows.y, raw.kind) {
        (Labels::Classes(y), TaskKind::Classification { classes } | TaskKind::MetricLearning { classes, .. }) if spec.stratify => {
            let mut groups = vec![Vec::new(); classes];
            for (i, &c) in y.iter().enumerate() {
                groups[c as usize].push(i);
            }
            groups
        }
        _ => vec![(0..raw.rows.len()).collect()],
    };
    let (mut train, mut val, mut test) = (Vec::new(), Vec::new(), Vec::new());
    for mut group in groups {
        rng.shuffle(&mut group);
        let n = group.len();
        let n_test = (spec.test * n as f64).round() as usize;
        let n_val = ((spec.val * n as f64).round() as usize).min(n - n_test.min(n));
        test.extend_from_slice(&group[..n_test.min(n)]);
        val.extend_from_slice(&group[n_test.min(n)..n_test.min(n) + n_val]);
        train.extend_from_slice(&group[n_test.min(n) + n_val..]);
    }
    train.sort_unstable();
    val.sort_unstable();
    test.sort_unstable();
    (train, val, test)
}

fn long_tail(train: &mut Vec<usize>, labels: &[u32], classes: usize, spec: &LongTailSpec, seed: u64) {
    let mut rng = Stream::new(seed, Purpose::Corrupt, 0);
    let mut by_class = vec![Vec::new(); classes];
    for &i in train.iter() {
        by_class[labels[i] as usize].push(i);
    }
    let n_max = by_class.iter().map(Vec::len).max().unwrap_or(0) as f64;
    let mut kept = Vec::new();
    for (c, mut rows) in by_class.into_iter().enumerate() {
        let target = match spec.profile {
            Profile::Exp => n_max * spec.imbalance.powf(c as f64 / (classes - 1).max(1) as f64),
            Profile::Step if c < classes / 2 => n_max,
            Profile::Step => n_max * spec.imbalance,
        };
        let keep = (target.floor() as usize).max(1).min(rows.len());
        rng.shuffle(&mut rows);
        kept.extend_from_slice(&rows[..keep]);
    }
    kept.sort_unstable();
    *train = kept;
}

/// Which train rows keep their label: `per_class` rows of each class (all of a smaller
/// class), drawn from the `Corrupt` stream so every method under one seed sees the same ones.
fn labelled_rows(labels: &[u32], spec: &LabelledSpec, seed: u64) -> Vec<bool> {
    let mut rng = Stream::new(seed, Purpose::Corrupt, 2);
    let mut keep = vec![false; labels.len()];
    for mut rows in super::rows_by_class(labels) {
        rng.shuffle(&mut rows);
        rows.iter().take(spec.per_class).for_each(|&i| keep[i] = true);
    }
    keep
}

/// Corrupt `labels` in place; returns the positions whose label changed.
fn label_noise(labels: &mut [u32], classes: usize, spec: &NoiseSpec, seed: u64) -> Vec<usize> {
    let mut rng = Stream::new(seed, Purpose::Corrupt, 1);
    let clean = labels.to_vec();
    match spec.kind {
        NoiseKind::Symmetric => {
            for c in 0..classes as u32 {
                let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| clean[i] == c).collect();
                let n_flip = (spec.rate * rows.len() as f64).floor() as usize;
                rng.shuffle(&mut rows);
                for &i in &rows[..n_flip] {
                    let other = rng.below(classes as u64 - 1) as u32;
                    labels[i] = if other >= c { other + 1 } else { other };
                }
            }
        }
        NoiseKind::Uniform => {
            for label in labels.iter_mut() {
                if rng.uniform() < spec.rate {
                    *label = rng.below(classes as u64) as u32;
                }
            }
        }
        NoiseKind::Pair => {
            for label in labels.iter_mut() {
                if rng.uniform() < spec.rate {
                    *label = (*label + 1) % classes as u32;
                }
            }
        }
        NoiseKind::ClassDependent => {
            let matrix: Vec<Vec<f64>> = (0..classes)
                .map(|c| {
                    let w: Vec<f64> = (0..classes).map(|k| if k == c { 0.0 } else { rng.uniform() + 1e-12 }).collect();
                    let total: f64 = w.iter().sum();
                    (0..classes).map(|k| if k == c { 1.0 - spec.rate } else { spec.rate * w[k] / total }).collect()
                })
                .collect();
            for label in labels.iter_mut() {
                let row = &matrix[*label as usize];
                let u = rng.uniform();
                let mut acc = 0.0;
                let mut pick = *label;
                for (k, p) in row.iter().enumerate() {
                    acc += p;
                    if u < acc {
                        pick = k as u32;
                        break;
                    }
                }
                *label = pick;
            }
        }
        NoiseKind::Asymmetric => {
            for label in labels.iter_mut() {
                let to = match *label {
                    7 => 1,
                    2 => 7,
                    5 => 6,
                    6 => 5,
                    3 => 8,
                    _ => continue,
                };
                if rng.uniform() < spec.rate {
                    *label = to;
                }
            }
        }
    }
    (0..labels.len()).filter(|&i| labels[i] != clean[i]).collect()
}

/// Column means and standard deviations of a row-major `[n, d]` matrix (std 1 for constant columns).
fn column_stats(data: &[f32], d: usize) -> (Vec<f32>, Vec<f32>) {
    let n = (data.len() / d.max(1)).max(1) as f64;
    let mut mean = vec![0f64; d];
    for row in data.chunks(d) {
        for (m, v) in mean.iter_mut().zip(row) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0f64; d];
    for row in data.chunks(d) {
        for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (*v as f64 - m).powi(2);
        }
    }
    let std = var.iter().map(|s| (s / n).sqrt()).map(|s| if s > 1e-12 { s } else { 1.0 });
    (mean.iter().map(|&m| m as f32).collect(), std.map(|s| s as f32).collect())
}

fn apply_scale(data: &mut [f32], d: usize, mean: &[f32], std: &[f32]) {
    for row in data.chunks_mut(d) {
        for ((v, m), s) in row.iter_mut().zip(mean).zip(std) {
            *v = (*v - m) / s;
        }
    }
}

/// Apply the transforms to a loaded dataset for one run seed.
pub fn prepare(raw: RawData, transforms: &Transforms, seed: u64) -> Result<Prepared> {
    let (mut train_idx, val_idx, test_idx) = split_indices(&raw, &transforms.split, seed);
    if let (Some(lt), Labels::Classes(y), Some(classes)) = (&transforms.long_tail, &raw.rows.y, raw.kind.classes()) {
        long_tail(&mut train_idx, y, classes, lt, seed);
    }
    if train_idx.is_empty() {
        return Err(Error::input("the train split is empty; lower split.val/split.test or use more data"));
    }
    let generator_noisy: Vec<usize> =
        train_idx.iter().enumerate().filter(|(_, i)| raw.noisy.binary_search(i).is_ok()).map(|(pos, _)| pos).collect();
    let mut train = raw.rows.select(&train_idx);
    let mut val = raw.rows.select(&val_idx);
    let mut test = raw.rows.select(&test_idx);
    let clean_train = match (&raw.clean_labels, &train.y) {
        (Some(clean), _) => Some(train_idx.iter().map(|&i| clean[i]).collect()),
        (None, Labels::Classes(y)) => Some(y.clone()),
        _ => None,
    };
    let mut noisy = generator_noisy;
    if let (Some(spec), TaskKind::Classification { classes }) = (&transforms.label_noise, raw.kind) {
        if let Labels::Classes(y) = &mut train.y {
            noisy.extend(label_noise(y, classes, spec, seed));
            noisy.sort_unstable();
            noisy.dedup();
        }
    }
    let labelled = match (&transforms.labelled, &train.y, raw.kind) {
        (Some(spec), Labels::Classes(y), TaskKind::Classification { .. }) => Some(labelled_rows(y, spec, seed)),
        _ => None,
    };
    if transforms.standardize.unwrap_or(raw.standardize_by_default) {
        let (mean, std) = column_stats(&train.x, train.d);
        for table in [&mut train, &mut val, &mut test] {
            apply_scale(&mut table.x, table.d, &mean, &std);
        }
    }
    let mut target_scale = None;
    if let (Labels::Values { data, k }, TaskKind::Regression { .. }) = (&train.y, raw.kind) {
        if transforms.standardize_target.unwrap_or(true) {
            let k = *k;
            let (mean, std) = column_stats(data, k);
            for table in [&mut train, &mut val, &mut test] {
                if let Labels::Values { data, .. } = &mut table.y {
                    apply_scale(data, k, &mean, &std);
                }
            }
            target_scale = Some((mean, std));
        }
    }
    let long_tailed = transforms.long_tail.is_some();
    let groups = raw.groups.as_ref().map(|g| SplitGroups::select(g, &train_idx, &val_idx, &test_idx));
    Ok(Prepared { kind: raw.kind, input: raw.input, train, val, test, noisy, target_scale, clean_train, long_tailed, groups, labelled })
}

/// Training-set class counts, for records.
pub fn train_class_counts(prepared: &Prepared) -> Option<Vec<usize>> {
    match (prepared.kind, prepared.train.classes()) {
        (TaskKind::Classification { classes } | TaskKind::MetricLearning { classes, .. }, Some(y)) => Some(class_counts(y, classes)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{blobs, Source};

    fn blobs_raw() -> RawData {
        blobs::Params { n: 1000, classes: 10, ..Default::default() }.load(3).unwrap()
    }

    #[test]
    fn stratified_split_keeps_proportions_and_partitions_rows() {
        let raw = blobs_raw();
        let (tr, va, te) = split_indices(&raw, &SplitSpec::default(), 1);
        assert_eq!(tr.len() + va.len() + te.len(), 1000);
        assert_eq!((va.len(), te.len()), (150, 150));
        let mut all: Vec<usize> = tr.iter().chain(&va).chain(&te).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn symmetric_noise_flips_exactly_the_rate_to_other_classes() {
        let t = Transforms { label_noise: Some(NoiseSpec { kind: NoiseKind::Symmetric, rate: 0.4 }), ..Default::default() };
        let clean = prepare(blobs_raw(), &Transforms::default(), 5).unwrap();
        let noisy = prepare(blobs_raw(), &t, 5).unwrap();
        let (Some(a), Some(b)) = (clean.train.classes(), noisy.train.classes()) else { unreachable!() };
        let changed: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
        assert_eq!(changed, noisy.noisy);
        // 70 train rows per class, ⌊0.4·70⌋ = 28 flipped in each of 10 classes.
        assert_eq!(changed.len(), 280);
        assert_eq!(clean.test, noisy.test, "test split must stay clean");
    }

    #[test]
    fn class_dependent_noise_flips_about_the_rate_and_keeps_the_diagonal() {
        let t = Transforms { label_noise: Some(NoiseSpec { kind: NoiseKind::ClassDependent, rate: 0.3 }), ..Default::default() };
        let p = prepare(blobs_raw(), &t, 9).unwrap();
        let frac = p.noisy.len() as f64 / p.train.len() as f64;
        assert!((frac - 0.3).abs() < 0.06, "{frac}");
        // Same seed, same matrix and same flips.
        assert_eq!(prepare(blobs_raw(), &t, 9).unwrap().noisy, p.noisy);
        let clean = p.clean_train.as_ref().unwrap();
        let noisy_labels = p.train.classes().unwrap();
        assert!(p.noisy.iter().all(|&i| clean[i] != noisy_labels[i]));
    }

    #[test]
    fn long_tail_follows_the_exponential_profile() {
        let t = Transforms { long_tail: Some(LongTailSpec { imbalance: 0.1, profile: Profile::Exp }), ..Default::default() };
        let p = prepare(blobs_raw(), &t, 2).unwrap();
        let counts = train_class_counts(&p).unwrap();
        assert_eq!(counts[0], 70);
        assert_eq!(counts[9], 7);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    }

    #[test]
    fn standardisation_uses_train_statistics() {
        let p = prepare(blobs_raw(), &Transforms::default(), 2).unwrap();
        let (mean, std) = column_stats(&p.train.x, p.train.d);
        assert!(mean.iter().all(|m| m.abs() < 1e-5), "{mean:?}");
        assert!(std.iter().all(|s| (s - 1.0).abs() < 1e-4), "{std:?}");
    }

    #[test]
    fn labelled_keeps_per_class_rows_of_each_class_the_same_under_one_seed() {
        let raw = blobs_raw();
        let t = Transforms { labelled: Some(LabelledSpec { per_class: 3 }), ..Default::default() };
        let p = prepare(raw.clone(), &t, 5).unwrap();
        let keep = p.labelled.clone().unwrap();
        let y = p.train.classes().unwrap();
        assert_eq!(keep.len(), y.len());
        for c in 0..10 {
            assert_eq!((0..y.len()).filter(|&i| keep[i] && y[i] == c).count(), 3, "class {c}");
        }
        assert_eq!(prepare(raw.clone(), &t, 5).unwrap().labelled, p.labelled);
        assert_ne!(prepare(raw, &t, 6).unwrap().labelled, p.labelled);
    }
}
