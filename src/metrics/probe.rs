//! Linear-probe accuracy of an embedding (catalog §3 H41): a multinomial logistic regression
//! fit on the train split's L2-normalised embeddings, scored on a split's, over all its rows or
//! over the rows of one frequency bucket of the train split (many-shot: ≥ n_max/3 train rows,
//! few-shot: ≤ n_max/10, medium: between — the buckets of `many_acc` / `few_acc`).
//!
//! The fit is deterministic: weights and bias from zero, `steps` full-batch Adam steps
//! (β = 0.9, 0.999) at learning rate 0.1 on the mean cross-entropy plus `l2`·‖W‖²/2. Rows of a
//! class with no train rows can only be misclassified; they count in `all` and in no bucket.
//! On the train split the probe is fit and scored on the train split itself.

use super::{Metric, MetricInfo, Outputs};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::Family;
use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Bucket {
    All,
    Many,
    Medium,
    Few,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct Params {
    bucket: Bucket,
    steps: usize,
    l2: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { bucket: Bucket::All, steps: 300, l2: 1e-4 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("steps", self.steps as f64, 1.0, 100_000.0)?;
        check_range("l2", self.l2, 0.0, 10.0)
    }
}

/// A fitted probe: weights `[D + 1, C]` (the last row the bias) for the data with this hash.
type Fit = (u64, Tensor);

pub struct LinearProbe {
    params: Params,
    /// The latest fit, reused while the train embeddings are the same (one fit serves every
    /// bucket and split of an evaluation).
    cache: Mutex<Option<Fit>>,
}

/// `[n, D + 1]`: the rows with a constant 1 appended.
fn with_bias(values: &[f64], width: usize) -> candle_core::Result<Tensor> {
    let n = values.len() / width.max(1);
    let x = Tensor::from_slice(&values[..n * width], (n, width), &Device::Cpu)?;
    Tensor::cat(&[&x, &Tensor::ones((n, 1), DType::F64, &Device::Cpu)?], 1)
}

fn data_hash(out: &[f64], classes: &[u32], width: usize, p: &Params) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    out.iter().for_each(|v| v.to_bits().hash(&mut h));
    (classes, width, p.steps, p.l2.to_bits()).hash(&mut h);
    h.finish()
}

impl LinearProbe {
    /// Full-batch Adam on the mean cross-entropy of softmax(X W) plus l2·‖W‖²/2 (bias included).
    fn fit(&self, out: &[f64], classes: &[u32], width: usize) -> candle_core::Result<Tensor> {
        let x = with_bias(out, width)?;
        let c = classes.iter().copied().max().map_or(1, |m| m as usize + 1);
        let n = classes.len().max(1);
        let mut onehot = vec![0f64; classes.len() * c];
        classes.iter().enumerate().for_each(|(i, &y)| onehot[i * c + y as usize] = 1.0);
        let y = Tensor::from_vec(onehot, (classes.len(), c), &Device::Cpu)?;
        let xt = x.t()?;
        let mut w = Tensor::zeros((width + 1, c), DType::F64, &Device::Cpu)?;
        let (mut m, mut v) = (w.zeros_like()?, w.zeros_like()?);
        let (lr, b1, b2, eps) = (0.1, 0.9f64, 0.999f64, 1e-8);
        for t in 1..=self.params.steps {
            let p = candle_nn::ops::softmax_last_dim(&x.matmul(&w)?)?;
            let g = ((xt.matmul(&(p - &y)?)? / n as f64)? + (&w * self.params.l2)?)?;
            m = ((m * b1)? + (&g * (1.0 - b1))?)?;
            v = ((v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let m_hat = (&m / (1.0 - b1.powi(t as i32)))?;
            let v_hat = (&v / (1.0 - b2.powi(t as i32)))?;
            w = (w - ((m_hat / (v_hat.sqrt()? + eps)?)? * lr)?)?;
        }
        Ok(w)
    }

    fn weights(&self, out: &[f64], classes: &[u32], width: usize) -> Result<Tensor> {
        let key = data_hash(out, classes, width, &self.params);
        let mut cache = self.cache.lock().map_err(|_| Error::runtime("poisoned linear-probe cache"))?;
        if let Some((k, w)) = cache.as_ref() {
            if *k == key {
                return Ok(w.clone());
            }
        }
        let w = self.fit(out, classes, width)?;
        *cache = Some((key, w.clone()));
        Ok(w)
    }

    /// The bucket of each train class by its train count (`None`: no train rows).
    fn buckets(train: &[u32]) -> Vec<Option<Bucket>> {
        let c = train.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut counts = vec![0usize; c];
        train.iter().for_each(|&y| counts[y as usize] += 1);
        let n_max = counts.iter().copied().max().unwrap_or(0) as f64;
        counts
            .iter()
            .map(|&n| match n as f64 {
                _ if n == 0 => None,
                n if n >= n_max / 3.0 => Some(Bucket::Many),
                n if n <= n_max / 10.0 => Some(Bucket::Few),
                _ => Some(Bucket::Medium),
            })
            .collect()
    }

    fn accuracy(&self, o: &Outputs) -> Result<f64> {
        let (train_out, train_y) = match o.reference {
            Some(r) => (r.out, r.classes),
            None => (o.out, o.classes()),
        };
        if train_y.is_empty() || o.rows() == 0 {
            return Ok(f64::NAN);
        }
        let w = self.weights(train_out, train_y, o.width)?;
        let preds = with_bias(o.out, o.width)?.matmul(&w)?.argmax(D::Minus1)?.to_vec1::<u32>()?;
        let buckets = Self::buckets(train_y);
        let (mut hits, mut total) = (0usize, 0usize);
        for (p, &y) in preds.iter().zip(o.classes()) {
            let bucket = buckets.get(y as usize).copied().flatten();
            if self.params.bucket == Bucket::All || bucket == Some(self.params.bucket) {
                total += 1;
                hits += usize::from(*p == y);
            }
        }
        Ok(if total == 0 { f64::NAN } else { hits as f64 / total as f64 })
    }
}

impl Metric for LinearProbe {
    fn compute(&self, o: &Outputs) -> f64 {
        self.accuracy(o).unwrap_or(f64::NAN)
    }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Metric> {
    let (params, canonical) = parse_params::<Params>(value)?;
    Ok((Arc::new(LinearProbe { params, cache: Mutex::new(None) }), canonical))
}

pub static LINEAR_PROBE: MetricInfo = MetricInfo {
    name: "linear_probe",
    family: Family::MetricLearning,
    higher_is_better: true,
    summary: "accuracy of a logistic-regression probe fit on the train split's embeddings, over all rows or one train-frequency bucket (many ≥ n_max/3, few ≤ n_max/10)",
    params: &[
        ParamDoc { name: "bucket", meaning: "rows scored: all, or the classes of one train-frequency bucket", range: "all | many | medium | few", default: "all" },
        ParamDoc { name: "steps", meaning: "full-batch Adam steps of the fit", range: "1–100000", default: "300" },
        ParamDoc { name: "l2", meaning: "weight decay of the probe", range: "0–10", default: "1e-4" },
    ],
    build,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{HostTarget, Reference};

    fn probe(bucket: Bucket) -> LinearProbe {
        LinearProbe { params: Params { bucket, ..Params::default() }, cache: Mutex::new(None) }
    }

    #[test]
    fn separable_classes_are_probed_perfectly_and_buckets_follow_train_counts() {
        // Three classes on three axes: 30, 9 and 2 train rows (many, medium, few).
        let class_row = |c: u32, i: usize| -> [f64; 3] {
            let mut r = [0.01 * (i % 5) as f64; 3];
            r[c as usize] = 1.0;
            r
        };
        let (mut train, mut ty) = (Vec::new(), Vec::new());
        for (c, n) in [(0u32, 30usize), (1, 9), (2, 2)] {
            for i in 0..n {
                train.extend(class_row(c, i));
                ty.push(c);
            }
        }
        let test: Vec<f64> = (0..3u32).flat_map(|c| class_row(c, 7)).collect();
        let y = [0u32, 1, 2];
        let o = Outputs { reference: Some(Reference { out: &train, classes: &ty }), ..Outputs::new(&test, 3, HostTarget::Classes(&y)) };
        for b in [Bucket::All, Bucket::Many, Bucket::Medium, Bucket::Few] {
            assert_eq!(probe(b).compute(&o), 1.0, "{b:?}");
        }
        // A test row of class 2 placed on class 0's axis: only the few-shot bucket drops.
        let wrong: Vec<f64> = [class_row(0, 1), class_row(1, 1), class_row(0, 2)].concat();
        let o = Outputs { out: &wrong, ..o };
        assert_eq!(probe(Bucket::Few).compute(&o), 0.0);
        assert_eq!(probe(Bucket::Many).compute(&o), 1.0);
        assert!((probe(Bucket::All).compute(&o) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(LinearProbe::buckets(&ty), vec![Some(Bucket::Many), Some(Bucket::Medium), Some(Bucket::Few)]);
    }

    #[test]
    fn the_fit_is_reused_for_the_same_train_data_only() {
        let train = [1.0, 0.0, 0.0, 1.0, 0.9, 0.1, 0.1, 0.9];
        let ty = [0u32, 1, 0, 1];
        let p = probe(Bucket::All);
        let a = p.weights(&train, &ty, 2).unwrap();
        assert_eq!(p.weights(&train, &ty, 2).unwrap().to_vec2::<f64>().unwrap(), a.to_vec2::<f64>().unwrap());
        let flipped = [0u32, 1, 1, 0];
        assert_ne!(p.weights(&train, &flipped, 2).unwrap().to_vec2::<f64>().unwrap(), a.to_vec2::<f64>().unwrap());
    }
}
