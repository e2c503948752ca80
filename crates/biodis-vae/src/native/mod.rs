//! The native CPU engine of the Table 2 VAE: the same model as [`crate::model::ConvVae`]
//! (same parameters, same order, same initialisation, same loss — §3 and App. A.5), with
//! hand-derived gradients in the style of `biodis-nn`.
//!
//! * flat buffers allocated once per batch size; every parameter in one flat vector (so Adam
//!   is one pass, PyTorch's form, [`biodis_nn::Adam`]);
//! * convolutions as per-chunk [`conv::im2col`] + one `gemm` call, a chunk of images sized so
//!   that its column matrix stays in L2 ([`NativeVae::chunk_floats`]); input gradients and the
//!   transposed convolutions through the adjoint [`conv::col2im`];
//! * activations channel-major over the batch (`[C, B, H, W]`), so a chunk's GEMM output is a
//!   column block with no transpose; bias and ReLU fused in one pass per layer.
//!
//! Generic over [`Scalar`]: `f32` trains, `f64` runs the finite-difference gradient checks.
//! Checked against burn's model (same loss to 1e-5 relative, tests) and, through
//! `biodis bench B4 --mode check`, against PyTorch.

#[allow(unsafe_code, reason = "the raw-pointer gemm crate")]
pub mod gemm;

pub mod conv;

use crate::model::{LossWeights, Nonneg};
use biodis_nn::Scalar;
use conv::{col2im, im2col, scratch_len, Geom};

/// Image side (pixels).
const SIDE: usize = crate::model::SIDE;
/// Encoder conv channels (after the input's).
const ENC: [usize; 4] = [32, 32, 64, 64];
/// Decoder up-conv input channels (the last layer writes the image's).
const DEC: [usize; 4] = [64, 64, 32, 32];
/// Hidden width of the dense layers and the 64×4×4 bottleneck.
const HID: usize = 256;
const FLAT: usize = 1024;

/// The loss terms of one batch (already multiplied by their β, except `kl`), as
/// [`crate::VaeLoss`] reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Terms {
    pub total: f64,
    pub rec: f64,
    pub kl: f64,
    pub nonneg: f64,
    pub weight: f64,
}

/// Shape of one of the 24 parameter arrays.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
}

/// The 24 parameter arrays in the order of [`crate::model::ConvVae::set_params`].
pub fn param_layout(channels: usize, latent: usize) -> Vec<ParamInfo> {
    let mut out = Vec::with_capacity(24);
    let mut off = 0;
    let mut push = |name: String, shape: Vec<usize>| {
        let len = shape.iter().product();
        out.push(ParamInfo {
            name,
            shape,
            offset: off,
            len,
        });
        off += len;
    };
    let enc = [channels, ENC[0], ENC[1], ENC[2], ENC[3]];
    for i in 0..4 {
        push(format!("conv{i}.weight"), vec![enc[i + 1], enc[i], 4, 4]);
        push(format!("conv{i}.bias"), vec![enc[i + 1]]);
    }
    for (name, i, o) in [
        ("enc_fc", FLAT, HID),
        ("enc_out", HID, 2 * latent),
        ("dec_fc0", latent, HID),
        ("dec_fc1", HID, FLAT),
    ] {
        push(format!("{name}.weight"), vec![i, o]);
        push(format!("{name}.bias"), vec![o]);
    }
    let dec = [DEC[0], DEC[1], DEC[2], DEC[3], channels];
    for i in 0..4 {
        push(format!("upconv{i}.weight"), vec![dec[i], dec[i + 1], 4, 4]);
        push(format!("upconv{i}.bias"), vec![dec[i + 1]]);
    }
    out
}

/// A chunk's column matrix and the even/odd-split rows [`im2col`] / [`col2im`] use.
#[derive(Default)]
struct Scratch<T> {
    col: Vec<T>,
    split: Vec<T>,
}

/// Per-batch buffers (activations after their ReLU, and scratch).
#[derive(Default)]
struct Work<T> {
    batch: usize,
    /// The `chunk_floats` the scratch was sized for.
    chunk_floats: usize,
    x: Vec<T>,
    /// Encoder conv outputs `[ENC[i], B, s, s]`.
    enc: [Vec<T>; 4],
    flat: Vec<T>,
    hid: Vec<T>,
    st: Vec<T>,
    mu: Vec<T>,
    z: Vec<T>,
    dec0: Vec<T>,
    dec1: Vec<T>,
    /// `dec1` as `[64, B, 4, 4]`, then the up-conv outputs (the last: logits).
    up: [Vec<T>; 5],
    sc: Scratch<T>,
    da: Vec<T>,
    db: Vec<T>,
    dflat: Vec<T>,
    dhid: Vec<T>,
    dst: Vec<T>,
    dz: Vec<T>,
    ddec0: Vec<T>,
}

/// The VAE's parameters, gradients and buffers.
pub struct NativeVae<T: Scalar> {
    pub channels: usize,
    pub latent: usize,
    /// All parameters, flat, in [`param_layout`]'s order.
    pub params: Vec<T>,
    /// The gradient of the last [`NativeVae::loss_and_grad`], same layout.
    pub grads: Vec<T>,
    layout: Vec<ParamInfo>,
    /// Target size (values) of one chunk's column matrix.
    pub chunk_floats: usize,
    w: Work<T>,
    /// ReLU on/off patterns per layer, fixed by [`NativeVae::freeze_relus`] (gradient checks).
    frozen: Option<Vec<Vec<bool>>>,
    /// Threads of one training step (the batch split into this many parts, each part's
    /// forward and backward on its own thread and buffers, the gradients summed): 1 = this
    /// thread only. Results agree with one thread to float rounding.
    pub threads: usize,
    /// Buffers and gradients of parts 1.. (part 0 uses `w` and `grads`).
    parts: Vec<(Work<T>, Vec<T>)>,
    /// Images of the last loss / gradient call.
    last_batch: usize,
}

/// Encoder geometry of conv `i` (input channels, input side).
fn enc_geom(channels: usize, i: usize) -> Geom {
    let c = if i == 0 { channels } else { ENC[i - 1] };
    Geom { c, side: SIDE >> i }
}

/// Geometry of up-conv `i`, seen as the convolution from its output back to its input.
fn dec_geom(channels: usize, i: usize) -> Geom {
    let c = if i == 3 { channels } else { DEC[i + 1] };
    Geom {
        c,
        side: SIDE >> (3 - i),
    }
}

fn resize<T: Scalar>(v: &mut Vec<T>, n: usize) {
    v.clear();
    v.resize(n, T::ZERO);
}

impl<T: Scalar> NativeVae<T> {
    /// A model with every parameter zero (set them with [`NativeVae::set_params`]).
    pub fn new(channels: usize, latent: usize) -> NativeVae<T> {
        let layout = param_layout(channels, latent);
        let n = layout.last().map_or(0, |p| p.offset + p.len);
        NativeVae {
            channels,
            latent,
            params: vec![T::ZERO; n],
            grads: vec![T::ZERO; n],
            layout,
            chunk_floats: 1 << 17,
            w: Work::default(),
            frozen: None,
            threads: 1,
            parts: Vec::new(),
            last_batch: 0,
        }
    }

    /// The activation of ReLU layer `id` (0–3 encoder convs, 4 encoder FC, 5 the posterior
    /// mean, 6–7 decoder FCs, 8–10 up-convs).
    fn act(&self, id: usize) -> Act<'_> {
        match &self.frozen {
            None => Act::Relu,
            Some(f) => Act::Frozen(&f[id]),
        }
    }

    /// Fix every ReLU's on/off pattern to the last forward pass's, so that later passes are the
    /// network linearised there: smooth in the parameters, which a finite-difference check
    /// needs (with ~10⁵ ReLUs any step crosses some kinks). `false` lifts it.
    ///
    /// The masks are those of the last whole-batch pass on this thread: a step split over
    /// threads leaves only a part in the buffers, so freezing after one is refused
    /// (`BatchShape`); `threads` is set to 1.
    pub fn freeze_relus(&mut self, on: bool) -> Result<(), crate::VaeError> {
        if !on {
            self.frozen = None;
            return Ok(());
        }
        if self.w.batch != self.last_batch {
            return Err(crate::VaeError::BatchShape {
                what: "freeze_relus",
                got: self.w.batch,
                expected: format!(
                    "the last pass's whole batch of {} on one thread (set threads = 1 first)",
                    self.last_batch
                ),
            });
        }
        self.threads = 1;
        let w = &self.w;
        let on = |a: &Vec<T>| a.iter().map(|&v| v > T::ZERO).collect::<Vec<bool>>();
        let l = self.latent;
        let mu: Vec<bool> = (0..w.batch * l)
            .map(|k| w.st[(k / l) * 2 * l + k % l] > T::ZERO)
            .collect();
        self.frozen = Some(vec![
            on(&w.enc[0]),
            on(&w.enc[1]),
            on(&w.enc[2]),
            on(&w.enc[3]),
            on(&w.hid),
            mu,
            on(&w.dec0),
            on(&w.dec1),
            on(&w.up[1]),
            on(&w.up[2]),
            on(&w.up[3]),
        ]);
        Ok(())
    }

    /// The parameter arrays' names, shapes and offsets.
    pub fn layout(&self) -> &[ParamInfo] {
        &self.layout
    }

    /// Overwrite every parameter from 24 flat arrays (the order of [`param_layout`]). Errors
    /// name the array whose length is wrong.
    pub fn set_params(&mut self, arrays: &[Vec<f32>]) -> Result<(), crate::VaeError> {
        if arrays.len() != self.layout.len() {
            return Err(crate::VaeError::ParamCount {
                got: arrays.len(),
                expected: self.layout.len(),
            });
        }
        for (p, a) in self.layout.iter().zip(arrays) {
            if a.len() != p.len {
                return Err(crate::VaeError::ParamLength {
                    name: p.name.clone(),
                    got: a.len(),
                    expected: p.len,
                    shape: p.shape.clone(),
                });
            }
        }
        for (p, a) in self.layout.iter().zip(arrays) {
            for (d, s) in self.params[p.offset..p.offset + p.len].iter_mut().zip(a) {
                *d = T::from_f64(f64::from(*s));
            }
        }
        Ok(())
    }

    /// Split a flat vector of this layout into the 24 arrays (as `f32`).
    pub fn split(&self, flat: &[T]) -> Vec<Vec<f32>> {
        self.layout
            .iter()
            .map(|p| {
                flat[p.offset..p.offset + p.len]
                    .iter()
                    .map(|v| v.to_f64() as f32)
                    .collect()
            })
            .collect()
    }

    /// Every parameter as the 24 arrays.
    pub fn get_params(&self) -> Vec<Vec<f32>> {
        self.split(&self.params)
    }

    fn ensure(&self, w: &mut Work<T>, b: usize) {
        if w.batch == b && w.chunk_floats == self.chunk_floats {
            return;
        }
        let (c, l) = (self.channels, self.latent);
        let (mut col, mut split) = (0, 0);
        for i in 0..4 {
            for g in [enc_geom(c, i), dec_geom(c, i)] {
                let nb = self.chunk(g, b);
                col = col.max(g.k() * nb * g.p());
                split = split.max(scratch_len(g, nb));
            }
        }
        w.batch = b;
        w.chunk_floats = self.chunk_floats;
        resize(&mut w.x, c * b * SIDE * SIDE);
        for (i, (e, &ch)) in w.enc.iter_mut().zip(&ENC).enumerate() {
            let s = SIDE >> (i + 1);
            resize(e, ch * b * s * s);
        }
        resize(&mut w.flat, b * FLAT);
        resize(&mut w.hid, b * HID);
        resize(&mut w.st, b * 2 * l);
        resize(&mut w.mu, b * l);
        resize(&mut w.z, b * l);
        resize(&mut w.dec0, b * HID);
        resize(&mut w.dec1, b * FLAT);
        let up_c = [DEC[0], DEC[1], DEC[2], DEC[3], c];
        for (i, u) in w.up.iter_mut().enumerate() {
            let s = 4 << i;
            resize(u, up_c[i] * b * s * s);
        }
        let max_act = w
            .enc
            .iter()
            .chain(w.up.iter())
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        resize(&mut w.da, max_act);
        resize(&mut w.db, max_act);
        resize(&mut w.sc.col, col);
        resize(&mut w.sc.split, split);
        resize(&mut w.dflat, b * FLAT);
        resize(&mut w.dhid, b * HID);
        resize(&mut w.dst, b * 2 * l);
        resize(&mut w.dz, b * l);
        resize(&mut w.ddec0, b * HID);
    }

    /// Images per chunk for geometry `g` at batch `b`.
    fn chunk(&self, g: Geom, b: usize) -> usize {
        (self.chunk_floats / (g.k() * g.p())).clamp(1, b)
    }

    fn param(&self, i: usize) -> &[T] {
        let p = &self.layout[i];
        &self.params[p.offset..p.offset + p.len]
    }

    /// Forward pass of `b` images `x` (`[B, C, 64, 64]`, values in [0, 1]) with noise `eps`
    /// (`[B, latent]`; `None`: decode the mean). Leaves every activation in the buffers.
    fn forward(&self, w: &mut Work<T>, x: &[T], eps: Option<&[T]>, nonneg: Nonneg, b: usize) {
        self.encoder(w, x, eps, nonneg, b);
        self.decoder(w, b);
    }

    /// Encoder and latent of the forward pass (up to `w.z`; `w.mu` the scored means).
    fn encoder(&self, w: &mut Work<T>, x: &[T], eps: Option<&[T]>, nonneg: Nonneg, b: usize) {
        self.ensure(w, b);
        let (c, l) = (self.channels, self.latent);
        let hw = SIDE * SIDE;
        // [B, C, HW] → [C, B, HW]
        for bi in 0..b {
            for ci in 0..c {
                w.x[(ci * b + bi) * hw..][..hw].copy_from_slice(&x[(bi * c + ci) * hw..][..hw]);
            }
        }
        for (i, &cout) in ENC.iter().enumerate() {
            let g = enc_geom(c, i);
            let mut out = std::mem::take(&mut w.enc[i]);
            let input = if i == 0 { &w.x } else { &w.enc[i - 1] };
            self.conv_fwd(g, cout, self.param(2 * i), input, &mut out, &mut w.sc, b);
            bias_act(&mut out, self.param(2 * i + 1), b * g.p(), self.act(i));
            w.enc[i] = out;
        }
        // [64, B, 16] → [B, 1024] (channel-major per image, PyTorch's reshape)
        flatten(&w.enc[3], &mut w.flat, b);
        dense(
            &w.flat,
            self.param(8),
            self.param(9),
            &mut w.hid,
            b,
            FLAT,
            HID,
            self.act(4),
        );
        dense(
            &w.hid,
            self.param(10),
            self.param(11),
            &mut w.st,
            b,
            HID,
            2 * l,
            Act::None,
        );
        let mu_mask = self.frozen.as_ref().map(|f| &f[5]);
        for bi in 0..b {
            for j in 0..l {
                let raw = w.st[bi * 2 * l + j];
                let m = match nonneg {
                    Nonneg::Relu => match mu_mask {
                        None => relu(raw),
                        Some(m) if m[bi * l + j] => raw,
                        Some(_) => T::ZERO,
                    },
                    _ => raw,
                };
                w.mu[bi * l + j] = m;
                w.z[bi * l + j] = match eps {
                    Some(e) => {
                        let lv = w.st[bi * 2 * l + l + j];
                        m + (T::from_f64(0.5) * lv).exp() * e[bi * l + j]
                    }
                    None => m,
                };
            }
        }
    }

    /// Decoder from `w.z` to the logits in `w.up[4]`.
    fn decoder(&self, w: &mut Work<T>, b: usize) {
        let (c, l) = (self.channels, self.latent);
        dense(
            &w.z,
            self.param(12),
            self.param(13),
            &mut w.dec0,
            b,
            l,
            HID,
            self.act(6),
        );
        dense(
            &w.dec0,
            self.param(14),
            self.param(15),
            &mut w.dec1,
            b,
            HID,
            FLAT,
            self.act(7),
        );
        unflatten(&w.dec1, &mut w.up[0], b);
        for i in 0..4 {
            let g = dec_geom(c, i);
            let (lo, hi) = w.up.split_at_mut(i + 1);
            let out = &mut hi[0];
            self.upconv_fwd(g, DEC[i], self.param(16 + 2 * i), &lo[i], out, &mut w.sc, b);
            let act = if i < 3 { self.act(8 + i) } else { Act::None };
            bias_act(out, self.param(17 + 2 * i), b * g.side * g.side, act);
        }
    }

    /// Convolution `out[o, ·] = W · im2col(input)` (no bias).
    #[allow(clippy::too_many_arguments)]
    fn conv_fwd(
        &self,
        g: Geom,
        cout: usize,
        wt: &[T],
        input: &[T],
        out: &mut [T],
        sc: &mut Scratch<T>,
        b: usize,
    ) {
        let (col, split) = (&mut sc.col[..], &mut sc.split[..]);
        let (k, p) = (g.k(), g.p());
        let nb = self.chunk(g, b);
        for (b0, n) in chunks(b, nb) {
            im2col(g, input, b, b0, n, split, col);
            gemm::mm(
                cout,
                k,
                n * p,
                wt,
                (k, 1),
                col,
                (n * p, 1),
                T::ZERO,
                &mut out[b0 * p..],
                (b * p, 1),
            );
        }
    }

    /// Transposed convolution `out = col2im(Wᵀ · input)` (no bias); `g` is the geometry of
    /// the output side, `cin` the input's channels.
    #[allow(clippy::too_many_arguments)]
    fn upconv_fwd(
        &self,
        g: Geom,
        cin: usize,
        wt: &[T],
        input: &[T],
        out: &mut [T],
        sc: &mut Scratch<T>,
        b: usize,
    ) {
        let (col, split) = (&mut sc.col[..], &mut sc.split[..]);
        let (k, p) = (g.k(), g.p());
        let nb = self.chunk(g, b);
        out.fill(T::ZERO);
        for (b0, n) in chunks(b, nb) {
            gemm::mm(
                k,
                cin,
                n * p,
                wt,
                (1, k),
                &input[b0 * p..],
                (b * p, 1),
                T::ZERO,
                col,
                (n * p, 1),
            );
            col2im(g, col, b, b0, n, split, out);
        }
    }

    /// Images in `x` (`[B, C, 64, 64]`), checked against `eps` (`[B, latent]`) when given.
    fn batch_of(&self, x: &[T], eps: Option<&[T]>) -> Result<usize, crate::VaeError> {
        let per = self.channels * SIDE * SIDE;
        if x.is_empty() || !x.len().is_multiple_of(per) {
            return Err(crate::VaeError::BatchShape {
                what: "images",
                got: x.len(),
                expected: format!("a positive multiple of {per} (C × 64 × 64)"),
            });
        }
        let b = x.len() / per;
        if let Some(e) = eps {
            if e.len() != b * self.latent {
                return Err(crate::VaeError::BatchShape {
                    what: "eps",
                    got: e.len(),
                    expected: format!("{} ({b} images × {} latents)", b * self.latent, self.latent),
                });
            }
        }
        Ok(b)
    }

    /// The loss terms of a batch without gradients (`eps` drawn by the caller).
    pub fn loss(&mut self, x: &[T], eps: &[T], hp: &LossWeights) -> Result<Terms, crate::VaeError> {
        let b = self.batch_of(x, Some(eps))?;
        self.last_batch = b;
        let mut w = std::mem::take(&mut self.w);
        self.forward(&mut w, x, Some(eps), hp.nonneg, b);
        let mut t = self.terms(&mut w, hp, b, 1.0 / b as f64, false);
        self.w = w;
        self.add_weight_energy(&mut t, hp);
        Ok(t)
    }

    /// `β_weight Σ ‖W‖²` over the decoder's dense weights, into `t` (not summed when
    /// β_weight = 0: the term is 0 whatever the weights).
    fn add_weight_energy(&self, t: &mut Terms, hp: &LossWeights) {
        if hp.beta_weight != 0.0 {
            let energy: f64 = [12usize, 14]
                .iter()
                .map(|&i| {
                    self.param(i)
                        .iter()
                        .map(|v| v.to_f64() * v.to_f64())
                        .sum::<f64>()
                })
                .sum();
            t.weight = hp.beta_weight * energy;
        }
        t.total = t.rec + hp.beta_vae * t.kl + t.nonneg + t.weight;
    }

    /// The per-image loss terms of the `b` images in `w`, each sum multiplied by `scale`
    /// (1 / the whole batch, of which they may be a part); without the weight energy. With
    /// `grad`, also `d rec / d logits = scale · (σ(logit) − x)` into `w.da` in the same pass
    /// (σ from the same `e^−|l|`).
    fn terms(&self, w: &mut Work<T>, hp: &LossWeights, b: usize, scale: f64, grad: bool) -> Terms {
        let l = self.latent;
        let hw = SIDE * SIDE;
        let c = self.channels;
        // Sigmoid cross-entropy max(l, 0) − x·l + ln(1 + e^−|l|), summed per 64-pixel row in
        // the working precision, the rows in f64.
        let mut rec = 0.0f64;
        let inv_b = T::from_f64(scale);
        let n_out = w.up[4].len();
        if grad {
            let rows = w.up[4]
                .chunks(SIDE)
                .zip(w.x.chunks(SIDE))
                .zip(w.da[..n_out].chunks_mut(SIDE));
            for ((lg, xs), ds) in rows {
                let mut row = T::ZERO;
                for ((&v, &t), d) in lg.iter().zip(xs).zip(ds) {
                    let e = (-v.abs()).exp();
                    row += relu(v) - t * v + ln1p_unit(e);
                    let inv = T::ONE / (T::ONE + e);
                    let sig = if v >= T::ZERO { inv } else { e * inv };
                    *d = (sig - t) * inv_b;
                }
                rec += row.to_f64();
            }
        } else {
            for (lg, xs) in w.up[4].chunks(SIDE).zip(w.x.chunks(SIDE)) {
                let mut row = T::ZERO;
                for (&v, &t) in lg.iter().zip(xs) {
                    row += relu(v) - t * v + ln1p_unit((-v.abs()).exp());
                }
                rec += row.to_f64();
            }
        }
        debug_assert_eq!(w.up[4].len(), c * b * hw);
        rec *= scale;
        let (mut kl, mut nn) = (0.0f64, 0.0f64);
        for bi in 0..b {
            for j in 0..l {
                let m = w.mu[bi * l + j].to_f64();
                let lv = w.st[bi * 2 * l + l + j].to_f64();
                kl += 1.0 + lv - m * m - lv.exp();
                if hp.nonneg == Nonneg::Hinge {
                    nn += (-w.st[bi * 2 * l + j].to_f64()).max(0.0);
                }
            }
        }
        kl *= -0.5 * scale;
        let nonneg = hp.beta_nonneg * nn * scale;
        Terms {
            total: rec + hp.beta_vae * kl + nonneg,
            rec,
            kl,
            nonneg,
            weight: 0.0,
        }
    }

    /// The loss terms of a batch and, in [`NativeVae::grads`], the gradient of their total.
    pub fn loss_and_grad(
        &mut self,
        x: &[T],
        eps: &[T],
        hp: &LossWeights,
    ) -> Result<Terms, crate::VaeError> {
        let b = self.batch_of(x, Some(eps))?;
        self.last_batch = b;
        let scale = 1.0 / b as f64;
        let threads = if self.frozen.is_some() {
            1
        } else {
            self.threads.clamp(1, b)
        };
        let mut w = std::mem::take(&mut self.w);
        let mut grads = std::mem::take(&mut self.grads);
        let mut t = if threads == 1 {
            self.part(&mut w, &mut grads, x, eps, hp, scale)
        } else {
            // parts of near-equal size; part 0 on this thread with `w` and `grads`
            let mut parts = std::mem::take(&mut self.parts);
            parts.resize_with(threads - 1, || {
                (Work::default(), vec![T::ZERO; grads.len()])
            });
            let per = self.channels * SIDE * SIDE;
            let l = self.latent;
            let bounds: Vec<usize> = (0..=threads).map(|k| k * b / threads).collect();
            let this = &*self;
            let mut t = std::thread::scope(|sc| {
                let handles: Vec<_> = parts
                    .iter_mut()
                    .enumerate()
                    .map(|(k, (pw, pg))| {
                        let (lo, hi) = (bounds[k + 1], bounds[k + 2]);
                        let (xs, es) = (&x[lo * per..hi * per], &eps[lo * l..hi * l]);
                        sc.spawn(move || this.part(pw, pg, xs, es, hp, scale))
                    })
                    .collect();
                let (lo, hi) = (bounds[0], bounds[1]);
                let mut t = this.part(
                    &mut w,
                    &mut grads,
                    &x[lo * per..hi * per],
                    &eps[lo * l..hi * l],
                    hp,
                    scale,
                );
                for h in handles {
                    // a part's thread panicking is a bug in this module: propagate it
                    let u = h.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
                    t.rec += u.rec;
                    t.kl += u.kl;
                    t.nonneg += u.nonneg;
                }
                t
            });
            for (_, pg) in &parts {
                for (g, &v) in grads.iter_mut().zip(pg) {
                    *g += v;
                }
            }
            self.parts = parts;
            t.total = 0.0;
            t
        };
        self.w = w;
        // the weight energy: once, not per part
        let two_bw = T::from_f64(2.0 * hp.beta_weight);
        if hp.beta_weight != 0.0 {
            for i in [12usize, 14] {
                let p = &self.layout[i];
                let (gs, ps) = (
                    &mut grads[p.offset..p.offset + p.len],
                    &self.params[p.offset..p.offset + p.len],
                );
                for (g, &v) in gs.iter_mut().zip(ps) {
                    *g += two_bw * v;
                }
            }
        }
        self.grads = grads;
        self.add_weight_energy(&mut t, hp);
        Ok(t)
    }

    /// Forward, per-image terms and backward of the `x.len() / (C·64²)` images of one part
    /// into `w` and `grads` (overwritten), every per-image sum multiplied by `scale`.
    fn part(
        &self,
        w: &mut Work<T>,
        grads: &mut [T],
        x: &[T],
        eps: &[T],
        hp: &LossWeights,
        scale: f64,
    ) -> Terms {
        let b = eps.len() / self.latent;
        self.forward(w, x, Some(eps), hp.nonneg, b);
        let t = self.terms(w, hp, b, scale, true);
        self.backward(w, grads, eps, hp, b, scale);
        t
    }

    fn backward(
        &self,
        w: &mut Work<T>,
        grads: &mut [T],
        eps: &[T],
        hp: &LossWeights,
        b: usize,
        scale: f64,
    ) {
        let (c, l) = (self.channels, self.latent);
        let inv_b = T::from_f64(scale);
        // w.da holds d rec / d logits (written by `terms`)
        let mut cur = std::mem::take(&mut w.da);
        let mut other = std::mem::take(&mut w.db);
        for i in (0..4).rev() {
            let g = dec_geom(c, i);
            let side = g.side;
            let (gw, gb) = self.grad_slices(grads, 16 + 2 * i);
            bias_grad(&cur[..g.c * b * side * side], gb, b * side * side);
            let cin = DEC[i];
            let pin = g.p();
            let dx = &mut other[..cin * b * pin];
            self.upconv_bwd(
                g,
                cin,
                self.param(16 + 2 * i),
                &w.up[i],
                &cur,
                dx,
                gw,
                &mut w.sc,
                b,
            );
            // through the ReLU that produced this layer's input
            relu_mask(dx, &w.up[i]);
            std::mem::swap(&mut cur, &mut other);
        }
        // [64, B, 16] → [B, 1024]
        let mut ddec1 = std::mem::take(&mut w.dflat);
        flatten(&cur, &mut ddec1, b);
        {
            let (gw, gb) = self.grad_slices(grads, 14);
            dense_bwd(
                &w.dec0,
                self.param(14),
                &ddec1,
                gw,
                gb,
                Some(&mut w.ddec0),
                b,
                HID,
                FLAT,
            );
        }
        relu_mask(&mut w.ddec0, &w.dec0);
        {
            let (gw, gb) = self.grad_slices(grads, 12);
            dense_bwd(
                &w.z,
                self.param(12),
                &w.ddec0,
                gw,
                gb,
                Some(&mut w.dz),
                b,
                l,
                HID,
            );
        }
        // latent: z = μ + e^{lv/2} ε, KL, nonneg
        let bv = T::from_f64(hp.beta_vae);
        let half = T::from_f64(0.5);
        let hinge = T::from_f64(hp.beta_nonneg * scale);
        for bi in 0..b {
            for j in 0..l {
                let raw = w.st[bi * 2 * l + j];
                let lv = w.st[bi * 2 * l + l + j];
                let dz = w.dz[bi * l + j];
                let m = w.mu[bi * l + j];
                let sig = (half * lv).exp();
                let dmu = dz + bv * m * inv_b;
                let dmu_raw = match hp.nonneg {
                    Nonneg::Relu => {
                        if raw > T::ZERO {
                            dmu
                        } else {
                            T::ZERO
                        }
                    }
                    Nonneg::Hinge => {
                        if raw < T::ZERO {
                            dmu - hinge
                        } else {
                            dmu
                        }
                    }
                    Nonneg::None => dmu,
                };
                w.dst[bi * 2 * l + j] = dmu_raw;
                w.dst[bi * 2 * l + l + j] =
                    dz * half * sig * eps[bi * l + j] + bv * half * inv_b * (lv.exp() - T::ONE);
            }
        }
        {
            let (gw, gb) = self.grad_slices(grads, 10);
            dense_bwd(
                &w.hid,
                self.param(10),
                &w.dst,
                gw,
                gb,
                Some(&mut w.dhid),
                b,
                HID,
                2 * l,
            );
        }
        relu_mask(&mut w.dhid, &w.hid);
        {
            // the input gradient goes into ddec1's buffer (free now), then back to [64, B, 16]
            let (gw, gb) = self.grad_slices(grads, 8);
            dense_bwd(
                &w.flat,
                self.param(8),
                &w.dhid,
                gw,
                gb,
                Some(&mut ddec1),
                b,
                FLAT,
                HID,
            );
        }
        let n3 = ENC[3] * b * 16;
        unflatten(&ddec1, &mut cur[..n3], b);
        relu_mask(&mut cur[..n3], &w.enc[3]);
        w.dflat = ddec1;
        for i in (0..4).rev() {
            let g = enc_geom(c, i);
            let (gw, gb) = self.grad_slices(grads, 2 * i);
            let p = g.p();
            let dy = &cur[..ENC[i] * b * p];
            bias_grad(dy, gb, b * p);
            let input = if i == 0 { &w.x } else { &w.enc[i - 1] };
            let dx = if i == 0 {
                None
            } else {
                Some(&mut other[..g.c * b * g.hw()])
            };
            self.conv_bwd(
                g,
                ENC[i],
                self.param(2 * i),
                input,
                dy,
                dx,
                gw,
                &mut w.sc,
                b,
            );
            if i > 0 {
                relu_mask(&mut other[..g.c * b * g.hw()], &w.enc[i - 1]);
                std::mem::swap(&mut cur, &mut other);
            }
        }
        w.da = cur;
        w.db = other;
    }

    /// The weight and bias gradient slices of layer `i` (weight index `i`, bias `i + 1`).
    fn grad_slices<'a>(&self, grads: &'a mut [T], i: usize) -> (&'a mut [T], &'a mut [T]) {
        let (pw, pb) = (&self.layout[i], &self.layout[i + 1]);
        debug_assert_eq!(pw.offset + pw.len, pb.offset);
        let (a, rest) = grads[pw.offset..].split_at_mut(pw.len);
        (a, &mut rest[..pb.len])
    }

    /// Conv backward: `dW = dY · colᵀ`, `dx = col2im(Wᵀ · dY)` (when wanted).
    #[allow(clippy::too_many_arguments)]
    fn conv_bwd(
        &self,
        g: Geom,
        cout: usize,
        wt: &[T],
        input: &[T],
        dy: &[T],
        mut dx: Option<&mut [T]>,
        gw: &mut [T],
        sc: &mut Scratch<T>,
        b: usize,
    ) {
        let (col, split) = (&mut sc.col[..], &mut sc.split[..]);
        let (k, p) = (g.k(), g.p());
        let nb = self.chunk(g, b);
        if let Some(d) = dx.as_deref_mut() {
            d.fill(T::ZERO);
        }
        for (b0, n) in chunks(b, nb) {
            im2col(g, input, b, b0, n, split, col);
            let beta = if b0 == 0 { T::ZERO } else { T::ONE };
            gemm::mm(
                cout,
                n * p,
                k,
                &dy[b0 * p..],
                (b * p, 1),
                col,
                (1, n * p),
                beta,
                gw,
                (k, 1),
            );
            if let Some(d) = dx.as_deref_mut() {
                gemm::mm(
                    k,
                    cout,
                    n * p,
                    wt,
                    (1, k),
                    &dy[b0 * p..],
                    (b * p, 1),
                    T::ZERO,
                    col,
                    (n * p, 1),
                );
                col2im(g, col, b, b0, n, split, d);
            }
        }
    }

    /// Transposed-conv backward: with `col = im2col(dY)`, `dW = X · colᵀ`, `dX = W · col`.
    #[allow(clippy::too_many_arguments)]
    fn upconv_bwd(
        &self,
        g: Geom,
        cin: usize,
        wt: &[T],
        input: &[T],
        dy: &[T],
        dx: &mut [T],
        gw: &mut [T],
        sc: &mut Scratch<T>,
        b: usize,
    ) {
        let (col, split) = (&mut sc.col[..], &mut sc.split[..]);
        let (k, p) = (g.k(), g.p());
        let nb = self.chunk(g, b);
        for (b0, n) in chunks(b, nb) {
            im2col(g, dy, b, b0, n, split, col);
            let beta = if b0 == 0 { T::ZERO } else { T::ONE };
            gemm::mm(
                cin,
                n * p,
                k,
                &input[b0 * p..],
                (b * p, 1),
                col,
                (1, n * p),
                beta,
                gw,
                (k, 1),
            );
            gemm::mm(
                cin,
                k,
                n * p,
                wt,
                (k, 1),
                col,
                (n * p, 1),
                T::ZERO,
                &mut dx[b0 * p..],
                (b * p, 1),
            );
        }
    }

    /// Encode `b` images: the scored posterior means (after the nonnegativity choice),
    /// `[B, latent]`.
    pub fn mean(&mut self, x: &[T], nonneg: Nonneg) -> Result<Vec<T>, crate::VaeError> {
        let b = self.batch_of(x, None)?;
        let mut w = std::mem::take(&mut self.w);
        self.encoder(&mut w, x, None, nonneg, b);
        let mu = w.mu.clone();
        self.w = w;
        Ok(mu)
    }

    /// Decode latents `z` (`[B, latent]`) to logits `[B, C, 64, 64]`.
    pub fn decode(&mut self, z: &[T]) -> Result<Vec<T>, crate::VaeError> {
        let (c, l) = (self.channels, self.latent);
        if z.is_empty() || !z.len().is_multiple_of(l) {
            return Err(crate::VaeError::BatchShape {
                what: "latents",
                got: z.len(),
                expected: format!("a positive multiple of {l} (the latent dimension)"),
            });
        }
        let b = z.len() / l;
        let mut w = std::mem::take(&mut self.w);
        self.ensure(&mut w, b);
        w.z.copy_from_slice(z);
        self.decoder(&mut w, b);
        let hw = SIDE * SIDE;
        let mut out = vec![T::ZERO; b * c * hw];
        for bi in 0..b {
            for ci in 0..c {
                out[(bi * c + ci) * hw..][..hw]
                    .copy_from_slice(&w.up[4][(ci * b + bi) * hw..][..hw]);
            }
        }
        self.w = w;
        Ok(out)
    }
}

/// The chunks `(first image, images)` of `nb` images (the last one shorter) covering `0..b`.
fn chunks(b: usize, nb: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..b)
        .step_by(nb.max(1))
        .map(move |b0| (b0, nb.max(1).min(b - b0)))
}

/// `max(v, 0)`, NaN kept (as burn's and PyTorch's ReLU): a diverged value stays visible.
#[inline]
fn relu<T: Scalar>(v: T) -> T {
    if v <= T::ZERO {
        T::ZERO
    } else {
        v
    }
}

/// `ln(1 + e)` for `e` ∈ [0, 1] (the cross-entropy's `ln(1 + e^−|l|)`): `2 atanh(s)` with
/// `s = e / (2 + e)` ∈ [0, 1/3], its odd series to s¹³ in `f32` (truncation < 2e-8 relative,
/// below `f32` rounding) and to s³³ in `f64`. libm's `log1pf` was 7 % of a B4 step.
#[inline]
fn ln1p_unit<T: Scalar>(e: T) -> T {
    let s = e / (T::from_f64(2.0) + e);
    let s2 = s * s;
    let terms = if std::mem::size_of::<T>() == 4 { 7 } else { 17 };
    let mut acc = T::ZERO;
    for k in (0..terms).rev() {
        acc = acc * s2 + T::from_f64(1.0 / (2 * k + 1) as f64);
    }
    T::from_f64(2.0) * s * acc
}

/// What follows a layer's bias.
#[derive(Clone, Copy)]
enum Act<'a> {
    None,
    Relu,
    /// The ReLU with its on/off pattern fixed (the gradient checks' linearisation).
    Frozen(&'a [bool]),
}

impl Act<'_> {
    /// Apply to `v`, the `k`-th value of the layer.
    #[inline]
    fn apply<T: Scalar>(self, v: T, k: usize) -> T {
        match self {
            Act::None => v,
            Act::Relu => relu(v),
            Act::Frozen(m) => {
                if m[k] {
                    v
                } else {
                    T::ZERO
                }
            }
        }
    }
}

/// `out[c, ·] += bias[c]` over rows of `n`, then the activation.
fn bias_act<T: Scalar>(out: &mut [T], bias: &[T], n: usize, act: Act<'_>) {
    for (c, (row, &bv)) in out.chunks_mut(n).zip(bias).enumerate() {
        match act {
            Act::Relu => {
                for v in row {
                    *v = relu(*v + bv);
                }
            }
            Act::None => {
                for v in row {
                    *v += bv;
                }
            }
            Act::Frozen(_) => {
                for (k, v) in row.iter_mut().enumerate() {
                    *v = act.apply(*v + bv, c * n + k);
                }
            }
        }
    }
}

/// `gb[c] = Σ dy[c, ·]` over rows of `n`.
fn bias_grad<T: Scalar>(dy: &[T], gb: &mut [T], n: usize) {
    for (row, g) in dy.chunks(n).zip(gb.iter_mut()) {
        let mut acc = T::ZERO;
        for &v in row {
            acc += v;
        }
        *g = acc;
    }
}

/// `d ← d · [a > 0]` (the ReLU's derivative from its output).
fn relu_mask<T: Scalar>(d: &mut [T], a: &[T]) {
    for (d, &a) in d.iter_mut().zip(a) {
        if a <= T::ZERO {
            *d = T::ZERO;
        }
    }
}

/// `[64, B, 16]` → `[B, 1024]`.
fn flatten<T: Scalar>(src: &[T], dst: &mut [T], b: usize) {
    for ch in 0..FLAT / 16 {
        for bi in 0..b {
            dst[bi * FLAT + ch * 16..][..16].copy_from_slice(&src[(ch * b + bi) * 16..][..16]);
        }
    }
}

/// `[B, 1024]` → `[64, B, 16]`.
fn unflatten<T: Scalar>(src: &[T], dst: &mut [T], b: usize) {
    for ch in 0..FLAT / 16 {
        for bi in 0..b {
            dst[(ch * b + bi) * 16..][..16].copy_from_slice(&src[bi * FLAT + ch * 16..][..16]);
        }
    }
}

/// `y = x · W + b` (`x [B, i]`, `W [i, o]`), then the activation.
#[allow(clippy::too_many_arguments)]
fn dense<T: Scalar>(
    x: &[T],
    w: &[T],
    bias: &[T],
    y: &mut [T],
    b: usize,
    i: usize,
    o: usize,
    act: Act<'_>,
) {
    gemm::mm(b, i, o, x, (i, 1), w, (o, 1), T::ZERO, y, (o, 1));
    for (r, row) in y.chunks_mut(o).enumerate() {
        for (k, (v, &bv)) in row.iter_mut().zip(bias).enumerate() {
            *v = act.apply(*v + bv, r * o + k);
        }
    }
}

/// Dense backward: `dW = xᵀ dy`, `db = Σ_b dy`, `dx = dy Wᵀ` (when wanted).
#[allow(clippy::too_many_arguments)]
fn dense_bwd<T: Scalar>(
    x: &[T],
    w: &[T],
    dy: &[T],
    gw: &mut [T],
    gb: &mut [T],
    dx: Option<&mut [T]>,
    b: usize,
    i: usize,
    o: usize,
) {
    gemm::mm(i, b, o, x, (1, i), dy, (o, 1), T::ZERO, gw, (o, 1));
    gb.fill(T::ZERO);
    for row in dy.chunks(o) {
        for (g, &v) in gb.iter_mut().zip(row) {
            *g += v;
        }
    }
    if let Some(dx) = dx {
        gemm::mm(b, o, i, dy, (o, 1), w, (1, o), T::ZERO, dx, (i, 1));
    }
}

#[cfg(test)]
mod tests;
