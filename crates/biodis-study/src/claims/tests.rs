use super::*;
use crate::claims::scipy_reference as r;
use biodis_rundir::{Status, StudyDir};

/// Writes a dense study `name` under `root` with runs `(variant, point, seed, mir, done)`.
fn study(root: &Path, name: &str, runs: &[(&str, &str, u64, f64, bool)]) -> PathBuf {
    let dir = root.join(name);
    let sd = StudyDir::new(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    sd.init(Kind::Dense).unwrap();
    let mut ids = Vec::new();
    for &(variant, point, seed, mir, done) in runs {
        let ident = RunIdent {
            variant: variant.into(),
            seed,
            point: point.into(),
        };
        let rd = sd.run(&ident.run_id());
        std::fs::create_dir_all(&rd.root).unwrap();
        let pt = if point.is_empty() {
            String::new()
        } else {
            format!("point = \"{point}\"\n")
        };
        std::fs::write(
            rd.recipe(),
            format!(
                "[study]\nname = \"{name}\"\n[run]\nvariant = \"{variant}\"\nseed = {seed}\n{pt}"
            ),
        )
        .unwrap();
        if done {
            std::fs::write(
                rd.result(),
                format!(
                    "{{\"primary_layer\": 1, \"last\": {{\"mir\": [0.1, {mir}], \"r2\": 0.99, \"active\": [5, 7]}}, \"pop\": {{\"frac_ovc\": {mir}}}}}",
                    mir = if mir.is_nan() { "null".to_string() } else { mir.to_string() }
                ),
            )
            .unwrap();
            rd.write_status(&Status::new(State::Done, 10)).unwrap();
        } else {
            rd.write_status(&Status::new(State::Queued, 0)).unwrap();
        }
        ids.push(ident.run_id());
    }
    biodis_rundir::write_index(&dir, &ids).unwrap();
    dir
}

fn ledger(text: &str) -> Vec<(String, String)> {
    vec![("test-ledger".to_string(), text.to_string())]
}

fn five(variant: &'static str, v: &[f64]) -> Vec<(&'static str, &'static str, u64, f64, bool)> {
    v.iter()
        .enumerate()
        .map(|(i, &x)| (variant, "", i as u64, x, true))
        .collect()
}

#[test]
fn welch_claim_from_run_directories_matches_scipy() {
    let t = tempfile::tempdir().unwrap();
    let case = &r::CASES[0]; // welch A5 vs B5
    assert_eq!(case.test, "welch");
    let mut runs = five("all", case.a);
    runs.extend(five("none", case.b));
    study(t.path(), "s", &runs);
    let f = evaluate(
        t.path(),
        &ledger("[[claim]]\nid='c'\ntext='t'\nstudy='s'\na={variant='all'}\nb={variant='none'}\n"),
        &[],
    )
    .unwrap();
    let c = &f.claims[0];
    assert_eq!(c.verdict, Verdict::Holds);
    assert!(
        (c.p - case.p).abs() <= 1e-8 * case.p,
        "{} vs {}",
        c.p,
        case.p
    );
    assert!((c.statistic - case.statistic).abs() < 1e-9);
    assert_eq!((c.a.values.len(), c.b.seeds.len()), (5, 5));
    assert!((c.diff_ci95[0] - case.ci_low).abs() < 1e-9);
    assert!(c.a.label.contains("s: all · mir"));
    // the same claim in the other direction fails, and says the opposite holds
    let f = evaluate(
        t.path(),
        &ledger("[[claim]]\nid='c'\ntext='t'\nstudy='s'\na={variant='all'}\nb={variant='none'}\ndirection='less'\n"),
        &[],
    )
    .unwrap();
    assert_eq!(f.claims[0].verdict, Verdict::Fails);
    assert!(
        f.claims[0].note.contains("opposite holds"),
        "{}",
        f.claims[0].note
    );
    assert!(f.claims[0].diff > 0.5);
}

#[test]
fn verdicts_for_missing_studies_groups_seeds_and_stats() {
    let t = tempfile::tempdir().unwrap();
    study(
        t.path(),
        "s",
        &[
            ("all", "", 0, 0.9, true),
            ("all", "", 1, 0.92, true),
            ("all", "", 2, 0.0, false),
            ("none", "", 0, 0.4, true),
            ("none", "", 1, 0.41, true),
            ("none", "", 2, 0.39, true),
            ("l1", "beta=0.1", 0, 0.3, true),
            ("nanv", "", 0, 0.5, true),
            ("nanv", "", 1, 0.6, true),
            ("nanv", "", 2, 0.55, true),
            ("nanv", "", 3, f64::NAN, true), // MIR undefined (null in result.json)
        ],
    );
    let text = "
[[claim]]
id='few'
text='t'
study='s'
a={variant='all'}
b={variant='none'}
[[claim]]
id='nostudy'
text='t'
study='elsewhere'
a={variant='all'}
b={variant='none'}
[[claim]]
id='nogroup'
text='t'
study='s'
a={variant='all'}
b={variant='l1', point='beta=0.2'}
[[claim]]
id='badstat'
text='t'
study='s'
stat='pop.nothing'
a={variant='none'}
b={value=0.1}
[[claim]]
id='path'
text='t'
study='s'
stat='pop.frac_ovc'
a={variant='none'}
b={value=0.3}
min_seeds=3
[[claim]]
id='layer'
text='t'
study='s'
stat='mir_h0'
a={variant='none'}
b={value=0.05}
";
    let f = evaluate(t.path(), &ledger(text), &[]).unwrap();
    let by = |id: &str| f.claims.iter().find(|c| c.id == id).unwrap();
    assert_eq!(by("few").verdict, Verdict::TooFewSeeds);
    assert!(
        by("few").note.contains("1 run(s) not finished"),
        "{}",
        by("few").note
    );
    assert_eq!(by("nostudy").verdict, Verdict::NotRun);
    assert!(by("nostudy").note.contains("no study 'elsewhere'"));
    assert_eq!(by("nogroup").verdict, Verdict::NotRun);
    assert!(
        by("nogroup").note.contains("l1 beta=0.1"),
        "the note lists the groups there: {}",
        by("nogroup").note
    );
    assert_eq!(by("badstat").verdict, Verdict::NotRun);
    assert!(by("badstat").note.contains("no `nothing`") && by("badstat").note.contains("frac_ovc"));
    assert_eq!(by("path").verdict, Verdict::Holds, "{:?}", by("path"));
    let undef = evaluate(
        t.path(),
        &ledger("[[claim]]\nid='u'\ntext='t'\nstudy='s'\na={variant='nanv'}\nb={value=0.1}\n"),
        &[],
    )
    .unwrap();
    let u = &undef.claims[0];
    assert_eq!(u.a.values.len(), 3, "the undefined run is left out");
    assert!(
        u.note
            .contains("1 run(s) not finished or with an undefined statistic"),
        "{}",
        u.note
    );
    assert_eq!(by("path").test, "one_sample");
    // mir_h0 is 0.1 in every run: zero spread, decided by the mean
    assert_eq!(by("layer").verdict, Verdict::Holds);
    assert!((by("layer").a.mean - 0.1).abs() < 1e-12);
    let table = format_table(&f);
    assert!(table.contains("| **TOO FEW SEEDS** | `few`: t (a > b) | s | all · mir = 0.910 ± 0.010 (n=2) | none · mir = 0.400 ± 0.006 (n=3) |"), "{table}");
    assert!(
        table.contains("6 claims: 2 HOLDS, 0 FAILS, 1 TOO FEW SEEDS, 3 NOT RUN"),
        "{table}"
    );
    // the Markdown block: the same rows, the counts as a sentence, notes only of claims that ran
    let md = format_markdown(&f);
    assert!(
        md.starts_with(&table[..table.find("\n\n").unwrap()]),
        "{md}"
    );
    assert!(
        md.contains("\n6 claims: 2 HOLDS, 0 FAILS, 1 TOO FEW SEEDS, 3 NOT RUN.\n"),
        "{md}"
    );
    assert!(md.contains("- `few`: "), "{md}");
    for c in f.claims.iter().filter(|c| c.verdict == Verdict::NotRun) {
        assert!(!md.contains(&format!("- `{}`:", c.id)), "{md}");
        assert!(table.contains(&format!("  {}: ", c.id)), "{table}");
    }
    // --only
    let f = evaluate(t.path(), &ledger(text), &["nogroup".into()]).unwrap();
    assert_eq!(f.claims.len(), 1);
}

#[test]
fn paired_claims_use_the_common_seeds() {
    let t = tempfile::tempdir().unwrap();
    let case = r::CASES
        .iter()
        .find(|c| c.test == "paired" && c.margin > 0.0)
        .unwrap();
    let mut runs = five("all", case.a);
    runs.extend(five("no_weight", case.b));
    runs.push(("all", "", 9, 0.5, true)); // no partner
    study(t.path(), "s", &runs);
    let text = format!(
        "[[claim]]\nid='p'\ntext='t'\nstudy='s'\na={{variant='all'}}\nb={{variant='no_weight'}}\ntest='paired'\nmargin={}\n",
        case.margin
    );
    let f = evaluate(t.path(), &ledger(&text), &[]).unwrap();
    let c = &f.claims[0];
    assert!(
        (c.p - case.p).abs() <= 1e-8 * case.p.max(1e-12),
        "{} vs {}",
        c.p,
        case.p
    );
    assert!(
        c.note.contains("1 run(s) without a partner seed"),
        "{}",
        c.note
    );
    assert_eq!(
        c.a.values.len(),
        6,
        "the side's summary keeps every finished seed"
    );
}

#[test]
fn bootstrap_claims_are_deterministic() {
    let t = tempfile::tempdir().unwrap();
    let mut runs = five("all", &[0.9, 0.92, 0.91, 0.95, 0.89]);
    runs.extend(five("none", &[0.4, 0.41, 0.39, 0.38, 0.42]));
    study(t.path(), "s", &runs);
    let text = "[[claim]]\nid='b'\ntext='t'\nstudy='s'\na={variant='all'}\nb={variant='none'}\ntest='bootstrap'\nmargin=0.4\n";
    let f1 = evaluate(t.path(), &ledger(text), &[]).unwrap();
    let f2 = evaluate(t.path(), &ledger(text), &[]).unwrap();
    assert_eq!(format!("{f1:?}"), format!("{f2:?}"));
    assert_eq!(f1.claims[0].test, "bootstrap");
    assert_eq!(f1.claims[0].verdict, Verdict::Holds);
    assert!(f1.claims[0].statistic.is_nan());
    // a margin above every resample's difference fails
    let f = evaluate(t.path(), &ledger(&text.replace("0.4\n", "0.6\n")), &[]).unwrap();
    assert_eq!(f.claims[0].verdict, Verdict::Fails);
}

#[test]
fn bad_ledgers_are_refused_naming_the_claim_and_key() {
    let base = "[[claim]]\nid='x'\ntext='t'\nstudy='s'\na={variant='all'}\nb={variant='none'}\n";
    let bad = |extra: &str| {
        parse_ledger(&format!("{base}{extra}"), "L.toml", None, false)
            .unwrap_err()
            .to_string()
    };
    assert!(bad("alpha=1.5\n").contains("claim 'x': `alpha` = 1.5"));
    assert!(bad("min_seeds=1\n").contains("`min_seeds`"));
    assert!(bad("margin=-0.1\n").contains("`margin`"));
    assert!(bad("colour='red'\n").contains("colour"));
    assert!(bad("direction='sideways'\n").contains("sideways"));
    let e = parse_ledger(&format!("{base}{base}"), "L.toml", None, false).unwrap_err();
    assert!(e.to_string().contains("appears twice"), "{e}");
    let e = parse_ledger(
        "[[claim]]\nid='x'\ntext='t'\nstudy='s'\na={value=1.0}\nb={variant='none'}\n",
        "L.toml",
        None,
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("side `a` must be runs"), "{e}");
    let e = parse_ledger(
        "[[claim]]\nid='x'\ntext='t'\na={variant='all'}\nb={variant='none'}\n",
        "L.toml",
        None,
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("names no study"), "{e}");
    let e = parse_ledger(
        "[[claim]]\nid='x'\ntext='t'\nstudy='s'\na={variant='all'}\nb={value=0.5}\ntest='paired'\n",
        "L.toml",
        None,
        false,
    )
    .unwrap_err();
    assert!(e.to_string().contains("paired test needs runs"), "{e}");
    assert!(parse_ledger("[study]\nname='x'\n", "L.toml", None, false).is_err());
}

#[test]
fn recipe_claims_default_to_the_recipe_study() {
    let recipe = "[study]\nname = 'mine'\n[[claim]]\nid = 'mine.x'\ntext = 't'\na = { variant = 'all' }\nb = { value = 0.5 }\n";
    let t = recipe_claims(recipe, "mine.toml", "mine").unwrap().unwrap();
    let back = parse_ledger(&t, "claims.toml", None, false).unwrap();
    assert_eq!(back[0].study.as_deref(), Some("mine"));
    assert!(recipe_claims("[study]\nname='x'\n", "r", "x")
        .unwrap()
        .is_none());
    assert!(recipe_claims("claim = 3\n[study]\nname='x'\n", "r", "x").is_err());
}

/// A study's own claims.toml is evaluated with the ledger, and its ids may not clash.
#[test]
fn study_claims_toml_is_evaluated() {
    let t = tempfile::tempdir().unwrap();
    let mut runs = five("all", &[0.9, 0.92, 0.91, 0.95, 0.89]);
    runs.extend(five("none", &[0.4, 0.41, 0.39, 0.38, 0.42]));
    let dir = study(t.path(), "mine", &runs);
    std::fs::write(
        dir.join(biodis_rundir::claims::CLAIMS_TOML),
        "[[claim]]\nid='mine.x'\ntext='t'\nstudy='mine'\na={variant='all'}\nb={variant='none'}\n",
    )
    .unwrap();
    let f = evaluate(t.path(), &[], &[]).unwrap();
    assert_eq!(f.claims.len(), 1);
    assert_eq!(f.claims[0].verdict, Verdict::Holds);
    assert!(f.claims[0].source.ends_with("claims.toml"));
    let f = evaluate_study(&dir).unwrap();
    assert!(f.claims.iter().any(|c| c.id == "mine.x"));
    let e = evaluate(
        t.path(),
        &ledger(
            "[[claim]]\nid='mine.x'\ntext='t'\nstudy='mine'\na={variant='all'}\nb={value=0.1}\n",
        ),
        &[],
    )
    .unwrap_err();
    assert!(e.to_string().contains("unique"), "{e}");
}

/// Every claim of the paper's ledger names an embedded recipe, variants it has and (for a
/// sweep) one of its points, so that a ledger typo cannot turn into a silent NOT RUN.
#[test]
fn paper_ledger_names_real_studies_variants_and_points() {
    let claims = parse_ledger(PAPER_LEDGER, "experiments/claims.toml", None, false).unwrap();
    assert!(claims.len() >= 40);
    for c in &claims {
        for s in [&c.a, &c.b] {
            let Some(variant) = &s.variant else { continue };
            let study = c.study_of(s).unwrap();
            let (_, text) = crate::EMBEDDED
                .iter()
                .find(|(n, _)| *n == study)
                .unwrap_or_else(|| panic!("claim {}: no embedded recipe '{study}'", c.id));
            let t: toml::Table = text.parse().unwrap();
            let names: Vec<&str> = t
                .get("variant")
                .and_then(|v| v.as_array())
                .map(|a| a.iter().filter_map(|v| v.get("name")?.as_str()).collect())
                .unwrap_or_default();
            assert!(
                names.contains(&variant.as_str()),
                "claim {}: {study} has no variant {variant} ({names:?})",
                c.id
            );
            if let Some(point) = &s.point {
                let src = crate::locate(study).unwrap();
                let points: Vec<String> = if crate::vae::is_vae_recipe(&src) {
                    crate::vae::expand_vae(&src, &[], Some(1), None, &[])
                        .unwrap()
                        .into_iter()
                        .map(|r| r.run.point)
                        .collect()
                } else if crate::recipe::is_cells_recipe(&src) {
                    crate::cells::expand_cells(&src, &[], Some(1), None, &[])
                        .unwrap()
                        .into_iter()
                        .map(|r| r.run.point)
                        .collect()
                } else {
                    crate::expand_variants(&src, &[], Some(1), None, &[])
                        .unwrap()
                        .into_iter()
                        .map(|r| r.run.point)
                        .collect()
                };
                assert!(
                    points.iter().any(|p| p == point),
                    "claim {}: {study} has no sweep point {point}",
                    c.id
                );
            }
        }
    }
}
