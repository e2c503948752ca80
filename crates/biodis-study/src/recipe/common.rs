//! The tables every recipe kind shares: `[study]`, `[[variant]]` and `[sweep]`.

use super::expand::flatten;
use serde::{Deserialize, Serialize};

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
