//! The plotting code (plotters; PNG via the bitmap backend, SVG via the SVG backend).

use crate::{mean_se, ReportError, RunRecord, StudyData};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Once;

static FONT: Once = Once::new();

fn register_font() {
    FONT.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("../assets/DejaVuSans.ttf");
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            let _ = plotters::style::register_font("sans-serif", style, bytes);
        }
    });
}

fn perr<E: std::fmt::Debug>(e: E) -> ReportError {
    ReportError::Plot(format!("{e:?}"))
}

/// Colour-blind-safe palette (Okabe–Ito).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
];

/// Viridis, sampled at 9 points, linearly interpolated.
fn viridis(t: f64) -> RGBColor {
    const V: [(u8, u8, u8); 9] = [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * 8.0;
    let i = (x.floor() as usize).min(7);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    RGBColor(
        lerp(V[i].0, V[i + 1].0),
        lerp(V[i].1, V[i + 1].1),
        lerp(V[i].2, V[i + 1].2),
    )
}

/// An axis tick label: at most 6 decimals, trailing zeros dropped, and `-0` (a rounding
/// artefact of a tick at zero) written `0`.
pub fn fmt_tick(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let r = (v * 1e6).round() / 1e6;
    let r = if r == 0.0 { 0.0 } else { r };
    format!("{r}")
}

/// A count axis label: an integer (`70`, never `70.0`); non-integer ticks are left blank.
pub fn fmt_count(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        String::new()
    }
}

/// The one colour scale `(vmin, vmax)` of a figure of several heatmap panels: the minimum
/// and maximum of every finite value of every panel, so the same colour means the same value
/// in every panel (`(0, 1)` when nothing is finite, widened when all values are equal).
pub fn shared_scale<'a>(panels: impl IntoIterator<Item = &'a [f64]>) -> (f64, f64) {
    let (lo, hi) = panels
        .into_iter()
        .flat_map(|p| p.iter().copied())
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    }
}

/// A vertical colour bar for the scale `(lo, hi)` in `area`.
fn draw_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (lo, hi): (f64, f64),
    top: u32,
    bottom: u32,
) -> Result<(), ReportError> {
    let mut cb = ChartBuilder::on(area)
        .margin_top(top)
        .margin_bottom(bottom)
        .margin_right(10)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, lo..hi)
        .map_err(perr)?;
    cb.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_labels(5)
        .y_label_formatter(&|v| fmt_tick(*v))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(perr)?;
    let steps = 100;
    cb.draw_series((0..steps).map(|i| {
        let a = lo + (hi - lo) * i as f64 / steps as f64;
        let b = lo + (hi - lo) * (i + 1) as f64 / steps as f64;
        Rectangle::new(
            [(0.0, a), (1.0, b)],
            viridis(i as f64 / (steps - 1) as f64).filled(),
        )
    }))
    .map_err(perr)?;
    Ok(())
}

/// Draws the same figure to `<stem>.png` and `<stem>.svg` (a macro: closures cannot be
/// generic over the backend).
/// A shell-safe file stem for a figure: every character but ASCII letters, digits, `.`, `-`
/// and `_` becomes `_` (`mi_l1 beta_sparsity=0.0001` → `mi_l1_beta_sparsity_0.0001`); the
/// figure's own title keeps the label as written.
pub fn safe_stem(stem: &str) -> String {
    stem.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

macro_rules! both {
    ($dir:expr, $stem:expr, $size:expr, |$root:ident| $body:expr) => {{
        register_font();
        let stem = crate::plot::safe_stem(&$stem);
        let png = $dir.join(format!("{}.png", stem));
        let svg = $dir.join(format!("{}.svg", stem));
        // each file is drawn into a temporary file beside it and renamed (atomic)
        crate::write_atomic(&png, |tmp| {
            let $root = BitMapBackend::new(tmp, $size).into_drawing_area();
            $root.fill(&WHITE).map_err(perr)?;
            $body?;
            $root.present().map_err(|e| crate::ferr(&png, e))
        })?;
        crate::write_atomic(&svg, |tmp| {
            let $root = SVGBackend::new(tmp, $size).into_drawing_area();
            $root.fill(&WHITE).map_err(perr)?;
            $body?;
            $root.present().map_err(|e| crate::ferr(&svg, e))
        })?;
        Ok(vec![png, svg])
    }};
}

/// MIR columns of a curve, in layer order: `mir` or `mir_h0, mir_h1, …`.
fn mir_columns(r: &RunRecord) -> Vec<String> {
    if r.curve.contains_key("mir") {
        return vec!["mir".into()];
    }
    let mut v: Vec<String> = r
        .curve
        .keys()
        .filter(|k| k.starts_with("mir_h"))
        .cloned()
        .collect();
    v.sort_by_key(|k| k[5..].parse::<usize>().unwrap_or(0));
    v
}

/// Per-variant mean ± s.e. of column `col` at each step (steps common to all runs).
fn aggregate(runs: &[&RunRecord], col: &str) -> Vec<(f64, f64, f64)> {
    let Some(first) = runs.first() else {
        return Vec::new();
    };
    let steps = first.curve.get("step").cloned().unwrap_or_default();
    let mut out = Vec::new();
    for (i, &s) in steps.iter().enumerate() {
        let vals: Vec<f64> = runs
            .iter()
            .filter_map(|r| {
                let st = r.curve.get("step")?;
                let j = if st.get(i) == Some(&s) {
                    i
                } else {
                    st.iter().position(|&x| x == s)?
                };
                r.curve.get(col)?.get(j).copied()
            })
            .collect();
        let st = mean_se(&vals);
        let (m, se) = (st.mean, st.se_or_zero());
        if m.is_finite() {
            out.push((s, m, se));
        }
    }
    out
}

fn draw_mir_curves<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    study: &StudyData,
    cols: &[String],
) -> Result<(), ReportError> {
    let panels = root.split_evenly((1, cols.len().max(1)));
    let max_step = study
        .runs
        .iter()
        .filter_map(|r| r.curve.get("step").and_then(|s| s.last().copied()))
        .fold(1.0, f64::max);
    for (p, col) in panels.iter().zip(cols) {
        let title = if cols.len() == 1 {
            format!("{}: MIR over training (mean ± s.e.)", study.name)
        } else {
            format!("hidden layer {}", &col[5..])
        };
        let mut chart = ChartBuilder::on(p)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0.0..max_step, 0.0..1.0)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc("training step")
            .y_desc("MIR")
            .x_label_formatter(&|v| {
                if *v >= 1000.0 {
                    format!("{}k", *v / 1000.0)
                } else {
                    format!("{v}")
                }
            })
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(("sans-serif", 13))
            .draw()
            .map_err(perr)?;
        let primary_col = study.runs.first().map(|r| {
            if cols.len() == 1 {
                col.clone()
            } else {
                format!("mir_h{}", r.primary)
            }
        });
        let ceiling = study.runs.first().and_then(|r| r.mir_ceiling);
        if let (Some(c), true) = (ceiling, primary_col.as_deref() == Some(col.as_str())) {
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, c), (max_step, c)],
                    6,
                    4,
                    grey.stroke_width(1),
                ))
                .map_err(perr)?
                .label(format!("ceiling, one-hot factors ({c:.3})"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], grey));
        }
        for (vi, v) in study.variants.iter().enumerate() {
            let runs: Vec<&RunRecord> = study.runs.iter().filter(|r| &r.variant == v).collect();
            let agg = aggregate(&runs, col);
            if agg.is_empty() {
                continue;
            }
            let c = PALETTE[vi % PALETTE.len()];
            let band: Vec<(f64, f64)> = agg
                .iter()
                .map(|&(s, m, se)| (s, (m + se).min(1.0)))
                .chain(agg.iter().rev().map(|&(s, m, se)| (s, (m - se).max(0.0))))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(band, c.mix(0.2))))
                .map_err(perr)?;
            chart
                .draw_series(LineSeries::new(
                    agg.iter().map(|&(s, m, _)| (s, m)),
                    c.stroke_width(2),
                ))
                .map_err(perr)?
                .label(format!("{v} (n={})", runs.len()))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(perr)?;
    }
    Ok(())
}

/// `figures/mir_curve.{png,svg}`.
pub fn mir_curves(study: &StudyData, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let cols = study.runs.first().map(mir_columns).unwrap_or_default();
    let w = 420 * cols.len().max(2) as u32;
    both!(dir, "mir_curve", (w.max(840), 520), |root| draw_mir_curves(
        &root, study, &cols
    ))
}

fn draw_heatmap<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    r: &RunRecord,
    vmax: f64,
) -> Result<(), ReportError> {
    let mir = r.final_mir.get(r.primary).copied().unwrap_or(f64::NAN);
    let kept: Vec<usize> = if r.mi_kept.is_empty() {
        (0..r.mi_matrix.len()).collect()
    } else {
        r.mi_kept.clone()
    };
    let title = format!(
        "{} — MI(neuron; factor)/H(factor), {} kept neurons, MIR {:.3}",
        r.run_id,
        kept.len(),
        mir
    );
    draw_matrix(root, &title, &r.mi_matrix, &kept, Some(vmax))
}

/// Heatmap of `matrix` (neurons × factors) restricted to `kept` neurons, sorted by preferred
/// factor then by strength, with a colour bar.
fn draw_matrix<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    matrix: &[Vec<f64>],
    kept: &[usize],
    vmax: Option<f64>,
) -> Result<(), ReportError> {
    let n_f = matrix.first().map(|x| x.len()).unwrap_or(0);
    let mut neurons: Vec<usize> = kept.to_vec();
    let pref = |n: usize| -> (usize, f64) {
        let row = &matrix[n];
        let (mut bi, mut bv) = (0, f64::NEG_INFINITY);
        for (i, &v) in row.iter().enumerate() {
            if v > bv {
                bi = i;
                bv = v;
            }
        }
        (bi, bv)
    };
    neurons.sort_by(|&a, &b| {
        let (fa, va) = pref(a);
        let (fb, vb) = pref(b);
        fa.cmp(&fb).then(vb.total_cmp(&va))
    });
    let vmax = vmax
        .unwrap_or_else(|| {
            neurons
                .iter()
                .flat_map(|&n| matrix[n].iter().copied())
                .fold(0.0, f64::max)
        })
        .max(1e-12);
    let (main, bar) = root.split_horizontally(root.dim_in_pixel().0 as i32 - 90);
    let mut chart = ChartBuilder::on(&main)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(60)
        .build_cartesian_2d(
            0.0..neurons.len().max(1) as f64,
            -0.5..n_f.max(1) as f64 - 0.5,
        )
        .map_err(perr)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("neuron (sorted by preferred factor)")
        .y_desc("factor")
        .y_labels(n_f.max(1))
        .y_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-9 {
                format!("e{}", v.round() as i64)
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|v| format!("{}", v.round() as i64))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(perr)?;
    chart
        .draw_series(neurons.iter().enumerate().flat_map(|(x, &n)| {
            matrix[n].iter().enumerate().map(move |(f, &v)| {
                Rectangle::new(
                    [(x as f64, f as f64 - 0.5), (x as f64 + 1.0, f as f64 + 0.5)],
                    viridis(v / vmax).filled(),
                )
            })
        }))
        .map_err(perr)?;
    draw_colour_bar(&bar, (0.0, vmax), 40, 46)?;
    Ok(())
}

/// The one colour scale (top) of a study's MI heatmaps: the largest value over the kept
/// neurons of every run drawn, so the variants' heatmaps compare side by side.
pub fn mi_scale<'a>(runs: impl IntoIterator<Item = &'a RunRecord>) -> f64 {
    let mut vmax = 0.0f64;
    for r in runs {
        let kept: Vec<usize> = if r.mi_kept.is_empty() {
            (0..r.mi_matrix.len()).collect()
        } else {
            r.mi_kept.clone()
        };
        for n in kept {
            if let Some(row) = r.mi_matrix.get(n) {
                for &v in row {
                    if v.is_finite() {
                        vmax = vmax.max(v);
                    }
                }
            }
        }
    }
    vmax.max(1e-12)
}

/// `figures/mi_<variant>.{png,svg}` for one run, coloured on the study's scale `vmax`
/// ([`mi_scale`]).
pub fn mi_heatmap(r: &RunRecord, dir: &Path, vmax: f64) -> Result<Vec<PathBuf>, ReportError> {
    let n = r.mi_kept.len().max(1);
    let w = (160 + 6 * n as u32).clamp(700, 1400);
    both!(dir, format!("mi_{}", r.variant), (w, 360), |root| {
        draw_heatmap(&root, r, vmax)
    })
}

/// Writes a heatmap of `matrix` (neurons × factors, rows `kept` only) to `path` (`.png` or
/// `.svg`, chosen by the extension).
pub fn matrix_heatmap(
    path: &Path,
    title: &str,
    matrix: &[Vec<f64>],
    kept: &[usize],
) -> Result<(), ReportError> {
    register_font();
    let n = kept.len().max(1);
    let size = ((160 + 6 * n as u32).clamp(700, 1400), 360);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(crate::ferr(
            path,
            format!("cannot write: the folder {} does not exist", dir.display()),
        ));
    }
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => crate::write_atomic(path, |tmp| {
            let root = BitMapBackend::new(tmp, size).into_drawing_area();
            root.fill(&WHITE).map_err(perr)?;
            draw_matrix(&root, title, matrix, kept, None)?;
            root.present()
                .map_err(|e| crate::ferr(path, format!("cannot write: {e}")))
        }),
        Some("svg") => crate::write_atomic(path, |tmp| {
            let root = SVGBackend::new(tmp, size).into_drawing_area();
            root.fill(&WHITE).map_err(perr)?;
            draw_matrix(&root, title, matrix, kept, None)?;
            root.present()
                .map_err(|e| crate::ferr(path, format!("cannot write: {e}")))
        }),
        _ => Err(ReportError::File {
            path: path.display().to_string(),
            msg: "expected a .png or .svg file name".into(),
        }),
    }
}

fn draw_fig1<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    panels: &[Fig1Panel],
) -> Result<(), ReportError> {
    let (top, rest) = root.split_vertically(40);
    top.draw(&Text::new(
        "Fig 1 — nonnegativity + activity energy favour axis-aligned (disentangled) codes",
        (20, 12),
        ("sans-serif", 20),
    ))
    .map_err(perr)?;
    let areas = rest.split_evenly((1, panels.len().max(1)));
    for (i, (area, (title, pts, energy))) in areas.iter().zip(panels).enumerate() {
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{title} — E‖z‖² = {energy:.3}"), ("sans-serif", 13))
            .margin(14)
            .x_label_area_size(30)
            .y_label_area_size(36)
            .build_cartesian_2d(-1.6..3.0, -1.6..3.0)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc("neuron 1")
            .y_desc("neuron 2")
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(perr)?;
        // the nonnegative quadrant
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, 0.0), (3.0, 3.0)],
                RGBColor(0, 158, 115).mix(0.08).filled(),
            )))
            .map_err(perr)?;
        let c = PALETTE[i % PALETTE.len()];
        chart
            .draw_series(
                pts.iter()
                    .map(|&(x, y)| Circle::new((x, y), 1, c.mix(0.5).filled())),
            )
            .map_err(perr)?;
    }
    Ok(())
}

/// Fig 1 (the proof intuition of Theorem 1): `fig1.{png,svg}` in `dir`.
pub fn fig1(dir: &Path, panels: &[Fig1Panel]) -> Result<Vec<PathBuf>, ReportError> {
    both!(dir, "fig1", (1500, 560), |root| draw_fig1(&root, panels))
}

/// One Fig 1 panel: title, points `(neuron 1, neuron 2)`, energy `E‖z‖²`.
pub type Fig1Panel = (String, Vec<(f64, f64)>, f64);

/// One small map panel for [`map_grid`]: title, `side × side` values (NaN drawn grey), and an
/// optional circle radius (pixels) drawn around the centre (the best grid-score ring).
pub struct MapPanel {
    pub title: String,
    pub values: Vec<f64>,
    pub side: usize,
    pub ring: Option<f64>,
    /// `(row, col)` bins marked with a white dot (e.g. objects).
    pub marks: Vec<(usize, usize)>,
}

fn draw_map_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[MapPanel],
    cols: usize,
) -> Result<(), ReportError> {
    let (top, rest) = root.split_vertically(36);
    top.draw(&Text::new(title.to_string(), (14, 10), ("sans-serif", 18)))
        .map_err(perr)?;
    let (lo, hi) = shared_scale(panels.iter().map(|p| p.values.as_slice()));
    let span = hi - lo;
    let w = rest.dim_in_pixel().0 as i32;
    let (rest, bar) = rest.split_horizontally(w - 80);
    draw_colour_bar(&bar, (lo, hi), 20, 20)?;
    let rows = panels.len().div_ceil(cols.max(1));
    let areas = rest.split_evenly((rows.max(1), cols.max(1)));
    for (area, p) in areas.iter().zip(panels) {
        let n = p.side as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(&p.title, ("sans-serif", 11))
            .margin(3)
            .build_cartesian_2d(0.0..n, 0.0..n)
            .map_err(perr)?;
        chart
            .draw_series(p.values.iter().enumerate().map(|(i, &v)| {
                let (r, c) = ((i / p.side) as f64, (i % p.side) as f64);
                let col = if v.is_finite() {
                    viridis((v - lo) / span)
                } else {
                    RGBColor(200, 200, 200)
                };
                // row 0 at the top
                Rectangle::new([(c, n - r - 1.0), (c + 1.0, n - r)], col.filled())
            }))
            .map_err(perr)?;
        if !p.marks.is_empty() {
            chart
                .draw_series(p.marks.iter().map(|&(r, c)| {
                    Circle::new(
                        (c as f64 + 0.5, n - r as f64 - 0.5),
                        4,
                        ShapeStyle::from(&WHITE).filled(),
                    )
                }))
                .map_err(perr)?;
        }
        if let Some(rad) = p.ring {
            let h = n / 2.0;
            let pts: Vec<(f64, f64)> = (0..=72)
                .map(|k| {
                    let a = k as f64 * std::f64::consts::PI / 36.0;
                    (h + rad * a.cos(), h + rad * a.sin())
                })
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(
                    pts,
                    WHITE.stroke_width(2),
                )))
                .map_err(perr)?;
        }
    }
    Ok(())
}

/// A grid of small map panels (ratemaps or autocorrelograms): `<stem>.{png,svg}` in `dir`.
pub fn map_grid(
    dir: &Path,
    stem: &str,
    title: &str,
    panels: &[MapPanel],
    cols: usize,
) -> Result<Vec<PathBuf>, ReportError> {
    let rows = panels.len().div_ceil(cols.max(1)).max(1) as u32;
    let size = (150 * cols.max(1) as u32 + 80, 36 + 160 * rows);
    both!(dir, stem, size, |root| draw_map_grid(
        &root, title, panels, cols
    ))
}

fn draw_hist<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    xlabel: &str,
    values: &[f64],
    marks: &[(f64, String)],
) -> Result<(), ReportError> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    let (lo, hi) = v
        .iter()
        .chain(marks.iter().map(|m| &m.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let (lo, hi) = if lo.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (-1.0, 1.0)
    };
    let bins = 30;
    let w = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for x in &v {
        counts[(((x - lo) / w) as usize).min(bins - 1)] += 1;
    }
    let ymax = counts.iter().copied().max().unwrap_or(1).max(1) as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(lo..hi, 0.0..ymax * 1.1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .y_desc("cells")
        .x_label_formatter(&|v| fmt_tick(*v))
        .y_label_formatter(&|v| fmt_count(*v))
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(perr)?;
    chart
        .draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let x0 = lo + i as f64 * w;
            Rectangle::new(
                [(x0, 0.0), (x0 + w * 0.95, c as f64)],
                PALETTE[0].mix(0.8).filled(),
            )
        }))
        .map_err(perr)?;
    for (k, (x, label)) in marks.iter().enumerate() {
        let c = PALETTE[(k + 1) % PALETTE.len()];
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*x, 0.0), (*x, ymax * 1.05)],
                c.stroke_width(2),
            )))
            .map_err(perr)?
            .label(label.clone())
            .legend(move |(a, b)| PathElement::new(vec![(a, b), (a + 18, b)], c.stroke_width(3)));
    }
    if !marks.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(200, 200, 200))
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(perr)?;
    }
    Ok(())
}

/// Histogram with vertical marks (e.g. a null's 99th percentile): `<stem>.{png,svg}`.
pub fn histogram(
    dir: &Path,
    stem: &str,
    title: &str,
    xlabel: &str,
    values: &[f64],
    marks: &[(f64, String)],
) -> Result<Vec<PathBuf>, ReportError> {
    both!(dir, stem, (800, 480), |root| draw_hist(
        &root, title, xlabel, values, marks
    ))
}

/// One series of a [`scatter`] plot: label and points.
pub type Series = (String, Vec<(f64, f64)>);

fn draw_scatter<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[Series],
    xticks: &[String],
    errors: &[(f64, f64, f64)],
) -> Result<(), ReportError> {
    let pts = series
        .iter()
        .flat_map(|s| s.1.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    let bars: Vec<(f64, f64)> = errors
        .iter()
        .flat_map(|&(x, m, e)| [(x, m - e), (x, m + e)])
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    for p in pts.chain(bars.iter()) {
        x0 = x0.min(p.0);
        x1 = x1.max(p.0);
        y0 = y0.min(p.1);
        y1 = y1.max(p.1);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if !xticks.is_empty() {
        (x0, x1) = (-0.5, xticks.len() as f64 - 0.5);
    }
    let (px, py) = (((x1 - x0) * 0.05).max(1e-3), ((y1 - y0) * 0.08).max(1e-3));
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
        .map_err(perr)?;
    let ticks = xticks.to_vec();
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(xlabel)
        .y_desc(ylabel)
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 13));
    let fmt = move |v: &f64| -> String {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < ticks.len() {
            ticks[i as usize].clone()
        } else {
            String::new()
        }
    };
    if !xticks.is_empty() {
        mesh.x_label_formatter(&fmt).x_labels(xticks.len() * 2 + 1);
    }
    mesh.draw().map_err(perr)?;
    for (k, (label, p)) in series.iter().enumerate() {
        let c = PALETTE[k % PALETTE.len()];
        chart
            .draw_series(
                p.iter()
                    .filter(|q| q.0.is_finite() && q.1.is_finite())
                    .map(|&q| Circle::new(q, 4, c.mix(0.75).filled())),
            )
            .map_err(perr)?
            .label(label.clone())
            .legend(move |(a, b)| Circle::new((a + 8, b), 4, c.filled()));
    }
    if !errors.is_empty() {
        chart
            .draw_series(
                errors
                    .iter()
                    .filter(|e| e.1.is_finite() && e.2.is_finite())
                    .map(|&(x, m, e)| {
                        ErrorBar::new_vertical(x, m - e, m, m + e, BLACK.stroke_width(2), 12)
                    }),
            )
            .map_err(perr)?
            .label("mean ± s.e.")
            .legend(|(a, b)| {
                PathElement::new(vec![(a + 2, b), (a + 14, b)], BLACK.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(perr)?;
    Ok(())
}

/// [`scatter`] with vertical error bars `(x, mean, s.e.)` drawn over the points.
#[allow(clippy::too_many_arguments)]
pub fn scatter_with_errors(
    dir: &Path,
    stem: &str,
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[Series],
    xticks: &[String],
    errors: &[(f64, f64, f64)],
) -> Result<Vec<PathBuf>, ReportError> {
    both!(dir, stem, (800, 520), |root| draw_scatter(
        &root, title, xlabel, ylabel, series, xticks, errors
    ))
}

/// Scatter plot of labelled series: `<stem>.{png,svg}`. With `xticks`, x is a category index
/// (a strip plot: one column per category, labelled).
pub fn scatter(
    dir: &Path,
    stem: &str,
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[Series],
    xticks: &[String],
) -> Result<Vec<PathBuf>, ReportError> {
    scatter_with_errors(dir, stem, title, xlabel, ylabel, series, xticks, &[])
}

/// One labelled curve of means with its standard error: `(x, mean, s.e.)` points.
pub type BandSeries = (String, Vec<(f64, f64, f64)>);

fn draw_bands<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[BandSeries],
) -> Result<(), ReportError> {
    let pts = series
        .iter()
        .flat_map(|(_, p)| p.iter())
        .filter(|q| q.0.is_finite() && q.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, m, e) in pts {
        let e = if e.is_finite() { e } else { 0.0 };
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(m - e);
        y1 = y1.max(m + e);
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let (px, py) = (((x1 - x0) * 0.03).max(1e-3), ((y1 - y0) * 0.08).max(1e-3));
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d((x0 - px)..(x1 + px), (y0 - py)..(y1 + py))
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .y_desc(ylabel)
        .x_label_formatter(&|v| fmt_tick(*v))
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 13))
        .draw()
        .map_err(perr)?;
    for (k, (label, p)) in series.iter().enumerate() {
        let c = PALETTE[k % PALETTE.len()];
        let p: Vec<(f64, f64, f64)> = p
            .iter()
            .copied()
            .filter(|q| q.0.is_finite() && q.1.is_finite())
            .map(|(x, m, e)| (x, m, if e.is_finite() { e } else { 0.0 }))
            .collect();
        if p.len() > 1 {
            let band: Vec<(f64, f64)> = p
                .iter()
                .map(|&(x, m, e)| (x, m + e))
                .chain(p.iter().rev().map(|&(x, m, e)| (x, m - e)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(band, c.mix(0.18).filled())))
                .map_err(perr)?;
        }
        chart
            .draw_series(LineSeries::new(
                p.iter().map(|&(x, m, _)| (x, m)),
                c.stroke_width(2),
            ))
            .map_err(perr)?
            .label(label.clone())
            .legend(move |(a, b)| {
                PathElement::new(vec![(a + 2, b), (a + 14, b)], c.stroke_width(2))
            });
        chart
            .draw_series(
                p.iter()
                    .map(|&(x, m, _)| Circle::new((x, m), 3, c.filled())),
            )
            .map_err(perr)?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(200, 200, 200))
        .label_font(("sans-serif", 13))
        .draw()
        .map_err(perr)?;
    Ok(())
}

/// Curves of means with a shaded ± s.e. band per series: `<stem>.{png,svg}`.
pub fn lines_with_band(
    dir: &Path,
    stem: &str,
    title: &str,
    xlabel: &str,
    ylabel: &str,
    series: &[BandSeries],
) -> Result<Vec<PathBuf>, ReportError> {
    both!(dir, stem, (860, 540), |root| draw_bands(
        &root, title, xlabel, ylabel, series
    ))
}

#[cfg(test)]
mod name_tests {
    #[test]
    fn tick_and_count_labels() {
        assert_eq!(super::fmt_count(70.0), "70");
        assert_eq!(super::fmt_count(0.0), "0");
        assert_eq!(super::fmt_count(-0.0), "0");
        assert_eq!(super::fmt_count(7.5), "");
        assert_eq!(super::fmt_tick(-0.0), "0");
        assert_eq!(super::fmt_tick(-1e-17), "0");
        assert_eq!(super::fmt_tick(0.30000000000000004), "0.3");
        assert_eq!(super::fmt_tick(-0.25), "-0.25");
        assert_eq!(super::fmt_tick(2.0), "2");
    }

    #[test]
    fn one_colour_scale_per_figure() {
        let a = [0.0, 0.5, f64::NAN];
        let b = [2.0, 4.0];
        assert_eq!(
            super::shared_scale([a.as_slice(), b.as_slice()]),
            (0.0, 4.0)
        );
        assert_eq!(super::shared_scale([[f64::NAN].as_slice()]), (0.0, 1.0));
        assert_eq!(super::shared_scale([[3.0, 3.0].as_slice()]), (3.0, 4.0));
    }

    #[test]
    fn mi_heatmaps_share_the_study_scale() {
        let r1 = crate::RunRecord {
            mi_matrix: vec![vec![0.1, 0.2], vec![0.9, 0.0]],
            mi_kept: vec![0],
            ..Default::default()
        };
        let r2 = crate::RunRecord {
            mi_matrix: vec![vec![0.4, 0.6]],
            ..Default::default()
        };
        // r1's neuron 1 is not kept: its 0.9 is not drawn
        assert_eq!(super::mi_scale([&r1, &r2]), 0.6);
    }

    #[test]
    fn figure_names_are_shell_safe() {
        assert_eq!(
            super::safe_stem("mi_l1 beta_sparsity=0.0001"),
            "mi_l1_beta_sparsity_0.0001"
        );
        assert_eq!(super::safe_stem("mi_all"), "mi_all");
    }
}

pub mod sweep;
