//! The metric registry: every metric that scores a fixed array of codes against ground-truth
//! factors (what `biodis score` and the Python `biodis.score` compute), by id, with one call
//! shape.
//!
//! Every entry is called the same way — [`Metric::score`] with codes (samples × latents),
//! factors (samples × factors) and their [`FactorKind`], and one [`ScoreOptions`] — and returns
//! a [`Score`] whose `id` is the versioned name of the definition (`mig.dlib`,
//! `mir.whittington2023`, …). Each metric reads only the options it uses. [`METRICS`] lists the
//! entries in the order `all` expands to; [`lookup`] finds one by id and [`resolve`] turns a
//! user's list (trimmed, lower-cased, `all` expanded) into entries, refusing an unknown id with
//! [`MetricError::UnknownMetric`], which names it and the valid ones. [`varying_columns`]
//! picks the factor columns worth scoring (a constant factor has zero entropy).
//!
//! The classifier metrics (DCI, SAP, explicitness; [`Metric::capped`]) train and test on at most
//! [`ScoreOptions::max_train`] / [`ScoreOptions::max_test`] samples, reduced by
//! [`crate::subsample::run_capped`] with [`ScoreOptions::seed`]. The intervention metrics
//! (FactorVAE, BetaVAE; [`crate::protocol`]) sample factors themselves and are not here.

use crate::gbdt::{GbdtOptions, Splitter};
use crate::sap::SapForm;
use crate::subsample::{run_capped, TrainTestCap};
use crate::{FactorKind, MetricError, MirOptions, Score};
use ndarray::ArrayView2;

/// Which SAP score matrix to use (see [`SapForm`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SapMode {
    /// Squared correlation on the training part (`sap_continuous.dlib`).
    Continuous,
    /// Test accuracy of a one-latent linear SVC (`sap.dlib`).
    Discrete,
    /// [`SapMode::Discrete`] for discrete factors, else [`SapMode::Continuous`].
    #[default]
    Auto,
}

impl SapMode {
    /// The score matrix for factors of `kind`.
    pub fn form(self, kind: FactorKind) -> SapForm {
        match (self, kind) {
            (SapMode::Continuous, _) | (SapMode::Auto, FactorKind::Continuous) => {
                SapForm::Continuous
            }
            (SapMode::Discrete, _) | (SapMode::Auto, FactorKind::Discrete) => SapForm::Discrete,
        }
    }
}

impl std::str::FromStr for SapMode {
    type Err = MetricError;

    /// `continuous`, `discrete` or `auto`; anything else is a [`MetricError::BadOption`] for
    /// `sap`.
    fn from_str(s: &str) -> Result<Self, MetricError> {
        match s {
            "continuous" => Ok(SapMode::Continuous),
            "discrete" => Ok(SapMode::Discrete),
            "auto" => Ok(SapMode::Auto),
            other => Err(MetricError::BadOption {
                option: "sap".into(),
                value: other.into(),
                expected: "continuous, discrete or auto".into(),
            }),
        }
    }
}

/// The options of every registry metric; each metric reads the ones it uses. The defaults are
/// those of `biodis score` (disentanglement_lib's where it has one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreOptions {
    /// Equal-width bins for discretising codes (and continuous factors); 20.
    pub bins: usize,
    /// Fraction of samples (the first ones) that train the classifiers of DCI, SAP and
    /// explicitness, in (0, 1); the rest test them. 2/3.
    pub train_fraction: f64,
    /// Most training samples of the classifier metrics (dlib `num_train`); `None` = no cap.
    /// 10 000.
    pub max_train: Option<usize>,
    /// Most test samples of the classifier metrics (dlib `num_test`); `None` = no cap. 5 000.
    pub max_test: Option<usize>,
    /// SAP's score matrix.
    pub sap: SapMode,
    /// DCI's tree learner.
    pub dci_splitter: Splitter,
    /// IRS's `diff_quantile` (dlib: 0.99).
    pub irs_diff_quantile: f64,
    /// Seed of the classifier metrics' subsample and of InfoM's jitter.
    pub seed: u64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        ScoreOptions {
            bins: 20,
            train_fraction: 2.0 / 3.0,
            max_train: Some(10_000),
            max_test: Some(5_000),
            sap: SapMode::Auto,
            dci_splitter: Splitter::Exact,
            irs_diff_quantile: 0.99,
            seed: 0,
        }
    }
}

impl ScoreOptions {
    /// Checks every option before any metric runs: `bins` (see
    /// [`crate::options::check_bins`]), `train_fraction` in (0, 1), the caps at least 1, the
    /// DCI splitter's bin count and `irs_diff_quantile` in (0, 1]. Errors are
    /// [`MetricError::BadOption`] naming the option as a field of this struct.
    pub fn validate(&self) -> Result<(), MetricError> {
        crate::options::check_bins("bins", self.bins)?;
        self.n_train(2)?;
        self.cap().validate()?;
        self.gbdt().validate()?;
        crate::options::check_half_open("irs_diff_quantile", self.irs_diff_quantile, 0.0, 1.0)
    }

    /// The training part of `n` samples: `round(n · train_fraction)`; a fraction outside
    /// (0, 1) is a [`MetricError::BadOption`] for `train_fraction`.
    pub fn n_train(&self, n: usize) -> Result<usize, MetricError> {
        if !(self.train_fraction > 0.0 && self.train_fraction < 1.0) {
            return Err(MetricError::BadOption {
                option: "train_fraction".into(),
                value: self.train_fraction.to_string(),
                expected: "a value in (0, 1)".into(),
            });
        }
        Ok(((n as f64) * self.train_fraction).round() as usize)
    }

    /// The classifier metrics' caps and subsample seed.
    pub fn cap(&self) -> TrainTestCap {
        TrainTestCap {
            max_train: self.max_train,
            max_test: self.max_test,
            seed: self.seed,
        }
    }

    /// DCI's gradient-boosting options: scikit-learn's defaults with [`Self::dci_splitter`].
    pub fn gbdt(&self) -> GbdtOptions {
        GbdtOptions {
            splitter: self.dci_splitter,
            ..Default::default()
        }
    }

    /// MIR's options: the authors' defaults with [`Self::bins`].
    pub fn mir(&self) -> MirOptions {
        MirOptions {
            bins: self.bins,
            ..Default::default()
        }
    }
}

/// The computation of one entry: (codes, factors, kind, options) → score.
type Compute =
    fn(ArrayView2<f64>, ArrayView2<f64>, FactorKind, &ScoreOptions) -> Result<Score, MetricError>;

/// One metric of the registry.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The id users write (`biodis score --metrics mig`, `biodis.score(…, ["mig"])`).
    pub id: &'static str,
    /// The versioned names its scores carry as [`Score::id`] (SAP has one per
    /// [`SapForm`]: `sap.dlib`, `sap_continuous.dlib`).
    pub versioned: &'static [&'static str],
    /// Whether it trains a classifier on a train/test split capped by
    /// [`ScoreOptions::max_train`] / [`ScoreOptions::max_test`].
    pub capped: bool,
    compute: Compute,
}

impl Metric {
    /// Scores `codes` (samples × latents) against `factors` (samples × factors) of `kind`.
    /// Capped metrics record the sample sizes they used in the score's parameters (see
    /// [`run_capped`]).
    pub fn score(
        &self,
        codes: ArrayView2<f64>,
        factors: ArrayView2<f64>,
        kind: FactorKind,
        opts: &ScoreOptions,
    ) -> Result<Score, MetricError> {
        (self.compute)(codes, factors, kind, opts)
    }
}

/// A classifier metric on at most the options' capped sample.
fn capped(
    z: ArrayView2<f64>,
    f: ArrayView2<f64>,
    o: &ScoreOptions,
    m: impl FnOnce(ArrayView2<f64>, ArrayView2<f64>, usize) -> Result<Score, MetricError>,
) -> Result<Score, MetricError> {
    let nt = o.n_train(z.nrows())?;
    run_capped(&o.cap(), z, f, nt, m)
}

fn mir(z: ArrayView2<f64>, f: ArrayView2<f64>, _: FactorKind, o: &ScoreOptions) -> MetricResult {
    let r = crate::mir(z, f, &o.mir())?;
    Ok(Score::new(r.id, r.mir)
        .part("kept_neurons", r.kept.len() as f64)
        .param("bins", o.bins))
}

fn mig(z: ArrayView2<f64>, f: ArrayView2<f64>, k: FactorKind, o: &ScoreOptions) -> MetricResult {
    crate::discrete::mig(z, f, k, o.bins)
}

fn dci(z: ArrayView2<f64>, f: ArrayView2<f64>, k: FactorKind, o: &ScoreOptions) -> MetricResult {
    capped(z, f, o, |z, f, t| {
        Ok(crate::dci::dci(z, f, k, o.bins, t, o.gbdt())?.0)
    })
}

fn sap(z: ArrayView2<f64>, f: ArrayView2<f64>, k: FactorKind, o: &ScoreOptions) -> MetricResult {
    capped(z, f, o, |z, f, t| crate::sap::sap(z, f, o.sap.form(k), t))
}

fn modularity(
    z: ArrayView2<f64>,
    f: ArrayView2<f64>,
    k: FactorKind,
    o: &ScoreOptions,
) -> MetricResult {
    crate::discrete::modularity(z, f, k, o.bins)
}

fn explicitness(
    z: ArrayView2<f64>,
    f: ArrayView2<f64>,
    k: FactorKind,
    o: &ScoreOptions,
) -> MetricResult {
    capped(z, f, o, |z, f, t| {
        crate::explicitness::explicitness(z, f, k, o.bins, t)
    })
}

fn irs(z: ArrayView2<f64>, f: ArrayView2<f64>, _: FactorKind, o: &ScoreOptions) -> MetricResult {
    crate::irs::irs(z, f, o.bins, o.irs_diff_quantile)
}

fn infom(z: ArrayView2<f64>, f: ArrayView2<f64>, k: FactorKind, o: &ScoreOptions) -> MetricResult {
    Ok(crate::infom::infom(z, f, k, o.bins, o.seed)?.0)
}

fn tc(z: ArrayView2<f64>, _: ArrayView2<f64>, _: FactorKind, _: &ScoreOptions) -> MetricResult {
    crate::discrete::gaussian_total_correlation(z)
}

fn mpmi(z: ArrayView2<f64>, _: ArrayView2<f64>, _: FactorKind, o: &ScoreOptions) -> MetricResult {
    crate::discrete::mean_pairwise_mi(z, o.bins)
}

type MetricResult = Result<Score, MetricError>;

/// Every registry metric, in the order `all` expands to.
pub const METRICS: [Metric; 10] = [
    Metric {
        id: "mir",
        versioned: &["mir.whittington2023"],
        capped: false,
        compute: mir,
    },
    Metric {
        id: "mig",
        versioned: &["mig.dlib"],
        capped: false,
        compute: mig,
    },
    Metric {
        id: "dci",
        versioned: &["dci.dlib"],
        capped: true,
        compute: dci,
    },
    Metric {
        id: "sap",
        versioned: &["sap.dlib", "sap_continuous.dlib"],
        capped: true,
        compute: sap,
    },
    Metric {
        id: "modularity",
        versioned: &["modularity.dlib"],
        capped: false,
        compute: modularity,
    },
    Metric {
        id: "explicitness",
        versioned: &["explicitness.dlib"],
        capped: true,
        compute: explicitness,
    },
    Metric {
        id: "irs",
        versioned: &["irs.dlib"],
        capped: false,
        compute: irs,
    },
    Metric {
        id: "infom",
        versioned: &["infom.hsu2023"],
        capped: false,
        compute: infom,
    },
    Metric {
        id: "tc",
        versioned: &["gaussian_total_correlation.dlib"],
        capped: false,
        compute: tc,
    },
    Metric {
        id: "mpmi",
        versioned: &["mean_pairwise_mi.dlib"],
        capped: false,
        compute: mpmi,
    },
];

/// The id that stands for every metric in [`resolve`].
pub const ALL: &str = "all";

/// The valid ids, in [`METRICS`] order, then [`ALL`] (as [`MetricError::UnknownMetric`] lists
/// them).
pub fn ids() -> Vec<&'static str> {
    METRICS.iter().map(|m| m.id).chain([ALL]).collect()
}

/// The metric with id `id` (exact match); an unknown id is a [`MetricError::UnknownMetric`]
/// naming it and the valid ids.
pub fn lookup(id: &str) -> Result<&'static Metric, MetricError> {
    METRICS
        .iter()
        .find(|m| m.id == id)
        .ok_or_else(|| MetricError::UnknownMetric {
            id: id.to_string(),
            available: ids().join(", "),
        })
}

/// The metrics of a user's list: each id trimmed and lower-cased, and the whole list replaced
/// by every metric of [`METRICS`] when it holds [`ALL`]. The first unknown id is a
/// [`MetricError::UnknownMetric`].
pub fn resolve(requested: &[String]) -> Result<Vec<&'static Metric>, MetricError> {
    let names: Vec<String> = requested
        .iter()
        .map(|m| m.trim().to_ascii_lowercase())
        .collect();
    if names.iter().any(|m| m == ALL) {
        return Ok(METRICS.iter().collect());
    }
    names.iter().map(|n| lookup(n)).collect()
}

/// The factor columns that vary (not every value equal to the first), in order. A constant
/// factor carries no information to disentangle, and the metrics that divide by factor entropy
/// refuse it, so `biodis score` and `biodis.score` score only these columns.
pub fn varying_columns(factors: ArrayView2<f64>) -> Vec<usize> {
    (0..factors.ncols())
        .filter(|&k| {
            let c = factors.column(k);
            !c.iter().all(|v| *v == c[0])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_the_published_lists() {
        let ids: Vec<&str> = METRICS.iter().map(|m| m.id).collect();
        assert_eq!(ids, crate::score::ALL_METRICS);
        let capped: Vec<&str> = METRICS.iter().filter(|m| m.capped).map(|m| m.id).collect();
        assert_eq!(capped, crate::subsample::CAPPED_METRICS);
    }

    #[test]
    fn unknown_ids_are_named_with_the_valid_ones() {
        let e = lookup("mog").unwrap_err();
        assert_eq!(
            e,
            MetricError::UnknownMetric {
                id: "mog".into(),
                available:
                    "mir, mig, dci, sap, modularity, explicitness, irs, infom, tc, mpmi, all".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "unknown metric 'mog'; available: mir, mig, dci, sap, modularity, explicitness, irs, \
             infom, tc, mpmi, all"
        );
        // a versioned name is not an id, and lookup itself does not expand `all`
        assert!(lookup("mig.dlib").is_err() && lookup("all").is_err());
        let e = resolve(&["mig".into(), " Nope ".into()]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("unknown metric 'nope'; available: mir"));
    }

    #[test]
    fn constant_factor_columns_are_left_out() {
        let f = ndarray::array![[1.0, 3.0, 0.0], [2.0, 3.0, 0.0], [1.0, 3.0, 1.0]];
        assert_eq!(varying_columns(f.view()), [0, 2]);
        assert!(varying_columns(ndarray::Array2::<f64>::zeros((0, 2)).view()).is_empty());
    }

    #[test]
    fn resolve_trims_lowercases_and_expands_all() {
        let ids = |r: &[&str]| -> Vec<&str> {
            let v: Vec<String> = r.iter().map(|s| s.to_string()).collect();
            resolve(&v).unwrap().iter().map(|m| m.id).collect()
        };
        assert_eq!(ids(&[" MIG", "dci "]), ["mig", "dci"]);
        assert_eq!(ids(&["mig", "All"]), crate::score::ALL_METRICS);
    }

    #[test]
    fn every_metric_scores_with_its_versioned_name() {
        let n = 120;
        let f = ndarray::Array2::from_shape_fn((n, 2), |(s, j)| ((s / (1 + 3 * j)) % 4) as f64);
        let z = ndarray::Array2::from_shape_fn((n, 3), |(s, j)| {
            if j < 2 {
                f[[s, j]] + 0.01 * ((s * 13 + j) % 7) as f64
            } else {
                ((s * 7) % 5) as f64
            }
        });
        for kind in [FactorKind::Discrete, FactorKind::Continuous] {
            for m in &METRICS {
                let s = m
                    .score(z.view(), f.view(), kind, &ScoreOptions::default())
                    .unwrap();
                assert!(m.versioned.contains(&s.id.as_str()), "{}: {}", m.id, s.id);
                assert_eq!(m.capped, s.params.contains_key("n_train_used"), "{}", m.id);
            }
        }
    }

    #[test]
    fn options_are_checked_and_sap_mode_parses() {
        assert!(ScoreOptions::default().validate().is_ok());
        let bad = |o: ScoreOptions| match o.validate() {
            Err(MetricError::BadOption { option, .. }) => option,
            other => panic!("{other:?}"),
        };
        let d = ScoreOptions::default();
        assert_eq!(bad(ScoreOptions { bins: 1, ..d }), "bins");
        assert_eq!(
            bad(ScoreOptions {
                train_fraction: 1.0,
                ..d
            }),
            "train_fraction"
        );
        assert_eq!(
            bad(ScoreOptions {
                max_test: Some(0),
                ..d
            }),
            "max_test"
        );
        assert_eq!(
            bad(ScoreOptions {
                irs_diff_quantile: 0.0,
                ..d
            }),
            "irs_diff_quantile"
        );
        assert_eq!("auto".parse::<SapMode>().unwrap(), SapMode::Auto);
        let e = "svm".parse::<SapMode>().unwrap_err().to_string();
        assert_eq!(e, "sap = svm: expected continuous, discrete or auto");
        assert_eq!(SapMode::Auto.form(FactorKind::Discrete), SapForm::Discrete);
        assert_eq!(
            SapMode::Continuous.form(FactorKind::Discrete),
            SapForm::Continuous
        );
    }
}
