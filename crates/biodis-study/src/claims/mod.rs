//! The claims ledger (issue #22): the paper's claims as data, tested against whatever run
//! directories exist.
//!
//! A claim names a study, two sides and a statistic: "MIR of `all` exceeds MIR of `none` in
//! `fig2-lownoise`", "the latent's MIR of `all` in `fig4-deep` exceeds that of `no_weight`",
//! "the fraction of grid cells of `relu` exceeds 0.05". [`evaluate`] finds the sides' runs under
//! a root folder, reads the statistic from each finished run's `result.json`, and gives both
//! sides' mean ± s.e. and n, the difference with its 95 % interval, an effect size, a one-sided
//! test ([`stats`]: Welch, paired by seed, one-sample, or a seed-level bootstrap) and a
//! verdict: HOLDS (p < α), FAILS, TOO FEW SEEDS (fewer than `min_seeds` finished runs on a
//! side) or NOT RUN (no such study, group or statistic).
//!
//! The paper's ledger is `experiments/claims.toml` ([`PAPER_LEDGER`], embedded). A recipe may
//! declare its own `[[claim]]` tables (their `study` defaults to the recipe's); `biodis run`
//! keeps them as the study's `claims.toml`, and they are evaluated with the ledger.
//!
//! ```toml
//! [[claim]]
//! id = "fig2-lownoise.nonneg"            # unique; letters, digits, . _ -
//! figure = "Fig 2"
//! text = "Nonnegativity is necessary: without it MIR falls"
//! study = "fig2-lownoise"               # the study name (its folder's runs' [study] name)
//! stat = "mir"                          # default for both sides
//! a = { variant = "all" }               # optional: study, point (sweep label), stat
//! b = { variant = "no_nonneg" }         # or b = { value = 0.5 }: a fixed number
//! direction = "greater"                 # a > b + margin (or "less": a < b − margin)
//! margin = 0.0                          # the asserted effect size, in the stat's units
//! test = "welch"                        # welch | paired | bootstrap | paired_bootstrap
//! alpha = 0.05
//! min_seeds = 3
//! ```
//!
//! Statistics: for dense studies `mir` (the headline layer: the latent of an autoencoder, else
//! the last hidden layer), `mir_h<l>` (hidden layer l), `r2`, `active` (kept neurons of the
//! headline layer); for every kind, any number in `result.json` by its dotted path
//! (`pop.frac_grid_above_smooth_p95`, `eval.mig`, `last.mir.0`).

pub mod stats;

#[cfg(test)]
mod scipy_reference;

use biodis_rundir::claims::{ClaimOutcome, ClaimsFile, SideSummary, Verdict};
use biodis_rundir::{Kind, RunIdent, State, StudyDir};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The paper's claims (`experiments/claims.toml`).
pub const PAPER_LEDGER: &str = include_str!("../../../../experiments/claims.toml");

/// Errors in a ledger; the message names the source, the claim and the key.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    #[error("{source_name}: {msg}")]
    Parse { source_name: String, msg: String },
    #[error("{source_name}: claim '{id}': {msg}")]
    Invalid {
        source_name: String,
        id: String,
        msg: String,
    },
    #[error("{path}: {msg}")]
    Io { path: PathBuf, msg: String },
}

/// The asserted direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// `a > b + margin`.
    #[default]
    Greater,
    /// `a < b − margin`.
    Less,
}

/// The test of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestKind {
    /// Welch's unequal-variance t test (one-sample t against a fixed value).
    #[default]
    Welch,
    /// Paired t test over the seeds both sides have (same seed: same data and initial draw).
    Paired,
    /// Seed-level bootstrap of the difference of means.
    Bootstrap,
    /// Bootstrap over the seed pairs.
    PairedBootstrap,
}

impl TestKind {
    fn name(self, fixed: bool) -> &'static str {
        match (self, fixed) {
            (TestKind::Welch | TestKind::Paired, true) => "one_sample",
            (TestKind::Welch, false) => "welch",
            (TestKind::Paired, false) => "paired",
            (TestKind::Bootstrap | TestKind::PairedBootstrap, true) => "bootstrap",
            (TestKind::Bootstrap, false) => "bootstrap",
            (TestKind::PairedBootstrap, false) => "paired_bootstrap",
        }
    }
    fn is_paired(self) -> bool {
        matches!(self, TestKind::Paired | TestKind::PairedBootstrap)
    }
}

/// One side of a claim as written.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideSpec {
    /// The study (default: the claim's).
    #[serde(default)]
    pub study: Option<String>,
    /// The variant whose runs are this side.
    #[serde(default)]
    pub variant: Option<String>,
    /// The sweep point label (e.g. `batch=128_lr=0.003_schedule=cosine`; default: none).
    #[serde(default)]
    pub point: Option<String>,
    /// The statistic (default: the claim's).
    #[serde(default)]
    pub stat: Option<String>,
    /// A fixed value instead of runs (side `b` only).
    #[serde(default)]
    pub value: Option<f64>,
}

/// One claim as written in a ledger.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claim {
    pub id: String,
    #[serde(default)]
    pub figure: String,
    pub text: String,
    #[serde(default)]
    pub study: Option<String>,
    #[serde(default)]
    pub stat: Option<String>,
    pub a: SideSpec,
    pub b: SideSpec,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default)]
    pub margin: f64,
    #[serde(default)]
    pub test: TestKind,
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    #[serde(default = "default_min_seeds")]
    pub min_seeds: usize,
    /// Where the claim was read from (filled by [`parse_ledger`]).
    #[serde(skip)]
    pub source: String,
}

fn default_alpha() -> f64 {
    0.05
}
fn default_min_seeds() -> usize {
    3
}

impl Claim {
    /// The study of side `s` (the side's own, else the claim's).
    fn study_of<'a>(&'a self, s: &'a SideSpec) -> Option<&'a str> {
        s.study.as_deref().or(self.study.as_deref())
    }
    fn stat_of<'a>(&'a self, s: &'a SideSpec) -> &'a str {
        s.stat.as_deref().or(self.stat.as_deref()).unwrap_or("mir")
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ledger {
    #[serde(default)]
    claim: Vec<Claim>,
}

/// Parses a ledger: the `[[claim]]` tables of `text` (other tables are refused unless
/// `allow_other_tables`, as in a recipe). `default_study` fills a claim's missing `study`.
/// Every claim is validated (unique id, sides, α, seeds, margin).
pub fn parse_ledger(
    text: &str,
    source_name: &str,
    default_study: Option<&str>,
    allow_other_tables: bool,
) -> Result<Vec<Claim>, ClaimError> {
    let perr = |msg: String| ClaimError::Parse {
        source_name: source_name.to_string(),
        msg,
    };
    let mut table: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| perr(e.to_string()))?;
    if allow_other_tables {
        table.retain(|k, _| k == "claim");
    }
    let ledger: Ledger = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| perr(e.to_string().trim().to_string()))?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for mut c in ledger.claim {
        c.source = source_name.to_string();
        if c.study.is_none() {
            c.study = default_study.map(String::from);
        }
        let bad = |msg: String| ClaimError::Invalid {
            source_name: source_name.to_string(),
            id: c.id.clone(),
            msg,
        };
        if c.id.is_empty()
            || !c
                .id
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "._-".contains(ch))
        {
            return Err(bad(
                "`id` must be non-empty letters, digits, '.', '_' or '-'".into(),
            ));
        }
        if !seen.insert(c.id.clone()) {
            return Err(bad("`id` appears twice".into()));
        }
        if !(c.alpha > 0.0 && c.alpha < 1.0) {
            return Err(bad(format!(
                "`alpha` = {}: expected a number in (0, 1)",
                c.alpha
            )));
        }
        if c.min_seeds < 2 {
            return Err(bad(format!(
                "`min_seeds` = {}: a standard error needs at least 2",
                c.min_seeds
            )));
        }
        if !c.margin.is_finite() || c.margin < 0.0 {
            return Err(bad(format!(
                "`margin` = {}: expected a finite number ≥ 0 (the asserted effect, in the direction given)",
                c.margin
            )));
        }
        for (name, s) in [("a", &c.a), ("b", &c.b)] {
            match (&s.variant, s.value) {
                (Some(_), Some(_)) => {
                    return Err(bad(format!(
                        "side `{name}` has both `variant` and `value`; give one"
                    )))
                }
                (None, None) => {
                    return Err(bad(format!(
                        "side `{name}` needs `variant` (runs) or `value` (a fixed number)"
                    )))
                }
                (None, Some(v)) => {
                    if name == "a" {
                        return Err(bad(
                            "side `a` must be runs (`variant`); a fixed value goes in `b`".into(),
                        ));
                    }
                    if !v.is_finite() {
                        return Err(bad(format!("side `b`: `value` = {v} is not finite")));
                    }
                    if s.study.is_some() || s.point.is_some() || s.stat.is_some() {
                        return Err(bad(
                            "side `b` with a `value` takes no `study`, `point` or `stat`".into(),
                        ));
                    }
                }
                (Some(_), None) => {
                    if c.study_of(s).is_none() {
                        return Err(bad(format!(
                            "side `{name}` names no study (set the claim's `study` or the side's)"
                        )));
                    }
                }
            }
        }
        if c.test.is_paired() && c.b.value.is_some() {
            return Err(bad(
                "a paired test needs runs on both sides (`b` is a fixed value: use `welch`, which is then the one-sample t test)".into(),
            ));
        }
        out.push(c);
    }
    Ok(out)
}

/// A study directory found under the root.
#[derive(Debug, Clone)]
pub struct FoundStudy {
    pub dir: PathBuf,
    /// The `[study] name` of its runs (the folder's name when no run says).
    pub name: String,
    pub kind: Kind,
}

/// How deep [`find_studies`] looks under the root of `biodis claims`.
pub const SEARCH_DEPTH: usize = 4;

/// The study directories under `root` (`root` itself included), to `max_depth` levels deep
/// (a study's own folders are not searched), in path order.
pub fn find_studies(root: &Path, max_depth: usize) -> Result<Vec<FoundStudy>, ClaimError> {
    if !root.is_dir() {
        return Err(ClaimError::Io {
            path: root.to_path_buf(),
            msg: "not a folder of run directories".into(),
        });
    }
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let sd = StudyDir::new(&d);
        if d.join("study.json").is_file() {
            let kind = sd.kind().map_err(|e| ClaimError::Io {
                path: sd.info_path(),
                msg: e.to_string(),
            })?;
            found.push(FoundStudy {
                name: study_name(&d),
                dir: d.clone(),
                kind,
            });
            continue;
        }
        if depth >= max_depth {
            continue;
        }
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                let p = e.path();
                if p.is_dir() && p.file_name().is_none_or(|n| n != "figures") {
                    stack.push((p, depth + 1));
                }
            }
        }
    }
    found.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok(found)
}

fn study_name(dir: &Path) -> String {
    biodis_rundir::read_index(dir)
        .ok()
        .and_then(|entries| {
            entries.iter().find_map(|e| {
                let t = std::fs::read_to_string(dir.join(&e.run_id).join("recipe.toml")).ok()?;
                let t: toml::Table = t.parse().ok()?;
                t.get("study")?.get("name")?.as_str().map(String::from)
            })
        })
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        })
}

/// One finished run: identity and `result.json`.
struct Run {
    ident: RunIdent,
    result: serde_json::Value,
}

/// A study's runs, read once.
struct StudyRuns {
    kind: Kind,
    done: Vec<Run>,
    /// Groups (`variant`, `point`) of the runs listed but not finished.
    unfinished: Vec<(String, String)>,
}

fn read_runs(s: &FoundStudy) -> StudyRuns {
    let sd = StudyDir::new(&s.dir);
    let mut out = StudyRuns {
        kind: s.kind,
        done: Vec::new(),
        unfinished: Vec::new(),
    };
    for e in biodis_rundir::read_index(&s.dir).unwrap_or_default() {
        let rd = sd.run(&e.run_id);
        let Some(ident) = std::fs::read_to_string(rd.recipe())
            .ok()
            .and_then(|t| RunIdent::from_recipe_text(&t).ok())
        else {
            continue;
        };
        let done = rd.read_status().is_some_and(|st| st.state == State::Done);
        let result = done
            .then(|| std::fs::read_to_string(rd.result()).ok())
            .flatten()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
        match result {
            Some(result) => out.done.push(Run { ident, result }),
            None => out.unfinished.push((ident.variant, ident.point)),
        }
    }
    out
}

/// The statistic `stat` of one run's `result.json` (see the module docs), or why not.
pub fn stat_value(kind: Kind, result: &serde_json::Value, stat: &str) -> Result<f64, String> {
    let num = |v: Option<&serde_json::Value>| -> Option<f64> {
        match v? {
            serde_json::Value::Null => Some(f64::NAN),
            x => x.as_f64(),
        }
    };
    if kind == Kind::Dense {
        let primary = result
            .get("primary_layer")
            .and_then(|x| x.as_u64())
            .unwrap_or(0) as usize;
        let last = result.get("last");
        let layer = |l: usize, key: &str| num(last?.get(key)?.get(l));
        let v = match stat {
            "mir" => Some(layer(primary, "mir")),
            "r2" => Some(num(last.and_then(|l| l.get("r2")))),
            "active" => Some(layer(primary, "active")),
            s if s.starts_with("mir_h") => s[5..].parse::<usize>().ok().map(|l| layer(l, "mir")),
            _ => None,
        };
        if let Some(v) = v {
            return v.ok_or_else(|| format!("`{stat}` is not in this run's result.json"));
        }
    }
    let mut cur = result;
    for part in stat.split('.') {
        let next = match cur {
            serde_json::Value::Object(m) => m.get(part),
            serde_json::Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        };
        cur = match next {
            Some(n) => n,
            None => {
                let keys = match cur {
                    serde_json::Value::Object(m) => {
                        m.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                    serde_json::Value::Array(a) => format!("indices 0..{}", a.len()),
                    _ => "none (a number)".into(),
                };
                return Err(format!(
                    "`{stat}`: no `{part}` in result.json (there: {keys})"
                ));
            }
        };
    }
    num(Some(cur)).ok_or_else(|| format!("`{stat}` in result.json is not a number"))
}

/// Everything [`evaluate`] reads: the studies under a root, each read at most once.
pub struct Runs {
    studies: Vec<FoundStudy>,
    cache: BTreeMap<PathBuf, StudyRuns>,
}

impl Runs {
    /// The studies under `root`, to `max_depth` levels.
    pub fn under(root: &Path, max_depth: usize) -> Result<Self, ClaimError> {
        Ok(Runs {
            studies: find_studies(root, max_depth)?,
            cache: BTreeMap::new(),
        })
    }
    /// The studies found.
    pub fn studies(&self) -> &[FoundStudy] {
        &self.studies
    }
    fn named(&self, name: &str) -> Vec<&FoundStudy> {
        self.studies.iter().filter(|s| s.name == name).collect()
    }
    fn runs(&mut self, s: &FoundStudy) -> &StudyRuns {
        self.cache
            .entry(s.dir.clone())
            .or_insert_with(|| read_runs(s))
    }
}

/// A side's values by seed, or why there are none.
struct SideValues {
    summary: SideSummary,
    by_seed: BTreeMap<u64, f64>,
    missing: Option<String>,
}

fn side_values(
    runs: &mut Runs,
    claim: &Claim,
    s: &SideSpec,
    near: Option<&Path>,
) -> (SideValues, Option<PathBuf>) {
    let stat = claim.stat_of(s).to_string();
    if let Some(v) = s.value {
        return (
            SideValues {
                summary: SideSummary {
                    label: format!("{v}"),
                    study_dir: None,
                    seeds: vec![],
                    values: vec![],
                    mean: v,
                    se: f64::NAN,
                    not_finished: 0,
                },
                by_seed: BTreeMap::new(),
                missing: None,
            },
            None,
        );
    }
    let study = claim.study_of(s).unwrap_or_default().to_string();
    let variant = s.variant.clone().unwrap_or_default();
    let point = s.point.clone().unwrap_or_default();
    let group = if point.is_empty() {
        variant.clone()
    } else {
        format!("{variant} {point}")
    };
    let label = format!("{study}: {group} · {stat}");
    let empty = |label: String, dir: Option<String>, why: String| SideValues {
        summary: SideSummary {
            label,
            study_dir: dir,
            seeds: vec![],
            values: vec![],
            mean: f64::NAN,
            se: f64::NAN,
            not_finished: 0,
        },
        by_seed: BTreeMap::new(),
        missing: Some(why),
    };
    // the candidate nearest `near` (longest common path prefix), else the first
    let cands: Vec<FoundStudy> = runs.named(&study).into_iter().cloned().collect();
    let Some(found) = cands
        .iter()
        .max_by_key(|c| {
            near.map(|n| {
                c.dir
                    .components()
                    .zip(n.components())
                    .take_while(|(x, y)| x == y)
                    .count()
            })
        })
        .cloned()
    else {
        return (
            empty(label, None, format!("no study '{study}' was found")),
            None,
        );
    };
    let dir_s = found.dir.display().to_string();
    let sr = runs.runs(&found);
    let kind = sr.kind;
    let mut by_seed = BTreeMap::new();
    let mut err = None;
    let mut undefined = 0usize;
    for r in sr
        .done
        .iter()
        .filter(|r| r.ident.variant == variant && r.ident.point == point)
    {
        match stat_value(kind, &r.result, &stat) {
            Ok(v) if v.is_finite() => {
                by_seed.insert(r.ident.seed, v);
            }
            // an undefined statistic (NaN / null: MIR with no active neuron) leaves the run
            // out, counted with the unfinished ones in the claim's note
            Ok(_) => undefined += 1,
            Err(e) => {
                err.get_or_insert(format!("{}: run {}: {e}", dir_s, r.ident.run_id()));
            }
        }
    }
    let not_finished = sr
        .unfinished
        .iter()
        .filter(|(v, p)| *v == variant && *p == point)
        .count()
        + undefined;
    if let Some(e) = err {
        return (empty(label, Some(dir_s), e), Some(found.dir));
    }
    if by_seed.is_empty() {
        let mut groups: Vec<String> = sr
            .done
            .iter()
            .map(|r| r.ident.group())
            .chain(sr.unfinished.iter().map(|(v, p)| {
                if p.is_empty() {
                    v.clone()
                } else {
                    format!("{v} {p}")
                }
            }))
            .collect();
        groups.sort();
        groups.dedup();
        let why = if not_finished > 0 {
            format!("{label}: none of its {not_finished} runs has finished with a defined value")
        } else {
            let shown: Vec<&str> = groups.iter().take(12).map(String::as_str).collect();
            format!(
                "{dir_s} has no finished run of '{group}' (its groups: {}{})",
                shown.join(", "),
                if groups.len() > 12 { ", …" } else { "" }
            )
        };
        let mut e = empty(label, Some(dir_s), why);
        e.summary.not_finished = not_finished;
        return (e, Some(found.dir));
    }
    let values: Vec<f64> = by_seed.values().copied().collect();
    let ms = biodis_rundir::mean_se(&values);
    (
        SideValues {
            summary: SideSummary {
                label,
                study_dir: Some(dir_s),
                seeds: by_seed.keys().copied().collect(),
                values,
                mean: ms.mean,
                se: ms.se,
                not_finished,
            },
            by_seed,
            missing: None,
        },
        Some(found.dir),
    )
}

/// A stable 64-bit seed of a claim id (FNV-1a), for its bootstrap.
fn id_seed(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Evaluates one claim against `runs`.
pub fn evaluate_claim(runs: &mut Runs, c: &Claim) -> ClaimOutcome {
    let (a, a_dir) = side_values(runs, c, &c.a, None);
    let (b, _) = side_values(runs, c, &c.b, a_dir.as_deref());
    let fixed = c.b.value;
    let mut out = ClaimOutcome {
        id: c.id.clone(),
        figure: c.figure.clone(),
        text: c.text.clone(),
        source: c.source.clone(),
        a: a.summary.clone(),
        b: b.summary.clone(),
        direction: match c.direction {
            Direction::Greater => "greater".into(),
            Direction::Less => "less".into(),
        },
        margin: c.margin,
        test: c.test.name(fixed.is_some()).into(),
        alpha: c.alpha,
        min_seeds: c.min_seeds,
        diff: f64::NAN,
        diff_ci95: vec![f64::NAN, f64::NAN],
        effect_size: f64::NAN,
        statistic: f64::NAN,
        df: f64::NAN,
        p: f64::NAN,
        verdict: Verdict::NotRun,
        note: String::new(),
    };
    let mut notes: Vec<String> = [a.missing.clone(), b.missing.clone()]
        .into_iter()
        .flatten()
        .collect();
    notes.dedup();
    if !notes.is_empty() {
        out.note = notes.join("; ");
        return out;
    }
    // the values the test sees (paired: the seeds both sides have, in seed order)
    let (mut xa, mut xb): (Vec<f64>, Vec<f64>) = if c.test.is_paired() {
        let common: Vec<u64> = a
            .by_seed
            .keys()
            .filter(|s| b.by_seed.contains_key(s))
            .copied()
            .collect();
        let left = a.by_seed.len() + b.by_seed.len() - 2 * common.len();
        if left > 0 {
            out.note = format!("{left} run(s) without a partner seed left out of the pairs");
        }
        (
            common.iter().map(|s| a.by_seed[s]).collect(),
            common.iter().map(|s| b.by_seed[s]).collect(),
        )
    } else {
        (
            a.by_seed.values().copied().collect(),
            b.by_seed.values().copied().collect(),
        )
    };
    let n_b = if fixed.is_some() {
        usize::MAX
    } else {
        xb.len()
    };
    let unfinished = a.summary.not_finished + b.summary.not_finished;
    if xa.len() < c.min_seeds || n_b < c.min_seeds {
        out.verdict = Verdict::TooFewSeeds;
        let shown = if fixed.is_some() {
            format!("{} seed(s)", xa.len())
        } else {
            format!("{} and {} seed(s)", xa.len(), xb.len())
        };
        out.note = format!(
            "{shown}{}; the claim needs {} a side{}",
            if c.test.is_paired() { " paired" } else { "" },
            c.min_seeds,
            if unfinished > 0 {
                format!(" ({unfinished} run(s) not finished or undefined)")
            } else {
                String::new()
            }
        );
        return out;
    }
    // the asserted direction as `greater`
    let sign = match c.direction {
        Direction::Greater => 1.0,
        Direction::Less => -1.0,
    };
    xa.iter_mut().for_each(|v| *v *= sign);
    xb.iter_mut().for_each(|v| *v *= sign);
    let value = fixed.map(|v| v * sign).unwrap_or(0.0);
    let t = match (c.test, fixed) {
        (TestKind::Welch | TestKind::Paired, Some(_)) => stats::one_sample(&xa, value, c.margin),
        (TestKind::Welch, None) => stats::welch(&xa, &xb, c.margin),
        (TestKind::Paired, None) => stats::paired(&xa, &xb, c.margin),
        (TestKind::Bootstrap | TestKind::PairedBootstrap, _) => stats::bootstrap(
            &xa,
            fixed.is_none().then_some(xb.as_slice()),
            value,
            c.test.is_paired(),
            c.margin,
            stats::BOOTSTRAP_RESAMPLES,
            id_seed(&c.id),
        ),
    };
    out.diff = sign * t.diff;
    out.diff_ci95 = if sign > 0.0 {
        vec![t.ci95.0, t.ci95.1]
    } else {
        vec![-t.ci95.1, -t.ci95.0]
    };
    out.effect_size = t.effect_size;
    out.statistic = t.statistic;
    out.df = t.df;
    out.p = t.p;
    out.verdict = if t.p < c.alpha {
        Verdict::Holds
    } else {
        Verdict::Fails
    };
    if out.verdict == Verdict::Fails {
        // is the opposite significant?
        let neg: Vec<f64> = xa.iter().map(|v| -v).collect();
        let negb: Vec<f64> = xb.iter().map(|v| -v).collect();
        let opp = match (c.test, fixed) {
            (_, Some(_)) => stats::one_sample(&neg, -value, 0.0).p,
            (TestKind::Paired | TestKind::PairedBootstrap, None) => {
                stats::paired(&neg, &negb, 0.0).p
            }
            _ => stats::welch(&neg, &negb, 0.0).p,
        };
        let mut n = if opp < c.alpha {
            format!("the opposite holds (p = {opp:.2e})")
        } else if t.diff > 0.0 && c.margin > 0.0 {
            format!(
                "the effect is in the asserted direction but not shown to exceed the margin {}",
                c.margin
            )
        } else {
            "no significant difference".into()
        };
        if !out.note.is_empty() {
            n = format!("{}; {n}", out.note);
        }
        out.note = n;
    }
    if unfinished > 0 {
        let u = format!(
            "{unfinished} run(s) not finished or with an undefined statistic were left out"
        );
        out.note = if out.note.is_empty() {
            u
        } else {
            format!("{}; {u}", out.note)
        };
    }
    out
}

/// The ledger claims plus every study's own `claims.toml` under `root`, evaluated. `only`
/// keeps the claims whose id or study contains one of the strings (all when empty).
pub fn evaluate(
    root: &Path,
    ledgers: &[(String, String)],
    only: &[String],
) -> Result<ClaimsFile, ClaimError> {
    let mut runs = Runs::under(root, SEARCH_DEPTH)?;
    let mut claims = Vec::new();
    for (name, text) in ledgers {
        claims.extend(parse_ledger(text, name, None, false)?);
    }
    claims.extend(study_claims(runs.studies())?);
    check_unique(&claims)?;
    let keep = |c: &Claim| {
        only.is_empty()
            || only.iter().any(|o| {
                c.id.contains(o.as_str())
                    || c.study.as_deref().is_some_and(|s| s.contains(o.as_str()))
            })
    };
    let claims: Vec<ClaimOutcome> = claims
        .iter()
        .filter(|c| keep(c))
        .map(|c| evaluate_claim(&mut runs, c))
        .collect();
    Ok(ClaimsFile::new(root, claims))
}

/// The claims of one study: the ledger's and the study's own that involve it on either side,
/// evaluated against it and its sibling studies (the folder above it).
pub fn evaluate_study(dir: &Path) -> Result<ClaimsFile, ClaimError> {
    // absolute, so that a relative `dir` (`biodis report fig2`) has a parent to search
    let abs = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let dir = abs.as_path();
    let name = study_name(dir);
    let root = dir.parent().filter(|p| p.is_dir()).unwrap_or(dir);
    // the study and its siblings (the folder above it, one level: never a deep walk of
    // whatever folder the study was put in)
    let mut runs = Runs::under(root, 1)?;
    if !runs.studies.iter().any(|s| s.dir == dir) {
        runs = Runs::under(dir, 0)?;
    }
    let mut claims = parse_ledger(PAPER_LEDGER, "experiments/claims.toml", None, false)?;
    let own: Vec<FoundStudy> = runs
        .studies()
        .iter()
        .filter(|s| s.dir == dir)
        .cloned()
        .collect();
    claims.extend(study_claims(&own)?);
    check_unique(&claims)?;
    let involves = |c: &Claim| {
        [&c.a, &c.b]
            .iter()
            .any(|s| s.value.is_none() && c.study_of(s) == Some(name.as_str()))
    };
    let claims = claims
        .iter()
        .filter(|c| involves(c))
        .map(|c| evaluate_claim(&mut runs, c))
        .collect();
    Ok(ClaimsFile::new(dir, claims))
}

fn check_unique(claims: &[Claim]) -> Result<(), ClaimError> {
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for c in claims {
        if let Some(first) = seen.insert(&c.id, &c.source) {
            return Err(ClaimError::Invalid {
                source_name: c.source.clone(),
                id: c.id.clone(),
                msg: format!("the id is also used in {first}; claim ids must be unique"),
            });
        }
    }
    Ok(())
}

/// The claims of the studies' own `claims.toml` files.
fn study_claims(studies: &[FoundStudy]) -> Result<Vec<Claim>, ClaimError> {
    let mut out = Vec::new();
    for s in studies {
        let p = s.dir.join(biodis_rundir::claims::CLAIMS_TOML);
        if let Ok(t) = std::fs::read_to_string(&p) {
            out.extend(parse_ledger(
                &t,
                &p.display().to_string(),
                Some(&s.name),
                false,
            )?);
        }
    }
    Ok(out)
}

/// The `[[claim]]` tables of a recipe as the TOML of a study's `claims.toml` (each claim's
/// `study` filled with `study` where missing), after validating them; `None` when it has none.
pub fn recipe_claims(
    recipe_text: &str,
    source_name: &str,
    study: &str,
) -> Result<Option<String>, ClaimError> {
    let t: toml::Table = recipe_text
        .parse()
        .map_err(|e: toml::de::Error| ClaimError::Parse {
            source_name: source_name.to_string(),
            msg: e.to_string(),
        })?;
    let Some(toml::Value::Array(list)) = t.get("claim").cloned() else {
        if t.contains_key("claim") {
            return Err(ClaimError::Parse {
                source_name: source_name.to_string(),
                msg: "`claim` must be an array of tables ([[claim]])".into(),
            });
        }
        return Ok(None);
    };
    parse_ledger(recipe_text, source_name, Some(study), true)?;
    let filled: Vec<toml::Value> = list
        .into_iter()
        .map(|mut v| {
            if let toml::Value::Table(ct) = &mut v {
                ct.entry("study")
                    .or_insert_with(|| toml::Value::String(study.to_string()));
            }
            v
        })
        .collect();
    let mut out = toml::Table::new();
    out.insert("claim".into(), toml::Value::Array(filled));
    Ok(Some(toml::to_string_pretty(&out).map_err(|e| {
        ClaimError::Parse {
            source_name: source_name.to_string(),
            msg: e.to_string(),
        }
    })?))
}

fn num3(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "–".into()
    }
}

fn side_text(s: &SideSummary, fixed: bool) -> String {
    if fixed {
        return num3(s.mean);
    }
    match s.values.len() {
        0 => "–".into(),
        1 => format!("{} (n=1)", num3(s.mean)),
        n => format!("{} ± {} (n={n})", num3(s.mean), num3(s.se)),
    }
}

pub use biodis_rundir::claims::p_text;

/// The assertion of a claim as text: `a > b`, `a > b + 0.1`, `a < b − 0.1`.
pub fn assertion_text(c: &ClaimOutcome) -> String {
    let (op, sign) = if c.direction == "less" {
        ("<", "−")
    } else {
        (">", "+")
    };
    if c.margin > 0.0 {
        format!("a {op} b {sign} {}", c.margin)
    } else {
        format!("a {op} b")
    }
}

/// `(study, rest)` of a side label `study: group · stat`.
fn split_label(l: &str) -> (&str, &str) {
    l.split_once(": ").unwrap_or(("", l))
}

/// The verdicts as a Markdown table (what `biodis claims` prints and the README shows): one
/// row per claim with its study, both sides (group · statistic = mean ± s.e. (n)), the
/// difference with its 95 % interval, the effect size and the test's one-sided p-value; then
/// the counts and the notes.
pub fn format_table(f: &ClaimsFile) -> String {
    let mut s = table_rows(f);
    s.push_str(&format!("\n{}\n", count_line(f)));
    let noted: Vec<&ClaimOutcome> = f.claims.iter().filter(|c| !c.note.is_empty()).collect();
    if !noted.is_empty() {
        s.push_str("\nnotes:\n");
        for c in noted {
            s.push_str(&format!("  {}: {}\n", c.id, c.note));
        }
    }
    s
}

/// The verdicts as a Markdown section (`biodis claims --markdown`, the block the README's
/// ledger is regenerated from by `scripts/update-readme-ledger.sh`): the table, the counts as
/// a sentence, and the notes of the claims that ran (not the NOT RUN ones, whose notes only
/// say what is missing) as a list.
pub fn format_markdown(f: &ClaimsFile) -> String {
    let mut s = table_rows(f);
    s.push_str(&format!("\n{}.\n", count_line(f)));
    let noted: Vec<&ClaimOutcome> = f
        .claims
        .iter()
        .filter(|c| !c.note.is_empty() && c.verdict != Verdict::NotRun)
        .collect();
    if !noted.is_empty() {
        s.push_str("\nNotes of the claims that ran:\n\n");
        for c in noted {
            s.push_str(&format!("- `{}`: {}\n", c.id, c.note));
        }
    }
    s
}

/// `N claims: a HOLDS, b FAILS, c TOO FEW SEEDS, d NOT RUN`.
fn count_line(f: &ClaimsFile) -> String {
    format!(
        "{} claims: {}",
        f.claims.len(),
        f.counts()
            .iter()
            .map(|(v, n)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// The table's header and one row per claim.
fn table_rows(f: &ClaimsFile) -> String {
    let mut s = String::from(
        "| verdict | claim | study | a | b | Δ = a − b [95 % CI] | effect | test, p |\n|---|---|---|---|---|---|---|---|\n",
    );
    for c in &f.claims {
        let fixed = c.b.study_dir.is_none() && c.b.values.is_empty() && c.b.mean.is_finite();
        let (study, a_rest) = split_label(&c.a.label);
        let b_text = if fixed {
            side_text(&c.b, true)
        } else {
            let (bs, b_rest) = split_label(&c.b.label);
            let shown = if bs == study {
                b_rest.to_string()
            } else {
                c.b.label.clone()
            };
            format!("{shown} = {}", side_text(&c.b, false))
        };
        let ci = if c.diff.is_finite() {
            format!(
                "{} [{}, {}]",
                num3(c.diff),
                num3(c.diff_ci95[0]),
                num3(c.diff_ci95[1])
            )
        } else {
            "–".into()
        };
        s.push_str(&format!(
            "| **{}** | `{}`: {} ({}) | {} | {} = {} | {} | {} | {} | {}, {} |\n",
            c.verdict,
            c.id,
            c.text,
            assertion_text(c),
            study,
            a_rest,
            side_text(&c.a, false),
            b_text,
            ci,
            if c.effect_size.is_finite() {
                format!("{:.2}", c.effect_size)
            } else {
                "–".into()
            },
            c.test,
            p_text(c.p),
        ));
    }
    s
}

#[cfg(test)]
mod tests;
