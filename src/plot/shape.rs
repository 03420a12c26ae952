//! `lossbench plot-shape NAME`: a loss and its derivative against the margin (classification:
//! logits `[m, 0]`, label 0), the residual (regression: target 0, prediction `−r`) or the logit
//! of a positive label (multi-label), one curve per parameter value — computed by the loss's
//! implementation through `losses eval`, not drawn by hand.

use super::{file_name, render, ImageFormat, Series};
use crate::error::{Error, Result};
use crate::losses::eval::evaluate;
use crate::losses::{lookup_loss, Prop};
use crate::task::Family;
use candle_core::DType;
use std::path::{Path, PathBuf};

/// Points on the x axis.
pub const POINTS: usize = 201;

/// Split `--set` pairs into fixed parameters and at most one swept key (`key=a,b,c`).
/// A swept parameter: its key and values.
pub type Sweep = Option<(String, Vec<serde_json::Value>)>;

pub fn sweep_from_sets(sets: &[String]) -> Result<(serde_json::Value, Sweep)> {
    let mut fixed = serde_json::Map::new();
    let mut swept: Sweep = None;
    for s in sets {
        let (k, v) = s.split_once('=').ok_or_else(|| Error::input(format!("--set `{s}`: expected KEY=VALUE or KEY=V1,V2,…")))?;
        let parse = |v: &str| serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
        let whole: serde_json::Value = parse(v);
        if v.contains(',') && !whole.is_array() {
            if let Some((other, _)) = &swept {
                return Err(Error::input(format!("only one parameter can be swept; `{other}` and `{k}` both list values")));
            }
            swept = Some((k.trim().to_string(), v.split(',').map(|x| parse(x.trim())).collect()));
        } else {
            fixed.insert(k.trim().to_string(), whole);
        }
    }
    Ok((serde_json::Value::Object(fixed), swept))
}

/// The curves (loss, derivative) of loss `name` for each parameter setting.
pub fn shape_series(name: &str, sets: &[String]) -> Result<(String, Vec<Series>, Vec<Series>)> {
    let info = lookup_loss(name)?;
    for prop in [Prop::NeedsModel, Prop::NeedsEmbeddings] {
        if info.props.contains(&prop) {
            return Err(Error::input(format!("loss `{name}` needs a model or embeddings, so it has no shape against a single input")));
        }
    }
    let (fixed, swept) = sweep_from_sets(sets)?;
    let settings: Vec<(String, serde_json::Value)> = match &swept {
        Some((key, values)) => values
            .iter()
            .map(|v| {
                let mut p = fixed.clone();
                p[key.as_str()] = v.clone();
                (format!("{key}={v}"), p)
            })
            .collect(),
        None => vec![(String::new(), fixed.clone())],
    };
    let (lo, hi, x_label) = match info.family {
        Family::Classification => (-6.0, 6.0, "margin z_y − z_other (2 classes)"),
        Family::Regression => (-3.0, 3.0, "residual t − ŷ"),
        Family::MultiLabel => (-6.0, 6.0, "logit of a positive label"),
        Family::Ranking => (-6.0, 6.0, "margin s_relevant − s_other (a list of 2 items)"),
        Family::MetricLearning => return Err(coupled(name)),
    };
    let xs: Vec<f64> = (0..POINTS).map(|i| lo + (hi - lo) * i as f64 / (POINTS - 1) as f64).collect();
    let n = xs.len() as f64;
    let inputs = match info.family {
        Family::Classification => {
            serde_json::json!({"logits": xs.iter().map(|x| [*x, 0.0]).collect::<Vec<_>>(), "labels": vec![0; xs.len()]})
        }
        Family::Regression => serde_json::json!({"pred": xs.iter().map(|x| -x).collect::<Vec<_>>(), "target": vec![0.0; xs.len()]}),
        Family::MultiLabel => serde_json::json!({"logits": xs.iter().map(|x| [*x]).collect::<Vec<_>>(), "targets": vec![[1.0]; xs.len()]}),
        Family::Ranking => {
            serde_json::json!({"scores": xs.iter().map(|x| [*x, 0.0]).collect::<Vec<_>>(), "relevance": vec![[1.0, 0.0]; xs.len()]})
        }
        Family::MetricLearning => return Err(coupled(name)),
    };
    let (mut losses, mut derivs) = (Vec::new(), Vec::new());
    for (label, params) in settings {
        let out = evaluate(name, &params, &inputs, DType::F64)?;
        let grads = out.grads.values().next().and_then(|g| g.as_array()).cloned().unwrap_or_default();
        // Gradients are of the batch mean: ×N gives each example's own derivative.
        let d: Vec<f64> = grads
            .iter()
            .map(|g| {
                let v = if g.is_array() { g[0].as_f64().unwrap_or(f64::NAN) } else { g.as_f64().unwrap_or(f64::NAN) };
                match info.family {
                    Family::Regression => -v * n,
                    _ => v * n,
                }
            })
            .collect();
        losses.push(Series { label: label.clone(), x: xs.clone(), y: out.per_example, band: None });
        derivs.push(Series { label, x: xs.clone(), y: d, band: None });
    }
    Ok((x_label.to_string(), losses, derivs))
}

/// Why a metric-learning loss has no shape of one example.
fn coupled(name: &str) -> Error {
    Error::input(format!(
        "`plot shape` draws a loss against one example's output; metric-learning loss `{name}` is a function of the distances within a batch"
    ))
}

/// Draw the loss and its derivative side by side into `out/shape-NAME.EXT`.
pub fn plot_shape(name: &str, sets: &[String], out: &Path, format: ImageFormat) -> Result<PathBuf> {
    let (x_label, losses, derivs) = shape_series(name, sets)?;
    let path = file_name(out, &format!("shape-{name}"), format);
    let title_l = format!("{name}: loss");
    let title_r = format!("{name}: derivative");
    let d_label = format!("d loss / d {}", x_label.split(' ').next().unwrap_or("x"));
    render(
        &path,
        (1400, 560),
        format,
        &|root| {
            let (l, r) = root.split_horizontally(700);
            super::draw_lines(&l, &title_l, &x_label, "loss", &losses)?;
            super::draw_lines(&r, &title_r, &x_label, &d_label, &derivs)
        },
        &|root| {
            let (l, r) = root.split_horizontally(700);
            super::draw_lines(&l, &title_l, &x_label, "loss", &losses)?;
            super::draw_lines(&r, &title_r, &x_label, &d_label, &derivs)
        },
    )?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cross-entropy against the margin is softplus(−m) with derivative −σ(−m); focal with a
    /// γ sweep gives one curve per γ.
    #[test]
    fn cross_entropy_shape_is_softplus() {
        let (_, losses, derivs) = shape_series("cross_entropy", &[]).unwrap();
        for ((x, l), d) in losses[0].x.iter().zip(&losses[0].y).zip(&derivs[0].y) {
            let sp = (1.0 + (-x).exp()).ln();
            assert!((l - sp).abs() < 1e-10, "{x}: {l} vs {sp}");
            assert!((d + 1.0 / (1.0 + x.exp())).abs() < 1e-10);
        }
        let (_, losses, _) = shape_series("focal", &["gamma=0,1,2".into()]).unwrap();
        assert_eq!(losses.iter().map(|s| s.label.as_str()).collect::<Vec<_>>(), ["gamma=0", "gamma=1", "gamma=2"]);
        assert!(sweep_from_sets(&["a=1,2".into(), "b=3,4".into()]).is_err());
    }
}
