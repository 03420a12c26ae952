//! Reading named loss inputs from a `losses eval` JSON object.

use crate::error::{Error, Result};
use candle_core::{DType, Device, Tensor, Var};

pub type Object = serde_json::Map<String, serde_json::Value>;

/// Reject keys of `obj` that are not among `names`, and give the one named `key`.
pub struct Named<'a> {
    pub loss: &'a str,
    pub obj: &'a Object,
    pub names: Vec<&'static str>,
}

impl<'a> Named<'a> {
    pub fn new(loss: &'a str, obj: &'a Object, floats: &[&'static str], ints: &[&'static str]) -> Result<Self> {
        let names: Vec<&'static str> = floats.iter().chain(ints).copied().collect();
        for key in obj.keys() {
            if !names.contains(&key.as_str()) {
                return Err(Error::input(format!("loss `{loss}` takes inputs {}; `{key}` is not one of them", names.join(", "))));
            }
        }
        Ok(Named { loss, obj, names })
    }

    /// Input `key`, which the loss needs.
    pub fn get(&self, key: &str) -> Result<&'a serde_json::Value> {
        self.obj
            .get(key)
            .ok_or_else(|| Error::input(format!("loss `{}` needs input `{key}` (it takes {})", self.loss, self.names.join(", "))))
    }

    /// Float input `key` as (values, shape).
    pub fn floats(&self, key: &str) -> Result<(Vec<f64>, Vec<usize>)> {
        float_array(key, self.get(key)?)
    }
}

/// A JSON number list of rank 1 or 2 as (values, shape).
pub fn float_array(name: &str, v: &serde_json::Value) -> Result<(Vec<f64>, Vec<usize>)> {
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

/// `values` of `shape` as a CPU tensor in `dtype`.
pub fn tensor(values: Vec<f64>, shape: &[usize], dtype: DType) -> Result<Tensor> {
    Ok(Tensor::from_vec(values, shape, &Device::Cpu)?.to_dtype(dtype)?)
}

/// `values` of `shape` as a variable (an input whose gradient is reported) in `dtype`.
pub fn var(values: Vec<f64>, shape: &[usize], dtype: DType) -> Result<Var> {
    Ok(Var::from_tensor(&tensor(values, shape, dtype)?)?)
}

/// Input `key`: `n` class ids below `classes`, as a `u32` tensor.
pub fn class_ids(named: &Named, key: &str, n: usize, classes: usize, of: &str) -> Result<Tensor> {
    let list = named.get(key)?.as_array().ok_or_else(|| Error::input(format!("input `{key}` must be a list of class ids")))?;
    let y = list
        .iter()
        .map(|v| v.as_u64().filter(|&c| (c as usize) < classes).map(|c| c as u32))
        .collect::<Option<Vec<u32>>>()
        .ok_or_else(|| Error::input(format!("input `{key}` must hold integers in 0..{classes} ({of})")))?;
    if y.len() != n {
        return Err(Error::input(format!("`{key}` has {} entries but the other inputs have {n} rows", y.len())));
    }
    Ok(Tensor::from_vec(y, n, &Device::Cpu)?)
}
