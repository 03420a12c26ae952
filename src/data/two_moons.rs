//! Two interleaving half-circles (as `sklearn.datasets.make_moons`).
//!
//! ```text
//! outer: (cos t, sin t),  inner: (1 − cos t, 0.5 − sin t),  t evenly spaced in [0, π],  + N(0, noise²·I)
//! ```

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
    pub noise: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { n: 1000, noise: 0.1, data_seed: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("n", self.n as f64, 20.0, 1e7)?;
        check_range("noise", self.noise, 0.0, 100.0)
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Classification { classes: 2 }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        let mut rng = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Data, 0);
        let n_outer = self.n / 2;
        let n_inner = self.n - n_outer;
        let mut x = Vec::with_capacity(self.n * 2);
        let mut y = Vec::with_capacity(self.n);
        let spaced = |i: usize, m: usize| {
            if m > 1 {
                std::f64::consts::PI * i as f64 / (m - 1) as f64
            } else {
                0.0
            }
        };
        for i in 0..n_outer {
            let t = spaced(i, n_outer);
            x.push((t.cos() + self.noise * rng.normal()) as f32);
            x.push((t.sin() + self.noise * rng.normal()) as f32);
            y.push(0);
        }
        for i in 0..n_inner {
            let t = spaced(i, n_inner);
            x.push((1.0 - t.cos() + self.noise * rng.normal()) as f32);
            x.push((0.5 - t.sin() + self.noise * rng.normal()) as f32);
            y.push(1);
        }
        Ok(RawData::dense(self.kind(), Table { x, d: 2, y: Labels::Classes(y) }))
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "two_moons",
    summary: "two interleaving half-circles, 2 classes (sklearn make_moons)",
    family: "classification",
    reference: "catalog §7.1; sklearn.datasets.make_moons",
    params: &[
        ParamDoc { name: "n", meaning: "number of examples", range: "≥ 20", default: "1000" },
        ParamDoc { name: "noise", meaning: "Gaussian noise standard deviation", range: "≥ 0", default: "0.1" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};
