//! Every metric option is validated before use (issue 20, "metric options unchecked"): a value
//! outside its range is a `MetricError::BadOption` naming the option, the value and the range —
//! never a NaN / −inf score, and never a hang (`bins = 100000000` used to allocate per column).

use biodis_metrics::gbdt::GbdtOptions;
use biodis_metrics::options::MAX_BINS;
use biodis_metrics::{FactorKind, MetricError, MirOptions};
use ndarray::Array2;

fn data() -> (Array2<f64>, Array2<f64>) {
    let n = 120;
    let f = Array2::from_shape_fn((n, 2), |(s, j)| ((s / (1 + 3 * j)) % 4) as f64);
    let c = Array2::from_shape_fn((n, 3), |(s, j)| {
        if j < 2 {
            f[[s, j]] + 0.1
        } else {
            ((s * 7) % 5) as f64
        }
    });
    (c, f)
}

fn assert_bad(r: Result<impl std::fmt::Debug, MetricError>, option: &str, value: &str) {
    match r {
        Err(MetricError::BadOption {
            option: o,
            value: v,
            expected,
        }) => {
            assert_eq!((o.as_str(), v.as_str()), (option, value));
            assert!(!expected.is_empty());
        }
        other => panic!("{option} = {value}: expected BadOption, got {other:?}"),
    }
}

#[test]
fn every_binned_metric_refuses_bad_bin_counts() {
    let (c, f) = data();
    let (c, f) = (c.view(), f.view());
    let k = FactorKind::Discrete;
    for b in [0usize, 1, MAX_BINS + 1, 100_000_000] {
        let v = b.to_string();
        assert_bad(biodis_metrics::discrete::mig(c, f, k, b), "bins", &v);
        assert_bad(biodis_metrics::discrete::modularity(c, f, k, b), "bins", &v);
        assert_bad(biodis_metrics::discrete::mean_pairwise_mi(c, b), "bins", &v);
        assert_bad(biodis_metrics::irs::irs(c, f, b, 0.99), "bins", &v);
        assert_bad(
            biodis_metrics::explicitness::explicitness(c, f, k, b, 80),
            "bins",
            &v,
        );
        assert_bad(biodis_metrics::infom::infom(c, f, k, b, 0), "bins", &v);
        assert_bad(
            biodis_metrics::dci::dci(c, f, k, b, 80, GbdtOptions::default()),
            "bins",
            &v,
        );
        let o = MirOptions {
            bins: b,
            ..Default::default()
        };
        assert_bad(biodis_metrics::mir(c, f, &o), "bins", &v);
    }
}

#[test]
fn mir_thresholds_irs_quantile_and_learner_options_are_checked() {
    let (c, f) = data();
    let (c, f) = (c.view(), f.view());
    for t in [-1.0, 0.0, 1.0, f64::NAN, f64::INFINITY] {
        let o = MirOptions {
            activity_threshold: t,
            ..Default::default()
        };
        assert_bad(
            biodis_metrics::mir(c, f, &o),
            "activity_threshold",
            &t.to_string(),
        );
        let o = MirOptions {
            mi_threshold: t,
            ..Default::default()
        };
        assert_bad(
            biodis_metrics::mir(c, f, &o),
            "mi_threshold",
            &t.to_string(),
        );
    }
    assert!(biodis_metrics::mir(c, f, &MirOptions::default()).is_ok());
    for q in [0.0, -0.5, 1.5, f64::NAN] {
        assert_bad(
            biodis_metrics::irs::irs(c, f, 20, q),
            "diff_quantile",
            &q.to_string(),
        );
    }
    let bad = [
        (
            GbdtOptions {
                n_estimators: 0,
                ..Default::default()
            },
            "n_estimators",
            "0",
        ),
        (
            GbdtOptions {
                learning_rate: 0.0,
                ..Default::default()
            },
            "learning_rate",
            "0",
        ),
        (
            GbdtOptions {
                max_depth: 0,
                ..Default::default()
            },
            "max_depth",
            "0",
        ),
        (
            GbdtOptions {
                max_depth: 33,
                ..Default::default()
            },
            "max_depth",
            "33",
        ),
    ];
    for (o, name, v) in bad {
        assert_bad(
            biodis_metrics::dci::dci(c, f, FactorKind::Discrete, 20, 80, o),
            name,
            v,
        );
    }
}

#[test]
fn the_message_names_option_value_and_range() {
    let (c, f) = data();
    let e = biodis_metrics::discrete::mig(c.view(), f.view(), FactorKind::Discrete, 0)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!("bins = 0: expected an integer from 2 to {MAX_BINS}")
    );
}
