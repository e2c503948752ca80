//! Shapes3D (Burgess & Kim 2018), the paper's Fig. 5 dataset: a loader for the real
//! `3dshapes.h5` and a synthetic look-alike renderer with the same factor grid.
//!
//! Factors (file order, orientation fastest): floor hue 10, wall hue 10, object hue 10,
//! scale 8, shape 4, orientation 15 — 480 000 images of 64×64×3 uint8. The file's `labels` hold
//! factor *values* (hues 0.0–0.9, scale linspace(0.75, 1.25, 8), shape 0–3, orientation
//! linspace(−30, 30, 15)); like TFDS we turn them into classes by sorting each column's
//! distinct values. Images are read from the chunked, gzip-compressed HDF5 dataset one at a
//! time (pure-Rust `rust-hdf5`; no libhdf5), so the 5.9 GB of pixels are never all in memory.
//!
//! The real scenes were rendered with MuJoCo and cannot be regenerated here.
//! [`Shapes3dLike`] draws a 2.5-D stand-in for tests, CI and CPU-scale runs — a wall and a
//! floor split at a horizon, an object primitive (cube, cylinder, sphere, capsule) with a hue,
//! a size and an in-plane tilt, simple shading — and says so in its name. Metric values on it
//! are not comparable with published Shapes3D numbers.

use super::npz::{check_md5, FileError};
use super::{ImageData, IMAGE_SIDE};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::sync::Mutex;

/// Factor sizes in file order.
pub const FACTOR_SIZES: [usize; 6] = [10, 10, 10, 8, 4, 15];
/// Factor names in file order.
pub const FACTOR_NAMES: [&str; 6] = [
    "floor_hue",
    "wall_hue",
    "object_hue",
    "scale",
    "shape",
    "orientation",
];
/// MD5 of the official `3dshapes.h5` (disent's `uri_hash["full"]`).
pub const SHAPES3D_H5_MD5: &str = "099a2078d58cec4daad0702c55d06868";

/// HSV (s = v = 1 scaled by `v`) to RGB, all in [0, 1].
fn hue_rgb(h: f64, s: f64, v: f64) -> [f64; 3] {
    let h6 = (h.rem_euclid(1.0)) * 6.0;
    let i = h6.floor();
    let f = h6 - i;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i as i32 {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// The synthetic Shapes3D look-alike.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shapes3dLike;

impl Shapes3dLike {
    /// Render `factors` (class indices, file order) into `out` (3 × 64 × 64, channel-major).
    pub fn render_into(&self, factors: &[usize], out: &mut [f32]) {
        let n = IMAGE_SIDE;
        let floor = hue_rgb(factors[0] as f64 / 10.0, 0.9, 1.0);
        let wall = hue_rgb(factors[1] as f64 / 10.0, 0.9, 1.0);
        let obj = hue_rgb(factors[2] as f64 / 10.0, 0.9, 1.0);
        let scale = 0.75 + 0.5 * factors[3] as f64 / 7.0;
        let shape = factors[4];
        let theta = (-30.0 + 60.0 * factors[5] as f64 / 14.0).to_radians();
        let horizon = 40.0;
        // Object: centred at x = 32, resting on the floor at y = 50; half-size ~ 9 px · scale.
        let half = 9.0 * scale;
        let (cx, cy) = (32.0, 50.0 - half);
        let (s, c) = theta.sin_cos();
        let ss = 3; // supersampling for smooth edges
        for r in 0..n {
            for col in 0..n {
                let mut acc = [0.0f64; 3];
                for i in 0..ss {
                    for j in 0..ss {
                        let y = r as f64 + (i as f64 + 0.5) / ss as f64;
                        let x = col as f64 + (j as f64 + 0.5) / ss as f64;
                        let bg = if y < horizon {
                            // Wall: slightly darker towards the top.
                            let v = 0.75 + 0.25 * y / horizon;
                            [wall[0] * v, wall[1] * v, wall[2] * v]
                        } else {
                            // Floor: lighter towards the viewer.
                            let v = 0.7 + 0.3 * (y - horizon) / (n as f64 - horizon);
                            [floor[0] * v, floor[1] * v, floor[2] * v]
                        };
                        // Object frame: rotate by the orientation about the object's centre.
                        let (dx, dy) = (x - cx, y - cy);
                        let u = (c * dx + s * dy) / half;
                        let v = (-s * dx + c * dy) / half;
                        let inside = match shape {
                            0 => u.abs() <= 1.0 && v.abs() <= 1.0,
                            1 => {
                                u.abs() <= 0.8
                                    && (v.abs() <= 1.0
                                        || (u / 0.8).powi(2) + ((v.abs() - 1.0) / 0.3).powi(2)
                                            <= 1.0)
                            }
                            2 => dx * dx + dy * dy <= half * half,
                            _ => {
                                let vv = (v.abs() - 0.5).max(0.0);
                                (u / 0.6).powi(2) + (vv / 0.6).powi(2) <= 1.0
                            }
                        };
                        let px = if inside {
                            // Lambert-ish shading across the object.
                            let light = match shape {
                                2 => {
                                    0.55 + 0.45
                                        * (1.0 - (dx * dx + dy * dy) / (half * half))
                                            .max(0.0)
                                            .sqrt()
                                }
                                0 if v < -0.6 => 1.0,
                                _ => 0.65 + 0.3 * (1.0 - u.abs()),
                            };
                            [obj[0] * light, obj[1] * light, obj[2] * light]
                        } else {
                            bg
                        };
                        for k in 0..3 {
                            acc[k] += px[k];
                        }
                    }
                }
                for k in 0..3 {
                    out[k * n * n + r * n + col] = (acc[k] / (ss * ss) as f64) as f32;
                }
            }
        }
    }
}

impl ImageData for Shapes3dLike {
    fn name(&self) -> &str {
        "Shapes3D-like (synthetic look-alike, not the real renders)"
    }
    fn factor_names(&self) -> Vec<String> {
        FACTOR_NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn factor_sizes(&self) -> Vec<usize> {
        FACTOR_SIZES.to_vec()
    }
    fn channels(&self) -> usize {
        3
    }
    fn image_into(&self, factors: &[usize], out: &mut [f32]) {
        self.render_into(factors, out);
    }
}

/// The real `3dshapes.h5` (or a file in its layout), images read on demand.
pub struct Shapes3dH5 {
    path: PathBuf,
    sizes: Vec<usize>,
    /// Requests to the reader thread, which owns the (single-threaded) HDF5 handle.
    reader: Mutex<mpsc::Sender<ReadRequest>>,
    name: String,
}

type ReadRequest = (
    usize,
    mpsc::Sender<Result<Vec<u8>, Arc<rust_hdf5::Hdf5Error>>>,
);

/// Serve image reads from one thread (`rust-hdf5` handles are not `Send`). A failure to open
/// the file is the answer to every request, hence the `Arc`.
fn spawn_reader(path: PathBuf) -> mpsc::Sender<ReadRequest> {
    let (tx, rx) = mpsc::channel::<ReadRequest>();
    std::thread::spawn(move || {
        let opened = rust_hdf5::H5File::open(&path)
            .and_then(|f| f.dataset("images").map(|d| (f, d)))
            .map_err(Arc::new);
        for (i, reply) in rx {
            let out = match &opened {
                Ok((_, ds)) => ds
                    .read_slice::<u8>(&[i, 0, 0, 0], &[1, IMAGE_SIDE, IMAGE_SIDE, 3])
                    .map_err(Arc::new),
                Err(e) => Err(Arc::clone(e)),
            };
            let _ = reply.send(out);
        }
    });
    tx
}

fn h5err(path: &Path, what: &str, e: rust_hdf5::Hdf5Error) -> FileError {
    FileError::Hdf5 {
        path: path.to_path_buf(),
        what: what.to_string(),
        source: Arc::new(e),
    }
}

impl Shapes3dH5 {
    /// Open `path`; `md5` = `Some(hex)` checks the file first ([`SHAPES3D_H5_MD5`] for the
    /// official file), `None` skips it.
    pub fn open(path: &Path, md5: Option<&str>) -> Result<Shapes3dH5, FileError> {
        if !path.exists() {
            return Err(FileError::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        if let Some(m) = md5 {
            check_md5(path, m)?;
        }
        let file = rust_hdf5::H5File::open(path)
            .map_err(|e| h5err(path, "not a readable HDF5 file", e))?;
        let labels_ds = file.dataset("labels").map_err(|e| {
            h5err(
                path,
                "no dataset 'labels' (expected the 3dshapes.h5 layout)",
                e,
            )
        })?;
        let lshape = labels_ds.shape();
        if lshape.len() != 2 || lshape[1] != 6 {
            return Err(FileError::format(
                path,
                format!("labels has shape {lshape:?}, expected (N, 6)"),
            ));
        }
        let labels: Vec<f64> = labels_ds
            .read_raw::<f64>()
            .map_err(|e| h5err(path, "labels is unreadable (corrupt or truncated?)", e))?;
        let n = lshape[0];
        // Classes per column by sorting the distinct values (as TFDS does).
        let mut uniques: Vec<Vec<f64>> = Vec::with_capacity(6);
        for k in 0..6 {
            let mut col: Vec<f64> = labels.iter().skip(k).step_by(6).copied().collect();
            if col.iter().any(|v| !v.is_finite()) {
                return Err(FileError::format(
                    path,
                    format!("labels column {k} holds NaN/inf"),
                ));
            }
            col.sort_by(f64::total_cmp);
            col.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
            uniques.push(col);
        }
        let sizes: Vec<usize> = uniques.iter().map(Vec::len).collect();
        if sizes.iter().product::<usize>() != n {
            return Err(FileError::format(
                path,
                format!("{n} rows do not form the factor grid {sizes:?}"),
            ));
        }
        for (i, row) in labels.chunks_exact(6).enumerate() {
            let mut rest = i;
            for k in (0..6).rev() {
                let want = uniques[k][rest % sizes[k]];
                if (row[k] - want).abs() > 1e-6 {
                    return Err(FileError::format(
                        path,
                        format!("labels row {i} is {row:?}: not in factorial order (orientation fastest)"),
                    ));
                }
                rest /= sizes[k];
            }
        }
        let images = file
            .dataset("images")
            .map_err(|e| h5err(path, "no dataset 'images'", e))?;
        let ishape = images.shape();
        if ishape != [n, IMAGE_SIDE, IMAGE_SIDE, 3] {
            return Err(FileError::format(
                path,
                format!("images has shape {ishape:?}, expected ({n}, 64, 64, 3)"),
            ));
        }
        if images.element_size() != 1 {
            return Err(FileError::format(path, "images must be uint8"));
        }
        let name = if sizes == FACTOR_SIZES {
            "Shapes3D (3dshapes.h5)".to_string()
        } else {
            format!("Shapes3D (h5, grid {sizes:?})")
        };
        drop(images);
        drop(labels_ds);
        drop(file);
        let set = Shapes3dH5 {
            path: path.to_path_buf(),
            sizes,
            reader: Mutex::new(spawn_reader(path.to_path_buf())),
            name,
        };
        // Read the last image now so that a truncated file fails here, not mid-training.
        set.read_hwc(n - 1)?;
        Ok(set)
    }

    /// Pixels of image `i` (file order) as stored: 64 × 64 × 3 uint8.
    pub fn read_hwc(&self, i: usize) -> Result<Vec<u8>, FileError> {
        let (tx, rx) = mpsc::channel();
        let sent = self
            .reader
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send((i, tx));
        let what = format!("images[{i}] is unreadable");
        let stopped = || FileError::ReaderStopped {
            path: self.path.clone(),
            what: what.clone(),
        };
        if sent.is_err() {
            return Err(stopped());
        }
        match rx.recv() {
            Ok(r) => r.map_err(|source| FileError::Hdf5 {
                path: self.path.clone(),
                what: what.clone(),
                source,
            }),
            Err(_) => Err(stopped()),
        }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.sizes.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ImageData for Shapes3dH5 {
    fn name(&self) -> &str {
        &self.name
    }
    fn factor_names(&self) -> Vec<String> {
        FACTOR_NAMES.iter().map(|s| s.to_string()).collect()
    }
    fn factor_sizes(&self) -> Vec<usize> {
        self.sizes.clone()
    }
    fn channels(&self) -> usize {
        3
    }
    /// Panics only if the file became unreadable after [`Shapes3dH5::open`] checked it.
    fn image_into(&self, factors: &[usize], out: &mut [f32]) {
        let i = factors
            .iter()
            .zip(&self.sizes)
            .fold(0, |acc, (f, s)| acc * s + f);
        let hwc = self
            .read_hwc(i)
            .unwrap_or_else(|e| panic!("{e} (the file changed after it was opened?)"));
        let n = IMAGE_SIDE * IMAGE_SIDE;
        for p in 0..n {
            for k in 0..3 {
                out[k * n + p] = hwc[p * 3 + k] as f32 / 255.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/shapes3d_tiny.h5")
    }

    #[test]
    fn reads_an_h5py_written_file() {
        let set = Shapes3dH5::open(&fixture(), Some("10dea3e5bdb0f8a0f6ce00890de881f6")).unwrap();
        assert_eq!(set.factor_sizes(), vec![2, 1, 2, 2, 2, 3]);
        assert_eq!(set.len(), 48);
        let mut img = vec![0.0f32; 3 * 4096];
        for (i, f) in [
            (0usize, [0, 0, 0, 0, 0, 0]),
            (47, [1, 0, 1, 1, 1, 2]),
            (29, [1, 0, 0, 0, 1, 2]),
        ] {
            set.image_into(&f, &mut img);
            for (r, c, ch) in [(0usize, 0usize, 0usize), (5, 9, 1), (63, 63, 2)] {
                let want = ((37 * i + 11 * ch + r + 2 * c) % 256) as f32 / 255.0;
                assert_eq!(
                    img[ch * 4096 + r * 64 + c],
                    want,
                    "image {i} ({r},{c},{ch})"
                );
            }
        }
    }

    #[test]
    fn corrupt_truncated_and_wrong_md5_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = std::fs::read(fixture()).unwrap();
        let err = Shapes3dH5::open(&fixture(), Some(SHAPES3D_H5_MD5))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("shapes3d_tiny.h5") && err.contains("MD5"),
            "{err}"
        );
        for (name, data) in [
            ("cut.h5", bytes[..bytes.len() * 2 / 3].to_vec()),
            ("head.h5", bytes[..200].to_vec()),
            ("junk.h5", b"not hdf5 at all".to_vec()),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, data).unwrap();
            let err = Shapes3dH5::open(&p, None).err().map(|e| e.to_string());
            let err = err.unwrap_or_else(|| panic!("{name} opened"));
            assert!(err.contains(name), "{err}");
        }
        let err = Shapes3dH5::open(&dir.path().join("none.h5"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("none.h5"), "{err}");
    }

    #[test]
    fn look_alike_varies_with_every_factor() {
        let d = Shapes3dLike;
        let base = [3, 6, 0, 4, 0, 7];
        let mut a = vec![0.0; 3 * 4096];
        d.render_into(&base, &mut a);
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)));
        for k in 0..6 {
            let mut f = base;
            f[k] = (f[k] + 2) % FACTOR_SIZES[k];
            let mut b = vec![0.0; 3 * 4096];
            d.render_into(&f, &mut b);
            let diff: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum();
            assert!(diff > 1.0, "factor {k} changes nothing");
        }
    }
}
