//! `orthogonal_reg` — soft orthogonality of hidden-layer weight rows (S131, generic MLP
//! variant): for every hidden linear layer's weight `W [out, in]` with rows normalised to unit
//! length (`Ŵ = W / ‖W_row‖`), `R = Σ_l ‖Ŵ_l Ŵ_lᵀ − I‖²_F`; a model with a single linear layer
//! regularizes that layer.
//!
//! S131 (PEGO) applies `Σ_{i<j} ‖Â_iᵀ Â_j‖²_F` to groups of LoRA down-projections; lossbench's
//! models have no adapters, so this is the catalog's generic MLP variant [recon: the rows of a
//! weight matrix play the role of the group]. Rows are normalised with `+1e-12` in the norm.
//! Reference: S131 (orthogonal regularisation of PEFT modules); Bansal et al., *Can We Gain More
//! from Orthogonality Regularizations in Training Deep CNNs?*, NeurIPS 2018 (the `‖WWᵀ − I‖²_F`
//! form).

use super::{need_layers, scalar_zero, Active, Batch, Kind, Regularizer, RegularizerInfo, Start};
use crate::error::Result;
use crate::registry::ParamDoc;
use candle_core::{DType, Tensor};
use std::sync::Arc;

pub static INFO: RegularizerInfo = RegularizerInfo {
    name: "orthogonal_reg",
    kind: Kind::Penalty,
    families: &[],
    summary: "soft orthogonality of the (row-normalised) hidden-layer weight rows",
    formula: "R = Σ_l ‖Ŵ_l Ŵ_lᵀ − I‖²_F,  Ŵ = rows of W normalised",
    reference: "S131 (PEGO) [recon: generic MLP variant]; Bansal et al., NeurIPS 2018",
    params: &[ParamDoc { name: "weight", meaning: "coefficient λ of R", range: "0 ≤ λ ≤ 10", default: "0.001" }],
    build,
};

/// The only parameter: the weight of the penalty.
pub struct Params {
    pub weight: f64,
}

fn build(value: &serde_json::Value) -> crate::registry::Built<dyn Regularizer> {
    let (weight, canonical) = super::parse_weight(value, 1e-3)?;
    Ok((Arc::new(Params { weight }), canonical))
}

impl Regularizer for Params {
    fn start(&self, run: &Start) -> Result<Box<dyn Active>> {
        need_layers(run.model, INFO.name)?;
        Ok(Box::new(State { weight: self.weight, last: None }))
    }
}

struct State {
    weight: f64,
    last: Option<f64>,
}

/// `‖Ŵ Ŵᵀ − I‖²_F` for one weight matrix.
pub fn off_orthogonality(w: &Tensor) -> Result<Tensor> {
    let norms = (w.sqr()?.sum_keepdim(1)? + 1e-24)?.sqrt()?;
    let wn = w.broadcast_div(&norms)?;
    let gram = wn.matmul(&wn.t()?)?;
    let eye = Tensor::eye(gram.dim(0)?, gram.dtype(), gram.device())?;
    Ok((gram - eye)?.sqr()?.sum_all()?)
}

impl Active for State {
    fn weight(&self) -> f64 {
        self.weight
    }
    fn penalty(&mut self, batch: &mut Batch) -> Result<Option<Tensor>> {
        let layers = batch.model.linear_layers();
        let hidden = if layers.len() > 1 { &layers[..layers.len() - 1] } else { &layers[..] };
        let mut total = scalar_zero(&batch.pred.out)?;
        for (w, _) in hidden {
            total = (total + off_orthogonality(w)?)?;
        }
        self.last = Some(total.to_dtype(DType::F64)?.to_scalar::<f64>()?);
        Ok(Some(total))
    }
    fn logged(&self) -> Option<f64> {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::off_orthogonality;
    use candle_core::{Device, Tensor};

    #[test]
    fn zero_for_orthogonal_rows_and_gradient_matches_finite_differences() {
        // Rows (3, 4)/5 and (−4, 3)/5·2 are orthogonal; row scale does not matter.
        let w = Tensor::from_vec(vec![0.6f64, 0.8, -1.6, 1.2], (2, 2), &Device::Cpu).unwrap();
        assert!(off_orthogonality(&w).unwrap().to_scalar::<f64>().unwrap() < 1e-20);
        // Two equal unit rows: Gram = [[1, 1], [1, 1]] → ‖G − I‖² = 2.
        let w = Tensor::from_vec(vec![1.0f64, 0.0, 3.0, 0.0], (2, 2), &Device::Cpu).unwrap();
        assert!((off_orthogonality(&w).unwrap().to_scalar::<f64>().unwrap() - 2.0).abs() < 1e-12);
        let model = model(&[6, 5], 4, 3);
        let x = inputs(5, 4, 2);
        let y = classes(5, 3);
        let mut reg = start("orthogonal_reg", serde_json::json!({}), model.as_ref());
        check_gradient(model.as_ref(), &mut || penalty(reg.as_mut(), model.as_ref(), &x, &y, 0), 1e-6);
    }
}
