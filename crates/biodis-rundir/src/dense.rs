//! The typed files of a dense run (Figs 2–4, 8, 9, 11): `curve.csv` ([`CurveRow`]) and
//! `result.json` ([`RunResult`]), with their one writer and reader.

use crate::nan;
use serde::{Deserialize, Serialize};

/// The loss terms of one evaluation, each already multiplied by its β (non-finite values are
/// `null` in JSON).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LossTerms {
    #[serde(with = "nan::scalar")]
    pub total: f64,
    #[serde(with = "nan::scalar")]
    pub prediction: f64,
    #[serde(with = "nan::scalar")]
    pub nonneg: f64,
    #[serde(with = "nan::scalar")]
    pub activity: f64,
    #[serde(with = "nan::scalar")]
    pub weight: f64,
    #[serde(with = "nan::scalar")]
    pub sparsity: f64,
    #[serde(with = "nan::scalar")]
    pub weight_l1: f64,
}

impl LossTerms {
    /// True if every term is finite.
    pub fn is_finite(&self) -> bool {
        [
            self.total,
            self.prediction,
            self.nonneg,
            self.activity,
            self.weight,
            self.sparsity,
            self.weight_l1,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}

/// One row of a dense run's `curve.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveRow {
    pub step: u64,
    pub lr: f64,
    pub loss: LossTerms,
    /// MIR of each hidden layer (NaN when undefined, e.g. no active neuron; `null` in JSON).
    #[serde(with = "nan::vec")]
    pub mir: Vec<f64>,
    /// Neurons kept by MIR's filters, per hidden layer.
    pub active: Vec<usize>,
    #[serde(with = "nan::scalar")]
    pub r2: f64,
    /// Fraction of negative activations in the primary layer (the latent, or the last hidden).
    #[serde(with = "nan::scalar")]
    pub neg_frac: f64,
    /// The mechanism diagnostics (`train.noise_diagnostics`); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mechanism: Option<Mechanism>,
}

/// The mechanism diagnostics of one evaluation (issue #22, App. A.3.1; see
/// `biodis_nn::mechanism`): the activity energy's cross term on the first hidden layer against
/// the minibatch noise of the loss's gradient on the same weights. Gradients are of the
/// training loss, per parameter, Frobenius norms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Mechanism {
    /// `C(M) = a² Σ_j Σ_{k≠l} |M_jk||M_jl|`, `M` the layer's map from factors to activity
    /// (unscaled by β: a measure of mixing).
    #[serde(with = "nan::scalar")]
    pub cross_term: f64,
    /// `‖β ∂C/∂W‖`: the disentangling force in the loss's gradient (0 without the activity
    /// energy).
    #[serde(with = "nan::scalar")]
    pub cross_grad: f64,
    /// `‖ḡ‖`: the mean minibatch gradient's norm (≈ the full-batch gradient).
    #[serde(with = "nan::scalar")]
    pub grad_mean: f64,
    /// The per-minibatch standard deviation of the gradient (at the training batch size).
    #[serde(with = "nan::scalar")]
    pub grad_noise: f64,
    /// That standard deviation along the cross term's gradient (NaN when it is zero).
    #[serde(with = "nan::scalar")]
    pub grad_noise_along: f64,
}

/// The trailing columns of `curve.csv` written when a run records [`Mechanism`].
pub const CURVE_MECHANISM_COLUMNS: &str =
    "cross_term,cross_grad,grad_mean,grad_noise,grad_noise_along";

fn one() -> u32 {
    1
}

/// Final numbers of a dense run (`result.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// Layout version of this file (absent in files written before it existed: 1).
    #[serde(default = "one")]
    pub schema_version: u32,
    pub study: String,
    pub run_id: String,
    pub variant: String,
    pub seed: u64,
    pub steps: u64,
    pub metric_id: String,
    /// Final evaluation row.
    pub last: CurveRow,
    /// The hidden layer of the headline MIR (`mir[primary_layer]`): the latent of an
    /// autoencoder, else the last hidden layer.
    #[serde(default)]
    pub primary_layer: usize,
    /// Entropy-normalised MI matrix of the primary layer, neurons × factors.
    pub mi_matrix: Vec<Vec<f64>>,
    /// Neurons kept by MIR in the last hidden layer.
    pub mi_kept: Vec<usize>,
    pub n_params: usize,
    pub wall_s: f64,
    /// Versions of the software that produced it (sorted by name, so the file is
    /// byte-deterministic): `biodis`, `mir`, and (since session 18) `kernels`, the GEMM and
    /// elementwise paths and the CPU that computed it (`biodis_nn::kernels::provenance`).
    pub versions: std::collections::BTreeMap<String, String>,
    /// The highest MIR reachable on this task when it is below 1: the categories task's
    /// one-hot factors. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mir_ceiling: Option<f64>,
}

impl RunResult {
    /// MIR of the headline layer at the end (NaN when undefined).
    pub fn final_mir(&self) -> f64 {
        self.last
            .mir
            .get(self.primary_layer)
            .copied()
            .unwrap_or(f64::NAN)
    }
}

/// The fixed leading columns of `curve.csv`; then `mir,active` (one hidden layer) or
/// `mir_h<l>,active_h<l>` per hidden layer.
pub const CURVE_HEADER_FIXED: &str =
    "step,lr,loss,prediction,nonneg,activity,weight,sparsity,weight_l1,r2,neg_frac";

/// The header line of `curve.csv` for `n_hidden` hidden layers.
pub fn curve_header(n_hidden: usize) -> String {
    let mut h = CURVE_HEADER_FIXED.to_string();
    if n_hidden == 1 {
        h.push_str(",mir,active");
    } else {
        for l in 0..n_hidden {
            h.push_str(&format!(",mir_h{l},active_h{l}"));
        }
    }
    h
}

/// `curve.csv` of `rows` (header included); the [`Mechanism`] columns follow when the rows
/// carry them.
pub fn curve_csv(rows: &[CurveRow], n_hidden: usize) -> String {
    let mech = rows.iter().any(|r| r.mechanism.is_some());
    let mut s = curve_header(n_hidden);
    if mech {
        s.push(',');
        s.push_str(CURVE_MECHANISM_COLUMNS);
    }
    s.push('\n');
    for r in rows {
        let l = &r.loss;
        s.push_str(&format!(
            "{},{:e},{},{},{},{},{},{},{},{},{}",
            r.step,
            r.lr,
            l.total,
            l.prediction,
            l.nonneg,
            l.activity,
            l.weight,
            l.sparsity,
            l.weight_l1,
            r.r2,
            r.neg_frac
        ));
        for (m, a) in r.mir.iter().zip(&r.active) {
            s.push_str(&format!(",{m},{a}"));
        }
        if mech {
            let m = r.mechanism.unwrap_or(Mechanism {
                cross_term: f64::NAN,
                cross_grad: f64::NAN,
                grad_mean: f64::NAN,
                grad_noise: f64::NAN,
                grad_noise_along: f64::NAN,
            });
            s.push_str(&format!(
                ",{},{},{},{},{}",
                m.cross_term, m.cross_grad, m.grad_mean, m.grad_noise, m.grad_noise_along
            ));
        }
        s.push('\n');
    }
    s
}

/// Parses `curve.csv` back (for resume and reports).
pub fn read_curve(text: &str) -> Result<Vec<CurveRow>, String> {
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty curve.csv")?;
    let cols: Vec<&str> = header.split(',').collect();
    let n_fixed = CURVE_HEADER_FIXED.split(',').count();
    let n_mech = CURVE_MECHANISM_COLUMNS.split(',').count();
    let mech = header.ends_with(CURVE_MECHANISM_COLUMNS);
    let n_layer_cols = cols
        .len()
        .saturating_sub(n_fixed + if mech { n_mech } else { 0 });
    if cols.len() < n_fixed + 2 || n_layer_cols < 2 || !n_layer_cols.is_multiple_of(2) {
        return Err(format!("unexpected curve.csv header: {header}"));
    }
    let n_hidden = n_layer_cols / 2;
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != cols.len() {
            return Err(format!(
                "curve.csv line {}: {} fields, expected {}",
                i + 2,
                f.len(),
                cols.len()
            ));
        }
        let num = |j: usize| -> Result<f64, String> {
            f[j].parse::<f64>()
                .map_err(|_| format!("curve.csv line {}: bad number '{}'", i + 2, f[j]))
        };
        let loss = LossTerms {
            total: num(2)?,
            prediction: num(3)?,
            nonneg: num(4)?,
            activity: num(5)?,
            weight: num(6)?,
            sparsity: num(7)?,
            weight_l1: num(8)?,
        };
        let mut mir = Vec::new();
        let mut active = Vec::new();
        for l in 0..n_hidden {
            mir.push(num(n_fixed + 2 * l)?);
            active.push(num(n_fixed + 2 * l + 1)? as usize);
        }
        let at = n_fixed + 2 * n_hidden;
        let mechanism = if mech {
            Some(Mechanism {
                cross_term: num(at)?,
                cross_grad: num(at + 1)?,
                grad_mean: num(at + 2)?,
                grad_noise: num(at + 3)?,
                grad_noise_along: num(at + 4)?,
            })
        } else {
            None
        };
        rows.push(CurveRow {
            step: num(0)? as u64,
            lr: num(1)?,
            loss,
            mir,
            active,
            r2: num(9)?,
            neg_frac: num(10)?,
            mechanism,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_round_trips() {
        let row = CurveRow {
            step: 10,
            lr: 3e-3,
            loss: LossTerms {
                total: 1.5,
                prediction: 1.0,
                nonneg: 0.25,
                activity: 0.125,
                weight: 0.125,
                sparsity: 0.0,
                weight_l1: 0.0,
            },
            mir: vec![0.5, f64::NAN],
            active: vec![3, 0],
            r2: 0.9,
            neg_frac: 0.1,
            mechanism: None,
        };
        let t = curve_csv(std::slice::from_ref(&row), 2);
        assert!(t.starts_with(CURVE_HEADER_FIXED));
        let back = read_curve(&t).unwrap();
        assert_eq!(back[0].step, 10);
        assert_eq!(back[0].mir[0], 0.5);
        assert!(back[0].mir[1].is_nan());
        assert!(read_curve("step,lr\n").is_err());
        assert!(back[0].mechanism.is_none());
        assert!(!t.contains("cross_term"));

        // with the mechanism columns: the same hidden layers, the diagnostics read back
        let mut with = row.clone();
        with.mechanism = Some(Mechanism {
            cross_term: 1.25,
            cross_grad: 0.5,
            grad_mean: 2.0,
            grad_noise: 0.75,
            grad_noise_along: f64::NAN,
        });
        let t = curve_csv(&[with.clone(), row], 2);
        assert!(t.lines().next().unwrap().ends_with(CURVE_MECHANISM_COLUMNS));
        let back = read_curve(&t).unwrap();
        assert_eq!(back[0].mir.len(), 2);
        let m = back[0].mechanism.unwrap();
        assert_eq!((m.cross_term, m.grad_noise), (1.25, 0.75));
        assert!(m.grad_noise_along.is_nan());
        assert!(back[1].mechanism.unwrap().cross_term.is_nan());
    }
}
