//! Stochastic gradient descent with momentum, Nesterov momentum and coupled weight decay,
//! exactly as `torch.optim.SGD` (dampening 0).
//!
//! ```text
//! g ← ∇L(θ) + wd·θ
//! b ← μ·b + g                      (b₀ = g)
//! d = g + μ·b  (nesterov)  |  b  (heavy ball)  |  g  (μ = 0)
//! θ ← θ − lr·d
//! ```

use super::{Context, Evaluation, Objective, Optimizer, OptimizerInfo, OptimizerSpec};
use crate::error::{Error, Result};
use crate::registry::{check_range, ParamDoc, Validate};
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

pub static INFO: OptimizerInfo = OptimizerInfo {
    name: "sgd",
    summary: "SGD with (Nesterov) momentum and coupled L2 weight decay (torch.optim.SGD)",
    update: "g ← ∇L + wd·θ;  b ← μ·b + g;  θ ← θ − lr·(nesterov ? g + μ·b : b)",
    reference: "torch.optim.SGD [ref]; Sutskever et al. 2013 (Nesterov momentum in deep learning)",
    params: &[
        ParamDoc { name: "lr", meaning: "learning rate", range: "0 < lr ≤ 100", default: "0.1" },
        ParamDoc { name: "momentum", meaning: "momentum μ", range: "0 ≤ μ < 1", default: "0.0" },
        ParamDoc { name: "nesterov", meaning: "Nesterov momentum (needs μ > 0)", range: "true | false", default: "false" },
        ParamDoc {
            name: "weight_decay", meaning: "coupled L2 coefficient added to the gradient", range: "0 ≤ wd ≤ 10", default: "0.0"
        },
    ],
    build: super::build_params::<Params>,
};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Params {
    pub lr: f64,
    pub momentum: f64,
    pub nesterov: bool,
    pub weight_decay: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params { lr: 0.1, momentum: 0.0, nesterov: false, weight_decay: 0.0 }
    }
}

impl Validate for Params {
    fn validate(&self) -> Result<()> {
        check_range("lr", self.lr, 1e-12, 100.0)?;
        check_range("momentum", self.momentum, 0.0, 0.999_999)?;
        check_range("weight_decay", self.weight_decay, 0.0, 10.0)?;
        if self.nesterov && self.momentum == 0.0 {
            return Err(Error::input("`nesterov: true` needs `momentum` > 0"));
        }
        Ok(())
    }
}

impl OptimizerSpec for Params {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn instantiate(&self, vars: Vec<Var>, _ctx: &Context) -> Result<Box<dyn Optimizer>> {
        Ok(Box::new(Sgd::new(self.clone(), vars, true)))
    }
}

pub struct Sgd {
    params: Params,
    vars: Vec<Var>,
    buffers: Vec<Option<Tensor>>,
    /// Flat momentum buffers of the fused CPU update, and whether each holds a value yet.
    host: Option<Vec<(Vec<f64>, bool)>>,
}

impl Sgd {
    /// `fused`: update CPU parameters in place (the default); false keeps the tensor-op path.
    pub fn new(params: Params, vars: Vec<Var>, fused: bool) -> Sgd {
        let all_cpu = vars.iter().all(|v| v.as_tensor().device().is_cpu() && v.as_tensor().is_contiguous());
        let host = (fused && all_cpu).then(|| vars.iter().map(|v| (vec![0.0; v.as_tensor().elem_count()], false)).collect());
        let buffers = vec![None; vars.len()];
        Sgd { params, vars, buffers, host }
    }
}

impl Optimizer for Sgd {
    fn step(&mut self, objective: &mut dyn Objective, lr: f64) -> Result<f64> {
        let Evaluation { loss, grads } = objective.eval()?;
        let p = &self.params;
        if let Some(host) = self.host.as_mut() {
            if self.vars.iter().all(|v| grads.get(v.as_tensor()).is_none_or(|g| super::fused::eligible(v.as_tensor(), g))) {
                for (var, (buf, started)) in self.vars.iter().zip(host.iter_mut()) {
                    let Some(g) = grads.get(var.as_tensor()) else { continue };
                    let op = super::fused::SgdStep {
                        buffer: std::cell::RefCell::new((buf.as_mut_slice(), started)),
                        momentum: p.momentum,
                        nesterov: p.nesterov,
                        weight_decay: p.weight_decay,
                        lr,
                    };
                    var.as_tensor().inplace_op2(g, &op)?;
                }
                return Ok(loss);
            }
            // Gradients the kernel cannot read in place: continue on the tensor path.
            for ((var, (buf, started)), slot) in self.vars.iter().zip(host.iter()).zip(self.buffers.iter_mut()) {
                if *started {
                    let t = var.as_tensor();
                    *slot = Some(Tensor::from_slice(buf, t.shape(), t.device())?.to_dtype(t.dtype())?);
                }
            }
            self.host = None;
        }
        for (var, buffer) in self.vars.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            let theta = var.as_tensor();
            let mut g = g.clone();
            if p.weight_decay != 0.0 {
                g = (g + (theta * p.weight_decay)?)?;
            }
            let direction = if p.momentum != 0.0 {
                let b = match buffer.take() {
                    Some(b) => ((b * p.momentum)? + &g)?,
                    None => g.clone(),
                };
                let d = if p.nesterov { (&g + (&b * p.momentum)?)? } else { b.clone() };
                *buffer = Some(b);
                d
            } else {
                g
            };
            var.set(&(theta - (direction * lr)?)?)?;
        }
        Ok(loss)
    }
}
