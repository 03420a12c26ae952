//! Metrics: computed on host in f64 from a whole split's model outputs (catalog §8.1, §8.4).
//!
//! Each metric declares `higher_is_better`, so `compare` ranks in the right direction.
//! Regression metrics are computed in the original target units (standardisation undone).

pub mod classification;
pub mod derived;
pub mod few_shot;
pub mod multilabel;
pub mod probe;
pub mod ranking;
pub mod regression;
pub mod retrieval;

use crate::registry::{Named, ParamDoc};
use crate::task::Family;

/// Model outputs and targets of one split, on host.
pub struct Outputs<'a> {
    /// `[n, c]` row-major: logits (classification) or predictions (regression).
    pub out: &'a [f64],
    pub width: usize,
    pub target: HostTarget<'a>,
    /// The train split's outputs and classes, for metrics that relate a split to the training
    /// data (`utilization`, `linear_probe`); `None` on the train split itself.
    pub reference: Option<Reference<'a>>,
    /// The unnormalised embeddings behind `out` (metric learning), for metrics measured in
    /// the model's own space (`few_shot_accuracy` with `space: raw`).
    pub raw: Option<&'a [f64]>,
    /// The group of each row, when the dataset has groups (`worst_group_acc`).
    pub groups: Option<&'a [u32]>,
}

/// The train split's outputs (same width as the split's) and class ids.
#[derive(Clone, Copy)]
pub struct Reference<'a> {
    pub out: &'a [f64],
    pub classes: &'a [u32],
}

pub enum HostTarget<'a> {
    Classes(&'a [u32]),
    Values(&'a [f64]),
}

impl<'a> Outputs<'a> {
    pub fn new(out: &'a [f64], width: usize, target: HostTarget<'a>) -> Self {
        Outputs { out, width, target, reference: None, raw: None, groups: None }
    }
    pub fn rows(&self) -> usize {
        self.out.len() / self.width.max(1)
    }
    /// Class ids (empty for real-valued targets).
    pub fn classes(&self) -> &'a [u32] {
        match self.target {
            HostTarget::Classes(y) => y,
            HostTarget::Values(_) => &[],
        }
    }
    /// Real-valued targets (empty for class ids).
    pub fn values(&self) -> &'a [f64] {
        match self.target {
            HostTarget::Values(t) => t,
            HostTarget::Classes(_) => &[],
        }
    }
}

/// The registry entry `$static` of a parameterless metric `$ty`.
macro_rules! metric_entry {
    ($static:ident, $ty:ident, $build:ident, $family:expr, $name:literal, $higher:expr, $summary:literal) => {
        fn $build(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
            let (_, canonical) = crate::registry::parse_params::<crate::registry::NoParams>(value)?;
            Ok((std::sync::Arc::new($ty), canonical))
        }
        pub static $static: MetricInfo =
            MetricInfo { name: $name, family: $family, higher_is_better: $higher, summary: $summary, params: &[], build: $build };
    };
}
pub(crate) use metric_entry;

pub trait Metric: Send + Sync {
    fn compute(&self, outputs: &Outputs) -> f64;
    /// Whether it reads the rows' groups (only datasets with groups can have it).
    fn needs_groups(&self) -> bool {
        false
    }
}

pub struct MetricInfo {
    pub name: &'static str,
    pub family: Family,
    pub higher_is_better: bool,
    pub summary: &'static str,
    pub params: &'static [ParamDoc],
    pub build: fn(&serde_json::Value) -> crate::registry::Built<dyn Metric>,
}

impl Named for MetricInfo {
    fn name(&self) -> &'static str {
        self.name
    }
}

pub static METRICS: &[&MetricInfo] = &[
    &classification::ACCURACY,
    &classification::BALANCED_ACCURACY,
    &classification::BRIER,
    &classification::ECE,
    &retrieval::EER,
    &few_shot::FEW_SHOT_ACCURACY,
    &few_shot::FEW_SHOT_CI95,
    &multilabel::HAMMING_LOSS,
    &multilabel::JACCARD,
    &multilabel::LABEL_MACRO_F1,
    &probe::LINEAR_PROBE,
    &multilabel::MACRO_AUC,
    &classification::MACRO_F1,
    &regression::MAE,
    &retrieval::MAP_AT_R,
    &multilabel::MICRO_F1,
    &ranking::MRR,
    &regression::MSE,
    &ranking::NDCG_AT_K,
    &classification::NLL,
    &retrieval::NMI,
    &regression::R2,
    &retrieval::RECALL_AT_K,
    &ranking::RECALL_AT_K_REC,
    &classification::TOP_K,
    &few_shot::UTILIZATION,
    &classification::WORST_GROUP_ACC,
];

/// Whether a higher value of `metric` is better. The per-split `loss` row (and any unknown
/// name) counts as lower-is-better.
pub fn higher_is_better(metric: &str) -> bool {
    METRICS
        .iter()
        .find(|m| m.name == metric)
        .map(|m| m.higher_is_better)
        .or_else(|| derived::DERIVED.iter().find(|d| d.0 == metric).map(|d| d.1))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_sorted_unique() {
        crate::registry::check_sorted_unique(METRICS).unwrap();
    }
}
