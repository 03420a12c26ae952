//! Metrics of an embedding space beyond retrieval (catalog §8.3): few-shot accuracy over
//! sampled N-way K-shot episodes (prototypical nearest-centroid classification, Snell et al.
//! 2017), and utilization (Venkataramanan et al. 2022, S009), the distance from each row to
//! the training embeddings. Both read the L2-normalised embeddings of a split.

use super::retrieval::{sq_dist, BLOCK};
use super::{Metric, MetricInfo, Outputs};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::Family;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct EpisodeParams {
    way: usize,
    shot: usize,
    query: usize,
    episodes: usize,
    space: Space,
}

/// Where the distances of few-shot classification are measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Space {
    /// The model's unnormalised embeddings (as prototypical networks).
    Raw,
    /// The L2-normalised embeddings the retrieval metrics use.
    Normalised,
}

impl Default for EpisodeParams {
    fn default() -> Self {
        EpisodeParams { way: 5, shot: 5, query: 15, episodes: 600, space: Space::Raw }
    }
}

impl Validate for EpisodeParams {
    fn validate(&self) -> Result<()> {
        check_range("way", self.way as f64, 2.0, 1000.0)?;
        check_range("shot", self.shot as f64, 1.0, 1000.0)?;
        check_range("query", self.query as f64, 1.0, 1000.0)?;
        check_range("episodes", self.episodes as f64, 2.0, 100_000.0)
    }
}

impl EpisodeParams {
    /// The accuracy of each episode: `way` classes of the split drawn (among those with at
    /// least `shot + query` rows), `shot` support and `query` query rows of each drawn without
    /// replacement, each query given the class of the nearest support mean (squared
    /// Euclidean in `space`, the first of equals). Empty when fewer than `way` classes qualify.
    fn accuracies(&self, o: &Outputs) -> Vec<f64> {
        let d = o.width.max(1);
        let values = match (self.space, o.raw) {
            (Space::Raw, Some(raw)) => raw,
            _ => o.out,
        };
        let row = |i: usize| &values[i * d..(i + 1) * d];
        let eligible: Vec<Vec<usize>> =
            crate::data::rows_by_class(o.classes()).into_iter().filter(|r| r.len() >= self.shot + self.query).collect();
        if eligible.len() < self.way {
            return Vec::new();
        }
        let axis = ((self.way as u64) << 40) ^ ((self.shot as u64) << 20) ^ self.query as u64;
        let mut rng = Stream::new(0, Purpose::Analysis, 0x4653_0000_0000_0000 ^ axis);
        let classes: Vec<usize> = (0..eligible.len()).collect();
        (0..self.episodes)
            .map(|_| {
                let drawn: Vec<Vec<usize>> =
                    rng.choose(&classes, self.way).into_iter().map(|c| rng.choose(&eligible[c], self.shot + self.query)).collect();
                let prototypes: Vec<Vec<f64>> = drawn
                    .iter()
                    .map(|rows| (0..d).map(|k| rows[..self.shot].iter().map(|&i| row(i)[k]).sum::<f64>() / self.shot as f64).collect())
                    .collect();
                let mut hits = 0usize;
                for (c, rows) in drawn.iter().enumerate() {
                    for &q in &rows[self.shot..] {
                        let dists = prototypes.iter().map(|p| sq_dist(row(q), p));
                        let best = dists.enumerate().fold((0, f64::INFINITY), |b, (k, v)| if v < b.1 { (k, v) } else { b });
                        hits += usize::from(best.0 == c);
                    }
                }
                hits as f64 / (self.way * self.query) as f64
            })
            .collect()
    }
}

/// Mean and the half-width of its 95 % normal interval, `1.96 · s / √n` with the sample
/// standard deviation `s` (n − 1), as few-shot papers report it.
fn mean_ci95(values: &[f64]) -> (f64, f64) {
    let (mean, std) = crate::stats::mean_std(values);
    let half = std.map_or(f64::NAN, |s| 1.96 * s / (values.len() as f64).sqrt());
    (mean.unwrap_or(f64::NAN), half)
}

pub struct FewShot {
    params: EpisodeParams,
    /// The half-width of the interval instead of the mean.
    interval: bool,
}

impl Metric for FewShot {
    fn compute(&self, o: &Outputs) -> f64 {
        let (mean, half) = mean_ci95(&self.params.accuracies(o));
        if self.interval {
            half
        } else {
            mean
        }
    }
}

const EPISODE_DOCS: &[ParamDoc] = &[
    ParamDoc { name: "way", meaning: "classes per episode (N)", range: "2–1000", default: "5" },
    ParamDoc { name: "shot", meaning: "support rows per class (K)", range: "1–1000", default: "5" },
    ParamDoc { name: "query", meaning: "query rows per class", range: "1–1000", default: "15" },
    ParamDoc { name: "episodes", meaning: "episodes drawn (the same ones for every run)", range: "2–100000", default: "600" },
    ParamDoc {
        name: "space",
        meaning: "distances on the unnormalised (raw) or the L2-normalised embeddings",
        range: "raw | normalised",
        default: "raw",
    },
];

fn build_few_shot(value: &serde_json::Value, interval: bool) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<EpisodeParams>(value)?;
    Ok((Arc::new(FewShot { params, interval }), canonical))
}
fn build_accuracy(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    build_few_shot(value, false)
}
fn build_ci95(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    build_few_shot(value, true)
}

pub static FEW_SHOT_ACCURACY: MetricInfo = MetricInfo {
    name: "few_shot_accuracy",
    family: Family::MetricLearning,
    higher_is_better: true,
    summary: "mean accuracy of nearest-prototype classification over N-way K-shot episodes of the split (fixed episodes; NaN when fewer than N classes have K + query rows)",
    params: EPISODE_DOCS,
    build: build_accuracy,
};

pub static FEW_SHOT_CI95: MetricInfo = MetricInfo {
    name: "few_shot_ci95",
    family: Family::MetricLearning,
    higher_is_better: false,
    summary: "half-width of the 95 % interval of few_shot_accuracy over its episodes (1.96·s/√episodes), same parameters",
    params: EPISODE_DOCS,
    build: build_ci95,
};

/// For each row of `o`, the Euclidean distance to the nearest row of `reference` (its other
/// rows when the reference is `o` itself, `same`).
fn nearest_distances(o: &Outputs, reference: &[f64], same: bool) -> candle_core::Result<Vec<f64>> {
    let d = o.width.max(1);
    let (n, m) = (o.rows(), reference.len() / d);
    if m == 0 {
        return Ok(Vec::new());
    }
    let refs = Tensor::from_slice(&reference[..m * d], (m, d), &Device::Cpu)?;
    let ref_sq = refs.sqr()?.sum(1)?.to_vec1::<f64>()?;
    let refs_t = refs.t()?;
    let mut nearest = Vec::with_capacity(n);
    for start in (0..n).step_by(BLOCK) {
        let len = BLOCK.min(n - start);
        let block = &o.out[start * d..(start + len) * d];
        let dots = Tensor::from_slice(block, (len, d), &Device::Cpu)?.matmul(&refs_t)?.flatten_all()?.to_vec1::<f64>()?;
        for (i, row) in dots.chunks(m.max(1)).enumerate().take(len) {
            let q_sq: f64 = block[i * d..(i + 1) * d].iter().map(|v| v * v).sum();
            let best = row
                .iter()
                .enumerate()
                .filter(|&(j, _)| !(same && j == start + i))
                .map(|(j, dot)| (q_sq + ref_sq[j] - 2.0 * dot).max(0.0))
                .fold(f64::INFINITY, f64::min);
            nearest.push(best.sqrt());
        }
    }
    Ok(nearest)
}

/// Utilization: the mean over the split's rows of the distance to the nearest training
/// embedding (lower: the split lies where training went). On the train split itself (and
/// outside a run) the reference is the split without the row; NaN when the train split's
/// embeddings are not known.
pub struct Utilization;
impl Metric for Utilization {
    fn compute(&self, o: &Outputs) -> f64 {
        let (reference, same) = match o.reference {
            Some(r) => (r.out, false),
            None => (o.out, true),
        };
        match nearest_distances(o, reference, same) {
            Ok(d) if !d.is_empty() => d.iter().sum::<f64>() / d.len() as f64,
            _ => f64::NAN,
        }
    }
}
super::metric_entry!(
    UTILIZATION,
    Utilization,
    build_utilization,
    Family::MetricLearning,
    "utilization",
    false,
    "mean distance from each row's embedding to the nearest training embedding (S009; on the train split, to its other rows)"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HostTarget;

    fn outputs<'a>(e: &'a [f64], y: &'a [u32]) -> Outputs<'a> {
        Outputs::new(e, 2, HostTarget::Classes(y))
    }

    #[test]
    fn separated_classes_are_classified_perfectly_and_the_interval_is_zero() {
        // Five classes, 20 rows each, at distinct corners with tiny jitter.
        let mut e = Vec::new();
        let mut y = Vec::new();
        for c in 0..5u32 {
            for i in 0..20 {
                e.extend([c as f64 * 10.0 + i as f64 * 1e-3, (c % 2) as f64]);
                y.push(c);
            }
        }
        let o = outputs(&e, &y);
        let acc = FewShot { params: EpisodeParams::default(), interval: false }.compute(&o);
        let ci = FewShot { params: EpisodeParams::default(), interval: true }.compute(&o);
        assert_eq!((acc, ci), (1.0, 0.0));
    }

    #[test]
    fn coincident_classes_score_chance_and_too_few_classes_give_nan() {
        // Every row at the same point: the first prototype always wins → accuracy 1/way.
        let e = vec![0.5; 2 * 60];
        let y: Vec<u32> = (0..60).map(|i| (i % 3) as u32).collect();
        let p = EpisodeParams { way: 3, shot: 2, query: 3, episodes: 50, space: Space::Raw };
        let acc = FewShot { params: p.clone(), interval: false }.compute(&outputs(&e, &y));
        assert!((acc - 1.0 / 3.0).abs() < 1e-12, "{acc}");
        let p5 = EpisodeParams { way: 5, ..p };
        assert!(FewShot { params: p5, interval: false }.compute(&outputs(&e, &y)).is_nan());
    }

    #[test]
    fn episodes_are_the_same_for_every_call() {
        let e: Vec<f64> = (0..200).map(|i| ((i * 37) % 101) as f64 / 101.0).collect();
        let y: Vec<u32> = (0..100).map(|i| (i % 5) as u32).collect();
        let m = FewShot { params: EpisodeParams { shot: 1, query: 5, ..EpisodeParams::default() }, interval: false };
        let a = m.compute(&outputs(&e, &y));
        assert_eq!(a.to_bits(), m.compute(&outputs(&e, &y)).to_bits());
        assert!(a > 0.0 && a < 1.0, "{a}");
        // The raw space, when given, is the one measured.
        let scaled: Vec<f64> = e.iter().enumerate().map(|(i, v)| if i % 2 == 0 { v * 100.0 } else { *v }).collect();
        let with_raw = Outputs { raw: Some(&scaled), ..outputs(&e, &y) };
        let normalised = FewShot { params: EpisodeParams { space: Space::Normalised, ..m.params.clone() }, interval: false };
        assert_eq!(normalised.compute(&with_raw).to_bits(), a.to_bits());
        assert_ne!(m.compute(&with_raw).to_bits(), a.to_bits());
    }

    #[test]
    fn interval_is_normal_with_the_sample_deviation() {
        let (mean, half) = mean_ci95(&[0.0, 1.0, 0.0, 1.0]);
        assert_eq!(mean, 0.5);
        assert!((half - 1.96 * (1.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-12);
    }

    #[test]
    fn utilization_is_the_mean_nearest_training_distance() {
        let train = [0.0, 0.0, 3.0, 4.0];
        let test = [0.0, 1.0, 3.0, 2.0, 100.0, 0.0];
        let y = [0u32, 0, 0];
        let o = Outputs { reference: Some(crate::metrics::Reference { out: &train, classes: &[0, 0] }), ..outputs(&test, &y) };
        // Nearest: (0,0) at 1; (3,4) at 2; (3,4) at √(97² + 16) .
        let expect = (1.0 + 2.0 + (97.0f64 * 97.0 + 16.0).sqrt()) / 3.0;
        assert!((Utilization.compute(&o) - expect).abs() < 1e-9);
        // Without a reference: each row's nearest other row.
        let y2 = [0u32, 0];
        assert!((Utilization.compute(&outputs(&train, &y2)) - 5.0).abs() < 1e-9);
    }
}
