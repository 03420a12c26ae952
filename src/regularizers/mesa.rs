//! `mesa` — Memory-Efficient Sharpness-Aware training (MESA, the second method of S093): the
//! trajectory loss of `saf` with an exponential-moving-average copy of the model as the
//! teacher instead of stored logits,
//!
//! ```text
//! θ_ema ← d·θ_ema + (1 − d)·θ            after every optimizer step (θ_ema₀ = θ₀)
//! R = T²·mean_i KL(softmax(f(x_i; θ_ema)/T) ‖ softmax(f(x_i; θ)/T))   for 0-based epochs > start
//! ```
//! added as `λ·R`. The teacher's forward pass runs without dropout and without gradient
//! (its weights are swapped in and out of the model around it). No per-example memory.
//! Reference: Du et al., *Sharpness-Aware Training for Free*, NeurIPS 2022 (S093);
//! AngusDujw/SAF `MESA_train.py` (KL to the EMA model's outputs on the same batch, timm
//! `ModelEmaV2` with decay 0.9998, λ = 0.8 and start epoch 5 from `run.sh`/README) [code].

use super::{Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::{check_range, ParamDoc, Validate};
use crate::task::Family;
use candle_core::{DType, Tensor, Var, D};
use serde::{Deserialize, Serialize};

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "mesa",
    kind: Kind::Penalty,
    families: &[Family::Classification],
    summary: "MESA: KL to an exponential-moving-average copy of the model (SAF without the logit memory)",
    formula: "θ_ema ← dθ_ema + (1−d)θ;  R = T²·mean_i KL(softmax(f(x;θ_ema)/T) ‖ softmax(f(x;θ)/T)), epochs > start",
    reference: "Du et al., Sharpness-Aware Training for Free, NeurIPS 2022 (S093); AngusDujw/SAF MESA_train.py [code]",
    params: &[
        ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 100", default: "0.8" },
        ParamDoc { name: "temperature", meaning: "softmax temperature T", range: "0.01 ≤ T ≤ 100", default: "5.0" },
        ParamDoc { name: "start", meaning: "the penalty applies in 0-based epochs > start", range: "start ≥ 0", default: "5" },
        ParamDoc { name: "decay", meaning: "EMA decay d", range: "0 ≤ d < 1", default: "0.9998" },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub weight: f64,
    pub temperature: f64,
    pub start: usize,
    pub decay: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { weight: 0.8, temperature: 5.0, start: 5, decay: 0.9998 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("weight", self.weight, 0.0, 100.0)?;
        check_range("temperature", self.temperature, 0.01, 100.0)?;
        check_range("decay", self.decay, 0.0, 0.999_999_9)
    }
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        let vars = run.model.vars();
        let ema = vars.iter().map(|v| v.as_tensor().copy().map(|t| t.detach())).collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Box::new(State { params: self.clone(), vars, ema, last: None }))
    }
}

struct State {
    params: Params,
    vars: Vec<Var>,
    ema: Vec<Tensor>,
    last: Option<f64>,
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.params.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let z = &batch.pred.out;
        if batch.epoch <= self.params.start {
            self.last = Some(0.0);
            return Ok(Some(Tensor::zeros((), z.dtype(), z.device())?));
        }
        // The teacher's logits: the EMA weights swapped in for one forward pass, then back
        // (restored before any backward pass reads the weights).
        let saved = self.vars.iter().map(|v| v.as_tensor().copy()).collect::<candle_core::Result<Vec<_>>>()?;
        for (v, e) in self.vars.iter().zip(&self.ema) {
            v.set(e)?;
        }
        let teacher = batch.model.forward(batch.x, None);
        for (v, s) in self.vars.iter().zip(&saved) {
            v.set(s)?;
        }
        let teacher = teacher?.detach();
        let t = self.params.temperature;
        let n = z.dim(0)? as f64;
        let log_teacher = candle_nn::ops::log_softmax(&(teacher / t)?, D::Minus1)?;
        let log_now = candle_nn::ops::log_softmax(&(z / t)?, D::Minus1)?;
        let kl = ((log_teacher.exp()? * (&log_teacher - log_now)?)?.sum_all()? / n)?;
        let r = (kl * (t * t))?;
        self.last = Some(r.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(r))
    }
    fn after_step(&mut self, _vars: &[Var]) -> Result<()> {
        let d = self.params.decay;
        for (e, v) in self.ema.iter_mut().zip(&self.vars) {
            *e = ((&*e * d)? + (v.as_tensor() * (1.0 - d))?)?.detach();
        }
        Ok(())
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use crate::regularizers::{Batch, Start, REGULARIZERS};
    use crate::rng::{Purpose, Stream};
    use crate::task::Prediction;

    /// Right after start the EMA teacher is the model itself, so R = 0; after the weights move
    /// and one EMA update with d = 0.5, R is the T²·KL to the halfway model, checked against a
    /// model built with those weights; the model's own weights are left unchanged.
    #[test]
    fn teacher_is_the_moving_average() {
        let model = model(&[4], 3, 2);
        let x = inputs(5, 3, 1);
        let y = classes(5, 2);
        let info = REGULARIZERS.iter().find(|r| r.name == "mesa").unwrap();
        let (spec, _) = (info.build)(&serde_json::json!({"start": 0, "decay": 0.5, "temperature": 2.0})).unwrap();
        let mut reg =
            spec.start(&Start { model: model.as_ref(), seed: 0, class_counts: None, epochs: 2, n_train: 5, groups: None }).unwrap();
        let eval = |reg: &mut Box<dyn super::Active>| -> f64 {
            let (out, embedding) = model.forward_with_embedding(&x, None).unwrap();
            let pred = Prediction { out, ids: None, embedding };
            let mut rng = Stream::new(0, Purpose::Regularizer, 0);
            let mut batch = Batch { model: model.as_ref(), x: &x, pred: &pred, target: &y, step: 0, epoch: 1, rng: &mut rng };
            reg.penalty(&mut batch).unwrap().unwrap().to_scalar::<f64>().unwrap()
        };
        assert!(eval(&mut reg).abs() < 1e-15);
        let vars = model.vars();
        let before: Vec<_> = vars.iter().map(|v| v.as_tensor().copy().unwrap()).collect();
        for v in &vars {
            v.set(&(v.as_tensor() * 2.0).unwrap()).unwrap();
        }
        reg.after_step(&vars).unwrap();
        let r = eval(&mut reg);
        // Teacher weights (θ₀ + 2θ₀)/2 = 1.5θ₀.
        let student = model.forward(&x, None).unwrap();
        let now: Vec<_> = vars.iter().map(|v| v.as_tensor().copy().unwrap()).collect();
        for (v, b) in vars.iter().zip(&before) {
            v.set(&(b * 1.5).unwrap()).unwrap();
        }
        let teacher = model.forward(&x, None).unwrap();
        for (v, n) in vars.iter().zip(&now) {
            v.set(n).unwrap();
        }
        let lp = |z: &candle_core::Tensor| candle_nn::ops::log_softmax(&(z / 2.0).unwrap(), candle_core::D::Minus1).unwrap();
        let (lt, ls) = (lp(&teacher), lp(&student));
        let kl = (lt.exp().unwrap() * (&lt - ls).unwrap()).unwrap().sum_all().unwrap().to_scalar::<f64>().unwrap() / 5.0;
        assert!((r - 4.0 * kl).abs() < 1e-12 && r > 0.0, "{r} vs {}", 4.0 * kl);
        assert_eq!(model.forward(&x, None).unwrap().to_vec2::<f64>().unwrap(), student.to_vec2::<f64>().unwrap());
    }
}
