//! Model building blocks with faster CPU paths than Candle's generic ones, measured in
//! `lossbench bench` (see `benches/README.md`):
//!
//! * [`linear`] adds the bias as a rank-1 product `1·bᵀ`, so its gradient is a matrix product
//!   `1ᵀ·G` instead of Candle's `sum(0)` over the batch (≈ 60× slower on a `[128, 256]`
//!   gradient here); the forward values are identical (`1·b_j` is exact).
//! * [`relu`] is one pass forward and one pass backward (Candle's backward builds a `ge` mask,
//!   converts it and multiplies: three passes and allocations), with PyTorch's subgradient
//!   `relu'(0) = 0` (Candle's is 1). NaN passes through, so divergence still shows.
//!
//! Non-CPU devices and non-contiguous inputs use Candle's ops.

use crate::error::Result;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Shape, Tensor};

/// `x·Wᵀ + b` for `x [n, in]`, `W [out, in]`, `b [out]`.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let y = x.matmul(&w.t()?)?;
    Ok(match b {
        Some(b) => {
            let ones = Tensor::ones((x.dim(0)?, 1), x.dtype(), x.device())?;
            (y + ones.matmul(&b.unsqueeze(0)?)?)?
        }
        None => y,
    })
}

/// `max(x, 0)` with derivative `1[x > 0]`.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.is_contiguous() {
        Ok(x.apply_op1(Relu)?)
    } else {
        Ok(x.relu()?)
    }
}

struct Relu;

fn contiguous<'a, T>(v: &'a [T], l: &Layout) -> candle_core::Result<&'a [T]> {
    let (a, b) = l.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg("relu: input is not contiguous".into()))?;
    Ok(&v[a..b])
}

impl CustomOp1 for Relu {
    fn name(&self) -> &'static str {
        "relu-pytorch-subgradient"
    }
    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = match storage {
            CpuStorage::F32(v) => CpuStorage::F32(contiguous(v, layout)?.iter().map(|&x| if x <= 0.0 { 0.0 } else { x }).collect()),
            CpuStorage::F64(v) => CpuStorage::F64(contiguous(v, layout)?.iter().map(|&x| if x <= 0.0 { 0.0 } else { x }).collect()),
            _ => candle_core::bail!("relu: f32 or f64 only"),
        };
        Ok((out, layout.shape().clone()))
    }
    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad_res: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(grad_res.contiguous()?.apply_op2_no_bwd(&arg.contiguous()?, &ReluGrad)?))
    }
}

/// `g·1[x > 0]`.
struct ReluGrad;

impl CustomOp2 for ReluGrad {
    fn name(&self) -> &'static str {
        "relu-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let out = match (s1, s2) {
            (CpuStorage::F32(g), CpuStorage::F32(x)) => {
                CpuStorage::F32(contiguous(g, l1)?.iter().zip(contiguous(x, l2)?).map(|(&g, &x)| if x > 0.0 { g } else { 0.0 }).collect())
            }
            (CpuStorage::F64(g), CpuStorage::F64(x)) => {
                CpuStorage::F64(contiguous(g, l1)?.iter().zip(contiguous(x, l2)?).map(|(&g, &x)| if x > 0.0 { g } else { 0.0 }).collect())
            }
            _ => candle_core::bail!("relu-grad: f32 or f64 only"),
        };
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Same values as Candle's linear + broadcast bias and relu; gradients as autograd's except
    /// relu'(0) = 0 (PyTorch's convention).
    #[test]
    fn match_candle_ops_and_pytorch_subgradient() {
        let dev = Device::Cpu;
        let x = Var::from_vec(vec![0.5f64, -1.0, 0.0, 2.0, 1.5, -0.5], (3, 2), &dev).unwrap();
        let w = Var::from_vec(vec![0.3f64, -0.2, 0.7, 0.1], (2, 2), &dev).unwrap();
        let b = Var::from_vec(vec![0.05f64, -0.4], 2, &dev).unwrap();
        let ours = relu(&linear(x.as_tensor(), w.as_tensor(), Some(b.as_tensor())).unwrap()).unwrap();
        let theirs = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap().broadcast_add(b.as_tensor()).unwrap().relu().unwrap();
        assert_eq!(ours.to_vec2::<f64>().unwrap(), theirs.to_vec2::<f64>().unwrap());
        let (go, gt) = (ours.sum_all().unwrap().backward().unwrap(), theirs.sum_all().unwrap().backward().unwrap());
        for v in [&x, &w, &b] {
            let a = go.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            let c = gt.get(v.as_tensor()).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
            for (p, q) in a.iter().zip(&c) {
                assert!((p - q).abs() < 1e-12, "{a:?} vs {c:?}");
            }
        }
        let z = Var::from_vec(vec![-1.0f64, 0.0, 2.0], 3, &dev).unwrap();
        let g = relu(z.as_tensor()).unwrap().sum_all().unwrap().backward().unwrap();
        assert_eq!(g.get(z.as_tensor()).unwrap().to_vec1::<f64>().unwrap(), vec![0.0, 0.0, 1.0]);
    }
}
