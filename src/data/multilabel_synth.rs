//! Synthetic multi-label data with label-wise class imbalance and correlated label pairs
//! (catalog §7.13).
//!
//! ```text
//! x ~ N(0, I_D);  w_k ~ N(0, I/D);  w_{2j+1} = ρ·w_{2j} + √(1 − ρ²)·w'  (ρ = 0.7: label pairs correlate)
//! y_k = 1[w_kᵀx + b_k > 0],  b_k chosen so that label k's positive rate is π_k,
//! π_k log-spaced from min_rate to max_rate
//! ```
//! `b_k` is the empirical (1 − π_k)-quantile of `w_kᵀx` over the generated rows, so the
//! positive rates are exact in the generated data (at least one positive per label).

use super::{DatasetInfo, Labels, RawData, Source, Table};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub n: usize,
    pub dim: usize,
    pub labels: usize,
    pub min_rate: f64,
    pub max_rate: f64,
    pub correlation: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { n: 4000, dim: 32, labels: 12, min_rate: 0.01, max_rate: 0.5, correlation: 0.7, data_seed: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("n", self.n as f64, 20.0, 1e7)?;
        check_range("dim", self.dim as f64, 1.0, 100_000.0)?;
        check_range("labels", self.labels as f64, 1.0, 10_000.0)?;
        check_range("min_rate", self.min_rate, 1e-6, 1.0)?;
        check_range("max_rate", self.max_rate, 1e-6, 1.0)?;
        check_range("correlation", self.correlation, -1.0, 1.0)?;
        super::check_size(self.n as f64, self.dim as f64)?;
        if self.min_rate > self.max_rate {
            return Err(Error::input(format!("min_rate = {} is above max_rate = {}", self.min_rate, self.max_rate)));
        }
        Ok(())
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::MultiLabel { labels: self.labels }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        let mut rng = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Data, 0);
        let (n, d, k) = (self.n, self.dim, self.labels);
        let scale = 1.0 / (d as f64).sqrt();
        let mut w: Vec<Vec<f64>> = Vec::with_capacity(k);
        for j in 0..k {
            let fresh: Vec<f64> = (0..d).map(|_| scale * rng.normal()).collect();
            if j % 2 == 1 {
                let rho = self.correlation;
                let mixed = w[j - 1].iter().zip(&fresh).map(|(a, b)| rho * a + (1.0 - rho * rho).sqrt() * b).collect();
                w.push(mixed);
            } else {
                w.push(fresh);
            }
        }
        let x: Vec<f64> = (0..n * d).map(|_| rng.normal()).collect();
        let scores: Vec<Vec<f64>> = w.iter().map(|wk| (0..n).map(|i| (0..d).map(|c| x[i * d + c] * wk[c]).sum()).collect()).collect();
        let rates: Vec<f64> = (0..k)
            .map(|j| {
                if k == 1 {
                    self.max_rate
                } else {
                    let t = j as f64 / (k - 1) as f64;
                    (self.min_rate.ln() + t * (self.max_rate.ln() - self.min_rate.ln())).exp()
                }
            })
            .collect();
        let mut y = vec![0f32; n * k];
        for (j, s) in scores.iter().enumerate() {
            let positives = ((rates[j] * n as f64).round() as usize).clamp(1, n);
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| s[b].total_cmp(&s[a]));
            for &i in &order[..positives] {
                y[i * k + j] = 1.0;
            }
        }
        Ok(RawData::dense(self.kind(), Table { x: x.iter().map(|v| *v as f32).collect(), d, y: Labels::Values { data: y, k } }))
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "multilabel_synth",
    summary: "Gaussian inputs, linear-threshold labels with log-spaced positive rates and correlated pairs",
    family: "multi-label",
    reference: "catalog §7.13 (S030 label-wise imbalance)",
    params: &[
        ParamDoc { name: "n", meaning: "number of examples", range: "≥ 20", default: "4000" },
        ParamDoc { name: "dim", meaning: "input dimension", range: "≥ 1", default: "32" },
        ParamDoc { name: "labels", meaning: "number of labels K", range: "≥ 1", default: "12" },
        ParamDoc { name: "min_rate", meaning: "positive rate of the rarest label", range: "(0, 1]", default: "0.01" },
        ParamDoc { name: "max_rate", meaning: "positive rate of the most frequent label", range: "(0, 1]", default: "0.5" },
        ParamDoc {
            name: "correlation",
            meaning: "correlation ρ of the weight vectors of labels 2j and 2j+1",
            range: "−1..1",
            default: "0.7",
        },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_rates_are_log_spaced() {
        let raw = Params { n: 1000, labels: 3, min_rate: 0.01, max_rate: 0.49, ..Default::default() }.load(1).unwrap();
        let Labels::Values { data, k } = &raw.rows.y else { unreachable!() };
        let counts: Vec<usize> = (0..*k).map(|j| data.iter().skip(j).step_by(*k).filter(|v| **v == 1.0).count()).collect();
        assert_eq!(counts, vec![10, 70, 490]);
    }
}
