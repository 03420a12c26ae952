//! Synthetic implicit feedback for recommendation (catalog §7.8): users × items, each user's
//! positives its top items by a latent affinity, split 80/20 per user, with a fraction φ of
//! the training positives removed — false negatives that training may sample as negatives.
//!
//! ```text
//! u_a, v_j ~ N(0, I_d/d)          user and item factors (d = dim)
//! affinity_aj = u_aᵀ v_j + noise·ε_aj,  ε ~ N(0, 1)   (noise = 0.1)
//! positives of user a: its `positives` (20) items of highest affinity
//! per user, shuffled: round(test_fraction·20) test positives, the rest train positives, of
//! which round(φ·n_train) are removed (in no split: unobserved positives)
//! ```
//! A row is one (user, item) positive: its inputs are the two ids. The split is the dataset's
//! own (per user), so a recipe's `split:` does not apply; there is no validation split. The
//! recommendation family (`families::recommendation`) turns the train rows into lists of the
//! positive and `negatives` sampled items, and ranks all items for each user at evaluation.

use super::{DatasetInfo, InputKind, Labels, RawData, Source, Table};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub users: usize,
    pub items: usize,
    pub dim: usize,
    pub positives: usize,
    pub test_fraction: f64,
    pub false_negatives: f64,
    pub negatives: usize,
    pub noise: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            users: 500,
            items: 1000,
            dim: 16,
            positives: 20,
            test_fraction: 0.2,
            false_negatives: 0.0,
            negatives: 100,
            noise: 0.1,
            data_seed: None,
        }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("users", self.users as f64, 2.0, 1e6)?;
        check_range("items", self.items as f64, 2.0, 1e6)?;
        check_range("dim", self.dim as f64, 1.0, 4096.0)?;
        check_range("positives", self.positives as f64, 2.0, 1e4)?;
        check_range("test_fraction", self.test_fraction, 0.0, 0.9)?;
        check_range("false_negatives", self.false_negatives, 0.0, 0.9)?;
        check_range("negatives", self.negatives as f64, 1.0, 1e5)?;
        check_range("noise", self.noise, 0.0, 100.0)?;
        if self.positives >= self.items {
            return Err(Error::input(format!("positives = {} must be below items = {}", self.positives, self.items)));
        }
        if self.negatives > self.items - self.positives {
            return Err(Error::input(format!(
                "negatives = {} is more than the {} items a user has besides its positives",
                self.negatives,
                self.items - self.positives
            )));
        }
        super::check_size(self.users as f64, self.items as f64)
    }
}

/// `n` factors of `d` dimensions, `N(0, I/d)`.
fn factors(n: usize, d: usize, rng: &mut Stream) -> Vec<Vec<f64>> {
    (0..n).map(|_| (0..d).map(|_| rng.normal() / (d as f64).sqrt()).collect()).collect()
}

impl Params {
    /// Each user's positives, highest affinity first.
    fn top_items(&self, seed: u64) -> Vec<Vec<u32>> {
        let mut rng = Stream::new(seed, Purpose::Data, 0);
        let users = factors(self.users, self.dim, &mut rng);
        let items = factors(self.items, self.dim, &mut rng);
        users
            .iter()
            .map(|u| {
                let affinity: Vec<f64> =
                    items.iter().map(|v| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>() + self.noise * rng.normal()).collect();
                let mut order: Vec<u32> = (0..self.items as u32).collect();
                order.sort_by(|&a, &b| affinity[b as usize].total_cmp(&affinity[a as usize]).then(a.cmp(&b)));
                order.truncate(self.positives);
                order
            })
            .collect()
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Recommendation { users: self.users, items: self.items, negatives: self.negatives }
    }

    fn load(&self, seed: u64) -> Result<RawData> {
        let seed = self.data_seed.unwrap_or(seed);
        let mut rng = Stream::new(seed, Purpose::Split, 0);
        let n_test = (self.test_fraction * self.positives as f64).round() as usize;
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (user, mut positives) in self.top_items(seed).into_iter().enumerate() {
            rng.shuffle(&mut positives);
            let kept = positives.len() - n_test;
            let removed = (self.false_negatives * kept as f64).round() as usize;
            test.extend(positives[..n_test].iter().map(|&i| (user as u32, i)));
            train.extend(positives[n_test + removed..].iter().map(|&i| (user as u32, i)));
        }
        let pairs: Vec<(u32, u32)> = train.iter().chain(&test).copied().collect();
        let x: Vec<f32> = pairs.iter().flat_map(|&(u, i)| [u as f32, i as f32]).collect();
        let rows = Table { x, d: 2, y: Labels::Values { data: vec![1.0; pairs.len()], k: 1 } };
        Ok(RawData {
            input: InputKind::Interactions { users: self.users, items: self.items },
            fixed_split: Some(((0..train.len()).collect(), (train.len()..pairs.len()).collect())),
            standardize_by_default: false,
            ..RawData::dense(self.kind(), rows)
        })
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "recsys_synth",
    summary: "users × items implicit feedback: top items by a latent affinity, 80/20 per user, a fraction of train positives removed",
    family: "ranking",
    reference: "catalog §7.8 (S129's false-negative setting, small)",
    params: &[
        ParamDoc { name: "users", meaning: "number of users", range: "≥ 2", default: "500" },
        ParamDoc { name: "items", meaning: "number of items", range: "≥ 2", default: "1000" },
        ParamDoc { name: "dim", meaning: "dimension of the latent factors", range: "1..4096", default: "16" },
        ParamDoc { name: "positives", meaning: "positives per user (its top items)", range: "2..items", default: "20" },
        ParamDoc { name: "test_fraction", meaning: "share of each user's positives held out", range: "0..0.9", default: "0.2" },
        ParamDoc {
            name: "false_negatives",
            meaning: "share φ of train positives removed (samplable as negatives)",
            range: "0..0.9",
            default: "0.0",
        },
        ParamDoc { name: "negatives", meaning: "negatives sampled per training positive", range: "1..items − positives", default: "100" },
        ParamDoc { name: "noise", meaning: "std of the affinity noise", range: "≥ 0", default: "0.1" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positives_split_per_user_and_false_negatives_leave_the_train_split() {
        let params = Params { users: 30, items: 200, false_negatives: 0.25, ..Params::default() };
        let raw = params.load(4).unwrap();
        let (train, test) = raw.fixed_split.clone().unwrap();
        // 20 positives: 4 test, 16 train of which 4 removed.
        assert_eq!((train.len(), test.len()), (30 * 12, 30 * 4));
        let pair = |r: usize| (raw.rows.x[2 * r] as u32, raw.rows.x[2 * r + 1] as u32);
        let top = params.top_items(4);
        for user in 0..30u32 {
            let tr: Vec<u32> = train.iter().map(|&r| pair(r)).filter(|p| p.0 == user).map(|p| p.1).collect();
            let te: Vec<u32> = test.iter().map(|&r| pair(r)).filter(|p| p.0 == user).map(|p| p.1).collect();
            assert_eq!((tr.len(), te.len()), (12, 4));
            assert!(tr.iter().chain(&te).all(|i| top[user as usize].contains(i)), "positives are the user's top items");
            assert!(tr.iter().all(|i| !te.contains(i)), "no item in both splits");
        }
        assert_eq!(Params { users: 30, items: 200, ..Params::default() }.load(4).unwrap().fixed_split.unwrap().0.len(), 30 * 16);
    }
}
