//! Interleaved spirals, one arm per class.
//!
//! ```text
//! t ~ U(0, 1),  r = t,  φ = 2π·turns·t + 2πk/K,  x = r·(cos φ, sin φ) + noise·N(0, I)
//! ```
//! Catalog §7.1 `spirals(n, K=3, turns=1.5, noise=0.2)`.

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
    pub turns: f64,
    pub noise: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { n: 1500, classes: 3, turns: 1.5, noise: 0.2, data_seed: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("n", self.n as f64, 20.0, 1e7)?;
        check_range("classes", self.classes as f64, 2.0, 1000.0)?;
        check_range("turns", self.turns, 0.0, 100.0)?;
        check_range("noise", self.noise, 0.0, 100.0)
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Classification { classes: self.classes }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        use std::f64::consts::TAU;
        let mut rng = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Data, 0);
        let mut x = Vec::with_capacity(self.n * 2);
        let mut y = Vec::with_capacity(self.n);
        for i in 0..self.n {
            let k = i % self.classes;
            let t = rng.uniform();
            let phi = TAU * self.turns * t + TAU * k as f64 / self.classes as f64;
            x.push((t * phi.cos() + self.noise * rng.normal()) as f32);
            x.push((t * phi.sin() + self.noise * rng.normal()) as f32);
            y.push(k as u32);
        }
        Ok(RawData::dense(self.kind(), Table { x, d: 2, y: Labels::Classes(y) }))
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "spirals",
    summary: "interleaved 2-D spirals, one arm per class (catalog §7.1)",
    family: "classification",
    reference: "catalog §7.1",
    params: &[
        ParamDoc { name: "n", meaning: "number of examples", range: "≥ 20", default: "1500" },
        ParamDoc { name: "classes", meaning: "number of arms/classes", range: "≥ 2", default: "3" },
        ParamDoc { name: "turns", meaning: "turns of each arm", range: "≥ 0", default: "1.5" },
        ParamDoc { name: "noise", meaning: "Gaussian noise standard deviation", range: "≥ 0", default: "0.2" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};
