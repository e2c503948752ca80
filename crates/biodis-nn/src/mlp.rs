//! Sequential dense networks (MLPs) with hand-derived reverse-mode gradients.
//!
//! A network is `L` dense layers `pre_l = a_{l-1} W_l + b_l` (`W_l` stored `[in, out]`
//! row-major, every layer has a bias, as Table 1's parameter counts imply), each hidden layer
//! followed by its activation (`relu` or `identity`), the last layer by the head:
//! - `mse`: identity output, squared error; `reduction = "mean"` averages over batch and
//!   outputs (PyTorch `mse_loss`), `"sum_outputs"` sums over outputs and averages over the batch;
//! - `sigmoid_ce`: sigmoid output, binary cross-entropy with logits summed over outputs and
//!   averaged over the batch (targets in [0, 1]).
//!
//! The biological constraint terms ([`crate::constraints`]) are added to the loss and their
//! gradients enter the same backward pass. Parameters live in one flat vector (layer by layer:
//! `W_0, b_0, W_1, b_1, …`) so the optimiser and checkpoints are one loop / one tensor.
//! Buffers are kept across steps: a training step allocates nothing.

use crate::constraints::Constraints;
#[cfg(target_arch = "x86_64")]
use crate::kernels::Isa;
use crate::scalar::Scalar;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Hidden-layer activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    Relu,
    Identity,
}

/// Output head and task loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// Identity output + squared error.
    Mse,
    /// Sigmoid output + sigmoid cross-entropy.
    SigmoidCe,
}

/// Reduction of the squared error (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    #[default]
    Mean,
    SumOutputs,
}

/// The loss terms of one evaluation (defined by the run-directory contract, which persists
/// them in `curve.csv`, `result.json` and `status.json`).
pub use biodis_rundir::LossTerms;

/// JSON has no NaN/Inf: non-finite values are written as `null` and read back as NaN (the
/// run-directory contract's helper, re-exported).
pub use biodis_rundir::nan::scalar as nan_as_null;

/// Architecture of an MLP.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpSpec {
    /// Layer widths `[in, h_0, …, h_{L-2}, out]`.
    pub dims: Vec<usize>,
    /// One activation per hidden layer (`dims.len() - 2` entries).
    pub activations: Vec<Activation>,
    pub head: Head,
    pub reduction: Reduction,
    /// `Some((k, p))`: hidden layer `k` has `dims[k+1]` units but only its first `p` feed layer
    /// `k+1` — the autoencoders' encoder head, which (as Table 1's parameter counts show) outputs
    /// 2 × latent units of which `latent` reach the decoder, the VAE-style layout.
    pub split: Option<(usize, usize)>,
}

impl MlpSpec {
    /// Number of dense layers.
    pub fn n_layers(&self) -> usize {
        self.dims.len() - 1
    }
    /// Number of hidden layers.
    pub fn n_hidden(&self) -> usize {
        self.dims.len() - 2
    }
    /// Total number of parameters (weights + biases).
    pub fn n_params(&self) -> usize {
        (0..self.n_layers())
            .map(|l| self.in_width(l) * self.dims[l + 1] + self.dims[l + 1])
            .sum()
    }
    /// Fan-in of layer `l` (`dims[l]`, or the passed units after a split).
    pub fn in_width(&self, l: usize) -> usize {
        match self.split {
            Some((k, p)) if l == k + 1 => p,
            _ => self.dims[l],
        }
    }
}

/// Offsets of layer `l`'s weight and bias in the flat parameter vector.
fn offsets(spec: &MlpSpec) -> Vec<(usize, usize)> {
    let mut o = Vec::with_capacity(spec.n_layers());
    let mut at = 0;
    for l in 0..spec.n_layers() {
        let (din, dout) = (spec.in_width(l), spec.dims[l + 1]);
        o.push((at, at + din * dout));
        at += din * dout + dout;
    }
    o
}

/// An MLP with its parameters, gradient and activation buffers.
#[derive(Debug, Clone)]
pub struct Mlp<T: Scalar> {
    pub spec: MlpSpec,
    /// Effective activation per hidden layer after `nonneg = relu` is applied.
    acts: Vec<Activation>,
    off: Vec<(usize, usize)>,
    pub params: Vec<T>,
    pub grads: Vec<T>,
    batch: usize,
    pre: Vec<Vec<T>>,
    post: Vec<Vec<T>>,
    dpost: Vec<T>,
    dpre: Vec<T>,
}

impl<T: Scalar> Mlp<T> {
    /// A network with PyTorch's default initialisation: every weight and bias of a layer with
    /// fan-in `n` drawn from `U(−1/√n, 1/√n)`.
    pub fn new<R: Rng>(spec: MlpSpec, constraints: &Constraints, rng: &mut R) -> Self {
        let np = spec.n_params();
        let mut params = vec![T::ZERO; np];
        let off = offsets(&spec);
        for l in 0..spec.n_layers() {
            let lim = 1.0 / (spec.in_width(l) as f64).sqrt();
            let (wo, bo) = off[l];
            for p in &mut params[wo..bo + spec.dims[l + 1]] {
                *p = T::from_f64(rng.gen_range(-lim..lim));
            }
        }
        Self::with_params(spec, constraints, params)
    }

    /// A network with the given flat parameters (`W_0, b_0, W_1, b_1, …`, `W` as `[in, out]`).
    ///
    /// Panics if `params.len() != spec.n_params()` (a programming error, not user input).
    pub fn with_params(spec: MlpSpec, constraints: &Constraints, params: Vec<T>) -> Self {
        assert_eq!(params.len(), spec.n_params(), "parameter vector length");
        let acts = (0..spec.n_hidden())
            .map(|l| {
                if constraints.forces_relu(l) {
                    Activation::Relu
                } else {
                    spec.activations[l]
                }
            })
            .collect();
        let off = offsets(&spec);
        let np = params.len();
        Mlp {
            spec,
            acts,
            off,
            params,
            grads: vec![T::ZERO; np],
            batch: 0,
            pre: Vec::new(),
            post: Vec::new(),
            dpost: Vec::new(),
            dpre: Vec::new(),
        }
    }

    /// Effective hidden activations.
    pub fn activations(&self) -> &[Activation] {
        &self.acts
    }

    fn ensure_batch(&mut self, b: usize) {
        if self.batch == b {
            return;
        }
        self.batch = b;
        let outs: Vec<usize> = self.spec.dims[1..].to_vec();
        self.pre = outs.iter().map(|&d| vec![T::ZERO; b * d]).collect();
        self.post = outs.iter().map(|&d| vec![T::ZERO; b * d]).collect();
        let maxd = *self.spec.dims.iter().max().unwrap_or(&1);
        self.dpost = vec![T::ZERO; b * maxd];
        self.dpre = vec![T::ZERO; b * maxd];
    }

    /// Weight matrix of layer `l` (`[in, out]` row-major).
    pub fn weight(&self, l: usize) -> &[T] {
        let (wo, bo) = self.off[l];
        &self.params[wo..bo]
    }

    /// Gradient of layer `l`'s weight (`[in, out]` row-major), after a `loss_and_grad`.
    pub fn weight_grad(&self, l: usize) -> &[T] {
        let (wo, bo) = self.off[l];
        &self.grads[wo..bo]
    }

    /// Forward pass on `x` (`b × in`, row-major). Afterwards [`Self::hidden`] and
    /// [`Self::output`] hold the activations of this batch.
    pub fn forward(&mut self, x: &[T], b: usize) {
        #[cfg(target_arch = "x86_64")]
        match crate::kernels::elementwise() {
            // SAFETY: `kernels` picks an instruction set only where the CPU reports it.
            Isa::Avx512 => return unsafe { self.forward_avx512(x, b) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { self.forward_avx2(x, b) },
            Isa::Portable => {}
        }
        self.forward_impl(x, b)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn forward_avx2(&mut self, x: &[T], b: usize) {
        self.forward_impl(x, b)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn forward_avx512(&mut self, x: &[T], b: usize) {
        self.forward_impl(x, b)
    }

    #[inline(always)]
    fn forward_impl(&mut self, x: &[T], b: usize) {
        self.ensure_batch(b);
        let n_layers = self.spec.n_layers();
        for l in 0..n_layers {
            let (din, dout) = (self.spec.in_width(l), self.spec.dims[l + 1]);
            let stride = self.spec.dims[l];
            let (wo, bo) = self.off[l];
            let (head, tail) = self.post.split_at_mut(l);
            let input: &[T] = if l == 0 { x } else { &head[l - 1] };
            let pre = &mut self.pre[l];
            let bias = &self.params[bo..bo + dout];
            for row in pre.chunks_exact_mut(dout) {
                row.copy_from_slice(bias);
            }
            // SAFETY: input is b×din with row stride `stride` (≥ din), W is din×dout, pre is
            // b×dout, all row-major and in bounds.
            unsafe {
                T::gemm(
                    b,
                    din,
                    dout,
                    T::ONE,
                    input.as_ptr(),
                    stride as isize,
                    1,
                    self.params[wo..].as_ptr(),
                    dout as isize,
                    1,
                    T::ONE,
                    pre.as_mut_ptr(),
                    dout as isize,
                    1,
                );
            }
            let post = &mut tail[0];
            let relu = l < n_layers - 1 && self.acts[l] == Activation::Relu;
            if relu {
                for (o, &p) in post.iter_mut().zip(pre.iter()) {
                    *o = if p > T::ZERO { p } else { T::ZERO };
                }
            } else {
                post.copy_from_slice(pre);
            }
        }
    }

    /// Post-activations of hidden layer `l` for the last forward batch (`b × width`).
    pub fn hidden(&self, l: usize) -> &[T] {
        &self.post[l]
    }

    /// Pre-activations of layer `l` for the last forward batch.
    pub fn pre_activation(&self, l: usize) -> &[T] {
        &self.pre[l]
    }

    /// Output of the last forward batch: the prediction for `mse`, the **logits** for
    /// `sigmoid_ce`.
    pub fn output(&self) -> &[T] {
        &self.post[self.spec.n_layers() - 1]
    }

    /// Loss terms of the current parameters on `(x, y)` and their gradient in `self.grads`.
    pub fn loss_and_grad(&mut self, x: &[T], y: &[T], b: usize, c: &Constraints) -> LossTerms {
        self.loss_and_grad_dispatch(Rows { x, y, b, w: None }, c)
    }

    /// [`Self::loss_and_grad`] of a minibatch in which row `r` of `(x, y)` occurs `counts[r]`
    /// times: the same loss terms and gradient as on the expanded batch of `Σ counts` rows
    /// (every per-row term is an average over the batch, so a repeated row contributes its
    /// term `counts[r]` times), while each distinct row is computed once. The trainer uses it
    /// for datasets made of a few repeated points (the categories task of App. A.7: 6
    /// distinct rows in a batch of 64, a ~10× cheaper step).
    pub fn loss_and_grad_counted(
        &mut self,
        x: &[T],
        y: &[T],
        counts: &[u32],
        c: &Constraints,
    ) -> LossTerms {
        let w: Vec<T> = counts.iter().map(|&k| T::from_f64(k as f64)).collect();
        let b = counts.len();
        self.loss_and_grad_dispatch(
            Rows {
                x,
                y,
                b,
                w: Some(&w),
            },
            c,
        )
    }

    fn loss_and_grad_dispatch(&mut self, rows: Rows<'_, T>, c: &Constraints) -> LossTerms {
        #[cfg(target_arch = "x86_64")]
        match crate::kernels::elementwise() {
            // SAFETY: `kernels` picks an instruction set only where the CPU reports it.
            Isa::Avx512 => return unsafe { self.loss_and_grad_avx512(rows, c) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { self.loss_and_grad_avx2(rows, c) },
            Isa::Portable => {}
        }
        self.loss_and_grad_impl(rows, c)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn loss_and_grad_avx2(&mut self, rows: Rows<'_, T>, c: &Constraints) -> LossTerms {
        self.loss_and_grad_impl(rows, c)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn loss_and_grad_avx512(&mut self, rows: Rows<'_, T>, c: &Constraints) -> LossTerms {
        self.loss_and_grad_impl(rows, c)
    }

    #[inline(always)]
    fn loss_and_grad_impl(&mut self, rows: Rows<'_, T>, c: &Constraints) -> LossTerms {
        let Rows { x, y, b, w } = rows;
        let bf = match w {
            Some(w) => w.iter().map(|v| v.to_f64()).sum(),
            None => b as f64,
        };
        self.forward_impl(x, b);
        let n_layers = self.spec.n_layers();
        let n_hidden = self.spec.n_hidden();
        let mut t = LossTerms::default();
        let mean_norm = c.normalisation == crate::constraints::Normalisation::Mean;

        // Head: loss and d loss / d output-pre into dpre.
        let dout = self.spec.dims[n_layers];
        {
            let out = &self.pre[n_layers - 1];
            let d = &mut self.dpre[..b * dout];
            match self.spec.head {
                Head::Mse => {
                    let denom = match self.spec.reduction {
                        Reduction::Mean => bf * dout as f64,
                        Reduction::SumOutputs => bf,
                    };
                    let scale = T::from_f64(2.0 / denom);
                    if let Some(w) = w {
                        let mut s = 0f64;
                        for (r, &wr) in w.iter().enumerate() {
                            let rows = r * dout..(r + 1) * dout;
                            let mut sr = 0f64;
                            for ((di, &o), &yi) in d[rows.clone()]
                                .iter_mut()
                                .zip(&out[rows.clone()])
                                .zip(&y[rows])
                            {
                                let e = o - yi;
                                sr += (e * e).to_f64();
                                *di = scale * wr * e;
                            }
                            s += wr.to_f64() * sr;
                        }
                        t.prediction = s / denom;
                    } else {
                        let mut acc = [T::ZERO; LANES];
                        let mut dc = d.chunks_exact_mut(LANES);
                        let mut oc = out.chunks_exact(LANES);
                        let mut yc = y.chunks_exact(LANES);
                        for ((dl, ol), yl) in (&mut dc).zip(&mut oc).zip(&mut yc) {
                            for j in 0..LANES {
                                let e = ol[j] - yl[j];
                                acc[j] += e * e;
                                dl[j] = scale * e;
                            }
                        }
                        let mut s = lane_sum(&acc);
                        for ((di, &o), &yi) in dc
                            .into_remainder()
                            .iter_mut()
                            .zip(oc.remainder())
                            .zip(yc.remainder())
                        {
                            let e = o - yi;
                            s += (e * e).to_f64();
                            *di = scale * e;
                        }
                        t.prediction = s / denom;
                    }
                }
                Head::SigmoidCe => {
                    let inv_b = T::from_f64(1.0 / bf);
                    let mut s = 0f64;
                    for (r, ((dr, zr), yr)) in d
                        .chunks_exact_mut(dout)
                        .zip(out.chunks_exact(dout))
                        .zip(y.chunks_exact(dout))
                        .enumerate()
                    {
                        let wr = w.map_or(T::ONE, |w| w[r]);
                        let scale = inv_b * wr;
                        let mut sr = 0f64;
                        for ((di, &z), &yi) in dr.iter_mut().zip(zr).zip(yr) {
                            // max(z,0) − z y + ln(1 + e^{−|z|}); gradient σ(z) − y
                            let pos = if z > T::ZERO { z } else { T::ZERO };
                            sr += (pos - z * yi + (-z.abs()).exp().ln_1p()).to_f64();
                            let sig = T::ONE / (T::ONE + (-z).exp());
                            *di = (sig - yi) * scale;
                        }
                        s += wr.to_f64() * sr;
                    }
                    t.prediction = s / bf;
                }
            }
        }

        // Weight terms and zeroed bias grads are handled per layer below.
        for l in (0..n_layers).rev() {
            let (din, dout) = (self.spec.in_width(l), self.spec.dims[l + 1]);
            let stride = self.spec.dims[l];
            let (wo, bo) = self.off[l];
            // dW = a_{l-1}^T dpre ; db = colsum dpre
            {
                let input: &[T] = if l == 0 { x } else { &self.post[l - 1] };
                let dpre = &self.dpre[..b * dout];
                // SAFETY: a^T is din×b (strides 1, stride), dpre is b×dout, dW is din×dout.
                unsafe {
                    T::gemm(
                        din,
                        b,
                        dout,
                        T::ONE,
                        input.as_ptr(),
                        1,
                        stride as isize,
                        dpre.as_ptr(),
                        dout as isize,
                        1,
                        T::ZERO,
                        self.grads[wo..].as_mut_ptr(),
                        dout as isize,
                        1,
                    );
                }
                let db = &mut self.grads[bo..bo + dout];
                db.iter_mut().for_each(|v| *v = T::ZERO);
                for row in dpre.chunks_exact(dout) {
                    for (g, &r) in db.iter_mut().zip(row.iter()) {
                        *g += r;
                    }
                }
            }
            // weight energy and weight L1 (weights only)
            let bw = c.weight_beta(l);
            let bw1 = c.weight_l1_beta(l);
            if bw > 0.0 || bw1 > 0.0 {
                let numel = (din * dout) as f64;
                let norm = if mean_norm { numel } else { 1.0 };
                let (w, g) = (&self.params[wo..bo], &mut self.grads[wo..bo]);
                let two_bw = T::from_f64(2.0 * bw / norm);
                let b1 = T::from_f64(bw1 / norm);
                let (mut a2, mut a1) = ([T::ZERO; LANES], [T::ZERO; LANES]);
                let mut gc = g.chunks_exact_mut(LANES);
                let mut wc = w.chunks_exact(LANES);
                for (gl, wl) in (&mut gc).zip(&mut wc) {
                    for j in 0..LANES {
                        let wi = wl[j];
                        a2[j] += wi * wi;
                        a1[j] += wi.abs();
                        gl[j] += two_bw * wi + b1 * sign(wi);
                    }
                }
                let (mut s2, mut s1) = (lane_sum(&a2), lane_sum(&a1));
                for (gi, &wi) in gc.into_remainder().iter_mut().zip(wc.remainder()) {
                    s2 += (wi * wi).to_f64();
                    s1 += wi.abs().to_f64();
                    *gi += two_bw * wi + b1 * sign(wi);
                }
                t.weight += bw * s2 / norm;
                t.weight_l1 += bw1 * s1 / norm;
            }
            if l == 0 {
                break;
            }
            // dpost_{l-1} = dpre_l W_l^T
            let h = l - 1;
            // the hidden layer's full width; after a split only its first `din` units receive
            // a gradient from above (the rest only from their own constraint terms)
            let width = stride;
            {
                let dpre = &self.dpre[..b * dout];
                let dpost = &mut self.dpost[..b * width];
                if din < width {
                    dpost.iter_mut().for_each(|v| *v = T::ZERO);
                }
                // SAFETY: dpre b×dout, W^T is dout×din (strides 1, dout), dpost b×din with row
                // stride `width` ≥ din.
                unsafe {
                    T::gemm(
                        b,
                        dout,
                        din,
                        T::ONE,
                        dpre.as_ptr(),
                        dout as isize,
                        1,
                        self.params[wo..].as_ptr(),
                        1,
                        dout as isize,
                        T::ZERO,
                        dpost.as_mut_ptr(),
                        width as isize,
                        1,
                    );
                }
            }
            // hidden-layer terms on layer h, then through the activation into dpre_h
            let norm = if mean_norm { bf * width as f64 } else { bf };
            let ba = c.activity_beta(h);
            let bs = c.sparsity_beta(h);
            let bn = c.hinge_beta(h);
            let (two_ba, bs_t, bn_t) = (
                T::from_f64(2.0 * ba / norm),
                T::from_f64(bs / norm),
                T::from_f64(bn / norm),
            );
            let relu = self.acts[h] == Activation::Relu;
            let pre = &self.pre[h];
            let post = &self.post[h];
            let dpost = &self.dpost[..b * width];
            let dpre = &mut self.dpre[..b * width];
            let (sa, ss, sn) = match w {
                None => hidden_pass(pre, post, dpost, dpre, relu, two_ba, bs_t, bn_t),
                // each row's own terms count w[r] times (its dpost already does, from above)
                Some(w) => {
                    let mut sums = (0f64, 0f64, 0f64);
                    for (r, &wr) in w.iter().enumerate() {
                        let rows = r * width..(r + 1) * width;
                        let (a, s1, n) = hidden_pass(
                            &pre[rows.clone()],
                            &post[rows.clone()],
                            &dpost[rows.clone()],
                            &mut dpre[rows],
                            relu,
                            two_ba * wr,
                            bs_t * wr,
                            bn_t * wr,
                        );
                        let wf = wr.to_f64();
                        sums = (sums.0 + wf * a, sums.1 + wf * s1, sums.2 + wf * n);
                    }
                    sums
                }
            };
            t.activity += ba * sa / norm;
            t.sparsity += bs * ss / norm;
            t.nonneg += bn * sn / norm;
        }
        let _ = n_hidden;
        t.total = t.prediction + t.nonneg + t.activity + t.weight + t.sparsity + t.weight_l1;
        t
    }
}

/// A minibatch for the loss: `b` rows of `x` and `y`, each counted `w[r]` times (once when
/// `w` is `None`); the batch size in every average is `Σ w`.
#[derive(Clone, Copy)]
struct Rows<'a, T> {
    x: &'a [T],
    y: &'a [T],
    b: usize,
    w: Option<&'a [T]>,
}

/// Independent accumulators per reduction: lets the compiler vectorise the elementwise passes
/// (a single running sum is a serial dependency chain). Partial sums are combined in `f64`.
const LANES: usize = 16;

#[inline(always)]
fn lane_sum<T: Scalar>(acc: &[T; LANES]) -> f64 {
    acc.iter().map(|v| v.to_f64()).sum()
}

#[inline(always)]
fn sign<T: Scalar>(v: T) -> T {
    if v > T::ZERO {
        T::ONE
    } else if v < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// The hidden-layer pass of the backward sweep, fused: adds the activity (`2β a`) and
/// sparsity (`β sign a`) gradients to `dpost`, applies the ReLU mask, adds the hinge gradient
/// (`−β` where `pre < 0`), writes `dpre`, and returns the unscaled sums `(Σa², Σ|a|, Σmax(−pre,0))`.
/// Branch-free so that it vectorises; coefficients are already divided by the normaliser.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn hidden_pass<T: Scalar>(
    pre: &[T],
    post: &[T],
    dpost: &[T],
    dpre: &mut [T],
    relu: bool,
    two_ba: T,
    bs: T,
    bn: T,
) -> (f64, f64, f64) {
    let (mut aa, mut as_, mut an) = ([T::ZERO; LANES], [T::ZERO; LANES], [T::ZERO; LANES]);
    let mut pc = pre.chunks_exact(LANES);
    let mut ac = post.chunks_exact(LANES);
    let mut gc = dpost.chunks_exact(LANES);
    let mut dc = dpre.chunks_exact_mut(LANES);
    let one = |p: T, a: T, g: T| -> (T, T, T, T) {
        let g = g + two_ba * a + bs * sign(a);
        let neg = if p < T::ZERO { -p } else { T::ZERO };
        let pass = if relu && p <= T::ZERO { T::ZERO } else { g };
        let d = pass - if p < T::ZERO { bn } else { T::ZERO };
        (d, a * a, a.abs(), neg)
    };
    for (((pl, al), gl), dl) in (&mut pc).zip(&mut ac).zip(&mut gc).zip(&mut dc) {
        for j in 0..LANES {
            let (d, a2, a1, n) = one(pl[j], al[j], gl[j]);
            dl[j] = d;
            aa[j] += a2;
            as_[j] += a1;
            an[j] += n;
        }
    }
    let (mut sa, mut ss, mut sn) = (lane_sum(&aa), lane_sum(&as_), lane_sum(&an));
    for (((p, a), g), d) in pc
        .remainder()
        .iter()
        .zip(ac.remainder())
        .zip(gc.remainder())
        .zip(dc.into_remainder())
    {
        let (dd, a2, a1, n) = one(*p, *a, *g);
        *d = dd;
        sa += a2.to_f64();
        ss += a1.to_f64();
        sn += n.to_f64();
    }
    (sa, ss, sn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constraints::{Nonneg, Normalisation};
    use crate::optim::Adam;
    use rand::SeedableRng;

    /// The instruction-set copies of the elementwise passes (portable, AVX2 and, where the CPU
    /// has it, AVX-512) compute the same operations in the same order: bit-identical loss
    /// terms, gradients and Adam updates. GEMM is shared, so only the passes differ here.
    #[test]
    fn elementwise_paths_are_bit_identical() {
        let spec = MlpSpec {
            dims: vec![7, 45, 33, 6],
            activations: vec![Activation::Relu, Activation::Relu],
            head: Head::SigmoidCe,
            reduction: Reduction::Mean,
            split: None,
        };
        let c = Constraints {
            nonneg: Nonneg::Hinge,
            beta_nonneg: 0.5,
            beta_activity: 0.2,
            beta_weight: 0.03,
            beta_sparsity: 0.1,
            beta_weight_l1: 0.02,
            normalisation: Normalisation::Sum,
            ..Constraints::default()
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let b = 11;
        let x: Vec<f32> = (0..b * 7).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let y: Vec<f32> = (0..b * 6).map(|_| rng.gen_range(0.0..1.0)).collect();
        let net: Mlp<f32> = Mlp::new(spec, &c, &mut rng);
        let bits = |v: &[f32]| v.iter().map(|z| z.to_bits()).collect::<Vec<_>>();
        let rows = Rows {
            x: &x,
            y: &y,
            b,
            w: None,
        };
        let mut portable = net.clone();
        let tp = portable.loss_and_grad_impl(rows, &c);
        let mut paths: Vec<(&str, Mlp<f32>, LossTerms)> = Vec::new();
        let mut d = net.clone();
        let td = d.loss_and_grad(&x, &y, b, &c);
        paths.push(("dispatched", d, td));
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                let mut a = net.clone();
                // SAFETY: the CPU has AVX2 and FMA (checked).
                let ta = unsafe { a.loss_and_grad_avx2(rows, &c) };
                paths.push(("avx2", a, ta));
            }
            if std::is_x86_feature_detected!("avx512f") {
                let mut a = net.clone();
                // SAFETY: the CPU has AVX-512F (checked).
                let ta = unsafe { a.loss_and_grad_avx512(rows, &c) };
                paths.push(("avx512", a, ta));
            } else {
                eprintln!("note: no AVX-512 on this CPU; its copy of the passes is not compared");
            }
        }
        for (name, n, t) in &paths {
            assert_eq!(*t, tp, "{name}: loss terms");
            assert_eq!(bits(&n.grads), bits(&portable.grads), "{name}: gradient");
        }
        // Adam: the dispatched step against the portable one
        let (mut pa, mut pb) = (net.params.clone(), net.params.clone());
        let (mut oa, mut ob) = (Adam::new(pa.len()), Adam::new(pb.len()));
        oa.step(&mut pa, &portable.grads, 1e-2);
        ob.step_impl(&mut pb, &portable.grads, 1e-2);
        assert_eq!(bits(&pa), bits(&pb), "Adam update");
    }
}
