//! Just enough dense linear algebra for the checks (small matrices, `f64`, row-major
//! `Vec<Vec<f64>>`): products, transposes, inverse (Gauss–Jordan with partial pivoting),
//! symmetric eigenvalues (cyclic Jacobi), Haar-random orthogonal matrices.

pub type Mat = Vec<Vec<f64>>;

pub fn zeros(r: usize, c: usize) -> Mat {
    vec![vec![0.0; c]; r]
}

pub fn eye(n: usize) -> Mat {
    let mut m = zeros(n, n);
    for (i, row) in m.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    m
}

pub fn t(a: &Mat) -> Mat {
    let (r, c) = (a.len(), a[0].len());
    let mut o = zeros(c, r);
    for i in 0..r {
        for j in 0..c {
            o[j][i] = a[i][j];
        }
    }
    o
}

pub fn mul(a: &Mat, b: &Mat) -> Mat {
    let (r, k, c) = (a.len(), b.len(), b[0].len());
    let mut o = zeros(r, c);
    for i in 0..r {
        for p in 0..k {
            let v = a[i][p];
            if v != 0.0 {
                for j in 0..c {
                    o[i][j] += v * b[p][j];
                }
            }
        }
    }
    o
}

pub fn frob2(a: &Mat) -> f64 {
    a.iter().flatten().map(|v| v * v).sum()
}

pub fn trace(a: &Mat) -> f64 {
    (0..a.len()).map(|i| a[i][i]).sum()
}

/// Inverse of a square matrix; `None` if singular (pivot < 1e-14 · scale).
pub fn inv(a: &Mat) -> Option<Mat> {
    let n = a.len();
    let mut m = a.clone();
    let mut o = eye(n);
    let scale = a
        .iter()
        .flatten()
        .fold(0.0f64, |s, v| s.max(v.abs()))
        .max(1e-300);
    for col in 0..n {
        let p = (col..n).max_by(|&x, &y| m[x][col].abs().total_cmp(&m[y][col].abs()))?;
        if m[p][col].abs() < 1e-14 * scale {
            return None;
        }
        m.swap(col, p);
        o.swap(col, p);
        let d = m[col][col];
        for j in 0..n {
            m[col][j] /= d;
            o[col][j] /= d;
        }
        for r in 0..n {
            if r != col {
                let f = m[r][col];
                if f != 0.0 {
                    for j in 0..n {
                        m[r][j] -= f * m[col][j];
                        o[r][j] -= f * o[col][j];
                    }
                }
            }
        }
    }
    Some(o)
}

/// Eigenvalues of a symmetric matrix (cyclic Jacobi), ascending.
pub fn sym_eigvals(a: &Mat) -> Vec<f64> {
    let n = a.len();
    let mut m = a.clone();
    for _ in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m[i][j] * m[i][j])
            .sum();
        if off < 1e-26 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                if m[p][q].abs() < 1e-300 {
                    continue;
                }
                let theta = (m[q][q] - m[p][p]) / (2.0 * m[p][q]);
                let tt = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let tt = if theta == 0.0 { 1.0 } else { tt };
                let c = 1.0 / (tt * tt + 1.0).sqrt();
                let s = tt * c;
                for k in 0..n {
                    let (mkp, mkq) = (m[k][p], m[k][q]);
                    m[k][p] = c * mkp - s * mkq;
                    m[k][q] = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m[p][k], m[q][k]);
                    m[p][k] = c * mpk - s * mqk;
                    m[q][k] = s * mpk + c * mqk;
                }
            }
        }
    }
    let mut e: Vec<f64> = (0..n).map(|i| m[i][i]).collect();
    e.sort_by(|a, b| a.total_cmp(b));
    e
}

/// Singular values of `a` (r × c, r ≥ c), ascending: √eig(aᵀa).
pub fn singular_values(a: &Mat) -> Vec<f64> {
    sym_eigvals(&mul(&t(a), a))
        .into_iter()
        .map(|v| v.max(0.0).sqrt())
        .collect()
}

/// The portable seeded generator of `biodis-metrics` (SplitMix64), with a Gaussian-matrix draw.
#[derive(Debug, Clone)]
pub struct Rng(pub biodis_metrics::special::SplitMix64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(biodis_metrics::special::SplitMix64(seed))
    }
    pub fn uniform(&mut self) -> f64 {
        self.0.uniform()
    }
    pub fn normal(&mut self) -> f64 {
        self.0.normal()
    }
    pub fn gauss_mat(&mut self, r: usize, c: usize, sd: f64) -> Mat {
        (0..r)
            .map(|_| (0..c).map(|_| sd * self.0.normal()).collect())
            .collect()
    }
}

/// Haar-random `n × n` orthogonal matrix (Gram–Schmidt of a Gaussian matrix).
pub fn random_orthogonal(n: usize, rng: &mut Rng) -> Mat {
    loop {
        let g = rng.gauss_mat(n, n, 1.0);
        let mut q = zeros(n, n);
        let mut ok = true;
        for j in 0..n {
            let mut v: Vec<f64> = (0..n).map(|i| g[i][j]).collect();
            for p in 0..j {
                let d: f64 = (0..n).map(|i| q[i][p] * v[i]).sum();
                for i in 0..n {
                    v[i] -= d * q[i][p];
                }
            }
            let nv = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            if nv < 1e-10 {
                ok = false;
                break;
            }
            for i in 0..n {
                q[i][j] = v[i] / nv;
            }
        }
        if ok {
            return q;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn inverse_and_eigs() {
        let a = vec![vec![4.0, 1.0], vec![1.0, 3.0]];
        let i = inv(&a).unwrap();
        let p = mul(&a, &i);
        assert!((p[0][0] - 1.0).abs() < 1e-12 && p[0][1].abs() < 1e-12);
        let e = sym_eigvals(&a);
        let want = [(7.0 - 5f64.sqrt()) / 2.0, (7.0 + 5f64.sqrt()) / 2.0];
        assert!((e[0] - want[0]).abs() < 1e-12 && (e[1] - want[1]).abs() < 1e-12);
        let mut r = Rng::new(1);
        let q = random_orthogonal(5, &mut r);
        let qtq = mul(&t(&q), &q);
        assert!((frob2(&qtq) - 5.0).abs() < 1e-10 && (trace(&qtq) - 5.0).abs() < 1e-10);
    }
}
