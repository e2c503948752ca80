//! Figures (PNG + SVG), the summary table and `report.html` of a study — made from run
//! directories only (`result.json`, `curve.csv`), never from in-memory training state, so a
//! report looks the same after a laptop run, a cluster sweep or a crash-resume.
//!
//! Figures (paper Fig 2 layout, generalised to any recipe):
//! - `figures/mir_curve.{png,svg}` — MIR vs training step, mean ± s.e. over seeds, one line
//!   per variant, one panel per hidden layer (Fig 2D; Fig 3's per-layer curves).
//! - `figures/mi_<variant>.{png,svg}` — the entropy-normalised MI matrix (factors × kept
//!   neurons, neurons sorted by preferred factor) of the variant's first seed (Fig 2B/2C).
//!
//! Fonts: DejaVu Sans is embedded (no system font needed).

mod plot;

pub mod cells;
pub mod claims;
pub mod vae;

pub use plot::{fig1, histogram, map_grid, matrix_heatmap, scatter, Fig1Panel, MapPanel, Series};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors making a report; messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {msg}")]
    File { path: String, msg: String },
    #[error("{0}")]
    Plot(String),
}

fn ferr(p: &Path, msg: impl std::fmt::Display) -> ReportError {
    ReportError::File {
        path: p.display().to_string(),
        msg: msg.to_string(),
    }
}

/// One finished run as read back from its directory.
#[derive(Debug, Clone, Default)]
pub struct RunRecord {
    pub run_id: String,
    pub variant: String,
    pub seed: u64,
    /// curve columns by name (step, loss, mir / mir_h0, …).
    pub curve: BTreeMap<String, Vec<f64>>,
    pub mi_matrix: Vec<Vec<f64>>,
    pub mi_kept: Vec<usize>,
    pub final_mir: Vec<f64>,
    /// Hidden layer of the headline MIR (the latent of an autoencoder, else the last hidden).
    pub primary: usize,
    pub r2: f64,
    pub active: Vec<f64>,
    pub wall_s: f64,
    /// The task's MIR ceiling when below 1 (one-hot category factors), from `result.json`.
    pub mir_ceiling: Option<f64>,
}

/// A study's runs, failed runs and description.
#[derive(Debug, Clone, Default)]
pub struct StudyData {
    pub name: String,
    pub runs: Vec<RunRecord>,
    /// `(run_id, error)` of runs that did not finish.
    pub failed: Vec<(String, String)>,
    /// Variants in first-seen order (run-id order).
    pub variants: Vec<String>,
}

/// Reads a CSV of numbers with a header into columns (non-numeric cells become NaN).
pub fn read_columns(path: &Path) -> Result<BTreeMap<String, Vec<f64>>, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ferr(path, e))?;
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .ok_or_else(|| ferr(path, "empty file"))?
        .split(',')
        .map(String::from)
        .collect();
    let mut cols: BTreeMap<String, Vec<f64>> =
        header.iter().map(|h| (h.clone(), Vec::new())).collect();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != header.len() {
            return Err(ferr(
                path,
                format!(
                    "line {}: {} fields, expected {}",
                    i + 2,
                    f.len(),
                    header.len()
                ),
            ));
        }
        for (h, v) in header.iter().zip(f) {
            cols.entry(h.clone())
                .or_default()
                .push(v.parse().unwrap_or(f64::NAN));
        }
    }
    Ok(cols)
}

/// Reads a study's runs through the run-directory contract: the runs of `runs.json` in index
/// order (a folder not listed there is not part of the study), each run's identity from the
/// `[run]` table of its `recipe.toml`, its typed `status.json` and `result.json`
/// ([`biodis_rundir::dense::RunResult`]); a run that is not done, or whose result is damaged,
/// is listed in [`StudyData::failed`] instead of failing the report.
pub fn read_study(dir: &Path) -> Result<StudyData, ReportError> {
    let sd = biodis_rundir::StudyDir::new(dir);
    if !dir.is_dir() {
        return Err(ferr(dir, "not a readable study directory"));
    }
    let entries = biodis_rundir::read_index(dir).map_err(|e| ferr(dir, e))?;
    if entries.is_empty() {
        return Err(ferr(&sd.index_path(), "lists no runs"));
    }
    let mut study = StudyData::default();
    for e in entries {
        let rd = sd.run(&e.run_id);
        let rp = rd.recipe();
        let rt = std::fs::read_to_string(&rp).map_err(|err| ferr(&rp, err))?;
        let ident = biodis_rundir::RunIdent::from_recipe_text(&rt).map_err(|m| ferr(&rp, m))?;
        if study.name.is_empty() {
            study.name = rt
                .parse::<toml::Table>()
                .ok()
                .and_then(|t| t.get("study")?.get("name")?.as_str().map(String::from))
                .unwrap_or_else(|| "study".into());
        }
        let variant = ident.group();
        if !study.variants.contains(&variant) {
            study.variants.push(variant.clone());
        }
        let run_id = e.run_id;
        let status = rd.read_status();
        let done = matches!(&status, Some(s) if s.state == biodis_rundir::State::Done);
        if !done || !rd.result().exists() {
            let err = status
                .as_ref()
                .and_then(|s| s.error.clone())
                .unwrap_or_else(|| {
                    format!(
                        "not finished (state: {})",
                        status
                            .as_ref()
                            .map(|s| s.shown_state())
                            .unwrap_or_else(|| "unknown".into())
                    )
                });
            study.failed.push((run_id, err));
            continue;
        }
        // a damaged result.json (truncated, not JSON) marks that run failed, not the report
        let r: biodis_rundir::dense::RunResult = match std::fs::read_to_string(rd.result())
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) => {
                study.failed.push((
                    run_id,
                    format!(
                        "{}: damaged ({e}); re-run it with `biodis resume`",
                        rd.result().display()
                    ),
                ));
                continue;
            }
        };
        let curve = read_columns(&rd.curve())?;
        study.runs.push(RunRecord {
            run_id,
            variant,
            seed: ident.seed,
            curve,
            final_mir: r.last.mir.clone(),
            primary: r.primary_layer,
            r2: r.last.r2,
            active: r.last.active.iter().map(|&a| a as f64).collect(),
            wall_s: r.wall_s,
            mir_ceiling: r.mir_ceiling,
            mi_matrix: r.mi_matrix,
            mi_kept: r.mi_kept,
        });
    }
    Ok(study)
}

/// Draws a file atomically: `draw` writes a temporary file beside `path` (same extension, so
/// encoders that choose the format by extension work), which is then renamed over `path`. A
/// failed or killed drawing leaves the previous file in place.
pub(crate) fn write_atomic(
    path: &Path,
    draw: impl FnOnce(&Path) -> Result<(), ReportError>,
) -> Result<(), ReportError> {
    let mut inner = None;
    let r = biodis_rundir::atomic_write_with(path, |tmp| {
        draw(tmp).map_err(|e| {
            inner = Some(e);
            std::io::Error::other("drawing failed")
        })
    });
    if let Some(e) = inner {
        return Err(e);
    }
    r.map_err(|e| ferr(path, e))
}

pub use biodis_rundir::{fmt_mean_se, mean_se};

/// What [`report_study`] produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Plain-text table of final MIR per variant and layer (with the extras below).
    pub table: String,
    /// What the table adds to a study's own summary table (a sweep's map and noise-scale
    /// tables, the claims' verdicts): printed at the end of `biodis run`.
    pub extra: String,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// Markdown table: variant, n, final MIR per hidden layer (mean ± s.e.), R².
pub fn final_table(study: &StudyData) -> String {
    let n_h = study
        .runs
        .iter()
        .map(|r| r.final_mir.len())
        .max()
        .unwrap_or(1);
    let mut s = String::from("| variant | runs |");
    for l in 0..n_h {
        if n_h == 1 {
            s.push_str(" final MIR (mean ± s.e.) |");
        } else {
            s.push_str(&format!(" MIR h{l} |"));
        }
    }
    s.push_str(" R² | active neurons |\n|---|---|");
    for _ in 0..n_h + 2 {
        s.push_str("---|");
    }
    s.push('\n');
    for v in &study.variants {
        let runs: Vec<&RunRecord> = study.runs.iter().filter(|r| &r.variant == v).collect();
        s.push_str(&format!("| {v} | {} |", runs.len()));
        for l in 0..n_h {
            let m = fmt_mean_se(
                &runs
                    .iter()
                    .map(|r| r.final_mir.get(l).copied().unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
                3,
            );
            s.push_str(&format!(" {m} |"));
        }
        let r2 = fmt_mean_se(&runs.iter().map(|r| r.r2).collect::<Vec<_>>(), 4);
        let act = mean_se(
            &runs
                .iter()
                .map(|r| r.active.get(r.primary).copied().unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        )
        .mean;
        s.push_str(&format!(" {r2} | {act:.1} |\n"));
    }
    s
}

/// Reads the study at `dir` and writes its figures and `report.html`.
pub fn report_study(dir: &Path) -> Result<Report, ReportError> {
    let study = read_study(dir)?;
    let fig_dir = dir.join("figures");
    std::fs::create_dir_all(&fig_dir).map_err(|e| ferr(&fig_dir, e))?;
    let mut files = Vec::new();
    if !study.runs.is_empty() {
        files.extend(plot::mir_curves(&study, &fig_dir)?);
        // one run per variant, all on one colour scale
        let drawn: Vec<&RunRecord> = study
            .variants
            .iter()
            .filter_map(|v| study.runs.iter().find(|r| &r.variant == v))
            .filter(|r| !r.mi_matrix.is_empty())
            .collect();
        let vmax = plot::mi_scale(drawn.iter().copied());
        for r in drawn {
            files.extend(plot::mi_heatmap(r, &fig_dir, vmax)?);
        }
    }
    let mut table = final_table(&study);
    let (sweep_files, sweep_tables) = plot::sweep::sweep_figures(&study, dir, &fig_dir)?;
    files.extend(sweep_files);
    let mut html = html_report(&study, &table, &files, dir);
    if !sweep_tables.is_empty() {
        let at = html.find("<h2>Figures</h2>").unwrap_or(html.len());
        html.insert_str(
            at,
            &format!("<h2>Sweep</h2><pre>{}</pre>", esc(&sweep_tables)),
        );
        table.push('\n');
        table.push_str(&sweep_tables);
    }
    let extra = sweep_tables;
    let hp = dir.join("report.html");
    biodis_rundir::atomic_write(&hp, html.as_bytes()).map_err(|e| ferr(&hp, e))?;
    files.push(hp);
    if !study.failed.is_empty() {
        // (after the HTML, which lists them in its own section)
        table.push_str("\nruns not finished (left out of the means):\n");
        for (id, e) in &study.failed {
            table.push_str(&format!("  {id}: {e}\n"));
        }
    }
    Ok(Report {
        table,
        files,
        extra,
    })
}

pub(crate) fn esc(t: &str) -> String {
    t.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A self-contained page: every figure inline as SVG, the tables, each variant's resolved
/// recipe, failures, and the software version. No external file is needed to view it.
fn html_report(study: &StudyData, table: &str, files: &[PathBuf], dir: &Path) -> String {
    let mut h = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>biodis — {0}</title>\
<style>body{{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1150px;margin:2em auto;color:#222;padding:0 1em}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 10px;text-align:right}}\
th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}figure{{margin:1.5em 0}}\
figure svg{{max-width:100%;height:auto;border:1px solid #eee}}pre{{background:#f7f7f7;padding:.8em;overflow-x:auto}}\
.meta{{color:#666}}</style></head><body><h1>Study <code>{0}</code></h1>\
<p class=\"meta\">{1} finished runs, {2} not finished · metric <code>mir.whittington2023</code> · biodis {3}</p>",
        esc(&study.name),
        study.runs.len(),
        study.failed.len(),
        env!("CARGO_PKG_VERSION")
    );
    h.push_str("<h2>Final MIR</h2><table>");
    for (i, line) in table.lines().enumerate() {
        if i == 1 {
            continue;
        }
        let cells: Vec<&str> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim())
            .collect();
        let tag = if i == 0 { "th" } else { "td" };
        h.push_str("<tr>");
        for c in cells {
            h.push_str(&format!("<{tag}>{}</{tag}>", esc(c)));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table><h2>Figures</h2>");
    for f in files
        .iter()
        .filter(|f| f.extension().map(|e| e == "svg").unwrap_or(false))
    {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        match std::fs::read_to_string(f) {
            Ok(svg) => {
                let body = svg.find("<svg").map(|k| &svg[k..]).unwrap_or(&svg);
                h.push_str(&format!(
                    "<figure>{body}<figcaption>{}</figcaption></figure>",
                    esc(&name)
                ));
            }
            Err(_) => h.push_str(&format!("<p>(figure {} could not be read)</p>", esc(&name))),
        }
    }
    if !study.failed.is_empty() {
        h.push_str("<h2>Runs not finished</h2><ul>");
        for (id, e) in &study.failed {
            h.push_str(&format!("<li><b>{}</b>: {}</li>", esc(id), esc(e)));
        }
        h.push_str("</ul>");
    }
    h.push_str("<h2>Resolved recipes</h2>");
    for v in &study.variants {
        let first = study
            .runs
            .iter()
            .find(|r| &r.variant == v)
            .map(|r| r.run_id.clone())
            .or_else(|| {
                std::fs::read_dir(dir)
                    .ok()?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .find(|n| n.starts_with(&format!("{v}-")))
            });
        if let Some(id) = first {
            if let Ok(t) = std::fs::read_to_string(dir.join(&id).join("recipe.toml")) {
                h.push_str(&format!(
                    "<details><summary>{} (run {})</summary><pre>{}</pre></details>",
                    esc(v),
                    esc(&id),
                    esc(&t)
                ));
            }
        }
    }
    h.push_str("</body></html>\n");
    h
}
