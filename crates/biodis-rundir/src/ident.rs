//! A run's identity: variant, sweep point and seed, and the names derived from them.

use serde::{Deserialize, Serialize};

/// Which variant, sweep point and seed a run is (the `[run]` table of its `recipe.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunIdent {
    pub variant: String,
    pub seed: u64,
    /// Sweep point label (empty without a sweep).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub point: String,
}

impl RunIdent {
    /// Stable, human-readable run id (the run's folder name): `<variant>[-<point>]-s<seed>`.
    pub fn run_id(&self) -> String {
        if self.point.is_empty() {
            format!("{}-s{}", self.variant, self.seed)
        } else {
            format!("{}-{}-s{}", self.variant, self.point, self.seed)
        }
    }

    /// The group a run is aggregated in over seeds: the variant, plus the sweep point if any.
    pub fn group(&self) -> String {
        if self.point.is_empty() {
            self.variant.clone()
        } else {
            format!("{} {}", self.variant, self.point)
        }
    }

    /// Reads the `[run]` table of a run's `recipe.toml` text.
    pub fn from_recipe_text(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Only {
            run: RunIdent,
        }
        // other tables are the kind's business: read only `[run]`
        let t: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
        let run = t.get("run").ok_or("no [run] table")?.clone();
        let mut only = toml::Table::new();
        only.insert("run".into(), run);
        toml::Value::Table(only)
            .try_into::<Only>()
            .map(|o| o.run)
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn ids_and_groups() {
        let a = RunIdent {
            variant: "all".into(),
            seed: 3,
            point: String::new(),
        };
        assert_eq!((a.run_id(), a.group()), ("all-s3".into(), "all".into()));
        let b = RunIdent::from_recipe_text(
            "[study]\nname='x'\n[run]\nvariant = \"bio\"\nseed = 1\npoint = \"lr=0.1\"\n",
        )
        .unwrap();
        assert_eq!(b.run_id(), "bio-lr=0.1-s1");
        assert_eq!(b.group(), "bio lr=0.1");
        assert!(RunIdent::from_recipe_text("[study]\n").is_err());
    }
}
