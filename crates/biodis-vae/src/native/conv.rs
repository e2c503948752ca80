//! The one convolution geometry of the Table 2 VAE — 4×4 kernel, stride 2, padding 1, a
//! `side`-pixel square input to a `side/2` output — and its two data movements:
//!
//! * [`im2col`] gathers, for a run of images, the 4×4 windows into a `[c·16, n·P]` matrix
//!   (rows `(channel, ky, kx)`, columns `(image, oy, ox)`, P = (side/2)²) so that a convolution
//!   is one GEMM `W[out, c·16] · col`;
//! * [`col2im`] is its adjoint (`dx += colᵀ` scattered back), which is both a convolution's
//!   input gradient and a transposed convolution's forward pass.
//!
//! Activations are stored channel-major over the batch, `[channel, image, y, x]` ("CBHW"), so
//! the GEMM output of a run of images is a column block of `[out, B·P]` with no transpose.

use biodis_nn::Scalar;

/// A 4×4 / stride 2 / padding 1 convolution from `c` channels of `side × side` pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geom {
    /// Channels of the full-resolution side.
    pub c: usize,
    /// Side of the full-resolution side (even).
    pub side: usize,
}

impl Geom {
    /// Output side (`side / 2`).
    pub fn out_side(self) -> usize {
        self.side / 2
    }
    /// Rows of a column matrix (`c · 16`).
    pub fn k(self) -> usize {
        self.c * 16
    }
    /// Output positions per image.
    pub fn p(self) -> usize {
        self.out_side() * self.out_side()
    }
    /// Input pixels per image and channel.
    pub fn hw(self) -> usize {
        self.side * self.side
    }
}

/// The output columns `ox` whose input column `2·ox + kx − 1` lies inside `[0, side)`.
#[inline]
fn valid_ox(kx: usize, o: usize) -> (usize, usize) {
    let lo = usize::from(kx == 0);
    let hi = if kx == 3 { o - 1 } else { o };
    (lo, hi)
}

/// For kernel column `kx`: which half of a deinterleaved row holds input column
/// `2·ox + kx − 1` (0 = even columns, 1 = odd) and at which offset from `ox` (`j = ox + shift`,
/// `shift` ∈ {−1, 0, 1}), so that a window row is one contiguous copy.
#[inline]
fn half_shift(kx: usize) -> (usize, isize) {
    match kx {
        0 => (1, -1),
        1 => (0, 0),
        2 => (1, 0),
        _ => (0, 1),
    }
}

/// Scratch values [`im2col`] and [`col2im`] need for `nb` images of `g`.
pub fn scratch_len(g: Geom, nb: usize) -> usize {
    g.c * nb * g.hw()
}

/// Gather the windows of images `b0 .. b0 + nb` of `x` (`[c, batch, side, side]`) into `col`
/// (`[c·16, nb·P]`, row-major). Padding reads as zero. Each input row is first split into its
/// even and odd columns (in `split`, [`scratch_len`] values), which makes every window row a
/// contiguous copy.
pub fn im2col<T: Scalar>(
    g: Geom,
    x: &[T],
    batch: usize,
    b0: usize,
    nb: usize,
    split: &mut [T],
    col: &mut [T],
) {
    let (s, o) = (g.side, g.out_side());
    let p = o * o;
    let ncol = nb * p;
    let hw = s * s;
    debug_assert!(col.len() >= g.k() * ncol && x.len() >= g.c * batch * hw);
    for ci in 0..g.c {
        for bi in 0..nb {
            let img = &x[(ci * batch + b0 + bi) * hw..][..hw];
            let dst = &mut split[(ci * nb + bi) * hw..][..hw];
            for (src, d) in img.chunks_exact(s).zip(dst.chunks_exact_mut(s)) {
                let (even, odd) = d.split_at_mut(o);
                for ((pair, e), od) in src.chunks_exact(2).zip(even).zip(odd) {
                    *e = pair[0];
                    *od = pair[1];
                }
            }
        }
    }
    // the window rows, with the row length a constant where it is one of the model's
    match o {
        2 => windows::<T, 2>(g, split, nb, col),
        4 => windows::<T, 4>(g, split, nb, col),
        8 => windows::<T, 8>(g, split, nb, col),
        16 => windows::<T, 16>(g, split, nb, col),
        32 => windows::<T, 32>(g, split, nb, col),
        _ => windows_any(g, split, nb, col, o),
    }
}

/// One window row of `O` outputs from a split input row: a copy of constant length (short rows
/// are the deep layers': a `memcpy` call per 4 values was 4 % of a step).
#[inline(always)]
fn window_row<T: Scalar, const O: usize>(kx: usize, src: &[T], dst: &mut [T]) {
    let (Ok(src), Ok(dst)) = (<&[T; O]>::try_from(src), <&mut [T; O]>::try_from(dst)) else {
        unreachable!("rows of O values")
    };
    match kx {
        0 => {
            dst[0] = T::ZERO;
            dst[1..].copy_from_slice(&src[..O - 1]);
        }
        3 => {
            dst[..O - 1].copy_from_slice(&src[1..]);
            dst[O - 1] = T::ZERO;
        }
        _ => dst.copy_from_slice(src),
    }
}

fn windows<T: Scalar, const O: usize>(g: Geom, split: &[T], nb: usize, col: &mut [T]) {
    let s = g.side;
    let (p, hw) = (O * O, s * s);
    let ncol = nb * p;
    for ci in 0..g.c {
        for ky in 0..4 {
            for kx in 0..4 {
                let row = &mut col[((ci * 4 + ky) * 4 + kx) * ncol..][..ncol];
                let (half, _) = half_shift(kx);
                for bi in 0..nb {
                    let img = &split[(ci * nb + bi) * hw..][..hw];
                    for oy in 0..O {
                        let dst = &mut row[bi * p + oy * O..][..O];
                        let iy = 2 * oy + ky;
                        if iy == 0 || iy > s {
                            dst.fill(T::ZERO);
                            continue;
                        }
                        window_row::<T, O>(kx, &img[(iy - 1) * s + half * O..][..O], dst);
                    }
                }
            }
        }
    }
}

fn windows_any<T: Scalar>(g: Geom, split: &[T], nb: usize, col: &mut [T], o: usize) {
    let s = g.side;
    let (p, hw) = (o * o, s * s);
    let ncol = nb * p;
    for ci in 0..g.c {
        for ky in 0..4 {
            for kx in 0..4 {
                let row = &mut col[((ci * 4 + ky) * 4 + kx) * ncol..][..ncol];
                let (lo, hi) = valid_ox(kx, o);
                let (half, shift) = half_shift(kx);
                let (slo, shi) = (
                    (lo as isize + shift) as usize,
                    (hi as isize + shift) as usize,
                );
                for bi in 0..nb {
                    let img = &split[(ci * nb + bi) * hw..][..hw];
                    for oy in 0..o {
                        let dst = &mut row[bi * p + oy * o..][..o];
                        let iy = 2 * oy + ky;
                        if iy == 0 || iy > s {
                            dst.fill(T::ZERO);
                            continue;
                        }
                        let src = &img[(iy - 1) * s + half * o..][..o];
                        dst[..lo].fill(T::ZERO);
                        dst[hi..].fill(T::ZERO);
                        dst[lo..hi].copy_from_slice(&src[slo..shi]);
                    }
                }
            }
        }
    }
}

/// `dst += src` shifted as window row `kx` reads (the adjoint of [`window_row`]).
#[inline(always)]
fn add_row<T: Scalar, const O: usize>(kx: usize, src: &[T], dst: &mut [T]) {
    let (Ok(src), Ok(dst)) = (<&[T; O]>::try_from(src), <&mut [T; O]>::try_from(dst)) else {
        unreachable!("rows of O values")
    };
    let add = |d: &mut [T], s: &[T]| {
        for (d, &v) in d.iter_mut().zip(s) {
            *d += v;
        }
    };
    match kx {
        0 => add(&mut dst[..O - 1], &src[1..]),
        3 => add(&mut dst[1..], &src[..O - 1]),
        _ => add(dst, src),
    }
}

fn sums<T: Scalar, const O: usize>(g: Geom, col: &[T], nb: usize, split: &mut [T]) {
    let s = g.side;
    let (p, hw) = (O * O, s * s);
    let ncol = nb * p;
    for ci in 0..g.c {
        for bi in 0..nb {
            let img = &mut split[(ci * nb + bi) * hw..][..hw];
            for ky in 0..4 {
                for kx in 0..4 {
                    let row = &col[((ci * 4 + ky) * 4 + kx) * ncol + bi * p..][..p];
                    let (half, _) = half_shift(kx);
                    for oy in 0..O {
                        let iy = 2 * oy + ky;
                        if iy == 0 || iy > s {
                            continue;
                        }
                        add_row::<T, O>(
                            kx,
                            &row[oy * O..][..O],
                            &mut img[(iy - 1) * s + half * O..][..O],
                        );
                    }
                }
            }
        }
    }
}

fn sums_any<T: Scalar>(g: Geom, col: &[T], nb: usize, split: &mut [T], o: usize) {
    let s = g.side;
    let (p, hw) = (o * o, s * s);
    let ncol = nb * p;
    for ci in 0..g.c {
        for bi in 0..nb {
            let img = &mut split[(ci * nb + bi) * hw..][..hw];
            for ky in 0..4 {
                for kx in 0..4 {
                    let row = &col[((ci * 4 + ky) * 4 + kx) * ncol + bi * p..][..p];
                    let (lo, hi) = valid_ox(kx, o);
                    let (half, shift) = half_shift(kx);
                    let slo = (lo as isize + shift) as usize;
                    for oy in 0..o {
                        let iy = 2 * oy + ky;
                        if iy == 0 || iy > s {
                            continue;
                        }
                        let dst = &mut img[(iy - 1) * s + half * o + slo..][..hi - lo];
                        for (d, &v) in dst.iter_mut().zip(&row[oy * o + lo..oy * o + hi]) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: add `col` (`[c·16, nb·P]`) back into images `b0 .. b0 + nb` of
/// `dx` (`[c, batch, side, side]`). `dx` is accumulated into, not overwritten. The sums are
/// taken on even/odd-split rows (in `split`) and interleaved once at the end.
pub fn col2im<T: Scalar>(
    g: Geom,
    col: &[T],
    batch: usize,
    b0: usize,
    nb: usize,
    split: &mut [T],
    dx: &mut [T],
) {
    let (s, o) = (g.side, g.out_side());
    let p = o * o;
    let ncol = nb * p;
    let hw = s * s;
    debug_assert!(col.len() >= g.k() * ncol && dx.len() >= g.c * batch * hw);
    split[..g.c * nb * hw].fill(T::ZERO);
    match o {
        2 => sums::<T, 2>(g, col, nb, split),
        4 => sums::<T, 4>(g, col, nb, split),
        8 => sums::<T, 8>(g, col, nb, split),
        16 => sums::<T, 16>(g, col, nb, split),
        32 => sums::<T, 32>(g, col, nb, split),
        _ => sums_any(g, col, nb, split, o),
    }
    for ci in 0..g.c {
        for bi in 0..nb {
            let src = &split[(ci * nb + bi) * hw..][..hw];
            let img = &mut dx[(ci * batch + b0 + bi) * hw..][..hw];
            for (sr, d) in src.chunks_exact(s).zip(img.chunks_exact_mut(s)) {
                let (even, odd) = sr.split_at(o);
                for ((pair, &e), &od) in d.chunks_exact_mut(2).zip(even).zip(odd) {
                    pair[0] += e;
                    pair[1] += od;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Direct convolution `y[o, b, oy, ox] = Σ w[o, ci, ky, kx] x[ci, b, 2oy+ky−1, 2ox+kx−1]`.
    fn direct(g: Geom, x: &[f64], w: &[f64], out: usize, batch: usize) -> Vec<f64> {
        let (s, o) = (g.side as isize, g.out_side());
        let mut y = vec![0.0; out * batch * o * o];
        for oc in 0..out {
            for b in 0..batch {
                for oy in 0..o {
                    for ox in 0..o {
                        let mut acc = 0.0;
                        for ci in 0..g.c {
                            for ky in 0..4 {
                                for kx in 0..4 {
                                    let iy = 2 * oy as isize + ky as isize - 1;
                                    let ix = 2 * ox as isize + kx as isize - 1;
                                    if iy < 0 || ix < 0 || iy >= s || ix >= s {
                                        continue;
                                    }
                                    let xi = ((ci * batch + b) as isize * s + iy) * s + ix;
                                    acc += w[((oc * g.c + ci) * 4 + ky) * 4 + kx] * x[xi as usize];
                                }
                            }
                        }
                        y[((oc * batch + b) * o + oy) * o + ox] = acc;
                    }
                }
            }
        }
        y
    }

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
            })
            .collect()
    }

    #[test]
    fn im2col_gemm_is_the_direct_convolution_and_col2im_its_adjoint() {
        // side 6: the generic row copies; 8 and 64: the constant-length ones (4 and 32)
        for side in [6, 8, 64] {
            check_geometry(Geom { c: 3, side });
        }
    }

    fn check_geometry(g: Geom) {
        let (batch, out) = (3, 5);
        let x = values(g.c * batch * g.hw(), 1);
        let w = values(out * g.k(), 2);
        let want = direct(g, &x, &w, out, batch);
        // Images 1..3 as one chunk, image 0 alone: the chunking must not matter.
        let mut y = vec![0.0; out * batch * g.p()];
        for (b0, nb) in [(0, 1), (1, 2)] {
            let mut col = vec![f64::NAN; g.k() * nb * g.p()];
            let mut split = vec![f64::NAN; scratch_len(g, nb)];
            im2col(g, &x, batch, b0, nb, &mut split, &mut col);
            for oc in 0..out {
                for j in 0..nb * g.p() {
                    let acc: f64 = (0..g.k())
                        .map(|r| w[oc * g.k() + r] * col[r * nb * g.p() + j])
                        .sum();
                    y[oc * batch * g.p() + b0 * g.p() + j] = acc;
                }
            }
        }
        for (a, b) in y.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{a} vs {b}");
        }
        // Adjoint: <im2col(x), c> = <x, col2im(c)> for any c.
        let nb = batch;
        let c = values(g.k() * nb * g.p(), 3);
        let mut col = vec![0.0; c.len()];
        let mut split = vec![f64::NAN; scratch_len(g, nb)];
        im2col(g, &x, batch, 0, nb, &mut split, &mut col);
        let lhs: f64 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let mut back = vec![0.0; x.len()];
        col2im(g, &c, batch, 0, nb, &mut split, &mut back);
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!(
            (lhs - rhs).abs() < 1e-10 * lhs.abs().max(1.0),
            "{lhs} vs {rhs}"
        );
    }
}
