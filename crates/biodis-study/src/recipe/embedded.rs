//! The paper's experiments as recipes embedded in the binary, and finding a recipe by name or path.

use super::RecipeError;
use std::path::Path;

/// The recipes embedded in the binary: `(name, TOML text)`.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("fig2", include_str!("../../../../experiments/fig2.toml")),
    (
        "fig2-lownoise",
        include_str!("../../../../experiments/fig2-lownoise.toml"),
    ),
    (
        "fig2-regime",
        include_str!("../../../../experiments/fig2-regime.toml"),
    ),
    (
        "fig2-weight-long",
        include_str!("../../../../experiments/fig2-weight-long.toml"),
    ),
    ("fig3", include_str!("../../../../experiments/fig3.toml")),
    (
        "fig3-lownoise",
        include_str!("../../../../experiments/fig3-lownoise.toml"),
    ),
    (
        "fig4-shallow",
        include_str!("../../../../experiments/fig4-shallow.toml"),
    ),
    (
        "fig4-deep",
        include_str!("../../../../experiments/fig4-deep.toml"),
    ),
    ("fig8", include_str!("../../../../experiments/fig8.toml")),
    ("fig9", include_str!("../../../../experiments/fig9.toml")),
    (
        "fig8-lownoise",
        include_str!("../../../../experiments/fig8-lownoise.toml"),
    ),
    (
        "fig9-lownoise",
        include_str!("../../../../experiments/fig9-lownoise.toml"),
    ),
    ("fig11", include_str!("../../../../experiments/fig11.toml")),
    ("fig6", include_str!("../../../../experiments/fig6.toml")),
    (
        "fig6-probes",
        include_str!("../../../../experiments/fig6-probes.toml"),
    ),
    ("fig7", include_str!("../../../../experiments/fig7.toml")),
    ("fig14", include_str!("../../../../experiments/fig14.toml")),
    (
        "fig6-search",
        include_str!("../../../../experiments/fig6-search.toml"),
    ),
    (
        "fig6-dog",
        include_str!("../../../../experiments/fig6-dog.toml"),
    ),
    (
        "fig6-scale",
        include_str!("../../../../experiments/fig6-scale.toml"),
    ),
    (
        "fig6-long",
        include_str!("../../../../experiments/fig6-long.toml"),
    ),
    (
        "fig6-mse",
        include_str!("../../../../experiments/fig6-mse.toml"),
    ),
    (
        "fig6-big",
        include_str!("../../../../experiments/fig6-big.toml"),
    ),
    (
        "fig6-sparse",
        include_str!("../../../../experiments/fig6-sparse.toml"),
    ),
    (
        "fig6-cosine",
        include_str!("../../../../experiments/fig6-cosine.toml"),
    ),
    (
        "fig7-dog",
        include_str!("../../../../experiments/fig7-dog.toml"),
    ),
    (
        "fig14-dog",
        include_str!("../../../../experiments/fig14-dog.toml"),
    ),
    ("fig5", include_str!("../../../../experiments/fig5.toml")),
    ("fig12", include_str!("../../../../experiments/fig12.toml")),
    ("fig13", include_str!("../../../../experiments/fig13.toml")),
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
