//! `biodis score`: score a representation from any framework with MIR and the field's metrics.
//!
//! Inputs are samples × dims matrices in `.npy` (any float or integer dtype; 1-D arrays are one
//! column), `.npz` (`--latents-key`/`--factors-key` choose the array; required when the archive
//! holds several) or `.csv` (numbers, comma-separated, optional header line).
//! Constant factor columns cannot be scored by metrics that divide by factor entropy: they are
//! excluded with a warning naming the column (a factor with a single value carries no
//! information to disentangle).

use anyhow::{bail, Context, Result};
use biodis_metrics::{FactorKind, Score};
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

/// A classifier metric run on the capped sample: (codes, factors, n_train) → score.
type CappedMetric<'a> = dyn Fn(
        ndarray::ArrayView2<f64>,
        ndarray::ArrayView2<f64>,
        usize,
    ) -> Result<Score, biodis_metrics::MetricError>
    + 'a;

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

/// Reads a samples × dims matrix from .npy / .npz / .csv, naming the file in every error.
pub fn load_matrix(path: &Path, key: Option<&str>) -> Result<Array2<f64>> {
    let m = load_matrix_allow_nan(path, key)?;
    let shown = path.display();
    if m.nrows() < 2 {
        bail!("{shown}: {} samples; at least 2 are needed", m.nrows());
    }
    for ((r, c), v) in m.indexed_iter() {
        if !v.is_finite() {
            bail!("{shown}: non-finite value ({v}) at sample {r}, column {c}");
        }
    }
    Ok(m)
}

/// [`load_matrix`] without the finiteness check (ratemaps use NaN for unvisited bins).
pub fn load_matrix_allow_nan(path: &Path, key: Option<&str>) -> Result<Array2<f64>> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let shown = path.display().to_string();
    let m = match ext.as_str() {
        "npy" => to2(biodis_data::npy::read_npy(path)?)
            .with_context(|| format!("{shown}: not a readable .npy array"))?,
        "npz" => {
            let clean = biodis_data::npy::npz_names(path)?;
            let pick = match key {
                Some(k) if clean.iter().any(|c| c == k) => k.to_string(),
                Some(k) => bail!("{shown}: no array named '{k}'; it holds: {}", clean.join(", ")),
                None if clean.len() == 1 => clean[0].clone(),
                None => bail!("{shown}: holds several arrays ({}); choose one with --latents-key / --factors-key", clean.join(", ")),
            };
            to2(biodis_data::npy::read_npz_member(path, &pick)?)
                .with_context(|| format!("{shown}: array '{pick}'"))?
        }
        "csv" | "txt" => csv(path)?,
        other => bail!("{shown}: unsupported extension '.{other}' (expected .npy, .npz or .csv)"),
    };
    Ok(m)
}

/// A decoded array as samples × dims (a 1-D array is one column).
fn to2(a: biodis_data::npy::Array) -> Result<Array2<f64>> {
    match a.shape.len() {
        1 => Ok(Array2::from_shape_vec((a.shape[0], 1), a.data)?),
        2 => Ok(Array2::from_shape_vec((a.shape[0], a.shape[1]), a.data)?),
        d => bail!("expected a 1-D or 2-D array (samples × dims), got {d} dimensions"),
    }
}

/// Reads a numeric CSV (samples × dims) with [`biodis_data::csv`]: the delimiter is detected
/// (`,` `;` or tab); a first line that is not all numbers is taken as a header of column names,
/// and a note on stderr says so (and shows it), so a data row is never dropped silently.
fn csv(path: &Path) -> Result<Array2<f64>> {
    let shown = path.display().to_string();
    let m = biodis_data::csv::read(path)?;
    if let Some((ln, h)) = &m.header {
        let shown_h: String = h.chars().take(80).collect();
        eprintln!("note: {shown}: line {ln} ('{shown_h}') is not numeric; taken as a header of column names");
    }
    if m.delimiter != ',' {
        eprintln!("note: {shown}: columns separated by {:?}", m.delimiter);
    }
    Ok(Array2::from_shape_vec((m.rows, m.cols), m.data)?)
}

pub fn run(a: ScoreArgs) -> Result<()> {
    let z = load_matrix(&a.latents, a.latents_key.as_deref())?;
    let f0 = load_matrix(&a.factors, a.factors_key.as_deref())?;
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
    let keep: Vec<usize> = (0..f0.ncols())
        .filter(|&k| {
            let c = f0.column(k);
            let constant = c.iter().all(|v| *v == c[0]);
            if constant {
                eprintln!(
                    "warning: {}: factor column {k} is constant; excluded (it has zero entropy)",
                    a.factors.display()
                );
            }
            !constant
        })
        .collect();
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
    let sap_form = match (a.sap, a.discrete_factors) {
        (SapArg::Continuous, _) | (SapArg::Auto, false) => biodis_metrics::sap::SapForm::Continuous,
        (SapArg::Discrete, _) | (SapArg::Auto, true) => biodis_metrics::sap::SapForm::Discrete,
    };
    let n = z.nrows();
    if !(a.train_fraction > 0.0 && a.train_fraction < 1.0) {
        bail!(
            "--train-fraction {}: expected a value in (0, 1)",
            a.train_fraction
        );
    }
    let n_train = ((n as f64) * a.train_fraction).round() as usize;
    let names = biodis_metrics::score::metric_names(&a.metrics);
    let bins = a.bins;
    // options are checked before any metric runs, named as the flags are
    biodis_metrics::options::check_bins("--bins", bins)?;
    let mir_opts = biodis_metrics::MirOptions {
        bins,
        ..Default::default()
    };
    let cap = biodis_metrics::subsample::TrainTestCap {
        max_train: (a.max_train > 0).then_some(a.max_train),
        max_test: (a.max_test > 0).then_some(a.max_test),
        seed: a.seed,
    };
    let gbdt = biodis_metrics::gbdt::GbdtOptions {
        splitter: match a.dci_splitter {
            SplitterArg::Exact => biodis_metrics::gbdt::Splitter::Exact,
            SplitterArg::Histogram => biodis_metrics::gbdt::Splitter::histogram(),
        },
        ..Default::default()
    };
    let split = cap.apply(z.view(), f.view(), n_train).1;
    let trained = biodis_metrics::subsample::CAPPED_METRICS;
    let compute = |name: &str,
                   zz: ndarray::ArrayView2<f64>,
                   ff: ndarray::ArrayView2<f64>|
     -> Result<Score> {
        let nt = ((zz.nrows() as f64) * a.train_fraction).round() as usize;
        // the classifier metrics train and test on at most --max-train / --max-test samples
        let capped = |f: &CappedMetric| biodis_metrics::subsample::run_capped(&cap, zz, ff, nt, f);
        Ok(match name {
            "mir" => {
                let r = biodis_metrics::mir(zz, ff, &mir_opts)?;
                Score::new(r.id, r.mir).part("kept_neurons", r.kept.len() as f64).param("bins", bins)
            }
            "mig" => biodis_metrics::discrete::mig(zz, ff, kind, bins)?,
            "dci" => capped(&|z, f, t| Ok(biodis_metrics::dci::dci(z, f, kind, bins, t, gbdt)?.0))?,
            "sap" => capped(&|z, f, t| biodis_metrics::sap::sap(z, f, sap_form, t))?,
            "modularity" => biodis_metrics::discrete::modularity(zz, ff, kind, bins)?,
            "explicitness" => capped(&|z, f, t| biodis_metrics::explicitness::explicitness(z, f, kind, bins, t))?,
            "irs" => biodis_metrics::irs::irs(zz, ff, bins, 0.99)?,
            "infom" => biodis_metrics::infom::infom(zz, ff, kind, bins, a.seed)?.0,
            "tc" => biodis_metrics::discrete::gaussian_total_correlation(zz)?,
            "mpmi" => biodis_metrics::discrete::mean_pairwise_mi(zz, bins)?,
            other => bail!("unknown metric '{other}'; available: mir, mig, dci, sap, modularity, explicitness, irs, infom, tc, mpmi, all"),
        })
    };
    let progress = a.progress || n > PROGRESS_SAMPLES;
    let mut scores = Vec::new();
    for name in &names {
        let t0 = std::time::Instant::now();
        if progress {
            let sizes = if trained.contains(&name.as_str()) {
                format!(" ({} train, {} test samples)", split.n_train, split.n_test)
            } else {
                String::new()
            };
            eprint!("score: {name}{sizes} …");
        }
        let mut s = compute(name, z.view(), f.view()).with_context(|| format!("metric {name}"))?;
        if a.bootstrap > 0 {
            s.ci = biodis_metrics::bootstrap(
                z.view(),
                f.view(),
                a.bootstrap,
                0.05,
                a.seed,
                |zz, ff| compute(name, zz, ff).ok().map(|s| s.value),
            );
            s = s.param("bootstrap", a.bootstrap);
        }
        if progress {
            eprintln!(" {:.2} s", t0.elapsed().as_secs_f64());
        }
        scores.push(s);
    }
    if a.mi_out.is_some() || a.heatmap.is_some() {
        let r = biodis_metrics::mir(z.view(), f.view(), &mir_opts).context("MI matrix (MIR)")?;
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
        if names.iter().any(|m| trained.contains(&m.as_str())) {
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
