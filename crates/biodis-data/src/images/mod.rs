//! Image datasets with ground-truth factors for the VAE experiments (paper §3 "standard
//! benchmark with VAEs", Fig. 5 on Shapes3D and Fig. 13 on dSprites).
//!
//! Every dataset is a full factorial grid: an image for every combination of factor classes.
//! [`ImageData`] renders (or reads) the image of one factor combination on demand, so training
//! samples batches on the fly and never holds the whole set in memory.
//!
//! | dataset | module | factors |
//! |---|---|---|
//! | dSprites-procedural (approximate) | [`dsprites`] | shape 3, scale 6, orientation 40, posX 32, posY 32 |
//! | real dSprites npz (user-supplied) | [`npz`] | same, read from the file |
//! | Shapes3D-like (synthetic look-alike) | [`shapes3d`] | floor hue 10, wall hue 10, object hue 10, scale 8, shape 4, orientation 15 |
//! | real `3dshapes.h5` (user-supplied) | [`shapes3d`] | same, read from the file |
//!
//! Pixel layout of [`ImageData::image_into`]: channel-major (C, 64, 64), values in [0, 1].

pub mod dsprites;
pub mod npz;
pub mod shapes3d;

use rand::Rng;

/// Side of every image in pixels.
pub const IMAGE_SIDE: usize = 64;

/// A factorial image dataset.
pub trait ImageData: Send + Sync {
    /// Name used in reports (synthetic sets say so in their name).
    fn name(&self) -> &str;
    /// Names of the factors (constant factors such as dSprites' colour are left out).
    fn factor_names(&self) -> Vec<String>;
    /// Number of classes of every factor.
    fn factor_sizes(&self) -> Vec<usize>;
    /// Colour channels (1 or 3).
    fn channels(&self) -> usize;
    /// Write the image of `factors` (one class index per factor) into `out`
    /// (`channels × 64 × 64`, channel-major, values in [0, 1]).
    fn image_into(&self, factors: &[usize], out: &mut [f32]);

    /// Number of pixel values of one image.
    fn image_len(&self) -> usize {
        self.channels() * IMAGE_SIDE * IMAGE_SIDE
    }
}

/// Draw `n` factor combinations uniformly (each factor independently, as dlib samples).
pub fn sample_factors<R: Rng + ?Sized>(sizes: &[usize], n: usize, rng: &mut R) -> Vec<Vec<usize>> {
    (0..n)
        .map(|_| sizes.iter().map(|&s| rng.gen_range(0..s)).collect())
        .collect()
}

/// Images of a batch of factor combinations, concatenated (`n × image_len`).
pub fn images(data: &dyn ImageData, factors: &[Vec<usize>]) -> Vec<f32> {
    let len = data.image_len();
    let mut out = vec![0.0; factors.len() * len];
    for (f, chunk) in factors.iter().zip(out.chunks_mut(len)) {
        data.image_into(f, chunk);
    }
    out
}
