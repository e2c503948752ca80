//! The float type the dense path is generic over: `f32` for training (speed), `f64` for the
//! finite-difference gradient tests (precision). Only what the trainer needs.

use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

/// A float usable by the dense trainer, with its GEMM.
pub trait Scalar:
    Copy
    + Default
    + PartialOrd
    + Send
    + Sync
    + std::fmt::Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn sqrt(self) -> Self;
    fn exp(self) -> Self;
    fn ln_1p(self) -> Self;
    fn abs(self) -> Self;
    /// `C = alpha * A B + beta * C` with explicit row/column strides (BLAS convention).
    ///
    /// # Safety
    /// The pointers and strides must describe valid, non-overlapping (C) matrices.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

impl Scalar for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn exp(self) -> Self {
        f32::exp(self)
    }
    fn ln_1p(self) -> Self {
        f32::ln_1p(self)
    }
    fn abs(self) -> Self {
        f32::abs(self)
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: the caller upholds `Scalar::gemm`'s contract, which is `gemm_any`'s.
        unsafe { gemm_any(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

impl Scalar for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    fn from_f64(v: f64) -> Self {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    fn abs(self) -> Self {
        f64::abs(self)
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        // SAFETY: the caller upholds `Scalar::gemm`'s contract, which is `gemm_any`'s.
        unsafe { gemm_any(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
    }
}

/// Products of at least this many multiply-adds are split over [`crate::kernels::gemm_threads`].
const PAR_MIN_MACS: usize = 1 << 20;

/// The one GEMM of the dense path: the `gemm` crate, on one thread unless
/// [`crate::kernels::set_gemm_threads`] allows more (the engines parallelise over runs first),
/// with the micro-kernels [`crate::kernels::choice`] picked for this CPU. Against `matrixmultiply` on the CI machine (1 thread, steps/s): B1 16 491 →
/// 23 400, B2 752 → 810; its small-shape kernels are what B1 gains from.
///
/// Note the crate's own convention is the reverse of BLAS: `dst = alpha·dst + beta·lhs·rhs`,
/// with `read_dst = false` meaning "ignore the old contents".
///
/// # Safety
/// As [`Scalar::gemm`].
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn gemm_any<T: Scalar>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: *const T,
    rsa: isize,
    csa: isize,
    b: *const T,
    rsb: isize,
    csb: isize,
    beta: T,
    c: *mut T,
    rsc: isize,
    csc: isize,
) {
    let read_dst = beta != T::ZERO;
    // the kernel policy must reach the gemm crate before its first product (kernels docs)
    let _ = crate::kernels::choice();
    let threads = crate::kernels::gemm_threads();
    // a product under ~1M multiply-adds loses more to the fork/join than a second core gains
    let parallelism = if threads > 1 && m * n * k >= PAR_MIN_MACS {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the caller guarantees valid, non-overlapping (C) matrices for these strides.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c,
            csc,
            rsc,
            read_dst,
            a,
            csa,
            rsa,
            b,
            csb,
            rsb,
            beta,
            alpha,
            false,
            false,
            false,
            parallelism,
        )
    }
}
