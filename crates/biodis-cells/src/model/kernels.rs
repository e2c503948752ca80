//! Numerical helpers of the model: a stable sigmoid and softplus, and the row-major GEMM
//! wrapper over biodis-nn's `Scalar::gemm`.

use biodis_nn::Scalar;

pub(crate) fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// `−ln σ(x)` and `−ln(1 − σ(x))`, stable.
pub(super) fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + (-x).exp().ln_1p()
    } else {
        x.exp().ln_1p()
    }
}

/// `C (m×n) = alpha · A (m×k) · B (k×n) + beta · C`, row-major with optional transposes.
#[allow(clippy::too_many_arguments)]
#[allow(unsafe_code, reason = "biodis-nn's raw-pointer GEMM on checked slices")]
pub(super) fn gemm<T: Scalar>(
    m: usize,
    k: usize,
    n: usize,
    alpha: T,
    a: &[T],
    a_t: bool,
    b: &[T],
    b_t: bool,
    beta: T,
    c: &mut [T],
) {
    debug_assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n);
    let (rsa, csa) = if a_t {
        (1, m as isize)
    } else {
        (k as isize, 1)
    };
    let (rsb, csb) = if b_t {
        (1, k as isize)
    } else {
        (n as isize, 1)
    };
    // SAFETY: the slices are at least as long as the matrices their strides describe (checked
    // above in debug builds, guaranteed by the callers' buffer sizes), and `c` does not alias.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            rsa,
            csa,
            b.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}
