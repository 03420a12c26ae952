//! Synthetic learning-to-rank lists (catalog §7.8): queries of up to `items` documents with
//! graded relevance 0–4 from a fixed random teacher.
//!
//! ```text
//! x_qj ~ N(0, I_d)                          document j of query q (features)
//! f*(x) = vᵀ tanh(W x),  W [h, d] ~ N(0, 1/d),  v [h] ~ N(0, 1/h),  h = 2d (16 → 32 → 1)
//! o_q ~ N(0, offset²)                       per-query offset (offset = 0.5)
//! r_qj = clip(round(2 + 1.5·(f*(x_qj) + o_q) + noise·ε_qj), 0, 4),  ε ~ N(0, 1)  (noise = 0.5)
//! ```
//! The features the model sees are standardised per query (each feature over the query's
//! documents: mean 0, standard deviation 1), as LETOR's query-level normalisation; the
//! teacher reads the raw features. [recon] The catalog writes "standardise per query" without
//! saying what; standardising the teacher's scores per query would cancel the per-query offset,
//! so we read it as the features.
//!
//! A query has `items` documents, or, with `min_items` below `items`, a length drawn uniformly
//! in `min_items..=items`; the rest of its list is padding (zero features, relevance −1, as
//! allRank pads). The teacher and the offsets come from the data seed (the run seed unless
//! `data_seed` is given), so every loss of a comparison ranks the same lists.

use super::{DatasetInfo, InputKind, Labels, RawData, Source, Table};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use crate::rng::{Purpose, Stream};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};

/// Relevance of a padding item (allRank's `PADDED_Y_VALUE`).
pub const PADDING: f32 = -1.0;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub queries: usize,
    pub items: usize,
    pub min_items: Option<usize>,
    pub features: usize,
    pub offset: f64,
    pub noise: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
}

impl Default for Params {
    fn default() -> Self {
        Params { queries: 2000, items: 30, min_items: None, features: 16, offset: 0.5, noise: 0.5, data_seed: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("queries", self.queries as f64, 10.0, 1e7)?;
        check_range("items", self.items as f64, 2.0, 10_000.0)?;
        check_range("features", self.features as f64, 1.0, 10_000.0)?;
        check_range("offset", self.offset, 0.0, 100.0)?;
        check_range("noise", self.noise, 0.0, 100.0)?;
        if let Some(m) = self.min_items {
            if m < 1 || m > self.items {
                return Err(Error::input(format!("min_items = {m}: must be between 1 and items = {}", self.items)));
            }
        }
        super::check_size(self.queries as f64, (self.items * self.features) as f64)
    }
}

/// Each feature of a query's `len` documents (row-major `[len, d]`) to mean 0 and standard
/// deviation 1 over those documents (a constant feature becomes 0).
fn standardise_query(x: &mut [f64], d: usize) {
    let len = x.len() / d;
    for c in 0..d {
        let mean = (0..len).map(|j| x[j * d + c]).sum::<f64>() / len as f64;
        let var = (0..len).map(|j| (x[j * d + c] - mean).powi(2)).sum::<f64>() / len as f64;
        let std = if var > 0.0 { var.sqrt() } else { 1.0 };
        (0..len).for_each(|j| x[j * d + c] = (x[j * d + c] - mean) / std);
    }
}

/// The teacher: `vᵀ tanh(W x)`.
struct Teacher {
    w: Vec<f64>,
    v: Vec<f64>,
    d: usize,
}

impl Teacher {
    fn draw(d: usize, rng: &mut Stream) -> Teacher {
        let h = 2 * d;
        let w = (0..h * d).map(|_| rng.normal() / (d as f64).sqrt()).collect();
        let v = (0..h).map(|_| rng.normal() / (h as f64).sqrt()).collect();
        Teacher { w, v, d }
    }

    fn score(&self, x: &[f64]) -> f64 {
        self.v
            .iter()
            .enumerate()
            .map(|(k, vk)| vk * self.w[k * self.d..(k + 1) * self.d].iter().zip(x).map(|(a, b)| a * b).sum::<f64>().tanh())
            .sum()
    }
}

impl Source for Params {
    fn kind(&self) -> TaskKind {
        TaskKind::Ranking { items: self.items, features: self.features }
    }

    fn load(&self, seed: u64) -> Result<RawData> {
        let seed = self.data_seed.unwrap_or(seed);
        let (l, d) = (self.items, self.features);
        let teacher = Teacher::draw(d, &mut Stream::new(seed, Purpose::Data, 0));
        let mut rng = Stream::new(seed, Purpose::Data, 1);
        let mut x = Vec::with_capacity(self.queries * l * d);
        let mut y = Vec::with_capacity(self.queries * l);
        let min = self.min_items.unwrap_or(l);
        for _ in 0..self.queries {
            let len = min + rng.below((l - min + 1) as u64) as usize;
            let offset = self.offset * rng.normal();
            let mut docs: Vec<f64> = (0..len * d).map(|_| rng.normal()).collect();
            for j in 0..len {
                let f = teacher.score(&docs[j * d..(j + 1) * d]) + offset;
                y.push((2.0 + 1.5 * f + self.noise * rng.normal()).round().clamp(0.0, 4.0) as f32);
            }
            standardise_query(&mut docs, d);
            x.extend(docs.iter().map(|v| *v as f32));
            x.extend(std::iter::repeat_n(0.0, (l - len) * d));
            y.extend(std::iter::repeat_n(PADDING, l - len));
        }
        let rows = Table { x, d: l * d, y: Labels::Values { data: y, k: l } };
        Ok(RawData {
            input: InputKind::Items { items: l, features: d },
            standardize_by_default: false,
            ..RawData::dense(self.kind(), rows)
        })
    }
}

pub static INFO: DatasetInfo = DatasetInfo {
    name: "ltr_synth",
    summary: "queries of documents with graded relevance 0–4 from a random tanh teacher plus per-query offsets",
    family: "ranking",
    reference: "catalog §7.8 (S028's setting, small)",
    params: &[
        ParamDoc { name: "queries", meaning: "number of queries (lists)", range: "≥ 10", default: "2000" },
        ParamDoc { name: "items", meaning: "documents per list L (with padding)", range: "2..10000", default: "30" },
        ParamDoc {
            name: "min_items",
            meaning: "shortest list; lengths uniform in min_items..=items",
            range: "1..=items",
            default: "items",
        },
        ParamDoc { name: "features", meaning: "features per document", range: "≥ 1", default: "16" },
        ParamDoc { name: "offset", meaning: "std of the per-query offset of the teacher's score", range: "≥ 0", default: "0.5" },
        ParamDoc { name: "noise", meaning: "std of the relevance noise before rounding", range: "≥ 0", default: "0.5" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
    ],
    build: super::build_generator::<Params>,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn load(params: serde_json::Value) -> RawData {
        let (source, _) = (INFO.build)(&params, std::path::Path::new(".")).unwrap();
        source.load(3).unwrap()
    }

    #[test]
    fn lists_hold_graded_relevance_with_padding_at_the_end() {
        let raw = load(serde_json::json!({"queries": 200, "items": 12, "min_items": 5, "features": 4}));
        let Labels::Values { data, k } = &raw.rows.y else { panic!("values") };
        assert_eq!((*k, raw.rows.len(), raw.rows.d), (12, 200, 48));
        let mut lengths = std::collections::BTreeSet::new();
        for (q, list) in data.chunks(12).enumerate() {
            let len = list.iter().take_while(|r| **r >= 0.0).count();
            assert!(list[len..].iter().all(|r| *r == PADDING), "padding only at the end: {list:?}");
            assert!(list[..len].iter().all(|r| [0.0, 1.0, 2.0, 3.0, 4.0].contains(r)), "{list:?}");
            assert!(raw.rows.x[q * 48 + len * 4..(q + 1) * 48].iter().all(|v| *v == 0.0), "padding features are zero");
            lengths.insert(len);
        }
        assert!(lengths.len() > 4 && *lengths.first().unwrap() >= 5, "{lengths:?}");
        let grades: std::collections::BTreeSet<i32> = data.iter().filter(|r| **r >= 0.0).map(|r| *r as i32).collect();
        assert_eq!(grades.len(), 5, "every grade occurs: {grades:?}");
    }

    #[test]
    fn features_are_standardised_per_query_and_the_teacher_is_fixed_by_the_seed() {
        let raw = load(serde_json::json!({"queries": 20, "items": 10, "features": 3}));
        let x = &raw.rows.x;
        for q in 0..20 {
            for c in 0..3 {
                let col: Vec<f64> = (0..10).map(|j| x[q * 30 + j * 3 + c] as f64).collect();
                let mean = col.iter().sum::<f64>() / 10.0;
                let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 10.0;
                assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-4, "query {q} feature {c}: {mean} {var}");
            }
        }
        let again = load(serde_json::json!({"queries": 20, "items": 10, "features": 3}));
        assert_eq!(again.rows, raw.rows);
    }
}
