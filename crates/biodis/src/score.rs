//! `biodis score`: score a representation from any framework with MIR and the field's metrics.
//!
//! Inputs are samples × dims matrices in `.npy` (any float or integer dtype; 1-D arrays are one
//! column), `.npz` (`--latents-key`/`--factors-key` choose the array; required when the archive
//! holds several) or `.csv` (numbers, comma-separated, optional header line).
//! Constant factor columns cannot be scored by metrics that divide by factor entropy: they are
//! excluded with a warning naming the column (a factor with a single value carries no
//! information to disentangle).
//!
//! This module only parses the arguments, loads the matrices ([`biodis_data::matrix`]), calls
//! the metrics through [`biodis_metrics::registry`] (ids, options and dispatch live there) and
//! prints the table or JSON.

use anyhow::{bail, Context, Result};
use biodis_data::matrix::{self, MatrixError};
use biodis_metrics::registry::{self, SapMode, ScoreOptions};
use biodis_metrics::FactorKind;
use ndarray::{Array2, Axis};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ScoreArgs {
    /// Latents (samples × latent dims): .npy, .npz or .csv.
    #[arg(long)]
    latents: PathBuf,
    /// Ground-truth factors (samples × factors): .npy, .npz or .csv.
    #[arg(long)]
    factors: PathBuf,
    /// Array name inside a latents .npz.
    #[arg(long)]
    latents_key: Option<String>,
    /// Array name inside a factors .npz.
    #[arg(long)]
    factors_key: Option<String>,
    /// Comma-separated metrics: mir, mig, dci, sap, modularity, explicitness, irs, infom, tc,
    /// mpmi, or `all`.
    #[arg(
        long,
        default_value = "mir,mig,dci,sap,modularity,irs,infom",
        value_delimiter = ','
    )]
    metrics: Vec<String>,
    /// Factors are class labels (distinct values = classes, as disentanglement_lib); otherwise
    /// they are continuous and binned.
    #[arg(long)]
    discrete_factors: bool,
    /// SAP's score matrix: `continuous` (squared correlation on the training part, dlib's
    /// `continuous_factors=True`), `discrete` (test accuracy of a one-latent linear SVC, dlib's
    /// `continuous_factors=False`), or `auto` (discrete with --discrete-factors, else continuous).
    #[arg(long, value_enum, default_value_t = SapArg::Auto)]
    sap: SapArg,
    /// Bins for discretising codes (and continuous factors).
    #[arg(long, default_value_t = 20)]
    bins: usize,
    /// Fraction of samples (the first ones) used to train the classifiers of DCI, SAP and
    /// explicitness; the rest test them.
    #[arg(long, default_value_t = 2.0 / 3.0)]
    train_fraction: f64,
    /// Most training samples for DCI, SAP and explicitness (disentanglement_lib's `num_train`,
    /// 10000): a larger training part is reduced to a seeded subsample (`--seed`); the sizes
    /// used are reported. 0 = no cap.
    #[arg(long, default_value_t = 10_000)]
    max_train: usize,
    /// Most test samples for DCI, SAP and explicitness (disentanglement_lib's `num_test`, 5000);
    /// 0 = no cap.
    #[arg(long, default_value_t = 5_000)]
    max_test: usize,
    /// DCI's tree learner: `exact` (scikit-learn's GradientBoostingClassifier, the reference) or
    /// `histogram` (≤ 256 quantile bins per latent, as HistGradientBoosting; faster on large
    /// training sets).
    #[arg(long, value_enum, default_value_t = SplitterArg::Exact)]
    dci_splitter: SplitterArg,
    /// Print each metric and its time on stderr (automatic above 50000 samples).
    #[arg(long)]
    progress: bool,
    /// Bootstrap resamples for 95% confidence intervals (0 = none).
    #[arg(long, default_value_t = 0)]
    bootstrap: usize,
    /// Seed for bootstrap and InfoM's jitter.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Write MIR's normalised MI matrix (latents × factors) to this .npy file.
    #[arg(long)]
    mi_out: Option<PathBuf>,
    /// Write a heatmap of MIR's MI matrix (.png or .svg).
    #[arg(long)]
    heatmap: Option<PathBuf>,
}

/// `--sap`: which SAP score matrix (see [`biodis_metrics::sap::SapForm`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SapArg {
    Continuous,
    Discrete,
    Auto,
}

/// `--dci-splitter` (see [`biodis_metrics::gbdt::Splitter`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SplitterArg {
    Exact,
    Histogram,
}

/// Above this many samples `biodis score` reports progress on stderr without `--progress`.
pub const PROGRESS_SAMPLES: usize = 50_000;

/// Reads a samples × dims matrix with [`biodis_data::matrix`] (.npy / .npz / .csv, at least 2
/// samples, finite values), printing the CSV reader's notes on stderr; `key_flag` is the option
/// that picks an .npz member, named when the archive holds several.
fn load_matrix(path: &Path, key: Option<&str>, key_flag: &str) -> Result<Array2<f64>> {
    let m = matrix::read_matrix_unchecked(path, key).map_err(|e| with_key_flag(e, key_flag))?;
    print_notes(&m, path);
    matrix::check_matrix(path, &m.data)?;
    Ok(m.data)
}

/// A loader error, with the option `flag` named when an .npz holds several arrays and none was
/// chosen.
pub(crate) fn with_key_flag(e: MatrixError, flag: &str) -> anyhow::Error {
    match e {
        MatrixError::SeveralArrays { path, names } => anyhow::anyhow!(
            "{path}: holds several arrays ({}); choose one with {flag}",
            names.join(", ")
        ),
        e => e.into(),
    }
}

/// Prints the CSV reader's notes on `path` (a header line, the delimiter) on stderr, so that a
/// data row is never dropped silently.
pub(crate) fn print_notes<T>(m: &matrix::Loaded<T>, path: &Path) {
    for note in m.csv.iter().flat_map(|n| n.messages(path)) {
        eprintln!("note: {note}");
    }
}

pub fn run(a: ScoreArgs) -> Result<()> {
    let z = load_matrix(&a.latents, a.latents_key.as_deref(), "--latents-key")?;
    let f0 = load_matrix(&a.factors, a.factors_key.as_deref(), "--factors-key")?;
    if z.nrows() != f0.nrows() {
        bail!(
            "sample counts differ: {} has {} samples, {} has {}",
            a.latents.display(),
            z.nrows(),
            a.factors.display(),
            f0.nrows()
        );
    }
    // drop constant factors with a warning
    let keep = registry::varying_columns(f0.view());
    for k in (0..f0.ncols()).filter(|k| !keep.contains(k)) {
        eprintln!(
            "warning: {}: factor column {k} is constant; excluded (it has zero entropy)",
            a.factors.display()
        );
    }
    if keep.is_empty() {
        bail!(
            "{}: every factor column is constant; nothing to score",
            a.factors.display()
        );
    }
    let f = f0.select(Axis(1), &keep);
    let kind = if a.discrete_factors {
        FactorKind::Discrete
    } else {
        FactorKind::Continuous
    };
    let n = z.nrows();
    if !(a.train_fraction > 0.0 && a.train_fraction < 1.0) {
        bail!(
            "--train-fraction {}: expected a value in (0, 1)",
            a.train_fraction
        );
    }
    let n_train = ((n as f64) * a.train_fraction).round() as usize;
    // options are checked before any metric runs, named as the flags are
    biodis_metrics::options::check_bins("--bins", a.bins)?;
    let opts = ScoreOptions {
        bins: a.bins,
        train_fraction: a.train_fraction,
        max_train: (a.max_train > 0).then_some(a.max_train),
        max_test: (a.max_test > 0).then_some(a.max_test),
        sap: match a.sap {
            SapArg::Continuous => SapMode::Continuous,
            SapArg::Discrete => SapMode::Discrete,
            SapArg::Auto => SapMode::Auto,
        },
        dci_splitter: match a.dci_splitter {
            SplitterArg::Exact => biodis_metrics::gbdt::Splitter::Exact,
            SplitterArg::Histogram => biodis_metrics::gbdt::Splitter::histogram(),
        },
        seed: a.seed,
        ..ScoreOptions::default()
    };
    opts.validate()?;
    let metrics = registry::resolve(&a.metrics)?;
    let cap = opts.cap();
    let split = cap.apply(z.view(), f.view(), n_train).1;
    let trained: Vec<&str> = registry::METRICS
        .iter()
        .filter(|m| m.capped)
        .map(|m| m.id)
        .collect();
    let progress = a.progress || n > PROGRESS_SAMPLES;
    let mut scores = Vec::new();
    for m in &metrics {
        let name = m.id;
        let t0 = std::time::Instant::now();
        if progress {
            let sizes = if m.capped {
                format!(" ({} train, {} test samples)", split.n_train, split.n_test)
            } else {
                String::new()
            };
            eprint!("score: {name}{sizes} …");
        }
        let mut s = m
            .score(z.view(), f.view(), kind, &opts)
            .with_context(|| format!("metric {name}"))?;
        if a.bootstrap > 0 {
            s.ci = biodis_metrics::bootstrap(
                z.view(),
                f.view(),
                a.bootstrap,
                0.05,
                a.seed,
                |zz, ff| m.score(zz, ff, kind, &opts).ok().map(|s| s.value),
            );
            s = s.param("bootstrap", a.bootstrap);
        }
        if progress {
            eprintln!(" {:.2} s", t0.elapsed().as_secs_f64());
        }
        scores.push(s);
    }
    if a.mi_out.is_some() || a.heatmap.is_some() {
        let r = biodis_metrics::mir(z.view(), f.view(), &opts.mir()).context("MI matrix (MIR)")?;
        if let Some(p) = &a.mi_out {
            let mut buf = Vec::new();
            ndarray_npy::WriteNpyExt::write_npy(&r.mi, &mut buf)?;
            biodis_study::rundir::atomic_write(p, &buf)
                .with_context(|| format!("{}: cannot write", p.display()))?;
        }
        if let Some(p) = &a.heatmap {
            let m: Vec<Vec<f64>> = r.mi.outer_iter().map(|row| row.to_vec()).collect();
            let title = format!(
                "MI(latent; factor)/H(factor) — {} kept latents, MIR {:.3}",
                r.kept.len(),
                r.mir
            );
            biodis_report::matrix_heatmap(p, &title, &m, &r.kept)?;
        }
    }
    if a.json {
        let out = serde_json::json!({
            "latents": a.latents.display().to_string(),
            "factors": a.factors.display().to_string(),
            "samples": n,
            "latent_dims": z.ncols(),
            "factors_used": keep,
            "factor_kind": if a.discrete_factors { "discrete" } else { "continuous" },
            "n_train": n_train,
            "classifier_samples": {
                "metrics": trained,
                "n_train_used": split.n_train,
                "n_test_used": split.n_test,
                "train_available": split.of_train,
                "test_available": split.of_test,
                "subsampled": split.subsampled(),
                "max_train": cap.max_train,
                "max_test": cap.max_test,
                "seed": cap.seed,
            },
            "scores": scores,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} samples, {} latents, {} factors ({})",
            n,
            z.ncols(),
            f.ncols(),
            if a.discrete_factors {
                "discrete"
            } else {
                "continuous, binned"
            }
        );
        if metrics.iter().any(|m| m.capped) {
            println!("{}", split_line(&split));
        }
        println!("{:<32} {:>9}  details", "metric", "value");
        for s in &scores {
            let mut det: Vec<String> = s
                .parts
                .iter()
                .filter(|(k, _)| !k.starts_with("gap_"))
                .map(|(k, v)| format!("{k}={}", fmt_part(k, *v)))
                .collect();
            if let Some((lo, hi)) = s.ci {
                det.insert(
                    0,
                    format!("bootstrap 95% percentile interval [{lo:.4}, {hi:.4}]"),
                );
            }
            println!("{:<32} {:>9.4}  {}", s.id, s.value, det.join(" "));
        }
    }
    Ok(())
}

/// The text output's line on the samples DCI, SAP and explicitness trained and tested on.
fn split_line(sp: &biodis_metrics::subsample::Split) -> String {
    if sp.subsampled() {
        format!(
            "DCI/SAP/explicitness: {} of {} train, {} of {} test samples (seeded subsample; --max-train/--max-test)",
            sp.n_train, sp.of_train, sp.n_test, sp.of_test
        )
    } else {
        format!(
            "DCI/SAP/explicitness: {} train, {} test samples (all)",
            sp.n_train, sp.n_test
        )
    }
}

/// A score's detail value as printed: counts (`kept_neurons`, `num_active…`) as integers, every
/// other value with four decimals.
fn fmt_part(key: &str, v: f64) -> String {
    let is_count = key == "kept_neurons" || key.starts_with("num_");
    if is_count && v.is_finite() && v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn counts_print_as_integers() {
        assert_eq!(super::fmt_part("kept_neurons", 4.0), "4");
        assert_eq!(super::fmt_part("num_active_dims", 12.0), "12");
        assert_eq!(super::fmt_part("completeness", 1.0), "1.0000");
    }
}
