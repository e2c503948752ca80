//! `claims.json` and `claims.toml` (issue #22): the verdicts of `biodis claims` and the claims a
//! study's recipe declares.
//!
//! A **claim** compares one statistic of two sides (a variant's runs of a study, or a fixed
//! value) in an asserted direction; its outcome records both sides' seeds, mean ± s.e. and n,
//! the difference with its 95 % interval, an effect size, the one-sided test's statistic and
//! p-value, and a [`Verdict`]. Written by `biodis-study`'s `claims` module, read by the report
//! (its "Claims" section) and by users (`claims.json` is plain JSON, `null` for undefined
//! numbers).

use serde::{Deserialize, Serialize};

/// A study's own claims (the `[[claim]]` tables of its recipe), kept beside `study.json`.
pub const CLAIMS_TOML: &str = "claims.toml";
/// The verdicts, in a study directory (its claims) or at the root of `biodis claims ROOT`.
pub const CLAIMS_JSON: &str = "claims.json";

/// What the runs say about a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verdict {
    /// The one-sided test rejects "no effect of the asserted size" at the claim's α.
    Holds,
    /// Enough seeds, and the test does not reject (the note says when the opposite is
    /// significant).
    Fails,
    /// A side's study or group has no finished run (or its statistic is absent).
    NotRun,
    /// Finished runs exist but fewer than the claim's `min_seeds` on a side.
    TooFewSeeds,
}

impl Verdict {
    /// `HOLDS`, `FAILS`, `NOT RUN`, `TOO FEW SEEDS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "HOLDS",
            Verdict::Fails => "FAILS",
            Verdict::NotRun => "NOT RUN",
            Verdict::TooFewSeeds => "TOO FEW SEEDS",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A p-value as text: `< 1e-6`, two significant digits in scientific notation below 0.01,
/// else three decimals; `–` when undefined.
pub fn p_text(p: f64) -> String {
    if !p.is_finite() {
        "–".into()
    } else if p < 1e-6 {
        "< 1e-6".into()
    } else if p < 0.01 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

/// One side of an evaluated claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SideSummary {
    /// What the side is, e.g. `fig2-lownoise: all · mir`, or `0.05` for a fixed value.
    pub label: String,
    /// The study directory its runs came from (`null` for a fixed value or a study not found).
    pub study_dir: Option<String>,
    /// Seeds of the finished runs used, with their values (same order).
    pub seeds: Vec<u64>,
    #[serde(with = "crate::nan::vec")]
    pub values: Vec<f64>,
    /// Mean of `values` (for a fixed value: the value).
    #[serde(with = "crate::nan::scalar")]
    pub mean: f64,
    /// Standard error of the mean (`null` below 2 values or for a fixed value).
    #[serde(with = "crate::nan::scalar")]
    pub se: f64,
    /// Runs of the group left out: listed but not finished, or whose statistic is undefined
    /// (NaN / `null`).
    pub not_finished: usize,
}

/// One evaluated claim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimOutcome {
    pub id: String,
    pub figure: String,
    pub text: String,
    /// Where the claim is defined (the ledger file or a study's `claims.toml`).
    pub source: String,
    pub a: SideSummary,
    pub b: SideSummary,
    /// `greater` (a > b + margin) or `less` (a < b − margin).
    pub direction: String,
    pub margin: f64,
    /// `welch`, `paired`, `one_sample`, `bootstrap` or `paired_bootstrap`.
    pub test: String,
    pub alpha: f64,
    pub min_seeds: usize,
    /// `mean(a) − mean(b)` (paired: the mean of the per-seed differences).
    #[serde(with = "crate::nan::scalar")]
    pub diff: f64,
    /// Two-sided 95 % interval of `diff` (t-based, or the bootstrap's percentiles).
    #[serde(with = "crate::nan::vec")]
    pub diff_ci95: Vec<f64>,
    /// Standardised effect in the asserted direction: Hedges' g (two samples), d_z (paired) or
    /// Cohen's d against the fixed value.
    #[serde(with = "crate::nan::scalar")]
    pub effect_size: f64,
    /// The t statistic (`null` for a bootstrap).
    #[serde(with = "crate::nan::scalar")]
    pub statistic: f64,
    /// Degrees of freedom of the t test (Welch–Satterthwaite for `welch`).
    #[serde(with = "crate::nan::scalar")]
    pub df: f64,
    /// One-sided p-value of H0: the effect in the asserted direction is at most `margin`.
    #[serde(with = "crate::nan::scalar")]
    pub p: f64,
    pub verdict: Verdict,
    /// Why a claim was not run, seeds left out, the opposite effect, …
    pub note: String,
}

/// `claims.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimsFile {
    pub schema_version: u32,
    pub created_by: String,
    /// The folder the run directories were searched in.
    pub root: String,
    pub claims: Vec<ClaimOutcome>,
}

impl ClaimsFile {
    /// The verdicts `claims` of the run directories under `root`, made by this build.
    pub fn new(root: &std::path::Path, claims: Vec<ClaimOutcome>) -> Self {
        ClaimsFile {
            schema_version: crate::SCHEMA_VERSION,
            created_by: format!("biodis {}", env!("CARGO_PKG_VERSION")),
            root: root.display().to_string(),
            claims,
        }
    }

    /// Counts of each verdict, in the order HOLDS, FAILS, TOO FEW SEEDS, NOT RUN.
    pub fn counts(&self) -> [(Verdict, usize); 4] {
        [
            Verdict::Holds,
            Verdict::Fails,
            Verdict::TooFewSeeds,
            Verdict::NotRun,
        ]
        .map(|v| (v, self.claims.iter().filter(|c| c.verdict == v).count()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_undefined_numbers_as_null() {
        let side = SideSummary {
            label: "s: all · mir".into(),
            study_dir: None,
            seeds: vec![0],
            values: vec![0.5],
            mean: 0.5,
            se: f64::NAN,
            not_finished: 1,
        };
        let f = ClaimsFile {
            schema_version: crate::SCHEMA_VERSION,
            created_by: "t".into(),
            root: "runs".into(),
            claims: vec![ClaimOutcome {
                id: "x".into(),
                figure: "Fig 2".into(),
                text: "t".into(),
                source: "ledger".into(),
                a: side.clone(),
                b: side,
                direction: "greater".into(),
                margin: 0.0,
                test: "welch".into(),
                alpha: 0.05,
                min_seeds: 3,
                diff: f64::NAN,
                diff_ci95: vec![f64::NAN, f64::NAN],
                effect_size: f64::NAN,
                statistic: f64::NAN,
                df: f64::NAN,
                p: f64::NAN,
                verdict: Verdict::TooFewSeeds,
                note: String::new(),
            }],
        };
        let j = serde_json::to_string(&f).unwrap();
        assert!(j.contains("\"verdict\":\"TOO_FEW_SEEDS\"") && j.contains("\"p\":null"));
        let back: ClaimsFile = serde_json::from_str(&j).unwrap();
        assert!(back.claims[0].p.is_nan() && back.claims[0].a.se.is_nan());
        assert_eq!(back.counts()[2], (Verdict::TooFewSeeds, 1));
        assert_eq!(Verdict::NotRun.to_string(), "NOT RUN");
    }
}
