//! Retrieval metrics of metric learning (catalog §8.3), on the L2-normalised embeddings of
//! every row of a split (`Outputs::out`, width D) and their class ids. Neighbours are ranked
//! by cosine similarity, the query itself excluded, ties broken by row order.

use super::{Metric, MetricInfo, Outputs};
use crate::error::Result;
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::Family;
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Queries whose similarities to every row are computed at once (one matrix product).
pub(super) const BLOCK: usize = 256;

/// The `m(q)` rows most similar to each row `q` (not `q` itself), most similar first.
/// Similarities come from matrix products over blocks of queries.
fn ranked(o: &Outputs, m: impl Fn(usize) -> usize) -> candle_core::Result<Vec<Vec<usize>>> {
    let (n, d) = (o.rows(), o.width.max(1));
    let all = Tensor::from_slice(&o.out[..n * d], (n, d), &Device::Cpu)?;
    let all_t = all.t()?;
    let mut lists = Vec::with_capacity(n);
    for start in (0..n).step_by(BLOCK) {
        let len = BLOCK.min(n - start);
        let sims = all.narrow(0, start, len)?.matmul(&all_t)?.flatten_all()?.to_vec1::<f64>()?;
        for (i, row) in sims.chunks(n).enumerate() {
            lists.push(top(row, start + i, m(start + i)));
        }
    }
    Ok(lists)
}

/// The `m` largest entries of `sims` other than `q`'s, ties by row order.
fn top(sims: &[f64], q: usize, m: usize) -> Vec<usize> {
    let mut scored: Vec<(f64, usize)> = sims.iter().enumerate().filter(|&(j, _)| j != q).map(|(j, &s)| (s, j)).collect();
    let order = |a: &(f64, usize), b: &(f64, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
    let m = m.min(scored.len());
    if m > 0 && m < scored.len() {
        scored.select_nth_unstable_by(m - 1, order);
        scored.truncate(m);
    }
    scored.sort_by(order);
    scored.into_iter().map(|(_, j)| j).collect()
}

/// `m` rows most similar to row `q`.
#[cfg(test)]
fn nearest(o: &Outputs, q: usize, m: usize) -> Vec<usize> {
    ranked(o, |_| m).unwrap().swap_remove(q)
}

/// Rows of each row's class other than itself.
fn class_sizes(y: &[u32]) -> Vec<usize> {
    let mut count = std::collections::HashMap::new();
    for c in y {
        *count.entry(*c).or_insert(0usize) += 1;
    }
    y.iter().map(|c| count[c] - 1).collect()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct KParams {
    k: usize,
}
impl Default for KParams {
    fn default() -> Self {
        KParams { k: 1 }
    }
}
impl Validate for KParams {
    fn validate(&self) -> Result<()> {
        check_range("k", self.k as f64, 1.0, 1000.0)
    }
}

/// Recall@k: the fraction of queries whose k nearest neighbours hold a row of their class
/// (queries whose class has no other row are left out).
pub struct RecallAtK {
    k: usize,
}
impl Metric for RecallAtK {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let others = class_sizes(y);
        let Ok(lists) = ranked(o, |q| if others[q] > 0 { self.k } else { 0 }) else {
            return f64::NAN;
        };
        let queries: Vec<usize> = (0..y.len()).filter(|&q| others[q] > 0).collect();
        let hits = queries.iter().filter(|&&q| lists[q].iter().any(|&j| y[j] == y[q])).count();
        hits as f64 / queries.len().max(1) as f64
    }
}
fn build_recall(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<KParams>(value)?;
    Ok((Arc::new(RecallAtK { k: params.k }), canonical))
}
pub static RECALL_AT_K: MetricInfo = MetricInfo {
    name: "recall_at_k",
    family: Family::MetricLearning,
    higher_is_better: true,
    summary: "fraction of queries with a same-class row among their k nearest neighbours (cosine)",
    params: &[ParamDoc { name: "k", meaning: "neighbours looked at", range: "1–1000", default: "1" }],
    build: build_recall,
};

/// MAP@R (Musgrave, Belongie & Lim 2020): for a query with R other rows of its class, the mean
/// over its R nearest neighbours of precision@i at each same-class hit, divided by R.
pub struct MapAtR;
impl Metric for MapAtR {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let others = class_sizes(y);
        let Ok(lists) = ranked(o, |q| others[q]) else {
            return f64::NAN;
        };
        let (mut sum, mut queries) = (0.0, 0usize);
        for q in (0..y.len()).filter(|&q| others[q] > 0) {
            let r = others[q];
            let (mut hits, mut ap) = (0usize, 0.0);
            for (i, &j) in lists[q].iter().enumerate() {
                if y[j] == y[q] {
                    hits += 1;
                    ap += hits as f64 / (i + 1) as f64;
                }
            }
            sum += ap / r as f64;
            queries += 1;
        }
        sum / queries.max(1) as f64
    }
}
super::metric_entry!(
    MAP_AT_R,
    MapAtR,
    build_map_at_r,
    Family::MetricLearning,
    "map_at_r",
    true,
    "mean average precision at R, R = the query's same-class rows (Musgrave et al. 2020)"
);

/// NMI of k-means clusters (k = classes in the split, k-means++ seeding, best of `restarts` by
/// inertia, at most 100 Lloyd iterations each) against the class ids, normalised by the
/// arithmetic mean of the entropies (scikit-learn's default). The clustering's randomness is a
/// fixed stream, so the metric is a function of the embeddings.
pub struct Nmi {
    restarts: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct NmiParams {
    restarts: usize,
}
impl Default for NmiParams {
    fn default() -> Self {
        NmiParams { restarts: 10 }
    }
}
impl Validate for NmiParams {
    fn validate(&self) -> Result<()> {
        check_range("restarts", self.restarts as f64, 1.0, 100.0)
    }
}

impl Metric for Nmi {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let mut classes: Vec<u32> = y.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let mut rng = Stream::new(0, Purpose::Analysis, 0x4e4d49);
        let best = (0..self.restarts)
            .map(|_| kmeans(o.out, o.width.max(1), classes.len(), &mut rng))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(assign, _)| assign)
            .unwrap_or_default();
        let label_ids: Vec<usize> = y.iter().map(|c| classes.binary_search(c).unwrap_or(0)).collect();
        nmi(&label_ids, &best)
    }
}
fn build_nmi(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<NmiParams>(value)?;
    Ok((Arc::new(Nmi { restarts: params.restarts }), canonical))
}
pub static NMI: MetricInfo = MetricInfo {
    name: "nmi",
    family: Family::MetricLearning,
    higher_is_better: true,
    summary: "normalised mutual information of k-means clusters (k = classes) and the classes",
    params: &[ParamDoc { name: "restarts", meaning: "k-means restarts (best inertia kept)", range: "1–100", default: "10" }],
    build: build_nmi,
};

/// Equal error rate of verification (catalog §8.3): every genuine pair (two rows of one class)
/// and as many impostor pairs (rows of two classes) drawn uniformly from a fixed stream, scored
/// by cosine similarity; the threshold is swept and the EER read where the false-accept and
/// false-reject rates cross, linearly interpolated between the two sweep points around it.
pub struct Eer;
impl Metric for Eer {
    fn compute(&self, o: &Outputs) -> f64 {
        let y = o.classes();
        let d = o.width.max(1);
        let cos = |i: usize, j: usize| o.out[i * d..(i + 1) * d].iter().zip(&o.out[j * d..(j + 1) * d]).map(|(a, b)| a * b).sum::<f64>();
        let mut genuine = Vec::new();
        for i in 0..y.len() {
            for j in i + 1..y.len() {
                if y[i] == y[j] {
                    genuine.push(cos(i, j));
                }
            }
        }
        if genuine.is_empty() || y.iter().all(|c| *c == y[0]) {
            return f64::NAN;
        }
        let mut rng = Stream::new(0, Purpose::Analysis, 0x454552);
        let mut impostor = Vec::with_capacity(genuine.len());
        while impostor.len() < genuine.len() {
            let (i, j) = (rng.below(y.len() as u64) as usize, rng.below(y.len() as u64) as usize);
            if y[i] != y[j] {
                impostor.push(cos(i, j));
            }
        }
        equal_error_rate(&genuine, &impostor)
    }
}
super::metric_entry!(
    EER,
    Eer,
    build_eer,
    Family::MetricLearning,
    "eer",
    false,
    "equal error rate of verification pairs (all genuine, as many random impostors; cosine scores)"
);

/// The EER of genuine and impostor scores (higher score = more alike).
pub fn equal_error_rate(genuine: &[f64], impostor: &[f64]) -> f64 {
    let mut scored: Vec<(f64, bool)> = genuine.iter().map(|s| (*s, true)).chain(impostor.iter().map(|s| (*s, false))).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (g, n) = (genuine.len() as f64, impostor.len() as f64);
    // Threshold above every score: nothing accepted.
    let (mut far, mut frr) = (0.0, 1.0);
    let (mut accepted_g, mut accepted_i) = (0usize, 0usize);
    let mut k = 0;
    while k < scored.len() {
        let t = scored[k].0;
        while k < scored.len() && scored[k].0 == t {
            if scored[k].1 {
                accepted_g += 1;
            } else {
                accepted_i += 1;
            }
            k += 1;
        }
        let (far2, frr2) = (accepted_i as f64 / n, 1.0 - accepted_g as f64 / g);
        if far2 >= frr2 {
            let (a, b) = (frr - far, far2 - frr2);
            let w = if a + b > 0.0 { a / (a + b) } else { 0.0 };
            return far + w * (far2 - far);
        }
        (far, frr) = (far2, frr2);
    }
    far
}

/// Squared Euclidean distance of two rows.
pub(super) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The index of the centre nearest to `x` (the first of equals).
fn nearest_centre(x: &[f64], centres: &[f64], d: usize) -> usize {
    let mut best = (0, f64::INFINITY);
    for (c, centre) in centres.chunks(d).enumerate() {
        let dist = sq_dist(x, centre);
        if dist < best.1 {
            best = (c, dist);
        }
    }
    best.0
}

/// k-means++ seeding, then Lloyd iterations until no assignment changes (at most 100):
/// (assignment, inertia).
fn kmeans(x: &[f64], d: usize, k: usize, rng: &mut Stream) -> (Vec<usize>, f64) {
    let n = x.len() / d;
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let k = k.clamp(1, n.max(1));
    let mut centres: Vec<f64> = row(rng.below(n as u64) as usize).to_vec();
    let mut closest: Vec<f64> = (0..n).map(|i| sq_dist(row(i), &centres[..d])).collect();
    while centres.len() < k * d {
        let total: f64 = closest.iter().sum();
        let mut target = rng.uniform() * total;
        let mut pick = n - 1;
        for (i, w) in closest.iter().enumerate() {
            if target < *w {
                pick = i;
                break;
            }
            target -= w;
        }
        centres.extend_from_slice(row(pick));
        let c = centres.len() / d - 1;
        for (i, best) in closest.iter_mut().enumerate() {
            *best = best.min(sq_dist(row(i), &centres[c * d..(c + 1) * d]));
        }
    }
    let mut assign = vec![usize::MAX; n];
    for _ in 0..100 {
        let mut changed = false;
        for (i, a) in assign.iter_mut().enumerate() {
            let best = nearest_centre(row(i), &centres, d);
            changed |= *a != best;
            *a = best;
        }
        if !changed {
            break;
        }
        let mut sums = vec![0.0; k * d];
        let mut counts = vec![0usize; k];
        for (i, &a) in assign.iter().enumerate() {
            counts[a] += 1;
            sums[a * d..(a + 1) * d].iter_mut().zip(row(i)).for_each(|(s, v)| *s += v);
        }
        for c in (0..k).filter(|&c| counts[c] > 0) {
            for (dst, s) in centres[c * d..(c + 1) * d].iter_mut().zip(&sums[c * d..(c + 1) * d]) {
                *dst = s / counts[c] as f64;
            }
        }
    }
    let inertia = assign.iter().enumerate().map(|(i, &a)| sq_dist(row(i), &centres[a * d..(a + 1) * d])).sum();
    (assign, inertia)
}

/// Normalised mutual information of two labelings, arithmetic-mean normalisation; 1 when both
/// are a single cluster.
pub fn nmi(a: &[usize], b: &[usize]) -> f64 {
    let n = a.len() as f64;
    let (ka, kb) = (a.iter().max().map_or(0, |m| m + 1), b.iter().max().map_or(0, |m| m + 1));
    let mut joint = vec![0f64; ka * kb];
    for (&i, &j) in a.iter().zip(b) {
        joint[i * kb + j] += 1.0;
    }
    let pa: Vec<f64> = (0..ka).map(|i| joint[i * kb..(i + 1) * kb].iter().sum::<f64>() / n).collect();
    let pb: Vec<f64> = (0..kb).map(|j| (0..ka).map(|i| joint[i * kb + j]).sum::<f64>() / n).collect();
    let entropy = |p: &[f64]| -p.iter().filter(|&&v| v > 0.0).map(|v| v * v.ln()).sum::<f64>();
    let (ha, hb) = (entropy(&pa), entropy(&pb));
    let mut mi = 0.0;
    for i in 0..ka {
        for j in 0..kb {
            let p = joint[i * kb + j] / n;
            if p > 0.0 {
                mi += p * (p / (pa[i] * pb[j])).ln();
            }
        }
    }
    if ha == 0.0 && hb == 0.0 {
        return 1.0;
    }
    (mi / ((ha + hb) / 2.0)).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::HostTarget;

    fn outputs<'a>(e: &'a [f64], y: &'a [u32]) -> Outputs<'a> {
        Outputs::new(e, 2, HostTarget::Classes(y))
    }

    #[test]
    fn recall_and_map_at_r_by_hand() {
        // Unit vectors at angles 0°, 10°, 90°, 100°; classes 0, 1, 1, 0.
        let deg = |a: f64| [a.to_radians().cos(), a.to_radians().sin()];
        let e: Vec<f64> = [0.0, 10.0, 90.0, 100.0].iter().flat_map(|a| deg(*a)).collect();
        let y = [0, 1, 1, 0];
        let o = outputs(&e, &y);
        // Nearest: 0→1 (miss), 1→0 (miss), 2→3 (miss), 3→2 (miss).
        assert_eq!(RecallAtK { k: 1 }.compute(&o), 0.0);
        // 2-nearest: 0→{1, 2}: miss; 1→{0, 2}: hit; 2→{3, 1}: hit; 3→{2, 1}: miss.
        assert_eq!(RecallAtK { k: 2 }.compute(&o), 0.5);
        // R = 1 for every query and every nearest neighbour is of the other class.
        assert_eq!(MapAtR.compute(&o), 0.0);
        let y = [0, 0, 1, 1];
        assert_eq!(MapAtR.compute(&outputs(&e, &y)), 1.0);
        assert_eq!(RecallAtK { k: 1 }.compute(&outputs(&e, &y)), 1.0);
    }

    #[test]
    fn map_at_r_averages_precision_over_the_first_r() {
        // Query 0 with R = 2: neighbours in order 1 (hit), 2 (miss), 3 (hit) → AP@2 = (1/1)/2.
        let e = [1.0, 0.0, 0.99, 0.141, 0.9, 0.436, 0.5, 0.866];
        let y = [0, 0, 1, 0];
        let o = Outputs::new(&e, 2, HostTarget::Classes(&y));
        assert_eq!(nearest(&o, 0, 2), vec![1, 2]);
        // Query 1: 0 (hit), 2 (miss) → 1/2; query 3: 2 (miss), 1 (hit) → (1/2)/2; query 2 has
        // no other row of its class and is left out.
        assert!((MapAtR.compute(&o) - (0.5 + 0.5 + 0.25) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn eer_of_separated_overlapping_and_crossing_scores() {
        assert_eq!(equal_error_rate(&[0.9, 0.8, 0.7], &[0.1, 0.2, 0.3]), 0.0);
        // Genuine 0.9, 0.5, 0.3; impostor 0.6, 0.4, 0.1. After 0.9: FAR 0, FRR 2/3; after 0.6:
        // FAR 1/3, FRR 2/3; after 0.5: FAR 1/3, FRR 1/3 — they meet at 1/3.
        assert!((equal_error_rate(&[0.9, 0.5, 0.3], &[0.6, 0.4, 0.1]) - 1.0 / 3.0).abs() < 1e-12);
        // Crossing between points: (FAR 0, FRR 1/2) → (FAR 1, FRR 0) after the tied 0.5s: w = 1/3.
        assert!((equal_error_rate(&[0.9, 0.5], &[0.5]) - 1.0 / 3.0).abs() < 1e-12);
        let deg = |a: f64| [a.to_radians().cos(), a.to_radians().sin()];
        let e: Vec<f64> = [0.0, 5.0, 90.0, 95.0].iter().flat_map(|a| deg(*a)).collect();
        assert_eq!(Eer.compute(&outputs(&e, &[0, 0, 1, 1])), 0.0);
    }

    #[test]
    fn nmi_of_perfect_and_independent_labelings() {
        assert!((nmi(&[0, 0, 1, 1], &[1, 1, 0, 0]) - 1.0).abs() < 1e-12);
        assert!(nmi(&[0, 1, 0, 1], &[0, 0, 1, 1]).abs() < 1e-12);
        // sklearn.metrics.normalized_mutual_info_score([0,0,0,1,1,1], [0,0,1,1,2,2]) = 0.5158037429793889
        assert!((nmi(&[0, 0, 0, 1, 1, 1], &[0, 0, 1, 1, 2, 2]) - 0.5158037429793889).abs() < 1e-12);
        let e = [0.0, 1.0, 0.01, 1.0, 1.0, 0.0, 1.0, 0.01];
        let y = [3, 3, 7, 7];
        assert!((Nmi { restarts: 3 }.compute(&outputs(&e, &y)) - 1.0).abs() < 1e-12);
    }
}
