//! XOR-cluster data with label-flip noise (Xu & Gu / S081 setting, catalog §7.4.3).
//!
//! ```text
//! μ₁ ⟂ μ₂ ∈ R^d, ‖μ₁‖ = ‖μ₂‖ = mu_norm;  centres ±μ₁ → class 1 (label +1), ±μ₂ → class 0 (label −1)
//! x = centre + N(0, I_d);  train labels flipped with probability η (test labels clean)
//! ```
//! Generates `n` train and `n_test` test examples (a fixed split); the flipped train rows are
//! recorded in the run. Defaults are the catalog's starting regime: d = 2000, n = 60,
//! ‖μ‖ = 40, η = 0.15 [recon; the catalog notes ‖μ‖ may need tuning to reach the paper's
//! one-step-overfitting regime].

use super::{DatasetInfo, Labels, RawData, Source, Table};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub d: usize,
    pub n: usize,
    pub n_test: usize,
    pub eta: f64,
    pub mu_norm: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { d: 2000, n: 60, n_test: 1000, eta: 0.15, mu_norm: 40.0, data_seed: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("d", self.d as f64, 2.0, 1e6)?;
        check_range("n", self.n as f64, 2.0, 1e7)?;
        check_range("n_test", self.n_test as f64, 1.0, 1e7)?;
        check_range("eta", self.eta, 0.0, 0.5)?;
        check_range("mu_norm", self.mu_norm, 0.0, 1e6)?;
        super::check_size((self.n + self.n_test) as f64, self.d as f64)
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Classification { classes: 2 }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        let mut rng = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Data, 0);
        // Two orthogonal directions: Gram–Schmidt on two Gaussian vectors.
        let g1: Vec<f64> = (0..self.d).map(|_| rng.normal()).collect();
        let mut g2: Vec<f64> = (0..self.d).map(|_| rng.normal()).collect();
        let n1 = g1.iter().map(|a| a * a).sum::<f64>().sqrt();
        let u1: Vec<f64> = g1.iter().map(|a| a / n1).collect();
        let dot: f64 = u1.iter().zip(&g2).map(|(a, b)| a * b).sum();
        g2.iter_mut().zip(&u1).for_each(|(b, a)| *b -= dot * a);
        let n2 = g2.iter().map(|a| a * a).sum::<f64>().sqrt();
        let mu1: Vec<f64> = u1.iter().map(|a| a * self.mu_norm).collect();
        let mu2: Vec<f64> = g2.iter().map(|a| a / n2 * self.mu_norm).collect();
        let total = self.n + self.n_test;
        let mut x = Vec::with_capacity(total * self.d);
        let mut y = Vec::with_capacity(total);
        let mut noisy = Vec::new();
        let mut clean = Vec::with_capacity(total);
        for i in 0..total {
            let centre = rng.below(4);
            let (mu, sign, class) = match centre {
                0 => (&mu1, 1.0, 1u32),
                1 => (&mu1, -1.0, 1),
                2 => (&mu2, 1.0, 0),
                _ => (&mu2, -1.0, 0),
            };
            for m in mu.iter() {
                x.push((sign * m + rng.normal()) as f32);
            }
            let flip = rng.uniform() < self.eta;
            clean.push(class);
            if i < self.n && flip {
                y.push(1 - class);
                noisy.push(i);
            } else {
                y.push(class);
            }
        }
        Ok(RawData {
            fixed_split: Some(((0..self.n).collect(), (self.n..total).collect())),
            standardize_by_default: false,
            noisy,
            clean_labels: Some(clean),
            ..RawData::dense(self.kind(), Table { x, d: self.d, y: Labels::Classes(y) })
        })
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "xor_cluster",
    summary: "XOR of four Gaussian clusters in high dimension, train labels flipped w.p. η (S081)",
    family: "classification",
    reference: "catalog §7.4.3 (S081, benign overfitting in XOR cluster data) [recon defaults]",
    params: &[
        ParamDoc { name: "d", meaning: "input dimension", range: "≥ 2", default: "2000" },
        ParamDoc { name: "n", meaning: "train examples", range: "≥ 2", default: "60" },
        ParamDoc { name: "n_test", meaning: "test examples (clean labels)", range: "≥ 1", default: "1000" },
        ParamDoc { name: "eta", meaning: "train label-flip probability", range: "0 ≤ η ≤ 0.5", default: "0.15" },
        ParamDoc { name: "mu_norm", meaning: "norm of the cluster means", range: "≥ 0", default: "40" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};
