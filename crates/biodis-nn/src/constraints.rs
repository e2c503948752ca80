//! The biological constraints of Whittington et al. (2023), §2–3 and App. A.5, as one small
//! module with the paper's vocabulary, plus the paper's comparison terms (App. A.6).
//!
//! | term | definition (`sum` normalisation) | applies to |
//! |---|---|---|
//! | `nonneg = relu` | the layer's activation is a ReLU (hard constraint) | hidden layers |
//! | `nonneg = hinge` | `β_nonneg Σ_i max(−pre_i, 0)` on the **pre-activation** (for an identity layer this is the activity itself) | hidden layers |
//! | `activity_energy` | `β_activity Σ_i a_i²` on the post-activation `a` | hidden layers |
//! | `weight_energy` | `β_weight Σ ‖W_l‖²` (weights only, never biases) | weight matrices |
//! | `sparsity_l1` | `β Σ_i |a_i|` (App. A.6, Fig 8) | hidden layers |
//! | `weight_l1` | `β Σ |W_l|` (App. A.6, Fig 9) | weight matrices |
//!
//! **Normalisation.** `sum` (the paper's text): activity-type terms are summed over neurons and
//! averaged over the batch (`/B`); weight terms are summed over entries. `mean` (the authors'
//! later code, `kylehkhsu/modular`): activity-type terms are averaged over batch *and* neurons
//! (`/(B·width)`), weight terms are `Σ_l mean(W_l²)`. The two differ in effective β by a factor
//! of the width (activity) or the matrix size (weights).
//!
//! Layer selectors: hidden-layer terms index hidden layers `0..n_hidden`; weight terms index
//! weight matrices `0..n_hidden+1` (the last is the readout). `"all"` selects all of them,
//! `"none"` none, or give a list of indices.
//!
//! The gradients of these terms are computed inside [`crate::mlp::Mlp::loss_and_grad`], in the
//! same pass as the task loss.

use serde::{Deserialize, Serialize};

/// How nonnegativity is imposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Nonneg {
    /// A ReLU activation on the constrained layers (hard nonnegativity).
    Relu,
    /// The soft hinge penalty `β_nonneg Σ max(−pre, 0)`.
    #[default]
    Hinge,
    /// No nonnegativity.
    None,
}

/// Normalisation of the penalty terms (see module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Normalisation {
    #[default]
    Sum,
    Mean,
}

/// Which layers a term applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Layers {
    /// `"all"` or `"none"`.
    Named(LayerName),
    /// Explicit indices.
    List(Vec<usize>),
}

impl Default for Layers {
    fn default() -> Self {
        Layers::all()
    }
}

/// Named layer sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerName {
    All,
    None,
}

impl Layers {
    /// All layers.
    pub fn all() -> Self {
        Layers::Named(LayerName::All)
    }
    /// True if layer `i` (of `n`) is selected.
    pub fn contains(&self, i: usize) -> bool {
        match self {
            Layers::Named(LayerName::All) => true,
            Layers::Named(LayerName::None) => false,
            Layers::List(v) => v.contains(&i),
        }
    }
    /// First index `>= n` in an explicit list, if any (for validation).
    pub fn out_of_range(&self, n: usize) -> Option<usize> {
        match self {
            Layers::List(v) => v.iter().copied().find(|&i| i >= n),
            _ => None,
        }
    }
}

/// All constraint and comparison terms of a model (the `[constraints]` table of a recipe).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// How nonnegativity is imposed on `nonneg_layers`.
    #[serde(default)]
    pub nonneg: Nonneg,
    /// Strength of the hinge (ignored unless `nonneg = "hinge"`).
    #[serde(default)]
    pub beta_nonneg: f64,
    #[serde(default = "Layers::all")]
    pub nonneg_layers: Layers,
    /// Activity energy strength.
    #[serde(default)]
    pub beta_activity: f64,
    #[serde(default = "Layers::all")]
    pub activity_layers: Layers,
    /// Weight energy strength.
    #[serde(default)]
    pub beta_weight: f64,
    #[serde(default = "Layers::all")]
    pub weight_layers: Layers,
    /// L1 activity (sparsity) strength, App. A.6.
    #[serde(default)]
    pub beta_sparsity: f64,
    #[serde(default = "Layers::all")]
    pub sparsity_layers: Layers,
    /// L1 weight strength, App. A.6.
    #[serde(default)]
    pub beta_weight_l1: f64,
    #[serde(default = "Layers::all")]
    pub weight_l1_layers: Layers,
    /// `sum` (paper text) or `mean` (authors' later code).
    #[serde(default)]
    pub normalisation: Normalisation,
}

impl Default for Constraints {
    fn default() -> Self {
        Constraints {
            nonneg: Nonneg::None,
            beta_nonneg: 0.0,
            nonneg_layers: Layers::all(),
            beta_activity: 0.0,
            activity_layers: Layers::all(),
            beta_weight: 0.0,
            weight_layers: Layers::all(),
            beta_sparsity: 0.0,
            sparsity_layers: Layers::all(),
            beta_weight_l1: 0.0,
            weight_l1_layers: Layers::all(),
            normalisation: Normalisation::Sum,
        }
    }
}

/// Invalid constraint settings; the message names the key.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("constraints.{key}: {msg}")]
pub struct ConstraintError {
    pub key: &'static str,
    pub msg: String,
}

impl Constraints {
    /// Checks strengths are finite and nonnegative and layer indices exist.
    pub fn validate(&self, n_hidden: usize) -> Result<(), ConstraintError> {
        for (key, b) in [
            ("beta_nonneg", self.beta_nonneg),
            ("beta_activity", self.beta_activity),
            ("beta_weight", self.beta_weight),
            ("beta_sparsity", self.beta_sparsity),
            ("beta_weight_l1", self.beta_weight_l1),
        ] {
            if !b.is_finite() || b < 0.0 {
                return Err(ConstraintError {
                    key,
                    msg: format!("{b} is not allowed; expected a finite value >= 0"),
                });
            }
        }
        for (key, l, n) in [
            ("nonneg_layers", &self.nonneg_layers, n_hidden),
            ("activity_layers", &self.activity_layers, n_hidden),
            ("sparsity_layers", &self.sparsity_layers, n_hidden),
            ("weight_layers", &self.weight_layers, n_hidden + 1),
            ("weight_l1_layers", &self.weight_l1_layers, n_hidden + 1),
        ] {
            if let Some(i) = l.out_of_range(n) {
                return Err(ConstraintError {
                    key,
                    msg: format!("layer index {i} does not exist; valid indices are 0..{n}"),
                });
            }
        }
        Ok(())
    }

    /// Effective hinge strength on hidden layer `l` (0 unless hinge and selected).
    pub fn hinge_beta(&self, l: usize) -> f64 {
        if self.nonneg == Nonneg::Hinge && self.nonneg_layers.contains(l) {
            self.beta_nonneg
        } else {
            0.0
        }
    }
    /// True if hidden layer `l` gets a ReLU through `nonneg = relu`.
    pub fn forces_relu(&self, l: usize) -> bool {
        self.nonneg == Nonneg::Relu && self.nonneg_layers.contains(l)
    }
    pub fn activity_beta(&self, l: usize) -> f64 {
        if self.activity_layers.contains(l) {
            self.beta_activity
        } else {
            0.0
        }
    }
    pub fn sparsity_beta(&self, l: usize) -> f64 {
        if self.sparsity_layers.contains(l) {
            self.beta_sparsity
        } else {
            0.0
        }
    }
    pub fn weight_beta(&self, l: usize) -> f64 {
        if self.weight_layers.contains(l) {
            self.beta_weight
        } else {
            0.0
        }
    }
    pub fn weight_l1_beta(&self, l: usize) -> f64 {
        if self.weight_l1_layers.contains(l) {
            self.beta_weight_l1
        } else {
            0.0
        }
    }
}
