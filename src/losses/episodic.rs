//! Few-shot episode losses: the prototypical baseline (Snell, Swersky & Zemel 2017) and the
//! Proto-Triplet and ICNN losses of Mendez-Ruiz et al., *SuSana Distancia is all you need*
//! (S012).
//!
//! A batch is an episode: the rows of each class in batch order, the first `shots` of them its
//! support set and the rest its queries (the P×K sampler of the metric-learning family draws
//! P = way classes of K = shots + queries rows). Prototypes are the support means `c_k`, and the
//! losses use the **unnormalised** embeddings (`Prediction::embedding`), as the authors' code.
//! ```text
//! prototypical:  ℓ = mean_q −log softmax_k(−‖q − c_k‖²/T)_{y_q}
//! proto_triplet: ℓ = mean_q relu(d_q,y − min_{k≠y} d_q,k + m),  d = √(‖q − c‖² + 1e-6)
//! icnn:          ℓ = −log score(X),  score = (λ + γ)/2 from each point's nearest neighbours
//!                (see `modified_score`), over the support (`support`), the queries against the
//!                support or the prototypes (`query`), or both sets together (`full`)
//! ```
//! With `cross_entropy: true` (and for several ICNN terms) the loss is the mean of the chosen
//! terms, the prototypical cross-entropy counting as one, as the authors' `get_icnn_loss`
//! divides the sum by the number of entries in `--losses`. Every row of the episode gets the
//! episode's loss (it is a function of the whole episode). Evaluation's `loss` row cuts a split
//! into slices that are not episodes; there, classes without queries are left out.
//!
//! Reference: maumruiz/FSL-Loss @249405f `algorithms/icnn_loss.py` (`modified_score`,
//! `proto_triplet_loss`, `get_icnn_loss`), `models/protonet.py` and `util/metric.py` (squared
//! Euclidean logits, temperature 1) [code, read]. The authors' episode puts every support row
//! before every query; lossbench finds them by class instead, which gives the same sets. Their
//! k = 4 and margin 0.5 are fixed; `ipc` is k + 1 except for the full set (shot + query, here
//! the rows of the largest class, which is the same in a P×K batch). As in
//! their code the score has no clamp before the log (it is at least 0.25 whenever it is used)
//! and a query's first neighbour is dropped even when it is not the query itself.
//!
//! # Shapes
//! - embeddings `[n, D]`, labels `[n]` (each class with more than `shots` rows) → `[n]`

use super::pairs::embedding_inputs;
use super::{host_labels, Loss, LossInfo, Prop};
use crate::error::{Error, Result};
use crate::registry::{check_range, parse_params, ParamDoc, Validate};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const SHOTS: ParamDoc =
    ParamDoc { name: "shots", meaning: "support rows per class (the rest are queries)", range: "1–1000", default: "5" };
const TEMPERATURE: ParamDoc =
    ParamDoc { name: "temperature", meaning: "T of the prototypical logits −‖q − c‖²/T", range: "1e-3–1000", default: "1" };
const WITH_CE: ParamDoc = ParamDoc {
    name: "cross_entropy",
    meaning: "average the prototypical cross-entropy in as one more term",
    range: "true | false",
    default: "false",
};
const MARGIN: ParamDoc = ParamDoc { name: "margin", meaning: "m of the Proto-Triplet hinge", range: "0–10", default: "0.5" };

pub static PROTOTYPICAL: LossInfo = LossInfo {
    name: "prototypical",
    family: Family::MetricLearning,
    summary: "prototypical networks: cross-entropy of each query over negative squared distances to the support means",
    formula: "ℓ = mean_q −log softmax_k(−‖q − c_k‖²/T)_y,  c_k = mean of class k's support rows",
    reference: "Snell, Swersky & Zemel, Prototypical Networks for Few-shot Learning, NeurIPS 2017; as in maumruiz/FSL-Loss models/protonet.py [code]",
    params: &[SHOTS, TEMPERATURE],
    props: &[Prop::NonNegative, Prop::Episode],
    build: build_prototypical,
};

pub static PROTO_TRIPLET: LossInfo = LossInfo {
    name: "proto_triplet",
    family: Family::MetricLearning,
    summary: "Proto-Triplet: each query closer to its class prototype than to the nearest other one by a margin (S012)",
    formula: "ℓ = mean_q relu(d(q, c_y) − min_{k≠y} d(q, c_k) + m),  d = √(‖·‖² + 1e-6)",
    reference:
        "Mendez-Ruiz et al., SuSana Distancia is all you need (S012); maumruiz/FSL-Loss algorithms/icnn_loss.py proto_triplet_loss [code]",
    params: &[SHOTS, MARGIN, WITH_CE, TEMPERATURE],
    props: &[Prop::NonNegative, Prop::Piecewise, Prop::Episode],
    build: build_proto_triplet,
};

pub static ICNN: LossInfo = LossInfo {
    name: "icnn",
    family: Family::MetricLearning,
    summary: "ICNN: −log of a neighbourhood score rewarding same-class and penalising other-class nearest neighbours (S012)",
    formula: "ℓ = −log((λ + γ)/2),  λ = (λ_same + λ_diff)/2 from normalised neighbour distances, γ = share of same-class among the k nearest",
    reference: "Mendez-Ruiz et al., SuSana Distancia is all you need (S012); maumruiz/FSL-Loss algorithms/icnn_loss.py modified_score, get_icnn_loss [code]",
    params: &[
        SHOTS,
        ParamDoc { name: "terms", meaning: "score sets: support, query, full (support ∪ queries), proto_triplet", range: "non-empty list", default: "[full]" },
        ParamDoc { name: "k", meaning: "neighbours scored (clipped to the set's size − 2)", range: "1–100", default: "4" },
        ParamDoc { name: "query_protos", meaning: "the `query` term scores queries against prototypes instead of the support", range: "true | false", default: "false" },
        MARGIN,
        WITH_CE,
        TEMPERATURE,
    ],
    props: &[Prop::Piecewise, Prop::Episode],
    build: build_icnn,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Term {
    Support,
    Query,
    Full,
    ProtoTriplet,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub shots: usize,
    pub temperature: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub margin: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cross_entropy: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Vec<Term>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_protos: Option<bool>,
}

impl Default for Params {
    fn default() -> Self {
        Params { shots: 5, temperature: 1.0, margin: None, cross_entropy: None, terms: None, k: None, query_protos: None }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("shots", self.shots as f64, 1.0, 1000.0)?;
        check_range("temperature", self.temperature, 1e-3, 1000.0)?;
        if let Some(m) = self.margin {
            check_range("margin", m, 0.0, 10.0)?;
        }
        if let Some(k) = self.k {
            check_range("k", k as f64, 1.0, 100.0)?;
        }
        if self.terms.as_ref().is_some_and(Vec::is_empty) {
            return Err(Error::input("parameter `terms` must name at least one of: support, query, full, proto_triplet"));
        }
        Ok(())
    }
}

/// Parse `value` and fill in the defaults of `loss` (the fields the loss has).
fn parse(value: &serde_json::Value, loss: &str) -> Result<(Params, serde_json::Value)> {
    let (mut p, _) = parse_params::<Params>(value)?;
    let foreign = |name: &str, set: bool| -> Result<()> {
        if set {
            return Err(Error::input(format!("loss `{loss}` has no parameter `{name}`")));
        }
        Ok(())
    };
    if loss == "prototypical" {
        foreign("margin", p.margin.is_some())?;
        foreign("cross_entropy", p.cross_entropy.is_some())?;
    } else {
        p.margin.get_or_insert(0.5);
        p.cross_entropy.get_or_insert(false);
    }
    if loss == "icnn" {
        p.terms.get_or_insert_with(|| vec![Term::Full]);
        p.k.get_or_insert(4);
        p.query_protos.get_or_insert(false);
    } else {
        foreign("terms", p.terms.is_some())?;
        foreign("k", p.k.is_some())?;
        foreign("query_protos", p.query_protos.is_some())?;
    }
    let canonical = serde_json::to_value(&p).map_err(|e| Error::runtime(e.to_string()))?;
    Ok((p, canonical))
}

pub struct Episodic {
    name: &'static str,
    params: Params,
}

fn build_named(value: &serde_json::Value, name: &'static str) -> crate::registry::Built<dyn Loss> {
    let (params, canonical) = parse(value, name)?;
    Ok((Arc::new(Episodic { name, params }), canonical))
}
fn build_prototypical(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    build_named(value, "prototypical")
}
fn build_proto_triplet(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    build_named(value, "proto_triplet")
}
fn build_icnn(value: &serde_json::Value) -> crate::registry::Built<dyn Loss> {
    build_named(value, "icnn")
}

/// An episode: support rows class by class (`way` classes × `shot`), queries with their
/// class index (classes numbered in increasing id order).
struct Episode {
    support: Tensor,
    query: Tensor,
    query_y: Vec<usize>,
    way: usize,
    shot: usize,
    /// Rows of the largest class (support and queries).
    rows_per_class: usize,
}

/// The episode of a batch, or with `lenient` (evaluation) of its classes that have queries,
/// with the rows it uses; `None` when leniency leaves fewer than two classes.
fn episode(e: &Tensor, labels: &[u32], shot: usize, loss: &str, lenient: bool) -> Result<Option<(Episode, Vec<usize>)>> {
    let mut rows = crate::data::rows_by_class(labels);
    if lenient {
        rows.retain(|r| r.len() > shot);
        if rows.len() < 2 {
            return Ok(None);
        }
    } else if rows.len() < 2 {
        return Err(Error::input(format!("{loss}: an episode needs at least 2 classes; the batch has {}", rows.len())));
    } else if let Some(r) = rows.iter().find(|r| r.len() <= shot) {
        return Err(Error::input(format!(
            "{loss}: class {} has {} rows in the batch, not more than shots = {shot} (support) — give the task's per_class above shots",
            labels[r[0]],
            r.len()
        )));
    }
    let support: Vec<u32> = rows.iter().flat_map(|r| r[..shot].iter().map(|&i| i as u32)).collect();
    let (query, query_y): (Vec<u32>, Vec<usize>) =
        rows.iter().enumerate().flat_map(|(k, r)| r[shot..].iter().map(move |&i| (i as u32, k))).unzip();
    let rows_per_class = rows.iter().map(Vec::len).max().unwrap_or(0);
    let pick = |idx: Vec<u32>| -> Result<Tensor> { Ok(e.index_select(&Tensor::from_vec(idx.clone(), idx.len(), e.device())?, 0)?) };
    let used = rows.concat();
    Ok(Some((Episode { support: pick(support)?, query: pick(query)?, query_y, way: rows.len(), shot, rows_per_class }, used)))
}

/// Squared Euclidean distances `[n, m]` by explicit differences (as the authors' code).
fn sq_distances(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    Ok(a.unsqueeze(1)?.broadcast_sub(&b.unsqueeze(0)?)?.sqr()?.sum(D::Minus1)?)
}

fn host(t: &Tensor) -> Result<Vec<f64>> {
    Ok(t.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?)
}

fn column(values: Vec<f64>, rows: usize, cols: usize, like: &Tensor) -> Result<Tensor> {
    Ok(Tensor::from_vec(values, (rows, cols), like.device())?.to_dtype(like.dtype())?)
}

fn scalar(t: &Tensor) -> Result<f64> {
    Ok(t.to_dtype(DType::F64)?.to_scalar::<f64>()?)
}

impl Episode {
    /// The support means `[way, D]`, class by class. Each term builds its own (sharing one
    /// node would change the order in which their gradients add up, and so the results).
    fn prototypes(&self) -> Result<Tensor> {
        let d = self.support.dim(1)?;
        Ok(self.support.reshape((self.way, self.shot, d))?.mean(1)?)
    }

    fn query_labels(&self) -> Result<Tensor> {
        let y: Vec<u32> = self.query_y.iter().map(|&k| k as u32).collect();
        Ok(Tensor::from_vec(y, self.query_y.len(), self.query.device())?)
    }

    fn cross_entropy(&self, temperature: f64) -> Result<Tensor> {
        let logits = (sq_distances(&self.query, &self.prototypes()?)? / -temperature)?;
        Ok(super::log_p_y(&super::log_softmax(&logits)?, &self.query_labels()?)?.neg()?.mean_all()?)
    }

    fn proto_triplet(&self, margin: f64) -> Result<Tensor> {
        let d = (sq_distances(&self.query, &self.prototypes()?)? + 1e-6)?.sqrt()?;
        let own = super::one_hot(&self.query_labels()?, self.way, d.dtype())?;
        let positive = (&d * &own)?.sum(1)?;
        // Other prototypes: the own one pushed beyond every distance.
        let negative = (&d + (&own * (scalar(&d.max_all()?)? + 1.0))?)?.min(1)?;
        Ok(((positive - negative)? + margin)?.relu()?.mean_all()?)
    }

    fn support_labels(&self) -> Vec<usize> {
        (0..self.way).flat_map(|k| std::iter::repeat_n(k, self.shot)).collect()
    }
}

/// The authors' `modified_score(origin, y_orig, target, y_targ, k, ipc)`.
fn modified_score(origin: &Tensor, y_o: &[usize], target: &Tensor, y_t: &[usize], k: usize, ipc: Option<usize>) -> Result<Tensor> {
    let (n, m) = (y_o.len(), y_t.len());
    let k = if k + 2 >= m { m.saturating_sub(2).max(1) } else { k };
    let ipc = ipc.unwrap_or(k + 1).min(m.saturating_sub(1)).max(k);
    let dist = (sq_distances(origin, target)? + 1e-6)?.sqrt()?;
    let values = host(&dist)?;
    // The ipc + 1 nearest targets of each origin row, the first dropped.
    let mut idx = Vec::with_capacity(n * ipc);
    for row in values.chunks(m) {
        let mut order: Vec<usize> = (0..m).collect();
        order.sort_by(|&a, &b| row[a].total_cmp(&row[b]).then(a.cmp(&b)));
        idx.extend(order[1..=ipc].iter().map(|&j| j as u32));
    }
    let near = dist.gather(&Tensor::from_vec(idx.clone(), (n, ipc), dist.device())?, 1)?; // [n, ipc]
    let same: Vec<f64> = idx.iter().enumerate().map(|(p, &j)| f64::from(u8::from(y_t[j as usize] == y_o[p / ipc]))).collect();
    let near_host = host(&near)?;
    // Nearest other-class neighbour (among the ipc) of each row, if any.
    let mut nearest_dc = vec![0u32; n];
    let mut has_dc = vec![0f64; n];
    for i in 0..n {
        let best =
            (0..ipc).filter(|&j| same[i * ipc + j] == 0.0).min_by(|&a, &b| near_host[i * ipc + a].total_cmp(&near_host[i * ipc + b]));
        if let Some(j) = best {
            (nearest_dc[i], has_dc[i]) = (j as u32, 1.0);
        }
    }
    let has = column(has_dc.clone(), n, 1, &near)?;
    let nn_dc = near.gather(&Tensor::from_vec(nearest_dc, (n, 1), near.device())?, 1)?;
    let factor = (&has / (((nn_dc * &has)? + (1.0 - &has)?)? + 1e-7)?)?;
    let nd = near.narrow(1, 0, k)?.broadcast_mul(&factor)?;
    let nd = nd.broadcast_div(&nd.max_keepdim(1)?.clamp(1.0, f64::INFINITY)?)?;
    let first_k = |v: &[f64]| -> Vec<f64> { v.chunks(ipc).flat_map(|r| r[..k].to_vec()).collect() };
    let sc = first_k(&same);
    let dc: Vec<f64> = sc.iter().map(|s| 1.0 - s).collect();
    let lambda = |mask: &[f64], weighted: Tensor| -> Result<(Tensor, f64)> {
        let counts: Vec<f64> = mask.chunks(k).map(|r| r.iter().sum()).collect();
        let nonzero = counts.iter().filter(|c| **c > 0.0).count() as f64;
        let per = weighted.sum(1)?.broadcast_div(&(column(counts, n, 1, &near)?.squeeze(1)? + 1e-7)?)?;
        Ok(((per.sum_all()? / (nonzero + 1e-7))?, mask.iter().sum()))
    };
    let (same_mean, _) = lambda(&sc, (&nd * column(sc.clone(), n, k, &near)?)?)?;
    let lambda_sc = (1.0 - same_mean)?;
    let dcnd = (near.narrow(1, 0, k)? * column(dc.clone(), n, k, &near)?)?;
    // The largest entry, picked on host: d(i, j) and d(j, i) tie exactly, and a reduction's
    // gradient would reach both (torch splits it between them; one entry gets the same total).
    let flat = host(&dcnd)?;
    let top = (0..flat.len()).fold(0, |b, i| if flat[i] > flat[b] { i } else { b });
    let largest = dcnd.flatten_all()?.narrow(0, top, 1)?;
    let dcnd = dcnd.broadcast_div(&(largest + 1e-7)?.reshape((1, 1))?)?;
    let (diff_mean, dc_total) = lambda(&dc, dcnd)?;
    let offset = if dc_total == 0.0 { -1.0 } else { 0.0 };
    let lambda_dc = (diff_mean + offset)?.abs()?;
    let lambda_r = ((lambda_sc + lambda_dc)? / 2.0)?;
    let gamma = if k + 2 < m { sc.iter().sum::<f64>() / k as f64 / n as f64 } else { 1.0 };
    Ok(((lambda_r + gamma)? / 2.0)?)
}

impl Episodic {
    fn terms(&self, ep: &Episode) -> Result<Vec<Tensor>> {
        let p = &self.params;
        let mut out = Vec::new();
        if self.name == "prototypical" || p.cross_entropy == Some(true) {
            out.push(ep.cross_entropy(p.temperature)?);
        }
        if self.name == "proto_triplet" {
            out.push(ep.proto_triplet(p.margin.unwrap_or(0.5))?);
        }
        let k = p.k.unwrap_or(4);
        let ys = ep.support_labels();
        for term in p.terms.iter().flatten() {
            let score = match term {
                Term::Support => modified_score(&ep.support, &ys, &ep.support, &ys, k, None)?,
                Term::Query if p.query_protos == Some(true) => {
                    modified_score(&ep.query, &ep.query_y, &ep.prototypes()?, &(0..ep.way).collect::<Vec<_>>(), k, None)?
                }
                Term::Query => modified_score(&ep.query, &ep.query_y, &ep.support, &ys, k, None)?,
                Term::Full => {
                    let all = Tensor::cat(&[&ep.support, &ep.query], 0)?;
                    let y: Vec<usize> = ys.iter().chain(&ep.query_y).copied().collect();
                    modified_score(&all, &y, &all, &y, k, Some(ep.rows_per_class))?
                }
                Term::ProtoTriplet => {
                    out.push(ep.proto_triplet(p.margin.unwrap_or(0.5))?);
                    continue;
                }
            };
            out.push(score.log()?.neg()?);
        }
        Ok(out)
    }
}

impl Episodic {
    /// The episode's loss on every row it uses (scaled so that the batch mean is the loss), 0
    /// on the others; `lenient` leaves out classes without queries instead of failing.
    fn per_row(&self, pred: &Prediction, target: &Target, lenient: bool) -> Result<Tensor> {
        let (_, y) = embedding_inputs(pred, target, self.name)?;
        let n = y.dim(0)?;
        let raw = pred.embedding.as_ref().unwrap_or(&pred.out);
        let Some((ep, used)) = episode(raw, &host_labels(y)?, self.params.shots, self.name, lenient)? else {
            return Ok(Tensor::zeros(n, raw.dtype(), raw.device())?);
        };
        let terms = self.terms(&ep)?;
        let mut total = terms[0].clone();
        for t in &terms[1..] {
            total = (total + t)?;
        }
        let mean = (total / terms.len() as f64)?;
        if used.len() == n {
            return Ok(mean.broadcast_as(n)?.contiguous()?);
        }
        let mut weight = vec![0f64; n];
        used.iter().for_each(|&i| weight[i] = n as f64 / used.len() as f64);
        let weight = Tensor::from_vec(weight, n, raw.device())?.to_dtype(raw.dtype())?;
        Ok(weight.broadcast_mul(&mean)?)
    }
}

impl Loss for Episodic {
    fn misfit(&self, task: &str, kind: &crate::task::TaskKind) -> Option<String> {
        let shots = self.params.shots;
        match *kind {
            crate::task::TaskKind::MetricLearning { per_class, .. } if per_class <= shots => Some(format!(
                "loss `{}` takes the first shots = {shots} rows of each class in a batch as support and needs queries besides, but task `{task}` draws per_class = {per_class} rows of each class; give its dataset a per_class above {shots}",
                self.name
            )),
            _ => None,
        }
    }

    fn forward(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.per_row(pred, target, false)
    }

    /// Evaluation's `loss` row: slices of a split are not episodes, so classes without
    /// queries are left out (a slice with fewer than two usable classes counts 0).
    fn monitor(&self, pred: &Prediction, target: &Target) -> Result<Tensor> {
        self.per_row(pred, target, true)
    }
}
