//! Gradient-boosted decision trees for classification, following scikit-learn's
//! `GradientBoostingClassifier` with its defaults (log-loss, 100 stages, learning rate 0.1,
//! depth-3 regression trees with the `friedman_mse` criterion, `min_samples_split = 2`,
//! `min_samples_leaf = 1`, subsample 1.0, prior initialisation, Newton leaf values), for DCI's
//! importance matrix.
//!
//! Written here because no maintained Rust crate exposes scikit-learn's impurity-based
//! `feature_importances_` for a gradient-boosted classifier.
//!
//! Ties between exactly equally good splits: scikit-learn's `BestSplitter` visits the features
//! of every node in a fresh random order (even with `max_features = None`) and keeps the first
//! strictly best split, so among features with tied gains a random one wins at each node. Here
//! too: each node draws its own feature order from a [`SplitMix64`] seeded by
//! [`GbdtOptions::seed`] (deterministic given the seed; scikit-learn's order comes from numpy's
//! generator, and disentanglement_lib passes `random_state = None`, so its exact choice is not
//! reproducible run to run). Over many nodes this shares importance between duplicated
//! features, as scikit-learn does (disentanglement_lib's `test_duplicated_latent_space`: every
//! latent twice → DCI completeness ≈ `1 − ln 2 / ln 20` ≈ 0.77, not 1). A scan in index order
//! would give all the importance to the first copy.
//!
//! Feature importance (as scikit-learn): per tree, `Σ_nodes w·imp − w_l·imp_l − w_r·imp_r` per
//! split feature (node impurity = MSE of the residuals), divided by the root weight; averaged
//! over trees with more than one node; normalised to sum 1.

use crate::special::SplitMix64;

/// A fitted regression tree (internal nodes split on `x[feature] <= threshold`).
#[derive(Debug, Clone)]
struct Tree {
    feature: Vec<usize>,
    threshold: Vec<f64>,
    left: Vec<usize>,
    right: Vec<usize>,
    value: Vec<f64>,
    is_leaf: Vec<bool>,
}

impl Tree {
    fn leaf_of(&self, x: &dyn Fn(usize) -> f64) -> usize {
        let mut t = 0;
        while !self.is_leaf[t] {
            t = if x(self.feature[t]) <= self.threshold[t] {
                self.left[t]
            } else {
                self.right[t]
            };
        }
        t
    }
}

/// Options (scikit-learn defaults; `seed` 0).
#[derive(Debug, Clone, Copy)]
pub struct GbdtOptions {
    /// Boosting stages (scikit-learn `n_estimators`, 100).
    pub n_estimators: usize,
    /// Shrinkage (scikit-learn `learning_rate`, 0.1).
    pub learning_rate: f64,
    /// Depth of each regression tree (scikit-learn `max_depth`, 3).
    pub max_depth: usize,
    /// Seed of the per-node random feature order that breaks exactly tied splits (see the
    /// module docs); the fit is a deterministic function of the data and this seed.
    pub seed: u64,
    /// How split candidates are found: [`Splitter::Exact`] (the default, scikit-learn's
    /// `GradientBoostingClassifier`) or [`Splitter::Histogram`] (binned, as scikit-learn's
    /// `HistGradientBoostingClassifier` bins its inputs; much faster on large inputs).
    pub splitter: Splitter,
}

/// Split search of the regression trees.
///
/// - `Exact`: every boundary between distinct sorted values of a feature within a node is a
///   candidate (values closer than 1e-7 count as equal, as scikit-learn's `FEATURE_THRESHOLD`).
/// - `Histogram { max_bins }`: each feature is binned once, before boosting, into at most
///   `max_bins` (2 … 256) bins; each node then accumulates per-bin counts and residual sums and
///   only bin boundaries are candidates. A feature with at most `max_bins` distinct values
///   (1e-7 apart) gets one bin per value, so the candidates and thresholds are exactly the exact
///   learner's. A feature with more is cut into equal-count (quantile) bins that never split a
///   run of tied values. Thresholds are midpoints between the largest training value of the
///   last bin on the left and the smallest of the first bin on the right, so `predict` needs no
///   binning.
///
/// **Guarantee** (tested): when every feature has at most `max_bins` distinct values, both
/// splitters evaluate the same candidate splits with the same thresholds, draw the same
/// tie-breaking feature orders and compute leaf values, importances and predictions with the
/// same code. The only difference is the order in which the left-hand residual sum of a
/// candidate is added up (per bin, then across bins, instead of sample by sample), so a
/// candidate's gain can differ in its last bits. A tree differs only where two candidates tie
/// to within that rounding (mathematically equal gains, which class-valued residuals make
/// possible); such a swap changes the importances by rounding only. The test fits 500 trees
/// on few-valued data with a duplicated feature: at most 1% of trees may differ (1 does),
/// importances must agree within 1e-12 and predictions exactly. Not bit-identical, so the
/// exact splitter stays the default for reference agreement. Duplicated features get
/// bit-identical histograms, so their exact ties are broken by the same seeded order as in the
/// exact learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Splitter {
    /// Exact sorted-value splits (scikit-learn `GradientBoostingClassifier`).
    #[default]
    Exact,
    /// Binned splits with at most `max_bins` bins per feature (2 … 256).
    Histogram { max_bins: usize },
}

impl Splitter {
    /// The histogram splitter with scikit-learn's `HistGradientBoosting` bin count (255 + the
    /// missing-value bin there; 256 here, which has no missing values).
    pub fn histogram() -> Self {
        Splitter::Histogram { max_bins: 256 }
    }
    /// `exact` or `histogram(max_bins)`, as recorded in score parameters.
    pub fn label(&self) -> String {
        match self {
            Splitter::Exact => "exact".into(),
            Splitter::Histogram { max_bins } => format!("histogram({max_bins})"),
        }
    }
}

impl Default for GbdtOptions {
    fn default() -> Self {
        GbdtOptions {
            n_estimators: 100,
            learning_rate: 0.1,
            max_depth: 3,
            seed: 0,
            splitter: Splitter::Exact,
        }
    }
}

impl GbdtOptions {
    /// Checks the ranges: `n_estimators >= 1`, `learning_rate` finite and > 0, `max_depth` in
    /// `1..=32` (a depth-d tree has up to 2^d leaves).
    pub fn validate(&self) -> Result<(), crate::MetricError> {
        use crate::options::*;
        check_at_least("n_estimators", self.n_estimators, 1)?;
        check_above("learning_rate", self.learning_rate, 0.0)?;
        check_at_least("max_depth", self.max_depth, 1)?;
        if self.max_depth > 32 {
            return Err(crate::MetricError::BadOption {
                option: "max_depth".into(),
                value: self.max_depth.to_string(),
                expected: "an integer from 1 to 32".into(),
            });
        }
        if let Splitter::Histogram { max_bins } = self.splitter {
            if !(2..=256).contains(&max_bins) {
                return Err(crate::MetricError::BadOption {
                    option: "max_bins".into(),
                    value: max_bins.to_string(),
                    expected: "an integer from 2 to 256".into(),
                });
            }
        }
        Ok(())
    }
}

/// A fitted classifier.
#[derive(Debug, Clone)]
pub struct Gbdt {
    n_classes: usize,
    init: Vec<f64>,
    /// `stages[s][k]`: the tree for class `k` (one tree per stage when binary).
    stages: Vec<Vec<Tree>>,
    lr: f64,
    /// Normalised impurity-based importances, one per feature.
    pub feature_importances: Vec<f64>,
}

const EPS: f64 = f64::EPSILON;

/// Values closer than this are one value for splitting (scikit-learn's `FEATURE_THRESHOLD`).
const TIE: f64 = 1e-7;

/// Features binned once for the histogram splitter: `code[f][s]` is sample `s`'s bin of
/// feature `f`; `lo[f][b]` / `hi[f][b]` the smallest / largest training value in bin `b`.
struct Binned {
    code: Vec<Vec<u8>>,
    lo: Vec<Vec<f64>>,
    hi: Vec<Vec<f64>>,
}

/// Bins every feature into at most `max_bins` bins (see [`Splitter::Histogram`]), reading the
/// sorted order `order[f]`.
fn bin_features(x: &[Vec<f64>], order: &[Vec<usize>], max_bins: usize) -> Binned {
    let mut b = Binned {
        code: Vec::with_capacity(x.len()),
        lo: Vec::with_capacity(x.len()),
        hi: Vec::with_capacity(x.len()),
    };
    for (xf, of) in x.iter().zip(order) {
        let n = of.len();
        // runs of tied values in sorted order, as the exact splitter sees them
        let mut groups = 0usize;
        let mut prev = f64::NAN;
        for (i, &s) in of.iter().enumerate() {
            if i == 0 || xf[s] > prev + TIE {
                groups += 1;
            }
            prev = xf[s];
        }
        // one bin per run when they fit; otherwise equal-count bins (each closed bin holds at
        // least `target` samples, so there are at most max_bins of them)
        let target = if groups <= max_bins {
            0
        } else {
            n.div_ceil(max_bins - 1)
        };
        let mut code = vec![0u8; n];
        let (mut lo, mut hi) = (Vec::new(), Vec::new());
        let mut in_bin = 0usize;
        for (i, &s) in of.iter().enumerate() {
            let v = xf[s];
            let new_run = i == 0 || v > prev + TIE;
            if i == 0 || (new_run && in_bin >= target) {
                lo.push(v);
                hi.push(v);
                in_bin = 0;
            }
            let last = hi.len() - 1;
            hi[last] = v;
            code[s] = last as u8;
            in_bin += 1;
            prev = v;
        }
        debug_assert!(lo.len() <= max_bins);
        b.code.push(code);
        b.lo.push(lo);
        b.hi.push(hi);
    }
    b
}

/// Column-major features: `x[f][s]`.
fn build_tree(
    x: &[Vec<f64>],
    order: &[Vec<usize>],
    binned: Option<&Binned>,
    resid: &[f64],
    max_depth: usize,
    importance: &mut [f64],
    rng: &mut SplitMix64,
) -> (Tree, Vec<usize>) {
    let n = resid.len();
    let nf = x.len();
    let mut t = Tree {
        feature: vec![0],
        threshold: vec![0.0],
        left: vec![0],
        right: vec![0],
        value: vec![0.0],
        is_leaf: vec![true],
    };
    let mut node_of = vec![0usize; n];
    const CLOSED: usize = usize::MAX;
    // per node stats
    let mut cnt = vec![n as f64];
    let mut sum = vec![resid.iter().sum::<f64>()];
    let mut sq = vec![resid.iter().map(|r| r * r).sum::<f64>()];
    let mut open: Vec<usize> = vec![0];
    let imp = |c: f64, s: f64, q: f64| q / c - (s / c) * (s / c);
    let mut depth = 0;
    while !open.is_empty() {
        // decide which open nodes may split
        let mut splittable = vec![false; t.feature.len()];
        for &nd in &open {
            let leaf = depth >= max_depth || cnt[nd] < 2.0 || imp(cnt[nd], sum[nd], sq[nd]) <= EPS;
            splittable[nd] = !leaf;
        }
        for s in 0..n {
            if node_of[s] != CLOSED && !splittable[node_of[s]] {
                node_of[s] = CLOSED;
            }
        }
        let nn = t.feature.len();
        let mut best = vec![(f64::NEG_INFINITY, 0usize, 0.0f64); nn];
        let mut nl = vec![0.0f64; nn];
        let mut sl = vec![0.0f64; nn];
        let mut last = vec![f64::NAN; nn];
        // per-node random feature order (scikit-learn's BestSplitter): `rank[nd][f]` is the
        // position of feature f in node nd's visiting order; an exactly tied split is won by the
        // feature visited first, as with scikit-learn's strict `>` over its permuted scan
        let mut rank = vec![Vec::new(); nn];
        for &nd in &open {
            if splittable[nd] {
                rank[nd] = random_ranks(nf, rng);
            }
        }
        if let Some(bn) = binned {
            hist_splits(
                bn,
                &open,
                &splittable,
                &node_of,
                resid,
                &cnt,
                &sum,
                &rank,
                &mut best,
            );
        } else {
            for f in 0..nf {
                for &nd in &open {
                    nl[nd] = 0.0;
                    sl[nd] = 0.0;
                    last[nd] = f64::NAN;
                }
                let xf = &x[f];
                for &s in &order[f] {
                    let nd = node_of[s];
                    if nd == CLOSED {
                        continue;
                    }
                    let v = xf[s];
                    if nl[nd] > 0.0 && v > last[nd] + TIE {
                        let nr = cnt[nd] - nl[nd];
                        let sr = sum[nd] - sl[nd];
                        let diff = nr * sl[nd] - nl[nd] * sr;
                        let proxy = diff * diff / (nl[nd] * nr);
                        let (bp, bf, _) = best[nd];
                        let wins =
                            proxy > bp || (proxy == bp && f != bf && rank[nd][f] < rank[nd][bf]);
                        if wins {
                            let mut thr = (last[nd] + v) / 2.0;
                            if thr == v {
                                thr = last[nd];
                            }
                            best[nd] = (proxy, f, thr);
                        }
                    }
                    nl[nd] += 1.0;
                    sl[nd] += resid[s];
                    last[nd] = v;
                }
            }
        }
        let mut next = Vec::new();
        let mut child_of: Vec<(usize, usize)> = vec![(0, 0); nn];
        for &nd in &open {
            if !splittable[nd] || best[nd].0 == f64::NEG_INFINITY {
                continue;
            }
            let (_, f, thr) = best[nd];
            t.is_leaf[nd] = false;
            t.feature[nd] = f;
            t.threshold[nd] = thr;
            let l = t.feature.len();
            for _ in 0..2 {
                t.feature.push(0);
                t.threshold.push(0.0);
                t.left.push(0);
                t.right.push(0);
                t.value.push(0.0);
                t.is_leaf.push(true);
                cnt.push(0.0);
                sum.push(0.0);
                sq.push(0.0);
            }
            t.left[nd] = l;
            t.right[nd] = l + 1;
            child_of[nd] = (l, l + 1);
            next.push(l);
            next.push(l + 1);
        }
        for s in 0..n {
            let nd = node_of[s];
            if nd == CLOSED {
                continue;
            }
            if t.is_leaf[nd] {
                node_of[s] = CLOSED;
                continue;
            }
            let c = if x[t.feature[nd]][s] <= t.threshold[nd] {
                child_of[nd].0
            } else {
                child_of[nd].1
            };
            node_of[s] = c;
            cnt[c] += 1.0;
            sum[c] += resid[s];
            sq[c] += resid[s] * resid[s];
        }
        for &nd in &open {
            if !t.is_leaf[nd] {
                let (l, r) = (t.left[nd], t.right[nd]);
                let dec = cnt[nd] * imp(cnt[nd], sum[nd], sq[nd])
                    - cnt[l] * imp(cnt[l], sum[l], sq[l])
                    - cnt[r] * imp(cnt[r], sum[r], sq[r]);
                importance[t.feature[nd]] += dec / n as f64;
            }
        }
        open = next;
        depth += 1;
    }
    // leaf index of every sample
    let leaves: Vec<usize> = (0..n).map(|s| t.leaf_of(&|f| x[f][s])).collect();
    (t, leaves)
}

/// The histogram splitter's search over one tree level: per feature, one pass over the samples
/// fills `(count, residual sum)` per (open node, bin); each node then scans its non-empty bins
/// in order with the exact splitter's gain proxy, tie rule and threshold rule.
#[allow(clippy::too_many_arguments)]
fn hist_splits(
    bn: &Binned,
    open: &[usize],
    splittable: &[bool],
    node_of: &[usize],
    resid: &[f64],
    cnt: &[f64],
    sum: &[f64],
    rank: &[Vec<usize>],
    best: &mut [(f64, usize, f64)],
) {
    let nodes: Vec<usize> = open.iter().copied().filter(|&nd| splittable[nd]).collect();
    if nodes.is_empty() {
        return;
    }
    let mut slot = vec![usize::MAX; splittable.len()];
    for (i, &nd) in nodes.iter().enumerate() {
        slot[nd] = i;
    }
    let nbmax = bn.lo.iter().map(Vec::len).max().unwrap_or(1);
    let mut hc = vec![0.0f64; nodes.len() * nbmax];
    let mut hs = vec![0.0f64; nodes.len() * nbmax];
    for f in 0..bn.code.len() {
        let nb = bn.lo[f].len();
        hc[..nodes.len() * nb].iter_mut().for_each(|v| *v = 0.0);
        hs[..nodes.len() * nb].iter_mut().for_each(|v| *v = 0.0);
        let code = &bn.code[f];
        for s in 0..node_of.len() {
            let nd = node_of[s];
            if nd == usize::MAX {
                continue;
            }
            let k = slot[nd] * nb + code[s] as usize;
            hc[k] += 1.0;
            hs[k] += resid[s];
        }
        let (lo, hi) = (&bn.lo[f], &bn.hi[f]);
        for (i, &nd) in nodes.iter().enumerate() {
            let (hcn, hsn) = (&hc[i * nb..(i + 1) * nb], &hs[i * nb..(i + 1) * nb]);
            let (mut nl, mut sl) = (0.0f64, 0.0f64);
            let mut last_bin = usize::MAX;
            for b in 0..nb {
                if hcn[b] == 0.0 {
                    continue;
                }
                if nl > 0.0 {
                    let nr = cnt[nd] - nl;
                    let sr = sum[nd] - sl;
                    let diff = nr * sl - nl * sr;
                    let proxy = diff * diff / (nl * nr);
                    let (bp, bf, _) = best[nd];
                    let wins = proxy > bp || (proxy == bp && f != bf && rank[nd][f] < rank[nd][bf]);
                    if wins {
                        let (last, v) = (hi[last_bin], lo[b]);
                        let mut thr = (last + v) / 2.0;
                        if thr == v {
                            thr = last;
                        }
                        best[nd] = (proxy, f, thr);
                    }
                }
                nl += hcn[b];
                sl += hsn[b];
                last_bin = b;
            }
        }
    }
}

/// Positions of `0..n` in a uniformly random order (Fisher–Yates).
fn random_ranks(n: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut perm: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        perm.swap(i, rng.below(i + 1));
    }
    let mut rank = vec![0; n];
    for (pos, &f) in perm.iter().enumerate() {
        rank[f] = pos;
    }
    rank
}

impl Gbdt {
    /// Fits on column-major features `x[f][s]` and labels `y` (dense `0..k`).
    pub fn fit(x: &[Vec<f64>], y: &[u32], opts: GbdtOptions) -> Gbdt {
        let n = y.len();
        let nf = x.len();
        let k = y.iter().map(|&v| v as usize + 1).max().unwrap_or(1);
        let order: Vec<Vec<usize>> = x
            .iter()
            .map(|col| {
                let mut o: Vec<usize> = (0..n).collect();
                o.sort_by(|&a, &b| col[a].total_cmp(&col[b]));
                o
            })
            .collect();
        let binned = match opts.splitter {
            Splitter::Exact => None,
            Splitter::Histogram { max_bins } => Some(bin_features(x, &order, max_bins)),
        };
        let prior: Vec<f64> = (0..k)
            .map(|c| {
                (y.iter().filter(|&&v| v as usize == c).count() as f64 / n as f64)
                    .clamp(EPS, 1.0 - EPS)
            })
            .collect();
        let binary = k <= 2;
        let init: Vec<f64> = if binary {
            vec![(prior[1.min(k - 1)] / (1.0 - prior[1.min(k - 1)])).ln()]
        } else {
            prior.iter().map(|p| p.ln()).collect()
        };
        let nk = init.len();
        let mut raw: Vec<Vec<f64>> = (0..nk).map(|c| vec![init[c]; n]).collect();
        let mut stages = Vec::with_capacity(opts.n_estimators);
        let mut imp_sum = vec![0.0; nf];
        let mut n_relevant = 0usize;
        let mut rng = SplitMix64(opts.seed);
        for _ in 0..opts.n_estimators {
            // probabilities at the start of the stage
            let probs: Vec<Vec<f64>> = if binary {
                vec![raw[0].iter().map(|r| 1.0 / (1.0 + (-r).exp())).collect()]
            } else {
                let mut p = vec![vec![0.0; n]; nk];
                for s in 0..n {
                    let m = (0..nk).map(|c| raw[c][s]).fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = (0..nk).map(|c| (raw[c][s] - m).exp()).sum();
                    for c in 0..nk {
                        p[c][s] = (raw[c][s] - m).exp() / z;
                    }
                }
                p
            };
            let mut trees = Vec::with_capacity(nk);
            for c in 0..nk {
                let target = |s: usize| -> f64 {
                    let cls = if binary { 1 } else { c };
                    if y[s] as usize == cls {
                        1.0
                    } else {
                        0.0
                    }
                };
                let resid: Vec<f64> = (0..n).map(|s| target(s) - probs[c][s]).collect();
                let mut imp = vec![0.0; nf];
                let (mut tree, leaves) = build_tree(
                    x,
                    &order,
                    binned.as_ref(),
                    &resid,
                    opts.max_depth,
                    &mut imp,
                    &mut rng,
                );
                // Newton leaf values
                let nl = tree.value.len();
                let (mut num, mut den) = (vec![0.0; nl], vec![0.0; nl]);
                for s in 0..n {
                    let yv = target(s);
                    let r = resid[s];
                    num[leaves[s]] += r;
                    den[leaves[s]] += (yv - r) * (1.0 - yv + r);
                }
                let factor = if binary {
                    1.0
                } else {
                    (nk as f64 - 1.0) / nk as f64
                };
                for l in 0..nl {
                    if tree.is_leaf[l] {
                        tree.value[l] = if den[l].abs() < 1e-150 {
                            0.0
                        } else {
                            factor * num[l] / den[l]
                        };
                    }
                }
                for s in 0..n {
                    raw[c][s] += opts.learning_rate * tree.value[leaves[s]];
                }
                if tree.feature.len() > 1 {
                    n_relevant += 1;
                    for (a, b) in imp_sum.iter_mut().zip(&imp) {
                        *a += b;
                    }
                }
                trees.push(tree);
            }
            stages.push(trees);
        }
        let mut fi: Vec<f64> = if n_relevant > 0 {
            imp_sum.iter().map(|v| v / n_relevant as f64).collect()
        } else {
            vec![0.0; nf]
        };
        let tot: f64 = fi.iter().sum();
        if tot > 0.0 {
            fi.iter_mut().for_each(|v| *v /= tot);
        }
        Gbdt {
            n_classes: k,
            init,
            stages,
            lr: opts.learning_rate,
            feature_importances: fi,
        }
    }

    /// Predicted class of each row of row-major `rows`.
    pub fn predict(&self, rows: &[Vec<f64>]) -> Vec<u32> {
        rows.iter()
            .map(|r| {
                let mut raw = self.init.clone();
                for st in &self.stages {
                    for (c, tree) in st.iter().enumerate() {
                        let l = tree.leaf_of(&|f| r[f]);
                        raw[c] += self.lr * tree.value[l];
                    }
                }
                if self.init.len() == 1 {
                    if self.n_classes < 2 {
                        0
                    } else if raw[0] > 0.0 {
                        1
                    } else {
                        0
                    }
                } else {
                    let mut best = 0;
                    for c in 1..raw.len() {
                        if raw[c] > raw[best] {
                            best = c;
                        }
                    }
                    best as u32
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_a_threshold_and_credits_the_right_feature() {
        let n = 400;
        let x0: Vec<f64> = (0..n).map(|i| ((i * 37) % 100) as f64).collect();
        let x1: Vec<f64> = (0..n).map(|i| ((i * 11) % 17) as f64).collect();
        let y: Vec<u32> = x0.iter().map(|&v| if v > 50.0 { 1 } else { 0 }).collect();
        let g = Gbdt::fit(&[x0.clone(), x1.clone()], &y, GbdtOptions::default());
        let rows: Vec<Vec<f64>> = (0..n).map(|i| vec![x0[i], x1[i]]).collect();
        assert_eq!(g.predict(&rows), y);
        assert!(
            g.feature_importances[0] > 0.99,
            "{:?}",
            g.feature_importances
        );
        // three classes from two features
        let y3: Vec<u32> = (0..n)
            .map(|i| {
                if x0[i] < 30.0 {
                    0
                } else if x1[i] < 8.0 {
                    1
                } else {
                    2
                }
            })
            .collect();
        let g = Gbdt::fit(&[x0, x1], &y3, GbdtOptions::default());
        let acc = g
            .predict(&rows)
            .iter()
            .zip(&y3)
            .filter(|(a, b)| a == b)
            .count();
        assert_eq!(acc, n);
        assert!(g.feature_importances[0] > 0.2 && g.feature_importances[1] > 0.2);
    }

    #[test]
    fn tied_duplicate_features_share_importance_deterministically() {
        // feature 1 is an exact copy of feature 0: every split on one has a tied twin on the
        // other. A fixed index-order scan would credit feature 0 only (importances [1, 0, 0]).
        let n = 300;
        let x0: Vec<f64> = (0..n).map(|i| ((i * 37) % 10) as f64).collect();
        let x2: Vec<f64> = (0..n).map(|i| ((i * 11) % 7) as f64).collect();
        let y: Vec<u32> = x0.iter().map(|&v| (v as u32) % 3).collect();
        let x = [x0.clone(), x0, x2];
        let g = Gbdt::fit(&x, &y, GbdtOptions::default());
        let fi = &g.feature_importances;
        assert!(fi[0] > 0.25 && fi[1] > 0.25, "{fi:?}");
        assert!(fi[2] < 0.05, "{fi:?}");
        // same seed → identical fit; another seed → another (still shared) split of importance
        let again = Gbdt::fit(&x, &y, GbdtOptions::default());
        assert_eq!(fi, &again.feature_importances);
        let other = Gbdt::fit(
            &x,
            &y,
            GbdtOptions {
                seed: 7,
                ..Default::default()
            },
        );
        assert_ne!(fi, &other.feature_importances);
        assert!(other.feature_importances[0] > 0.25 && other.feature_importances[1] > 0.25);
    }

    fn hist(max_bins: usize) -> GbdtOptions {
        GbdtOptions {
            splitter: Splitter::Histogram { max_bins },
            ..Default::default()
        }
    }

    /// Features with few distinct values (some irregularly spaced, one duplicated): the
    /// histogram splitter must fit the very same trees as the exact one.
    fn few_valued(n: usize) -> (Vec<Vec<f64>>, Vec<u32>) {
        let mut rng = SplitMix64(3);
        let x0: Vec<f64> = (0..n).map(|_| rng.below(40) as f64 * 0.37).collect();
        let x1: Vec<f64> = (0..n)
            .map(|_| (rng.below(200) as f64).powi(2) / 7.0)
            .collect();
        let x2: Vec<f64> = (0..n).map(|_| rng.below(5) as f64 - 2.0).collect();
        let y: Vec<u32> = (0..n)
            .map(|s| {
                let v = x0[s] / 3.0 + (x1[s] / 2000.0).sqrt() + rng.below(3) as f64;
                (v as u32).min(4)
            })
            .collect();
        (vec![x0.clone(), x1, x2, x0], y)
    }

    #[test]
    fn histogram_equals_exact_when_features_have_few_values() {
        let (x, y) = few_valued(1500);
        let rows: Vec<Vec<f64>> = (0..y.len())
            .map(|s| x.iter().map(|c| c[s]).collect())
            .collect();
        for seed in [0, 5] {
            let ex = Gbdt::fit(
                &x,
                &y,
                GbdtOptions {
                    seed,
                    ..Default::default()
                },
            );
            let hi = Gbdt::fit(&x, &y, GbdtOptions { seed, ..hist(256) });
            // same candidates and thresholds: all but rounding-level near-ties pick the same
            // split, so nearly every tree is identical and the importances agree to rounding
            let trees = ex.stages.iter().flatten().zip(hi.stages.iter().flatten());
            let same = trees
                .filter(|(a, b)| a.feature == b.feature && a.threshold == b.threshold)
                .count();
            assert!(same >= 495, "seed {seed}: {same} of 500 trees identical");
            for (a, b) in ex.feature_importances.iter().zip(&hi.feature_importances) {
                assert!((a - b).abs() < 1e-12, "seed {seed}: {a} vs {b}");
            }
            assert_eq!(ex.predict(&rows), hi.predict(&rows));
            // the duplicated feature (0 and 3) shares importance in both
            assert!(
                hi.feature_importances[3] > 0.05,
                "{:?}",
                hi.feature_importances
            );
        }
        // binary labels too
        let yb: Vec<u32> = y.iter().map(|&v| u32::from(v >= 2)).collect();
        let ex = Gbdt::fit(&x, &yb, GbdtOptions::default());
        let hi = Gbdt::fit(&x, &yb, hist(256));
        for (a, b) in ex.feature_importances.iter().zip(&hi.feature_importances) {
            assert!((a - b).abs() < 1e-12, "binary: {a} vs {b}");
        }
        assert_eq!(ex.predict(&rows), hi.predict(&rows));
        // with fewer bins than values the candidates differ: the relation is lost
        let coarse = Gbdt::fit(&x, &y, hist(4));
        assert_ne!(coarse.feature_importances, ex.feature_importances);
    }

    #[test]
    fn histogram_bins_many_valued_features_into_at_most_max_bins() {
        let n = 5000;
        let mut rng = SplitMix64(9);
        let x0: Vec<f64> = (0..n).map(|_| rng.below(1_000_000) as f64 / 1e3).collect();
        let x1: Vec<f64> = (0..n).map(|_| rng.below(1_000_000) as f64 / 1e3).collect();
        let y: Vec<u32> = x0.iter().map(|&v| u32::from(v > 400.0)).collect();
        let x = [x0.clone(), x1.clone()];
        let order: Vec<Vec<usize>> = x
            .iter()
            .map(|c| {
                let mut o: Vec<usize> = (0..n).collect();
                o.sort_by(|&a, &b| c[a].total_cmp(&c[b]));
                o
            })
            .collect();
        for mb in [2, 17, 256] {
            let b = bin_features(&x, &order, mb);
            for f in 0..2 {
                assert!(b.lo[f].len() <= mb && b.lo[f].len() >= mb / 2, "{mb}");
                // bins are ordered and disjoint, codes consistent with lo/hi
                for k in 1..b.lo[f].len() {
                    assert!(b.hi[f][k - 1] < b.lo[f][k]);
                }
                for s in 0..n {
                    let c = b.code[f][s] as usize;
                    assert!(b.lo[f][c] <= x[f][s] && x[f][s] <= b.hi[f][c]);
                }
            }
        }
        let g = Gbdt::fit(&x, &y, hist(256));
        let rows: Vec<Vec<f64>> = (0..n).map(|s| vec![x0[s], x1[s]]).collect();
        let acc = g
            .predict(&rows)
            .iter()
            .zip(&y)
            .filter(|(a, b)| a == b)
            .count();
        assert!(acc as f64 / n as f64 > 0.99, "{acc}");
        assert!(
            g.feature_importances[0] > 0.95,
            "{:?}",
            g.feature_importances
        );
    }

    #[test]
    fn histogram_bin_count_is_checked() {
        for mb in [0, 1, 257] {
            let e = hist(mb).validate().unwrap_err().to_string();
            assert!(e.contains("max_bins") && e.contains("2 to 256"), "{e}");
        }
        assert!(hist(2).validate().is_ok() && hist(256).validate().is_ok());
        assert_eq!(hist(256).splitter.label(), "histogram(256)");
    }
}
