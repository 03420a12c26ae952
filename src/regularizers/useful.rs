//! `useful` — UpSample Early For Uniform Learning (S101): find the examples a network learns
//! slowly, duplicate them, and train again from scratch.
//!
//! ```text
//! phase 1: train a copy of the run's model for t_sep = max(1, ⌊separate_fraction·epochs⌋)
//!          epochs (same seed, data order, optimizer and loss)
//! per class: 2-means on the phase-1 output vectors (logits) of its training rows,
//!          centroids started at the rows with the lowest and the highest loss
//!          the cluster with the higher mean loss is "slow-learnable"
//! phase 2: the run itself, from its usual initial weights, on the training set with every
//!          slow-learnable row duplicated once
//! ```
//! The logged value `reg_useful` is the number of rows added. Regularizers other than this
//! one take part in phase 2 only. Classification only.
//!
//! Reference: Nguyen, Zhang, … & Mirzasoleiman, *Make the Most of Your Data: Changing the
//! Training Data Distribution to Improve In-distribution Generalization Performance* (USEFUL),
//! NeurIPS 2024 (S101) [recon: the catalog's description — k = 2 clusters on output vectors,
//! upsample once, retrain; t_sep ≈ 4 % of the budget (epoch 8 of 200 in the paper); the
//! loss-extreme centroid start is our deterministic choice].

use super::{Active, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::Family;
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "useful",
    kind: Kind::Procedure,
    families: &[Family::Classification],
    summary: "USEFUL: train briefly, 2-means each class's outputs, duplicate the slow cluster, retrain from scratch",
    formula: "t_sep = max(1, ⌊f·epochs⌋);  per class: 2-means on logits;  duplicate the higher-loss cluster once;  retrain",
    reference: "Nguyen et al., USEFUL, NeurIPS 2024 (S101) [recon]",
    params: &[ParamDoc {
        name: "separate_fraction",
        meaning: "fraction f of the epochs trained before separating (at least one epoch)",
        range: "0 ≤ f ≤ 1",
        default: "0.04",
    }],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub separate_fraction: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { separate_fraction: 0.04 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("separate_fraction", self.separate_fraction, 0.0, 1.0)
    }
}

/// Epochs of phase 1 for a run of `epochs` epochs.
pub fn separation_epochs(params: &serde_json::Value, epochs: usize) -> usize {
    let f = params.get("separate_fraction").and_then(|v| v.as_f64()).unwrap_or(0.04);
    ((f * epochs as f64).floor() as usize).clamp(1, epochs.max(1))
}

impl Regularizer for Params {
    fn start(&self, _run: &Start) -> Result<Box<dyn Active>> {
        Ok(Box::new(State { added: None }))
    }
}

/// The trainer runs the two phases; the active part only reports how many rows were added.
pub struct State {
    added: Option<f64>,
}

impl Active for State {
    fn logged(&self) -> Option<f64> {
        self.added
    }
    fn set_logged(&mut self, value: f64) {
        self.added = Some(value);
    }
}

/// Rows (indices into the training set) of the slow-learnable cluster of each class: 2-means
/// on `outputs` (`[n, width]` row-major) per class, started at the class's lowest- and
/// highest-loss rows; the cluster with the higher mean loss is returned.
pub fn slow_rows(outputs: &[f64], width: usize, labels: &[u32], losses: &[f64]) -> Vec<usize> {
    let mut classes: Vec<u32> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let row = |i: usize| &outputs[i * width..(i + 1) * width];
    let dist = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
    let mut out = Vec::new();
    for c in classes {
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        if members.len() < 2 {
            continue;
        }
        let by_loss = |a: &usize, b: &usize| losses[*a].total_cmp(&losses[*b]);
        let lo = *members.iter().min_by(|a, b| by_loss(a, b)).unwrap_or(&members[0]);
        let hi = *members.iter().max_by(|a, b| by_loss(a, b)).unwrap_or(&members[0]);
        let mut centres = [row(lo).to_vec(), row(hi).to_vec()];
        let mut assign = vec![0usize; members.len()];
        for _ in 0..100 {
            let next: Vec<usize> =
                members.iter().map(|&i| if dist(row(i), &centres[1]) < dist(row(i), &centres[0]) { 1 } else { 0 }).collect();
            let changed = next != assign;
            assign = next;
            for (k, centre) in centres.iter_mut().enumerate() {
                let chosen: Vec<usize> = members.iter().zip(&assign).filter(|(_, a)| **a == k).map(|(i, _)| *i).collect();
                if chosen.is_empty() {
                    continue;
                }
                for (j, v) in centre.iter_mut().enumerate() {
                    *v = chosen.iter().map(|&i| row(i)[j]).sum::<f64>() / chosen.len() as f64;
                }
            }
            if !changed {
                break;
            }
        }
        let mean_loss = |k: usize| {
            let l: Vec<f64> = members.iter().zip(&assign).filter(|(_, a)| **a == k).map(|(i, _)| losses[*i]).collect();
            if l.is_empty() {
                f64::NEG_INFINITY
            } else {
                l.iter().sum::<f64>() / l.len() as f64
            }
        };
        let slow = if mean_loss(1) > mean_loss(0) { 1 } else { 0 };
        out.extend(members.iter().zip(&assign).filter(|(_, a)| **a == slow).map(|(i, _)| *i));
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two well-separated groups per class: the group with the higher loss is returned.
    #[test]
    fn the_higher_loss_cluster_of_each_class_is_slow() {
        // Class 0: rows 0–2 confident (logit 5), rows 3–4 unsure (logit 0.2).
        // Class 1: rows 5–6 confident, row 7 wrong-ish.
        let outputs = [5.0, 5.1, 4.9, 0.2, 0.1, -5.0, -4.8, 0.3];
        let labels = [0u32, 0, 0, 0, 0, 1, 1, 1];
        let losses = [0.01, 0.01, 0.02, 0.6, 0.7, 0.01, 0.02, 0.9];
        assert_eq!(slow_rows(&outputs, 1, &labels, &losses), vec![3, 4, 7]);
        assert_eq!(separation_epochs(&serde_json::json!({"separate_fraction": 0.04}), 30), 1);
        assert_eq!(separation_epochs(&serde_json::json!({"separate_fraction": 0.2}), 30), 6);
    }
}
