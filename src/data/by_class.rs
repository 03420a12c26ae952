//! Metric-learning datasets (catalog §7.7): rows split **by class**, so the test split holds
//! classes the model never trained on and evaluation is zero-shot retrieval.
//!
//! - `digits_dml`: the shipped `digits`, train classes `0..train_classes` (default 0–4), test
//!   classes the rest (5–9).
//! - `blobs_many`: `blobs` with many classes (default 500), the first half of the classes for
//!   training and the second half for testing.
//!
//! Both fix what the model is asked for: an embedding of `embedding` dimensions, and training
//! batches of `per_class` rows per class (P×K, P = batch_size / per_class).

use super::{blobs, shipped, DatasetInfo, Labels, RawData, Source};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::TaskKind;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Rows whose class is below `train_classes` for training, the others for testing.
fn split_by_class(mut raw: RawData, train_classes: usize, kind: TaskKind) -> Result<RawData> {
    let Labels::Classes(y) = &raw.rows.y else {
        return Err(Error::runtime("a by-class split needs class ids"));
    };
    let (train, test): (Vec<usize>, Vec<usize>) = (0..y.len()).partition(|&i| (y[i] as usize) < train_classes);
    raw.fixed_split = Some((train, test));
    raw.kind = kind;
    Ok(raw)
}

/// What the two datasets share: the embedding and the batch shape.
fn check_shape(embedding: usize, per_class: usize) -> Result<()> {
    check_range("embedding", embedding as f64, 1.0, 4096.0)?;
    check_range("per_class", per_class as f64, 2.0, 1024.0)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DigitsParams {
    pub train_classes: usize,
    pub embedding: usize,
    pub per_class: usize,
    /// Expected SHA-256 of the shipped digits file (filled in when not given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Default for DigitsParams {
    fn default() -> Self {
        DigitsParams { train_classes: 5, embedding: 32, per_class: 8, sha256: None }
    }
}

impl Validate for DigitsParams {
    fn validate(&self) -> Result<()> {
        check_range("train_classes", self.train_classes as f64, 2.0, 8.0)?;
        check_shape(self.embedding, self.per_class)
    }
}

struct DigitsDml {
    params: DigitsParams,
    digits: Arc<dyn Source>,
}

impl Source for DigitsDml {
    fn kind(&self) -> TaskKind {
        TaskKind::MetricLearning { classes: 10, dim: self.params.embedding, per_class: self.params.per_class }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        split_by_class(self.digits.load(seed)?, self.params.train_classes, self.kind())
    }
}

fn build_digits(value: &serde_json::Value, base: &std::path::Path) -> crate::registry::Built<dyn Source> {
    let (mut params, _) = parse_params::<DigitsParams>(value)?;
    let pin = params.sha256.take().map(|s| serde_json::json!({ "sha256": s })).unwrap_or(serde_json::Value::Null);
    let (digits, digest) = (shipped::DIGITS.build)(&pin, base)?;
    params.sha256 = digest["sha256"].as_str().map(str::to_string);
    let canonical = serde_json::to_value(&params).map_err(|e| Error::runtime(e.to_string()))?;
    Ok((Arc::new(DigitsDml { params, digits }), canonical))
}

pub static DIGITS_DML: DatasetInfo = DatasetInfo {
    name: "digits_dml",
    summary: "digits split by class for metric learning: train classes 0–4, test classes 5–9 (catalog §7.7)",
    family: "metric-learning",
    reference: "catalog §7.7; the shipped digits (datasets/README.md)",
    params: &[
        ParamDoc { name: "train_classes", meaning: "classes 0..k train, the rest test", range: "2–8", default: "5" },
        ParamDoc { name: "embedding", meaning: "embedding dimension the model outputs", range: "1–4096", default: "32" },
        ParamDoc { name: "per_class", meaning: "rows per class in a training batch (K of P×K)", range: "2–1024", default: "8" },
        ParamDoc { name: "sha256", meaning: "pin the shipped digits file", range: "hex digest", default: "the shipped file's" },
    ],
    build: build_digits,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BlobsParams {
    pub n: usize,
    pub classes: usize,
    pub dim: usize,
    pub sep: f64,
    pub sigma: f64,
    /// Fixes the generated data across run seeds; default: the run's seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_seed: Option<u64>,
    pub embedding: usize,
    pub per_class: usize,
    /// Split by class (half the classes held out); `false`: rows split as any dataset's
    /// (`split`, stratified), every class in every split — for linear probes.
    #[serde(skip_serializing_if = "is_true")]
    pub held_out: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Default for BlobsParams {
    fn default() -> Self {
        let b = blobs::Params::default();
        BlobsParams {
            n: 20_000,
            classes: 500,
            dim: b.dim,
            sep: b.sep,
            sigma: b.sigma,
            data_seed: None,
            embedding: 32,
            per_class: 4,
            held_out: true,
        }
    }
}

impl BlobsParams {
    fn blobs(&self) -> blobs::Params {
        blobs::Params { n: self.n, classes: self.classes, dim: self.dim, sep: self.sep, sigma: self.sigma, data_seed: self.data_seed }
    }
}

impl Validate for BlobsParams {
    fn validate(&self) -> Result<()> {
        self.blobs().validate()?;
        check_range("classes", self.classes as f64, 4.0, 10_000.0)?;
        check_shape(self.embedding, self.per_class)
    }
}

impl Source for BlobsParams {
    fn kind(&self) -> TaskKind {
        TaskKind::MetricLearning { classes: self.classes, dim: self.embedding, per_class: self.per_class }
    }
    fn load(&self, seed: u64) -> Result<RawData> {
        if !self.held_out {
            let mut raw = self.blobs().load(seed)?;
            raw.kind = self.kind();
            return Ok(raw);
        }
        split_by_class(self.blobs().load(seed)?, self.classes / 2, self.kind())
    }
}

pub static BLOBS_MANY: DatasetInfo = DatasetInfo {
    name: "blobs_many",
    summary: "Gaussian blobs with many classes, split 50/50 by class for retrieval (catalog §7.7)",
    family: "metric-learning",
    reference: "catalog §7.1 gauss_blobs and §7.7",
    params: &[
        ParamDoc { name: "n", meaning: "number of examples", range: "≥ 20", default: "20000" },
        ParamDoc { name: "classes", meaning: "classes; the first half train, the second half test", range: "4–10000", default: "500" },
        ParamDoc { name: "dim", meaning: "input dimension", range: "≥ 1", default: "16" },
        ParamDoc { name: "sep", meaning: "radius of the sphere of class means", range: "≥ 0", default: "4.0" },
        ParamDoc { name: "sigma", meaning: "noise standard deviation", range: "≥ 0", default: "1.0" },
        ParamDoc { name: "data_seed", meaning: "fix the data across run seeds", range: "u64", default: "run seed" },
        ParamDoc { name: "embedding", meaning: "embedding dimension the model outputs", range: "1–4096", default: "32" },
        ParamDoc { name: "per_class", meaning: "rows per class in a training batch (K of P×K)", range: "2–1024", default: "4" },
        ParamDoc {
            name: "held_out",
            meaning: "hold out half the classes (false: rows split by `split`, every class in every split)",
            range: "true | false",
            default: "true",
        },
    ],
    build: super::build_generator::<BlobsParams>,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_classes_are_never_trained_on() {
        let here = std::path::Path::new(".");
        for (info, params, train_classes) in
            [(&DIGITS_DML, serde_json::Value::Null, 5u32), (&BLOBS_MANY, serde_json::json!({"n": 400, "classes": 40}), 20)]
        {
            let (source, canonical) = (info.build)(&params, here).unwrap();
            let raw = source.load(1).unwrap();
            let Labels::Classes(y) = &raw.rows.y else { panic!("class ids") };
            let (train, test) = raw.fixed_split.clone().unwrap();
            assert_eq!(train.len() + test.len(), y.len(), "{}", info.name);
            assert!(train.iter().all(|&i| y[i] < train_classes) && test.iter().all(|&i| y[i] >= train_classes), "{}", info.name);
            assert!(matches!(raw.kind, TaskKind::MetricLearning { dim: 32, .. }), "{}", info.name);
            assert!(canonical.get("embedding").is_some() && canonical.get("per_class").is_some(), "{}", info.name);
        }
        // `held_out` is left out of the canonical parameters at its default (run identities of
        // earlier recipes stay the same).
        let (_, canonical) = (BLOBS_MANY.build)(&serde_json::Value::Null, here).unwrap();
        assert!(canonical.get("held_out").is_none());
        let (_, canonical) = (DIGITS_DML.build)(&serde_json::Value::Null, here).unwrap();
        assert_eq!(canonical["sha256"], "b522872eb031d29820dc75db33f44fb9cdbf19edeb73ede95d54f00fb54b2824");
        let e = (DIGITS_DML.build)(&serde_json::json!({"sha256": "00"}), here).err().unwrap().to_string();
        assert!(e.contains("has SHA-256 b522872e"), "{e}");
    }

    #[test]
    fn without_held_out_classes_every_split_has_every_class_and_the_train_split_can_be_long_tailed() {
        use crate::data::transforms::{prepare, LongTailSpec, Profile, Transforms};
        let here = std::path::Path::new(".");
        let params = serde_json::json!({"n": 2000, "classes": 10, "held_out": false});
        let (source, canonical) = (BLOBS_MANY.build)(&params, here).unwrap();
        assert_eq!(canonical["held_out"], false);
        let t = Transforms { long_tail: Some(LongTailSpec { imbalance: 0.05, profile: Profile::Exp }), ..Default::default() };
        t.validate(source.kind()).unwrap();
        let p = prepare(source.load(3).unwrap(), &t, 3).unwrap();
        assert!(matches!(p.kind, TaskKind::MetricLearning { classes: 10, .. }) && p.long_tailed);
        let count = |y: &[u32]| (0..10u32).map(|c| y.iter().filter(|&&v| v == c).count()).collect::<Vec<_>>();
        let train = count(p.train.classes().unwrap());
        let test = count(p.test.classes().unwrap());
        assert!(test.iter().all(|&n| n > 0), "{test:?}");
        // Exp profile: the head class keeps its rows, the tail keeps about 5 % of them.
        assert!(train[0] >= 10 * train[9] && train[9] >= 1, "{train:?}");
        assert_eq!(crate::data::transforms::train_class_counts(&p), Some(train));
    }
}
