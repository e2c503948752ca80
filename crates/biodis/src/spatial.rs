//! `biodis spatial`: per-cell spatial analyses of ratemaps (grid scores in every variant,
//! spacing/orientation, shuffle nulls, Skaggs statistics, border score) with a table and
//! figures. Maps: `.npy`/`.npz` of shape cells × n × n or cells × n² (or `.csv`, cells × n²).
//! Files are read by [`biodis_data::matrix::read_array`]; a cell is called a grid cell by
//! [`biodis_metrics::spatial::grid_cell_call`] with [`GridCellCriterion::SPATIAL`].

use anyhow::{bail, Context, Result};
use biodis_metrics::spatial::null::Null;
use biodis_metrics::spatial::{
    analyse_cell, sac, CellOptions, CellReport, GridCellCriterion, Scorers,
};
use ndarray::ArrayD;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct SpatialArgs {
    /// Ratemaps: .npy/.npz (cells × n × n, or cells × n²) or .csv (cells × n²). NaN = unvisited.
    #[arg(long, required_unless_present = "demo")]
    maps: Option<PathBuf>,
    /// Instead of --maps: analyse this many synthetic 16×16 cells (a mix of hexagonal grid,
    /// place, band, border and noise maps; written to OUT/demo_maps.npy).
    #[arg(long)]
    demo: Option<usize>,
    /// Array name inside a .npz.
    #[arg(long)]
    key: Option<String>,
    /// Map layout `NxN` (needed only when it cannot be inferred from a 3-D array or a square
    /// number of bins).
    #[arg(long)]
    layout: Option<String>,
    /// Shuffles per cell for its grid-score null (0 = none).
    #[arg(long, default_value_t = 0)]
    null: usize,
    /// `permutation` (bins of the cell's map) or `smooth:SIGMA` (Gaussian random fields).
    #[arg(long, default_value = "permutation")]
    null_kind: String,
    /// Output directory (cells.csv, cells.json, figures).
    #[arg(long, default_value = "runs/spatial")]
    out: PathBuf,
    /// Worker threads (default: number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Seed of the demo maps and of every cell's shuffle null (cell i uses seed + 7919·i).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON instead of the summary.
    #[arg(long)]
    json: bool,
    /// Print a progress line (cells done / total, cells/s, ETA) on stderr every few seconds.
    /// Automatic once the analysis has run for more than 10 s; `--progress` prints from the
    /// start.
    #[arg(long)]
    progress: bool,
}

/// Seconds between two progress lines of `biodis spatial`.
const PROGRESS_EVERY_S: f64 = 5.0;
/// `biodis spatial` reports progress without `--progress` once it has run this long.
const PROGRESS_AFTER_S: f64 = 10.0;

/// One progress line: `spatial: 120/4000 cells (3.0 %), 24.1 cells/s, ETA 2 min 41 s`.
fn progress_line(done: usize, total: usize, secs: f64) -> String {
    let rate = done as f64 / secs.max(1e-9);
    let eta = if done == 0 {
        "ETA unknown".to_string()
    } else {
        let left = (total - done) as f64 / rate;
        if left >= 60.0 {
            format!(
                "ETA {} min {} s",
                (left / 60.0) as u64,
                (left % 60.0) as u64
            )
        } else {
            format!("ETA {left:.0} s")
        }
    };
    format!(
        "spatial: {done}/{total} cells ({:.1} %), {rate:.1} cells/s, {eta}",
        100.0 * done as f64 / total.max(1) as f64
    )
}

fn load_maps(
    path: &Path,
    key: Option<&str>,
    layout: Option<&str>,
) -> Result<(Vec<Vec<f64>>, usize)> {
    let shown = path.display().to_string();
    let loaded = biodis_data::matrix::read_array(path, key)
        .map_err(|e| crate::score::with_key_flag(e, "--key"))?;
    crate::score::print_notes(&loaded, path);
    let a = loaded.data;
    let arr: ArrayD<f64> = ArrayD::from_shape_vec(a.shape, a.data)
        .with_context(|| format!("{shown}: inconsistent shape"))?;
    let shape = arr.shape().to_vec();
    let (cells, n, flat): (usize, usize, Vec<f64>) = match shape.len() {
        3 => {
            if shape[1] != shape[2] {
                bail!(
                    "{shown}: maps are {}×{}; grid scores need square maps (n × n)",
                    shape[1],
                    shape[2]
                );
            }
            (shape[0], shape[1], arr.iter().copied().collect())
        }
        2 => {
            let bins = shape[1];
            let n = match layout {
                Some(l) => {
                    let (a, b) = l
                        .split_once(['x', 'X'])
                        .ok_or_else(|| anyhow::anyhow!("--layout {l}: expected NxN, e.g. 16x16"))?;
                    let (a, b): (usize, usize) = (
                        a.trim().parse().context("--layout")?,
                        b.trim().parse().context("--layout")?,
                    );
                    if a != b {
                        bail!("--layout {l}: grid scores need square maps");
                    }
                    if a * b != bins {
                        bail!(
                            "{shown}: each map has {bins} bins but --layout {l} needs {}",
                            a * b
                        );
                    }
                    a
                }
                None => {
                    let r = (bins as f64).sqrt().round() as usize;
                    if r * r != bins {
                        bail!("{shown}: {bins} bins per map is not a square number; give --layout NxN");
                    }
                    r
                }
            };
            (shape[0], n, arr.iter().copied().collect())
        }
        d => bail!("{shown}: expected cells × n × n or cells × n² (got {d} dimensions: {shape:?})"),
    };
    if cells == 0 {
        bail!("{shown}: no maps");
    }
    if n < 4 {
        bail!("{shown}: maps of {n}×{n} are too small for autocorrelograms (need at least 4×4)");
    }
    if let Some(i) = flat.iter().position(|v| v.is_infinite()) {
        bail!(
            "{shown}: infinite value in map {} at bin {}",
            i / (n * n),
            i % (n * n)
        );
    }
    Ok((flat.chunks(n * n).map(|c| c.to_vec()).collect(), n))
}

fn parse_null(s: &str) -> Result<Null> {
    if s == "permutation" {
        return Ok(Null::BinPermutation);
    }
    if let Some(v) = s.strip_prefix("smooth:") {
        let sigma: f64 = v
            .parse()
            .with_context(|| format!("--null-kind {s}: SIGMA must be a number"))?;
        if sigma.is_nan() || sigma < 0.0 {
            bail!("--null-kind {s}: SIGMA must be ≥ 0");
        }
        return Ok(Null::SmoothField(sigma));
    }
    bail!("--null-kind {s}: expected `permutation` or `smooth:SIGMA`")
}

pub fn run(a: SpatialArgs) -> Result<()> {
    let t0 = std::time::Instant::now();
    if a.demo == Some(0) {
        bail!("--demo 0: expected at least 1 cell");
    }
    if a.jobs == Some(0) {
        bail!("--jobs 0: expected at least 1");
    }
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("{}: cannot create", a.out.display()))?;
    let (maps, n) = match (&a.maps, a.demo) {
        (_, Some(count)) => {
            let (m, n) = demo_maps(count, a.seed);
            let arr = ndarray::Array2::from_shape_vec(
                (count, n * n),
                m.iter().flatten().copied().collect(),
            )?;
            let mut buf = Vec::new();
            ndarray_npy::WriteNpyExt::write_npy(&arr, &mut buf)?;
            let dp = a.out.join("demo_maps.npy");
            biodis_study::rundir::atomic_write(&dp, &buf)
                .with_context(|| format!("{}: cannot write", dp.display()))?;
            (m, n)
        }
        (Some(p), None) => load_maps(p, a.key.as_deref(), a.layout.as_deref())?,
        (None, None) => bail!("give --maps FILE or --demo COUNT"),
    };
    let null_kind = parse_null(&a.null_kind)?;
    let jobs = a
        .jobs
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|v| v.get())
                .unwrap_or(1)
        })
        .max(1);
    let sc = Scorers::new(n);
    // (the maps are never empty: load_maps refuses an empty file and --demo 0 is refused)
    let mut reports: Vec<Option<CellReport>> = vec![None; maps.len()];
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = maps.len();
    let t_cells = std::time::Instant::now();
    std::thread::scope(|s| {
        let chunk = maps.len().div_ceil(jobs);
        let done = &done;
        for (ci, (mch, rch)) in maps
            .chunks(chunk)
            .zip(reports.chunks_mut(chunk))
            .enumerate()
        {
            let sc = &sc;
            let seed = a.seed;
            let nullc = a.null;
            s.spawn(move || {
                for (k, (m, r)) in mch.iter().zip(rch.iter_mut()).enumerate() {
                    let cell = ci * chunk + k;
                    *r = Some(analyse_cell(
                        m,
                        sc,
                        CellOptions {
                            null: nullc,
                            null_kind,
                            seed: biodis_data::streams::spatial::cell_null(seed, cell),
                        },
                    ));
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
        // progress from the scope's own thread: a line every PROGRESS_EVERY_S seconds
        let mut last = 0.0_f64;
        let mut shown = false;
        loop {
            let k = done.load(std::sync::atomic::Ordering::Relaxed);
            if k >= total {
                break;
            }
            let secs = t_cells.elapsed().as_secs_f64();
            if (a.progress || secs > PROGRESS_AFTER_S)
                && (!shown || secs - last >= PROGRESS_EVERY_S)
            {
                eprintln!("{}", progress_line(k, total, secs));
                last = secs;
                shown = true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if shown || a.progress {
            eprintln!(
                "{}",
                progress_line(total, total, t_cells.elapsed().as_secs_f64())
            );
        }
    });
    let reports: Vec<CellReport> = reports
        .into_iter()
        .map(|r| r.expect("every cell analysed"))
        .collect();
    let secs = t0.elapsed().as_secs_f64();
    std::fs::create_dir_all(&a.out)
        .with_context(|| format!("{}: cannot create", a.out.display()))?;
    // table
    let mut csv = String::from("cell,grid_score_deepmind_mean,grid_score_deepmind_minmax,grid_score_90,best_ring_outer,grid_score_annulus,grid_score_opexebo,spacing,orientation,wavelength,null_p95,null_p99,is_grid,info_rate,info_content,sparsity,selectivity,border_score,reason\n");
    // above the cell's null p99, or the fixed 0.8 without a null (an empty map is no grid cell)
    let rule = GridCellCriterion::SPATIAL;
    let fixed = rule.fixed_threshold.unwrap_or(f64::NAN);
    let is_grid = |r: &CellReport| -> bool { r.grid_cell_call(&rule).unwrap_or(false) };
    for (i, r) in reports.iter().enumerate() {
        csv.push_str(&format!(
            "{i},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            r.grid_score_deepmind_mean,
            r.grid_score_deepmind_minmax,
            r.grid_score_90,
            r.best_ring_outer,
            r.grid_score_annulus,
            r.grid_score_opexebo,
            r.spacing,
            r.orientation,
            r.wavelength,
            r.null_p95,
            r.null_p99,
            is_grid(r),
            r.info_rate,
            r.info_content,
            r.sparsity,
            r.selectivity,
            r.border_score,
            r.reason.clone().unwrap_or_default().replace(',', ";")
        ));
    }
    let write = |name: &str, bytes: &[u8]| -> Result<()> {
        let p = a.out.join(name);
        biodis_study::rundir::atomic_write(&p, bytes)
            .with_context(|| format!("{}: cannot write", p.display()))
    };
    write("cells.csv", csv.as_bytes())?;
    let json = serde_json::json!({
        "maps": a.maps.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "demo".into()), "cells": reports.len(), "layout": format!("{n}x{n}"),
        "null": a.null, "null_kind": a.null_kind, "grid_cell_rule": if a.null > 0 { "minmax score > the cell's null p99" } else { "minmax score > 0.8 (fixed, conservative for small maps)" },
        "seconds": secs, "cells_report": reports,
    });
    write(
        "cells.json",
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    // figures: top cells by grid score
    let mut order: Vec<usize> = (0..reports.len()).collect();
    let key = |i: usize| {
        let v = reports[i].grid_score_deepmind_minmax;
        if v.is_finite() {
            v
        } else {
            f64::NEG_INFINITY
        }
    };
    order.sort_by(|&x, &y| key(y).total_cmp(&key(x)));
    let top: Vec<usize> = order.iter().copied().take(24).collect();
    let panels: Vec<biodis_report::MapPanel> = top
        .iter()
        .map(|&i| biodis_report::MapPanel {
            marks: Vec::new(),
            title: format!("cell {i}: {:.2}", reports[i].grid_score_deepmind_minmax),
            values: maps[i].clone(),
            side: n,
            ring: None,
        })
        .collect();
    let mut files = biodis_report::map_grid(
        &a.out,
        "ratemaps",
        "Ratemaps, sorted by grid score (DeepMind min–max)",
        &panels,
        6,
    )?;
    let m = 2 * n - 1;
    let sac_panels: Vec<biodis_report::MapPanel> = top
        .iter()
        .take(12)
        .map(|&i| biodis_report::MapPanel {
            marks: Vec::new(),
            title: format!("cell {i} SAC"),
            values: sac(&maps[i], n, 1),
            side: m,
            ring: if reports[i].best_ring_outer.is_finite() {
                Some(reports[i].best_ring_outer * n as f64)
            } else {
                None
            },
        })
        .collect();
    files.extend(biodis_report::map_grid(
        &a.out,
        "sacs",
        "Autocorrelograms with the best grid-score ring",
        &sac_panels,
        6,
    )?);
    let scores: Vec<f64> = reports
        .iter()
        .map(|r| r.grid_score_deepmind_minmax)
        .collect();
    let p99s: Vec<f64> = reports
        .iter()
        .map(|r| r.null_p99)
        .filter(|v| v.is_finite())
        .collect();
    let mut marks = vec![(fixed, format!("fixed {fixed}"))];
    if !p99s.is_empty() {
        marks.push((
            biodis_metrics::special::percentile(&p99s, 50.0),
            "median of per-cell null p99".to_string(),
        ));
    }
    files.extend(biodis_report::histogram(
        &a.out,
        "grid_scores",
        "Grid scores (DeepMind min–max)",
        "grid score",
        &scores,
        &marks,
    )?);
    let n_grid = reports.iter().filter(|r| is_grid(r)).count();
    let n_nan = reports
        .iter()
        .filter(|r| {
            r.reason
                .as_deref()
                .map(|s| s.starts_with("empty") || s.starts_with("constant"))
                .unwrap_or(false)
        })
        .count();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "{} cells of {n}×{n}; {} grid cells ({}); {} empty/constant maps (NaN scores)",
            reports.len(),
            n_grid,
            if a.null > 0 {
                format!("above their own {}-shuffle null's 99th percentile", a.null)
            } else {
                "min–max score > 0.8".into()
            },
            n_nan
        );
        println!(
            "{:>5} {:>9} {:>9} {:>7} {:>9} {:>8} {:>8}",
            "cell", "DM mean", "DM minmax", "s90", "opexebo", "null p99", "spacing"
        );
        for &i in top.iter().take(10) {
            let r = &reports[i];
            println!(
                "{i:>5} {:>9.3} {:>9.3} {:>7.3} {:>9.3} {:>8.3} {:>8.2}",
                r.grid_score_deepmind_mean,
                r.grid_score_deepmind_minmax,
                r.grid_score_90,
                r.grid_score_opexebo,
                r.null_p99,
                r.spacing
            );
        }
        println!("analysed in {secs:.2} s ({jobs} threads)");
        println!("wrote {}", a.out.join("cells.csv").display());
        for f in files {
            println!("wrote {}", f.display());
        }
    }
    Ok(())
}

/// Synthetic 16×16 cells for demos and benchmarks: a fifth each of hexagonal grids (random
/// period 4–8, orientation, phase), place fields, bands, border cells and smooth noise.
fn demo_maps(count: usize, seed: u64) -> (Vec<Vec<f64>>, usize) {
    use biodis_metrics::spatial::maps::*;
    use biodis_metrics::special::SplitMix64;
    let n = 16;
    let mut rng = SplitMix64(biodis_data::streams::spatial::demo_maps(seed));
    let maps = (0..count)
        .map(|i| match i % 5 {
            0 => hex_rect_map(
                n,
                4.0 + 4.0 * rng.uniform(),
                rng.uniform() * 1.05,
                (rng.uniform() * 8.0, rng.uniform() * 8.0),
            ),
            1 => place_map(
                n,
                rng.uniform() * 15.0,
                rng.uniform() * 15.0,
                1.0 + 2.0 * rng.uniform(),
            ),
            2 => band_map(
                n,
                4.0 + 4.0 * rng.uniform(),
                rng.uniform() * std::f64::consts::PI,
            ),
            3 => border_map(n, (rng.uniform() * 4.0) as usize, 1.0 + rng.uniform()),
            _ => random_field(n, 1.0, &mut rng),
        })
        .collect();
    (maps, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_line_counts_rate_and_eta() {
        assert_eq!(
            progress_line(120, 4000, 5.0),
            "spatial: 120/4000 cells (3.0 %), 24.0 cells/s, ETA 2 min 41 s"
        );
        assert_eq!(
            progress_line(0, 10, 1.0),
            "spatial: 0/10 cells (0.0 %), 0.0 cells/s, ETA unknown"
        );
        assert_eq!(
            progress_line(10, 10, 2.0),
            "spatial: 10/10 cells (100.0 %), 5.0 cells/s, ETA 0 s"
        );
    }
}
