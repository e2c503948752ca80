//! A bounds-checked matrix product over slices, on `biodis-nn`'s GEMM (the `gemm` crate,
//! single-threaded).

use biodis_nn::Scalar;

/// The last index a `rows × cols` matrix with strides `(rs, cs)` touches, plus one.
fn extent(rows: usize, cols: usize, (rs, cs): (usize, usize)) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        (rows - 1) * rs + (cols - 1) * cs + 1
    }
}

/// `C = A · B + beta · C` with `A` `m × k`, `B` `k × n`, `C` `m × n`, each given by a slice and
/// its (row, column) strides. Panics if a matrix does not fit its slice (a bug in the caller,
/// never user input: the engine derives every shape from the model).
#[allow(clippy::too_many_arguments)]
pub fn mm<T: Scalar>(
    m: usize,
    k: usize,
    n: usize,
    a: &[T],
    sa: (usize, usize),
    b: &[T],
    sb: (usize, usize),
    beta: T,
    c: &mut [T],
    sc: (usize, usize),
) {
    assert!(
        extent(m, k, sa) <= a.len() && extent(k, n, sb) <= b.len() && extent(m, n, sc) <= c.len(),
        "gemm {m}×{k}×{n}: a matrix does not fit its buffer"
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the three matrices lie inside their slices (checked above); `c` is borrowed
    // mutably, so it overlaps neither `a` nor `b`.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            T::ONE,
            a.as_ptr(),
            sa.0 as isize,
            sa.1 as isize,
            b.as_ptr(),
            sb.0 as isize,
            sb.1 as isize,
            beta,
            c.as_mut_ptr(),
            sc.0 as isize,
            sc.1 as isize,
        )
    }
}
