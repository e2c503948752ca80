//! Figures of a dense study with a sweep over two or more numeric keys (issue #22, the
//! gradient-noise regime map; any recipe's `[sweep.grid]` gets them):
//!
//! - `figures/sweep_map.{png,svg}` — final MIR (headline layer) mean ± s.e. over seeds as a
//!   heatmap over the first two numeric swept keys (x: the first in key order, y: the second),
//!   one row of panels per value of the other swept keys, one column per variant plus the
//!   difference of the first two variants (`Δ = first − second`, s.e. from both sides').
//! - `figures/noise_scale.{png,svg}` — when `train.lr` and `train.batch` are swept: Δ (or the
//!   one variant's MIR) against `η_end / batch^α` for α = 0, ½, 1, where `η_end` is the mean
//!   learning rate over the last 10 % of training (`constant`: lr; `cosine`: lr ·
//!   (½ − ½ sin(0.9π) / 0.1π) ≈ 0.0082 lr, the schedule of biodis-nn's `Schedule::lr`). The
//!   title gives Spearman's ρ: a regime that collapses onto one monotone curve has |ρ| near 1.
//! - `figures/mechanism.{png,svg}` — when the runs recorded `train.noise_diagnostics`: the
//!   first variant's final MIR against the ratio of the activity energy's cross-term gradient
//!   to the minibatch gradient noise along it (`cross_grad / grad_noise_along`, App. A.3.1) at
//!   the end of training, and that ratio and MIR along training for four groups (the lowest,
//!   two middle and the highest final MIR).

use super::*;
use std::collections::BTreeMap;

/// One run's swept values and result.
#[derive(Debug, Clone)]
struct Point {
    variant: String,
    /// swept key → value (numbers as f64; strings in `labels`)
    nums: BTreeMap<String, f64>,
    labels: BTreeMap<String, String>,
    steps: f64,
    mir: f64,
    run: usize,
}

/// The mean learning rate over the last 10 % of training, as a fraction of the base lr.
pub fn end_lr_factor(schedule: &str) -> f64 {
    match schedule {
        "cosine" => {
            let pi = std::f64::consts::PI;
            0.5 - 0.5 * (0.9 * pi).sin() / (0.1 * pi)
        }
        _ => 1.0,
    }
}

/// Spearman's rank correlation of the finite pairs (average ranks for ties): the Pearson
/// correlation of the ranks (`biodis_metrics::spatial::stats::map_correlation`); NaN below 3
/// pairs.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .map(|(a, b)| (*a, *b))
        .collect();
    let rank = |v: Vec<f64>| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            let avg = (i + j) as f64 / 2.0;
            for &k in &idx[i..=j] {
                r[k] = avg;
            }
            i = j + 1;
        }
        r
    };
    let rx = rank(pairs.iter().map(|p| p.0).collect());
    let ry = rank(pairs.iter().map(|p| p.1).collect());
    biodis_metrics::spatial::stats::map_correlation(&rx, &ry)
}

/// The runs' swept values: `(points, numeric keys, other keys)`; `None` without a sweep of
/// two numeric keys.
fn read_points(study: &StudyData, dir: &Path) -> Option<(Vec<Point>, Vec<String>, Vec<String>)> {
    let mut flat = Vec::new();
    for r in &study.runs {
        let t: toml::Table = std::fs::read_to_string(dir.join(&r.run_id).join("recipe.toml"))
            .ok()?
            .parse()
            .ok()?;
        let f: BTreeMap<String, toml::Value> =
            biodis_rundir::flatten_toml(&t, "").into_iter().collect();
        flat.push(f);
    }
    let variant_of = |f: &BTreeMap<String, toml::Value>| {
        f.get("run.variant")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    // keys that vary within one variant (the sweep), not the run's identity
    let mut swept: Vec<String> = Vec::new();
    let first = variant_of(flat.first()?);
    let same: Vec<&BTreeMap<String, toml::Value>> =
        flat.iter().filter(|f| variant_of(f) == first).collect();
    for k in same[0].keys() {
        if k.starts_with("run.") || k.starts_with("study.") {
            continue;
        }
        if same.iter().any(|f| f.get(k) != same[0].get(k)) {
            swept.push(k.clone());
        }
    }
    let is_num = |v: &toml::Value| matches!(v, toml::Value::Integer(_) | toml::Value::Float(_));
    let (nums, others): (Vec<String>, Vec<String>) = swept
        .into_iter()
        .partition(|k| flat.iter().all(|f| f.get(k).is_some_and(is_num)));
    if nums.len() < 2 {
        return None;
    }
    let points = study
        .runs
        .iter()
        .zip(&flat)
        .enumerate()
        .map(|(i, (r, f))| Point {
            variant: variant_of(f),
            nums: nums
                .iter()
                .map(|k| {
                    let v = match f.get(k) {
                        Some(toml::Value::Integer(x)) => *x as f64,
                        Some(toml::Value::Float(x)) => *x,
                        _ => f64::NAN,
                    };
                    (k.clone(), v)
                })
                .collect(),
            labels: others
                .iter()
                .map(|k| {
                    let v = match f.get(k) {
                        Some(toml::Value::String(s)) => s.clone(),
                        Some(v) => v.to_string(),
                        None => "unset".into(),
                    };
                    (k.clone(), v)
                })
                .collect(),
            steps: f
                .get("train.steps")
                .and_then(|v| v.as_integer())
                .unwrap_or(0) as f64,
            mir: r.final_mir.get(r.primary).copied().unwrap_or(f64::NAN),
            run: i,
        })
        .collect();
    Some((points, nums, others))
}

fn short(k: &str) -> &str {
    k.rsplit('.').next().unwrap_or(k)
}

/// The panel label of a point: its non-map swept values (`schedule=cosine`), or `all`.
fn panel_of(p: &Point, keys_extra: &[String]) -> String {
    let mut parts: Vec<String> = keys_extra
        .iter()
        .map(|k| format!("{}={}", short(k), fmt_tick(p.nums[k])))
        .collect();
    parts.extend(p.labels.iter().map(|(k, v)| format!("{}={v}", short(k))));
    if parts.is_empty() {
        "all".into()
    } else {
        parts.join(", ")
    }
}

/// A cell of the map: mean, s.e., n.
type Cell = (f64, f64, usize);

struct Map {
    xkey: String,
    ykey: String,
    xs: Vec<f64>,
    ys: Vec<f64>,
    panels: Vec<String>,
    variants: Vec<String>,
    /// (panel, column, xi, yi) → cell; columns are the variants, then Δ when ≥ 2 variants
    cells: BTreeMap<(usize, usize, usize, usize), Cell>,
    columns: Vec<String>,
}

fn uniq(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

fn build_map(points: &[Point], nums: &[String]) -> Map {
    let (xkey, ykey) = (nums[0].clone(), nums[1].clone());
    let extra: Vec<String> = nums[2..].to_vec();
    let xs = uniq(points.iter().map(|p| p.nums[&xkey]).collect());
    let ys = uniq(points.iter().map(|p| p.nums[&ykey]).collect());
    let mut panels: Vec<String> = Vec::new();
    let mut variants: Vec<String> = Vec::new();
    for p in points {
        let l = panel_of(p, &extra);
        if !panels.contains(&l) {
            panels.push(l);
        }
        if !variants.contains(&p.variant) {
            variants.push(p.variant.clone());
        }
    }
    let mut cells = BTreeMap::new();
    let pos = |v: &[f64], x: f64| v.iter().position(|&a| a == x).unwrap_or(0);
    for (pi, panel) in panels.iter().enumerate() {
        for xi in 0..xs.len() {
            for yi in 0..ys.len() {
                let mut stats: Vec<Cell> = Vec::new();
                for (vi, v) in variants.iter().enumerate() {
                    let vals: Vec<f64> = points
                        .iter()
                        .filter(|p| {
                            &p.variant == v
                                && &panel_of(p, &extra) == panel
                                && pos(&xs, p.nums[&xkey]) == xi
                                && pos(&ys, p.nums[&ykey]) == yi
                        })
                        .map(|p| p.mir)
                        .collect();
                    let s = mean_se(&vals);
                    let c = (s.mean, s.se, s.n);
                    if s.n > 0 {
                        cells.insert((pi, vi, xi, yi), c);
                    }
                    stats.push(c);
                }
                if variants.len() >= 2 && stats[0].2 > 0 && stats[1].2 > 0 {
                    let se = (stats[0].1.powi(2) + stats[1].1.powi(2)).sqrt();
                    cells.insert(
                        (pi, variants.len(), xi, yi),
                        (stats[0].0 - stats[1].0, se, stats[0].2.min(stats[1].2)),
                    );
                }
            }
        }
    }
    let mut columns: Vec<String> = variants.iter().map(|v| format!("MIR {v}")).collect();
    if variants.len() >= 2 {
        columns.push(format!("Δ = {} − {}", variants[0], variants[1]));
    }
    Map {
        xkey,
        ykey,
        xs,
        ys,
        panels,
        variants,
        cells,
        columns,
    }
}

fn draw_map<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: &Map,
    study: &str,
) -> Result<(), ReportError> {
    let (top, rest) = root.split_vertically(36);
    top.draw(&Text::new(
        format!(
            "{study}: final MIR over {} × {} (mean ± s.e. over seeds)",
            short(&m.xkey),
            short(&m.ykey)
        ),
        (16, 10),
        ("sans-serif", 18),
    ))
    .map_err(perr)?;
    let ncol = m.columns.len();
    let areas = rest.split_evenly((m.panels.len().max(1), ncol.max(1)));
    let delta: Vec<f64> = m
        .cells
        .iter()
        .filter(|((_, c, _, _), _)| *c == m.variants.len())
        .map(|(_, v)| v.0)
        .collect();
    let (dlo, dhi) = shared_scale([delta.as_slice()]);
    let (dlo, dhi) = (dlo.min(0.0), dhi.max(0.0));
    for (pi, panel) in m.panels.iter().enumerate() {
        for (ci, col) in m.columns.iter().enumerate() {
            let area = &areas[pi * ncol + ci];
            let is_delta = ci == m.variants.len();
            let (lo, hi) = if is_delta { (dlo, dhi) } else { (0.0, 1.0) };
            let nx = m.xs.len() as f64;
            let ny = m.ys.len() as f64;
            let mut chart = ChartBuilder::on(area)
                .caption(format!("{col} · {panel}"), ("sans-serif", 14))
                .margin(8)
                .x_label_area_size(34)
                .y_label_area_size(52)
                .build_cartesian_2d(-0.5..nx - 0.5, -0.5..ny - 0.5)
                .map_err(perr)?;
            let xs = m.xs.clone();
            let ys = m.ys.clone();
            let fx = move |v: &f64| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < xs.len() {
                    fmt_tick(xs[i as usize])
                } else {
                    String::new()
                }
            };
            let fy = move |v: &f64| {
                let i = v.round();
                if (v - i).abs() < 1e-6 && i >= 0.0 && (i as usize) < ys.len() {
                    format!("{:e}", ys[i as usize])
                } else {
                    String::new()
                }
            };
            chart
                .configure_mesh()
                .disable_mesh()
                .x_desc(short(&m.xkey))
                .y_desc(short(&m.ykey))
                .x_labels(m.xs.len() * 2 + 1)
                .y_labels(m.ys.len() * 2 + 1)
                .x_label_formatter(&fx)
                .y_label_formatter(&fy)
                .label_style(("sans-serif", 12))
                .draw()
                .map_err(perr)?;
            for xi in 0..m.xs.len() {
                for yi in 0..m.ys.len() {
                    let Some(&(mean, se, _)) = m.cells.get(&(pi, ci, xi, yi)) else {
                        continue;
                    };
                    let t = (mean - lo) / (hi - lo);
                    let (x, y) = (xi as f64, yi as f64);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                            viridis(t).filled(),
                        )))
                        .map_err(perr)?;
                    let ink = if t > 0.6 { BLACK } else { WHITE };
                    let style = ("sans-serif", 13).into_font().color(&ink);
                    let se_text = if se.is_finite() {
                        format!("± {se:.2}")
                    } else {
                        "n=1".into()
                    };
                    chart
                        .draw_series([
                            Text::new(
                                if is_delta {
                                    format!("{mean:+.2}")
                                } else {
                                    format!("{mean:.2}")
                                },
                                (x - 0.22, y + 0.12),
                                style.clone(),
                            ),
                            Text::new(se_text, (x - 0.22, y - 0.12), style),
                        ])
                        .map_err(perr)?;
                }
            }
        }
    }
    Ok(())
}

/// The map as a Markdown table: one row per (panel, y value), one column per x value, each
/// cell `Δ ± s.e. (MIR of the first variant)` (or the one variant's MIR ± s.e.).
fn map_table(m: &Map) -> String {
    let mut s = format!("| {} | {} |", "panel", short(&m.ykey));
    for x in &m.xs {
        s.push_str(&format!(" {} = {} |", short(&m.xkey), fmt_tick(*x)));
    }
    s.push_str("\n|---|---|");
    s.push_str(&"---|".repeat(m.xs.len()));
    s.push('\n');
    let delta_col = m.variants.len();
    for (pi, panel) in m.panels.iter().enumerate() {
        for (yi, y) in m.ys.iter().enumerate() {
            s.push_str(&format!("| {panel} | {y:e} |"));
            for xi in 0..m.xs.len() {
                let first = m.cells.get(&(pi, 0, xi, yi));
                let cell = if m.variants.len() >= 2 {
                    match (m.cells.get(&(pi, delta_col, xi, yi)), first) {
                        (Some(d), Some(a)) => format!("{:+.2} ± {:.2} ({:.2})", d.0, d.1, a.0),
                        _ => "–".into(),
                    }
                } else {
                    first
                        .map(|a| format!("{:.2} ± {:.2}", a.0, a.1))
                        .unwrap_or_else(|| "–".into())
                };
                s.push_str(&format!(" {cell} |"));
            }
            s.push('\n');
        }
    }
    s
}

/// One group of the first variant: its panel, map cell and mean values.
struct GroupPt {
    panel: usize,
    lr_end: f64,
    batch: f64,
    y: Cell,
    runs: Vec<usize>,
    label: String,
}

fn groups(m: &Map, points: &[Point], extra: &[String]) -> Vec<GroupPt> {
    let has = |k: &str| m.xkey == k || m.ykey == k;
    let lr_key = "train.lr";
    let batch_key = "train.batch";
    let mut out = Vec::new();
    let col = if m.variants.len() >= 2 {
        m.variants.len()
    } else {
        0
    };
    for (pi, panel) in m.panels.iter().enumerate() {
        for (xi, &x) in m.xs.iter().enumerate() {
            for (yi, &y) in m.ys.iter().enumerate() {
                let Some(&cell) = m.cells.get(&(pi, col, xi, yi)) else {
                    continue;
                };
                let runs: Vec<&Point> = points
                    .iter()
                    .filter(|p| {
                        p.variant == m.variants[0]
                            && &panel_of(p, extra) == panel
                            && p.nums[&m.xkey] == x
                            && p.nums[&m.ykey] == y
                    })
                    .collect();
                let Some(p0) = runs.first() else { continue };
                let schedule = p0
                    .labels
                    .get("train.schedule")
                    .map(String::as_str)
                    .unwrap_or("constant");
                let lr = if has(lr_key) {
                    p0.nums[lr_key]
                } else {
                    f64::NAN
                };
                let batch = if has(batch_key) {
                    p0.nums[batch_key]
                } else {
                    f64::NAN
                };
                out.push(GroupPt {
                    panel: pi,
                    lr_end: lr * end_lr_factor(schedule),
                    batch,
                    y: cell,
                    runs: runs.iter().map(|p| p.run).collect(),
                    label: format!(
                        "{} {}={} {}={}",
                        panel,
                        short(&m.xkey),
                        fmt_tick(x),
                        short(&m.ykey),
                        fmt_tick(y)
                    ),
                });
                let _ = p0.steps;
            }
        }
    }
    out
}

fn draw_noise<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    m: &Map,
    g: &[GroupPt],
    ylabel: &str,
) -> Result<(), ReportError> {
    let areas = root.split_evenly((1, 3));
    for (area, (alpha, name)) in areas.iter().zip([
        (0.0, "η_end"),
        (0.5, "η_end / √batch"),
        (1.0, "η_end / batch"),
    ]) {
        let xs: Vec<f64> = g
            .iter()
            .map(|p| (p.lr_end / p.batch.powf(alpha)).log10())
            .collect();
        let ys: Vec<f64> = g.iter().map(|p| p.y.0).collect();
        let rho = spearman(&xs, &ys);
        let (x0, x1) = shared_scale([xs.as_slice()]);
        let (y0, y1) = shared_scale([ys.as_slice()]);
        let (y0, y1) = (y0.min(0.0) - 0.05, y1 + 0.05);
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{name}: Spearman ρ = {rho:.2}"), ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d((x0 - 0.2)..(x1 + 0.2), y0..y1)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc(format!("log10 {name}"))
            .y_desc(ylabel)
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(perr)?;
        for (pi, panel) in m.panels.iter().enumerate() {
            let c = PALETTE[pi % PALETTE.len()];
            let pts: Vec<(f64, f64, f64)> = g
                .iter()
                .zip(&xs)
                .filter(|(p, x)| p.panel == pi && x.is_finite())
                .map(|(p, &x)| (x, p.y.0, if p.y.1.is_finite() { p.y.1 } else { 0.0 }))
                .collect();
            chart
                .draw_series(
                    pts.iter().map(|&(x, y, e)| {
                        ErrorBar::new_vertical(x, y - e, y, y + e, c.mix(0.6), 6)
                    }),
                )
                .map_err(perr)?;
            chart
                .draw_series(
                    pts.iter()
                        .map(|&(x, y, _)| Circle::new((x, y), 4, c.filled())),
                )
                .map_err(perr)?
                .label(panel.clone())
                .legend(move |(a, b)| Circle::new((a + 8, b), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .label_font(("sans-serif", 12))
            .draw()
            .map_err(perr)?;
    }
    Ok(())
}

/// Final `cross_grad / grad_noise_along` of a run (its last evaluation), if recorded.
fn final_ratio(r: &RunRecord) -> Option<f64> {
    let c = r.curve.get("cross_grad")?.last()?;
    let n = r.curve.get("grad_noise_along")?.last()?;
    let v = c / n;
    v.is_finite().then_some(v)
}

fn draw_mechanism<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    study: &StudyData,
    m: &Map,
    g: &[GroupPt],
    chosen: &[usize],
) -> Result<(), ReportError> {
    let areas = root.split_evenly((1, 3));
    // (a) final MIR of the first variant vs the final ratio
    let pts: Vec<(usize, f64, f64)> = g
        .iter()
        .filter_map(|p| {
            let ratios: Vec<f64> = p
                .runs
                .iter()
                .filter_map(|&i| final_ratio(&study.runs[i]))
                .collect();
            let mirs: Vec<f64> = p
                .runs
                .iter()
                .map(|&i| {
                    let r = &study.runs[i];
                    r.final_mir.get(r.primary).copied().unwrap_or(f64::NAN)
                })
                .collect();
            let (a, b) = (mean_se(&ratios).mean, mean_se(&mirs).mean);
            (a.is_finite() && a > 0.0).then_some((p.panel, a.log10(), b))
        })
        .collect();
    let xs: Vec<f64> = pts.iter().map(|p| p.1).collect();
    let ys: Vec<f64> = pts.iter().map(|p| p.2).collect();
    let rho = spearman(&xs, &ys);
    let (x0, x1) = shared_scale([xs.as_slice()]);
    let mut chart = ChartBuilder::on(&areas[0])
        .caption(
            format!(
                "final MIR ({}) vs cross term / noise: ρ = {rho:.2}",
                m.variants[0]
            ),
            ("sans-serif", 14),
        )
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d((x0 - 0.2)..(x1 + 0.2), 0.0..1.0)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc("log10 cross_grad / grad_noise_along (end of training)")
        .y_desc("final MIR")
        .light_line_style(RGBColor(238, 238, 238))
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(perr)?;
    for (pi, panel) in m.panels.iter().enumerate() {
        let c = PALETTE[pi % PALETTE.len()];
        chart
            .draw_series(
                pts.iter()
                    .filter(|p| p.0 == pi)
                    .map(|&(_, x, y)| Circle::new((x, y), 4, c.filled())),
            )
            .map_err(perr)?
            .label(panel.clone())
            .legend(move |(a, b)| Circle::new((a + 8, b), 4, c.filled()));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .label_font(("sans-serif", 12))
        .draw()
        .map_err(perr)?;
    // (b) the ratio and (c) MIR along training, chosen groups (mean over seeds)
    let max_step = study
        .runs
        .iter()
        .filter_map(|r| r.curve.get("step").and_then(|s| s.last().copied()))
        .fold(1.0, f64::max);
    for (k, (col, title)) in [
        ("ratio", "log10 cross_grad / grad_noise_along"),
        ("mir", "MIR"),
    ]
    .iter()
    .enumerate()
    {
        let series: Vec<(String, Vec<(f64, f64)>)> = chosen
            .iter()
            .map(|&gi| {
                let p = &g[gi];
                let runs: Vec<&RunRecord> = p.runs.iter().map(|&i| &study.runs[i]).collect();
                let line = if *col == "ratio" {
                    let steps = runs[0].curve.get("step").cloned().unwrap_or_default();
                    steps
                        .iter()
                        .enumerate()
                        .filter_map(|(j, &s)| {
                            let v: Vec<f64> = runs
                                .iter()
                                .filter_map(|r| {
                                    let c = r.curve.get("cross_grad")?.get(j)?;
                                    let n = r.curve.get("grad_noise_along")?.get(j)?;
                                    Some((c / n).log10())
                                })
                                .collect();
                            let mm = mean_se(&v).mean;
                            mm.is_finite().then_some((s, mm))
                        })
                        .collect()
                } else {
                    let name = mir_columns(runs[0])
                        .get(runs[0].primary)
                        .cloned()
                        .unwrap_or_else(|| "mir".into());
                    aggregate(&runs, &name)
                        .into_iter()
                        .map(|(s, mm, _)| (s, mm))
                        .collect()
                };
                (p.label.clone(), line)
            })
            .collect();
        let ys: Vec<f64> = series
            .iter()
            .flat_map(|s| s.1.iter().map(|p| p.1))
            .collect();
        let (y0, y1) = if *col == "mir" {
            (0.0, 1.0)
        } else {
            let (a, b) = shared_scale([ys.as_slice()]);
            (a - 0.1, b + 0.1)
        };
        let mut chart = ChartBuilder::on(&areas[k + 1])
            .caption(format!("{title} along training"), ("sans-serif", 14))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0..max_step, y0..y1)
            .map_err(perr)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(*title)
            .light_line_style(RGBColor(238, 238, 238))
            .label_style(("sans-serif", 12))
            .draw()
            .map_err(perr)?;
        for (i, (label, line)) in series.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(line.iter().copied(), c.stroke_width(2)))
                .map_err(perr)?
                .label(label.clone())
                .legend(move |(a, b)| {
                    PathElement::new(vec![(a, b), (a + 16, b)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(perr)?;
    }
    Ok(())
}

/// The sweep figures of a dense study and their tables (Markdown); nothing for a study
/// without a sweep of two numeric keys.
pub fn sweep_figures(
    study: &StudyData,
    dir: &Path,
    fig_dir: &Path,
) -> Result<(Vec<PathBuf>, String), ReportError> {
    let Some((points, nums, _)) = read_points(study, dir) else {
        return Ok((Vec::new(), String::new()));
    };
    let m = build_map(&points, &nums);
    let w = (300 * m.columns.len() as u32 + 40).max(700);
    let h = 300 * m.panels.len() as u32 + 40;
    let mut files = both!(fig_dir, "sweep_map", (w, h), |root| draw_map(
        &root,
        &m,
        &study.name
    ))?;
    let mut tables = format!(
        "Final MIR over the sweep (cells: {}):\n\n{}",
        if m.variants.len() >= 2 {
            format!(
                "Δ = MIR({}) − MIR({}) ± s.e., MIR({}) in brackets",
                m.variants[0], m.variants[1], m.variants[0]
            )
        } else {
            "MIR ± s.e.".into()
        },
        map_table(&m)
    );
    let extra: Vec<String> = nums[2..].to_vec();
    let g = groups(&m, &points, &extra);
    let lr_batch = [&m.xkey, &m.ykey].iter().any(|k| k.as_str() == "train.lr")
        && [&m.xkey, &m.ykey]
            .iter()
            .any(|k| k.as_str() == "train.batch");
    let ylabel = if m.variants.len() >= 2 {
        format!("Δ MIR ({} − {})", m.variants[0], m.variants[1])
    } else {
        "MIR".into()
    };
    if lr_batch && !g.is_empty() {
        files.extend(both!(fig_dir, "noise_scale", (1500, 480), |root| {
            draw_noise(&root, &m, &g, &ylabel)
        })?);
        tables.push_str("\nCollapse onto one noise scale (Spearman ρ of the cells' Δ against log of the scale, all panels together):\n\n| scale | ρ |\n|---|---|\n");
        for (alpha, name) in [
            (0.0, "η_end"),
            (0.5, "η_end / √batch"),
            (1.0, "η_end / batch"),
        ] {
            let xs: Vec<f64> = g
                .iter()
                .map(|p| (p.lr_end / p.batch.powf(alpha)).log10())
                .collect();
            let ys: Vec<f64> = g.iter().map(|p| p.y.0).collect();
            tables.push_str(&format!("| {name} | {:.3} |\n", spearman(&xs, &ys)));
        }
    }
    let has_mech = study.runs.iter().any(|r| final_ratio(r).is_some());
    if has_mech && !g.is_empty() {
        // four groups of the first variant by final MIR: lowest, two middle, highest
        let mut order: Vec<usize> = (0..g.len()).collect();
        let first_mir = |p: &GroupPt| {
            mean_se(
                &p.runs
                    .iter()
                    .map(|&i| {
                        let r = &study.runs[i];
                        r.final_mir.get(r.primary).copied().unwrap_or(f64::NAN)
                    })
                    .collect::<Vec<_>>(),
            )
            .mean
        };
        order.sort_by(|&a, &b| first_mir(&g[a]).total_cmp(&first_mir(&g[b])));
        let n = order.len();
        let mut chosen: Vec<usize> = [0, n / 3, (2 * n) / 3, n - 1]
            .iter()
            .map(|&i| order[i.min(n - 1)])
            .collect();
        chosen.dedup();
        files.extend(both!(fig_dir, "mechanism", (1600, 480), |root| {
            draw_mechanism(&root, study, &m, &g, &chosen)
        })?);
        tables.push_str(&format!(
            "\nMechanism (App. A.3.1): per group of `{}`, the end-of-training ratio of the activity energy's cross-term gradient to the minibatch gradient noise along it, and the final MIR:\n\n| group | cross_grad / grad_noise_along | final MIR |\n|---|---|---|\n",
            m.variants[0]
        ));
        for p in &g {
            let ratios: Vec<f64> = p
                .runs
                .iter()
                .filter_map(|&i| final_ratio(&study.runs[i]))
                .collect();
            tables.push_str(&format!(
                "| {} | {} | {:.3} |\n",
                p.label,
                crate::fmt_mean_se(&ratios, 4),
                first_mir(p)
            ));
        }
    }
    Ok((files, tables))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_end_factor_is_the_mean_of_the_last_tenth() {
        // numerically: mean of ½(1 + cos(π t)) over t in [0.9, 1]
        let n = 100_000;
        let num: f64 = (0..n)
            .map(|i| {
                let t = 0.9 + 0.1 * (i as f64 + 0.5) / n as f64;
                0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            })
            .sum::<f64>()
            / n as f64;
        assert!((end_lr_factor("cosine") - num).abs() < 1e-9);
        assert_eq!(end_lr_factor("constant"), 1.0);
    }

    #[test]
    fn spearman_of_monotone_and_reversed() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 25.0, 100.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &[4.0, 3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // ties get average ranks (scipy.stats.spearmanr([1,2,3,4],[1,1,2,2]) = 0.894427…)
        assert!((spearman(&x, &[1.0, 1.0, 2.0, 2.0]) - 0.894_427_190_999_915_9).abs() < 1e-12);
        assert!(spearman(&x[..2], &[1.0, 2.0]).is_nan());
    }
}
