//! Model building blocks with faster CPU paths than Candle's generic ones, measured in
//! `lossbench bench` (see `benches/README.md`):
//!
//! * [`linear`] is one custom op: the forward writes the bias into the output and lets the
//!   matrix product accumulate onto it (no zero-fill, no separate add); the backward computes
//!   `∂x = G·W`, `∂W = Gᵀ·x` with the same `gemm` kernels Candle uses and `∂b` as column sums of
//!   `G`. Candle's autograd zero-fills and adds every gradient it hands on, so one node per
//!   layer instead of five (matmul, transpose, bias product, unsqueeze, add) saves most of
//!   that. `∂x` is skipped when `x` needs no gradient (the data batch).
//! * [`relu`] is one pass forward and one pass backward (Candle's backward builds a `ge` mask,
//!   converts it and multiplies: three passes and allocations), with PyTorch's subgradient
//!   `relu'(0) = 0` (Candle's is 1). NaN passes through, so divergence still shows.
//!
//! Non-CPU devices, dtypes other than f32/f64 and a missing bias use Candle's ops
//! ([`linear_candle`], which adds the bias as the rank-1 product `1·bᵀ` so that its gradient is
//! a matrix product rather than Candle's slow strided `sum(0)`).

use crate::error::Result;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};

/// `x·Wᵀ + b` for `x [n, in]`, `W [out, in]`, `b [out]`.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    match b {
        Some(b) if x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64) && x.rank() == 2 => {
            Ok(x.contiguous()?.apply_op3(&w.contiguous()?, &b.contiguous()?, Linear)?)
        }
        _ => linear_candle(x, w, b),
    }
}

/// `x·Wᵀ + b` from Candle's tensor ops (the reference for [`linear`]'s fused op).
pub fn linear_candle(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let y = x.matmul(&w.t()?)?;
    Ok(match b {
        Some(b) => {
            let ones = Tensor::ones((x.dim(0)?, 1), x.dtype(), x.device())?;
            (y + ones.matmul(&b.unsqueeze(0)?)?)?
        }
        None => y,
    })
}

/// A strided matrix operand for [`gemm_acc`]: element `(i, j)` is at `ptr[i·rs + j·cs]`.
#[derive(Clone, Copy)]
struct Operand<'a, T> {
    data: &'a [T],
    rs: usize,
    cs: usize,
}

/// `dst[m×n, row-major] (+)= lhs[m×k]·rhs[k×n]` with the `gemm` crate (Candle's CPU kernels),
/// on Candle's thread count. Bounds are checked before the unsafe call.
fn gemm_acc<T: Scalar>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [T],
    accumulate: bool,
    lhs: Operand<'_, T>,
    rhs: Operand<'_, T>,
) -> candle_core::Result<()> {
    let last = |o: &Operand<'_, T>, rows: usize, cols: usize| (rows.max(1) - 1) * o.rs + (cols.max(1) - 1) * o.cs;
    if dst.len() < m * n || (m * k > 0 && lhs.data.len() <= last(&lhs, m, k)) || (k * n > 0 && rhs.data.len() <= last(&rhs, k, n)) {
        candle_core::bail!("linear: operand sizes do not match {m}×{k}·{k}×{n}");
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    let threads = candle_core::utils::get_num_threads();
    let parallelism = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: every index the kernel touches, (m−1)·rs + (k−1)·cs etc., was checked above to
    // lie inside its slice; dst is exclusively borrowed and row-major with m·n elements.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr(),
            lhs.cs as isize,
            lhs.rs as isize,
            rhs.data.as_ptr(),
            rhs.cs as isize,
            rhs.rs as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            parallelism,
        );
    }
    Ok(())
}

/// The element types the fused linear op handles (f32 and f64).
trait Scalar: Copy + Default + std::ops::AddAssign + 'static {
    const ONE: Self;
}
impl Scalar for f32 {
    const ONE: Self = 1.0;
}
impl Scalar for f64 {
    const ONE: Self = 1.0;
}

/// The elements of a contiguous layout (the CPU custom ops here and in `losses::fused`).
pub(crate) fn contiguous<'a, T>(v: &'a [T], l: &Layout) -> candle_core::Result<&'a [T]> {
    let (a, b) = l.contiguous_offsets().ok_or_else(|| candle_core::Error::Msg("fused op: input is not contiguous".into()))?;
    Ok(&v[a..b])
}

/// `x·Wᵀ + b`: the bias is written into the output, the product accumulated onto it.
struct Linear;

fn linear_fwd<T: Scalar>(x: &[T], w: &[T], b: &[T], (n, i, o): (usize, usize, usize)) -> candle_core::Result<Vec<T>> {
    let mut y = Vec::with_capacity(n * o);
    for _ in 0..n {
        y.extend_from_slice(b);
    }
    // lhs x [n×i] row-major; rhs Wᵀ [i×o]: element (k, j) = W[j·i + k].
    gemm_acc((n, o, i), &mut y, true, Operand { data: x, rs: i, cs: 1 }, Operand { data: w, rs: 1, cs: i })?;
    Ok(y)
}

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "linear-fused-bias"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, i) = xl.shape().dims2()?;
        let (o, i2) = wl.shape().dims2()?;
        if i != i2 || bl.shape().dims1()? != o {
            candle_core::bail!("linear: x {:?}, W {:?}, b {:?} do not fit", xl.dims(), wl.dims(), bl.dims());
        }
        let y = match (xs, ws, bs) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) => {
                CpuStorage::F32(linear_fwd(contiguous(x, xl)?, contiguous(w, wl)?, contiguous(b, bl)?, (n, i, o))?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(b)) => {
                CpuStorage::F64(linear_fwd(contiguous(x, xl)?, contiguous(w, wl)?, contiguous(b, bl)?, (n, i, o))?)
            }
            _ => candle_core::bail!("linear: x, W and b must all be f32 or all f64"),
        };
        Ok((y, Shape::from((n, o))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        // Inputs that need no gradient (the data batch, frozen weights) get none computed.
        let g = g.contiguous()?;
        let dx = if x.track_op() { Some(g.apply_op2_no_bwd(w, &LinearGrad::Input)?) } else { None };
        let dw = if w.track_op() { Some(g.apply_op2_no_bwd(x, &LinearGrad::Weight)?) } else { None };
        let db = if b.track_op() { Some(g.apply_op1_no_bwd(&BiasGrad)?) } else { None };
        Ok((dx, dw, db))
    }
}

/// Gradients of [`Linear`] from the output gradient `G [n, o]`.
enum LinearGrad {
    /// `∂x = G·W` (second operand `W [o, i]`).
    Input,
    /// `∂W = Gᵀ·x` (second operand `x [n, i]`).
    Weight,
}

impl LinearGrad {
    fn compute<T: Scalar>(
        &self,
        g: &[T],
        other: &[T],
        (n, o): (usize, usize),
        rows: usize,
        i: usize,
    ) -> candle_core::Result<(Vec<T>, Shape)> {
        match self {
            LinearGrad::Input => {
                let mut dx = vec![T::default(); n * i];
                gemm_acc((n, i, o), &mut dx, false, Operand { data: g, rs: o, cs: 1 }, Operand { data: other, rs: i, cs: 1 })?;
                Ok((dx, Shape::from((n, i))))
            }
            LinearGrad::Weight => {
                if rows != n {
                    candle_core::bail!("linear-grad: {n} output rows but {rows} input rows");
                }
                let mut dw = vec![T::default(); o * i];
                // lhs Gᵀ [o×n]: element (j, r) = G[r·o + j].
                gemm_acc((o, i, n), &mut dw, false, Operand { data: g, rs: 1, cs: o }, Operand { data: other, rs: i, cs: 1 })?;
                Ok((dw, Shape::from((o, i))))
            }
        }
    }
}

impl CustomOp2 for LinearGrad {
    fn name(&self) -> &'static str {
        match self {
            LinearGrad::Input => "linear-grad-input",
            LinearGrad::Weight => "linear-grad-weight",
        }
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout, os: &CpuStorage, ol: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (n, o) = gl.shape().dims2()?;
        let (rows, i) = ol.shape().dims2()?;
        if matches!(self, LinearGrad::Input) && rows != o {
            candle_core::bail!("linear-grad: G has {o} columns but W has {rows} rows");
        }
        Ok(match (gs, os) {
            (CpuStorage::F32(g), CpuStorage::F32(v)) => {
                let (d, s) = self.compute(contiguous(g, gl)?, contiguous(v, ol)?, (n, o), rows, i)?;
                (CpuStorage::F32(d), s)
            }
            (CpuStorage::F64(g), CpuStorage::F64(v)) => {
                let (d, s) = self.compute(contiguous(g, gl)?, contiguous(v, ol)?, (n, o), rows, i)?;
                (CpuStorage::F64(d), s)
            }
            _ => candle_core::bail!("linear-grad: f32 or f64 only"),
        })
    }
}

/// `∂b = Σ_rows G` (row by row, in the gradient's type).
struct BiasGrad;

fn column_sums<T: Scalar>(g: &[T], o: usize) -> Vec<T> {
    let mut acc = vec![T::default(); o];
    if o == 0 {
        return acc;
    }
    for row in g.chunks_exact(o) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
    acc
}

impl CustomOp1 for BiasGrad {
    fn name(&self) -> &'static str {
        "linear-grad-bias"
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (_, o) = gl.shape().dims2()?;
        let out = match gs {
            CpuStorage::F32(g) => CpuStorage::F32(column_sums(contiguous(g, gl)?, o)),
            CpuStorage::F64(g) => CpuStorage::F64(column_sums(contiguous(g, gl)?, o)),
            _ => candle_core::bail!("linear-grad-bias: f32 or f64 only"),
        };
        Ok((out, Shape::from(o)))
    }
}

/// `max(x, 0)` with derivative `1[x > 0]`.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.is_contiguous() && matches!(x.dtype(), DType::F32 | DType::F64) {
        Ok(x.apply_op1(Relu)?)
    } else {
        Ok(x.relu()?)
    }
}

struct Relu;

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
        let v = relu(&Tensor::new(&[f32::NAN, -1.0, 3.0], &dev).unwrap()).unwrap().to_vec1::<f32>().unwrap();
        assert!(v[0].is_nan() && v[1] == 0.0 && v[2] == 3.0, "{v:?}");
    }

    /// The fused linear op against Candle's ops on random shapes — including an inner
    /// dimension of 700 (more than one of gemm's k-blocks), an empty batch and two threads —
    /// in f64 (1e-12 relative) and f32 (1e-5), values and the gradients of `Σ r ⊙ y` for random
    /// `r`; a data batch (not a variable) gets no gradient and costs no `G·W`.
    #[test]
    fn fused_linear_matches_candle() {
        let dev = Device::Cpu;
        let mut rng = crate::rng::Stream::new(5, crate::rng::Purpose::Init, 1);
        let user_threads = std::env::var("RAYON_NUM_THREADS").ok();
        for (n, i, o) in [(1, 1, 1), (3, 2, 2), (17, 33, 9), (128, 64, 256), (40, 700, 13), (0, 4, 3), (4, 0, 3), (3, 4, 0)] {
            for dtype in [DType::F64, DType::F32] {
                let mut draw = |len: usize| {
                    Tensor::from_vec((0..len).map(|_| rng.normal()).collect::<Vec<f64>>(), len, &dev).unwrap().to_dtype(dtype).unwrap()
                };
                let x = Var::from_tensor(&draw(n * i).reshape((n, i)).unwrap()).unwrap();
                let w = Var::from_tensor(&draw(o * i).reshape((o, i)).unwrap()).unwrap();
                let b = Var::from_tensor(&draw(o)).unwrap();
                let r = draw(n * o).reshape((n, o)).unwrap();
                let tol = if dtype == DType::F64 { 1e-12 } else { 1e-5 };
                let flat = |t: &Tensor| t.to_dtype(DType::F64).unwrap().flatten_all().unwrap().to_vec1::<f64>().unwrap();
                let close = |a: &[f64], c: &[f64], what: &str| {
                    let scale = c.iter().fold(1f64, |m, v| m.max(v.abs()));
                    assert_eq!(a.len(), c.len());
                    for (p, q) in a.iter().zip(c) {
                        assert!((p - q).abs() <= tol * scale, "{what} {n}×{i}→{o} {dtype:?}: {p} vs {q}");
                    }
                };
                for threads in ["1", "2"] {
                    std::env::set_var("RAYON_NUM_THREADS", threads);
                    let ours = linear(x.as_tensor(), w.as_tensor(), Some(b.as_tensor())).unwrap();
                    let theirs = x.as_tensor().matmul(&w.as_tensor().t().unwrap()).unwrap().broadcast_add(b.as_tensor()).unwrap();
                    close(&flat(&ours), &flat(&theirs), "value");
                    let go = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
                    let gt = (&theirs * &r).unwrap().sum_all().unwrap().backward().unwrap();
                    for (v, what) in [(&x, "∂x"), (&w, "∂W"), (&b, "∂b")] {
                        let (a, c) = (go.get(v.as_tensor()), gt.get(v.as_tensor()));
                        let a = flat(a.unwrap_or_else(|| panic!("{what} {n}×{i}→{o}: no gradient")));
                        match c {
                            Some(c) => close(&a, &flat(c), what),
                            // Candle hands no gradient back through an empty product; ours is
                            // the empty sum.
                            None => assert!(n * i * o == 0 && a.iter().all(|&v| v == 0.0), "{what} {n}×{i}→{o}: {a:?}"),
                        }
                    }
                }
                let data = x.as_tensor().detach();
                let g = linear(&data, w.as_tensor(), Some(b.as_tensor())).unwrap().sum_all().unwrap().backward().unwrap();
                assert!(g.get(&data).is_none() && g.get(w.as_tensor()).is_some());
                // An intermediate input (the output of an op) gets ∂x; frozen weights get none.
                let frozen = w.as_tensor().detach();
                let doubled = (x.as_tensor() * 2.0).unwrap();
                let g = linear(&doubled, &frozen, Some(b.as_tensor())).unwrap().sum_all().unwrap().backward().unwrap();
                assert!(g.get(&frozen).is_none() && g.get(b.as_tensor()).is_some());
                let dx = flat(g.get(x.as_tensor()).unwrap());
                let expected = flat(&Tensor::ones((n, o), dtype, &dev).unwrap().matmul(&(w.as_tensor() * 2.0).unwrap()).unwrap());
                close(&dx, &expected, "∂x through an op");
            }
        }
        match user_threads {
            Some(v) => std::env::set_var("RAYON_NUM_THREADS", v),
            None => std::env::remove_var("RAYON_NUM_THREADS"),
        }
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((2, 3), DType::F32, &dev).unwrap();
        let w = Tensor::zeros((4, 5), DType::F32, &dev).unwrap();
        let b = Tensor::zeros(4, DType::F32, &dev).unwrap();
        assert!(linear(&x, &w, Some(&b)).unwrap_err().to_string().contains("do not fit"));
        let w64 = Tensor::zeros((4, 3), DType::F64, &dev).unwrap();
        assert!(linear(&x, &w64, Some(&b)).is_err());
    }
}
