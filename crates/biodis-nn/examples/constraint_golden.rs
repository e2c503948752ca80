//! Golden values of the biological constraint terms, for the Python ports (`biodis.torch`,
//! `biodis.jax`, python/tests/test_constraints.py): a fixed 4-6-5-3 MLP (identity hidden layers,
//! so each hidden pre-activation is its activity), a fixed batch, every term on every layer with
//! both normalisations. Prints JSON: the flat parameters (`W_l` as `[in, out]`, then `b_l`), the
//! inputs, each term's value (already × β) and the gradient of the constraint terms alone
//! (total gradient minus the gradient with every β = 0; the terms are additive).
//!
//! Regenerate: `cargo run -p biodis-nn --example constraint_golden > python/tests/golden_constraints.json`

use biodis_nn::{Activation, Constraints, Head, Mlp, MlpSpec, Nonneg, Normalisation, Reduction};

fn list(v: &[f64]) -> String {
    let s: Vec<String> = v.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", s.join(", "))
}

fn main() {
    let dims = vec![4, 6, 5, 3];
    let spec = MlpSpec {
        dims: dims.clone(),
        activations: vec![Activation::Identity; 2],
        head: Head::Mse,
        reduction: Reduction::Mean,
        split: None,
    };
    let np = spec.n_params();
    let params: Vec<f64> = (0..np)
        .map(|i| 0.6 * ((i as f64) * 0.731 + 0.3).sin())
        .collect();
    let b = 7;
    let x: Vec<f64> = (0..b * dims[0])
        .map(|i| ((i as f64) * 1.37 - 2.0).cos() * 1.5)
        .collect();
    let y: Vec<f64> = (0..b * dims[3])
        .map(|i| ((i as f64) * 0.91).sin())
        .collect();
    let base = |norm| Constraints {
        nonneg: Nonneg::Hinge,
        normalisation: norm,
        ..Default::default()
    };
    let mut cases = Vec::new();
    for (name, norm) in [("sum", Normalisation::Sum), ("mean", Normalisation::Mean)] {
        let c = Constraints {
            beta_nonneg: 0.3,
            beta_activity: 0.2,
            beta_weight: 0.1,
            beta_sparsity: 0.05,
            beta_weight_l1: 0.02,
            ..base(norm)
        };
        let mut m = Mlp::<f64>::with_params(spec.clone(), &c, params.clone());
        let t = m.loss_and_grad(&x, &y, b, &c);
        let g = m.grads.clone();
        let c0 = base(norm);
        let mut m0 = Mlp::<f64>::with_params(spec.clone(), &c0, params.clone());
        let t0 = m0.loss_and_grad(&x, &y, b, &c0);
        let gc: Vec<f64> = g.iter().zip(&m0.grads).map(|(a, b)| a - b).collect();
        assert_eq!(t.prediction, t0.prediction);
        cases.push(format!(
            "\"{name}\": {{\"nonneg\": {:?}, \"activity\": {:?}, \"weight\": {:?}, \"sparsity\": {:?}, \"weight_l1\": {:?}, \"grad\": {}}}",
            t.nonneg, t.activity, t.weight, t.sparsity, t.weight_l1, list(&gc)
        ));
    }
    println!(
        "{{\"dims\": {:?}, \"batch\": {b}, \"betas\": {{\"nonneg\": 0.3, \"activity\": 0.2, \"weight\": 0.1, \"sparsity\": 0.05, \"weight_l1\": 0.02}},\n \"params\": {},\n \"x\": {},\n {}}}",
        dims,
        list(&params),
        list(&x),
        cases.join(",\n ")
    );
}
