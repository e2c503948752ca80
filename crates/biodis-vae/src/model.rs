//! The conv VAE of Higgins et al. (2017) as the paper's Table 2 gives it, with the biological
//! constraints of §3 ("standard benchmark with VAEs") and App. A.5 (Table 1).
//!
//! | part | layers |
//! |---|---|
//! | encoder | 4 × conv 4×4 stride 2 pad 1 (32, 32, 64, 64 filters, ReLU): 64→32→16→8→4 px; FC 1024→256 ReLU; FC 256→2·latent (mean, log-variance) |
//! | decoder | FC latent→256 ReLU; FC 256→1024 ReLU, reshaped to 64×4×4; 3 × up-conv 4×4 stride 2 pad 1 (64, 32, 32, ReLU); up-conv to C channels (logits) |
//!
//! Parameters: 766 295 for C = 3 and 764 245 for C = 1 (tested). The flattening order of the
//! 64×4×4 maps is channel-major (PyTorch's `reshape`), as in `bench/peers` B4.
//!
//! Loss per batch (sums over pixels and latents, means over the batch):
//! `rec + β_VAE·KL + L_nonneg + L_weight`, with
//! * `rec` = Bernoulli negative log-likelihood = sigmoid cross-entropy of the logits, summed
//!   over pixels;
//! * `KL` = −½ Σ_j (1 + log σ²_j − μ_j² − σ²_j), the Gaussian posterior against N(0, I);
//! * nonnegativity — [`Nonneg::Relu`] (default; the main text): the posterior mean is
//!   `μ = relu(μ_raw)`; [`Nonneg::Hinge`] (App. A.5, β_nonneg = 100): `L_nonneg =
//!   β_nonneg Σ_j max(−μ_j, 0)` on the (unrectified) mean; [`Nonneg::None`]: plain VAE;
//! * `L_weight = β_weight Σ ‖W‖²` over the **decoder's two dense layers' weights** only
//!   (biases excluded), as App. A.5 says; no activity term (the KL already bounds the norm).
//!
//! The sample is `z = μ + exp(½ log σ²) ε` with ε drawn by the caller (seeded streams).

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How nonnegativity of the latent code is imposed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Nonneg {
    /// ReLU on the posterior mean (the paper's main text; default).
    #[default]
    Relu,
    /// Hinge penalty β_nonneg Σ max(−μ, 0) on the posterior mean (App. A.5).
    Hinge,
    /// No nonnegativity (a plain β-VAE).
    None,
}

/// Image side in pixels.
pub const SIDE: usize = 64;

/// Values per image of a `[B, C, H, W]` tensor.
fn ce_len(t: &Tensor<4>) -> usize {
    let d = t.dims();
    d[1] * d[2] * d[3]
}

/// The conv VAE.
#[derive(Module, Debug)]
pub struct ConvVae {
    enc_conv: Vec<Conv2d>,
    enc_fc: Linear,
    enc_out: Linear,
    dec_fc0: Linear,
    dec_fc1: Linear,
    dec_conv: Vec<ConvTranspose2d>,
}

/// A mutable reference to one parameter of any rank.
pub enum ParamSlot<'a> {
    D4(&'a mut Param<Tensor<4>>),
    D2(&'a mut Param<Tensor<2>>),
    D1(&'a mut Param<Tensor<1>>),
}

/// A tensor's values as a flat `f32` vector.
pub fn flat<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap_or_default()
}

/// Loss terms of one batch (already multiplied by their β), as device tensors.
pub struct LossTerms {
    pub total: Tensor<1>,
    pub rec: Tensor<1>,
    pub kl: Tensor<1>,
    pub nonneg: Tensor<1>,
    pub weight: Tensor<1>,
}

impl ConvVae {
    /// A freshly initialised VAE for `channels`-channel 64×64 images (burn's default
    /// initialisers = PyTorch's: Kaiming-uniform with gain 1/√3, biases U(±1/√fan_in)).
    pub fn new(channels: usize, latent: usize, device: &Device) -> ConvVae {
        let enc = [channels, 32, 32, 64, 64];
        let enc_conv = (0..4)
            .map(|i| {
                Conv2dConfig::new([enc[i], enc[i + 1]], [4, 4])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        let dec = [64, 64, 32, 32, channels];
        let dec_conv = (0..4)
            .map(|i| {
                ConvTranspose2dConfig::new([dec[i], dec[i + 1]], [4, 4])
                    .with_stride([2, 2])
                    .with_padding([1, 1])
                    .init(device)
            })
            .collect();
        ConvVae {
            enc_conv,
            enc_fc: LinearConfig::new(1024, 256).init(device),
            enc_out: LinearConfig::new(256, 2 * latent).init(device),
            dec_fc0: LinearConfig::new(latent, 256).init(device),
            dec_fc1: LinearConfig::new(256, 1024).init(device),
            dec_conv,
        }
    }

    /// A VAE initialised from `seed` alone (independent of burn's global RNG, so runs are
    /// reproducible whatever else runs in the process): every weight and bias
    /// `U(±1/√fan_in)`, PyTorch's default — fan_in = in·k² for a conv, out·k² for a transposed
    /// conv (PyTorch's convention for its `[in, out, k, k]` weight), in for a dense layer.
    pub fn new_seeded(channels: usize, latent: usize, device: &Device, seed: u64) -> ConvVae {
        use rand::Rng;
        let mut rng = biodis_data::streams::vae::INIT.rng(seed);
        let mut m = ConvVae::new(channels, latent, device);
        let mut draw = |n: usize, fan_in: usize| -> Vec<f32> {
            let b = 1.0 / (fan_in as f64).sqrt();
            (0..n).map(|_| rng.gen_range(-b..b) as f32).collect()
        };
        fn tensor<const D: usize>(
            v: Vec<f32>,
            shape: [usize; D],
            device: &Device,
        ) -> Param<Tensor<D>> {
            Param::from_tensor(Tensor::from_data(TensorData::new(v, shape), device))
        }
        for c in m.enc_conv.iter_mut() {
            let sh = c.weight.dims();
            let fan = sh[1] * sh[2] * sh[3];
            c.weight = tensor(draw(sh.iter().product(), fan), sh, device);
            c.bias = Some(tensor(draw(sh[0], fan), [sh[0]], device));
        }
        for c in m.dec_conv.iter_mut() {
            let sh = c.weight.dims();
            let fan = sh[1] * sh[2] * sh[3];
            c.weight = tensor(draw(sh.iter().product(), fan), sh, device);
            c.bias = Some(tensor(draw(sh[1], fan), [sh[1]], device));
        }
        for l in [
            &mut m.enc_fc,
            &mut m.enc_out,
            &mut m.dec_fc0,
            &mut m.dec_fc1,
        ] {
            let sh = l.weight.dims();
            l.weight = tensor(draw(sh[0] * sh[1], sh[0]), sh, device);
            l.bias = Some(tensor(draw(sh[1], sh[0]), [sh[1]], device));
        }
        m
    }

    /// Overwrite every parameter from flat `f32` arrays in the order of `bench/peers` B4:
    /// conv 0–3 (weight `[out, in, 4, 4]`, bias), encoder FC 1024→256 and 256→2·latent,
    /// decoder FC latent→256 and 256→1024 (weights `[in, out]`, bias), up-conv 0–3 (weight
    /// `[in, out, 4, 4]`, bias). Errors name the parameter whose length is wrong.
    pub fn set_params(
        &mut self,
        flat: &[Vec<f32>],
        device: &Device,
    ) -> Result<(), crate::VaeError> {
        fn put<const D: usize>(
            p: &mut Param<Tensor<D>>,
            v: &[f32],
            what: &str,
            device: &Device,
        ) -> Result<(), crate::VaeError> {
            let sh = p.dims();
            let n: usize = sh.iter().product();
            if v.len() != n {
                return Err(crate::VaeError::ParamLength {
                    name: what.to_string(),
                    got: v.len(),
                    expected: n,
                    shape: sh.to_vec(),
                });
            }
            *p = Param::from_tensor(Tensor::from_data(TensorData::new(v.to_vec(), sh), device));
            Ok(())
        }
        if flat.len() != 24 {
            return Err(crate::VaeError::ParamCount {
                got: flat.len(),
                expected: 24,
            });
        }
        let mut it = flat.iter();
        let mut next = || it.next().expect("24 arrays checked above");
        for (i, c) in self.enc_conv.iter_mut().enumerate() {
            put(&mut c.weight, next(), &format!("conv{i}.weight"), device)?;
            let b = c.bias.as_mut().expect("conv bias");
            put(b, next(), &format!("conv{i}.bias"), device)?;
        }
        for (name, l) in [
            ("enc_fc", &mut self.enc_fc),
            ("enc_out", &mut self.enc_out),
            ("dec_fc0", &mut self.dec_fc0),
            ("dec_fc1", &mut self.dec_fc1),
        ] {
            put(&mut l.weight, next(), &format!("{name}.weight"), device)?;
            let b = l.bias.as_mut().expect("linear bias");
            put(b, next(), &format!("{name}.bias"), device)?;
        }
        for (i, c) in self.dec_conv.iter_mut().enumerate() {
            put(&mut c.weight, next(), &format!("upconv{i}.weight"), device)?;
            let b = c.bias.as_mut().expect("upconv bias");
            put(b, next(), &format!("upconv{i}.bias"), device)?;
        }
        Ok(())
    }

    /// Every parameter, in the order of [`ConvVae::set_params`].
    pub fn params_mut(&mut self) -> Vec<ParamSlot<'_>> {
        let mut out = Vec::with_capacity(24);
        for c in self.enc_conv.iter_mut() {
            out.push(ParamSlot::D4(&mut c.weight));
            out.push(ParamSlot::D1(c.bias.as_mut().expect("conv bias")));
        }
        for l in [
            &mut self.enc_fc,
            &mut self.enc_out,
            &mut self.dec_fc0,
            &mut self.dec_fc1,
        ] {
            out.push(ParamSlot::D2(&mut l.weight));
            out.push(ParamSlot::D1(l.bias.as_mut().expect("linear bias")));
        }
        for c in self.dec_conv.iter_mut() {
            out.push(ParamSlot::D4(&mut c.weight));
            out.push(ParamSlot::D1(c.bias.as_mut().expect("upconv bias")));
        }
        out
    }

    /// Every parameter as flat `f32` (the order of [`ConvVae::set_params`]).
    pub fn get_params(&mut self) -> Vec<Vec<f32>> {
        self.params_mut()
            .into_iter()
            .map(|p| match p {
                ParamSlot::D4(p) => flat(p.val()),
                ParamSlot::D2(p) => flat(p.val()),
                ParamSlot::D1(p) => flat(p.val()),
            })
            .collect()
    }

    /// Latent dimension.
    pub fn latent(&self) -> usize {
        self.dec_fc0.weight.dims()[0]
    }

    /// Encoder: images `[B, C, 64, 64]` → (raw posterior mean, log-variance), each `[B, latent]`.
    pub fn encode(&self, x: Tensor<4>) -> (Tensor<2>, Tensor<2>) {
        let mut h = x;
        for c in &self.enc_conv {
            h = relu(c.forward(h));
        }
        let b = h.dims()[0];
        let h = relu(self.enc_fc.forward(h.reshape([b, 1024])));
        let st = self.enc_out.forward(h);
        let l = self.latent();
        let mu = st.clone().slice([0..b, 0..l]);
        let logvar = st.slice([0..b, l..2 * l]);
        (mu, logvar)
    }

    /// The representation that is scored: the posterior mean after the nonnegativity choice.
    pub fn mean(&self, x: Tensor<4>, nonneg: Nonneg) -> Tensor<2> {
        let (mu, _) = self.encode(x);
        match nonneg {
            Nonneg::Relu => relu(mu),
            _ => mu,
        }
    }

    /// Decoder: latents `[B, latent]` → logits `[B, C, 64, 64]`.
    pub fn decode(&self, z: Tensor<2>) -> Tensor<4> {
        let b = z.dims()[0];
        let h = relu(self.dec_fc0.forward(z));
        let h = relu(self.dec_fc1.forward(h));
        let mut h = h.reshape([b, 64, 4, 4]);
        let last = self.dec_conv.len() - 1;
        for (i, c) in self.dec_conv.iter().enumerate() {
            h = c.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        h
    }

    /// Sum of squared decoder dense-layer weights (what β_weight multiplies).
    pub fn decoder_weight_energy(&self) -> Tensor<1> {
        let a = self.dec_fc0.weight.val().powi_scalar(2).sum();
        let b = self.dec_fc1.weight.val().powi_scalar(2).sum();
        a + b
    }

    /// The training loss of a batch `x` (`[B, C, 64, 64]`, values in [0, 1]) with noise
    /// `eps` (`[B, latent]`, standard normal).
    pub fn loss(&self, x: Tensor<4>, eps: Tensor<2>, hp: &LossWeights) -> LossTerms {
        let b = x.dims()[0] as f64;
        let (mu_raw, logvar) = self.encode(x.clone());
        let (mu, nonneg) = match hp.nonneg {
            Nonneg::Relu => (relu(mu_raw), None),
            Nonneg::Hinge => (
                mu_raw.clone(),
                Some(relu(mu_raw.neg()).sum().mul_scalar(hp.beta_nonneg / b)),
            ),
            Nonneg::None => (mu_raw, None),
        };
        let z = mu.clone() + logvar.clone().mul_scalar(0.5).exp() * eps;
        let logits = self.decode(z);
        // Sigmoid cross-entropy, the stable form max(l, 0) − x·l + ln(1 + e^−|l|), summed over
        // pixels, mean over the batch.
        // Summed per image row first (64 values), then per image, then over the batch: one flat
        // f32 sum over B·C·64·64 terms drifts by ~1e-3 relative.
        let n = x.dims()[0];
        let per_img = ce_len(&logits);
        let ce = relu(logits.clone()) - x * logits.clone() + logits.abs().neg().exp().log1p();
        let per_row = ce.reshape([n * (per_img / SIDE), SIDE]).sum_dim(1);
        let rec = per_row
            .reshape([n, per_img / SIDE])
            .sum_dim(1)
            .sum()
            .div_scalar(b);
        let kl = (logvar.clone().add_scalar(1.0) - mu.powi_scalar(2) - logvar.exp())
            .sum()
            .mul_scalar(-0.5 / b);
        let weight = self.decoder_weight_energy().mul_scalar(hp.beta_weight);
        let nonneg = nonneg.unwrap_or_else(|| weight.zeros_like());
        let total =
            rec.clone() + kl.clone().mul_scalar(hp.beta_vae) + nonneg.clone() + weight.clone();
        LossTerms {
            total,
            rec,
            kl,
            nonneg,
            weight,
        }
    }
}

/// The loss weights of Table 1 (VAE column) and the nonnegativity choice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    pub nonneg: Nonneg,
    /// β of the KL term (β-VAE; the bio-VAE uses 1).
    pub beta_vae: f64,
    /// β_nonneg of the hinge (used only with [`Nonneg::Hinge`]; Table 1: 100).
    pub beta_nonneg: f64,
    /// β_weight on the decoder's dense weights (Table 1: swept 0.01 → 1.0; 0 = none).
    pub beta_weight: f64,
}

impl Default for LossWeights {
    fn default() -> Self {
        LossWeights {
            nonneg: Nonneg::Relu,
            beta_vae: 1.0,
            beta_nonneg: 100.0,
            beta_weight: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_table_1() {
        let device = Device::flex();
        assert_eq!(ConvVae::new(3, 10, &device).num_params(), 766_295);
        assert_eq!(ConvVae::new(1, 10, &device).num_params(), 764_245);
        assert_eq!(ConvVae::new_seeded(3, 10, &device, 1).num_params(), 766_295);
    }

    #[test]
    fn shapes_and_loss_terms() {
        let device = Device::flex();
        let m = ConvVae::new(1, 10, &device);
        let x = Tensor::<4>::zeros([2, 1, 64, 64], &device).add_scalar(0.5);
        let (mu, lv) = m.encode(x.clone());
        assert_eq!(mu.dims(), [2, 10]);
        assert_eq!(lv.dims(), [2, 10]);
        assert_eq!(m.decode(mu).dims(), [2, 1, 64, 64]);
        let eps = Tensor::<2>::zeros([2, 10], &device);
        let hp = LossWeights {
            beta_weight: 0.5,
            ..LossWeights::default()
        };
        let t = m.loss(x, eps, &hp);
        let w: f32 = t.weight.into_scalar();
        let we: f32 = m.decoder_weight_energy().into_scalar();
        assert!((w - 0.5 * we).abs() <= 1e-4 * we.abs());
        let rec: f32 = t.rec.into_scalar();
        // x = 0.5 everywhere: rec ≥ 4096 · ln 2 (the minimum of the cross-entropy at 0.5).
        assert!(rec >= 4096.0 * std::f32::consts::LN_2 * 0.999, "{rec}");
        let kl: f32 = t.kl.into_scalar();
        assert!(kl >= -1e-4);
        let nn: f32 = t.nonneg.into_scalar();
        assert_eq!(nn, 0.0);
    }
}
