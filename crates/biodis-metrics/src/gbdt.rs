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
}

impl Default for GbdtOptions {
    fn default() -> Self {
        GbdtOptions {
            n_estimators: 100,
            learning_rate: 0.1,
            max_depth: 3,
            seed: 0,
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

/// Column-major features: `x[f][s]`.
fn build_tree(
    x: &[Vec<f64>],
    order: &[Vec<usize>],
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
                if nl[nd] > 0.0 && v > last[nd] + 1e-7 {
                    let nr = cnt[nd] - nl[nd];
                    let sr = sum[nd] - sl[nd];
                    let diff = nr * sl[nd] - nl[nd] * sr;
                    let proxy = diff * diff / (nl[nd] * nr);
                    let (bp, bf, _) = best[nd];
                    let wins = proxy > bp || (proxy == bp && f != bf && rank[nd][f] < rank[nd][bf]);
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
                let (mut tree, leaves) =
                    build_tree(x, &order, &resid, opts.max_depth, &mut imp, &mut rng);
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
}
