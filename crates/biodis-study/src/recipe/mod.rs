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
//!
//! The module is split by responsibility: [`embedded`] (the paper's recipes and [`locate`]),
//! [`common`] (`[study]`, `[[variant]]`, `[sweep]`), [`dense`] (the dense recipe and its runs),
//! [`overrides`] (`--set`), [`mod@expand`] (variants × sweep points × seeds for every kind).

pub mod common;
pub mod dense;
pub mod embedded;
mod error;
pub mod expand;
pub mod overrides;

pub use common::*;
pub use dense::*;
pub use embedded::*;
pub use error::RecipeError;
pub use expand::*;
pub use overrides::*;

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
            cells, 14,
            "fig6, fig6-probes, fig6-search, fig6-scale, fig6-long, fig6-mse, fig6-big, fig6-sparse, fig6-cosine, fig7, fig14 and fig6/7/14-dog are grid-world recipes"
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
