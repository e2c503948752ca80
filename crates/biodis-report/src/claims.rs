//! The "Claims" section of a study's report and the page of `biodis claims` (issue #22): each
//! claim's verdict, both sides' mean ± s.e. and n, the difference with its 95 % interval, the
//! effect size and the test's p-value, from `claims.json` ([`biodis_rundir::claims`]).

use crate::{esc, ferr, ReportError};
use biodis_rundir::claims::{ClaimOutcome, ClaimsFile, Verdict};
use std::path::Path;

fn num(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "–".into()
    }
}

fn p_text(p: f64) -> String {
    esc(&biodis_rundir::claims::p_text(p))
}

fn side(s: &biodis_rundir::claims::SideSummary) -> String {
    if s.study_dir.is_none() && s.values.is_empty() {
        return num(s.mean);
    }
    let v = match s.values.len() {
        0 => "–".to_string(),
        1 => format!("{} (n=1)", num(s.mean)),
        n => format!("{} ± {} (n={n})", num(s.mean), num(s.se)),
    };
    format!("{}<br><small>{}</small>", v, esc(&s.label))
}

fn colour(v: Verdict) -> &'static str {
    match v {
        Verdict::Holds => "#1a7f37",
        Verdict::Fails => "#b42318",
        Verdict::TooFewSeeds => "#9a6700",
        Verdict::NotRun => "#666",
    }
}

fn row(c: &ClaimOutcome) -> String {
    let assertion = format!(
        "a {} b{}",
        if c.direction == "less" {
            "&lt;"
        } else {
            "&gt;"
        },
        if c.margin > 0.0 {
            format!(
                " {} {}",
                if c.direction == "less" { "−" } else { "+" },
                c.margin
            )
        } else {
            String::new()
        }
    );
    format!(
        "<tr><td style=\"color:{}\"><b>{}</b></td><td><code>{}</code><br>{} <small>({})</small>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} [{}, {}]</td><td>{}</td><td>{}, {}</td></tr>",
        colour(c.verdict),
        c.verdict,
        esc(&c.id),
        esc(&c.text),
        assertion,
        if c.note.is_empty() {
            String::new()
        } else {
            format!("<br><small><i>{}</i></small>", esc(&c.note))
        },
        esc(&c.figure),
        side(&c.a),
        side(&c.b),
        num(c.diff),
        num(c.diff_ci95.first().copied().unwrap_or(f64::NAN)),
        num(c.diff_ci95.get(1).copied().unwrap_or(f64::NAN)),
        if c.effect_size.is_finite() {
            format!("{:.2}", c.effect_size)
        } else {
            "–".into()
        },
        esc(&c.test),
        p_text(c.p),
    )
}

/// The claims as an HTML section (a heading, the counts and one table row per claim).
pub fn section_html(f: &ClaimsFile) -> String {
    let counts = f
        .counts()
        .iter()
        .map(|(v, n)| format!("{n} {v}"))
        .collect::<Vec<_>>()
        .join(" · ");
    let mut h = format!(
        "<h2 id=\"claims\">Claims</h2><p class=\"meta\">{} claims: {counts}. One-sided tests at each claim's α; \
the effect is Hedges' g (two samples), d<sub>z</sub> (paired by seed) or Cohen's d (against a fixed value). \
From <code>claims.json</code>; the ledger is <code>experiments/claims.toml</code> plus the study's own <code>claims.toml</code>.</p>",
        f.claims.len()
    );
    if f.claims.is_empty() {
        h.push_str("<p>No claim names this study.</p>");
        return h;
    }
    h.push_str("<table><tr><th>verdict</th><th>claim</th><th>figure</th><th>a</th><th>b</th><th>Δ = a − b [95 % CI]</th><th>effect</th><th>test, p</th></tr>");
    for c in &f.claims {
        h.push_str(&row(c));
    }
    h.push_str("</table>");
    h
}

/// A self-contained page of the claims (what `biodis claims` writes as `claims.html`).
pub fn page_html(f: &ClaimsFile) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>biodis — claims</title>\
<style>body{{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;max-width:1300px;margin:2em auto;color:#222;padding:0 1em}}\
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}\
th{{background:#f3f3f3}}.meta{{color:#666}}</style></head><body><h1>The paper's claims, tested</h1>\
<p class=\"meta\">run directories under <code>{}</code> · {}</p>{}</body></html>\n",
        esc(&f.root),
        esc(&f.created_by),
        section_html(f)
    )
}

/// Puts the claims section into the report at `html` (before its resolved recipes, else at the
/// end), replacing an earlier claims section; written atomically.
pub fn insert_section(html: &Path, f: &ClaimsFile) -> Result<(), ReportError> {
    let text = std::fs::read_to_string(html).map_err(|e| ferr(html, e))?;
    const START: &str = "<!-- claims -->";
    const END: &str = "<!-- /claims -->";
    let mut body = text.clone();
    if let (Some(a), Some(b)) = (body.find(START), body.find(END)) {
        if a < b {
            body.replace_range(a..b + END.len(), "");
        }
    }
    let section = format!("{START}{}{END}", section_html(f));
    let at = body
        .find("<h2>Resolved recipes</h2>")
        .or_else(|| body.rfind("</body>"))
        .unwrap_or(body.len());
    body.insert_str(at, &section);
    biodis_rundir::atomic_write(html, body.as_bytes()).map_err(|e| ferr(html, e))
}
