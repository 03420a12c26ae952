//! QAT: quantisation-aware training as a regulariser (S104), around any base optimizer —
//! gradients are taken at fake-quantised weights and applied to the full-precision weights
//! (the straight-through estimator).
//!
//! ```text
//! per weight tensor with ≥ 2 dimensions:  s = max|w| / (2^{b−1} − 1)
//!     w_q = s·clamp(round(w/s), −2^{b−1}, 2^{b−1} − 1)
//! g = ∇L(w_q)  (∂w_q/∂w = 1 inside the range: STE);   restore w;   base step with g
//! ```
//! Quantisation starts after `start_fraction` of the run's optimizer steps (a full-precision
//! warm-up). Biases stay in full precision. Evaluation uses the full-precision weights: QAT is
//! studied here as a regulariser of the float model (S104), not as a deployment format.
//! S115's gradient-conflict freezing of learnable step sizes (GAQAT) is not implemented.
//!
//! Reference: S104 (quantisation-aware training as a regulariser) [recon: symmetric per-tensor
//! max-abs fake quantisation with STE, the catalog's rule]; Jacob et al., *Quantization and
//! Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference*, CVPR 2018;
//! Bengio, Léonard & Courville 2013 (straight-through estimator).

use super::{base_step, build_wrapped, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "qat",
    summary: "quantisation-aware training: gradients at b-bit fake-quantised weights (STE), around any base",
    update: "w_q = s·clamp(round(w/s), −2^{b−1}, 2^{b−1}−1), s = max|w|/(2^{b−1}−1);  base step with ∇L(w_q) at w",
    reference: "S104 [recon]; Jacob et al., CVPR 2018; Bengio et al. 2013 (STE)",
    params: &[
        ParamDoc { name: "bits", meaning: "bits b per weight", range: "2 ≤ b ≤ 16", default: "4" },
        ParamDoc {
            name: "start_fraction",
            meaning: "fraction of the steps trained in full precision first",
            range: "0 ≤ f ≤ 1",
            default: "0.2",
        },
        ParamDoc { name: "base", meaning: "the base optimizer", range: "{name: sgd, lr: …}", default: "{name: adamw}" },
    ],
    build,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub bits: u32,
    pub start_fraction: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { bits: 4, start_fraction: 0.2 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("bits", self.bits as f64, 2.0, 16.0)?;
        check_range("start_fraction", self.start_fraction, 0.0, 1.0)
    }
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn OptimizerSpec> {
    build_wrapped::<Params>(value, serde_json::json!({"name": "adamw"}), |p, vars, base, ctx| {
        let start = (p.start_fraction * ctx.total_steps as f64).floor() as usize;
        Box::new(Qat { bits: p.bits, start, step: 0, vars, base })
    })
}

pub struct Qat {
    bits: u32,
    start: usize,
    step: usize,
    vars: Vec<Var>,
    base: Box<dyn Optimizer>,
}

/// Symmetric per-tensor fake quantisation to `bits` bits.
pub fn fake_quantise(w: &Tensor, bits: u32) -> Result<Tensor> {
    let levels = (1i64 << (bits - 1)) as f64;
    let max = w.abs()?.max_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
    if max == 0.0 {
        return Ok(w.clone());
    }
    let s = max / (levels - 1.0);
    Ok(((w / s)?.round()?.clamp(-levels, levels - 1.0)? * s)?)
}

impl Optimizer for Qat {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let active = self.step >= self.start;
        self.step += 1;
        if !active {
            let e = objective.eval()?;
            let loss = e.loss;
            base_step(self.base.as_mut(), e, lr, "qat")?;
            return Ok(loss);
        }
        let saved: Vec<Tensor> = self.vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<_>>()?;
        for v in &self.vars {
            if v.as_tensor().rank() >= 2 {
                v.set(&fake_quantise(v.as_tensor(), self.bits)?)?;
            }
        }
        let e = objective.eval();
        for (v, s) in self.vars.iter().zip(&saved) {
            v.set(s)?;
        }
        let e = e?;
        let loss = e.loss;
        base_step(self.base.as_mut(), e, lr, "qat")?;
        Ok(loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn quantises_to_the_symmetric_grid() {
        let w = Tensor::new(&[[0.7f64, -0.35], [0.1, -0.02]], &Device::Cpu).unwrap();
        // 3 bits: levels −4…3, s = 0.7/3.
        let q = fake_quantise(&w, 3).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let s = 0.7 / 3.0;
        let expect = [3.0 * s, (-0.35f64 / s).round() * s, (0.1f64 / s).round() * s, 0.0];
        for (a, b) in q.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
    }
}
