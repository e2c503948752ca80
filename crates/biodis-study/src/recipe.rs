//! Recipes: the TOML description of a study (an experiment of the paper, or a user's own).
//!
//! A recipe has the tables `[study]`, `[data]`, `[model]`, `[constraints]`, `[train]`,
//! optionally `[metrics]`, and any number of `[[variant]]` entries. Each variant is a name plus
//! a `set` table of dotted-key overrides applied to the base recipe; a study runs every variant
//! for every seed. A command-line `--set key=value` changes the base recipe: it applies to every
//! variant except where the variant (or a sweep axis) sets that key itself, so an ablation stays
//! the ablation it is named for ([`override_warnings`] names each such case). A scoped
//! `--set VARIANT:key=value` applies to that variant only, after its own settings (it always
//! wins). Unknown keys are errors that name the key path and the file. The paper's experiments
//! are recipes under `experiments/`, embedded in the binary.

use biodis_data::DataSpec;
use biodis_metrics::MirOptions;
use biodis_nn::{Activation, Constraints, Head, Reduction, Schedule};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The recipes embedded in the binary: `(name, TOML text)`.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("fig2", include_str!("../../../experiments/fig2.toml")),
    (
        "fig2-lownoise",
        include_str!("../../../experiments/fig2-lownoise.toml"),
    ),
    ("fig3", include_str!("../../../experiments/fig3.toml")),
    (
        "fig3-lownoise",
        include_str!("../../../experiments/fig3-lownoise.toml"),
    ),
    (
        "fig4-shallow",
        include_str!("../../../experiments/fig4-shallow.toml"),
    ),
    (
        "fig4-deep",
        include_str!("../../../experiments/fig4-deep.toml"),
    ),
    ("fig8", include_str!("../../../experiments/fig8.toml")),
    ("fig9", include_str!("../../../experiments/fig9.toml")),
    (
        "fig8-lownoise",
        include_str!("../../../experiments/fig8-lownoise.toml"),
    ),
    (
        "fig9-lownoise",
        include_str!("../../../experiments/fig9-lownoise.toml"),
    ),
    ("fig11", include_str!("../../../experiments/fig11.toml")),
    ("fig6", include_str!("../../../experiments/fig6.toml")),
    (
        "fig6-probes",
        include_str!("../../../experiments/fig6-probes.toml"),
    ),
    ("fig7", include_str!("../../../experiments/fig7.toml")),
    ("fig14", include_str!("../../../experiments/fig14.toml")),
    (
        "fig6-search",
        include_str!("../../../experiments/fig6-search.toml"),
    ),
    (
        "fig6-dog",
        include_str!("../../../experiments/fig6-dog.toml"),
    ),
    (
        "fig7-dog",
        include_str!("../../../experiments/fig7-dog.toml"),
    ),
    (
        "fig14-dog",
        include_str!("../../../experiments/fig14-dog.toml"),
    ),
    ("fig5", include_str!("../../../experiments/fig5.toml")),
    ("fig12", include_str!("../../../experiments/fig12.toml")),
    ("fig13", include_str!("../../../experiments/fig13.toml")),
];

/// `biodis run synthetic`: every synthetic experiment of the paper (Figs 2, 3, 4, 8, 9, 11),
/// Table 1 as written and, for Figs 2, 3, 8 and 9, also in the low-gradient-noise regime in
/// which Fig 2's effect appears; each into its own study directory under one parent, with one
/// index page.
pub const SYNTHETIC: &[&str] = &[
    "fig2",
    "fig2-lownoise",
    "fig3",
    "fig3-lownoise",
    "fig4-shallow",
    "fig4-deep",
    "fig8",
    "fig8-lownoise",
    "fig9",
    "fig9-lownoise",
    "fig11",
];

/// The grid-world and VAE figures that `biodis run paper` adds to [`SYNTHETIC`]: Figs 6, 7
/// and 14 (grid world), then Figs 5, 12 and 13 (VAEs on dSprites / Shapes3D).
pub const PAPER_EXTRA: &[&str] = &["fig6", "fig7", "fig14", "fig5", "fig12", "fig13"];

/// `biodis run paper`: every figure of the paper, [`SYNTHETIC`] then [`PAPER_EXTRA`], each
/// into its own study directory under one parent (`runs/paper/<figure>/`), with one index page.
pub fn paper_recipes() -> Vec<&'static str> {
    SYNTHETIC.iter().chain(PAPER_EXTRA).copied().collect()
}

/// Errors in recipes and overrides. Every message names the source (file or recipe) and the key.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    #[error("unknown recipe '{name}'. Available recipes: {available}. (Or give a path to a .toml file.)")]
    Unknown { name: String, available: String },
    #[error("{source_name}: cannot read: {err}")]
    Read {
        source_name: String,
        err: std::io::Error,
    },
    #[error("{source_name}: {msg}")]
    Parse { source_name: String, msg: String },
    #[error("{source_name}: key `{key}`: {msg}")]
    Key {
        source_name: String,
        key: String,
        msg: String,
    },
    #[error("--set {arg}: {msg}")]
    Override { arg: String, msg: String },
}

/// `[study]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyMeta {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Number of seeds (runs per variant): seeds `first_seed .. first_seed + seeds`.
    #[serde(default = "default_seeds")]
    pub seeds: u64,
    #[serde(default)]
    pub first_seed: u64,
}
fn default_seeds() -> u64 {
    5
}

/// `[model]`: an MLP `input → hidden… → output`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Hidden widths, e.g. `[188]`.
    pub hidden: Vec<usize>,
    /// Activation of every hidden layer (`relu` or `identity`); `nonneg = "relu"` overrides it
    /// on the constrained layers.
    #[serde(default = "default_act")]
    pub activation: Activation,
    #[serde(default = "default_head")]
    pub head: Head,
    #[serde(default)]
    pub reduction: Reduction,
    /// Per-hidden-layer activations (overrides `activation`; one entry per hidden layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activations: Option<Vec<Activation>>,
    /// Autoencoders: the hidden layer that is the latent (the encoder head). With `latent`, only
    /// its first `latent` units feed the next layer (Table 1's layout: the head has 2 × latent
    /// units). MIR is reported for this layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent_layer: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent: Option<usize>,
}

impl ModelSpec {
    /// Activation of each hidden layer.
    pub fn layer_activations(&self) -> Vec<Activation> {
        self.activations
            .clone()
            .unwrap_or_else(|| vec![self.activation; self.hidden.len()])
    }
    /// The hidden layer whose MIR is the run's headline number: the latent layer if given,
    /// else the last hidden layer.
    pub fn primary_layer(&self) -> usize {
        self.latent_layer
            .unwrap_or(self.hidden.len().saturating_sub(1))
    }
    /// `(layer, units)` of a latent split, if any.
    pub fn split(&self) -> Option<(usize, usize)> {
        match (self.latent_layer, self.latent) {
            (Some(l), Some(p)) if p < self.hidden[l] => Some((l, p)),
            _ => None,
        }
    }
}
fn default_act() -> Activation {
    Activation::Identity
}
fn default_head() -> Head {
    Head::Mse
}

/// `[train]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Adam steps.
    pub steps: u64,
    /// Minibatch size; batches are drawn uniformly with replacement from the dataset.
    pub batch: usize,
    /// Base learning rate.
    pub lr: f64,
    #[serde(default)]
    pub schedule: Schedule,
    /// Evaluate (MIR, R², loss terms) every this many steps; also checkpoints then.
    #[serde(default = "default_eval_every")]
    pub eval_every: u64,
    /// Number of samples (the first of the dataset) used for evaluation.
    #[serde(default = "default_eval_samples")]
    pub eval_samples: usize,
    /// Hidden activations saved to `arrays/` at the end (first samples of the eval set).
    #[serde(default = "default_save")]
    pub save_activations: usize,
}
fn default_eval_every() -> u64 {
    5000
}
fn default_eval_samples() -> usize {
    10_000
}
fn default_save() -> usize {
    2000
}

/// `[[variant]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub set: toml::Table,
}

/// A whole recipe file (as written, before variants are applied).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    pub study: StudyMeta,
    pub data: DataSpec,
    pub model: ModelSpec,
    #[serde(default)]
    pub constraints: Constraints,
    pub train: TrainSpec,
    #[serde(default)]
    pub metrics: MirOptions,
    #[serde(default, rename = "variant")]
    pub variants: Vec<Variant>,
    /// Sweep axes (optional).
    #[serde(default)]
    pub sweep: Sweep,
}

/// `[sweep]`: axes over recipe keys, as disentanglement_lib's `sweep`/`zipit` and Hydra
/// multirun. `grid` keys form a Cartesian product; `zip` keys (lists of equal length) advance
/// together; the two combine as a product. Keys are dotted paths, values are lists:
///
/// ```toml
/// [sweep.grid]
/// "constraints.beta_activity" = [1e-4, 1e-3, 1e-2]
/// [sweep.zip]
/// "train.lr" = [1e-3, 3e-3]
/// "train.batch" = [128, 1024]
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    #[serde(default)]
    pub grid: toml::Table,
    #[serde(default)]
    pub zip: toml::Table,
}

/// One sweep point: `(dotted key, value)` overrides.
pub type SweepPoint = Vec<(String, toml::Value)>;

impl Sweep {
    /// All points in a stable order (zip outer, grid inner; keys in sorted order); one empty point when
    /// there is no sweep. Errors name the offending key.
    pub fn points(&self) -> Result<Vec<SweepPoint>, String> {
        let list = |k: &str, v: &toml::Value| -> Result<Vec<toml::Value>, String> {
            match v {
                toml::Value::Array(a) if !a.is_empty() => Ok(a.clone()),
                _ => Err(format!(
                    "sweep key `{k}` must be a non-empty list of values"
                )),
            }
        };
        let zip: Vec<(String, Vec<toml::Value>)> = flatten(&self.zip, "")
            .into_iter()
            .map(|(k, v)| list(&k, &v).map(|l| (k, l)))
            .collect::<Result<_, _>>()?;
        let grid: Vec<(String, Vec<toml::Value>)> = flatten(&self.grid, "")
            .into_iter()
            .map(|(k, v)| list(&k, &v).map(|l| (k, l)))
            .collect::<Result<_, _>>()?;
        let zlen = zip.first().map(|z| z.1.len()).unwrap_or(1);
        if let Some((k, l)) = zip.iter().find(|z| z.1.len() != zlen) {
            return Err(format!(
                "sweep.zip lists must have equal lengths: `{k}` has {} values, expected {zlen}",
                l.len()
            ));
        }
        let mut points: Vec<SweepPoint> = (0..zlen)
            .map(|i| zip.iter().map(|(k, l)| (k.clone(), l[i].clone())).collect())
            .collect();
        for (k, l) in &grid {
            points = points
                .into_iter()
                .flat_map(|p| {
                    l.iter().map(move |v| {
                        let mut q = p.clone();
                        q.push((k.clone(), v.clone()));
                        q
                    })
                })
                .collect();
        }
        Ok(points)
    }
}

/// A short, filesystem-safe label of a sweep point: `beta_activity=0.001_lr=0.003`.
pub fn point_label(p: &SweepPoint) -> String {
    p.iter()
        .map(|(k, v)| {
            let key = k.rsplit('.').next().unwrap_or(k);
            let val = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            format!("{key}={val}")
        })
        .collect::<Vec<_>>()
        .join("_")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "=._-+".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The fully resolved configuration of one run (written to the run's `recipe.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub study: StudyMeta,
    pub run: RunIdent,
    pub data: DataSpec,
    pub model: ModelSpec,
    pub constraints: Constraints,
    pub train: TrainSpec,
    pub metrics: MirOptions,
}

/// Which variant, sweep point and seed a run is (the run-directory contract's type).
pub use biodis_rundir::RunIdent;

impl RunConfig {
    /// Stable, human-readable run id: `<variant>-s<seed>` (see [`RunIdent::run_id`]).
    pub fn run_id(&self) -> String {
        self.run.run_id()
    }

    /// The group a run is aggregated in over seeds (see [`RunIdent::group`]).
    pub fn group(&self) -> String {
        self.run.group()
    }

    /// Checks values that types cannot: zero steps, batch > dataset, negative β, ….
    pub fn validate(&self) -> Result<(), String> {
        let t = &self.train;
        if t.steps == 0 {
            return Err("train.steps = 0: expected at least 1 step".into());
        }
        if t.batch == 0 {
            return Err("train.batch = 0: expected at least 1".into());
        }
        if t.batch > self.data.n_samples {
            return Err(format!(
                "train.batch = {} is larger than the dataset (data.n_samples = {})",
                t.batch, self.data.n_samples
            ));
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(format!("train.lr = {}: expected a finite value > 0", t.lr));
        }
        if t.eval_every == 0 {
            return Err("train.eval_every = 0: expected at least 1".into());
        }
        if t.eval_samples < 2 || t.eval_samples > self.data.n_samples {
            return Err(format!(
                "train.eval_samples = {}: expected between 2 and data.n_samples = {}",
                t.eval_samples, self.data.n_samples
            ));
        }
        if self.model.hidden.is_empty() {
            return Err(
                "model.hidden = []: these networks need at least one hidden layer to score".into(),
            );
        }
        if let Some(i) = self.model.hidden.iter().position(|&w| w == 0) {
            return Err(format!("model.hidden[{i}] = 0: widths must be at least 1"));
        }
        if let Some(a) = &self.model.activations {
            if a.len() != self.model.hidden.len() {
                return Err(format!(
                    "model.activations has {} entries but model.hidden has {} layers",
                    a.len(),
                    self.model.hidden.len()
                ));
            }
        }
        if let Some(l) = self.model.latent_layer {
            if l >= self.model.hidden.len() {
                return Err(format!(
                    "model.latent_layer = {l}: there are only {} hidden layers",
                    self.model.hidden.len()
                ));
            }
            if let Some(p) = self.model.latent {
                if p == 0 || p > self.model.hidden[l] {
                    return Err(format!(
                        "model.latent = {p}: expected 1..={} (the width of hidden layer {l})",
                        self.model.hidden[l]
                    ));
                }
            }
        } else if self.model.latent.is_some() {
            return Err("model.latent needs model.latent_layer".into());
        }
        self.data.validate().map_err(|e| e.to_string())?;
        self.constraints
            .validate(self.model.hidden.len())
            .map_err(|e| e.to_string())?;
        if self.study.seeds == 0 {
            return Err("study.seeds = 0: expected at least 1".into());
        }
        // the metric options, named as written in the recipe (`metrics.bins = 0: expected …`)
        self.metrics
            .validate()
            .map_err(|e| format!("metrics.{e}"))?;
        Ok(())
    }
}

/// Where a recipe came from, for error messages.
#[derive(Debug, Clone)]
pub struct RecipeSource {
    pub name: String,
    pub text: String,
}

/// Finds a recipe by embedded name or as a path to a `.toml` file.
pub fn locate(name_or_path: &str) -> Result<RecipeSource, RecipeError> {
    if let Some((n, t)) = EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        // (the `synthetic` group is expanded by the CLI, not here)
        return Ok(RecipeSource {
            name: format!("recipe '{n}' (experiments/{n}.toml)"),
            text: t.to_string(),
        });
    }
    let p = Path::new(name_or_path);
    if name_or_path.ends_with(".toml") || p.exists() {
        let text = std::fs::read_to_string(p).map_err(|err| RecipeError::Read {
            source_name: name_or_path.to_string(),
            err,
        })?;
        return Ok(RecipeSource {
            name: name_or_path.to_string(),
            text,
        });
    }
    Err(RecipeError::Unknown {
        name: name_or_path.to_string(),
        available: EMBEDDED
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Parses a `--set key.path=value` or `--set VARIANT:key.path=value` argument; the value is
/// TOML (`3e-3`, `true`, `[188]`, `"relu"`) or, failing that, a bare string. A scoped override
/// keeps its `VARIANT:` prefix in the returned key (see [`split_scope`]).
pub fn parse_override(arg: &str) -> Result<(String, toml::Value), RecipeError> {
    let (k, v) = arg.split_once('=').ok_or_else(|| RecipeError::Override {
        arg: arg.into(),
        msg: "expected key.path=value or VARIANT:key.path=value".into(),
    })?;
    let k = k.trim();
    let (scope, path) = split_scope(k);
    if let Some(var) = scope {
        if var.is_empty()
            || !var
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(RecipeError::Override {
                arg: arg.into(),
                msg: format!(
                    "'{var}' before ':' is not a variant name (letters, digits, '-' and '_')"
                ),
            });
        }
    }
    if path.is_empty() || path.split('.').any(|s| s.is_empty()) {
        return Err(RecipeError::Override {
            arg: arg.into(),
            msg: "empty key path".into(),
        });
    }
    let v = v.trim();
    let value = match format!("x = {v}").parse::<toml::Table>() {
        Ok(mut t) => t.remove("x").unwrap_or(toml::Value::String(v.into())),
        Err(_) => toml::Value::String(v.to_string()),
    };
    Ok((k.to_string(), value))
}

/// Splits an override key into its variant scope and key path: `"all:train.lr"` →
/// `(Some("all"), "train.lr")`, `"train.lr"` → `(None, "train.lr")`.
pub fn split_scope(key: &str) -> (Option<&str>, &str) {
    match key.split_once(':') {
        Some((v, k)) => (Some(v.trim()), k.trim()),
        None => (None, key),
    }
}

/// True when setting dotted key `a` and dotted key `b` touch the same value (equal, or one is a
/// table that holds the other).
fn keys_overlap(a: &str, b: &str) -> bool {
    a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}."))
}

/// The warnings of applying `overrides` to the recipe: one for every global `--set` whose key a
/// variant (or a sweep axis) sets itself, naming the variant, the key and both values, since
/// there the variant's own value wins. Variants outside `only` (when non-empty) are skipped.
pub fn override_warnings(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    only: &[String],
) -> Result<Vec<String>, RecipeError> {
    let (_, variants, sweep) = split_recipe(src)?;
    let mut out = Vec::new();
    let show = |v: &toml::Value| match v {
        toml::Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    };
    for (k, val) in overrides {
        if split_scope(k).0.is_some() {
            continue;
        }
        for v in variants
            .iter()
            .filter(|v| only.is_empty() || only.contains(&v.name))
        {
            for (vk, vv) in flatten(&v.set, "") {
                if keys_overlap(k, &vk) {
                    out.push(format!(
                        "warning: --set {k}={} does not apply to variant '{}', which sets {vk} = {} itself (the variant's value is kept; use --set {}:{k}=... to override it there)",
                        show(val),
                        v.name,
                        show(&vv),
                        v.name
                    ));
                }
            }
        }
        for (sk, sv) in flatten(&sweep.grid, "")
            .into_iter()
            .chain(flatten(&sweep.zip, ""))
        {
            if keys_overlap(k, &sk) {
                out.push(format!(
                    "warning: --set {k}={} does not apply where the sweep sets {sk} (to {}); the sweep's values are kept",
                    show(val),
                    show(&sv)
                ));
            }
        }
    }
    Ok(out)
}

/// Sets `path` (dotted) in `root` to `value`, creating intermediate tables.
fn set_path(root: &mut toml::Table, path: &str, value: toml::Value) -> Result<(), String> {
    let parts: Vec<&str> = path.split('.').collect();
    let mut cur = root;
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur.insert(p.to_string(), value);
            return Ok(());
        }
        let entry = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{}` is not a table", parts[..=i].join(".")))?;
    }
    Ok(())
}

/// Deserialises a TOML table into `T`, with the failing key path in the error.
pub(crate) fn from_table<T: serde::de::DeserializeOwned>(
    t: toml::Table,
    source_name: &str,
) -> Result<T, RecipeError> {
    let v = toml::Value::Table(t);
    serde_path_to_error::deserialize(v).map_err(|e| {
        let key = e.path().to_string();
        let msg = e.into_inner().to_string();
        // the inner message may repeat the key path on a second line ("in `train.lr`")
        let msg = msg.lines().next().unwrap_or("").trim().to_string();
        RecipeError::Key {
            source_name: source_name.to_string(),
            key,
            msg,
        }
    })
}

/// Parses and checks a recipe text (unknown keys are errors with line and column).
pub fn parse(src: &RecipeSource) -> Result<Recipe, RecipeError> {
    toml::from_str::<Recipe>(&src.text).map_err(|e| RecipeError::Parse {
        source_name: src.name.clone(),
        msg: e.to_string().trim().to_string(),
    })
}

/// Expands a recipe into the resolved configuration of every run (variants × seeds), applying
/// the variant overrides, then the command-line overrides, then validating each.
///
/// `seeds` overrides `study.seeds`; `steps` overrides `train.steps`.
pub fn expand(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
) -> Result<Vec<RunConfig>, RecipeError> {
    expand_variants(src, overrides, seeds, steps, &[])
}

/// [`expand`], keeping only the variants named in `only` (all when empty). An unknown name is
/// an error that lists the recipe's variants.
pub fn expand_variants(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
    only: &[String],
) -> Result<Vec<RunConfig>, RecipeError> {
    parse(src)?;
    let mut out = Vec::new();
    for mut e in expand_tables(src, overrides, seeds, steps, only)? {
        // Deserialize the base part as a Recipe first (so unknown keys from --set are caught
        // with their path), then the per-run config.
        let r: Recipe = from_table(std::mem::take(&mut e.table), &e.label)?;
        e.check_seeds(&r.study)?;
        for run in e.idents(&r.study) {
            let cfg = RunConfig {
                study: r.study.clone(),
                run,
                data: r.data.clone(),
                model: r.model.clone(),
                constraints: r.constraints.clone(),
                train: r.train.clone(),
                metrics: r.metrics,
            };
            cfg.validate().map_err(|msg| RecipeError::Parse {
                source_name: e.label.clone(),
                msg,
            })?;
            out.push(cfg);
        }
    }
    Ok(out)
}

/// True when the recipe text is a grid-world (cell-type model) recipe: it has a `[cells]` table.
pub fn is_cells_recipe(src: &RecipeSource) -> bool {
    has_table(src, "cells")
}

/// True when the recipe text parses and has a top-level `key` table (how a recipe's kind is
/// told: `[cells]` grid world, `[vae]` VAE, neither: dense).
pub fn has_table(src: &RecipeSource, key: &str) -> bool {
    src.text
        .parse::<toml::Table>()
        .map(|t| t.contains_key(key))
        .unwrap_or(false)
}

/// Expands a recipe of type `R` into run configurations `C` (variants × sweep points ×
/// seeds): parses the whole file first (so errors name it), then every expanded table;
/// `make` builds one run's configuration and `validate` checks it (errors name the variant).
#[allow(clippy::too_many_arguments)]
pub fn expand_typed<R, C>(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
    only: &[String],
    study: impl Fn(&R) -> &StudyMeta,
    make: impl Fn(&R, RunIdent) -> C,
    validate: impl Fn(&C) -> Result<(), String>,
) -> Result<Vec<C>, RecipeError>
where
    R: serde::de::DeserializeOwned,
{
    toml::from_str::<R>(&src.text).map_err(|e| RecipeError::Parse {
        source_name: src.name.clone(),
        msg: e.to_string().trim().to_string(),
    })?;
    let mut out = Vec::new();
    for mut e in expand_tables(src, overrides, seeds, steps, only)? {
        let r: R = from_table(std::mem::take(&mut e.table), &e.label)?;
        e.check_seeds(study(&r))?;
        for run in e.idents(study(&r)) {
            let cfg = make(&r, run);
            validate(&cfg).map_err(|msg| RecipeError::Parse {
                source_name: e.label.clone(),
                msg,
            })?;
            out.push(cfg);
        }
    }
    Ok(out)
}

/// One expanded (variant, sweep point) configuration table, before it is typed.
#[derive(Debug, Clone)]
pub struct ExpandedTable {
    pub variant: String,
    pub point: String,
    pub table: toml::Table,
    /// Where it came from, for error messages.
    pub label: String,
}

/// Applies the variants, sweep points and command-line overrides to the recipe text; shared by
/// every recipe kind. Variant names are checked (unique, filesystem-safe, `only` known), and so
/// is the variant of every scoped `--set VARIANT:key=value`. Order: base ← global `--set` ← the
/// variant's `set` ← the sweep point ← scoped `--set` ← `--seeds`/`--steps`.
pub fn expand_tables(
    src: &RecipeSource,
    overrides: &[(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
    only: &[String],
) -> Result<Vec<ExpandedTable>, RecipeError> {
    let (base, variants, sweep) = split_recipe(src)?;
    let points = sweep.points().map_err(|msg| RecipeError::Key {
        source_name: src.name.clone(),
        key: "sweep".into(),
        msg,
    })?;
    let (global, scoped): (Vec<_>, Vec<_>) = overrides
        .iter()
        .partition(|(k, _)| split_scope(k).0.is_none());
    for (k, _) in &scoped {
        let var = split_scope(k).0.unwrap_or_default();
        if !variants.iter().any(|v| v.name == var) {
            return Err(RecipeError::Override {
                arg: k.clone(),
                msg: format!(
                    "{} has no variant '{var}'; its variants are: {}",
                    src.name,
                    variants
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    expand_split(
        src, base, variants, points, &global, &scoped, seeds, steps, only,
    )
}

/// A recipe's text split into its base table, its variants (one `default` when it has none)
/// and its sweep; variant names are checked (unique, filesystem-safe).
fn split_recipe(src: &RecipeSource) -> Result<(toml::Table, Vec<Variant>, Sweep), RecipeError> {
    let mut base: toml::Table =
        src.text
            .parse()
            .map_err(|e: toml::de::Error| RecipeError::Parse {
                source_name: src.name.clone(),
                msg: e.to_string(),
            })?;
    let variants: Vec<Variant> = match base.remove("variant") {
        Some(v) => {
            from_table::<VariantList>(
                toml::Table::from_iter([("variant".to_string(), v)]),
                &src.name,
            )?
            .variant
        }
        None => Vec::new(),
    };
    let sweep: Sweep = match base.remove("sweep") {
        Some(toml::Value::Table(t)) => from_table(t, &src.name)?,
        Some(_) => {
            return Err(RecipeError::Key {
                source_name: src.name.clone(),
                key: "sweep".into(),
                msg: "expected a table".into(),
            })
        }
        None => Sweep::default(),
    };
    let variants = if variants.is_empty() {
        vec![Variant {
            name: "default".into(),
            description: String::new(),
            set: toml::Table::new(),
        }]
    } else {
        variants
    };
    let mut names = std::collections::HashSet::new();
    for v in &variants {
        if !names.insert(v.name.clone()) {
            return Err(RecipeError::Key {
                source_name: src.name.clone(),
                key: "variant.name".into(),
                msg: format!("variant name '{}' appears twice", v.name),
            });
        }
        if v.name.is_empty()
            || !v
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(RecipeError::Key {
                source_name: src.name.clone(),
                key: "variant.name".into(),
                msg: format!(
                    "'{}' is not a valid name (use letters, digits, '-' and '_')",
                    v.name
                ),
            });
        }
    }
    Ok((base, variants, sweep))
}

/// [`expand_tables`] on a recipe already split: base ← global `--set` ← the variant's `set` ←
/// the sweep point ← the variant's scoped `--set VARIANT:key` ← `--seeds`/`--steps`.
#[allow(clippy::too_many_arguments)]
fn expand_split(
    src: &RecipeSource,
    base: toml::Table,
    variants: Vec<Variant>,
    points: Vec<SweepPoint>,
    global: &[&(String, toml::Value)],
    scoped: &[&(String, toml::Value)],
    seeds: Option<u64>,
    steps: Option<u64>,
    only: &[String],
) -> Result<Vec<ExpandedTable>, RecipeError> {
    let overrides_given = !global.is_empty() || !scoped.is_empty();
    for o in only {
        if !variants.iter().any(|v| &v.name == o) {
            return Err(RecipeError::Key {
                source_name: src.name.clone(),
                key: "--variants".into(),
                msg: format!(
                    "no variant '{o}'; the recipe has: {}",
                    variants
                        .iter()
                        .map(|v| v.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        }
    }
    let mut out = Vec::new();
    for v in variants
        .iter()
        .filter(|v| only.is_empty() || only.contains(&v.name))
    {
        for point in &points {
            let mut t = base.clone();
            for (k, val) in global {
                set_path(&mut t, k, val.clone()).map_err(|msg| RecipeError::Override {
                    arg: k.clone(),
                    msg,
                })?;
            }
            for (k, val) in flatten(&v.set, "") {
                set_path(&mut t, &k, val).map_err(|msg| RecipeError::Key {
                    source_name: src.name.clone(),
                    key: format!("variant '{}' set.{k}", v.name),
                    msg,
                })?;
            }
            for (k, val) in point {
                set_path(&mut t, k, val.clone()).map_err(|msg| RecipeError::Key {
                    source_name: src.name.clone(),
                    key: format!("sweep {k}"),
                    msg,
                })?;
            }
            for (k, val) in scoped {
                let (var, path) = split_scope(k);
                if var != Some(v.name.as_str()) {
                    continue;
                }
                set_path(&mut t, path, val.clone()).map_err(|msg| RecipeError::Override {
                    arg: k.clone(),
                    msg,
                })?;
            }
            if let Some(s) = seeds {
                let si = i64::try_from(s)
                    .ok()
                    .filter(|&v| v as u64 <= MAX_SEEDS)
                    .ok_or_else(|| RecipeError::Override {
                        arg: format!("--seeds {s}"),
                        msg: format!("expected 1..={MAX_SEEDS}"),
                    })?;
                set_path(&mut t, "study.seeds", toml::Value::Integer(si)).map_err(|msg| {
                    RecipeError::Override {
                        arg: "--seeds".into(),
                        msg,
                    }
                })?;
            }
            if let Some(s) = steps {
                let si = i64::try_from(s).map_err(|_| RecipeError::Override {
                    arg: format!("--steps {s}"),
                    msg: format!("expected 1..={}", i64::MAX),
                })?;
                set_path(&mut t, "train.steps", toml::Value::Integer(si)).map_err(|msg| {
                    RecipeError::Override {
                        arg: "--steps".into(),
                        msg,
                    }
                })?;
            }
            let pl = point_label(point);
            let label = match (!overrides_given, pl.is_empty()) {
                (true, true) => format!("{} (variant '{}')", src.name, v.name),
                (true, false) => format!("{} (variant '{}', sweep {pl})", src.name, v.name),
                (false, true) => {
                    format!("{} (variant '{}', with --set overrides)", src.name, v.name)
                }
                (false, false) => format!(
                    "{} (variant '{}', sweep {pl}, with --set overrides)",
                    src.name, v.name
                ),
            };
            out.push(ExpandedTable {
                variant: v.name.clone(),
                point: pl,
                table: t,
                label,
            });
        }
    }
    Ok(out)
}

/// The most seeds (runs per variant) a study may ask for: more is a typo, not a study (each
/// seed is a run directory).
pub const MAX_SEEDS: u64 = 100_000;

impl ExpandedTable {
    /// Checks `study.seeds` (1..=[`MAX_SEEDS`]) and that the last seed number fits in a u64,
    /// before any run is listed.
    pub fn check_seeds(&self, study: &StudyMeta) -> Result<(), RecipeError> {
        let bad = |msg: String| RecipeError::Key {
            source_name: self.label.clone(),
            key: "study.seeds".into(),
            msg,
        };
        if study.seeds == 0 || study.seeds > MAX_SEEDS {
            return Err(bad(format!(
                "{} seeds: expected 1..={MAX_SEEDS}",
                study.seeds
            )));
        }
        if study.first_seed.checked_add(study.seeds).is_none() {
            return Err(bad(format!(
                "study.first_seed = {} + {} seeds overflows a 64-bit seed",
                study.first_seed, study.seeds
            )));
        }
        Ok(())
    }

    /// The identities of this table's runs: one per seed `first_seed .. first_seed + seeds`.
    pub fn idents(&self, study: &StudyMeta) -> Vec<RunIdent> {
        (0..study.seeds.max(1))
            .map(|s| RunIdent {
                variant: self.variant.clone(),
                seed: study.first_seed + s,
                point: self.point.clone(),
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct VariantList {
    variant: Vec<Variant>,
}

/// Flattens a table of possibly nested / dotted keys into `(dotted.path, value)` pairs.
fn flatten(t: &toml::Table, prefix: &str) -> Vec<(String, toml::Value)> {
    let mut out = Vec::new();
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(inner) => out.extend(flatten(inner, &key)),
            _ => out.push((key, v.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(text: &str) -> RecipeSource {
        RecipeSource {
            name: "test.toml".into(),
            text: text.into(),
        }
    }

    const MINI: &str = r#"
[study]
name = "mini"
seeds = 2
[data]
task = "supervised_linear"
n_samples = 1000
[model]
hidden = [16]
[constraints]
nonneg = "hinge"
beta_nonneg = 2.0
beta_activity = 1e-3
[train]
steps = 100
batch = 32
lr = 1e-3
eval_every = 50
eval_samples = 500
[[variant]]
name = "all"
[[variant]]
name = "no_activity"
set = { "constraints.beta_activity" = 0.0 }
"#;

    #[test]
    fn embedded_recipes_parse_and_expand() {
        let mut cells = 0;
        let mut vae = 0;
        for (n, _) in EMBEDDED {
            let s = locate(n).unwrap();
            let count = if crate::vae::is_vae_recipe(&s) {
                vae += 1;
                crate::vae::expand_vae(&s, &[], None, None, &[])
                    .unwrap()
                    .len()
            } else if is_cells_recipe(&s) {
                cells += 1;
                crate::cells::expand_cells(&s, &[], None, None, &[])
                    .unwrap()
                    .len()
            } else {
                expand(&s, &[], None, None).unwrap().len()
            };
            assert!(count > 0, "{n}");
        }
        assert_eq!(
            cells, 8,
            "fig6, fig6-probes, fig6-search, fig7, fig14 and fig6/7/14-dog are grid-world recipes"
        );
        assert_eq!(vae, 3, "fig5, fig12, fig13 are VAE recipes");
    }

    #[test]
    fn variants_and_overrides() {
        let runs = expand(
            &src(MINI),
            &[parse_override("train.lr=3e-3").unwrap()],
            None,
            Some(7),
        )
        .unwrap();
        assert_eq!(runs.len(), 4);
        assert_eq!(runs[0].run_id(), "all-s0");
        assert_eq!(runs[3].run_id(), "no_activity-s1");
        assert_eq!(runs[0].constraints.beta_activity, 1e-3);
        assert_eq!(runs[2].constraints.beta_activity, 0.0);
        assert!(runs
            .iter()
            .all(|r| r.train.lr == 3e-3 && r.train.steps == 7));
    }

    #[test]
    fn variant_keys_win_over_a_global_set() {
        // the README's example: a global β must not turn the `no_activity` ablation into `all`
        let o = [parse_override("constraints.beta_activity=3e-3").unwrap()];
        let runs = expand(&src(MINI), &o, Some(1), None).unwrap();
        assert_eq!(runs[0].run.variant, "all");
        assert_eq!(runs[0].constraints.beta_activity, 3e-3);
        assert_eq!(runs[1].run.variant, "no_activity");
        assert_eq!(runs[1].constraints.beta_activity, 0.0, "the ablation stays");
        let w = override_warnings(&src(MINI), &o, &[]).unwrap();
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("no_activity")
                && w[0].contains("constraints.beta_activity")
                && w[0].contains("0.003")
                && w[0].contains("= 0.0"),
            "{}",
            w[0]
        );
        // no warning for keys no variant sets, nor for variants filtered out
        let lr = [parse_override("train.lr=3e-3").unwrap()];
        assert!(override_warnings(&src(MINI), &lr, &[]).unwrap().is_empty());
        assert!(override_warnings(&src(MINI), &o, &["all".into()])
            .unwrap()
            .is_empty());
        // a table-valued --set that holds a variant's key also warns
        let t = [parse_override("constraints={beta_activity=1.0}").unwrap()];
        assert_eq!(override_warnings(&src(MINI), &t, &[]).unwrap().len(), 1);
    }

    #[test]
    fn scoped_set_applies_to_its_variant_only_and_wins() {
        let o = [
            parse_override("no_activity:constraints.beta_activity=5e-3").unwrap(),
            parse_override("all:train.lr=2e-3").unwrap(),
        ];
        let runs = expand(&src(MINI), &o, Some(1), None).unwrap();
        assert_eq!(runs[0].constraints.beta_activity, 1e-3);
        assert_eq!(runs[0].train.lr, 2e-3);
        assert_eq!(runs[1].constraints.beta_activity, 5e-3, "scoped --set wins");
        assert_eq!(runs[1].train.lr, 1e-3);
        assert!(override_warnings(&src(MINI), &o, &[]).unwrap().is_empty());
        let e = expand(
            &src(MINI),
            &[parse_override("nope:train.lr=1").unwrap()],
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("no variant 'nope'") && e.contains("all, no_activity"),
            "{e}"
        );
        assert!(parse_override("bad name:train.lr=1").is_err());
        assert!(parse_override(":train.lr=1").is_err());
        assert!(parse_override("all:=1").is_err());
        // a scoped key still has its path checked
        let e = expand(
            &src(MINI),
            &[parse_override("all:train.stpes=1").unwrap()],
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("stpes"), "{e}");
    }

    #[test]
    fn sweeps_expand_grid_and_zip() {
        let text = format!("{MINI}\n[sweep.grid]\n\"constraints.beta_activity\" = [1e-4, 1e-2]\n[sweep.zip]\n\"train.lr\" = [1e-3, 3e-3]\n\"train.batch\" = [16, 64]\n");
        let runs = expand(&src(&text), &[], Some(1), None).unwrap();
        assert_eq!(runs.len(), 2 * 2 * 2);
        assert_eq!(
            runs[0].run_id(),
            "all-batch=16_lr=0.001_beta_activity=0.0001-s0"
        );
        assert_eq!(
            (
                runs[0].train.lr,
                runs[0].train.batch,
                runs[0].constraints.beta_activity
            ),
            (1e-3, 16, 1e-4)
        );
        assert_eq!(
            (
                runs[3].train.lr,
                runs[3].train.batch,
                runs[3].constraints.beta_activity
            ),
            (3e-3, 64, 1e-2)
        );
        let ids: std::collections::HashSet<String> = runs.iter().map(|r| r.run_id()).collect();
        assert_eq!(ids.len(), runs.len(), "stable, unique ids");
        let bad =
            format!("{MINI}\n[sweep.zip]\n\"train.lr\" = [1e-3, 3e-3]\n\"train.batch\" = [16]\n");
        let e = expand(&src(&bad), &[], None, None).unwrap_err().to_string();
        assert!(e.contains("equal lengths") && e.contains("train."), "{e}");
        let bad = format!("{MINI}\n[sweep.grid]\n\"train.lr\" = 3\n");
        assert!(expand(&src(&bad), &[], None, None)
            .unwrap_err()
            .to_string()
            .contains("non-empty list"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let bad = MINI.replace("beta_activity = 1e-3", "beta_activty = 1e-3");
        let e = expand(&src(&bad), &[], None, None).unwrap_err().to_string();
        assert!(e.contains("test.toml") && e.contains("beta_activty"), "{e}");
        let e = expand(
            &src(MINI),
            &[parse_override("train.stpes=5").unwrap()],
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("stpes") && e.contains("train"), "{e}");
    }

    #[test]
    fn bad_metric_options_are_refused_with_their_range() {
        // issue 20: these used to run to `done` with MIR NaN (and 1e8 bins hung)
        for (set, want) in [
            (
                "metrics.bins=0",
                "metrics.bins = 0: expected an integer from 2 to 65536",
            ),
            (
                "metrics.bins=1",
                "metrics.bins = 1: expected an integer from 2 to 65536",
            ),
            (
                "metrics.bins=100000000",
                "metrics.bins = 100000000: expected an integer from 2 to 65536",
            ),
            (
                "metrics.activity_threshold=-1",
                "metrics.activity_threshold = -1: expected a finite number > 1",
            ),
            (
                "metrics.mi_threshold=0",
                "metrics.mi_threshold = 0: expected a finite number > 1",
            ),
        ] {
            let e = expand(&src(MINI), &[parse_override(set).unwrap()], None, None)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{set}: {e}");
        }
        assert!(expand(
            &src(MINI),
            &[parse_override("metrics.bins=30").unwrap()],
            None,
            None
        )
        .is_ok());
    }

    #[test]
    fn bad_values_are_named() {
        let e = expand(
            &src(MINI),
            &[parse_override("constraints.beta_weight=-1").unwrap()],
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("beta_weight"), "{e}");
        let e = expand(&src(MINI), &[], None, Some(0)).unwrap_err();
        assert!(e.to_string().contains("train.steps = 0"), "{e}");
        let e = expand(
            &src(MINI),
            &[parse_override("train.batch=5000").unwrap()],
            None,
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("larger than the dataset"), "{e}");
        assert!(matches!(locate("fig99"), Err(RecipeError::Unknown { .. })));
        assert!(locate("fig99").unwrap_err().to_string().contains("fig2"));
        assert!(parse_override("noequals").is_err());
    }

    #[test]
    fn seed_counts_are_bounded_and_named() {
        let e = expand(&src(MINI), &[], Some(u64::MAX), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--seeds 18446744073709551615") && e.contains("expected 1..=100000"),
            "{e}"
        );
        let e = expand(&src(MINI), &[], None, Some(u64::MAX))
            .unwrap_err()
            .to_string();
        assert!(e.contains("--steps 18446744073709551615"), "{e}");
        let big = MINI.replace("seeds = 2", "seeds = 2\nfirst_seed = 18446744073709551615");
        // (TOML integers are i64: the largest first_seed a file can hold is i64::MAX)
        assert!(expand(&src(&big), &[], None, None).is_err());
        let e = expand(
            &src(MINI),
            &[parse_override("study.seeds=1000000000").unwrap()],
            None,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("study.seeds") && e.contains("1..=100000"), "{e}");
    }

    mod fuzz {
        //! A bounded fuzz harness (proptest, in the default tests): damaged recipe text and
        //! arbitrary `--set` arguments give errors, never panics.
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn any_set_argument_is_parsed_or_refused(arg in "\\PC{0,40}") {
                if let Ok(o) = parse_override(&arg) {
                    let _ = expand(&src(MINI), &[o], Some(1), None);
                }
            }

            #[test]
            fn set_on_real_keys_with_any_value(
                key in prop::sample::select(vec![
                    "train.lr", "train.batch", "train.steps", "model.hidden", "data.n_samples",
                    "constraints.beta_activity", "all:train.lr", "no_activity:model.hidden",
                    "study.seeds", "study.first_seed", "sweep.grid", "variant",
                ]),
                value in prop_oneof![
                    Just("-1".to_string()), Just("0".to_string()), Just("1e308".to_string()),
                    Just("[0]".to_string()), Just("[]".to_string()), Just("nan".to_string()),
                    Just("9223372036854775807".to_string()), Just("\"x\"".to_string()),
                    Just("{a=1}".to_string()), "[0-9]{1,20}",
                ],
            ) {
                let o = parse_override(&format!("{key}={value}")).unwrap();
                let _ = expand(&src(MINI), std::slice::from_ref(&o), None, Some(10));
                let _ = override_warnings(&src(MINI), &[o], &[]);
            }

            #[test]
            fn damaged_recipe_text_is_an_error_not_a_panic(
                cut in 0usize..MINI.len(),
                pos in 0usize..MINI.len(),
                junk in "\\PC{0,8}",
            ) {
                let cut_text: String = MINI.chars().take(cut).collect();
                let _ = expand(&src(&cut_text), &[], Some(1), Some(1));
                let mut t: String = MINI.chars().take(pos).collect();
                t.push_str(&junk);
                t.extend(MINI.chars().skip(pos));
                let _ = expand(&src(&t), &[], Some(1), Some(1));
                let _ = override_warnings(&src(&t), &[], &[]);
            }
        }
    }
}
