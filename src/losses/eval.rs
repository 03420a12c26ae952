//! `lossbench losses eval`: one loss on given tensors, with gradients — the way to check
//! lossbench's numbers against PyTorch/JAX from outside, and the code path of the fixture tests.
//!
//! Input names are fixed per family: classification takes `logits` `[N, C]` and `labels` `[N]`
//! (integers); regression takes `pred` and `target` of the same shape, `[N]` or `[N, D]`.
//! Output: the mean loss, the per-example losses and the gradient of the mean with respect to
//! each float input.

use super::{lookup_loss, LossInfo};
use crate::error::{Error, Result};
use crate::task::{Family, Prediction, Target};
use candle_core::{DType, Device, Tensor, Var};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct EvalOutput {
    pub loss: f64,
    pub per_example: Vec<f64>,
    pub grads: BTreeMap<String, serde_json::Value>,
}

/// The input names a loss family takes: (float inputs, integer inputs).
pub fn input_names(family: Family) -> (&'static [&'static str], &'static [&'static str]) {
    match family {
        Family::Classification => (&["logits"], &["labels"]),
        Family::Regression => (&["pred", "target"], &[]),
        Family::MultiLabel => (&["logits", "targets", "embeddings"], &[]),
    }
}

/// A JSON number list of rank 1 or 2 as (values, shape).
fn float_array(name: &str, v: &serde_json::Value) -> Result<(Vec<f64>, Vec<usize>)> {
    let bad = || Error::input(format!("input `{name}` must be a list of numbers [N] or a list of equal-length lists [N, D]"));
    let outer = v.as_array().ok_or_else(bad)?;
    if outer.is_empty() {
        return Err(Error::input(format!("input `{name}` is empty")));
    }
    if outer[0].is_array() {
        let width = outer[0].as_array().map(Vec::len).unwrap_or(0);
        let mut values = Vec::with_capacity(outer.len() * width);
        for row in outer {
            let row = row.as_array().ok_or_else(bad)?;
            if row.len() != width || width == 0 {
                return Err(Error::input(format!("input `{name}`: rows have different lengths (expected {width})")));
            }
            for x in row {
                values.push(x.as_f64().ok_or_else(bad)?);
            }
        }
        Ok((values, vec![outer.len(), width]))
    } else {
        let values = outer.iter().map(|x| x.as_f64().ok_or_else(bad)).collect::<Result<Vec<_>>>()?;
        Ok((values, vec![outer.len()]))
    }
}

fn nested(values: &[f64], shape: &[usize]) -> serde_json::Value {
    match shape {
        [_, w] => serde_json::Value::Array(values.chunks(*w).map(|r| serde_json::json!(r)).collect()),
        _ => serde_json::json!(values),
    }
}

/// Evaluate loss `name` with `params` on `inputs` (a JSON object), in `dtype`.
pub fn evaluate(name: &str, params: &serde_json::Value, inputs: &serde_json::Value, dtype: DType) -> Result<EvalOutput> {
    let info: &LossInfo = lookup_loss(name)?;
    let (loss, _) = (info.build)(params).map_err(|e| e.at(format!("loss `{name}`")))?;
    let obj = inputs.as_object().ok_or_else(|| Error::input("inputs must be a JSON object mapping input names to arrays"))?;
    let (floats, ints) = input_names(info.family);
    let expected: Vec<&str> = floats.iter().chain(ints.iter()).copied().collect();
    for key in obj.keys() {
        if !expected.contains(&key.as_str()) {
            return Err(Error::input(format!("loss `{name}` takes inputs {}; `{key}` is not one of them", expected.join(", "))));
        }
    }
    let get = |key: &str| {
        obj.get(key).ok_or_else(|| Error::input(format!("loss `{name}` needs input `{key}` (it takes {})", expected.join(", "))))
    };
    let dev = Device::Cpu;
    match info.family {
        Family::Classification => {
            let (z, shape) = float_array("logits", get("logits")?)?;
            if shape.len() != 2 || shape[1] < 2 {
                return Err(Error::input(format!("input `logits` must be [N, C] with C ≥ 2 classes; got shape {shape:?}")));
            }
            let labels = get("labels")?.as_array().ok_or_else(|| Error::input("input `labels` must be a list of class ids"))?;
            let y = labels
                .iter()
                .map(|v| v.as_u64().filter(|&c| (c as usize) < shape[1]).map(|c| c as u32))
                .collect::<Option<Vec<u32>>>()
                .ok_or_else(|| Error::input(format!("input `labels` must hold integers in 0..{} (C from logits)", shape[1])))?;
            if y.len() != shape[0] {
                return Err(Error::input(format!("`labels` has {} entries but `logits` has {} rows", y.len(), shape[0])));
            }
            let var = Var::from_tensor(&Tensor::from_vec(z, shape.as_slice(), &dev)?.to_dtype(dtype)?)?;
            let target = Target::Classes(Tensor::from_vec(y, shape[0], &dev)?);
            finish(loss.as_ref(), &var, &target, "logits", &shape)
        }
        Family::MultiLabel => {
            let (z, z_shape) = float_array("logits", get("logits")?)?;
            let (t, t_shape) = float_array("targets", get("targets")?)?;
            if z_shape.len() != 2 || z_shape != t_shape {
                return Err(Error::input(format!("`logits` {z_shape:?} and `targets` {t_shape:?} must both be [N, K]")));
            }
            if t.iter().any(|v| *v != 0.0 && *v != 1.0) {
                return Err(Error::input("input `targets` must hold 0 or 1"));
            }
            let var = Var::from_tensor(&Tensor::from_vec(z, z_shape.as_slice(), &dev)?.to_dtype(dtype)?)?;
            let target = Target::Values(Tensor::from_vec(t, t_shape.as_slice(), &dev)?.to_dtype(dtype)?);
            // Optional: the model's embeddings, for losses with a representation term.
            let embedding = match obj.get("embeddings") {
                Some(v) => {
                    let (e, e_shape) = float_array("embeddings", v)?;
                    if e_shape.len() != 2 || e_shape[0] != z_shape[0] {
                        return Err(Error::input(format!("input `embeddings` must be [N, D] with N = {}; got {e_shape:?}", z_shape[0])));
                    }
                    Some((Var::from_tensor(&Tensor::from_vec(e, e_shape.as_slice(), &dev)?.to_dtype(dtype)?)?, e_shape))
                }
                None => None,
            };
            let extra = embedding.as_ref().map(|(v, s)| ("embeddings", v, s.as_slice()));
            finish_with(loss.as_ref(), &var, &target, "logits", &z_shape, extra)
        }
        Family::Regression => {
            let (p, p_shape) = float_array("pred", get("pred")?)?;
            let (t, t_shape) = float_array("target", get("target")?)?;
            if p_shape != t_shape {
                return Err(Error::input(format!("`pred` {p_shape:?} and `target` {t_shape:?} must have the same shape")));
            }
            let var = Var::from_tensor(&Tensor::from_vec(p, p_shape.as_slice(), &dev)?.to_dtype(dtype)?)?;
            let target = Target::Values(Tensor::from_vec(t, t_shape.as_slice(), &dev)?.to_dtype(dtype)?);
            finish(loss.as_ref(), &var, &target, "pred", &p_shape)
        }
    }
}

fn finish(loss: &dyn super::Loss, var: &Var, target: &Target, input: &str, shape: &[usize]) -> Result<EvalOutput> {
    finish_with(loss, var, target, input, shape, None)
}

fn finish_with(
    loss: &dyn super::Loss,
    var: &Var,
    target: &Target,
    input: &str,
    shape: &[usize],
    extra: Option<(&str, &Var, &[usize])>,
) -> Result<EvalOutput> {
    let mut pred = Prediction::new(var.as_tensor().clone());
    pred.embedding = extra.map(|(_, v, _)| v.as_tensor().clone());
    let per = loss.forward(&pred, target)?;
    let mean = per.mean_all()?;
    let grads = mean.backward()?;
    let grad_of = |v: &Var, shape: &[usize]| -> Result<serde_json::Value> {
        let g = match grads.get(v.as_tensor()) {
            Some(g) => g.to_dtype(DType::F64)?.flatten_all()?.to_vec1::<f64>()?,
            None => vec![0.0; shape.iter().product()],
        };
        Ok(nested(&g, shape))
    };
    let mut out = BTreeMap::new();
    out.insert(input.to_string(), grad_of(var, shape)?);
    if let Some((name, v, s)) = extra {
        out.insert(name.to_string(), grad_of(v, s)?);
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
