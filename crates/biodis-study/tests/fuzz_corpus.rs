//! Corpus-driven fuzzing of the recipe parser and of the expansion of all three study kinds
//! (dense, grid world, VAE): every embedded recipe (`experiments/*.toml`), the hand-written
//! edge cases of `fuzz/corpus/recipe/`, and seeded mutations of each. Every case must give runs
//! or an error naming the recipe, never a panic or an allocation over 64 MiB (see
//! `fuzz_common` and `fuzz/README.md`).

#[path = "../../biodis-data/tests/fuzz_common/mod.rs"]
mod fuzz_common;
use fuzz_common::{corpus, fuzz};
use std::path::Path;

use biodis_study::recipe::{expand, is_cells_recipe, RecipeSource};

#[test]
fn recipe_parser_survives_its_corpus() {
    let mut seeds = corpus("recipe");
    let exp = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../experiments");
    let mut embedded: Vec<_> = std::fs::read_dir(&exp)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    embedded.sort();
    assert!(embedded.len() >= 10, "{}: recipes missing", exp.display());
    seeds.extend(embedded);
    fuzz("recipe", seeds, |p| {
        let bytes = std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let src = RecipeSource {
            name: p.display().to_string(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        };
        let n = if biodis_study::vae::is_vae_recipe(&src) {
            biodis_study::vae::expand_vae(&src, &[], None, None, &[]).map(|r| r.len())
        } else if is_cells_recipe(&src) {
            biodis_study::cells::expand_cells(&src, &[], None, None, &[]).map(|r| r.len())
        } else {
            expand(&src, &[], None, None).map(|r| r.len())
        };
        n.map(|_| ()).map_err(|e| e.to_string())
    });
}
