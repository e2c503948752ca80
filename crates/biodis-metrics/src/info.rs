//! Plug-in (contingency-table) mutual information and entropy of discrete labels, in nats.
//!
//! Definition: `I(X;Y) = Σ_ij p_ij ln(p_ij / (p_i p_j))`, computed term by term in the same
//! order as scikit-learn's `metrics.mutual_info_score` (including its rule that terms with
//! `|t| < f64::EPSILON` count as zero and the clip at 0), so values agree to rounding.
//! `H(X) = I(X;X)`.

/// Contingency table of two label vectors (labels are arbitrary `u32`; only equality matters).
/// Returns `(table, rows, cols)` with `table[r * cols + c]` the count of pairs.
fn contingency(a: &[u32], b: &[u32]) -> (Vec<u64>, usize, usize) {
    let ra = relabel(a);
    let rb = relabel(b);
    let rows = ra.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    let cols = rb.iter().map(|&x| x as usize + 1).max().unwrap_or(0);
    let mut t = vec![0u64; rows * cols];
    for (&x, &y) in ra.iter().zip(rb.iter()) {
        t[x as usize * cols + y as usize] += 1;
    }
    (t, rows, cols)
}

/// Maps labels to dense 0..k in order of their sorted values (as `np.unique`).
fn relabel(a: &[u32]) -> Vec<u32> {
    let max = a.iter().copied().max().unwrap_or(0) as usize;
    if max < 4096 {
        let mut present = vec![u32::MAX; max + 1];
        for &x in a {
            present[x as usize] = 0;
        }
        let mut k = 0;
        for p in present.iter_mut() {
            if *p == 0 {
                *p = k;
                k += 1;
            }
        }
        a.iter().map(|&x| present[x as usize]).collect()
    } else {
        let mut u: Vec<u32> = a.to_vec();
        u.sort_unstable();
        u.dedup();
        a.iter()
            .map(|x| u.binary_search(x).unwrap_or(0) as u32)
            .collect()
    }
}

/// Plug-in mutual information between two discrete label vectors of equal length, in nats.
///
/// Matches `sklearn.metrics.mutual_info_score(a, b)`. Returns 0 when either variable takes
/// a single value. The caller guarantees equal lengths (checked with a debug assertion).
pub fn mutual_info_score(a: &[u32], b: &[u32]) -> f64 {
    let mut scratch = MiScratch::default();
    scratch.mutual_info(a, b)
}

/// Reusable buffers for many MI computations (e.g. a neurons × factors matrix): no allocation
/// per pair when labels are small integers (as the discretisers produce).
#[derive(Debug, Default, Clone)]
pub struct MiScratch {
    table: Vec<u64>,
    pi: Vec<u64>,
    pj: Vec<u64>,
}

impl MiScratch {
    /// Same value as [`mutual_info_score`].
    pub fn mutual_info(&mut self, a: &[u32], b: &[u32]) -> f64 {
        debug_assert_eq!(a.len(), b.len());
        let ra = a.iter().copied().max().unwrap_or(0) as usize + 1;
        let rb = b.iter().copied().max().unwrap_or(0) as usize + 1;
        if ra * rb > 1 << 16 {
            // large label values: compress to dense labels first (order-preserving)
            let (t, rows, cols) = contingency(a, b);
            self.table = t;
            return self.mi_of_table(rows, cols);
        }
        self.table.clear();
        self.table.resize(ra * rb, 0);
        for (&x, &y) in a.iter().zip(b.iter()) {
            self.table[x as usize * rb + y as usize] += 1;
        }
        self.mi_of_table(ra, rb)
    }

    /// MI from `self.table` (`rows × cols` counts). Empty rows/columns contribute nothing, so
    /// this equals sklearn's computation on the compressed table, term by term and in the same
    /// (row-major) order.
    fn mi_of_table(&mut self, rows: usize, cols: usize) -> f64 {
        let t = &self.table;
        self.pi.clear();
        self.pi.resize(rows, 0);
        self.pj.clear();
        self.pj.resize(cols, 0);
        for r in 0..rows {
            for c in 0..cols {
                let n = t[r * cols + c];
                self.pi[r] += n;
                self.pj[c] += n;
            }
        }
        let nonempty_rows = self.pi.iter().filter(|&&v| v > 0).count();
        let nonempty_cols = self.pj.iter().filter(|&&v| v > 0).count();
        if nonempty_rows <= 1 || nonempty_cols <= 1 {
            return 0.0;
        }
        let total: u64 = self.pi.iter().sum();
        let total_f = total as f64;
        let log_total = total_f.ln();
        let log_sum = (total as f64).ln() + (self.pj.iter().sum::<u64>() as f64).ln();
        let mut mi = 0.0f64;
        for r in 0..rows {
            if self.pi[r] == 0 {
                continue;
            }
            for c in 0..cols {
                let n = t[r * cols + c];
                if n == 0 {
                    continue;
                }
                let nf = n as f64;
                let p = nf / total_f;
                let outer = (self.pi[r] as i64 * self.pj[c] as i64) as f64;
                let log_outer = -outer.ln() + log_sum;
                let term = p * (nf.ln() - log_total) + p * log_outer;
                if term.abs() >= f64::EPSILON {
                    mi += term;
                }
            }
        }
        mi.max(0.0)
    }
}

/// Plug-in entropy of a discrete label vector, in nats (`mutual_info_score(a, a)`).
pub fn entropy(a: &[u32]) -> f64 {
    mutual_info_score(a, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_uniform() {
        // Golden: H of 10 equiprobable classes = ln 10 = 2.302585 (anchors §2.9, B1).
        let a: Vec<u32> = (0..4800).map(|i| (i % 10) as u32).collect();
        assert!((entropy(&a) - 10f64.ln()).abs() < 1e-12);
        let b: Vec<u32> = (0..4800).map(|i| (i % 15) as u32).collect();
        assert!((entropy(&b) - 2.708050).abs() < 1e-6);
    }

    #[test]
    fn independent_is_zero_and_identical_is_entropy() {
        let a: Vec<u32> = (0..400).map(|i| (i % 4) as u32).collect();
        let b: Vec<u32> = (0..400).map(|i| ((i / 4) % 5) as u32).collect();
        assert!(mutual_info_score(&a, &b).abs() < 1e-12);
        assert!((mutual_info_score(&a, &a) - 4f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn known_small_table() {
        // a = [0,0,1,1], b = [0,1,1,1]: MI = Σ p ln(p/(pi pj)) computed by hand.
        let a = [0, 0, 1, 1];
        let b = [0, 1, 1, 1];
        let want = 0.25 * (0.25f64 / (0.5 * 0.25)).ln()
            + 0.25 * (0.25f64 / (0.5 * 0.75)).ln()
            + 0.5 * (0.5f64 / (0.5 * 0.75)).ln();
        assert!((mutual_info_score(&a, &b) - want).abs() < 1e-12);
    }

    #[test]
    fn large_labels_take_the_compressing_path_with_the_same_value() {
        let a: Vec<u32> = (0..500).map(|i| (i % 7) as u32).collect();
        let b: Vec<u32> = (0..500).map(|i| ((i * 13) % 11) as u32).collect();
        let big: Vec<u32> = b.iter().map(|&x| x * 100_000).collect();
        let small = mutual_info_score(&a, &b);
        assert!(small > 0.0);
        assert_eq!(small, mutual_info_score(&a, &big));
    }

    #[test]
    fn constant_gives_zero() {
        assert_eq!(mutual_info_score(&[3, 3, 3], &[0, 1, 2]), 0.0);
    }
}
