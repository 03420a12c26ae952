//! Gaussian blobs: `classes` isotropic Gaussians whose means lie uniformly on a sphere.
//!
//! ```text
//! μ_c ~ Uniform(sphere of radius sep in R^dim),   x = μ_c + σ·N(0, I),   balanced classes
//! ```
//! Catalog §7.1 `gauss_blobs(n=2000, C=10, D=16, sep=4.0, σ=1.0)`.

use super::{DatasetInfo, Labels, RawData, Source, Table};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub n: usize,
    pub classes: usize,
    pub dim: usize,
    pub sep: f64,
    pub sigma: f64,
    /// Fixes the generated data across run seeds; default: the run's seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { n: 2000, classes: 10, dim: 16, sep: 4.0, sigma: 1.0, data_seed: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("n", self.n as f64, 20.0, 1e7)?;
        check_range("classes", self.classes as f64, 2.0, 10_000.0)?;
        check_range("dim", self.dim as f64, 1.0, 100_000.0)?;
        check_range("sep", self.sep, 0.0, 1e6)?;
        check_range("sigma", self.sigma, 0.0, 1e6)?;
        super::check_size(self.n as f64, self.dim as f64)
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Classification { classes: self.classes }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        let mut rng = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Data, 0);
        let means: Vec<Vec<f64>> = (0..self.classes)
            .map(|_| {
                let v: Vec<f64> = (0..self.dim).map(|_| rng.normal()).collect();
                let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
                v.iter().map(|a| a / norm * self.sep).collect()
            })
            .collect();
        let mut x = Vec::with_capacity(self.n * self.dim);
        let mut y = Vec::with_capacity(self.n);
        for i in 0..self.n {
            let c = i % self.classes;
            for mu in &means[c] {
                x.push((mu + self.sigma * rng.normal()) as f32);
            }
            y.push(c as u32);
        }
        Ok(RawData::dense(self.kind(), Table { x, d: self.dim, y: Labels::Classes(y) }))
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "blobs",
    summary: "isotropic Gaussian blobs, means uniform on a sphere (catalog §7.1 gauss_blobs)",
    family: "classification",
    reference: "catalog §7.1; sklearn.datasets.make_blobs-style",
    params: &[
        ParamDoc { name: "n", meaning: "number of examples", range: "≥ 20", default: "2000" },
        ParamDoc { name: "classes", meaning: "number of classes", range: "≥ 2", default: "10" },
        ParamDoc { name: "dim", meaning: "input dimension", range: "≥ 1", default: "16" },
        ParamDoc { name: "sep", meaning: "radius of the sphere of class means", range: "≥ 0", default: "4.0" },
        ParamDoc { name: "sigma", meaning: "noise standard deviation", range: "≥ 0", default: "1.0" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};
