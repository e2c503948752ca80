//! `biodis protocol-score`: the intervention-based metrics (FactorVAE score, Kim & Mnih 2018;
//! BetaVAE score, Higgins et al. 2017) on a built-in dataset, as disentanglement_lib computes
//! them (`factor_vae.py`, `beta_vae.py`; see `biodis_metrics::protocol`). These metrics sample
//! factor combinations themselves (fixing one factor per batch), so they need a sampler and an
//! encoder rather than a fixed array of latents.
//!
//! Datasets: the factor grids of the built-in image sets (`dsprites`: shape 3, scale 6,
//! orientation 40, posX 32, posY 32; `shapes3d-like`: 10, 10, 10, 8, 4, 15), sampled uniformly
//! and independently. Representations: `identity` (the ground-truth factor classes as codes —
//! the reference's `test_metric`, expected ≈ 1.0) and `constant` (all zeros — its
//! `test_bad_metric`, expected at chance: FactorVAE 0 with every dimension pruned, BetaVAE ≈
//! 1/#factors). Neither needs pixels, so no images are rendered. `--run DIR` scores a finished
//! biodis VAE run's trained encoder on its own dataset (the images of every sampled factor
//! combination are rendered and encoded to posterior means).
//!
//! Presets: `dlib` (the reference's constants: batch 64; FactorVAE 10 000 train / 5 000 eval
//! votes, 10 000 points for the variances; BetaVAE 10 000 / 5 000 points), `fast` (10× fewer),
//! `test` (the reference tests' counts: batch 5; FactorVAE 3 000 / 2 000 / 2 500; BetaVAE
//! 2 000 / 2 000).

use anyhow::{Context, Result};
use biodis_data::images::dsprites::DSprites;
use biodis_data::images::shapes3d::Shapes3dLike;
use biodis_data::images::ImageData;
use biodis_metrics::protocol::{
    beta_vae_score, factor_vae_score, Encoder, GroundTruthData, Protocol,
};
use biodis_metrics::special::SplitMix64;
use biodis_metrics::Score;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetArg {
    Dsprites,
    Shapes3dLike,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReprArg {
    /// The ground-truth factor classes.
    Identity,
    /// All zeros.
    Constant,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PresetArg {
    Dlib,
    Fast,
    Test,
}

#[derive(clap::Args)]
pub struct ProtocolArgs {
    /// A finished biodis VAE run directory: score its trained encoder (posterior means) on the
    /// run's own dataset, rendering the images of every sampled factor combination. Overrides
    /// --dataset and --representation.
    #[arg(long)]
    run: Option<std::path::PathBuf>,
    /// Override the preset's batch size (points per vote / per BetaVAE feature).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Override the preset's training votes / points.
    #[arg(long)]
    num_train: Option<usize>,
    /// Override the preset's evaluation votes / points.
    #[arg(long)]
    num_eval: Option<usize>,
    /// Override the preset's sample count for FactorVAE's global variances.
    #[arg(long)]
    num_variance_estimate: Option<usize>,
    /// Built-in dataset whose factor grid is sampled.
    #[arg(long, value_enum, default_value_t = DatasetArg::Dsprites)]
    dataset: DatasetArg,
    /// Representation to score: the ground-truth factors, or a constant.
    #[arg(long, value_enum, default_value_t = ReprArg::Identity)]
    representation: ReprArg,
    /// Comma-separated: factor_vae, beta_vae.
    #[arg(long, default_value = "factor_vae,beta_vae", value_delimiter = ',')]
    metrics: Vec<String>,
    /// Sample counts: dlib (the reference's), fast (10× fewer), test (the reference tests').
    #[arg(long, value_enum, default_value_t = PresetArg::Dlib)]
    preset: PresetArg,
    /// Seed of the factor sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// A built-in dataset's factor grid; observations are the factor classes themselves.
struct Grid(Vec<usize>);
impl GroundTruthData for Grid {
    type Obs = Vec<Vec<usize>>;
    fn factor_sizes(&self) -> Vec<usize> {
        self.0.clone()
    }
    fn observe(&self, f: &[Vec<usize>], _: &mut SplitMix64) -> Self::Obs {
        f.to_vec()
    }
}

/// `&dyn Encoder` as an `Encoder` (the metric functions take a sized type).
struct DynEnc<'a>(&'a dyn Encoder<Vec<Vec<usize>>>);
impl Encoder<Vec<Vec<usize>>> for DynEnc<'_> {
    fn encode(&self, o: &Vec<Vec<usize>>) -> Vec<Vec<f64>> {
        self.0.encode(o)
    }
}

struct Repr(ReprArg);
impl Encoder<Vec<Vec<usize>>> for Repr {
    fn encode(&self, o: &Vec<Vec<usize>>) -> Vec<Vec<f64>> {
        o.iter()
            .map(|f| match self.0 {
                ReprArg::Identity => f.iter().map(|&v| v as f64).collect(),
                ReprArg::Constant => vec![0.0; f.len()],
            })
            .collect()
    }
}

/// A trained VAE run's encoder; observations are factor classes, rendered when encoded.
struct Vae(
    biodis_study::vae::VaeRunEncoder,
    std::cell::RefCell<Option<String>>,
);
impl Encoder<Vec<Vec<usize>>> for Vae {
    fn encode(&self, o: &Vec<Vec<usize>>) -> Vec<Vec<f64>> {
        // The encoder's shapes come from the run's own recipe, so this cannot fail on a run
        // that opened. If it ever does, the error is kept and the metric's score is refused
        // after it returns (the trait has no error path; the NaN codes are never reported).
        self.0.encode_factors(o).unwrap_or_else(|e| {
            self.1.borrow_mut().get_or_insert_with(|| e.to_string());
            vec![vec![f64::NAN; self.0.config.vae.latent]; o.len()]
        })
    }
}

fn preset(p: PresetArg, metric: &str, seed: u64) -> Protocol {
    let base = match p {
        PresetArg::Dlib => Protocol::dlib(),
        PresetArg::Fast => Protocol::fast(),
        PresetArg::Test => Protocol {
            batch_size: 5,
            num_train: if metric == "factor_vae" { 3000 } else { 2000 },
            num_eval: 2000,
            num_variance_estimate: 2500,
            preset: "test",
            ..Protocol::dlib()
        },
    };
    Protocol { seed, ..base }
}

pub fn run(a: ProtocolArgs) -> Result<()> {
    let vae = match &a.run {
        Some(dir) => Some(
            biodis_study::vae::VaeRunEncoder::open(dir)
                .with_context(|| format!("--run {}", dir.display()))?,
        ),
        None => None,
    };
    let (name, sizes) = match (&vae, a.dataset) {
        (Some(v), _) => (v.data.name().to_string(), v.data.factor_sizes()),
        (None, DatasetArg::Dsprites) => {
            let d = DSprites::default();
            (d.name().to_string(), d.factor_sizes())
        }
        (None, DatasetArg::Shapes3dLike) => {
            (Shapes3dLike.name().to_string(), Shapes3dLike.factor_sizes())
        }
    };
    // factors with a single value (none in the built-in sets) cannot be intervened on
    let data = Grid(sizes.clone());
    let repr_name = match &a.run {
        Some(d) => format!("vae run {}", d.display()),
        None => format!("{:?}", a.representation).to_lowercase(),
    };
    let vae = vae.map(|v| Vae(v, std::cell::RefCell::new(None)));
    let enc: &dyn Encoder<Vec<Vec<usize>>> = match &vae {
        Some(v) => v,
        None => &Repr(a.representation),
    };
    let mut scores: Vec<Score> = Vec::new();
    for m in &a.metrics {
        let m = m.trim().to_ascii_lowercase();
        let mut p = preset(a.preset, &m, a.seed);
        p.batch_size = a.batch_size.unwrap_or(p.batch_size);
        p.num_train = a.num_train.unwrap_or(p.num_train);
        p.num_eval = a.num_eval.unwrap_or(p.num_eval);
        p.num_variance_estimate = a.num_variance_estimate.unwrap_or(p.num_variance_estimate);
        let s = match m.as_str() {
            "factor_vae" => factor_vae_score(&data, &DynEnc(enc), p),
            "beta_vae" => beta_vae_score(&data, &DynEnc(enc), p),
            other => anyhow::bail!("unknown metric '{other}'; available: factor_vae, beta_vae"),
        }
        .with_context(|| format!("metric {m}"))?;
        if let Some(e) = vae.as_ref().and_then(|v| v.1.borrow().clone()) {
            anyhow::bail!("metric {m}: encoding the run's images failed: {e}");
        }
        scores.push(s.param(
            "representation",
            format!("{:?}", a.representation).to_lowercase(),
        ));
    }
    if a.json {
        let out = serde_json::json!({
            "dataset": name,
            "factor_sizes": sizes,
            "representation": repr_name,
            "seed": a.seed,
            "scores": scores,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("{name}, factor sizes {sizes:?}, representation: {repr_name}");
        println!("{:<20} {:>9}  details", "metric", "value");
        for s in &scores {
            let det: Vec<String> = s.parts.iter().map(|(k, v)| format!("{k}={v:.4}")).collect();
            println!("{:<20} {:>9.4}  {}", s.id, s.value, det.join(" "));
        }
    }
    Ok(())
}
