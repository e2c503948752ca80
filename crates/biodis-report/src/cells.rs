//! Figures and report of a grid-world study (Figs 6, 7, 14), from its run directories only.
//!
//! - `ratemaps_<variant>` (Fig 6D–F): the 6 most stable and the 6 most object-consistent
//!   active cells of the variant's first seed, each in the world without objects and in an
//!   object world (objects as white dots);
//! - `allcells_<variant>` (Fig 14): every active cell in that object world, sorted by stability;
//! - `stability_<variant>` (Fig 6G/I): histogram of the cells' cross-world stability, all seeds;
//! - `modes_<variant>` (Fig 6H): grid score and object-centred consistency against stability;
//! - `object_maps_<variant>`: object-centred maps of the most object-consistent cells;
//! - `readout_<variant>`: each cell's share in the action readout (vs the location readout)
//!   against its stability — modules show as two clusters and a strong negative correlation;
//! - `cosine_distance` (Fig 6J) and `patch_correlation` (Fig 7C): one point per seed.

use crate::plot::{histogram, map_grid, scatter, MapPanel};
use crate::{esc, ferr, Report, ReportError};
use serde_json::Value;
use std::path::{Path, PathBuf};

struct CellRun {
    run_id: String,
    variant: String,
    result: Value,
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn mean_se(v: &[f64]) -> (f64, f64) {
    let s = crate::mean_se(v);
    (s.mean, s.se_or_zero())
}

/// Finished runs, and `(run id, status)` of the others.
type Runs = (Vec<CellRun>, Vec<(String, String)>);

fn read_runs(dir: &Path) -> Result<Runs, ReportError> {
    let entries = biodis_rundir::read_index(dir).map_err(|e| ferr(dir, e))?;
    let sd = biodis_rundir::StudyDir::new(dir);
    let mut runs = Vec::new();
    let mut failed = Vec::new();
    for e in entries {
        let id = e.run_id;
        let rd = sd.run(&id);
        let status = rd.read_status();
        let done = matches!(&status, Some(s) if s.state == biodis_rundir::State::Done);
        let res = rd.result();
        match std::fs::read_to_string(&res) {
            Ok(t) if done => {
                let v: Value = serde_json::from_str(&t).map_err(|e| ferr(&res, e))?;
                runs.push(CellRun {
                    run_id: id,
                    variant: v["variant"].as_str().unwrap_or("").to_string(),
                    result: v,
                });
            }
            _ => {
                let st = match status {
                    Some(s) => format!(
                        "{}{}",
                        s.shown_state(),
                        s.error.map(|e| format!(": {e}")).unwrap_or_default()
                    ),
                    None => "no status".into(),
                };
                failed.push((id, st));
            }
        }
    }
    Ok((runs, failed))
}

fn read_maps(p: &Path) -> Result<ndarray::ArrayD<f32>, ReportError> {
    ndarray_npy::read_npy(p).map_err(|e| ferr(p, e))
}

fn cell_field(r: &CellRun, key: &str) -> Vec<f64> {
    r.result["cells"]
        .as_array()
        .map(|a| a.iter().map(|c| num(&c[key])).collect())
        .unwrap_or_default()
}

fn active(r: &CellRun) -> Vec<bool> {
    r.result["cells"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["active"].as_bool().unwrap_or(false))
                .collect()
        })
        .unwrap_or_default()
}

/// A `[train]` integer of the run's own `recipe.toml`, or `default` when the file or key is
/// absent (the recipe's own default then applied to the run).
fn train_usize(dir: &Path, r: &CellRun, key: &str, default: usize) -> usize {
    std::fs::read_to_string(dir.join(&r.run_id).join("recipe.toml"))
        .ok()
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| t.get("train")?.get(key)?.as_integer())
        .and_then(|v| usize::try_from(v).ok())
        .unwrap_or(default)
}

/// The stability threshold that splits the two modes of Fig 6G/H.
pub const STABLE: f64 = 0.5;

/// Mode statistics of one run (Fig 6H): the fraction of active cells with stability ≥
/// [`STABLE`], the fraction of those whose grid score exceeds their null's 95th percentile, and
/// the mean object-centred consistency of the stable and of the unstable cells, the stable cells'
/// smooth-null p99 grid calls, and the unstable cells' OVC calls (the field call of
/// `biodis_metrics::spatial::OvcFieldEvidence::called`, as `biodis_cells` makes it, with object window half-width `k`; NaN for runs
/// written before the field criterion).
fn mode_stats(r: &CellRun, k: usize) -> [f64; 6] {
    let (a, s, g, p, o) = (
        active(r),
        cell_field(r, "stability"),
        cell_field(r, "grid_score"),
        cell_field(r, "grid_null_p95"),
        cell_field(r, "object_consistency"),
    );
    let (sp99, onull) = (
        cell_field(r, "grid_smooth_p99"),
        cell_field(r, "ovc_null_p95"),
    );
    let frac_above = |set: &[usize], v: &[f64], thr: &[f64]| -> f64 {
        let g: Vec<usize> = set
            .iter()
            .copied()
            .filter(|&i| v[i].is_finite() && thr[i].is_finite())
            .collect();
        if g.is_empty() {
            f64::NAN
        } else {
            g.iter().filter(|&&i| v[i] > thr[i]).count() as f64 / g.len() as f64
        }
    };
    let (oc, off, prom, pnull) = (
        cell_field(r, "ovc_consistency"),
        cell_field(r, "ovc_peak_offset"),
        cell_field(r, "ovc_field_prominence"),
        cell_field(r, "ovc_field_null_p95"),
    );
    // the call itself is biodis_metrics' (the one biodis_cells makes when it scores a run)
    let evidence = |i: usize| biodis_metrics::spatial::OvcFieldEvidence {
        consistency: oc[i],
        consistency_null_p95: onull[i],
        peak_offset: off[i],
        prominence: prom[i],
        prominence_null_p95: pnull[i],
    };
    let ovc_calls = |set: &[usize], k: usize| -> f64 {
        // frac_ovc_field's rule: judged cells are the denominator; NaN where no cell has a
        // field null (a run written before the field criterion)
        let g: Vec<usize> = set
            .iter()
            .copied()
            .filter(|&i| evidence(i).is_judged())
            .collect();
        if g.is_empty() || !g.iter().any(|&i| pnull[i].is_finite()) {
            return f64::NAN;
        }
        g.iter().filter(|&&i| evidence(i).called(k)).count() as f64 / g.len() as f64
    };
    let idx: Vec<usize> = (0..a.len()).filter(|&i| a[i] && s[i].is_finite()).collect();
    let stable: Vec<usize> = idx.iter().copied().filter(|&i| s[i] >= STABLE).collect();
    let unstable: Vec<usize> = idx.iter().copied().filter(|&i| s[i] < STABLE).collect();
    let mean = |v: Vec<f64>| {
        let f: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
        if f.is_empty() {
            f64::NAN
        } else {
            f.iter().sum::<f64>() / f.len() as f64
        }
    };
    let graded: Vec<usize> = stable
        .iter()
        .copied()
        .filter(|&i| g[i].is_finite() && p[i].is_finite())
        .collect();
    [
        if idx.is_empty() {
            f64::NAN
        } else {
            stable.len() as f64 / idx.len() as f64
        },
        if graded.is_empty() {
            f64::NAN
        } else {
            graded.iter().filter(|&&i| g[i] > p[i]).count() as f64 / graded.len() as f64
        },
        mean(stable.iter().map(|&i| o[i]).collect()),
        mean(unstable.iter().map(|&i| o[i]).collect()),
        frac_above(&stable, &g, &sp99),
        ovc_calls(&unstable, k),
    ]
}

/// Patch correlations of a run (Fig 7C), from its arrays, with border-clipped patches kept
/// (`patch_correlation_overlap`: each pair of objects compared over the offsets inside the map
/// for both), averaged over the patch worlds and then over active cells:
/// `[around objects, at random layouts, object layout on the object-free map]`.
/// - *around objects*: the code of each patch world (the training world in the entangled task,
///   the evaluation worlds otherwise) at its own objects;
/// - *random layouts*: the same code at the object layouts of other worlds (the evaluation
///   worlds' layouts, independent of the code);
/// - *object-free map*: the code inferred **without** objects, at the patch worlds' layouts — a
///   code warped around the training objects keeps the structure when they are absent, whereas
///   the bump the object update puts at every object does not.
fn patch_stats(dir: &Path, r: &CellRun, k: usize) -> [f64; 3] {
    let nan = [f64::NAN; 3];
    let rd = dir.join(&r.run_id).join("arrays");
    let (Ok(maps), Ok(pmaps)) = (
        read_maps(&rd.join("ratemaps.npy")),
        read_maps(&rd.join("patch_ratemaps.npy")),
    ) else {
        return nan;
    };
    let Some(wj) = std::fs::read_to_string(rd.join("worlds.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return nan;
    };
    let (sh, ph) = (maps.shape().to_vec(), pmaps.shape().to_vec());
    if sh.len() != 4 || ph.len() != 4 || ph[0] == 0 {
        return nan;
    }
    let (nc, n) = (sh[1], sh[2]);
    let layouts = |key: &str| -> Vec<Vec<(usize, usize)>> {
        wj[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|w| {
                        w.as_array()
                            .map(|o| {
                                o.iter()
                                    .filter_map(|v| v.as_u64())
                                    .map(|v| (v as usize % n, v as usize / n))
                                    .collect()
                            })
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let patch_l = layouts("patch_worlds");
    let eval_l: Vec<Vec<(usize, usize)>> = layouts("eval_worlds")
        .into_iter()
        .skip(1)
        .filter(|l| l.len() >= 2)
        .collect();
    let act = active(r);
    let pc = biodis_metrics::spatial::stats::patch_correlation_overlap;
    let mean = |v: Vec<f64>| {
        let f: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
        if f.is_empty() {
            f64::NAN
        } else {
            f.iter().sum::<f64>() / f.len() as f64
        }
    };
    let (mut obj, mut rnd, mut free) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..nc.min(act.len()) {
        if !act[i] {
            continue;
        }
        let map = |m: &ndarray::ArrayD<f32>, w: usize| -> Vec<f64> {
            (0..n * n).map(|x| m[[w, i, x / n, x % n]] as f64).collect()
        };
        let (mut o, mut q, mut f) = (Vec::new(), Vec::new(), Vec::new());
        let z0 = map(&maps, 0);
        for (p, l) in patch_l.iter().enumerate().take(ph[0]) {
            if l.len() < 2 {
                continue;
            }
            let m = map(&pmaps, p);
            o.push(pc(&m, l, n, k));
            f.push(pc(&z0, l, n, k));
            if patch_l.len() == 1 {
                // one training world: every independent layout on its code
                q.extend(eval_l.iter().map(|e| pc(&m, e, n, k)));
            } else if !eval_l.is_empty() {
                // another world's layout on this world's code
                q.push(pc(&m, &eval_l[(p + 1) % eval_l.len()], n, k));
            }
        }
        obj.push(mean(o));
        rnd.push(mean(q));
        free.push(mean(f));
    }
    [mean(obj), mean(rnd), mean(free)]
}

/// Per active cell, `(stability, action share)`: the share of the cell in the action readout
/// relative to the location readout, `a_i = t_i / (t_i + l_i)` with `t_i = Σ_a |W_t[a, i]| /
/// Σ_j Σ_a |W_t[a, j]|` and `l_i = Σ_x |W_l[x, i]| / Σ_j Σ_x |W_l[x, j]|` (0.5: the cell weighs
/// as much in both readouts; 1: actions only). Modules show as a strong negative correlation
/// between stability and action share (stable cells read out location, world-dependent cells
/// read out the object-relative actions).
fn readout_shares(r: &CellRun) -> Vec<(f64, f64)> {
    let (a, s, lw, tw) = (
        active(r),
        cell_field(r, "stability"),
        cell_field(r, "loc_weight"),
        cell_field(r, "act_weight"),
    );
    let (sl, st): (f64, f64) = (lw.iter().sum(), tw.iter().sum());
    if !(sl > 0.0 && st > 0.0) {
        return Vec::new();
    }
    (0..a.len())
        .filter(|&i| a[i] && s[i].is_finite())
        .filter_map(|i| {
            let (t, l) = (tw[i] / st, lw[i] / sl);
            (t + l > 0.0).then(|| (s[i], t / (t + l)))
        })
        .collect()
}

/// Pearson correlation of the points (NaN with fewer than 3 or no variance).
fn pearson(p: &[(f64, f64)]) -> f64 {
    let a: Vec<f64> = p.iter().map(|q| q.0).collect();
    let b: Vec<f64> = p.iter().map(|q| q.1).collect();
    biodis_metrics::spatial::stats::map_correlation(&a, &b)
}

/// Makes every figure, the table and `report.html` of a grid-world study.
pub fn report_cells(dir: &Path) -> Result<Report, ReportError> {
    let (runs, failed) = read_runs(dir)?;
    let fig = dir.join("figures");
    std::fs::create_dir_all(&fig).map_err(|e| ferr(&fig, e))?;
    let mut variants: Vec<String> = Vec::new();
    for r in &runs {
        if !variants.contains(&r.variant) {
            variants.push(r.variant.clone());
        }
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let cols: [(&str, &str); 27] = [
        ("loc acc", "eval.location_acc"),
        ("loc fit", "location_fit"),
        ("action acc", "eval.action_acc"),
        ("action acc (all-zero)", "eval.action_zero_acc"),
        ("active", "pop.n_active"),
        ("stability", "pop.stability_mean"),
        ("bimodality", "pop.bimodality"),
        ("grid > p95", "pop.frac_grid_above_p95"),
        ("grid > smooth p95", "pop.frac_grid_above_smooth_p95"),
        ("grid > smooth p99", "pop.frac_grid_above_smooth_p99"),
        ("square > smooth p95", "pop.frac_square_above_smooth_p95"),
        ("OVC", "pop.frac_ovc_field"),
        ("OVC (consistency only)", "pop.frac_ovc"),
        ("cos dist Wl-Wo", "pop.cosine_loc_obj"),
        ("cos dist Wl-Wt", "pop.cosine_loc_act"),
        ("corr(stability, action share)", "readout_corr"),
        ("patch (objects)", "patch.objects"),
        ("patch (random)", "patch.random"),
        ("patch (no-object map)", "patch.free"),
        ("stable frac", "modes.frac_stable"),
        ("stable grid > p95", "modes.stable_grid_p95"),
        ("stable obj-cons", "modes.stable_objc"),
        ("unstable obj-cons", "modes.unstable_objc"),
        ("stable grid > smooth p99", "modes.stable_grid_smooth_p99"),
        ("unstable OVC", "modes.unstable_ovc"),
        ("wavelength (median)", "pop.wavelength_median"),
        ("target wavelength", "target_wavelength"),
    ];
    let get = |r: &CellRun, path: &str| -> f64 {
        if path == "readout_corr" {
            return pearson(&readout_shares(r));
        }
        if let Some(which) = path.strip_prefix("patch.") {
            // the run's own patch half-width (recipe.toml `train.patch_k`; default 2)
            let k = train_usize(dir, r, "patch_k", 2);
            let p = patch_stats(dir, r, k);
            return match which {
                "objects" => p[0],
                "random" => p[1],
                _ => p[2],
            };
        }
        if let Some(k) = path.strip_prefix("modes.") {
            // the run's own object window (recipe.toml `train.object_k`; default 4)
            let ok = train_usize(dir, r, "object_k", 4);
            let m = mode_stats(r, ok);
            return match k {
                "frac_stable" => m[0],
                "stable_grid_p95" => m[1],
                "stable_objc" => m[2],
                "unstable_objc" => m[3],
                "stable_grid_smooth_p99" => m[4],
                "unstable_ovc" => m[5],
                _ => f64::NAN,
            };
        }
        let mut v = &r.result;
        for k in path.split('.') {
            v = &v[k];
        }
        num(v)
    };
    let mut table = "| variant | runs |".to_string();
    for (c, _) in cols {
        table.push_str(&format!(" {c} |"));
    }
    table.push_str("\n|---|---|");
    table.push_str(&"---|".repeat(cols.len()));
    table.push('\n');
    for v in &variants {
        let rs: Vec<&CellRun> = runs.iter().filter(|r| &r.variant == v).collect();
        table.push_str(&format!("| {v} | {} |", rs.len()));
        for (_, p) in cols {
            let vals: Vec<f64> = rs.iter().map(|r| get(r, p)).collect();
            // `n/a` when no seed has the value (e.g. no unstable cells), `m (n=1)` for one
            table.push_str(&format!(" {} |", crate::fmt_mean_se(&vals, 3)));
        }
        table.push('\n');
    }

    let mut no_maps: Vec<String> = Vec::new();
    for (vi, v) in variants.iter().enumerate() {
        let rs: Vec<&CellRun> = runs.iter().filter(|r| &r.variant == v).collect();
        let safe: String = v
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        // the maps of the variant's first run that has its arrays (a run restored from archived
        // light files has its numbers but no arrays); none: the figures are not drawn, and the
        // report says so
        let Some(first) = rs
            .iter()
            .copied()
            .find(|r| dir.join(&r.run_id).join("arrays/ratemaps.npy").is_file())
        else {
            no_maps.push(v.clone());
            continue;
        };
        let rd = dir.join(&first.run_id);
        let maps = read_maps(&rd.join("arrays").join("ratemaps.npy"))?;
        let sh = maps.shape().to_vec();
        if sh.len() != 4 || sh[0] < 2 {
            return Err(ferr(
                &rd.join("arrays/ratemaps.npy"),
                "expected [world, cell, row, col] with ≥ 2 worlds",
            ));
        }
        let (nc, n) = (sh[1], sh[2]);
        let wj_path = rd.join("arrays").join("worlds.json");
        let wj: Value = std::fs::read_to_string(&wj_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .ok_or_else(|| ferr(&wj_path, "missing or unreadable"))?;
        let objs: Vec<(usize, usize)> = wj["eval_worlds"][1]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|o| o.as_u64())
                    .map(|o| (o as usize / n, o as usize % n))
                    .collect()
            })
            .unwrap_or_default();
        let act = active(first);
        let stab = cell_field(first, "stability");
        let grid = cell_field(first, "grid_score");
        let objc = cell_field(first, "object_consistency");
        let map_of = |w: usize, i: usize| -> Vec<f64> {
            (0..n * n)
                .map(|x| maps[[w, i, x / n, x % n]] as f64)
                .collect()
        };
        let mut idx: Vec<usize> = (0..nc.min(act.len())).filter(|&i| act[i]).collect();
        let key = |a: f64| if a.is_finite() { a } else { f64::NEG_INFINITY };
        idx.sort_by(|&a, &b| key(stab[b]).total_cmp(&key(stab[a])));
        let mut chosen: Vec<usize> = idx.iter().take(6).copied().collect();
        let mut by_obj = idx.clone();
        by_obj.sort_by(|&a, &b| key(objc[b]).total_cmp(&key(objc[a])));
        let extra: Vec<usize> = by_obj
            .iter()
            .filter(|i| !chosen.contains(i))
            .take(6)
            .copied()
            .collect();
        chosen.extend(extra);
        let mut panels = Vec::new();
        for &i in &chosen {
            panels.push(MapPanel {
                title: format!("c{i} s={:.2} g={:.2}", stab[i], grid[i]),
                values: map_of(0, i),
                side: n,
                ring: None,
                marks: Vec::new(),
            });
            panels.push(MapPanel {
                title: format!("c{i} objects, oc={:.2}", objc[i]),
                values: map_of(1, i),
                side: n,
                ring: None,
                marks: objs.clone(),
            });
        }
        if !panels.is_empty() {
            files.extend(map_grid(
                &fig,
                &format!("ratemaps_{safe}"),
                &format!("{v} ({}): most stable cells, then most object-consistent; left: no objects, right: objects", first.run_id),
                &panels,
                8,
            )?);
        }
        let all: Vec<MapPanel> = idx
            .iter()
            .map(|&i| MapPanel {
                title: format!("c{i} s={:.2}", stab[i]),
                values: map_of(1, i),
                side: n,
                ring: None,
                marks: objs.clone(),
            })
            .collect();
        if !all.is_empty() {
            files.extend(map_grid(
                &fig,
                &format!("allcells_{safe}"),
                &format!(
                    "{v} ({}): every active cell in an object world, by stability",
                    first.run_id
                ),
                &all,
                12,
            )?);
        }
        // pooled over seeds
        let mut pooled = Vec::new();
        let (mut gs, mut oc) = (Vec::new(), Vec::new());
        for r in &rs {
            let (a, s, g, o) = (
                active(r),
                cell_field(r, "stability"),
                cell_field(r, "grid_score"),
                cell_field(r, "object_consistency"),
            );
            for i in 0..a.len() {
                if a[i] && s[i].is_finite() {
                    pooled.push(s[i]);
                    gs.push((s[i], g[i]));
                    oc.push((s[i], o[i]));
                }
            }
        }
        let bim: Vec<f64> = rs.iter().map(|r| get(r, "pop.bimodality")).collect();
        files.extend(histogram(
            &fig,
            &format!("stability_{safe}"),
            &format!(
                "{v}: cross-world stability of each cell ({} seeds; bimodality {:.2})",
                rs.len(),
                mean_se(&bim).0
            ),
            "mean spatial correlation across worlds",
            &pooled,
            &[],
        )?);
        files.extend(scatter(
            &fig,
            &format!("modes_{safe}"),
            &format!("{v}: grid score and object-centred consistency vs stability"),
            "cross-world stability",
            "score",
            &[
                ("grid score (no objects)".to_string(), gs),
                ("object-centred consistency".to_string(), oc),
            ],
            &[],
        )?);
        let op = rd.join("arrays").join("object_maps.npy");
        let shares: Vec<(f64, f64)> = rs.iter().flat_map(|r| readout_shares(r)).collect();
        files.extend(scatter(
            &fig,
            &format!("readout_{safe}"),
            &format!(
                "{v}: action-readout share vs stability (r = {:.2}, {} seeds)",
                pearson(&shares),
                rs.len()
            ),
            "cross-world stability",
            "action share (0.5 = equal; 1 = actions only)",
            &[("cells".to_string(), shares)],
            &[],
        )?);
        if let Ok(om) = ndarray_npy::read_npy::<_, ndarray::ArrayD<f64>>(&op) {
            let s = om.shape().to_vec();
            if s.len() == 3 {
                let w = s[1];
                let panels: Vec<MapPanel> = by_obj
                    .iter()
                    .take(8)
                    .map(|&i| MapPanel {
                        title: format!("c{i} oc={:.2}", objc[i]),
                        values: (0..w * w).map(|x| om[[i, x / w, x % w]]).collect(),
                        side: w,
                        ring: None,
                        marks: vec![(w / 2, w / 2)],
                    })
                    .collect();
                if !panels.is_empty() {
                    files.extend(map_grid(
                        &fig,
                        &format!("object_maps_{safe}"),
                        &format!("{v}: object-centred maps (object at the centre dot), most consistent cells"),
                        &panels,
                        8,
                    )?);
                }
            }
        }
        let _ = vi;
    }
    let ticks: Vec<String> = variants.clone();
    let strip = |path: &str, dx: f64| -> Vec<(f64, f64)> {
        variants
            .iter()
            .enumerate()
            .flat_map(|(k, v)| {
                runs.iter()
                    .filter(move |r| &r.variant == v)
                    .map(move |r| (k as f64 + dx, get(r, path)))
            })
            .collect()
    };
    if !runs.is_empty() {
        files.extend(scatter(
            &fig,
            "cosine_distance",
            "Fig 6J: 1 − cos(Σ|W_l|, |W_o|) per seed",
            "variant",
            "cosine distance",
            &[("runs".to_string(), strip("pop.cosine_loc_obj", 0.0))],
            &ticks,
        )?);
        files.extend(scatter(
            &fig,
            "patch_correlation",
            "Fig 7C: patch correlation per seed (5×5 patches)",
            "variant",
            "mean patch correlation",
            &[
                ("around objects".to_string(), strip("patch.objects", -0.12)),
                ("random layouts".to_string(), strip("patch.random", 0.0)),
                (
                    "object layout on the object-free code".to_string(),
                    strip("patch.free", 0.12),
                ),
            ],
            &ticks,
        )?);
    }
    let hp = dir.join("report.html");
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let mut h = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>biodis — {0}</title>\
<style>body{{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1150px;margin:2em auto;color:#222;padding:0 1em}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
th{{background:#f3f3f3}}td:first-child,th:first-child{{text-align:left}}figure{{margin:1.5em 0}}\
figure svg{{max-width:100%;height:auto;border:1px solid #eee}}pre{{background:#f7f7f7;padding:.8em;overflow-x:auto}}</style></head>\
<body><h1>Grid-world study <code>{0}</code></h1><p>{1} finished runs, {2} not finished · biodis {3}</p><div style=\"overflow-x:auto;font-size:90%\"><table>",
        esc(&name),
        runs.len(),
        failed.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (i, line) in table.lines().enumerate() {
        if i == 1 {
            continue;
        }
        let tag = if i == 0 { "th" } else { "td" };
        h.push_str("<tr>");
        for c in line.trim_matches('|').split('|') {
            h.push_str(&format!("<{tag}>{}</{tag}>", esc(c.trim())));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></div><p>mean ± s.e. over seeds. Definitions: see <code>biodis-cells/src/analysis.rs</code>.</p>");
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "svg"))
    {
        if let Ok(svg) = std::fs::read_to_string(f) {
            let body = svg.find("<svg").map(|k| &svg[k..]).unwrap_or(&svg);
            let nm = f
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            h.push_str(&format!(
                "<figure>{body}<figcaption>{}</figcaption></figure>",
                esc(&nm)
            ));
        }
    }
    let extra = if no_maps.is_empty() {
        String::new()
    } else {
        let m = format!(
            "no rate-map figures for {}: none of their runs has arrays/ratemaps.npy (runs restored from archived light files keep their numbers, not their arrays)",
            no_maps.join(", ")
        );
        h.push_str(&format!("<h2>Figures not drawn</h2><p>{}</p>", esc(&m)));
        format!("{m}\n")
    };
    if !failed.is_empty() {
        h.push_str("<h2>Runs not finished</h2><ul>");
        for (id, e) in &failed {
            h.push_str(&format!("<li><b>{}</b>: {}</li>", esc(id), esc(e)));
        }
        h.push_str("</ul>");
    }
    h.push_str("</body></html>\n");
    biodis_rundir::atomic_write(&hp, h.as_bytes()).map_err(|e| ferr(&hp, e))?;
    files.push(hp);
    Ok(Report {
        table,
        files,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cells: &[(f64, f64, f64)]) -> CellRun {
        let c: Vec<Value> = cells
            .iter()
            .map(|&(s, l, t)| {
                serde_json::json!({"active": true, "stability": s, "loc_weight": l, "act_weight": t})
            })
            .collect();
        CellRun {
            run_id: "r".into(),
            variant: "v".into(),
            result: serde_json::json!({ "cells": c }),
        }
    }

    #[test]
    fn readout_shares_separate_modules() {
        // stable cells read out location, unstable cells actions: strong negative correlation
        let modules = run(&[
            (0.9, 10.0, 0.1),
            (0.8, 9.0, 0.2),
            (0.2, 0.5, 3.0),
            (0.3, 0.4, 2.5),
        ]);
        let sh = readout_shares(&modules);
        assert_eq!(sh.len(), 4);
        assert!(sh[0].1 < 0.1 && sh[2].1 > 0.9, "{sh:?}");
        assert!(pearson(&sh) < -0.95);
        // every cell weighs the same in both readouts: no variance in the share → NaN
        let mixed = run(&[(0.9, 1.0, 1.0), (0.2, 1.0, 1.0), (0.5, 1.0, 1.0)]);
        assert!(pearson(&readout_shares(&mixed)).is_nan());
    }
}
