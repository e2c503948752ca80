//! Figures and report of a VAE study (paper Fig. 5 on Shapes3D, Fig. 13 on dSprites, Fig. 12
//! traversals), read from the run directories only (`summary.csv`, `result.json`, `arrays/`).
//!
//! * `mig_curve` — MIG against training step per variant, mean ± s.e. over seeds, from each
//!   run's `curve.csv` (its `eval_every` rows; Fig. 5B/D, 13 over training);
//! * `mig_by_variant` — MIG of every run per variant (Fig. 5B/13B: bio-VAE over β_weight;
//!   5D/13D: β-VAE with and without the ReLU).
//! * `mig_vs_r2` — MIG against reconstruction R², one point per run, by model family (5E/13E).
//! * `mi_best` — the MI matrix (latents × factors) of the run with the highest MIG (5C/13C).
//! * `traversals_best.png` / `.gif` — that run's latent traversals with each latent's marginal
//!   histogram (Fig. 12).

use crate::plot::{
    lines_with_band, matrix_heatmap, scatter, scatter_with_errors, BandSeries, Series,
};
use crate::{esc, ferr, Report, ReportError};
use plotters::prelude::*;
use serde_json::Value;
use std::path::Path;

struct Run {
    id: String,
    variant: String,
    nonneg: String,
    beta_weight: f64,
    mig: f64,
    r2: f64,
    result: Value,
}

fn read_runs(dir: &Path) -> Result<Vec<Run>, ReportError> {
    let p = dir.join("summary.csv");
    let text = std::fs::read_to_string(&p).map_err(|e| ferr(&p, e))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (ci, cv, cs, cn, cw, cm, cr) = match (
        col("run_id"),
        col("variant"),
        col("status"),
        col("nonneg"),
        col("beta_weight"),
        col("mig"),
        col("r2"),
    ) {
        (Some(a), Some(b), Some(c), Some(d), Some(e), Some(f), Some(g)) => (a, b, c, d, e, f, g),
        _ => return Err(ferr(&p, "not a VAE summary.csv (missing columns)")),
    };
    let mut runs = Vec::new();
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() <= cr || f[cs] != "done" {
            continue;
        }
        let rp = dir.join(f[ci]).join("result.json");
        // a damaged result.json leaves that run out of the report (with a warning), not the
        // whole report
        let Some(result) = std::fs::read_to_string(&rp)
            .ok()
            .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        else {
            eprintln!(
                "warning: {}: missing or damaged; run {} is left out of the report (re-run it with `biodis resume`)",
                rp.display(),
                f[ci]
            );
            continue;
        };
        runs.push(Run {
            id: f[ci].to_string(),
            variant: f[cv].to_string(),
            nonneg: f[cn].to_string(),
            beta_weight: f[cw].parse().unwrap_or(0.0),
            mig: f[cm].parse().unwrap_or(f64::NAN),
            r2: f[cr].parse().unwrap_or(f64::NAN),
            result,
        });
    }
    Ok(runs)
}

/// The `(step, value)` rows of `column` in a run's `curve.csv` where it is filled (older runs'
/// curves have no evaluation columns: empty).
fn curve_column(run_dir: &Path, column: &str) -> Vec<(f64, f64)> {
    let Ok(text) = std::fs::read_to_string(run_dir.join("curve.csv")) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let (Some(cs), Some(cv)) = (
        header.iter().position(|h| *h == "step"),
        header.iter().position(|h| *h == column),
    ) else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            let s = f.get(cs)?.parse::<f64>().ok()?;
            let v = f.get(cv)?.parse::<f64>().ok()?;
            Some((s, v))
        })
        .collect()
}

/// Per variant, the mean ± s.e. of `column` over its runs at every step that all its runs
/// evaluated.
fn curve_bands(dir: &Path, runs: &[Run], variants: &[String], column: &str) -> Vec<BandSeries> {
    variants
        .iter()
        .filter_map(|v| {
            let curves: Vec<Vec<(f64, f64)>> = runs
                .iter()
                .filter(|r| &r.variant == v)
                .map(|r| curve_column(&dir.join(&r.id), column))
                .filter(|c| !c.is_empty())
                .collect();
            let first = curves.first()?;
            let pts: Vec<(f64, f64, f64)> = first
                .iter()
                .filter_map(|&(s, _)| {
                    let vals: Vec<f64> = curves
                        .iter()
                        .filter_map(|c| c.iter().find(|q| q.0 == s).map(|q| q.1))
                        .collect();
                    (vals.len() == curves.len()).then(|| {
                        let st = crate::mean_se(&vals);
                        (s, st.mean, st.se_or_zero())
                    })
                })
                .collect();
            (!pts.is_empty()).then(|| (format!("{v} (n = {})", curves.len()), pts))
        })
        .collect()
}

fn family(r: &Run) -> &'static str {
    match (r.nonneg.as_str(), r.beta_weight > 0.0) {
        ("None", _) => "β-VAE",
        ("Relu", false) => "β-VAE + ReLU",
        ("Relu", true) | ("Hinge", true) => "bio-VAE (nonneg + weight energy)",
        _ => "other",
    }
}

/// Draw traversals `[latent][step][C·64·64]` with each latent's marginal histogram.
fn draw_traversals<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    tr: &[Vec<Vec<f32>>],
    channels: usize,
    codes: &[Vec<f64>],
) -> Result<(), ReportError> {
    let perr = |e: DrawingAreaErrorKind<DB::ErrorType>| ReportError::Plot(e.to_string());
    root.draw(&Text::new(title.to_string(), (10, 8), ("sans-serif", 16)))
        .map_err(perr)?;
    let cell = 66i32;
    let (x0, y0) = (40i32, 32i32);
    for (j, row) in tr.iter().enumerate() {
        let y = y0 + j as i32 * cell;
        root.draw(&Text::new(format!("z{j}"), (6, y + 26), ("sans-serif", 13)))
            .map_err(perr)?;
        for (s, img) in row.iter().enumerate() {
            let x = x0 + s as i32 * cell;
            for r in 0..64 {
                for c in 0..64 {
                    let px = |k: usize| (img[k * 4096 + r * 64 + c].clamp(0.0, 1.0) * 255.0) as u8;
                    let col = if channels == 3 {
                        RGBColor(px(0), px(1), px(2))
                    } else {
                        RGBColor(px(0), px(0), px(0))
                    };
                    root.draw_pixel((x + c as i32, y + r as i32), &col)
                        .map_err(perr)?;
                }
            }
        }
        // Marginal histogram of this latent over the MIG sample (20 bins).
        let hx = x0 + row.len() as i32 * cell + 10;
        let vals: Vec<f64> = codes.iter().map(|c| c[j]).collect();
        let (lo, hi) = vals
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut counts = [0usize; 20];
        for v in &vals {
            let k = if hi > lo {
                (((v - lo) / (hi - lo)) * 20.0).floor() as usize
            } else {
                0
            };
            counts[k.min(19)] += 1;
        }
        let top = *counts.iter().max().unwrap_or(&1) as f64;
        for (k, &n) in counts.iter().enumerate() {
            let h = (60.0 * n as f64 / top.max(1.0)) as i32;
            root.draw(&Rectangle::new(
                [
                    (hx + 5 * k as i32, y + 62 - h),
                    (hx + 5 * k as i32 + 4, y + 62),
                ],
                BLUE.filled(),
            ))
            .map_err(perr)?;
        }
    }
    Ok(())
}

fn write_gif(path: &Path, tr: &[Vec<Vec<f32>>], channels: usize) -> Result<(), ReportError> {
    // One frame per traversal step: all latents side by side, grey or colour, 2 px per pixel.
    let l = tr.len();
    let steps = tr.first().map(|r| r.len()).unwrap_or(0);
    let (w, h) = (l * 66, 64);
    crate::write_atomic(path, |tmp| {
        write_gif_to(tmp, path, tr, channels, (w, h, l, steps))
    })
}

fn write_gif_to(
    tmp: &Path,
    path: &Path,
    tr: &[Vec<Vec<f32>>],
    channels: usize,
    (w, h, _l, steps): (usize, usize, usize, usize),
) -> Result<(), ReportError> {
    let f = std::fs::File::create(tmp).map_err(|e| ferr(path, e))?;
    let mut enc = gif::Encoder::new(f, w as u16, h as u16, &[]).map_err(|e| ferr(path, e))?;
    enc.set_repeat(gif::Repeat::Infinite)
        .map_err(|e| ferr(path, e))?;
    let order: Vec<usize> = (0..steps)
        .chain((1..steps.saturating_sub(1)).rev())
        .collect();
    for s in order {
        let mut rgba = vec![255u8; w * h * 4];
        for (j, row) in tr.iter().enumerate() {
            let img = &row[s];
            for r in 0..64 {
                for c in 0..64 {
                    let o = (r * w + j * 66 + c) * 4;
                    for k in 0..3 {
                        let ch = if channels == 3 { k } else { 0 };
                        rgba[o + k] = (img[ch * 4096 + r * 64 + c].clamp(0.0, 1.0) * 255.0) as u8;
                    }
                }
            }
        }
        let mut frame = gif::Frame::from_rgba_speed(w as u16, h as u16, &mut rgba, 10);
        frame.delay = 25;
        enc.write_frame(&frame).map_err(|e| ferr(path, e))?;
    }
    Ok(())
}

/// Traversal images `[latent][step][C·64·64]`.
type Traversals = Vec<Vec<Vec<f32>>>;

fn read_traversals(run_dir: &Path) -> Result<(Traversals, usize), ReportError> {
    let p = run_dir.join("arrays/traversals.npy");
    let f = std::fs::File::open(&p).map_err(|e| ferr(&p, e))?;
    let a: ndarray::Array5<f32> = ndarray_npy::ReadNpyExt::read_npy(f).map_err(|e| ferr(&p, e))?;
    let (l, s, c, _, _) = a.dim();
    let mut out = Vec::with_capacity(l);
    for j in 0..l {
        let mut row = Vec::with_capacity(s);
        for k in 0..s {
            row.push(
                a.slice(ndarray::s![j, k, .., .., ..])
                    .iter()
                    .copied()
                    .collect(),
            );
        }
        out.push(row);
    }
    Ok((out, c))
}

fn read_codes(run_dir: &Path) -> Result<Vec<Vec<f64>>, ReportError> {
    let p = run_dir.join("arrays/codes.npy");
    let f = std::fs::File::open(&p).map_err(|e| ferr(&p, e))?;
    let a: ndarray::Array2<f32> = ndarray_npy::ReadNpyExt::read_npy(f).map_err(|e| ferr(&p, e))?;
    Ok(a.outer_iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect())
}

/// Writes the figures and `report.html` of the VAE study in `dir`.
pub fn report_vae(dir: &Path) -> Result<Report, ReportError> {
    let runs = read_runs(dir)?;
    let figs = dir.join("figures");
    std::fs::create_dir_all(&figs).map_err(|e| ferr(&figs, e))?;
    let mut files = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    for r in &runs {
        if !variants.contains(&r.variant) {
            variants.push(r.variant.clone());
        }
    }
    // Table.
    let mut table = format!(
        "{:<20} {:>4} {:>15} {:>15}  family\n",
        "variant", "runs", "MIG", "R²"
    );
    for v in &variants {
        let rs: Vec<&Run> = runs.iter().filter(|r| &r.variant == v).collect();
        let mig = crate::fmt_mean_se(&rs.iter().map(|r| r.mig).collect::<Vec<_>>(), 3);
        let r2 = crate::fmt_mean_se(&rs.iter().map(|r| r.r2).collect::<Vec<_>>(), 3);
        table.push_str(&format!(
            "{v:<20} {:>4} {:>15} {:>15}  {}\n",
            rs.len(),
            mig,
            r2,
            rs.first().map(|r| family(r)).unwrap_or("")
        ));
    }
    if runs.is_empty() {
        table.push_str("(no finished runs)\n");
    } else {
        // MIG over training (the runs' evaluation rows).
        let bands = curve_bands(dir, &runs, &variants, "mig");
        if bands.iter().any(|(_, p)| p.len() > 1) {
            files.extend(lines_with_band(
                dir.join("figures").as_path(),
                "mig_curve",
                "MIG over training per variant: mean ± s.e. over seeds",
                "training step",
                "MIG",
                &bands,
            )?);
        }
        // MIG per variant (every run a point).
        let series: Vec<Series> = vec![(
            "runs (seeds)".into(),
            runs.iter()
                .map(|r| {
                    let x = variants.iter().position(|v| v == &r.variant).unwrap_or(0) as f64;
                    (x, r.mig)
                })
                .collect(),
        )];
        let errors: Vec<(f64, f64, f64)> = variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let vals: Vec<f64> = runs
                    .iter()
                    .filter(|r| &r.variant == v)
                    .map(|r| r.mig)
                    .collect();
                let st = crate::mean_se(&vals);
                (i as f64, st.mean, st.se_or_zero())
            })
            .collect();
        files.extend(scatter_with_errors(
            &figs,
            "mig_by_variant",
            "MIG per variant: seeds (points), mean ± s.e. (bars)",
            "variant (bio-VAE over β_weight; β-VAE ± ReLU over β)",
            "MIG",
            &series,
            &variants,
            &errors,
        )?);
        // MIG vs R² by family.
        let mut fams: Vec<&str> = Vec::new();
        for r in &runs {
            if !fams.contains(&family(r)) {
                fams.push(family(r));
            }
        }
        let series: Vec<Series> = fams
            .iter()
            .map(|f| {
                (
                    f.to_string(),
                    runs.iter()
                        .filter(|r| family(r) == *f)
                        .map(|r| (r.r2, r.mig))
                        .collect(),
                )
            })
            .collect();
        files.extend(scatter(
            &figs,
            "mig_vs_r2",
            "MIG against reconstruction R² (each point a run)",
            "R²",
            "MIG",
            &series,
            &[],
        )?);
        // Best run: MI matrix and traversals.
        let best = runs
            .iter()
            .filter(|r| r.mig.is_finite())
            .max_by(|a, b| a.mig.total_cmp(&b.mig));
        if let Some(b) = best {
            let mi: Vec<Vec<f64>> = b.result["eval"]["mi"]
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .map(|r| {
                            r.as_array()
                                .map(|c| c.iter().filter_map(|x| x.as_f64()).collect())
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .unwrap_or_default();
            let kept: Vec<usize> = (0..mi.len()).collect();
            let title = format!("MI (nats), best run {} — MIG {:.3}", b.id, b.mig);
            for ext in ["png", "svg"] {
                let p = figs.join(format!("mi_best.{ext}"));
                matrix_heatmap(&p, &title, &mi, &kept)?;
                files.push(p);
            }
            // Traversals: of the best run whose arrays are here (an archived run keeps only its
            // light files: `scripts/archive-results.sh`); a warning says so when it is not the best.
            let mut ranked: Vec<&Run> = runs.iter().filter(|r| r.mig.is_finite()).collect();
            ranked.sort_by(|x, y| y.mig.total_cmp(&x.mig));
            let with_arrays = ranked
                .into_iter()
                .find(|r| dir.join(&r.id).join("arrays/traversals.npy").exists());
            let Some(t) = with_arrays else {
                eprintln!(
                    "warning: no finished run of {} has arrays/traversals.npy (archived runs keep only their light files): traversals not drawn",
                    dir.display()
                );
                return finish(dir, table, files);
            };
            if t.id != b.id {
                eprintln!(
                    "warning: the best run {} has no arrays/: traversals drawn for {}, the best run that has them",
                    b.id, t.id
                );
            }
            let b = t;
            let rd = dir.join(&b.id);
            let (tr, c) = read_traversals(&rd)?;
            let codes = read_codes(&rd)?;
            let steps = tr.first().map(|r| r.len()).unwrap_or(0);
            let size = ((40 + steps * 66 + 120) as u32, (40 + tr.len() * 66) as u32);
            let png = figs.join("traversals_best.png");
            crate::write_atomic(&png, |tmp| {
                let root = BitMapBackend::new(tmp, size).into_drawing_area();
                root.fill(&WHITE)
                    .map_err(|e| ReportError::Plot(e.to_string()))?;
                draw_traversals(
                    &root,
                    &format!(
                        "Latent traversals, {} (rows: latents; right: marginal)",
                        b.id
                    ),
                    &tr,
                    c,
                    &codes,
                )?;
                root.present().map_err(|e| ReportError::Plot(e.to_string()))
            })?;
            files.push(png);
            let gif = figs.join("traversals_best.gif");
            write_gif(&gif, &tr, c)?;
            files.push(gif);
        }
    }
    finish(dir, table, files)
}

/// `report.html` over the table and the figures written.
fn finish(
    dir: &Path,
    table: String,
    mut files: Vec<std::path::PathBuf>,
) -> Result<Report, ReportError> {
    let mut html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head><body><h1>{}</h1><pre>{}</pre>",
        esc(&dir.display().to_string()),
        esc(&dir.display().to_string()),
        esc(&table)
    );
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "png" || e == "gif"))
    {
        if let Some(n) = f.file_name().and_then(|n| n.to_str()) {
            html.push_str(&format!("<p><img src=\"figures/{n}\"></p>"));
        }
    }
    html.push_str("</body></html>\n");
    let rp = dir.join("report.html");
    biodis_rundir::atomic_write(&rp, html.as_bytes()).map_err(|e| ferr(&rp, e))?;
    files.push(rp);
    Ok(Report {
        table,
        files,
        extra: String::new(),
    })
}
