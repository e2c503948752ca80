//! Expansion of any recipe kind into runs: variants × sweep points × seeds, with the
//! overrides applied in their documented order.

use super::*;
use serde::Deserialize;

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

/// Parses a whole recipe text as `R` (unknown keys are errors with line and column); its
/// `[[claim]]` tables are the claims ledger's ([`crate::claims::recipe_claims`]), not `R`'s.
pub fn parse_whole<R: serde::de::DeserializeOwned>(src: &RecipeSource) -> Result<R, RecipeError> {
    let err = |msg: String| RecipeError::Parse {
        source_name: src.name.clone(),
        msg,
    };
    match src.text.parse::<toml::Table>() {
        Ok(mut t) if t.contains_key("claim") => {
            t.remove("claim");
            toml::Value::Table(t)
                .try_into::<R>()
                .map_err(|e| err(e.to_string().trim().to_string()))
        }
        _ => toml::from_str::<R>(&src.text).map_err(|e| err(e.to_string().trim().to_string())),
    }
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
    validate: impl Fn(&C) -> Result<(), crate::ConfigError>,
) -> Result<Vec<C>, RecipeError>
where
    R: serde::de::DeserializeOwned,
{
    parse_whole::<R>(src)?;
    let mut out = Vec::new();
    for mut e in expand_tables(src, overrides, seeds, steps, only)? {
        let r: R = from_table(std::mem::take(&mut e.table), &e.label)?;
        e.check_seeds(study(&r))?;
        for run in e.idents(study(&r)) {
            let cfg = make(&r, run);
            validate(&cfg).map_err(|source| RecipeError::Invalid {
                source_name: e.label.clone(),
                source,
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
pub(crate) fn split_recipe(
    src: &RecipeSource,
) -> Result<(toml::Table, Vec<Variant>, Sweep), RecipeError> {
    let mut base: toml::Table =
        src.text
            .parse()
            .map_err(|e: toml::de::Error| RecipeError::Parse {
                source_name: src.name.clone(),
                msg: e.to_string(),
            })?;
    // the claims ledger's tables (crate::claims), not a run's configuration
    base.remove("claim");
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
pub(crate) fn expand_split(
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
pub(crate) fn flatten(t: &toml::Table, prefix: &str) -> Vec<(String, toml::Value)> {
    biodis_rundir::flatten_toml(t, prefix)
}
