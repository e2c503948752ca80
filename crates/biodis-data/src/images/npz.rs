//! The real dSprites file (`dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz`): loader with an
//! MD5 check, and a writer of the procedural set in the same layout (`biodis data dsprites`).
//!
//! The npz is a zip of `.npy` arrays: `imgs` (N, 64, 64) uint8 in {0, 1}, `latents_values`
//! (N, 6) float64, `latents_classes` (N, 6) int64, and `metadata` (a pickled Python-2 dict,
//! skipped: nothing here unpickles). Rows are in factorial order, posY fastest
//! (see [`super::dsprites`]). The loader keeps the images bit-packed (4096 bits each, 377 MB for
//! the full set instead of 3 GB) and reads the factor grid from `latents_classes`, so a file
//! holding the first k classes of each factor (what `--sizes` writes) loads the same way.

use super::dsprites::{latent_values, DSprites, LATENT_SIZES, SIDE};
use super::ImageData;
use md5::{Digest, Md5};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// MD5 of the official `dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz` (deepmind/dsprites-dataset;
/// the same checksum is used by several independent loaders).
pub const DSPRITES_NPZ_MD5: &str = "7da33b31b13a06f4b04a70402ce90c2e";

/// Errors reading or writing a dataset file. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The contents are not the expected layout (`msg` says what is wrong).
    #[error("{path}: {msg}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The zip layer refused the archive or a write (`what` says which).
    #[error("{path}: {what}: {source}")]
    Zip {
        /// The file.
        path: PathBuf,
        /// What was being read or written.
        what: String,
        /// The cause.
        source: zip::result::ZipError,
    },
    /// A read inside the file failed (`what` says what was being read).
    #[error("{path}: {what} ({source})")]
    Read {
        /// The file.
        path: PathBuf,
        /// What was being read or written.
        what: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The HDF5 reader refused the file or a read (`what` says which).
    #[error("{path}: {what}: {source}")]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// What was being read or written.
        what: String,
        /// The cause.
        source: std::sync::Arc<rust_hdf5::Hdf5Error>,
    },
    /// The thread that owns an HDF5 file's handle is gone (it panicked).
    #[error("{path}: {what}: the reader thread stopped")]
    ReaderStopped {
        /// The file.
        path: PathBuf,
        /// What was being read or written.
        what: String,
    },
    /// The file's checksum is not the expected one.
    #[error(
        "{path}: MD5 {actual} does not match the expected {expected} \
         (a corrupt or different file; pass md5 = \"skip\" to load it anyway)"
    )]
    Md5 {
        /// The file.
        path: PathBuf,
        /// The expected MD5.
        expected: String,
        /// The MD5 of the file.
        actual: String,
    },
}

impl FileError {
    pub(crate) fn format(path: &Path, msg: impl Into<String>) -> FileError {
        FileError::Format {
            path: path.to_path_buf(),
            msg: msg.into(),
        }
    }
    pub(crate) fn io(path: &Path, source: std::io::Error) -> FileError {
        FileError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Hex MD5 of a file (streamed).
pub fn md5_file(path: &Path) -> Result<String, FileError> {
    let mut f = std::fs::File::open(path).map_err(|e| FileError::io(path, e))?;
    let mut h = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| FileError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Check a file's MD5 against `expected` (hex, case-insensitive).
pub fn check_md5(path: &Path, expected: &str) -> Result<(), FileError> {
    let actual = md5_file(path)?;
    if actual.eq_ignore_ascii_case(expected.trim()) {
        Ok(())
    } else {
        Err(FileError::Md5 {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Element type of an `.npy` array we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    U8,
    I64,
    F64,
}

/// Parsed `.npy` header.
#[derive(Debug)]
struct NpyHeader {
    dtype: Dtype,
    shape: Vec<usize>,
}

/// Read and parse an `.npy` header (format versions 1–3), leaving the reader at the data.
/// The longest `.npy` header accepted inside an npz (numpy's own are a few hundred bytes).
const MAX_HEADER: usize = 1 << 16;

fn read_npy_header<R: Read>(r: &mut R, path: &Path, key: &str) -> Result<NpyHeader, FileError> {
    let bad = |msg: String| FileError::format(path, format!("array '{key}': {msg}"));
    let truncated = |source| FileError::Read {
        path: path.to_path_buf(),
        what: format!("array '{key}': truncated header"),
        source,
    };
    let mut magic = [0u8; 8];
    r.read_exact(&mut magic).map_err(truncated)?;
    if &magic[..6] != b"\x93NUMPY" {
        return Err(bad("not an .npy array (bad magic)".into()));
    }
    let len = if magic[6] == 1 {
        let mut l = [0u8; 2];
        r.read_exact(&mut l).map_err(truncated)?;
        u16::from_le_bytes(l) as usize
    } else {
        let mut l = [0u8; 4];
        r.read_exact(&mut l).map_err(truncated)?;
        u32::from_le_bytes(l) as usize
    };
    if len > MAX_HEADER {
        // numpy writes headers of a few hundred bytes; a huge length is a damaged file
        return Err(bad(format!(
            "header length {len} bytes (more than {MAX_HEADER}): the file is damaged"
        )));
    }
    let mut text = vec![0u8; len];
    r.read_exact(&mut text).map_err(truncated)?;
    let text = String::from_utf8_lossy(&text).to_string();
    let field = |name: &str| -> Option<String> {
        let at = text.find(&format!("'{name}'"))?;
        let rest = &text[at + name.len() + 2..];
        let colon = rest.find(':')?;
        Some(rest[colon + 1..].trim_start().to_string())
    };
    let descr = field("descr").ok_or_else(|| bad(format!("header without descr: {text}")))?;
    let descr = descr.trim_start_matches('\'');
    let dtype = if descr.starts_with("|u1") || descr.starts_with("<u1") || descr.starts_with("|b1")
    {
        Dtype::U8
    } else if descr.starts_with("<i8") {
        Dtype::I64
    } else if descr.starts_with("<f8") {
        Dtype::F64
    } else {
        return Err(bad(format!(
            "dtype {} is not supported (expected uint8, int64 or float64, little-endian)",
            descr.split('\'').next().unwrap_or(descr)
        )));
    };
    if field("fortran_order").is_some_and(|f| f.starts_with("True")) {
        return Err(bad("Fortran-ordered arrays are not supported".into()));
    }
    let shape_text = field("shape").ok_or_else(|| bad("header without shape".into()))?;
    let inner = shape_text
        .trim_start_matches('(')
        .split(')')
        .next()
        .unwrap_or("");
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad(format!("unreadable shape {shape_text}")))?;
    Ok(NpyHeader { dtype, shape })
}

fn open_entry<'a, R: Read + Seek>(
    zip: &'a mut zip::ZipArchive<R>,
    path: &Path,
    key: &str,
) -> Result<zip::read::ZipFile<'a, R>, FileError> {
    let names: Vec<String> = zip.file_names().map(str::to_string).collect();
    zip.by_name(&format!("{key}.npy")).map_err(|_| {
        FileError::format(
            path,
            format!(
                "no array '{key}' in the npz (it holds: {})",
                names.join(", ")
            ),
        )
    })
}

/// Read a whole int64 array (N, k) into i64s.
fn read_i64_matrix<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    path: &Path,
    key: &str,
) -> Result<(Vec<usize>, Vec<i64>), FileError> {
    let mut e = open_entry(zip, path, key)?;
    let h = read_npy_header(&mut e, path, key)?;
    if h.dtype != Dtype::I64 {
        return Err(FileError::format(
            path,
            format!("array '{key}' must be int64, found {:?}", h.dtype),
        ));
    }
    let want = h
        .shape
        .iter()
        .try_fold(8usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            FileError::format(
                path,
                format!("array '{key}' declares the shape {:?}, too large", h.shape),
            )
        })?;
    // read what is there (at most the declared size) before trusting the declared shape: the
    // buffer grows with the bytes that arrive, so a damaged header cannot allocate for them
    let mut bytes = Vec::with_capacity(want.min(1 << 20));
    (&mut e)
        .take(want as u64)
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            what: format!("array '{key}' is truncated or corrupt"),
            source,
        })?;
    if bytes.len() != want {
        return Err(FileError::format(
            path,
            format!(
                "array '{key}' is truncated: shape {:?} needs {want} bytes, found {}",
                h.shape,
                bytes.len()
            ),
        ));
    }
    let vals = bytes
        .chunks_exact(8)
        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
        .collect();
    Ok((h.shape, vals))
}

/// The real (or a written) dSprites npz, images bit-packed in memory.
pub struct DSpritesNpz {
    path: PathBuf,
    /// Classes per factor found in the file (color, shape, scale, orientation, posX, posY).
    sizes: [usize; 6],
    /// 64 words (4096 bits) per image, in file order.
    bits: Vec<u64>,
    name: String,
}

impl DSpritesNpz {
    /// Open `path`; `md5` = `Some(hex)` checks the file first (use [`DSPRITES_NPZ_MD5`] for the
    /// official file), `None` skips the check.
    pub fn open(path: &Path, md5: Option<&str>) -> Result<DSpritesNpz, FileError> {
        if let Some(m) = md5 {
            check_md5(path, m)?;
        }
        let f = std::fs::File::open(path).map_err(|e| FileError::io(path, e))?;
        let mut zip =
            zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|source| FileError::Zip {
                path: path.to_path_buf(),
                what: "not a readable npz (zip) file".into(),
                source,
            })?;
        let (cshape, classes) = read_i64_matrix(&mut zip, path, "latents_classes")?;
        if cshape.len() != 2 || cshape[1] != 6 {
            return Err(FileError::format(
                path,
                format!("latents_classes has shape {cshape:?}, expected (N, 6)"),
            ));
        }
        let n = cshape[0];
        let mut sizes = [0usize; 6];
        for row in classes.chunks_exact(6) {
            for k in 0..6 {
                if row[k] < 0 || row[k] as usize >= LATENT_SIZES[k] {
                    return Err(FileError::format(
                        path,
                        format!(
                            "latents_classes column {k} holds {}, outside 0..{}",
                            row[k], LATENT_SIZES[k]
                        ),
                    ));
                }
                sizes[k] = sizes[k].max(row[k] as usize + 1);
            }
        }
        if sizes.iter().product::<usize>() != n {
            return Err(FileError::format(
                path,
                format!("{n} rows do not form the factor grid {sizes:?}"),
            ));
        }
        // Rows must be in factorial order, posY fastest.
        for (i, row) in classes.chunks_exact(6).enumerate() {
            let mut rest = i;
            for k in (0..6).rev() {
                if row[k] as usize != rest % sizes[k] {
                    return Err(FileError::format(
                        path,
                        format!("row {i} of latents_classes is {row:?}: not in factorial order (posY fastest)"),
                    ));
                }
                rest /= sizes[k];
            }
        }
        let mut e = open_entry(&mut zip, path, "imgs")?;
        let h = read_npy_header(&mut e, path, "imgs")?;
        if h.dtype != Dtype::U8 || h.shape != [n, SIDE, SIDE] {
            return Err(FileError::format(
                path,
                format!(
                    "imgs is {:?} {:?}, expected uint8 ({n}, 64, 64)",
                    h.dtype, h.shape
                ),
            ));
        }
        let mut bits = vec![0u64; n * 64];
        let mut img = vec![0u8; SIDE * SIDE];
        for i in 0..n {
            e.read_exact(&mut img).map_err(|source| FileError::Read {
                path: path.to_path_buf(),
                what: format!("imgs is truncated or corrupt at image {i} of {n}"),
                source,
            })?;
            for (p, &v) in img.iter().enumerate() {
                match v {
                    0 => {}
                    1 => bits[i * 64 + p / 64] |= 1 << (p % 64),
                    _ => {
                        return Err(FileError::format(
                            path,
                            format!("imgs[{i}] holds the value {v}; dSprites images are 0/1"),
                        ))
                    }
                }
            }
        }
        let name = if sizes == LATENT_SIZES {
            "dSprites (npz)".to_string()
        } else {
            format!("dSprites (npz, grid {sizes:?})")
        };
        Ok(DSpritesNpz {
            path: path.to_path_buf(),
            sizes,
            bits,
            name,
        })
    }

    /// The file this set was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.bits.len() / 64
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// Binary image `i` (file order), 0/1 bytes.
    pub fn image(&self, i: usize) -> Vec<u8> {
        (0..SIDE * SIDE)
            .map(|p| ((self.bits[i * 64 + p / 64] >> (p % 64)) & 1) as u8)
            .collect()
    }

    fn index(&self, classes: &[usize; 6]) -> usize {
        classes
            .iter()
            .zip(self.sizes)
            .fold(0, |acc, (c, s)| acc * s + c)
    }
}

impl ImageData for DSpritesNpz {
    fn name(&self) -> &str {
        &self.name
    }
    fn factor_names(&self) -> Vec<String> {
        super::dsprites::LATENT_NAMES[1..]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
    fn factor_sizes(&self) -> Vec<usize> {
        self.sizes[1..].to_vec()
    }
    fn channels(&self) -> usize {
        1
    }
    fn image_into(&self, factors: &[usize], out: &mut [f32]) {
        let i = self.index(&[
            0, factors[0], factors[1], factors[2], factors[3], factors[4],
        ]);
        for (p, o) in out.iter_mut().enumerate() {
            *o = ((self.bits[i * 64 + p / 64] >> (p % 64)) & 1) as f32;
        }
    }
}

fn npy_header(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad so that magic (6) + version (2) + length (2) + dict + '\n' is a multiple of 64.
    while (10 + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Write the procedural set as an npz in the official layout (`imgs`, `latents_values`,
/// `latents_classes`; no pickled metadata), deflate-compressed. `sizes` keeps the first
/// `sizes[k]` classes of each factor (the full set: [`LATENT_SIZES`]). `progress` is called
/// with the number of images written so far.
pub fn write_dsprites_npz(
    path: &Path,
    renderer: &DSprites,
    sizes: [usize; 6],
    mut progress: impl FnMut(usize),
) -> Result<usize, FileError> {
    for k in 0..6 {
        if sizes[k] == 0 || sizes[k] > LATENT_SIZES[k] {
            return Err(FileError::format(
                path,
                format!(
                    "sizes[{k}] = {} must be in 1..={} (factor {})",
                    sizes[k],
                    LATENT_SIZES[k],
                    super::dsprites::LATENT_NAMES[k]
                ),
            ));
        }
    }
    let n: usize = sizes.iter().product();
    let classes_of = |mut i: usize| {
        let mut c = [0usize; 6];
        for k in (0..6).rev() {
            c[k] = i % sizes[k];
            i /= sizes[k];
        }
        c
    };
    let f = std::fs::File::create(path).map_err(|e| FileError::io(path, e))?;
    let mut zip = zip::ZipWriter::new(std::io::BufWriter::new(f));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .large_file(true);
    let zerr = |source: zip::result::ZipError| FileError::Zip {
        path: path.to_path_buf(),
        what: "writing the npz".into(),
        source,
    };
    let ioerr = |e: std::io::Error| FileError::io(path, e);

    zip.start_file("latents_classes.npy", opts).map_err(zerr)?;
    zip.write_all(&npy_header("<i8", &[n, 6])).map_err(ioerr)?;
    for i in 0..n {
        for c in classes_of(i) {
            zip.write_all(&(c as i64).to_le_bytes()).map_err(ioerr)?;
        }
    }
    zip.start_file("latents_values.npy", opts).map_err(zerr)?;
    zip.write_all(&npy_header("<f8", &[n, 6])).map_err(ioerr)?;
    for i in 0..n {
        for v in latent_values(&classes_of(i)) {
            zip.write_all(&v.to_le_bytes()).map_err(ioerr)?;
        }
    }
    zip.start_file("imgs.npy", opts).map_err(zerr)?;
    zip.write_all(&npy_header("|u1", &[n, SIDE, SIDE]))
        .map_err(ioerr)?;
    // Render in blocks on all cores, write in order.
    let threads = std::thread::available_parallelism().map_or(1, |t| t.get());
    let block = 4096;
    let mut buf = vec![0u8; block * SIDE * SIDE];
    let mut start = 0;
    while start < n {
        let m = block.min(n - start);
        let per = m.div_ceil(threads);
        std::thread::scope(|s| {
            for (t, chunk) in buf[..m * SIDE * SIDE]
                .chunks_mut(per * SIDE * SIDE)
                .enumerate()
            {
                s.spawn(move || {
                    for (j, img) in chunk.chunks_mut(SIDE * SIDE).enumerate() {
                        renderer.render_into(&classes_of(start + t * per + j), img);
                    }
                });
            }
        });
        zip.write_all(&buf[..m * SIDE * SIDE]).map_err(ioerr)?;
        start += m;
        progress(start);
    }
    zip.finish().map_err(zerr)?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_npz_loads_back_and_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.npz");
        let sizes = [1, 3, 2, 3, 2, 4];
        let d = DSprites::default();
        let n = write_dsprites_npz(&path, &d, sizes, |_| {}).unwrap();
        assert_eq!(n, 144);
        let set = DSpritesNpz::open(&path, None).unwrap();
        assert_eq!(set.len(), 144);
        assert_eq!(set.factor_sizes(), vec![3, 2, 3, 2, 4]);
        let mut img = vec![0.0; 4096];
        set.image_into(&[2, 1, 2, 1, 3], &mut img);
        let want = d.render(&[0, 2, 1, 2, 1, 3]);
        assert!(img.iter().zip(&want).all(|(a, &b)| *a == b as f32));
        assert!(img.contains(&1.0));

        // MD5: the right one passes, a wrong one is refused with both sums in the message.
        let sum = md5_file(&path).unwrap();
        DSpritesNpz::open(&path, Some(&sum)).unwrap();
        let err = DSpritesNpz::open(&path, Some(DSPRITES_NPZ_MD5))
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("d.npz") && err.contains(DSPRITES_NPZ_MD5),
            "{err}"
        );

        // Truncated: a clear error naming the file, never a panic.
        let bytes = std::fs::read(&path).unwrap();
        let cut = dir.path().join("cut.npz");
        std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
        let err = DSpritesNpz::open(&cut, None).err().unwrap().to_string();
        assert!(err.contains("cut.npz"), "{err}");
        // Not a zip at all.
        let junk = dir.path().join("junk.npz");
        std::fs::write(&junk, b"hello").unwrap();
        let err = DSpritesNpz::open(&junk, None).err().unwrap().to_string();
        assert!(err.contains("junk.npz") && err.contains("npz"), "{err}");
        // Missing file.
        let err = DSpritesNpz::open(&dir.path().join("none.npz"), None)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("none.npz"), "{err}");
    }

    #[test]
    fn npy_headers_round_trip() {
        let h = npy_header("<i8", &[737280, 6]);
        assert_eq!(h.len() % 64, 0);
        let parsed = read_npy_header(&mut &h[..], Path::new("x"), "k").unwrap();
        assert_eq!(parsed.dtype, Dtype::I64);
        assert_eq!(parsed.shape, vec![737280, 6]);
        let h = npy_header("|u1", &[5]);
        let parsed = read_npy_header(&mut &h[..], Path::new("x"), "k").unwrap();
        assert_eq!(parsed.shape, vec![5]);
        let bad = npy_header("<f4", &[5]);
        let err = read_npy_header(&mut &bad[..], Path::new("x"), "k")
            .unwrap_err()
            .to_string();
        assert!(err.contains("<f4"), "{err}");
    }
}
