//! A Waterbirds-like spurious-correlation task with its groups (catalog §7.14, S114).
//!
//! ```text
//! y ∈ {−1, +1} uniform;  a ∈ {−1, +1} with P(a = y) = ρ (train, val), ρ_test (test)
//! x = [ y·μ_c + N(0, I₅),  a·μ_s + N(0, σ_s²·I₅),  N(0, I₁₀) ]
//! μ_c = (‖μ_c‖/√5)·1₅ (the core feature, hard),  μ_s = (‖μ_s‖/√5)·1₅ (the spurious one, easy)
//! group g = 2·[y = +1] + [a = +1]:  0 (y−,a−), 1 (y−,a+), 2 (y+,a−), 3 (y+,a+)
//! ```
//! Class 1 is `y = +1`. The generator fixes its own split — `n` train, `n_val` validation and
//! `n_test` test rows, the test split drawn with its own correlation (0.5 by default: the
//! spurious attribute carries no information there) — and records every row's group, so
//! `group_dro` weighs the real groups and `worst_group_acc` reads them. Defaults are the
//! catalog's: ρ = 0.95, ‖μ_c‖ = 1, ‖μ_s‖ = 3, σ_s² = 0.25, N = 4800 train rows; the catalog
//! leaves the direction of μ_c, μ_s and the validation/test sizes open [recon: the all-ones
//! directions and 1200/4800 rows are lossbench's choice].

use super::{DatasetInfo, Groups, Labels, RawData, Source, Table};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

/// Features per block: core, spurious, noise.
const CORE: usize = 5;
const SPURIOUS: usize = 5;
const NOISE: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub n: usize,
    pub n_val: usize,
    pub n_test: usize,
    pub correlation: f64,
    pub test_correlation: f64,
    pub core_norm: f64,
    pub spurious_norm: f64,
    pub spurious_var: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            n: 4800,
            n_val: 1200,
            n_test: 4800,
            correlation: 0.95,
            test_correlation: 0.5,
            core_norm: 1.0,
            spurious_norm: 3.0,
            spurious_var: 0.25,
            data_seed: None,
        }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("n", self.n as f64, 8.0, 1e7)?;
        check_range("n_val", self.n_val as f64, 0.0, 1e7)?;
        check_range("n_test", self.n_test as f64, 1.0, 1e7)?;
        check_range("correlation", self.correlation, 0.0, 1.0)?;
        check_range("test_correlation", self.test_correlation, 0.0, 1.0)?;
        check_range("core_norm", self.core_norm, 0.0, 1e3)?;
        check_range("spurious_norm", self.spurious_norm, 0.0, 1e3)?;
        check_range("spurious_var", self.spurious_var, 0.0, 1e3)?;
        super::check_size((self.n + self.n_val + self.n_test) as f64, (CORE + SPURIOUS + NOISE) as f64)
    }
}

/// The groups' names, by group id.
pub const GROUP_NAMES: [&str; 4] = ["y-a-", "y-a+", "y+a-", "y+a+"];

impl Params {
    /// One row: its features appended to `x`; returns (class, group).
    fn row(&self, rng: &mut Stream, correlation: f64, x: &mut Vec<f32>) -> (u32, u32) {
        let y = if rng.uniform() < 0.5 { 1.0 } else { -1.0 };
        let a = if rng.uniform() < correlation { y } else { -y };
        let (core, spurious) = (self.core_norm / (CORE as f64).sqrt(), self.spurious_norm / (SPURIOUS as f64).sqrt());
        x.extend((0..CORE).map(|_| (y * core + rng.normal()) as f32));
        x.extend((0..SPURIOUS).map(|_| (a * spurious + self.spurious_var.sqrt() * rng.normal()) as f32));
        x.extend((0..NOISE).map(|_| rng.normal() as f32));
        let class = u32::from(y > 0.0);
        (class, 2 * class + u32::from(a > 0.0))
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Classification { classes: 2 }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        let mut rng = Stream::new(self.data_seed.unwrap_or(seed), Purpose::Data, 0);
        let total = self.n + self.n_val + self.n_test;
        let d = CORE + SPURIOUS + NOISE;
        let (mut x, mut y, mut g) = (Vec::with_capacity(total * d), Vec::with_capacity(total), Vec::with_capacity(total));
        for i in 0..total {
            let correlation = if i < self.n + self.n_val { self.correlation } else { self.test_correlation };
            let (class, group) = self.row(&mut rng, correlation, &mut x);
            y.push(class);
            g.push(group);
        }
        let train_end = self.n;
        let val_end = self.n + self.n_val;
        Ok(RawData {
            fixed_split: Some(((0..train_end).collect(), (val_end..total).collect())),
            fixed_val: (train_end..val_end).collect(),
            groups: Some(Groups { ids: g, names: GROUP_NAMES.iter().map(|s| s.to_string()).collect() }),
            ..RawData::dense(self.kind(), Table { x, d, y: Labels::Classes(y) })
        })
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "spurious_synth",
    summary: "Waterbirds-like: a hard core feature and an easy spurious one correlated 95 % with the class in train/val; 4 groups (S114)",
    family: "classification",
    reference: "catalog §7.14 (S114, group DRO) [recon directions and split sizes]",
    params: &[
        ParamDoc { name: "n", meaning: "train rows", range: "≥ 8", default: "4800" },
        ParamDoc { name: "n_val", meaning: "validation rows (train correlation)", range: "≥ 0", default: "1200" },
        ParamDoc { name: "n_test", meaning: "test rows (test correlation)", range: "≥ 1", default: "4800" },
        ParamDoc { name: "correlation", meaning: "P(a = y) in train and validation", range: "0 ≤ ρ ≤ 1", default: "0.95" },
        ParamDoc { name: "test_correlation", meaning: "P(a = y) in test", range: "0 ≤ ρ ≤ 1", default: "0.5" },
        ParamDoc { name: "core_norm", meaning: "‖μ_c‖ of the core feature", range: "≥ 0", default: "1" },
        ParamDoc { name: "spurious_norm", meaning: "‖μ_s‖ of the spurious feature", range: "≥ 0", default: "3" },
        ParamDoc { name: "spurious_var", meaning: "noise variance σ_s² of the spurious block", range: "≥ 0", default: "0.25" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_follow_the_correlation_in_each_split() {
        let p = Params { n: 4000, n_val: 1000, n_test: 4000, ..Default::default() };
        let raw = p.load(7).unwrap();
        let groups = raw.groups.as_ref().unwrap();
        let Labels::Classes(y) = &raw.rows.y else { panic!("class ids") };
        let (train, test) = raw.fixed_split.clone().unwrap();
        assert_eq!((train.len(), raw.fixed_val.len(), test.len()), (4000, 1000, 4000));
        let aligned = |rows: &[usize]| rows.iter().filter(|&&i| matches!(groups.ids[i], 0 | 3)).count() as f64 / rows.len() as f64;
        assert!((aligned(&train) - 0.95).abs() < 0.015, "{}", aligned(&train));
        assert!((aligned(&raw.fixed_val) - 0.95).abs() < 0.03);
        assert!((aligned(&test) - 0.5).abs() < 0.03, "{}", aligned(&test));
        // The group's first bit is the class.
        assert!(y.iter().zip(&groups.ids).all(|(c, g)| g / 2 == *c));
        // The spurious block's mean follows a, the core block's follows y.
        let mean = |rows: &[usize], col: usize| rows.iter().map(|&i| raw.rows.x[i * 20 + col] as f64).sum::<f64>() / rows.len() as f64;
        let of = |g: u32| (0..9000).filter(|&i| groups.ids[i] == g).collect::<Vec<_>>();
        let step = 3.0 / 5f64.sqrt();
        assert!((mean(&of(1), 5) - step).abs() < 0.1 && (mean(&of(2), 5) + step).abs() < 0.1);
        assert!((mean(&of(1), 0) + 1.0 / 5f64.sqrt()).abs() < 0.1 && (mean(&of(2), 0) - 1.0 / 5f64.sqrt()).abs() < 0.1);
    }
}
