//! Statistics for comparisons: paired tests across seeds, multiplicity correction, ranking
//! tests across tasks, and bootstrap intervals. Distributions come from statrs.
//!
//! Conventions follow SciPy 1.17 so that the numbers can be checked from outside
//! (`scripts/make_stats_fixtures.py` → `tests/fixtures/stats.json`):
//!
//! * [`wilcoxon`] — `scipy.stats.wilcoxon(d)` defaults (zero_method "wilcox", no continuity
//!   correction, two-sided, method "auto"): exact null distribution without ties or zeros; an
//!   exact sign-flip permutation test when there are ties or zeros and at most 13 differences;
//!   the normal approximation with the tie-corrected variance otherwise.
//! * [`friedman`] — `scipy.stats.friedmanchisquare` with its tie correction; χ² p-value.
//! * [`holm`] — Holm's step-down adjustment (`statsmodels multipletests(method="holm")`).
//! * [`nemenyi_cd`] — Demšar's critical difference `q_α·√(k(k+1)/(6N))`, with
//!   `q_α = studentized_range.ppf(1 − α, k, ∞)/√2` from SciPy, tabulated here for k ≤ 100.
//! * [`bootstrap_ci`] — percentile bootstrap of the mean on lossbench's seeded stream
//!   (reproducible with the seed; close to `scipy.stats.bootstrap(method="percentile")`).

use crate::error::{Error, Result};
use crate::rng::{Purpose, Stream};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Ranks 1..n of `values` (ascending), ties get the average rank (`scipy.stats.rankdata`).
pub fn rank_average(values: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    idx.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && values[idx[j + 1]] == values[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    ranks
}

/// Sizes of the groups of tied values (only groups of two or more).
fn tie_groups(values: &[f64]) -> Vec<usize> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut out = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[i] {
            j += 1;
        }
        if j > i {
            out.push(j - i + 1);
        }
        i = j + 1;
    }
    out
}

/// How a Wilcoxon p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WilcoxonMethod {
    Exact,
    Permutation,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Wilcoxon {
    /// `min(R⁺, R⁻)` (SciPy's two-sided statistic).
    pub statistic: f64,
    pub p_value: f64,
    /// Non-zero differences.
    pub n: usize,
    pub method: WilcoxonMethod,
}

/// Number of sign assignments of ranks 1..n with each rank sum (the exact null of R⁺).
fn signed_rank_counts(n: usize) -> Vec<f64> {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0f64; max + 1];
    counts[0] = 1.0;
    for r in 1..=n {
        for s in (r..=max).rev() {
            counts[s] += counts[s - r];
        }
    }
    counts
}

/// Largest sample for the exact null distribution.
pub const EXACT_MAX: usize = 1000;

/// Two-sided Wilcoxon signed-rank test of the paired differences `d` (`None` when every
/// difference is zero or there are none).
pub fn wilcoxon(d: &[f64]) -> Option<Wilcoxon> {
    let total = d.len();
    let nonzero: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    let n = nonzero.len();
    if n == 0 {
        return None;
    }
    let abs: Vec<f64> = nonzero.iter().map(|v| v.abs()).collect();
    let ranks = rank_average(&abs);
    let r_plus: f64 = nonzero.iter().zip(&ranks).filter(|(v, _)| **v > 0.0).map(|(_, r)| r).sum();
    let r_minus = (n * (n + 1)) as f64 / 2.0 - r_plus;
    let ties = tie_groups(&abs);
    let zeros = total - n;
    let statistic = r_plus.min(r_minus);
    // SciPy's exact branch has no size limit; the counts here would overflow f64 past n ≈ 1000,
    // so larger samples (far beyond any seed count) use the normal approximation.
    let (p, method) = if ties.is_empty() && zeros == 0 && n <= EXACT_MAX {
        let counts = signed_rank_counts(n);
        let all: f64 = counts.iter().sum();
        let t = r_plus.round() as usize;
        let cdf: f64 = counts[..=t].iter().sum::<f64>() / all;
        let sf: f64 = counts[t..].iter().sum::<f64>() / all;
        ((2.0 * cdf.min(sf)).min(1.0), WilcoxonMethod::Exact)
    } else if total <= 13 {
        // Every sign assignment of the non-zero differences (zeros only double each count).
        let mut less = 0usize;
        let mut greater = 0usize;
        let gamma = (f64::EPSILON * 100.0 * r_plus).abs();
        for mask in 0u32..(1u32 << n) {
            let t: f64 = ranks.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, r)| r).sum();
            if t <= r_plus + gamma {
                less += 1;
            }
            if t >= r_plus - gamma {
                greater += 1;
            }
        }
        let all = (1u64 << n) as f64;
        ((2.0 * (less as f64 / all).min(greater as f64 / all)).min(1.0), WilcoxonMethod::Permutation)
    } else {
        let nf = n as f64;
        let mean = nf * (nf + 1.0) / 4.0;
        let tie_term: f64 = ties.iter().map(|&t| (t * t * t - t) as f64).sum::<f64>() / 48.0;
        let se = (nf * (nf + 1.0) * (2.0 * nf + 1.0) / 24.0 - tie_term).sqrt();
        let z = (r_plus - mean) / se;
        let normal = Normal::new(0.0, 1.0).ok()?;
        ((2.0 * normal.cdf(-z.abs())).min(1.0), WilcoxonMethod::Normal)
    };
    Some(Wilcoxon { statistic, p_value: p, n, method })
}

/// Mean and sample standard deviation (`None` for fewer than two values).
pub fn mean_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let std = (values.len() > 1).then(|| (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    (Some(mean), std)
}

/// Holm's step-down adjustment of a family of p-values (order preserved).
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![0.0; m];
    let mut running = 0f64;
    for (j, &i) in idx.iter().enumerate() {
        running = running.max(((m - j) as f64 * p[i]).min(1.0));
        out[i] = running;
    }
    out
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Friedman {
    pub statistic: f64,
    pub p_value: f64,
    /// Blocks (tasks) and treatments (methods).
    pub blocks: usize,
    pub treatments: usize,
    /// Mean rank of each treatment (rank 1 = smallest value in a block).
    pub mean_ranks: Vec<f64>,
}

/// Friedman's test on `table[block][treatment]` (ranks within each block, ascending).
pub fn friedman(table: &[Vec<f64>]) -> Result<Friedman> {
    let n = table.len();
    let k = table.first().map_or(0, Vec::len);
    if n < 2 || k < 3 || table.iter().any(|row| row.len() != k) {
        return Err(Error::input("Friedman's test needs at least 2 tasks and 3 methods, each with a value on every task"));
    }
    let mut rank_sums = vec![0f64; k];
    let mut ties = 0f64;
    for row in table {
        for (j, r) in rank_average(row).iter().enumerate() {
            rank_sums[j] += r;
        }
        ties += tie_groups(row).iter().map(|&t| (t * t * t - t) as f64).sum::<f64>();
    }
    let (nf, kf) = (n as f64, k as f64);
    let ssbn: f64 = rank_sums.iter().map(|r| r * r).sum();
    let c = 1.0 - ties / (kf * (kf * kf - 1.0) * nf);
    let statistic = (12.0 / (kf * nf * (kf + 1.0)) * ssbn - 3.0 * nf * (kf + 1.0)) / c;
    let chi2 = ChiSquared::new(kf - 1.0).map_err(|e| Error::runtime(e.to_string()))?;
    Ok(Friedman {
        statistic,
        p_value: chi2.sf(statistic),
        blocks: n,
        treatments: k,
        mean_ranks: rank_sums.iter().map(|r| r / nf).collect(),
    })
}

/// `q_α` of Demšar's Nemenyi test for k = 2…100 methods: `studentized_range.ppf(1 − α, k, ∞)/√2`
/// (SciPy 1.17), α = 0.05.
const Q_05: [f64; 99] = [
    1.959964, 2.343701, 2.569032, 2.727774, 2.849705, 2.948320, 3.030878, 3.101730, 3.163684, 3.218654, 3.268004, 3.312739, 3.353618,
    3.391230, 3.426041, 3.458425, 3.488685, 3.517073, 3.543799, 3.569040, 3.592946, 3.615646, 3.637252, 3.657861, 3.677556, 3.696413,
    3.714498, 3.731869, 3.748578, 3.764672, 3.780193, 3.795179, 3.809664, 3.823680, 3.837254, 3.850413, 3.863181, 3.875579, 3.887627,
    3.899344, 3.910747, 3.921852, 3.932673, 3.943224, 3.953518, 3.963566, 3.973379, 3.982969, 3.992343, 4.001512, 4.010485, 4.019268,
    4.027869, 4.036297, 4.044556, 4.052654, 4.060597, 4.068390, 4.076038, 4.083547, 4.090921, 4.098166, 4.105284, 4.112281, 4.119161,
    4.125927, 4.132582, 4.139131, 4.145576, 4.151921, 4.158168, 4.164320, 4.170381, 4.176352, 4.182236, 4.188036, 4.193754, 4.199392,
    4.204953, 4.210437, 4.215848, 4.221187, 4.226456, 4.231656, 4.236790, 4.241859, 4.246865, 4.251809, 4.256692, 4.261516, 4.266283,
    4.270993, 4.275648, 4.280249, 4.284798, 4.289295, 4.293742, 4.298139, 4.302488,
];
/// The same for α = 0.10.
const Q_10: [f64; 99] = [
    1.644854, 2.052293, 2.291341, 2.459516, 2.588521, 2.692732, 2.779884, 2.854606, 2.919889, 2.977768, 3.029694, 3.076733, 3.119693,
    3.159199, 3.195743, 3.229723, 3.261461, 3.291224, 3.319233, 3.345676, 3.370712, 3.394477, 3.417089, 3.438651, 3.459253, 3.478971,
    3.497878, 3.516033, 3.533492, 3.550305, 3.566516, 3.582165, 3.597288, 3.611917, 3.626084, 3.639814, 3.653134, 3.666066, 3.678631,
    3.690848, 3.702736, 3.714312, 3.725590, 3.736584, 3.747310, 3.757778, 3.768000, 3.777987, 3.787750, 3.797297, 3.806638, 3.815781,
    3.824735, 3.833505, 3.842101, 3.850527, 3.858790, 3.866897, 3.874853, 3.882663, 3.890333, 3.897866, 3.905268, 3.912543, 3.919696,
    3.926729, 3.933647, 3.940453, 3.947151, 3.953745, 3.960236, 3.966628, 3.972925, 3.979128, 3.985240, 3.991265, 3.997204, 4.003059,
    4.008833, 4.014528, 4.020146, 4.025690, 4.031160, 4.036558, 4.041888, 4.047149, 4.052345, 4.057475, 4.062543, 4.067549, 4.072496,
    4.077383, 4.082213, 4.086987, 4.091705, 4.096371, 4.100983, 4.105545, 4.110056,
];

/// Nemenyi's critical difference of mean ranks for `k` methods over `n` tasks.
pub fn nemenyi_cd(k: usize, n: usize, alpha: f64) -> Result<f64> {
    let table = if alpha == 0.05 {
        &Q_05
    } else if alpha == 0.10 {
        &Q_10
    } else {
        return Err(Error::input(format!("Nemenyi critical values are tabulated for α = 0.05 and 0.10, not {alpha}")));
    };
    if !(2..=100).contains(&k) || n == 0 {
        return Err(Error::input(format!(
            "the critical difference needs 2–100 methods and at least one task (got {k} methods, {n} tasks)"
        )));
    }
    Ok(table[k - 2] * ((k * (k + 1)) as f64 / (6.0 * n as f64)).sqrt())
}

/// Linear-interpolation quantile of sorted values (numpy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Percentile-bootstrap confidence interval (`level`, e.g. 0.95) of the mean of `x`, from
/// `resamples` resamples drawn from lossbench's stream keyed by `seed`.
pub fn bootstrap_ci(x: &[f64], level: f64, resamples: usize, seed: u64) -> Option<(f64, f64)> {
    let n = x.len();
    if n == 0 || resamples == 0 {
        return None;
    }
    let mut rng = Stream::new(seed, Purpose::Data, 0xB007);
    let mut means: Vec<f64> = (0..resamples).map(|_| (0..n).map(|_| x[rng.below(n as u64) as usize]).sum::<f64>() / n as f64).collect();
    means.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    Some((quantile(&means, tail), quantile(&means, 1.0 - tail)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_cases_by_hand() {
        // All 3 differences positive: R⁺ = 6 of 0..6, P(R⁺ ≥ 6) = 1/8 → p = 0.25 (SciPy 0.25).
        let w = wilcoxon(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((w.statistic, w.p_value, w.method), (0.0, 0.25, WilcoxonMethod::Exact));
        assert!(wilcoxon(&[0.0, 0.0]).is_none());
        assert_eq!(rank_average(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(holm(&[0.01, 0.04, 0.03]), vec![0.03, 0.06, 0.06]);
        // Demšar (2006): q_0.05 = 2.343 for k = 3 and 3.164 for k = 10.
        assert!((Q_05[1] - 2.343).abs() < 1e-3 && (Q_05[8] - 3.164).abs() < 1e-3);
        let a = bootstrap_ci(&[1.0, 2.0, 4.0], 0.95, 2000, 7).unwrap();
        assert_eq!(a, bootstrap_ci(&[1.0, 2.0, 4.0], 0.95, 2000, 7).unwrap());
        assert!(a.0 >= 1.0 && a.1 <= 4.0 && a.0 < a.1);
    }
}
