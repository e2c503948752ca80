//! The dense recipe (Figs 2–4, 8, 9, 11): its tables, one run's resolved configuration, and
//! its expansion into runs.

use super::*;
use biodis_data::DataSpec;
use biodis_metrics::MirOptions;
use biodis_nn::{Activation, Constraints, Head, Reduction, Schedule};
use serde::{Deserialize, Serialize};

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
    /// At each evaluation, also record the mechanism diagnostics in `curve.csv` (issue #22,
    /// App. A.3.1; `biodis_nn::mechanism`): the activity energy's cross term on the first
    /// hidden layer and its gradient, against the gradient noise of
    /// [`NOISE_BATCHES`] extra minibatches of the training batch size (drawn from their own
    /// stream, so the run's training is unchanged). Needs an input linear in the factors
    /// (`supervised_linear` or `unsupervised_linear`, without `minmax` scaling).
    #[serde(default, skip_serializing_if = "is_false")]
    pub noise_diagnostics: bool,
}

/// The minibatches drawn at each evaluation by `train.noise_diagnostics`.
pub const NOISE_BATCHES: usize = 16;

fn is_false(b: &bool) -> bool {
    !*b
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
    pub fn validate(&self) -> Result<(), crate::ConfigError> {
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
            )
            .into());
        }
        if !(t.lr.is_finite() && t.lr > 0.0) {
            return Err(format!("train.lr = {}: expected a finite value > 0", t.lr).into());
        }
        if t.eval_every == 0 {
            return Err("train.eval_every = 0: expected at least 1".into());
        }
        if t.eval_samples < 2 || t.eval_samples > self.data.n_samples {
            return Err(format!(
                "train.eval_samples = {}: expected between 2 and data.n_samples = {}",
                t.eval_samples, self.data.n_samples
            )
            .into());
        }
        if t.noise_diagnostics
            && !(matches!(
                self.data.task,
                biodis_data::Task::SupervisedLinear | biodis_data::Task::UnsupervisedLinear
            ) && self.data.target_scale == biodis_data::TargetScale::None)
        {
            return Err(format!(
                "train.noise_diagnostics = true needs an input linear in the factors (data.task = \"supervised_linear\" or \"unsupervised_linear\", data.target_scale = \"none\"); this run has data.task = {}, data.target_scale = {}",
                serde_json::to_string(&self.data.task).unwrap_or_default(),
                serde_json::to_string(&self.data.target_scale).unwrap_or_default()
            )
            .into());
        }
        if self.model.hidden.is_empty() {
            return Err(
                "model.hidden = []: these networks need at least one hidden layer to score".into(),
            );
        }
        if let Some(i) = self.model.hidden.iter().position(|&w| w == 0) {
            return Err(format!("model.hidden[{i}] = 0: widths must be at least 1").into());
        }
        if let Some(a) = &self.model.activations {
            if a.len() != self.model.hidden.len() {
                return Err(format!(
                    "model.activations has {} entries but model.hidden has {} layers",
                    a.len(),
                    self.model.hidden.len()
                )
                .into());
            }
        }
        if let Some(l) = self.model.latent_layer {
            if l >= self.model.hidden.len() {
                return Err(format!(
                    "model.latent_layer = {l}: there are only {} hidden layers",
                    self.model.hidden.len()
                )
                .into());
            }
            if let Some(p) = self.model.latent {
                if p == 0 || p > self.model.hidden[l] {
                    return Err(format!(
                        "model.latent = {p}: expected 1..={} (the width of hidden layer {l})",
                        self.model.hidden[l]
                    )
                    .into());
                }
            }
        } else if self.model.latent.is_some() {
            return Err("model.latent needs model.latent_layer".into());
        }
        self.data.validate()?;
        self.constraints.validate(self.model.hidden.len())?;
        if self.study.seeds == 0 {
            return Err("study.seeds = 0: expected at least 1".into());
        }
        // the metric options, named as written in the recipe (`metrics.bins = 0: expected …`)
        self.metrics
            .validate()
            .map_err(crate::ConfigError::Metrics)?;
        Ok(())
    }
}

/// Parses and checks a recipe text (unknown keys are errors with line and column).
pub fn parse(src: &RecipeSource) -> Result<Recipe, RecipeError> {
    super::expand::parse_whole::<Recipe>(src)
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

/// [`fn@expand`], keeping only the variants named in `only` (all when empty). An unknown name is
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
            cfg.validate().map_err(|source| RecipeError::Invalid {
                source_name: e.label.clone(),
                source,
            })?;
            out.push(cfg);
        }
    }
    Ok(out)
}
