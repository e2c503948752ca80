//! Arrays and samples × dims matrices from `.npy`, `.npz` or `.csv` files, chosen by the file's
//! extension: the one loader of `biodis score` (latents, factors) and `biodis spatial`
//! (ratemaps), so that a file is read, and refused, the same way everywhere.
//!
//! - `.npy`: any dtype [`crate::npy`] reads (floats, integers, bool), as `f64`;
//! - `.npz`: the member named by `key`; without a key the archive must hold exactly one array
//!   ([`MatrixError::SeveralArrays`] lists them otherwise, [`MatrixError::NoSuchArray`] when
//!   the key is not there);
//! - `.csv` / `.txt`: numbers read by [`crate::csv`] (delimiter detected, an optional header
//!   line); what the reader noticed comes back in [`CsvNotes`] for the caller to report;
//! - any other extension is a [`MatrixError::UnsupportedExtension`].
//!
//! `key` is ignored for `.npy` and `.csv`. [`read_array`] keeps the array's shape;
//! [`read_matrix_unchecked`] makes it samples × dims (a 1-D array is one column) and
//! [`read_matrix`] also requires at least 2 samples and finite values. Every error names the
//! file (and the `.npz` member).

use crate::csv::CsvError;
use crate::npy::{Array, NpyError};
use ndarray::Array2;
use std::path::Path;

/// Why a file could not be read as an array or a samples × dims matrix. Every message starts
/// with the file.
#[derive(Debug, thiserror::Error)]
pub enum MatrixError {
    /// The `.npy` / `.npz` reader refused the file.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// The CSV reader refused the file.
    #[error(transparent)]
    Csv(#[from] CsvError),
    /// The extension is none of `.npy`, `.npz`, `.csv`, `.txt`.
    #[error("{path}: unsupported extension '.{ext}' (expected .npy, .npz or .csv)")]
    UnsupportedExtension {
        /// The file.
        path: String,
        /// Its extension, lower-cased (empty when it has none).
        ext: String,
    },
    /// `key` names no member of the `.npz` archive.
    #[error("{path}: no array named '{key}'; it holds: {}", .names.join(", "))]
    NoSuchArray {
        /// The archive.
        path: String,
        /// The name asked for.
        key: String,
        /// The names it holds.
        names: Vec<String>,
    },
    /// No `key` was given and the `.npz` archive holds more than one array.
    #[error("{path}: holds several arrays ({}); choose one by name", .names.join(", "))]
    SeveralArrays {
        /// The archive.
        path: String,
        /// The names it holds.
        names: Vec<String>,
    },
    /// The `.npz` archive holds no array.
    #[error("{path}: holds no arrays")]
    NoArrays {
        /// The archive.
        path: String,
    },
    /// The array is not 1-D or 2-D, so it is not a samples × dims matrix.
    #[error("{what}: expected a 1-D or 2-D array (samples × dims), got {dims} dimensions")]
    Dimensions {
        /// The file, and the member of an `.npz`.
        what: String,
        /// The array's number of dimensions.
        dims: usize,
    },
    /// The values do not fill the shape (a reader bug; never expected).
    #[error("{what}: {source}")]
    Shape {
        /// The file, and the member of an `.npz`.
        what: String,
        /// ndarray's complaint.
        source: ndarray::ShapeError,
    },
    /// Fewer than 2 samples (rows).
    #[error("{path}: {samples} samples; at least 2 are needed")]
    TooFewSamples {
        /// The file.
        path: String,
        /// Its number of rows.
        samples: usize,
    },
    /// A NaN or infinite value.
    #[error("{path}: non-finite value ({value}) at sample {row}, column {col}")]
    NonFinite {
        /// The file.
        path: String,
        /// The value.
        value: f64,
        /// Its sample (row).
        row: usize,
        /// Its column.
        col: usize,
    },
}

/// What the CSV reader noticed about a file, for the caller to tell the user (a first line
/// taken as a header is never dropped silently).
#[derive(Debug, Clone, PartialEq)]
pub struct CsvNotes {
    /// The line number (1-based) and text of a non-numeric first line taken as a header.
    pub header: Option<(usize, String)>,
    /// The detected delimiter.
    pub delimiter: char,
}

impl CsvNotes {
    /// The notes as sentences naming `path`: the header line (its first 80 characters), and
    /// the delimiter when it is not a comma.
    pub fn messages(&self, path: &Path) -> Vec<String> {
        let shown = path.display();
        let mut out = Vec::new();
        if let Some((ln, h)) = &self.header {
            let shown_h: String = h.chars().take(80).collect();
            out.push(format!(
                "{shown}: line {ln} ('{shown_h}') is not numeric; taken as a header of column names"
            ));
        }
        if self.delimiter != ',' {
            out.push(format!(
                "{shown}: columns separated by {:?}",
                self.delimiter
            ));
        }
        out
    }
}

/// What was read, and the CSV reader's notes when the file was a CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<T> {
    /// The array or matrix.
    pub data: T,
    /// `Some` for a `.csv` / `.txt` file.
    pub csv: Option<CsvNotes>,
}

/// The lower-cased extension of `path` (empty when it has none).
fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The member of an `.npz` archive to read: `key` when given (it must be there), else the only
/// one.
pub fn npz_member(path: &Path, key: Option<&str>) -> Result<String, MatrixError> {
    let names = crate::npy::npz_names(path)?;
    let shown = || path.display().to_string();
    match key {
        Some(k) if names.iter().any(|c| c == k) => Ok(k.to_string()),
        Some(k) => Err(MatrixError::NoSuchArray {
            path: shown(),
            key: k.to_string(),
            names,
        }),
        None if names.len() == 1 => Ok(names[0].clone()),
        None if names.is_empty() => Err(MatrixError::NoArrays { path: shown() }),
        None => Err(MatrixError::SeveralArrays {
            path: shown(),
            names,
        }),
    }
}

/// Reads an array of any shape from `.npy`, `.npz` (member `key`, see [`npz_member`]) or `.csv`
/// (rows × columns), as the module docs describe. NaN and infinities are kept.
pub fn read_array(path: &Path, key: Option<&str>) -> Result<Loaded<Array>, MatrixError> {
    match extension(path).as_str() {
        "npy" => Ok(Loaded {
            data: crate::npy::read_npy(path)?,
            csv: None,
        }),
        "npz" => {
            let member = npz_member(path, key)?;
            Ok(Loaded {
                data: crate::npy::read_npz_member(path, &member)?,
                csv: None,
            })
        }
        "csv" | "txt" => {
            let m = crate::csv::read(path)?;
            Ok(Loaded {
                data: Array {
                    shape: vec![m.rows, m.cols],
                    data: m.data,
                },
                csv: Some(CsvNotes {
                    header: m.header,
                    delimiter: m.delimiter,
                }),
            })
        }
        other => Err(MatrixError::UnsupportedExtension {
            path: path.display().to_string(),
            ext: other.to_string(),
        }),
    }
}

/// [`read_array`] as a samples × dims matrix (a 1-D array is one column; more dimensions are a
/// [`MatrixError::Dimensions`]), without checking the values (ratemaps mark unvisited bins with
/// NaN) or the sample count.
pub fn read_matrix_unchecked(
    path: &Path,
    key: Option<&str>,
) -> Result<Loaded<Array2<f64>>, MatrixError> {
    let what = || match (extension(path).as_str(), key) {
        ("npz", Some(k)) => format!("{} (array '{k}')", path.display()),
        _ => path.display().to_string(),
    };
    let Loaded { data: a, csv } = read_array(path, key)?;
    let shape = match a.shape.as_slice() {
        &[r] => (r, 1),
        &[r, c] => (r, c),
        s => {
            return Err(MatrixError::Dimensions {
                what: what(),
                dims: s.len(),
            })
        }
    };
    let data = Array2::from_shape_vec(shape, a.data).map_err(|source| MatrixError::Shape {
        what: what(),
        source,
    })?;
    Ok(Loaded { data, csv })
}

/// [`read_matrix_unchecked`] for data to score: at least 2 samples and every value finite
/// (see [`check_matrix`]).
pub fn read_matrix(path: &Path, key: Option<&str>) -> Result<Loaded<Array2<f64>>, MatrixError> {
    let m = read_matrix_unchecked(path, key)?;
    check_matrix(path, &m.data)?;
    Ok(m)
}

/// The checks [`read_matrix`] makes on a matrix read from `path`: at least 2 samples
/// ([`MatrixError::TooFewSamples`]) and every value finite ([`MatrixError::NonFinite`] names
/// the first bad sample and column).
pub fn check_matrix(path: &Path, m: &Array2<f64>) -> Result<(), MatrixError> {
    let shown = || path.display().to_string();
    if m.nrows() < 2 {
        return Err(MatrixError::TooFewSamples {
            path: shown(),
            samples: m.nrows(),
        });
    }
    if let Some(((row, col), &value)) = m.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(MatrixError::NonFinite {
            path: shown(),
            value,
            row,
            col,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(dir: &Path, name: &str, shape: &[usize], values: &[f64]) -> std::path::PathBuf {
        let mut b = crate::npy::npy_header("<f8", shape);
        b.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        let p = dir.join(name);
        std::fs::write(&p, b).unwrap();
        p
    }

    fn npz(dir: &Path, name: &str, members: &[&str]) -> std::path::PathBuf {
        let p = dir.join(name);
        let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
        for m in members {
            z.start_file(format!("{m}.npy"), zip::write::SimpleFileOptions::default())
                .unwrap();
            let mut b = crate::npy::npy_header("<f8", &[2, 1]);
            b.extend([1.0f64, 2.0].iter().flat_map(|v| v.to_le_bytes()));
            std::io::Write::write_all(&mut z, &b).unwrap();
        }
        z.finish().unwrap();
        p
    }

    #[test]
    fn reads_npy_npz_and_csv_as_samples_by_dims() {
        let d = tempfile::tempdir().unwrap();
        let p = npy(d.path(), "a.npy", &[3], &[1.0, 2.0, 3.0]);
        let m = read_matrix(&p, Some("ignored")).unwrap();
        assert_eq!(m.data.dim(), (3, 1));
        assert!(m.csv.is_none());
        let p = npz(d.path(), "one.npz", &["mu"]);
        assert_eq!(read_matrix(&p, None).unwrap().data.dim(), (2, 1));
        let p = npz(d.path(), "two.npz", &["mu", "logvar"]);
        assert_eq!(read_matrix(&p, Some("logvar")).unwrap().data.dim(), (2, 1));
        let p = d.path().join("a.csv");
        std::fs::write(&p, "x;y\n1;2\n3;4\n").unwrap();
        let m = read_matrix(&p, None).unwrap();
        assert_eq!(m.data, ndarray::array![[1.0, 2.0], [3.0, 4.0]]);
        let notes = m.csv.unwrap();
        assert_eq!(notes.header, Some((1, "x;y".to_string())));
        let msgs = notes.messages(&p);
        assert!(
            msgs[0].ends_with("line 1 ('x;y') is not numeric; taken as a header of column names")
        );
        assert!(msgs[1].ends_with("columns separated by ';'"));
        // the shape is kept by read_array
        let p = npy(d.path(), "c.npy", &[2, 2, 2], &[0.0; 8]);
        assert_eq!(read_array(&p, None).unwrap().data.shape, [2, 2, 2]);
    }

    #[test]
    fn key_rules_and_errors_name_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = npz(d.path(), "two.npz", &["mu", "logvar"]);
        let e = read_matrix(&p, None).unwrap_err();
        assert!(matches!(&e, MatrixError::SeveralArrays { names, .. } if names.len() == 2));
        assert!(e
            .to_string()
            .contains("two.npz: holds several arrays (mu, logvar)"));
        let e = read_matrix(&p, Some("sigma")).unwrap_err();
        assert!(matches!(&e, MatrixError::NoSuchArray { key, .. } if key == "sigma"));
        assert!(e
            .to_string()
            .ends_with("two.npz: no array named 'sigma'; it holds: mu, logvar"));
        let p = npz(d.path(), "none.npz", &[]);
        assert!(matches!(
            read_matrix(&p, None),
            Err(MatrixError::NoArrays { .. })
        ));
        let p = d.path().join("a.parquet");
        std::fs::write(&p, "x").unwrap();
        let e = read_matrix(&p, None).unwrap_err();
        assert!(e.to_string().ends_with(
            "a.parquet: unsupported extension '.parquet' (expected .npy, .npz or .csv)"
        ));
        let p = npy(d.path(), "c.npy", &[2, 2, 2], &[0.0; 8]);
        let e = read_matrix(&p, None).unwrap_err();
        assert!(matches!(e, MatrixError::Dimensions { dims: 3, .. }), "{e}");
        // the reader's own errors keep their type
        let e = read_matrix(&d.path().join("missing.npy"), None).unwrap_err();
        assert!(matches!(e, MatrixError::Npy(NpyError::Io { .. })));
        assert!(std::error::Error::source(&e).is_some());
        let p = d.path().join("bad.csv");
        std::fs::write(&p, "1,2\n3,x\n").unwrap();
        let e = read_matrix(&p, None).unwrap_err();
        assert!(matches!(e, MatrixError::Csv(CsvError::NotANumber { .. })));
    }

    #[test]
    fn data_to_score_needs_two_samples_and_finite_values() {
        let d = tempfile::tempdir().unwrap();
        let p = npy(d.path(), "one.npy", &[1, 2], &[0.0, 1.0]);
        let e = read_matrix(&p, None).unwrap_err();
        assert!(e
            .to_string()
            .ends_with("one.npy: 1 samples; at least 2 are needed"));
        assert!(read_matrix_unchecked(&p, None).is_ok());
        let p = npy(d.path(), "nan.npy", &[2, 2], &[0.0, 1.0, 2.0, f64::NAN]);
        let e = read_matrix(&p, None).unwrap_err();
        assert!(matches!(e, MatrixError::NonFinite { row: 1, col: 1, .. }));
        assert!(e
            .to_string()
            .ends_with("nan.npy: non-finite value (NaN) at sample 1, column 1"));
        assert!(read_matrix_unchecked(&p, None).unwrap().data[[1, 1]].is_nan());
    }
}
