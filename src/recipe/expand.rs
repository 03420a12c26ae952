//! A recipe's grids ([`super::grid`]) expanded entry by entry. Whether a list is an axis is
//! asked of the entry's own registry entry, so the parse that decides is the one resolution
//! does. Each expansion notes its axes for `lossbench check`.

use super::grid::{self, Parts, Point};
use super::{components_from_json, split_transform_keys, Component, RawTask, TrainSettings};
use crate::data::transforms::Transforms;
use crate::data::DATASETS;
use crate::error::{Error, Result};
use crate::losses::LOSSES;
use crate::metrics::METRICS;
use crate::models::MODELS;
use crate::optim::OPTIMIZERS;
use crate::registry::lookup;
use crate::regularizers::REGULARIZERS;
use serde_json::Value;
use std::path::Path;

/// The points of the entry at `place`, and a note of its axes when it has any.
fn points(place: &str, params: &Value, skip: &[&str], accepts: &dyn Fn(&Value) -> bool, notes: &mut Vec<String>) -> Result<Vec<Point>> {
    let axes = grid::axes(params, skip, accepts);
    if axes.is_empty() {
        return Ok(vec![Point { params: params.clone(), parts: Vec::new() }]);
    }
    let n = grid::count(params, &axes);
    let shown: Vec<String> = axes.iter().map(|a| format!("{} ({})", a.join("."), grid::count(params, std::slice::from_ref(a)))).collect();
    if n > grid::MAX_POINTS as f64 {
        return Err(Error::input(format!(
            "{place}: its grid {} makes {n} entries; one entry may make at most {}",
            shown.join(" × "),
            grid::MAX_POINTS
        )));
    }
    notes.push(format!("{place}: {} → {n} entries", shown.join(" × ")));
    Ok(grid::expand(params, &axes))
}

fn prefixed(parts: &[(String, String)], prefix: &str) -> Parts {
    parts.iter().map(|(k, v)| (format!("{prefix}{k}"), v.clone())).collect()
}

/// A component as it is written inside another's parameters.
fn to_json(c: &Component) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("name".into(), c.name.clone().into());
    if let Some(l) = &c.label {
        map.insert("label".into(), l.clone().into());
    }
    if let Some(params) = c.params.as_object() {
        map.extend(params.clone());
    }
    Value::Object(map)
}

/// Every entry of a list of one registry's components, grid entries expanded in place.
fn simple<T: crate::registry::Named + ?Sized>(
    section: &str,
    registry: &[&'static T],
    build: impl Fn(&T, &Value) -> bool,
    items: &[Component],
    notes: &mut Vec<String>,
) -> Result<Vec<Component>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        let Ok(info) = lookup("", "", registry, &c.name) else {
            out.push(Component { origin: Some(i), ..c.clone() });
            continue;
        };
        for p in points(&format!("{section}[{i}] ({})", c.name), &c.params, &[], &|v| build(info, v), notes)? {
            out.push(Component { params: p.params, grid: [c.grid.clone(), p.parts].concat(), origin: Some(i), ..c.clone() });
        }
    }
    Ok(out)
}

pub fn optimizers(items: &[Component], notes: &mut Vec<String>) -> Result<Vec<Component>> {
    simple("optimizers", OPTIMIZERS, |info, v| (info.build)(v).is_ok(), items, notes)
}

pub fn metrics(section: &str, items: &[Component], notes: &mut Vec<String>) -> Result<Vec<Component>> {
    simple(section, METRICS, |info, v| (info.build)(v).is_ok(), items, notes)
}

/// The combinations of a list of regularizers' points: each the list with one point of every
/// grid entry, and the parts naming them (`flooding.b=0.1`). A list without grids gives itself.
pub fn regularizers(section: &str, items: &[Component], notes: &mut Vec<String>) -> Result<Vec<(Vec<Component>, Parts)>> {
    let mut each = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        let Ok(info) = lookup("", "", REGULARIZERS, &c.name) else {
            each.push(vec![(c.clone(), Vec::new())]);
            continue;
        };
        let pts = points(&format!("{section}[{i}] ({})", c.name), &c.params, &[], &|v| (info.build)(v).is_ok(), notes)?;
        let prefix = format!("{}.", c.label.as_deref().unwrap_or(&c.name));
        each.push(pts.into_iter().map(|p| (Component { params: p.params, ..c.clone() }, prefixed(&p.parts, &prefix))).collect());
    }
    let combos = grid::product(&each).into_iter().map(|combo| {
        let (items, parts): (Vec<Component>, Vec<Parts>) = combo.into_iter().unzip();
        (items, parts.concat())
    });
    Ok(combos.collect())
}

/// The loss entries, each grid entry (its own parameters and its regularizers') expanded.
pub fn losses(items: &[Component], notes: &mut Vec<String>) -> Result<Vec<Component>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, c) in items.iter().enumerate() {
        let Ok(info) = lookup("", "", LOSSES, &c.name) else {
            out.push(Component { origin: Some(i), ..c.clone() });
            continue;
        };
        let place = format!("losses[{i}] ({})", c.name);
        let accepts = |v: &Value| {
            let mut own = v.clone();
            own.as_object_mut().map(|m| m.remove("regularizers"));
            (info.build)(&own).is_ok()
        };
        let own = points(&place, &c.params, &["regularizers"], &accepts, notes)?;
        let regs = match c.params.get("regularizers").map(components_from_json) {
            Some(Ok(items)) => regularizers(&format!("{place}.regularizers"), &items, notes)?,
            _ => vec![(Vec::new(), Vec::new())],
        };
        for p in &own {
            for (combo, parts) in &regs {
                let mut params = p.params.clone();
                if !parts.is_empty() {
                    params["regularizers"] = Value::Array(combo.iter().map(to_json).collect());
                }
                out.push(Component { params, grid: [p.parts.clone(), parts.clone()].concat(), origin: Some(i), ..c.clone() });
            }
        }
    }
    Ok(out)
}

/// Task `t` (at `place`) expanded over its dataset's, model's and regularizers' grids; each
/// point's name is the task's with its parts (`digits-label_noise.rate=0.2-model.dropout=0.1`).
pub fn task(place: &str, t: &RawTask, base: &Path, notes: &mut Vec<String>) -> Result<Vec<RawTask>> {
    let data = match lookup("", "", DATASETS, &t.dataset.name) {
        Ok(info) => {
            let accepts = |v: &Value| {
                let (own, keys) = split_transform_keys(v);
                let Ok((source, _)) = (info.build)(&own, base) else { return false };
                serde_json::from_value::<Transforms>(keys).is_ok_and(|tr| tr.validate(source.kind()).is_ok())
            };
            points(&format!("{place}.dataset ({})", t.dataset.name), &t.dataset.params, &[], &accepts, notes)?
        }
        Err(_) => vec![Point { params: t.dataset.params.clone(), parts: Vec::new() }],
    };
    let model = match &t.model {
        Some(m) => match lookup("", "", MODELS, &m.name) {
            Ok(info) => points(&format!("{place}.model ({})", m.name), &m.params, &[], &|v| (info.build)(v).is_ok(), notes)?
                .into_iter()
                .map(|p| (Some(Component { params: p.params, ..m.clone() }), prefixed(&p.parts, "model.")))
                .collect(),
            Err(_) => vec![(t.model.clone(), Vec::new())],
        },
        None => vec![(None, Vec::new())],
    };
    let regs = match &t.regularizers {
        Some(items) => regularizers(&format!("{place}.regularizers"), items, notes)?.into_iter().map(|(c, p)| (Some(c), p)).collect(),
        None => vec![(None, Vec::new())],
    };
    let mut out = Vec::new();
    for d in &data {
        for (m, m_parts) in &model {
            for (r, r_parts) in &regs {
                let parts = [d.parts.clone(), m_parts.clone(), r_parts.clone()].concat();
                out.push(RawTask {
                    name: with_parts(&t.name, &parts),
                    dataset: Component { params: d.params.clone(), ..t.dataset.clone() },
                    model: m.clone(),
                    metrics: t.metrics.clone(),
                    regularizers: r.clone(),
                    origin: t.origin,
                });
            }
        }
    }
    Ok(out)
}

/// `name-part-part`, or `name` for no parts; a value's characters that cannot be in a folder
/// name become `_` (`path=data_a.csv`).
pub fn with_parts(name: &str, parts: &[(String, String)]) -> String {
    if parts.is_empty() {
        name.to_string()
    } else {
        format!("{name}-{}", super::safe_label(&grid::label_parts(parts)))
    }
}

/// The `train:` section's points (JSON; one, with no parts, when it has no grid).
pub fn train(section: &Value, notes: &mut Vec<String>) -> Result<Vec<Point>> {
    let accepts = |v: &Value| serde_json::from_value::<TrainSettings>(v.clone()).is_ok_and(|t| t.validate().is_ok());
    points("train", section, &[], &accepts, notes)
}
