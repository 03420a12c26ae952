//! `train.milestones`: when a run's curve first reaches a level, recorded as a metric.
//!
//! ```text
//! t(split, metric, level) = the first evaluated epoch whose value reaches the level
//!                           (≥ for a higher-is-better metric, ≤ for the loss and lower-is-better ones);
//!                           level = reach, or reach × the value at epoch 0 with `relative: true`;
//!                           E + 1 when the run's E epochs never reach it (a censored time)
//! milestone   = t(split, metric, reach)                       (no `since`)
//!             = t(split, metric, reach) − t(since.split, metric, since.reach)   (both reached)
//! ```
//! A delay is defined only when both levels were reached: with either time censored it is NaN
//! (the run is left out of a pairing and counted), because `E + 1 − t_since` would measure how
//! late the start came rather than a delay (H8: heads that never generalise would look quick
//! to generalise by fitting the train set late). Milestones are train-split
//! rows of the last epoch in `metrics.csv`, lower is better (sooner, shorter delay) — the
//! catalog's step-to-95 %-test (F4) and the grokking delay between train and test fit (H8, H10).
//! With one step per epoch (full batch) epochs are optimizer steps.

use crate::error::{Error, Result};
use crate::run::MetricRow;
use serde::{Deserialize, Serialize};

/// One milestone of `train.milestones`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Milestone {
    /// Its name in `metrics.csv`.
    pub label: String,
    pub split: String,
    /// A metric label of the task, or `loss`.
    pub metric: String,
    pub reach: f64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relative: bool,
    /// Measure from the time this level was reached instead of from the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Since>,
}

/// The start of a milestone's delay: the same metric reaching `reach` on `split`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Since {
    pub split: String,
    pub reach: f64,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub relative: bool,
}

const SPLITS: [&str; 3] = ["train", "val", "test"];

impl Milestone {
    /// Checks against a task's metric labels (with their directions): the split, the metric and
    /// the label, which must not shadow a metric.
    pub fn check(&self, i: usize, metrics: &[(String, bool)]) -> Result<()> {
        let field = format!("train.milestones[{i}]");
        for split in std::iter::once(&self.split).chain(self.since.as_ref().map(|s| &s.split)) {
            if !SPLITS.contains(&split.as_str()) {
                return Err(Error::input(format!("{field}: split `{split}`; allowed: train, val, test")));
            }
        }
        if self.metric != "loss" && !metrics.iter().any(|(m, _)| m == &self.metric) {
            let names: Vec<&str> = metrics.iter().map(|(m, _)| m.as_str()).collect();
            return Err(Error::input(format!(
                "{field}: metric `{}` is not recorded; allowed: loss or the task's metrics ({})",
                self.metric,
                names.join(", ")
            )));
        }
        if self.label == "loss" || metrics.iter().any(|(m, _)| m == &self.label) || !crate::recipe::valid_folder_name(&self.label) {
            return Err(Error::input(format!(
                "{field}: label `{}` must be a new name (letters, digits, `_ - . =`), not `loss` or a metric's",
                self.label
            )));
        }
        for reach in std::iter::once(self.reach).chain(self.since.as_ref().map(|s| s.reach)) {
            if !reach.is_finite() {
                return Err(Error::input(format!("{field}: reach must be a finite number")));
            }
        }
        Ok(())
    }
}

/// The first epoch at which `metric` on `split` reaches `reach` (relative to epoch 0 when
/// asked), or `epochs + 1`.
fn first_reached(rows: &[MetricRow], split: &str, metric: &str, higher: bool, reach: f64, relative: bool, epochs: usize) -> f64 {
    let mut curve: Vec<(usize, f64)> = rows.iter().filter(|r| r.split == split && r.metric == metric).map(|r| (r.epoch, r.value)).collect();
    curve.sort_by_key(|(e, _)| *e);
    let start = curve.iter().find(|(e, _)| *e == 0).map(|(_, v)| *v);
    let level = if relative { start.map_or(f64::NAN, |s| reach * s) } else { reach };
    let reached = |v: f64| if higher { v >= level } else { v <= level };
    curve.iter().find(|(_, v)| reached(*v)).map_or(epochs as f64 + 1.0, |(e, _)| *e as f64)
}

/// The milestone rows of a run of `epochs` epochs from its metric rows; `metrics` gives each
/// metric label's direction (the loss is lower-is-better).
pub fn rows(milestones: &[Milestone], rows: &[MetricRow], metrics: &[(String, bool)], epochs: usize) -> Vec<MetricRow> {
    milestones
        .iter()
        .map(|m| {
            let higher = metrics.iter().find(|(name, _)| name == &m.metric).is_some_and(|(_, h)| *h);
            let at = first_reached(rows, &m.split, &m.metric, higher, m.reach, m.relative, epochs);
            let value = match &m.since {
                None => at,
                Some(s) => {
                    let from = first_reached(rows, &s.split, &m.metric, higher, s.reach, s.relative, epochs);
                    if from > epochs as f64 || at > epochs as f64 {
                        f64::NAN
                    } else {
                        at - from
                    }
                }
            };
            MetricRow { epoch: epochs, split: "train", metric: m.label.clone(), value }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve(split: &'static str, metric: &str, values: &[(usize, f64)]) -> Vec<MetricRow> {
        values.iter().map(|&(epoch, value)| MetricRow { epoch, split, metric: metric.into(), value }).collect()
    }

    fn milestone(yaml: &str) -> Milestone {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn first_times_gaps_and_censoring() {
        let mut rows = curve("train", "accuracy", &[(0, 0.1), (10, 0.5), (20, 0.97), (30, 1.0)]);
        rows.extend(curve("test", "accuracy", &[(0, 0.1), (10, 0.2), (20, 0.3), (30, 0.96)]));
        rows.extend(curve("test", "loss", &[(0, 4.0), (10, 3.0), (20, 1.9), (30, 0.5)]));
        let metrics = vec![("accuracy".to_string(), true)];
        let ms = [
            milestone("{label: fit, split: train, metric: accuracy, reach: 0.95}"),
            milestone("{label: grok_gap, split: test, metric: accuracy, reach: 0.95, since: {split: train, reach: 0.95}}"),
            milestone("{label: half_loss, split: test, metric: loss, reach: 0.5, relative: true}"),
            milestone("{label: never, split: test, metric: accuracy, reach: 0.99}"),
            milestone("{label: undefined, split: test, metric: accuracy, reach: 0.95, since: {split: test, reach: 0.99}}"),
            milestone("{label: censored, split: test, metric: accuracy, reach: 0.99, since: {split: train, reach: 0.95}}"),
        ];
        let out = super::rows(&ms, &rows, &metrics, 30);
        let values: Vec<f64> = out.iter().map(|r| r.value).collect();
        assert_eq!(&values[..4], &[20.0, 10.0, 20.0, 31.0]);
        assert!(values[4].is_nan() && values[5].is_nan(), "{values:?}");
        assert!(out.iter().all(|r| r.epoch == 30 && r.split == "train"));
    }

    #[test]
    fn checks_name_the_field() {
        let metrics = vec![("accuracy".to_string(), true)];
        for (yaml, expected) in [
            ("{label: t, split: dev, metric: accuracy, reach: 1}", "split `dev`"),
            ("{label: t, split: test, metric: f1, reach: 1}", "metric `f1` is not recorded"),
            ("{label: accuracy, split: test, metric: accuracy, reach: 1}", "label `accuracy`"),
            ("{label: t, split: test, metric: loss, reach: .nan}", "finite"),
        ] {
            let e = milestone(yaml).check(2, &metrics).unwrap_err().to_string();
            assert!(e.contains("train.milestones[2]") && e.contains(expected), "{yaml}: {e}");
        }
        milestone("{label: t, split: test, metric: loss, reach: 1}").check(0, &metrics).unwrap();
    }
}
