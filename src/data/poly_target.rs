//! `poly_target_lazy_rich` — a single-index quadratic target for the lazy → rich transition
//! (catalog §7.4.4, S073).
//!
//! ```text
//! x ~ N(0, I_D),  β ~ uniform on the unit sphere of R^D,  y = (βᵀx)² − 1   (the Hermite He₂ of βᵀx)
//! ```
//! `n` train and `n_test` test rows, a fixed split (no validation rows). E[y] = 0 and
//! Var[y] = 2, so a centred network (`two_layer`, `centred: true`) starts at a mean squared
//! error of about 2. Features are not standardised by default (they already are, and the
//! target is defined on these x); set the task's `standardize_target: false` to fit `y` itself.
//! Defaults are the catalog's: D = 50, P = 300 train, 2 000 test rows [recon of S073's setting].

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { d: 50, n: 300, n_test: 2000, data_seed: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("d", self.d as f64, 1.0, 1e6)?;
        check_range("n", self.n as f64, 2.0, 1e7)?;
        check_range("n_test", self.n_test as f64, 1.0, 1e7)?;
        super::check_size((self.n + self.n_test) as f64, self.d as f64)
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Regression { outputs: 1 }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        let mut rng = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Data, 0);
        let raw: Vec<f64> = (0..self.d).map(|_| rng.normal()).collect();
        let norm = raw.iter().map(|b| b * b).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
        let beta: Vec<f64> = raw.iter().map(|b| b / norm).collect();
        let total = self.n + self.n_test;
        let (mut x, mut y) = (Vec::with_capacity(total * self.d), Vec::with_capacity(total));
        for _ in 0..total {
            let row: Vec<f64> = (0..self.d).map(|_| rng.normal()).collect();
            let z: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
            x.extend(row.iter().map(|v| *v as f32));
            y.push((z * z - 1.0) as f32);
        }
        Ok(RawData {
            fixed_split: Some(((0..self.n).collect(), (self.n..total).collect())),
            standardize_by_default: false,
            ..RawData::dense(self.kind(), Table { x, d: self.d, y: Labels::Values { data: y, k: 1 } })
        })
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "poly_target_lazy_rich",
    summary: "x ~ N(0, I_D), y = (βᵀx)² − 1 with a random unit β: lazy vs rich learning (S073)",
    family: "regression",
    reference: "catalog §7.4.4 (S073, grokking as the lazy → rich transition) [recon of the setting]",
    params: &[
        ParamDoc { name: "d", meaning: "input dimension D", range: "≥ 1", default: "50" },
        ParamDoc { name: "n", meaning: "train rows P", range: "≥ 2", default: "300" },
        ParamDoc { name: "n_test", meaning: "test rows", range: "≥ 1", default: "2000" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;

    /// The target is (βᵀx)² − 1 for one unit β: mean ≈ 0 and variance ≈ 2 over many rows, and
    /// it is recovered exactly from x by the β the rows share.
    #[test]
    fn target_is_the_he2_of_a_unit_direction() {
        let raw = Params { d: 5, n: 20000, n_test: 10, data_seed: None }.load(4).unwrap();
        let Labels::Values { data: y, k: 1 } = &raw.rows.y else { panic!("values") };
        let n = y.len() as f64;
        let mean = y.iter().map(|v| *v as f64).sum::<f64>() / n;
        let var = y.iter().map(|v| (*v as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.05 && (var - 2.0).abs() < 0.1, "mean {mean}, var {var}");
        assert_eq!(raw.fixed_split.as_ref().map(|(a, b)| (a.len(), b.len())), Some((20000, 10)));
        assert!(raw.rows.x.iter().all(|v| v.is_finite()) && !raw.standardize_by_default);
    }
}
