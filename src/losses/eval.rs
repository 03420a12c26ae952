//! `lossbench losses eval`: one loss on given tensors, with gradients — the way to check
//! lossbench's numbers against PyTorch/JAX from outside, and the code path of the fixture tests.
//!
//! Input names are fixed per family and read by the family's plug-in (`families::*`):
//! classification takes `logits` `[N, C]` and `labels` `[N]` (integers); regression takes
//! `pred` and `target` of the same shape, `[N]` or `[N, D]`; multi-label takes `logits` and
//! `targets` `[N, K]` and, optionally, `embeddings` `[N, D]`.
//! Output: the mean loss, the per-example losses and the gradient of the mean with respect to
//! each float input.

use super::{lookup_loss, LossInfo};
use crate::error::{Error, Result};
use crate::families::EvalInputs;
use candle_core::DType;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct EvalOutput {
    pub loss: f64,
    pub per_example: Vec<f64>,
    pub grads: BTreeMap<String, serde_json::Value>,
}

fn nested(values: &[f64], shape: &[usize]) -> serde_json::Value {
    match shape {
        [_, w] => serde_json::Value::Array(values.chunks(*w).map(|r| serde_json::json!(r)).collect()),
        _ => serde_json::json!(values),
    }
}

/// Evaluate loss `name` with `params` on `inputs` (a JSON object), in `dtype`: the loss's
/// family reads its named inputs, exactly as it assembles them from a model in training.
pub fn evaluate(name: &str, params: &serde_json::Value, inputs: &serde_json::Value, dtype: DType) -> Result<EvalOutput> {
    let info: &LossInfo = lookup_loss(name)?;
    let (loss, _) = (info.build)(params).map_err(|e| e.at(format!("loss `{name}`")))?;
    let obj = inputs.as_object().ok_or_else(|| Error::input("inputs must be a JSON object mapping input names to arrays"))?;
    let inputs = crate::families::of(info.family).eval_inputs(name, obj, dtype)?;
    finish(loss.as_ref(), &inputs)
}

/// The mean loss, the per-example losses and the gradient of the mean w.r.t. each float input.
fn finish(loss: &dyn super::Loss, inputs: &EvalInputs) -> Result<EvalOutput> {
    let per = loss.forward(&inputs.pred, &inputs.target)?;
    let mean = per.mean_all()?;
    let grads = mean.backward()?;
    let mut out = BTreeMap::new();
    for (name, var, shape) in &inputs.grads_of {
        let g = match grads.get(var.as_tensor()) {
            Some(g) => g.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?,
            None => vec![0.0; shape.iter().product()],
        };
        out.insert(name.to_string(), nested(&g, shape));
    }
    Ok(EvalOutput {
        loss: mean.to_dtype(DType::F64)?.to_scalar::<f64>()?,
        per_example: per.to_dtype(DType::F64)?.to_vec1::<f64>()?,
        grads: out,
    })
}

/// Parse `--set KEY=VALUE` pairs into a params object; values are JSON when they parse as JSON
/// (numbers, booleans, lists), else strings.
pub fn params_from_sets(sets: &[String]) -> Result<serde_json::Value> {
    let mut map = serde_json::Map::new();
    for s in sets {
        let (k, v) = s.split_once('=').ok_or_else(|| Error::input(format!("--set `{s}`: expected KEY=VALUE")))?;
        let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
        map.insert(k.trim().to_string(), value);
    }
    Ok(serde_json::Value::Object(map))
}

/// `lossbench losses eval`: evaluate loss `name` with `--set` parameters on the tensors of the
/// JSON file `inputs`, and print the result as JSON.
pub fn command(name: &str, inputs: &std::path::Path, sets: &[String], dtype: DType) -> Result<()> {
    let text = crate::files::read_text(inputs, crate::files::MAX_JSON_BYTES)
        .map_err(|e| Error::input(format!("cannot read {}: {e}", inputs.display())))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::input(format!("{}:{}:{}: invalid JSON: {e}", inputs.display(), e.line(), e.column())))?;
    let params = params_from_sets(sets)?;
    let out = evaluate(name, &params, &json, dtype).map_err(|e| e.at(inputs.display()))?;
    println!("{}", serde_json::to_string(&out).map_err(|e| Error::runtime(e.to_string()))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_inputs_list_what_the_loss_expects() {
        let e = evaluate("focal", &serde_json::json!({}), &serde_json::json!({"pred": [1.0]}), DType::F32).err().unwrap().to_string();
        assert!(e.contains("takes inputs logits, labels"), "{e}");
        let e = evaluate("focal", &serde_json::json!({}), &serde_json::json!({"logits": [[1.0, 2.0]], "labels": [2]}), DType::F32)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("0..2"), "{e}");
        let e = evaluate("mse", &serde_json::json!({}), &serde_json::json!({"pred": [1.0, 2.0], "target": [1.0]}), DType::F32)
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("same shape"), "{e}");
    }

    #[test]
    fn sets_parse_json_values() {
        let p = params_from_sets(&["gamma=0.5".into(), "detach_modulator=true".into()]).unwrap();
        assert_eq!(p, serde_json::json!({"gamma": 0.5, "detach_modulator": true}));
    }
}
